//! The event TTL controller: a core/v1 Event not written for `--event-ttl` (1 hour by
//! default, kube-apiserver's `--event-ttl`) is deleted, as the lease etcd keeps on each Event
//! deletes it there. The deletion is an event of the log like any other, by
//! `event-ttl-controller`, caused by the Event's last version: `history` and `why` say the
//! Event expired. An Event's last write is the newest of the times the server set when it was
//! written (its creation, its managers' `managedFields` times) and those its writer gave
//! (`lastTimestamp`, `eventTime`, `series.lastObservedTime`); the deletion carries its uid and
//! resourceVersion as preconditions, so an Event written again since the pass looked is kept.
//! `expired` is pure.

use super::cache::Snapshot;
use super::causes::{self, Input};
use super::{Caused, Controller, Pass, Wake};
use crate::api::actors;
use crate::events::{Command, DeleteOptions};
use crate::model::{ResourceKind, meta};
use std::time::Duration;

/// Kubernetes' default `--event-ttl`.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(3600);
/// Deletions per pass: a backlog (a server started after a long stop) drains over a few
/// passes instead of one batch as large as the backlog.
pub const MAX_DELETIONS_PER_PASS: usize = 500;

/// One Event as a pass reads it (the informer's brief of it; the Event itself is not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
    pub version: i64,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// `last_written`.
    pub at: Option<jiff::Timestamp>,
}

/// The Events among `events` last written more than `ttl` before `now`, oldest first, at most
/// `limit`.
pub fn expired<'a>(
    events: impl Iterator<Item = Written<'a>>,
    now: jiff::Timestamp,
    ttl: Duration,
    limit: usize,
) -> Vec<(Written<'a>, jiff::Timestamp)> {
    let ttl = jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX);
    let mut found: Vec<(Written<'a>, jiff::Timestamp)> = events
        .filter(|e| !e.deleting)
        .filter_map(|e| e.at.map(|at| (e, at)))
        .filter(|(_, at)| now.duration_since(*at) > ttl)
        .collect();
    found.sort_by(|a, b| (a.1, a.0.namespace, a.0.name).cmp(&(b.1, b.0.namespace, b.0.name)));
    found.truncate(limit);
    found
}

/// The TTL as people write it (`1h`, `90m`, `45s`).
fn spoken(ttl: Duration) -> String {
    let seconds = ttl.as_secs();
    match seconds {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The deletion of each expired Event, caused by its last version.
fn reconcile_all(snapshot: &Snapshot, now: jiff::Timestamp, ttl: Duration) -> Vec<Caused> {
    let events = snapshot
        .briefs(ResourceKind::Event)
        .map(|(namespace, name, brief)| Written {
            namespace,
            name,
            uid: &brief.uid,
            version: brief.version,
            deleting: brief.deleting,
            at: brief.written,
        });
    expired(events, now, ttl, MAX_DELETIONS_PER_PASS)
        .into_iter()
        .map(|(event, at)| {
            let command = Command::Delete {
                kind: ResourceKind::Event,
                namespace: event.namespace.to_string(),
                name: event.name.to_string(),
                options: DeleteOptions {
                    precondition_uid: Some(event.uid.to_string()),
                    precondition_resource_version: Some(event.version.to_string()),
                    ..Default::default()
                },
            };
            let because = causes::newest_first(
                vec![Input::new(
                    event.version,
                    format!(
                        "Event {} last written {}",
                        event.name,
                        meta::format_time(at)
                    ),
                )],
                &format!("expired: older than the {} event TTL", spoken(ttl)),
            );
            (command, because)
        })
        .collect()
}

/// The event TTL controller: a tick every 10 s looks for expired Events.
pub struct EventTtlController {
    pub ttl: Duration,
}

impl Controller for EventTtlController {
    fn actor(&self) -> &'static str {
        actors::EVENT_TTL_CONTROLLER
    }

    fn wake(&self) -> Wake {
        // Time, not a change, makes an Event expire: the tick alone starts a pass.
        Wake {
            tick: Duration::from_secs(10),
            interest: |_| 0,
        }
    }

    fn reconcile(&self, snapshot: &Snapshot, now: jiff::Timestamp) -> Pass {
        reconcile_all(snapshot, now, self.ttl).into()
    }
}

#[cfg(test)]
mod tests {
    //! given (Events with their times) / when a pass runs at `now` / then the Events deleted.
    use super::*;
    use crate::events::EventType;
    use crate::model::meta::event_last_written as last_written;
    use serde_json::{Value, json};
    use std::sync::Arc;

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    fn event(name: &str, created: &str, last: Option<&str>) -> Value {
        let mut e = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "default", "uid": format!("u-{name}"),
                         "creationTimestamp": created},
        });
        if let Some(last) = last {
            e["lastTimestamp"] = json!(last);
        }
        e
    }

    fn given(events: &[Value]) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for (seq, object) in (1..).zip(events) {
            let mut object = object.clone();
            object["metadata"]["resourceVersion"] = json!(seq.to_string());
            snapshot.apply(
                ResourceKind::Event,
                EventType::Created,
                Arc::new(object),
                seq,
            );
        }
        snapshot
    }

    fn then(snapshot: &Snapshot, now: &str, ttl: Duration) -> Vec<(String, String)> {
        reconcile_all(snapshot, at(now), ttl)
            .into_iter()
            .map(|(command, causes)| match command {
                Command::Delete { name, options, .. } => {
                    assert_eq!(options.precondition_uid, Some(format!("u-{name}")));
                    assert!(options.precondition_resource_version.is_some());
                    let reason = causes[0].reason.clone();
                    let outcome = reason.rsplit(": expired").next().unwrap_or("").to_string();
                    (name, format!("expired{outcome}"))
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn events_not_written_for_the_ttl_are_deleted_oldest_first() {
        let hour = Duration::from_secs(3600);
        let snapshot = given(&[
            // Created two hours ago but counted again 10 minutes ago: kept.
            event(
                "recurring",
                "2026-01-01T08:00:00Z",
                Some("2026-01-01T09:50:00Z"),
            ),
            event("old", "2026-01-01T08:30:00Z", None),
            event(
                "older",
                "2026-01-01T07:00:00Z",
                Some("2026-01-01T07:30:00Z"),
            ),
            // Exactly one hour: not yet.
            event("edge", "2026-01-01T09:00:00Z", None),
        ]);
        assert_eq!(
            then(&snapshot, "2026-01-01T10:00:00Z", hour),
            [
                (
                    "older".to_string(),
                    "expired: older than the 1h event TTL".to_string()
                ),
                (
                    "old".to_string(),
                    "expired: older than the 1h event TTL".to_string()
                ),
            ]
        );
        assert_eq!(
            then(
                &snapshot,
                "2026-01-01T10:00:00Z",
                Duration::from_secs(90 * 60)
            )
            .len(),
            1
        );
        assert!(then(&snapshot, "2026-01-01T08:00:00Z", hour).is_empty());
    }

    #[test]
    fn a_backlog_drains_in_bounded_passes() {
        let events: Vec<Value> = (0..MAX_DELETIONS_PER_PASS + 20)
            .map(|i| event(&format!("e{i:04}"), "2026-01-01T00:00:00Z", None))
            .collect();
        let snapshot = given(&events);
        let deleted = then(&snapshot, "2026-01-02T00:00:00Z", DEFAULT_EVENT_TTL);
        assert_eq!(deleted.len(), MAX_DELETIONS_PER_PASS);
        assert_eq!(deleted[0].0, "e0000");
    }

    #[test]
    fn the_last_write_is_the_newest_of_the_events_times() {
        let mut e = event("x", "2026-01-01T00:00:00Z", Some("2026-01-01T01:00:00Z"));
        e["eventTime"] = json!("2026-01-01T02:00:00.000000Z");
        e["series"] = json!({"count": 3, "lastObservedTime": "2026-01-01T03:00:00.000000Z"});
        assert_eq!(last_written(&e), Some(at("2026-01-01T03:00:00Z")));
        e["metadata"]["managedFields"] = json!([
            {"manager": "a", "operation": "Update", "time": "2026-01-01T04:00:00Z"},
            {"manager": "b", "operation": "Update"},
        ]);
        assert_eq!(last_written(&e), Some(at("2026-01-01T04:00:00Z")));
        assert_eq!(spoken(Duration::from_secs(90)), "90s");
        assert_eq!(spoken(Duration::from_secs(1800)), "30m");
    }
}
