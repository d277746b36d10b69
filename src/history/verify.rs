//! `kubetrail verify`: replay the whole log in memory, from genesis, applying each event the way
//! the projections do, and compare the result with the `objects` table: a digest per kind and
//! the first object that differs. The fold, the digests and the comparison are pure; the store
//! reads the log and the projections in one read transaction, so both are seen at the same
//! moment.

use super::HistoryError;
use crate::model::ResourceKind;
pub use crate::store::ProjectedRow;
use crate::store::Readers;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// (kind, namespace, name)
pub type Key = (String, String, String);

/// Rows by key: the whole state of the cluster.
pub type State = BTreeMap<Key, ProjectedRow>;

/// Apply one event to `state` exactly as the projections do: upsert, or remove on `Deleted`;
/// kinds the server does not serve are skipped.
pub fn fold(
    state: &mut State,
    seq: i64,
    kind: &str,
    namespace: &str,
    name: &str,
    event_type: &str,
    object: String,
) -> Result<(), HistoryError> {
    let Some(kind) = ResourceKind::from_kind(kind) else {
        return Ok(());
    };
    let key = (
        kind.as_str().to_string(),
        namespace.to_string(),
        name.to_string(),
    );
    if event_type == "Deleted" {
        state.remove(&key);
        return Ok(());
    }
    let parsed: Value = serde_json::from_str(&object).map_err(HistoryError::Corrupt)?;
    let node_name = match kind {
        ResourceKind::Pod => parsed
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        _ => None,
    };
    state.insert(
        key,
        ProjectedRow {
            uid: crate::model::meta::uid(&parsed).to_string(),
            seq,
            node_name,
            object,
        },
    );
    Ok(())
}

/// The digest of one kind's rows: count and SHA-256 over every row in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindDigest {
    pub kind: String,
    pub objects: usize,
    pub digest: String,
}

/// A digest per served kind.
pub fn digests(state: &State) -> Vec<KindDigest> {
    ResourceKind::ALL
        .into_iter()
        .map(|kind| {
            let mut context = ring::digest::Context::new(&ring::digest::SHA256);
            let mut objects = 0;
            for ((k, namespace, name), row) in state.range(range_of(kind)) {
                if k != kind.as_str() {
                    continue;
                }
                objects += 1;
                for part in [
                    namespace.as_str(),
                    name.as_str(),
                    row.uid.as_str(),
                    &row.seq.to_string(),
                    row.node_name.as_deref().unwrap_or(""),
                    row.object.as_str(),
                ] {
                    context.update(part.as_bytes());
                    context.update(&[0]);
                }
            }
            let digest = context
                .finish()
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            KindDigest {
                kind: kind.as_str().to_string(),
                objects,
                digest,
            }
        })
        .collect()
}

fn range_of(kind: ResourceKind) -> std::ops::RangeFrom<Key> {
    (kind.as_str().to_string(), String::new(), String::new())..
}

/// The first object whose projection row is not what the log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub detail: String,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The log's last seq and the projections' recorded position.
    pub log_seq: i64,
    pub applied_seq: i64,
    /// (from the log, from the projections), per kind.
    pub kinds: Vec<(KindDigest, KindDigest)>,
    pub first_difference: Option<Difference>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.log_seq == self.applied_seq
            && self.first_difference.is_none()
            && self.kinds.iter().all(|(a, b)| a == b)
    }

    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "log: {} events; projections at resourceVersion {}{}",
            self.log_seq,
            self.applied_seq,
            if self.log_seq == self.applied_seq {
                ""
            } else {
                " (behind or ahead of the log)"
            }
        )];
        for (log, projection) in &self.kinds {
            let verdict = if log == projection { "ok" } else { "DIFFERS" };
            lines.push(format!(
                "{:<11} {:>7} objects  sha256 {}  {verdict}",
                log.kind,
                log.objects,
                &log.digest[..16]
            ));
            if log != projection {
                lines.push(format!(
                    "{:<11} {:>7} objects  sha256 {}  in the projections",
                    "",
                    projection.objects,
                    &projection.digest[..16]
                ));
            }
        }
        match &self.first_difference {
            Some(d) => lines.push(format!(
                "first difference: {} {}{}: {}",
                d.kind,
                if d.namespace.is_empty() {
                    String::new()
                } else {
                    format!("{}/", d.namespace)
                },
                d.name,
                d.detail
            )),
            None if self.ok() => lines.push("the projections match the log".to_string()),
            None => {}
        }
        lines
    }

    pub fn to_json(&self) -> Value {
        let kinds: Vec<Value> = self
            .kinds
            .iter()
            .map(|(log, projection)| {
                json!({"kind": log.kind, "objects": log.objects, "digest": log.digest,
                       "projectionObjects": projection.objects, "projectionDigest": projection.digest,
                       "match": log == projection})
            })
            .collect();
        json!({
            "ok": self.ok(), "logResourceVersion": self.log_seq,
            "projectionResourceVersion": self.applied_seq, "kinds": kinds,
            "firstDifference": self.first_difference.as_ref().map(|d| json!({
                "kind": d.kind, "namespace": d.namespace, "name": d.name, "detail": d.detail})),
        })
    }
}

/// Compare the state the log gives with the projections' rows.
pub fn compare(log: &State, projections: &State, log_seq: i64, applied_seq: i64) -> Report {
    let kinds = digests(log).into_iter().zip(digests(projections)).collect();
    let mut first_difference = None;
    let mut a = log.iter().peekable();
    let mut b = projections.iter().peekable();
    loop {
        let found = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some((ka, _)), None) => Some((*ka, "missing from the projections".to_string())),
            (None, Some((kb, _))) => Some((
                *kb,
                "in the projections but not in the log's state".to_string(),
            )),
            (Some((ka, ra)), Some((kb, rb))) => {
                if ka < kb {
                    Some((*ka, "missing from the projections".to_string()))
                } else if kb < ka {
                    Some((
                        *kb,
                        "in the projections but not in the log's state".to_string(),
                    ))
                } else if ra != rb {
                    let detail = if ra.seq != rb.seq {
                        format!(
                            "the log's state is resourceVersion {}, the projection row says {}",
                            ra.seq, rb.seq
                        )
                    } else {
                        format!(
                            "the projection row differs from the log's object at resourceVersion {}",
                            ra.seq
                        )
                    };
                    Some((*ka, detail))
                } else {
                    a.next();
                    b.next();
                    None
                }
            }
        };
        if let Some(((kind, namespace, name), detail)) = found {
            first_difference = Some(Difference {
                kind: kind.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
                detail,
            });
            break;
        }
    }
    Report {
        log_seq,
        applied_seq,
        kinds,
        first_difference,
    }
}

/// Replay the log and read the projections in one read transaction, and compare them.
pub async fn verify(pool: &Readers) -> Result<Report, HistoryError> {
    let mut log = State::new();
    let mut log_seq = 0;
    let mut projections = State::new();
    let applied_seq = pool
        .scan_log_and_projections(
            |event| {
                fold(
                    &mut log,
                    event.seq,
                    &event.kind,
                    &event.namespace,
                    &event.name,
                    &event.event_type,
                    event.object,
                )?;
                log_seq = event.seq;
                Ok::<(), HistoryError>(())
            },
            |key, row| {
                projections.insert(key, row);
            },
        )
        .await?;
    Ok(compare(&log, &projections, log_seq, applied_seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, uid: &str, rv: i64, node: Option<&str>) -> String {
        let mut p = json!({"kind": "Pod", "metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": rv.to_string()}});
        if let Some(node) = node {
            p["spec"] = json!({"nodeName": node});
        }
        p.to_string()
    }

    fn replayed() -> State {
        let mut state = State::new();
        let events = [
            (1, "Pod", "a", "Created", pod("a", "u1", 1, None)),
            (2, "Pod", "b", "Created", pod("b", "u2", 2, None)),
            (3, "Pod", "a", "Bound", pod("a", "u1", 3, Some("n1"))),
            (4, "Pod", "b", "Deleted", pod("b", "u2", 4, None)),
            (5, "Widget", "w", "Created", "{}".to_string()),
        ];
        for (seq, kind, name, event_type, object) in events {
            fold(&mut state, seq, kind, "default", name, event_type, object).unwrap();
        }
        state
    }

    #[test]
    fn the_fold_keeps_the_last_version_and_drops_deleted_objects() {
        let state = replayed();
        assert_eq!(state.len(), 1);
        let row = &state[&("Pod".to_string(), "default".to_string(), "a".to_string())];
        assert_eq!((row.seq, row.node_name.as_deref()), (3, Some("n1")));
    }

    #[test]
    fn an_altered_row_is_found_and_named() {
        let log = replayed();
        assert!(compare(&log, &log.clone(), 5, 5).ok());
        let mut altered = log.clone();
        let key = ("Pod".to_string(), "default".to_string(), "a".to_string());
        altered.get_mut(&key).unwrap().object = pod("a", "u1", 3, Some("n2"));
        let report = compare(&log, &altered, 5, 5);
        assert!(!report.ok());
        let d = report.first_difference.clone().unwrap();
        assert_eq!((d.kind.as_str(), d.name.as_str()), ("Pod", "a"));
        assert!(d.detail.contains("differs"), "{}", d.detail);
        let pods = report.kinds.iter().find(|(l, _)| l.kind == "Pod").unwrap();
        assert_ne!(pods.0.digest, pods.1.digest);
        let mut extra = log.clone();
        extra.insert(
            ("Node".into(), String::new(), "ghost".into()),
            ProjectedRow {
                uid: "g".into(),
                seq: 9,
                node_name: None,
                object: "{}".into(),
            },
        );
        let d = compare(&log, &extra, 5, 5).first_difference.unwrap();
        assert_eq!(d.name, "ghost");
        assert_eq!(d.detail, "in the projections but not in the log's state");
        assert!(!compare(&log, &log, 5, 4).ok());
    }
}
