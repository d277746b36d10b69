//! The namespace controller: empties a namespace whose deletion was requested (deleting its
//! pods, replicasets and events), then finalizes it so the log records its removal.

use super::wait_for_change;
use crate::events::{Command, DeleteOptions, EventLog, RequestMeta, UpdatePart};
use crate::model::{ResourceKind, meta};
use crate::projections::{ListQuery, ReadStore};
use crate::shutdown::Shutdown;
use serde_json::{Value, json};
use std::time::Duration;

pub const ACTOR: &str = "namespace-controller";

/// Kinds that live in a namespace, deleted when it goes.
const CONTENTS: [ResourceKind; 3] = [
    ResourceKind::ReplicaSet,
    ResourceKind::Pod,
    ResourceKind::Event,
];

/// What to do for one terminating namespace given what is still in it: delete what is not yet
/// being deleted, or, once it is empty, finalize it.
pub fn reconcile(namespace: &Value, contents: &[(ResourceKind, Value)]) -> Vec<Command> {
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
        .filter(|(_, object)| meta::deletion_timestamp(object).is_none())
        .map(|(kind, object)| Command::Delete {
            kind: *kind,
            namespace: ns.to_string(),
            name: meta::name(object).to_string(),
            options: DeleteOptions::default(),
        })
        .collect()
}

pub async fn run_namespace_controller_until_stopped(
    log: EventLog,
    store: ReadStore,
    mut shutdown: Shutdown,
) {
    let mut live = log.subscribe();
    let watched = [
        ResourceKind::Namespace,
        ResourceKind::Pod,
        ResourceKind::ReplicaSet,
        ResourceKind::Event,
    ];
    loop {
        if let Err(e) = reconcile_all(&log, &store).await {
            tracing::warn!(error = %e, "namespace reconcile failed; retrying");
        }
        if !wait_for_change(&mut live, &watched, Duration::from_secs(2), &mut shutdown).await {
            return;
        }
    }
}

async fn reconcile_all(log: &EventLog, store: &ReadStore) -> anyhow::Result<()> {
    let namespaces = store
        .list(ResourceKind::Namespace, &ListQuery::default(), None)
        .await?;
    for json in namespaces.items {
        let namespace: Value = serde_json::from_str(&json)?;
        if meta::deletion_timestamp(&namespace).is_none() {
            continue;
        }
        let mut contents = Vec::new();
        for kind in CONTENTS {
            let query = ListQuery {
                namespace: Some(meta::name(&namespace).to_string()),
                ..Default::default()
            };
            for item in store.list(kind, &query, None).await?.items {
                contents.push((kind, serde_json::from_str(&item)?));
            }
        }
        let caused_by = meta::resource_version(&namespace).parse().ok();
        for command in reconcile(&namespace, &contents) {
            let mut request = RequestMeta::worker(ACTOR);
            request.caused_by = caused_by;
            if let Err(e) = log.submit(command, request).await {
                tracing::debug!(error = %e, "namespace controller command refused");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminating(name: &str) -> Value {
        json!({"metadata": {"name": name, "deletionTimestamp": "2026-01-01T00:00:00Z"},
               "spec": {"finalizers": ["kubernetes"]}})
    }

    #[test]
    fn deletes_contents_then_finalizes() {
        let pod = json!({"metadata": {"name": "web", "namespace": "team"}});
        let going =
            json!({"metadata": {"name": "old", "namespace": "team", "deletionTimestamp": "x"}});
        let commands = reconcile(
            &terminating("team"),
            &[(ResourceKind::Pod, pod), (ResourceKind::Pod, going)],
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
    fn active_namespace_is_left_alone() {
        let active = json!({"metadata": {"name": "team"}});
        assert!(reconcile(&active, &[]).is_empty());
    }
}
