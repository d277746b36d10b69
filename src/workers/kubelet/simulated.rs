//! Simulated nodes (as kwok does): a kubelet that registers a Node labelled and annotated as
//! simulated, heartbeats (renews its Lease, writes its status on a change or every report
//! period), marks each pod bound to it Running and Ready after a short delay
//! without running anything (and, like kwok, without recording container events), and
//! confirms pod deletions at once. Annotate the node
//! `kubetrail.dev/paused=true` to make it behave like a dead node.

use super::{NodeDescription, NodeReporting, Reports, heartbeat, node_object, running_status};
use crate::api::actors;
use crate::api::{PAUSED_ANNOTATION, SIMULATED_ANNOTATION};
use crate::events::{Command, DeleteOptions, RequestMeta, UpdatePart};
use crate::model::{ResourceKind, meta};
use crate::shutdown::Shutdown;
use crate::workers::cache::{Informer, Snapshot};
use crate::workers::causes;
use crate::workers::{Caused, Submit, run_commands, wait_for_change};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn node_name(index: usize) -> String {
    format!("sim-node-{index:03}")
}

fn index_of(node: &str) -> u32 {
    node.rsplit('-')
        .next()
        .and_then(|i| i.parse().ok())
        .unwrap_or(0)
}

fn description(node: &str) -> NodeDescription {
    let index = index_of(node);
    NodeDescription {
        name: node.to_string(),
        labels: json!({
            "kubernetes.io/hostname": node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "type": "simulated",
        }),
        annotations: json!({SIMULATED_ANNOTATION: "true"}),
        capacity: json!({"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}),
        internal_ip: host_ip(index),
        node_info: json!({
            "kubeletVersion": "v1.32.4", "kubeProxyVersion": "v1.32.4",
            "containerRuntimeVersion": "simulated://kubetrail", "osImage": "kubetrail simulated node",
            "kernelVersion": "simulated", "operatingSystem": "linux", "architecture": "amd64",
            "machineID": "", "systemUUID": "", "bootID": "",
        }),
    }
}

/// Addresses are data only: nothing is ever sent to them.
fn host_ip(index: u32) -> String {
    format!("10.0.{}.{}", index / 250, index % 250 + 2)
}

fn pod_ip(index: u32, uid: &str) -> String {
    let hash = uid
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.244.{}.{}", index % 256, hash % 250 + 2)
}

/// Per-node memory: when each pod was first seen bound here, and the node's last reports.
#[derive(Default)]
pub struct Local {
    first_seen: HashMap<String, Instant>,
    reports: Reports,
}

/// One pass of a simulated kubelet for `node`.
pub fn reconcile(
    snapshot: &Snapshot,
    node: &str,
    local: &mut Local,
    start_delay: Duration,
    reporting: NodeReporting,
) -> Vec<Caused> {
    let clock = jiff::Timestamp::now();
    let now = meta::format_time(clock);
    let mut commands = Vec::new();
    let Some(object) = snapshot.get(ResourceKind::Node, "", node) else {
        commands.push((
            Command::Create {
                kind: ResourceKind::Node,
                namespace: String::new(),
                object: node_object(&description(node), &now),
            },
            Vec::new(),
        ));
        local.reports.last_status = Some(Instant::now());
        return commands;
    };
    if meta::string_map(object, "annotations")
        .get(PAUSED_ANNOTATION)
        .map(String::as_str)
        == Some("true")
    {
        return commands;
    }
    let instant = Instant::now();
    commands.extend(local.reports.lease(
        snapshot,
        object,
        reporting,
        instant,
        &meta::format_micro_time(clock),
    ));
    if let Some(why) = local.reports.status_due(object, None, reporting, instant) {
        commands.push((
            Command::Update {
                kind: ResourceKind::Node,
                namespace: String::new(),
                name: node.to_string(),
                object: heartbeat(object, &now),
                part: UpdatePart::Status,
            },
            causes::only(
                meta::resource_version(object).parse().unwrap_or(0),
                why.reason(node),
            ),
        ));
    }
    let index = index_of(node);
    let pods = snapshot.pods_held_on(node);
    let here: std::collections::HashSet<&str> = pods.iter().map(|p| p.uid()).collect();
    local
        .first_seen
        .retain(|uid, _| here.contains(uid.as_str()));
    for held in pods {
        let uid = held.uid().to_string();
        let name = held.name();
        // The pod's marks are looked up, and the pod parsed, only for a pod this pass acts
        // on: this loop runs over every pod of the fleet on every change.
        if held.deleting() {
            let marks = snapshot.marks_held(ResourceKind::Pod, held);
            let cause = causes::only(
                marks.deletion.unwrap_or(marks.created),
                format!("pod {name} is being deleted: nothing runs, deletion confirmed"),
            );
            // Nothing runs, so nothing needs stopping: confirm the deletion.
            commands.push((
                Command::Delete {
                    kind: ResourceKind::Pod,
                    namespace: held.namespace().to_string(),
                    name: name.to_string(),
                    options: DeleteOptions {
                        grace_period_seconds: Some(0),
                        precondition_uid: Some(uid),
                        ..Default::default()
                    },
                },
                cause,
            ));
            continue;
        }
        if held.pod().started {
            // Started: its first sighting no longer matters (and is not kept per running pod).
            local.first_seen.remove(&uid);
            continue;
        }
        let seen = *local
            .first_seen
            .entry(uid.clone())
            .or_insert_with(Instant::now);
        if seen.elapsed() < start_delay {
            continue;
        }
        let cause = causes::only(
            snapshot.marks_held(ResourceKind::Pod, held).spec,
            format!("pod {name} bound to {node}: started (simulated)"),
        );
        let pod = held.object();
        let mut updated = pod.as_ref().clone();
        updated["status"] = running_status(
            &pod,
            &host_ip(index),
            &pod_ip(index, &uid),
            "simulated",
            &now,
        );
        commands.push((
            Command::Update {
                kind: ResourceKind::Pod,
                namespace: held.namespace().to_string(),
                name: name.to_string(),
                object: updated,
                part: UpdatePart::Status,
            },
            cause,
        ));
    }
    commands
}

/// Run the kubelets of every simulated node in one task: one wake-up per change for the whole
/// fleet rather than one per node.
pub async fn run_simulated_kubelets_until_stopped(
    log: Arc<dyn Submit>,
    informer: Informer,
    nodes: Vec<String>,
    start_delay: Duration,
    reporting: NodeReporting,
    mut shutdown: Shutdown,
) {
    let mut fleet: Vec<(String, Local)> = nodes
        .into_iter()
        .map(|node| (node, Local::default()))
        .collect();
    let mut changes = informer.changes();
    let tick = start_delay
        .min(reporting.renew_every)
        .max(Duration::from_millis(20));
    loop {
        let started = std::time::Instant::now();
        let mut writes = Vec::new();
        {
            let snapshot = informer.read();
            for (node, local) in &mut fleet {
                let commands = reconcile(&snapshot, node, local, start_delay, reporting);
                writes.push((actors::kubelet(node), commands));
            }
        }
        let mut last = 0;
        let runs =
            writes
                .into_iter()
                .filter(|(_, c)| !c.is_empty())
                .map(|(actor, commands)| {
                    let log = log.clone();
                    async move {
                        run_commands(log.as_ref(), commands, || RequestMeta::worker(&actor)).await
                    }
                });
        for seq in futures_util::future::join_all(runs).await {
            last = last.max(seq);
        }
        informer.wait_for(last).await;
        crate::workers::pace(started.elapsed()).await;
        if !wait_for_change(&mut changes, tick, &mut shutdown).await {
            return;
        }
    }
}
