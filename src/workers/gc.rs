//! The garbage collector: follows ownerReferences. A dependent whose owners are all gone is
//! deleted (background propagation); an owner held by `foregroundDeletion` goes once its
//! dependents are gone; an owner held by `orphan` first has itself removed from its
//! dependents' ownerReferences. `reconcile` is pure.

use super::cache::{Held, Snapshot};
use super::causes::{self, Input};
use super::{Caused, Controller, Pass, Stored, Wake};
use crate::api::actors;
use crate::events::{Command, DeleteOptions, Propagation, UpdatePart};
use crate::model::meta::Lookup as _;
use crate::model::{ResourceKind, meta};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub const FOREGROUND: &str = "foregroundDeletion";
pub const ORPHAN: &str = "orphan";

fn update(kind: ResourceKind, object: Value) -> Command {
    Command::Update {
        kind,
        namespace: meta::namespace(&object).to_string(),
        name: meta::name(&object).to_string(),
        object,
        part: UpdatePart::Main,
    }
}

fn without_finalizer(object: &Value, finalizer: &str) -> Value {
    let mut next = object.clone();
    retain_in(&mut next, "finalizers", |f| f != finalizer);
    next
}

fn without_owner(object: &Value, uids: &HashSet<&str>) -> Value {
    let mut next = object.clone();
    retain_in(&mut next, "ownerReferences", |r| {
        !r["uid"].as_str().is_some_and(|u| uids.contains(u))
    });
    next
}

/// Keep the entries of the list `metadata.<field>` that `keep` accepts; an emptied list is
/// dropped, as Kubernetes omits empty lists.
pub fn retain_in(object: &mut Value, field: &str, keep: impl Fn(&Value) -> bool) {
    let meta = meta::metadata_mut(object);
    let emptied = match meta.get_mut(field).and_then(Value::as_array_mut) {
        Some(list) => {
            list.retain(|v| keep(v));
            list.is_empty()
        }
        None => false,
    };
    if emptied {
        meta.remove(field);
    }
}

/// Every object of the kinds that take part in ownership, with its kind, as held: a pass reads
/// their facts and parses only the objects it writes.
pub type Objects<'a> = Vec<(ResourceKind, &'a Held)>;

/// `Kind name`.
fn subject(kind: ResourceKind, object: &Held) -> String {
    format!("{} {}", kind.as_str(), object.name())
}

/// The garbage collector's commands for the whole cluster, each with its causes: an owner
/// being deleted (its deletion request), or owners gone (their deletions, as far as
/// `snapshot` still knows them).
pub fn reconcile(objects: &Objects<'_>, snapshot: &Snapshot) -> Vec<Caused> {
    let live: HashSet<&str> = objects.iter().map(|(_, o)| o.uid()).collect();
    let mut dependents: HashMap<&str, Vec<(ResourceKind, &Held)>> = HashMap::new();
    for (kind, object) in objects {
        for uid in &object.facts().owners {
            dependents.entry(uid).or_default().push((*kind, object));
        }
    }
    let being_deleted = |kind: ResourceKind, owner: &Held, policy: &str, outcome: String| {
        let marks = snapshot.marks_held(kind, owner);
        causes::only(
            marks.deletion.unwrap_or(marks.created),
            format!(
                "{} is being deleted with propagationPolicy={policy}: {outcome}",
                subject(kind, owner)
            ),
        )
    };
    let mut commands = Vec::new();
    // Owners waiting on their dependents.
    for (kind, owner) in objects {
        if !owner.deleting() {
            continue;
        }
        let finalizers = &owner.facts().finalizers;
        let uid = owner.uid();
        let deps = dependents.get(uid).map(Vec::as_slice).unwrap_or(&[]);
        if finalizers.iter().any(|f| f == ORPHAN) {
            if deps.is_empty() {
                let because =
                    being_deleted(*kind, owner, "Orphan", "no dependents left".to_string());
                commands.push((
                    update(*kind, without_finalizer(&owner.object(), ORPHAN)),
                    because,
                ));
            } else {
                let gone: HashSet<&str> = [uid].into();
                for (dep_kind, dep) in deps {
                    let because = being_deleted(
                        *kind,
                        owner,
                        "Orphan",
                        format!("{} orphaned", subject(*dep_kind, dep)),
                    );
                    commands.push((
                        update(*dep_kind, without_owner(&dep.object(), &gone)),
                        because,
                    ));
                }
            }
        } else if finalizers.iter().any(|f| f == FOREGROUND) {
            if deps.is_empty() {
                let because =
                    being_deleted(*kind, owner, "Foreground", "no dependents left".to_string());
                commands.push((
                    update(*kind, without_finalizer(&owner.object(), FOREGROUND)),
                    because,
                ));
            } else {
                for (dep_kind, dep) in deps {
                    if !dep.deleting() {
                        let because = being_deleted(
                            *kind,
                            owner,
                            "Foreground",
                            format!("{} deleted first", subject(*dep_kind, dep)),
                        );
                        commands.push((
                            delete(*dep_kind, dep, Some(Propagation::Foreground)),
                            because,
                        ));
                    }
                }
            }
        }
    }
    // Dependents whose owners are gone.
    for (kind, held) in objects {
        let owners = &held.facts().owners;
        if owners.is_empty() {
            continue;
        }
        let missing: HashSet<&str> = owners
            .iter()
            .map(String::as_str)
            .filter(|uid| !live.contains(uid))
            .collect();
        if missing.is_empty() {
            continue;
        }
        // Acted on: its ownerReferences name the missing owners' kinds and names.
        let object = held.object();
        // The deletions of the missing owners that the snapshot still remembers.
        let mut inputs: Vec<Input> = object
            .at("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let uid = r["uid"].as_str().filter(|uid| missing.contains(uid))?;
                let gone = snapshot.deletion_of(uid)?;
                Some(Input::new(
                    gone.deletion_requested.unwrap_or(gone.seq),
                    format!(
                        "{} {} deleted",
                        r["kind"].as_str().unwrap_or("owner"),
                        r["name"].as_str().unwrap_or("")
                    ),
                ))
            })
            .collect();
        if inputs.is_empty() {
            // The owners' deletions are older than the snapshot remembers: the dependent's own
            // version is what shows its owners missing.
            let marks = snapshot.marks_held(*kind, held);
            inputs.push(Input::new(
                marks.owners,
                format!("{} names owners that do not exist", subject(*kind, held)),
            ));
        }
        if missing.len() == owners.len() {
            if !held.deleting() {
                let because = causes::newest_first(
                    inputs,
                    &format!("{} has no owner left", subject(*kind, held)),
                );
                commands.push((delete(*kind, held, Some(Propagation::Background)), because));
            }
        } else {
            let because = causes::newest_first(
                inputs,
                &format!("{} loses the owners that are gone", subject(*kind, held)),
            );
            commands.push((update(*kind, without_owner(&object, &missing)), because));
        }
    }
    commands
}

fn delete(kind: ResourceKind, object: &Held, propagation: Option<Propagation>) -> Command {
    Command::Delete {
        kind,
        namespace: object.namespace().to_string(),
        name: object.name().to_string(),
        options: DeleteOptions {
            precondition_uid: Some(object.uid().to_string()),
            propagation,
            ..Default::default()
        },
    }
}

fn reconcile_snapshot(snapshot: &Snapshot) -> Vec<Caused> {
    // Every kind that can have owners or dependents: all but namespaces (their own controller
    // empties them) and core/v1 Events (many, and never owned). Nodes own their Leases.
    let objects: Objects<'_> = ResourceKind::ALL
        .into_iter()
        .filter(|kind| !matches!(kind, ResourceKind::Event | ResourceKind::Namespace))
        .flat_map(|kind| snapshot.held(kind).map(move |o| (kind, o)))
        .collect();
    reconcile(&objects, snapshot)
}

/// The garbage collector: woken by what can matter to ownership (deletions, objects being
/// deleted, changed ownerReferences or finalizers), and a tick every 5 s.
pub struct GarbageCollector;

impl Controller for GarbageCollector {
    fn actor(&self) -> &'static str {
        actors::GARBAGE_COLLECTOR
    }

    fn wake(&self) -> Wake {
        Wake {
            tick: Duration::from_secs(5),
            interest: Snapshot::ownership_changes,
        }
    }

    fn reconcile(&self, snapshot: &Snapshot, _stored: &Stored, _now: jiff::Timestamp) -> Pass {
        reconcile_snapshot(snapshot).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rs(finalizer: Option<&str>) -> Held {
        let mut rs = json!({"metadata": {"name": "web", "namespace": "default", "uid": "rs-1", "resourceVersion": "5"}});
        if let Some(f) = finalizer {
            rs["metadata"]["finalizers"] = json!([f]);
            rs["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        Held::new(ResourceKind::ReplicaSet, std::sync::Arc::new(rs), None)
    }

    fn pod(name: &str) -> Held {
        let pod = json!({"metadata": {"name": name, "namespace": "default", "uid": format!("pod-{name}"), "resourceVersion": "6",
                            "ownerReferences": [{"uid": "rs-1", "controller": true, "kind": "ReplicaSet", "name": "web"}]}});
        Held::new(ResourceKind::Pod, std::sync::Arc::new(pod), None)
    }

    fn describe(commands: &[Caused]) -> Vec<String> {
        commands
            .iter()
            .map(|(c, _)| match c {
                Command::Delete { name, .. } => format!("delete {name}"),
                Command::Update { name, object, .. } => format!(
                    "update {name} finalizers={} owners={}",
                    meta::finalizers(object).len(),
                    meta::owner_uids(object).len()
                ),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn background_deletes_dependents_of_a_gone_owner() {
        let (a, b) = (pod("a"), pod("b"));
        let objects: Objects = vec![(ResourceKind::Pod, &a), (ResourceKind::Pod, &b)];
        assert_eq!(
            describe(&reconcile(&objects, &Snapshot::default())),
            ["delete a", "delete b"]
        );
        let owner = rs(None);
        let objects: Objects = vec![(ResourceKind::ReplicaSet, &owner), (ResourceKind::Pod, &a)];
        assert!(reconcile(&objects, &Snapshot::default()).is_empty());
    }

    #[test]
    fn foreground_deletes_dependents_first_then_releases_the_owner() {
        let owner = rs(Some(FOREGROUND));
        let a = pod("a");
        let objects: Objects = vec![(ResourceKind::ReplicaSet, &owner), (ResourceKind::Pod, &a)];
        assert_eq!(
            describe(&reconcile(&objects, &Snapshot::default())),
            ["delete a"]
        );
        let objects: Objects = vec![(ResourceKind::ReplicaSet, &owner)];
        assert_eq!(
            describe(&reconcile(&objects, &Snapshot::default())),
            ["update web finalizers=0 owners=0"]
        );
    }

    #[test]
    fn orphan_strips_owner_references_then_releases_the_owner() {
        let owner = rs(Some(ORPHAN));
        let a = pod("a");
        let objects: Objects = vec![(ResourceKind::ReplicaSet, &owner), (ResourceKind::Pod, &a)];
        assert_eq!(
            describe(&reconcile(&objects, &Snapshot::default())),
            ["update a finalizers=0 owners=0"]
        );
        let objects: Objects = vec![(ResourceKind::ReplicaSet, &owner)];
        assert_eq!(
            describe(&reconcile(&objects, &Snapshot::default())),
            ["update web finalizers=0 owners=0"]
        );
    }

    #[test]
    fn a_node_s_lease_lives_as_long_as_the_node() {
        use crate::events::EventType;
        use std::sync::Arc;
        let node = json!({"metadata": {"name": "n1", "uid": "node-1", "resourceVersion": "3"}});
        let lease = json!({"metadata": {"name": "n1", "namespace": "kube-node-lease",
            "uid": "lease-1", "resourceVersion": "4",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "node-1"}]}});
        let mut snapshot = Snapshot::default();
        snapshot.apply(
            ResourceKind::Node,
            EventType::Created,
            Arc::new(node.clone()),
            3,
        );
        snapshot.apply(ResourceKind::Lease, EventType::Created, Arc::new(lease), 4);
        assert!(reconcile_snapshot(&snapshot).is_empty());
        snapshot.apply(ResourceKind::Node, EventType::Deleted, Arc::new(node), 5);
        assert_eq!(describe(&reconcile_snapshot(&snapshot)), ["delete n1"]);
    }
}
