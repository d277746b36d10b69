//! Server-side apply (`application/apply-patch+yaml`) and `metadata.managedFields` bookkeeping
//! for Pod, ReplicaSet, Node, Namespace and Event objects held as `serde_json::Value`.
//!
//! This ports the parts of sigs.k8s.io/structured-merge-diff (field sets, merge, compare,
//! prune) and k8s.io/apiserver's field manager chain (strip server metadata, `before-first-apply`,
//! manager cap, last-applied upgrade for manager `kubectl`) that kubectl can observe:
//!
//! * [`apply`] merges an applied configuration into the live object as one manager, removes
//!   what that manager applied last time and no longer applies (unless someone else owns it),
//!   and fails with [`ApplyError::Conflicts`] when it would change a value another manager owns.
//! * [`record_update`] records a create/update/patch: the writer owns what it added or changed
//!   and everybody else loses it.
//! * [`list_type`] and [`map_is_atomic`] are the schema facts this needs (`x-kubernetes-list-type`,
//!   `x-kubernetes-list-map-keys`, `x-kubernetes-map-type` of the in-scope kinds).
//!
//! Field sets are encoded as `FieldsV1` exactly as Kubernetes does (`f:` fields, `k:` list-map
//! keys, `v:` set members, `.` for "the element itself"). Entries are emitted in the apiserver's
//! order: `Apply` entries before `Update` ones, then by time, manager, apiVersion, subresource.
//! Pure: no I/O, no HTTP types; callers map [`ApplyError`] to a status (409 / 400 / 422).
//!
//! Laid out as the packages it follows: `fieldpath` (path elements, field sets, `FieldsV1`),
//! `typed` (walking objects against the schema: merge, compare, prune), `schema` (the list and
//! map types of the in-scope kinds), `managedfields` (the entries and their bookkeeping) and
//! `object` (the applied configuration and `last-applied-configuration`); this file holds the
//! entry points that tie them together.

use serde_json::{Map, Value};

use super::meta::Lookup as _;

mod fieldpath;
mod managedfields;
mod object;
mod schema;
#[cfg(test)]
mod tests;
mod typed;

use fieldpath::Set;
use managedfields::{
    Entry, cap_update_managers, conflict_error, decode_entries, is_reset, managed_fields_of,
    record_changes, write_managed_fields,
};
use object::{
    comparable, drop_config_nulls, gvk_string, gvknn, overlay, sanitize_config, str_field,
    update_last_applied, without_managed_fields,
};
pub use schema::{ListType, list_type, map_is_atomic};
use schema::{ignored_fields, skeleton, strip_set};
use typed::Schema;

type Object = Map<String, Value>;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const BEFORE_FIRST_APPLY: &str = "before-first-apply";
const ANCIENT_CHANGES: &str = "ancient-changes";
/// `DefaultMaxUpdateManagers`: older `Update` entries are folded into `ancient-changes`.
const MAX_UPDATE_MANAGERS: usize = 10;
/// The annotation-size limit the last-applied updater respects (`TotalAnnotationSizeLimitB`).
const MAX_ANNOTATIONS_SIZE: usize = 256 * 1024;
const APPLY: &str = "Apply";
const UPDATE: &str = "Update";
const FIELDS_V1: &str = "FieldsV1";
/// The manager name whose applies upgrade client-side-apply ownership (apiserver's
/// `lastAppliedManager` / `lastAppliedUpdater`).
const KUBECTL: &str = "kubectl";

/// Server-owned metadata dropped from an applied configuration before merging.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Fields no manager ever owns (apiserver's `stripMetaManager`).
const STRIPPED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
];

// ---------------------------------------------------------------------------------------------
// Public API

/// One conflicting field: the manager that owns it and the field path in the Kubernetes
/// display form, e.g. `.spec.replicas`, `.spec.template.spec.containers[name="app"].image`.
/// `manager` is the bare manager name; the error message also names the owner's operation,
/// subresource and apiVersion the way kube-apiserver prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    pub field: String,
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// 409: the message is exactly kube-apiserver's, e.g. `Apply failed with 1 conflict:
    /// conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas`.
    #[error("{message}")]
    Conflicts {
        message: String,
        conflicts: Vec<Conflict>,
    },
    /// 400/422: the applied configuration is malformed (not an object, wrong kind, wrong list
    /// element shape, duplicate keys in a list map...).
    #[error("{0}")]
    Invalid(String),
}

/// Apply `config` (the user's partial object, already decoded from YAML/JSON) as `manager` to
/// `live` (`None` = create) and return the new full object with `metadata.managedFields`
/// updated.
///
/// Fields in `config` are set and owned by `(manager, "Apply")`; fields this manager applied
/// last time but no longer applies are removed unless another manager owns them; changing a
/// value another manager owns is a conflict unless `force` (then ownership moves). `status` and
/// server-owned metadata in `config` are ignored. Like kube-apiserver:
/// * an object without `managedFields` first gets a `before-first-apply` `Update` entry owning
///   everything it holds;
/// * for manager `kubectl`, conflicts on fields whose live value still matches the
///   `last-applied-configuration` annotation are overridden (client-side → server-side apply
///   upgrade), and that annotation, when present, is rewritten from `config`;
/// * an apply that changes nothing keeps the manager's `time`, so repeating it is a no-op.
///
/// `config.apiVersion`/`config.kind` must equal `api_version`/`kind`.
pub fn apply(
    kind: &str,
    api_version: &str,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    let Value::Object(raw_config) = config else {
        return Err(ApplyError::Invalid(
            "error decoding YAML: the applied configuration must be an object".to_owned(),
        ));
    };
    if manager.is_empty() {
        return Err(ApplyError::Invalid(
            "fieldManager: Required value: is required for apply patch".to_owned(),
        ));
    }
    let config_api_version = str_field(raw_config, "apiVersion");
    let config_kind = str_field(raw_config, "kind");
    if config_api_version != api_version || config_kind != kind {
        return Err(ApplyError::Invalid(format!(
            "invalid object type: {}",
            gvk_string(config_api_version, config_kind)
        )));
    }
    let schema = Schema { kind };
    let config_obj = sanitize_config(raw_config)?;
    let applied = schema
        .field_set(&config_obj, true)
        .map_err(|e| {
            ApplyError::Invalid(format!(
                "failed to create typed patch object ({}): {e}",
                gvknn(raw_config, api_version, kind)
            ))
        })?
        .recursive_difference(&ignored_fields(kind, None));

    let live_obj = match live {
        Some(obj @ Value::Object(_)) => without_managed_fields(obj),
        _ => Value::Object(Object::new()),
    };
    let mut entries = live.map(decode_entries).unwrap_or_default();
    if live.is_some() && entries.is_empty() {
        // skipNonAppliedManager: whatever is already there belongs to "before-first-apply".
        let empty = skeleton(kind);
        let mut existing = live_obj.clone();
        overlay(&mut existing, &skeleton(kind));
        let cmp = schema
            .compare(&empty, &existing)
            .excluding(&ignored_fields(kind, None));
        record_changes(
            &mut entries,
            &cmp,
            &Entry::new(BEFORE_FIRST_APPLY, UPDATE, api_version, ""),
            now,
        );
    }

    let me = Entry::new(manager, APPLY, api_version, "");
    let mine = entries.iter().position(|e| e.same_manager(&me));
    let last = mine.map(|i| entries[i].set.clone()).unwrap_or_default();
    let merged = schema.merge(&mut Vec::new(), Some(&live_obj), &config_obj);
    let mut owned = applied.clone();
    for (i, entry) in entries.iter().enumerate() {
        if Some(i) != mine {
            owned.union_in_place(&entry.set);
        }
    }
    let mut result = schema.prune(&merged, &owned, &last);

    let cmp = schema
        .compare(&live_obj, &result)
        .excluding(&ignored_fields(kind, None));
    let changed = cmp.modified.union(&cmp.added);
    // What each other manager owns and this apply changes: conflicts, or taken over by force.
    let taken: Vec<Set> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if Some(i) == mine {
                Set::default()
            } else {
                e.set.intersection(&changed)
            }
        })
        .collect();
    if !force && taken.iter().any(|t| !t.is_empty()) {
        let allowed = if manager == KUBECTL {
            schema.allowed_by_last_applied(&live_obj)
        } else {
            None
        };
        let remaining: Vec<(usize, Set)> = taken
            .iter()
            .enumerate()
            .map(|(i, t)| match &allowed {
                Some(allowed) => (i, t.difference(allowed)),
                None => (i, t.clone()),
            })
            .filter(|(_, t)| !t.is_empty())
            .collect();
        if !remaining.is_empty() {
            return Err(conflict_error(&entries, &remaining));
        }
    }
    for (i, (entry, taken)) in entries.iter_mut().zip(&taken).enumerate() {
        if Some(i) != mine {
            entry.set = entry.set.difference(taken).difference(&cmp.removed);
        }
    }

    drop_config_nulls(&mut result, &config_obj);
    let object_changed = live.is_none() || result != live_obj;
    let applied = applied.difference(&strip_set());
    match mine {
        Some(i) => {
            let entry = &mut entries[i];
            entry.set = applied;
            entry.api_version = api_version.to_owned();
            if object_changed || entry.time.is_none() {
                entry.time = Some(now.to_owned());
            }
        }
        None => {
            let mut entry = me;
            entry.set = applied;
            entry.time = Some(now.to_owned());
            entries.push(entry);
        }
    }
    entries.retain(|e| !e.set.is_empty());
    cap_update_managers(&mut entries);

    if manager == KUBECTL {
        update_last_applied(&mut result, config);
    }
    write_managed_fields(&mut result, &entries);
    Ok(result)
}

/// Record a non-apply write (create/update/patch) by `manager` (e.g.
/// `kubectl-client-side-apply`, `kubectl-edit`, `kubectl-label`): fields added or changed
/// between `old` (`None` = create) and `new` become owned by `(manager, "Update")` (with
/// `subresource`, e.g. `Some("status")`), every other manager loses the fields this write
/// changed or removed, and entries left owning nothing are dropped. Returns `new` with updated
/// `metadata.managedFields`.
///
/// As in kube-apiserver: `managedFields` sent in `new` replace the live ones (main resource
/// only; `[]` or `[{}]` resets them), an existing object that has no `managedFields` stays
/// untracked until its first apply, and at most ten `Update` entries are kept (older ones are
/// folded into `ancient-changes`). `manager` is used as given.
pub fn record_update(
    kind: &str,
    api_version: &str,
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) -> Value {
    record_update_owned(
        kind,
        api_version,
        old,
        new.clone(),
        manager,
        subresource,
        now,
    )
}

/// [`record_update`] taking `new` by value, for callers that have no further use for it.
pub fn record_update_owned(
    kind: &str,
    api_version: &str,
    old: Option<&Value>,
    new: Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) -> Value {
    let mut result = new;
    if !result.is_object() {
        return result;
    }
    let new = &result;
    let mut entries = match subresource {
        Some(_) => old.map(decode_entries).unwrap_or_default(),
        None => match managed_fields_of(new) {
            Some(list) if is_reset(list) => Vec::new(),
            Some(_) => match decode_entries(new) {
                found if !found.is_empty() => found,
                _ => old.map(decode_entries).unwrap_or_default(),
            },
            None => old.map(decode_entries).unwrap_or_default(),
        },
    };
    let is_create = old.is_none_or(|o| o.str_at("/metadata/uid").is_empty());
    if entries.is_empty() && !is_create {
        // skipNonAppliedManager: untracked objects stay untracked until the first apply.
        write_managed_fields(&mut result, &[]);
        return result;
    }

    let schema = Schema { kind };
    let skel = skeleton(kind);
    let mut before = old
        .map(|o| comparable(o, subresource))
        .unwrap_or_else(|| skel.clone());
    overlay(&mut before, &skel);
    let mut after = comparable(new, subresource);
    overlay(&mut after, &skel);
    let cmp = schema
        .compare(&before, &after)
        .excluding(&ignored_fields(kind, subresource));
    record_changes(
        &mut entries,
        &cmp,
        &Entry::new(manager, UPDATE, api_version, subresource.unwrap_or("")),
        now,
    );
    cap_update_managers(&mut entries);
    write_managed_fields(&mut result, &entries);
    result
}
