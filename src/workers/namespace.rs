//! The namespace controller: empties a namespace whose deletion was requested (deleting every
//! namespaced object in it: workloads, Services, ConfigMaps, Secrets, ServiceAccounts, events),
//! then finalizes it so the log records its removal. Its core/v1 Events are read from the store
//! (`StoreReads::EventsInTerminatingNamespaces`: the informer keeps none), the rest from the
//! snapshot.

use super::cache::Snapshot;
use super::causes;
use super::stored::StoreReads;
use super::{Caused, Controller, Pass, Stored, Wake};
use crate::api::actors;
use crate::events::{Command, DeleteOptions, UpdatePart};
use crate::model::{ResourceKind, meta};
use serde_json::{Value, json};
use std::time::Duration;

/// Kinds that live in a namespace, deleted when it goes: every namespaced kind.
fn contents() -> impl Iterator<Item = ResourceKind> {
    ResourceKind::ALL
        .into_iter()
        .filter(|kind| kind.namespaced())
}

/// An object still in a namespace, as the controller reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Content<'a> {
    pub kind: ResourceKind,
    pub name: &'a str,
    /// Its deletion has been asked for.
    pub deleting: bool,
}

/// What to do for one terminating namespace given what is still in it: delete what is not yet
/// being deleted, or, once it is empty, finalize it.
pub fn reconcile(namespace: &Value, contents: &[Content<'_>]) -> Vec<Command> {
    let ns = meta::name(namespace);
    if meta::deletion_timestamp(namespace).is_none() {
        return vec![];
    }
    if contents.is_empty() {
        return vec![Command::Update {
            kind: ResourceKind::Namespace,
            namespace: String::new(),
            name: ns.to_string(),
            object: json!({"metadata": {"name": ns}, "spec": {"finalizers": []}}),
            part: UpdatePart::Finalize,
        }];
    }
    contents
        .iter()
        .filter(|c| !c.deleting)
        .map(|c| Command::Delete {
            kind: c.kind,
            namespace: ns.to_string(),
            name: c.name.to_string(),
            options: DeleteOptions::default(),
        })
        .collect()
}

/// The namespace controller: every change wakes it, and a tick every 5 s.
pub struct NamespaceController;

impl Controller for NamespaceController {
    fn actor(&self) -> &'static str {
        actors::NAMESPACE_CONTROLLER
    }

    /// Any change but the nodes' Lease renewals; a namespace being emptied of Leases is looked
    /// at again on the tick.
    fn wake(&self) -> Wake {
        Wake {
            tick: Duration::from_secs(5),
            interest: super::any_change_but_leases,
        }
    }

    fn always_runs(&self) -> bool {
        true
    }

    fn store_reads(&self) -> StoreReads {
        StoreReads::EventsInTerminatingNamespaces
    }

    fn reconcile(&self, snapshot: &Snapshot, stored: &Stored, _now: jiff::Timestamp) -> Pass {
        reconcile_all(snapshot, stored).into()
    }
}

/// Commands for every namespace being deleted, each caused by the namespace's deletion; the
/// Events in them are those `stored` read.
fn reconcile_all(snapshot: &Snapshot, stored: &Stored) -> Vec<Caused> {
    let mut commands = Vec::new();
    for namespace in snapshot.list(ResourceKind::Namespace) {
        if meta::deletion_timestamp(namespace).is_none() {
            continue;
        }
        let name = meta::name(namespace);
        let held = contents().flat_map(|kind| {
            snapshot
                .held_in_namespace(kind, name)
                .map(move |o| Content {
                    kind,
                    name: o.name(),
                    deleting: o.deleting(),
                })
        });
        let events = stored.events_in(name).map(|e| Content {
            kind: ResourceKind::Event,
            name: &e.name,
            deleting: e.deleting,
        });
        let contents: Vec<Content<'_>> = held.chain(events).collect();
        let marks = snapshot.marks_of(ResourceKind::Namespace, namespace);
        let asked = marks.deletion.unwrap_or(marks.created);
        let remaining = contents.len();
        for command in reconcile(namespace, &contents) {
            let outcome = match &command {
                Command::Delete { kind, name, .. } => {
                    format!("{} {name} is in it", kind.as_str())
                }
                _ => "it is empty".to_string(),
            };
            let because = causes::only(
                asked,
                format!("namespace {name} is being deleted ({remaining} objects left): {outcome}"),
            );
            commands.push((command, because));
        }
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(kind: ResourceKind, name: &str, deleting: bool) -> Content<'_> {
        Content {
            kind,
            name,
            deleting,
        }
    }

    fn terminating(name: &str) -> Value {
        json!({"metadata": {"name": name, "deletionTimestamp": "2026-01-01T00:00:00Z"},
               "spec": {"finalizers": ["kubernetes"]}})
    }

    #[test]
    fn deletes_contents_then_finalizes() {
        let commands = reconcile(
            &terminating("team"),
            &[
                content(ResourceKind::Pod, "web", false),
                content(ResourceKind::Pod, "old", true),
            ],
        );
        assert_eq!(commands.len(), 1);
        assert!(matches!(&commands[0], Command::Delete { name, .. } if name == "web"));

        let commands = reconcile(&terminating("team"), &[]);
        assert!(matches!(
            &commands[0],
            Command::Update {
                part: UpdatePart::Finalize,
                ..
            }
        ));
    }

    #[test]
    fn the_events_read_from_the_store_are_deleted_before_the_namespace_is_finalized() {
        use crate::events::EventType;
        use crate::workers::stored::StoredEvent;
        use std::sync::Arc;
        let mut snapshot = Snapshot::default();
        let mut team = terminating("team");
        team["metadata"]["resourceVersion"] = json!("1");
        snapshot.apply(
            ResourceKind::Namespace,
            EventType::Updated,
            Arc::new(team),
            1,
        );
        let event = |namespace: &str, name: &str| StoredEvent {
            namespace: namespace.into(),
            name: name.into(),
            uid: format!("u-{name}"),
            version: 2,
            written: None,
            deleting: false,
        };
        let stored = Stored {
            events: vec![event("team", "e1"), event("other", "e2")],
        };
        let commands = reconcile_all(&snapshot, &stored);
        let deleted: Vec<(ResourceKind, &str)> = commands
            .iter()
            .map(|(command, _)| match command {
                Command::Delete { kind, name, .. } => (*kind, name.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(deleted, [(ResourceKind::Event, "e1")]);
        let finalized = reconcile_all(&snapshot, &Stored::default());
        assert!(matches!(
            &finalized[0].0,
            Command::Update {
                part: UpdatePart::Finalize,
                ..
            }
        ));
    }

    #[test]
    fn every_namespaced_kind_is_emptied() {
        let want: Vec<ResourceKind> = ResourceKind::ALL
            .into_iter()
            .filter(|k| !matches!(k, ResourceKind::Namespace | ResourceKind::Node))
            .collect();
        assert_eq!(contents().collect::<Vec<_>>(), want);
        let objects: Vec<Content<'_>> = [
            ResourceKind::ConfigMap,
            ResourceKind::Secret,
            ResourceKind::ServiceAccount,
        ]
        .into_iter()
        .map(|kind| content(kind, "x", false))
        .collect();
        let deleted: Vec<ResourceKind> = reconcile(&terminating("team"), &objects)
            .into_iter()
            .filter_map(|c| match c {
                Command::Delete { kind, .. } => Some(kind),
                _ => None,
            })
            .collect();
        assert_eq!(
            deleted,
            [
                ResourceKind::ConfigMap,
                ResourceKind::Secret,
                ResourceKind::ServiceAccount
            ]
        );
    }

    #[test]
    fn active_namespace_is_left_alone() {
        let active = json!({"metadata": {"name": "team"}});
        assert!(reconcile(&active, &[]).is_empty());
    }
}
