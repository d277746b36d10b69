//! The event TTL controller: a core/v1 Event not written for `--event-ttl` (1 hour by
//! default, kube-apiserver's `--event-ttl`) is deleted, as the lease etcd gives each Event at
//! each write deletes it there. The deletion is an event of the log like any other, by
//! `event-ttl-controller`, caused by the Event's last version: `history` and `why` say the
//! Event expired. An Event's last write is the server's (the log's time of its current
//! version), whatever times its writer put in it; the Events are read from the log, not held
//! in memory (`StoreReads::EventsNotWrittenFor`). The deletion carries the Event's uid and
//! resourceVersion as preconditions, so an Event written again since the pass read it is kept.
//! `expired` is pure.

use super::cache::Snapshot;
use super::causes::{self, Input};
use super::stored::{StoreReads, StoredEvent};
use super::{Caused, Controller, Pass, Stored, Wake};
use crate::api::actors;
use crate::events::{Command, DeleteOptions};
use crate::model::{ResourceKind, meta};
use std::time::Duration;

/// Kubernetes' default `--event-ttl`.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(3600);
/// Deletions per pass: a backlog (a server started after a long stop) drains over a few
/// passes instead of one batch as large as the backlog.
pub const MAX_DELETIONS_PER_PASS: usize = 500;

/// The Events among `events` last written more than `ttl` before `now`, oldest first, at most
/// `limit`.
pub fn expired<'a>(
    events: impl Iterator<Item = &'a StoredEvent>,
    now: jiff::Timestamp,
    ttl: Duration,
    limit: usize,
) -> Vec<(&'a StoredEvent, jiff::Timestamp)> {
    let ttl = jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX);
    let mut found: Vec<(&StoredEvent, jiff::Timestamp)> = events
        .filter(|e| !e.deleting)
        .filter_map(|e| e.written.map(|at| (e, at)))
        .filter(|(_, at)| now.duration_since(*at) > ttl)
        .collect();
    found.sort_by(|a, b| (a.1, &a.0.namespace, &a.0.name).cmp(&(b.1, &b.0.namespace, &b.0.name)));
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

/// The deletion of each expired Event among those read, caused by its last version.
fn reconcile_all(stored: &Stored, now: jiff::Timestamp, ttl: Duration) -> Vec<Caused> {
    expired(stored.events.iter(), now, ttl, MAX_DELETIONS_PER_PASS)
        .into_iter()
        .map(|(event, at)| {
            let command = Command::Delete {
                kind: ResourceKind::Event,
                namespace: event.namespace.clone(),
                name: event.name.clone(),
                options: DeleteOptions {
                    precondition_uid: Some(event.uid.clone()),
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

    fn store_reads(&self) -> StoreReads {
        StoreReads::EventsNotWrittenFor {
            ttl: self.ttl,
            limit: MAX_DELETIONS_PER_PASS,
        }
    }

    fn reconcile(&self, _snapshot: &Snapshot, stored: &Stored, now: jiff::Timestamp) -> Pass {
        reconcile_all(stored, now, self.ttl).into()
    }
}

#[cfg(test)]
mod tests {
    //! given (Events with their last writes) / when a pass runs at `now` / then the Events
    //! deleted.
    use super::*;

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    fn given(events: &[(&str, &str)]) -> Stored {
        Stored {
            events: (1..)
                .zip(events)
                .map(|(seq, (name, written))| StoredEvent {
                    namespace: "default".into(),
                    name: name.to_string(),
                    uid: format!("u-{name}"),
                    version: seq,
                    written: Some(at(written)),
                    deleting: false,
                })
                .collect(),
        }
    }

    fn then(stored: &Stored, now: &str, ttl: Duration) -> Vec<(String, String)> {
        reconcile_all(stored, at(now), ttl)
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
        let stored = given(&[
            ("recent", "2026-01-01T09:50:00Z"),
            ("old", "2026-01-01T08:30:00Z"),
            ("older", "2026-01-01T07:30:00Z"),
            // Exactly one hour: not yet.
            ("edge", "2026-01-01T09:00:00Z"),
        ]);
        assert_eq!(
            then(&stored, "2026-01-01T10:00:00Z", hour),
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
                &stored,
                "2026-01-01T10:00:00Z",
                Duration::from_secs(90 * 60)
            )
            .len(),
            1
        );
        assert!(then(&stored, "2026-01-01T08:00:00Z", hour).is_empty());
        let mut deleting = stored.clone();
        deleting.events.iter_mut().for_each(|e| e.deleting = true);
        assert!(then(&deleting, "2026-01-02T00:00:00Z", hour).is_empty());
    }

    #[test]
    fn a_backlog_drains_in_bounded_passes() {
        let names: Vec<String> = (0..MAX_DELETIONS_PER_PASS + 20)
            .map(|i| format!("e{i:04}"))
            .collect();
        let events: Vec<(&str, &str)> = names
            .iter()
            .map(|n| (n.as_str(), "2026-01-01T00:00:00Z"))
            .collect();
        let deleted = then(&given(&events), "2026-01-02T00:00:00Z", DEFAULT_EVENT_TTL);
        assert_eq!(deleted.len(), MAX_DELETIONS_PER_PASS);
        assert_eq!(deleted[0].0, "e0000");
        assert_eq!(spoken(Duration::from_secs(90)), "90s");
        assert_eq!(spoken(Duration::from_secs(1800)), "30m");
    }
}
