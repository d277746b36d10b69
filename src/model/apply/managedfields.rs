//! `metadata.managedFields` entries: the apiserver's `managedfields/internal` (decode and
//! encode, order, recording an update's changes, the cap on `Update` managers, conflicts).

use std::collections::BTreeMap;

use serde_json::Value;

use super::fieldpath::{Set, display_path};
use super::schema::strip_set;
use super::typed::Comparison;
use super::{
    ANCIENT_CHANGES, APPLY, ApplyError, Conflict, FIELDS_V1, MAX_UPDATE_MANAGERS, Object, UPDATE,
};
use crate::model::meta::Lookup as _;

// ---------------------------------------------------------------------------------------------
// managedFields entries (apiserver's managedfields/internal).

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) manager: String,
    pub(super) operation: String,
    pub(super) api_version: String,
    pub(super) subresource: String,
    pub(super) time: Option<String>,
    pub(super) set: Set,
    /// The decoded set and its `fieldsV1` as stored, re-emitted verbatim while unchanged.
    pub(super) stored: Option<(Set, Value)>,
}

impl Entry {
    pub(super) fn new(
        manager: &str,
        operation: &str,
        api_version: &str,
        subresource: &str,
    ) -> Entry {
        Entry {
            manager: manager.to_owned(),
            operation: operation.to_owned(),
            api_version: api_version.to_owned(),
            subresource: subresource.to_owned(),
            time: None,
            set: Set::default(),
            stored: None,
        }
    }

    /// The manager identity (`BuildManagerIdentifier`): appliers are one manager across
    /// apiVersions, updaters are not.
    pub(super) fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == APPLY || self.api_version == other.api_version)
    }

    /// The identifier string kube sorts conflicting managers by (Go JSON of the entry without
    /// time and fields; appliers without apiVersion).
    fn identifier(&self) -> String {
        let mut parts = Vec::new();
        let mut push = |key: &str, value: &str| {
            if !value.is_empty() {
                parts.push(format!("\"{key}\":{}", Value::String(value.to_owned())));
            }
        };
        push("manager", &self.manager);
        push("operation", &self.operation);
        if self.operation != APPLY {
            push("apiVersion", &self.api_version);
        }
        push("subresource", &self.subresource);
        format!("{{{}}}", parts.join(","))
    }

    /// `printManager`: `"kubectl" with subresource "scale" using apps/v1`.
    fn describe(&self) -> String {
        let mut out = Value::String(self.manager.clone()).to_string();
        if !self.subresource.is_empty() {
            out.push_str(&format!(
                " with subresource {}",
                Value::String(self.subresource.clone())
            ));
        }
        if self.operation == UPDATE {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    /// Seconds resolution, as kube compares entry times.
    fn time_key(&self) -> &str {
        self.time
            .as_deref()
            .map(|t| t.get(..19).unwrap_or(t))
            .unwrap_or("")
    }

    pub(super) fn decode(v: &Value) -> Option<Entry> {
        let Value::Object(map) = v else { return None };
        let text = |key: &str| {
            map.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let operation = text("operation");
        if operation != APPLY && operation != UPDATE {
            return None;
        }
        if text("apiVersion").is_empty() || text("fieldsType") != FIELDS_V1 {
            return None;
        }
        let (set, stored) = match map.get("fieldsV1") {
            Some(Value::Object(fields)) => {
                let set = Set::from_fields(fields)?;
                (set.clone(), Some((set, Value::Object(fields.clone()))))
            }
            None | Some(Value::Null) => (Set::default(), None),
            Some(_) => return None,
        };
        Some(Entry {
            manager: text("manager"),
            operation,
            api_version: text("apiVersion"),
            subresource: text("subresource"),
            time: map.get("time").and_then(Value::as_str).map(str::to_owned),
            set,
            stored,
        })
    }

    fn encode(&self) -> Value {
        let mut out = Object::new();
        if !self.manager.is_empty() {
            out.insert("manager".to_owned(), Value::String(self.manager.clone()));
        }
        out.insert(
            "operation".to_owned(),
            Value::String(self.operation.clone()),
        );
        out.insert(
            "apiVersion".to_owned(),
            Value::String(self.api_version.clone()),
        );
        if let Some(time) = &self.time {
            out.insert("time".to_owned(), Value::String(time.clone()));
        }
        out.insert("fieldsType".to_owned(), Value::String(FIELDS_V1.to_owned()));
        let fields = match &self.stored {
            Some((set, raw)) if *set == self.set => raw.clone(),
            _ => self.set.to_fields(),
        };
        out.insert("fieldsV1".to_owned(), fields);
        if !self.subresource.is_empty() {
            out.insert(
                "subresource".to_owned(),
                Value::String(self.subresource.clone()),
            );
        }
        Value::Object(out)
    }
}

pub(super) fn managed_fields_of(obj: &Value) -> Option<&Vec<Value>> {
    obj.at("/metadata/managedFields")?.as_array()
}

/// `isResetManagedFields`: `[]` or `[{}]`.
pub(super) fn is_reset(list: &[Value]) -> bool {
    match list {
        [] => true,
        [only] => only.as_object().is_some_and(Object::is_empty),
        _ => false,
    }
}

/// The object's entries; malformed ones are skipped, a later duplicate replaces an earlier one.
pub(super) fn decode_entries(obj: &Value) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for entry in managed_fields_of(obj)
        .into_iter()
        .flatten()
        .filter_map(Entry::decode)
    {
        match entries.iter_mut().find(|e| e.same_manager(&entry)) {
            Some(existing) => *existing = entry,
            None => entries.push(entry),
        }
    }
    entries
}

/// Set (or drop, when empty) `metadata.managedFields`, sorted as `sortEncodedManagedFields`.
pub(super) fn write_managed_fields(obj: &mut Value, entries: &[Entry]) {
    let Value::Object(root) = obj else { return };
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then_with(|| p.time_key().cmp(q.time_key()))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
    if sorted.is_empty() {
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.remove("managedFields");
        }
        return;
    }
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Object::new()));
    if !meta.is_object() {
        *meta = Value::Object(Object::new());
    }
    if let Value::Object(meta) = meta {
        meta.insert(
            "managedFields".to_owned(),
            Value::Array(sorted.into_iter().map(Entry::encode).collect()),
        );
    }
}

/// `Updater.Update` + `managedFieldsUpdater.Update` for one write: everybody loses what the
/// write changed or removed, the writer gains what it added or changed (minus server metadata).
pub(super) fn record_changes(
    entries: &mut Vec<Entry>,
    cmp: &Comparison,
    writer: &Entry,
    now: &str,
) {
    let changed = cmp.modified.union(&cmp.added);
    for entry in entries.iter_mut() {
        entry.set = entry.set.difference(&changed).difference(&cmp.removed);
    }
    let gained = changed.difference(&strip_set());
    if !gained.is_empty() {
        match entries.iter_mut().find(|e| e.same_manager(writer)) {
            Some(entry) => {
                entry.set.union_in_place(&gained);
                entry.api_version = writer.api_version.clone();
                entry.time = Some(now.to_owned());
            }
            None => {
                let mut entry = writer.clone();
                entry.set = gained;
                entry.time = Some(now.to_owned());
                entries.push(entry);
            }
        }
    }
    entries.retain(|e| !e.set.is_empty());
}

/// `capManagersManager`: fold the oldest `Update` entries into one `ancient-changes` entry per
/// apiVersion until at most ten remain.
pub(super) fn cap_update_managers(entries: &mut Vec<Entry>) {
    if entries.iter().filter(|e| e.operation == UPDATE).count() <= MAX_UPDATE_MANAGERS {
        return;
    }
    let mut updaters: Vec<Entry> = entries
        .iter()
        .filter(|e| e.operation == UPDATE)
        .cloned()
        .collect();
    updaters.sort_by(|p, q| {
        p.time_key()
            .cmp(q.time_key())
            .then_with(|| p.identifier().cmp(&q.identifier()))
    });
    let mut remaining = updaters.len();
    let mut first_by_version: BTreeMap<String, Entry> = BTreeMap::new();
    for updater in updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = updater.api_version.clone();
        let Some(first) = first_by_version.get(&version) else {
            first_by_version.insert(version, updater);
            continue;
        };
        let bucket = Entry::new(ANCIENT_CHANGES, UPDATE, &version, "");
        if !entries.iter().any(|e| e.same_manager(&bucket))
            && let Some(existing) = entries.iter_mut().find(|e| e.same_manager(first))
        {
            existing.manager = ANCIENT_CHANGES.to_owned();
            existing.subresource = String::new();
        }
        entries.retain(|e| !e.same_manager(&updater));
        if let Some(bucket) = entries.iter_mut().find(|e| e.same_manager(&bucket)) {
            bucket.set.union_in_place(&updater.set);
            bucket.time = updater.time.clone();
        }
        remaining -= 1;
    }
}

pub(super) fn conflict_error(entries: &[Entry], conflicts: &[(usize, Set)]) -> ApplyError {
    let mut groups: Vec<(String, String, String, Vec<String>)> = conflicts
        .iter()
        .filter_map(|(i, set)| {
            let entry = entries.get(*i)?;
            let fields = set.paths().iter().map(|p| display_path(p)).collect();
            Some((
                entry.identifier(),
                entry.describe(),
                entry.manager.clone(),
                fields,
            ))
        })
        .collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let list: Vec<Conflict> = groups
        .iter()
        .flat_map(|(_, _, manager, fields)| {
            fields.iter().map(|f| Conflict {
                manager: manager.clone(),
                field: f.clone(),
            })
        })
        .collect();
    let message = match (groups.as_slice(), list.len()) {
        ([(_, who, _, fields)], 1) => format!(
            "Apply failed with 1 conflict: conflict with {who}: {}",
            fields.join("")
        ),
        (_, n) => {
            let mut lines = Vec::new();
            for (_, who, _, fields) in &groups {
                lines.push(format!("conflicts with {who}:"));
                lines.extend(fields.iter().map(|f| format!("- {f}")));
            }
            format!("Apply failed with {n} conflicts: {}", lines.join("\n"))
        }
    };
    ApplyError::Conflicts {
        message,
        conflicts: list,
    }
}
