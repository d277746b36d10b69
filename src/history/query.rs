//! Reading the log as a debugging record: `LogEntry` (one `events` row with everything it says
//! about who, why and what), `LogFilter` (which rows) and the queries behind `events`,
//! `history` and `why`, which the store runs. Read-only: these functions never write.

use super::HistoryError;
use crate::model::{ResourceKind, meta};
use crate::store::{Compaction, Readers};
use serde_json::{Value, json};
use std::collections::HashMap;

/// One event as the log recorded it: the store's event row, with what `history` makes of it.
pub use crate::store::EventRow as LogEntry;
pub use crate::store::{LogFilter, RecordedPage};

impl LogEntry {
    /// The stored object, parsed.
    pub fn object_value(&self) -> Result<Value, HistoryError> {
        serde_json::from_str(&self.object).map_err(HistoryError::Corrupt)
    }

    /// `Pod default/echo`, `Node sim-node-000`.
    pub fn subject(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }

    /// How the write reached the server besides its actor: the field manager, else the user
    /// agent's program (`kubectl/v1.32.4`); `None` for in-process workers.
    pub fn via(&self) -> Option<String> {
        if let Some(manager) = self.field_manager.as_deref().filter(|m| !m.is_empty()) {
            return Some(manager.to_string());
        }
        self.user_agent
            .as_deref()
            .and_then(|ua| ua.split_whitespace().next())
            .filter(|p| !p.is_empty())
            .map(str::to_string)
    }

    /// The entry as the API serves it: a `LogEntry` object of `kubetrail.dev/v1alpha1`.
    pub fn to_json(&self, include_object: bool) -> Value {
        let mut entry = json!({
            "apiVersion": crate::api::GROUP_VERSION,
            "kind": "LogEntry",
            "metadata": {"name": self.seq.to_string(), "resourceVersion": self.seq.to_string()},
            "time": self.time,
            "type": self.event_type,
            "eventVersion": self.event_version,
            "involvedObject": {
                "apiVersion": self.api_version, "kind": self.kind, "namespace": self.namespace,
                "name": self.name, "uid": self.uid,
            },
            "actor": self.actor,
            "requestID": self.request_id,
        });
        let optional = [
            (
                "previousResourceVersion",
                self.prev_seq.map(|s| s.to_string()),
            ),
            ("causedBy", self.caused_by.map(|s| s.to_string())),
            ("userAgent", self.user_agent.clone()),
            ("fieldManager", self.field_manager.clone()),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                entry[field] = json!(value);
            }
        }
        if let Some(causes) = self.causes.as_deref()
            && let Ok(causes) = serde_json::from_str::<Value>(causes)
        {
            entry["causes"] = causes;
        }
        if include_object {
            let mut object = serde_json::from_str(&self.object).unwrap_or(Value::Null);
            crate::model::redact::redact_object(&mut object);
            entry["object"] = object;
        }
        entry
    }
}

/// A user-given time (RFC 3339, any offset or precision) as a log time, so it compares with the
/// stored times as text.
pub fn log_time(input: &str) -> Result<String, HistoryError> {
    let t: jiff::Timestamp = input.parse().map_err(|_| {
        HistoryError::BadRequest(format!(
            "invalid time {input:?}: expected RFC 3339, e.g. 2026-01-02T03:04:05Z"
        ))
    })?;
    Ok(meta::format_log_time(t))
}

/// Parse `pod/echo`, `pods/echo`, `po/echo`, `replicaset/echo-rs`, `ns/default` into a kind and
/// a name.
pub fn parse_object_ref(reference: &str) -> Result<(ResourceKind, String), HistoryError> {
    let (resource, name) = reference.split_once('/').ok_or_else(|| {
        HistoryError::BadRequest(format!(
            "expected <resource>/<name> (e.g. pod/echo), got {reference:?}"
        ))
    })?;
    let kind = resolve_resource(resource)?;
    if name.is_empty() {
        return Err(HistoryError::BadRequest(format!(
            "no name in {reference:?}"
        )));
    }
    Ok((kind, name.to_string()))
}

/// A resource as kubectl accepts it: plural, singular, short name or kind, any case, with or
/// without its group (`replicasets.apps`).
pub fn resolve_resource(resource: &str) -> Result<ResourceKind, HistoryError> {
    let lower = resource.to_ascii_lowercase();
    let bare = lower.split('.').next().unwrap_or("");
    ResourceKind::ALL
        .into_iter()
        .find(|k| {
            k.plural() == bare
                || k.singular() == bare
                || k.short_names().contains(&bare)
                || k.as_str().eq_ignore_ascii_case(bare)
        })
        .ok_or_else(|| {
            HistoryError::BadRequest(format!(
                "the server doesn't have a resource type {resource:?}"
            ))
        })
}

/// Log entries passing `filter`, oldest first, after seq `after`, at most `limit`.
pub async fn entries(
    pool: &Readers,
    filter: &LogFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<LogEntry>, HistoryError> {
    entries_with(pool, filter, after, limit, true).await
}

/// As `entries`; without `with_object` the objects are not read (each entry's `object` is
/// `{}`), which is what a listing without objects costs.
pub async fn entries_with(
    pool: &Readers,
    filter: &LogFilter,
    after: i64,
    limit: i64,
    with_object: bool,
) -> Result<Vec<LogEntry>, HistoryError> {
    Ok(pool.entries(filter, after, limit, with_object).await?)
}

/// The newest `limit` entries passing `filter`, oldest first (`kubetrail events --tail`).
pub async fn newest_entries(
    pool: &Readers,
    filter: &LogFilter,
    limit: i64,
) -> Result<Vec<LogEntry>, HistoryError> {
    Ok(pool.newest_entries(filter, limit).await?)
}

/// One entry by its seq.
pub async fn entry(pool: &Readers, seq: i64) -> Result<Option<LogEntry>, HistoryError> {
    Ok(pool.entry(seq).await?)
}

/// The entries at `seqs` that exist, without their objects, by seq.
pub async fn entries_without_objects_at(
    pool: &Readers,
    seqs: &[i64],
) -> Result<HashMap<i64, LogEntry>, HistoryError> {
    Ok(pool.entries_without_objects_at(seqs).await?)
}

/// Every event of the object `kind` `namespace`/`name`, oldest first, across deletions and
/// re-creations under the same name (each incarnation has its own uid), after seq `after`.
pub async fn object_history(
    pool: &Readers,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<LogEntry>, HistoryError> {
    let filter = LogFilter {
        kind: Some(kind.as_str().to_string()),
        namespace: Some(namespace.to_string()),
        name: Some(name.to_string()),
        ..Default::default()
    };
    entries(pool, &filter, after, limit).await
}

/// One page of an object's history (after seq `after`), assembled by the store from each
/// event's recorded changes, so no object is read or compared; `None` when an event of the
/// page has no recorded changes (written before they were recorded): the caller then computes
/// the page from the objects.
pub async fn recorded_history_page(
    pool: &Readers,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
    after: i64,
    limit: i64,
) -> Result<Option<RecordedPage>, HistoryError> {
    Ok(pool
        .recorded_history_page(kind, namespace, name, after, limit)
        .await?)
}

/// The newest seq in the log (0 when empty).
pub async fn last_seq(pool: &Readers) -> Result<i64, HistoryError> {
    Ok(pool.last_seq().await?)
}

/// The newest compaction, when one folded part of the log: where its full history begins.
pub async fn newest_compaction(pool: &Readers) -> Result<Option<Compaction>, HistoryError> {
    Ok(pool.compactions().await?.into_iter().last())
}

/// The newest seq at or before `time` (a log time), 0 when none.
pub async fn seq_at_time(pool: &Readers, time: &str) -> Result<i64, HistoryError> {
    Ok(pool.seq_at_time(time).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn entry(
        seq: i64,
        kind: &str,
        name: &str,
        event_type: &str,
        actor: &str,
    ) -> LogEntry {
        LogEntry::example(seq, kind, name, event_type, actor)
    }

    #[test]
    fn object_references_resolve_like_kubectl() {
        for (reference, kind, name) in [
            ("pod/echo", ResourceKind::Pod, "echo"),
            ("pods/echo", ResourceKind::Pod, "echo"),
            ("po/echo", ResourceKind::Pod, "echo"),
            ("rs/echo-rs", ResourceKind::ReplicaSet, "echo-rs"),
            (
                "replicasets.apps/echo-rs",
                ResourceKind::ReplicaSet,
                "echo-rs",
            ),
            ("ReplicaSet/echo-rs", ResourceKind::ReplicaSet, "echo-rs"),
            ("ns/default", ResourceKind::Namespace, "default"),
            ("deploy/echo", ResourceKind::Deployment, "echo"),
            ("deployments.apps/echo", ResourceKind::Deployment, "echo"),
            ("svc/echo", ResourceKind::Service, "echo"),
            ("ep/echo", ResourceKind::Endpoints, "echo"),
            (
                "endpointslices.discovery.k8s.io/echo-x",
                ResourceKind::EndpointSlice,
                "echo-x",
            ),
            ("cm/echo", ResourceKind::ConfigMap, "echo"),
            ("secret/echo", ResourceKind::Secret, "echo"),
            ("sa/default", ResourceKind::ServiceAccount, "default"),
        ] {
            assert_eq!(
                parse_object_ref(reference).unwrap(),
                (kind, name.to_string()),
                "{reference}"
            );
        }
        for bad in ["echo", "widget/echo", "pod/"] {
            assert!(parse_object_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_times_become_comparable_log_times() {
        assert_eq!(
            log_time("2026-01-02T04:04:05+01:00").unwrap(),
            "2026-01-02T03:04:05.000000000Z"
        );
        assert!(log_time("yesterday").is_err());
    }

    #[test]
    fn entries_render_as_log_entry_objects() {
        let mut e = entry(7, "Pod", "echo", "Bound", "default-scheduler");
        e.caused_by = Some(5);
        e.prev_seq = Some(5);
        let json = e.to_json(false);
        assert_eq!(json["kind"], "LogEntry");
        assert_eq!(json["metadata"]["resourceVersion"], "7");
        assert_eq!(json["causedBy"], "5");
        assert_eq!(json["previousResourceVersion"], "5");
        assert!(json.get("object").is_none());
        assert!(json.get("fieldManager").is_none());
        assert_eq!(e.to_json(true)["object"], json!({}));
    }
}
