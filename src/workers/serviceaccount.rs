//! The service account controller: every active namespace has a ServiceAccount named
//! `default`, made shortly after the namespace and made again when deleted, as Kubernetes'
//! serviceaccounts-controller does. A namespace being deleted gets none (its contents are
//! going). `reconcile` is pure; the controller only reads the snapshot and names causes: the
//! namespace's creation, or the deletion of its `default` ServiceAccount, whichever is newer.

use super::cache::Snapshot;
use super::causes::{self, Input};
use super::{Caused, Controller, Pass, Stored, Wake};
use crate::api::actors;
use crate::events::Command;
use crate::model::{ResourceKind, meta};
use serde_json::{Value, json};
use std::time::Duration;

/// The ServiceAccount each namespace gets.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// Whether `namespace` takes new content: not being deleted.
fn is_active(namespace: &Value) -> bool {
    meta::deletion_timestamp(namespace).is_none()
        && namespace.pointer("/status/phase").and_then(Value::as_str) != Some("Terminating")
}

/// What to do for one namespace, given its `default` ServiceAccount (if it has one): create
/// it when an active namespace lacks it, else nothing.
pub fn reconcile(namespace: &Value, default_account: Option<&Value>) -> Option<Command> {
    if !is_active(namespace) || default_account.is_some() {
        return None;
    }
    let ns = meta::name(namespace);
    Some(Command::Create {
        kind: ResourceKind::ServiceAccount,
        namespace: ns.to_string(),
        object: json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": ns},
        }),
    })
}

/// Every namespace's missing `default` ServiceAccount, each caused by the newer of the
/// namespace's creation and the account's recent deletion.
fn reconcile_all(snapshot: &Snapshot) -> Vec<Caused> {
    let mut commands = Vec::new();
    for namespace in snapshot.list(ResourceKind::Namespace) {
        let name = meta::name(namespace);
        let account = snapshot.get(ResourceKind::ServiceAccount, name, DEFAULT_SERVICE_ACCOUNT);
        let Some(command) = reconcile(namespace, account.map(AsRef::as_ref)) else {
            continue;
        };
        let mut inputs = vec![Input::new(
            snapshot
                .marks_of(ResourceKind::Namespace, namespace)
                .created,
            format!("namespace {name} created"),
        )];
        if let Some(gone) =
            snapshot.deleted_named(ResourceKind::ServiceAccount, name, DEFAULT_SERVICE_ACCOUNT)
        {
            inputs.push(Input::new(
                gone.seq,
                format!("ServiceAccount {name}/{DEFAULT_SERVICE_ACCOUNT} deleted"),
            ));
        }
        let because = causes::newest_first(
            inputs,
            &format!("no ServiceAccount {DEFAULT_SERVICE_ACCOUNT} in it"),
        );
        commands.push((command, because));
    }
    commands
}

/// What the controller reads: namespaces and ServiceAccounts.
fn what_it_reads(snapshot: &Snapshot) -> u64 {
    snapshot.changes_of(ResourceKind::Namespace) + snapshot.changes_of(ResourceKind::ServiceAccount)
}

/// The service account controller: a change of a namespace or a ServiceAccount wakes it, and
/// a tick every 5 s.
pub struct ServiceAccountController;

impl Controller for ServiceAccountController {
    fn actor(&self) -> &'static str {
        actors::SERVICEACCOUNT_CONTROLLER
    }

    fn wake(&self) -> Wake {
        Wake {
            tick: Duration::from_secs(5),
            interest: what_it_reads,
        }
    }

    fn reconcile(&self, snapshot: &Snapshot, _stored: &Stored, _now: jiff::Timestamp) -> Pass {
        reconcile_all(snapshot).into()
    }
}

#[cfg(test)]
mod tests {
    //! given (namespaces and ServiceAccounts in the log) / when a pass runs / then the
    //! ServiceAccounts it creates and their causes.
    use super::*;
    use crate::events::EventType;
    use crate::workers::Cause;
    use std::sync::Arc;

    fn namespace(name: &str, uid: &str) -> Value {
        json!({"metadata": {"name": name, "uid": uid, "resourceVersion": "1"},
               "status": {"phase": "Active"}})
    }

    fn terminating(name: &str) -> Value {
        json!({"metadata": {"name": name, "uid": "t", "deletionTimestamp": "2026-01-01T00:00:00Z"},
               "status": {"phase": "Terminating"}})
    }

    fn account(namespace: &str, name: &str, uid: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": namespace, "uid": uid}})
    }

    /// One event of the log: (seq, kind, event, object).
    type Logged = (i64, ResourceKind, EventType, Value);

    /// The log, applied in order.
    fn given(events: &[Logged]) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for (seq, kind, event_type, object) in events {
            let mut object = object.clone();
            object["metadata"]["resourceVersion"] = json!(seq.to_string());
            snapshot.apply(*kind, *event_type, Arc::new(object), *seq);
        }
        snapshot
    }

    /// (namespace created for, causes) of each command of one pass.
    fn then(snapshot: &Snapshot) -> Vec<(String, Vec<Cause>)> {
        reconcile_all(snapshot)
            .into_iter()
            .map(|(command, causes)| match command {
                Command::Create {
                    kind: ResourceKind::ServiceAccount,
                    namespace,
                    object,
                } => {
                    assert_eq!(object["metadata"]["name"], "default");
                    (namespace, causes)
                }
                other => panic!("unexpected command {other:?}"),
            })
            .collect()
    }

    #[test]
    fn each_active_namespace_gets_a_default_service_account() {
        use EventType::Created;
        let cases: Vec<(&str, Vec<Logged>, Vec<&str>)> = vec![
            (
                "a new namespace",
                vec![(3, ResourceKind::Namespace, Created, namespace("team", "n1"))],
                vec!["team"],
            ),
            (
                "one that has it",
                vec![
                    (3, ResourceKind::Namespace, Created, namespace("team", "n1")),
                    (
                        4,
                        ResourceKind::ServiceAccount,
                        Created,
                        account("team", "default", "a1"),
                    ),
                ],
                vec![],
            ),
            (
                "another account is not the default one",
                vec![
                    (3, ResourceKind::Namespace, Created, namespace("team", "n1")),
                    (
                        4,
                        ResourceKind::ServiceAccount,
                        Created,
                        account("team", "bot", "a1"),
                    ),
                ],
                vec!["team"],
            ),
            (
                "a namespace being deleted",
                vec![(3, ResourceKind::Namespace, Created, terminating("old"))],
                vec![],
            ),
            (
                "a default one elsewhere does not count",
                vec![
                    (3, ResourceKind::Namespace, Created, namespace("a", "n1")),
                    (4, ResourceKind::Namespace, Created, namespace("b", "n2")),
                    (
                        5,
                        ResourceKind::ServiceAccount,
                        Created,
                        account("a", "default", "a1"),
                    ),
                ],
                vec!["b"],
            ),
        ];
        for (name, events, want) in cases {
            let got: Vec<String> = then(&given(&events))
                .into_iter()
                .map(|(ns, _)| ns)
                .collect();
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn the_cause_is_the_namespace_or_the_deletion_of_its_account() {
        let created = given(&[(
            7,
            ResourceKind::Namespace,
            EventType::Created,
            namespace("team", "n1"),
        )]);
        assert_eq!(
            then(&created),
            [(
                "team".to_string(),
                vec![Cause::new(
                    7,
                    "namespace team created: no ServiceAccount default in it"
                )]
            )]
        );
        let deleted = given(&[
            (
                7,
                ResourceKind::Namespace,
                EventType::Created,
                namespace("team", "n1"),
            ),
            (
                8,
                ResourceKind::ServiceAccount,
                EventType::Created,
                account("team", "default", "a1"),
            ),
            (
                12,
                ResourceKind::ServiceAccount,
                EventType::Deleted,
                account("team", "default", "a1"),
            ),
        ]);
        assert_eq!(
            then(&deleted),
            [(
                "team".to_string(),
                vec![
                    Cause::new(
                        12,
                        "ServiceAccount team/default deleted: no ServiceAccount default in it"
                    ),
                    Cause::new(7, "namespace team created"),
                ]
            )]
        );
    }
}
