//! Node lifecycle: a node whose kubelet stops heartbeating becomes `Ready=Unknown` after a
//! grace period and gets the `node.kubernetes.io/unreachable:NoExecute` taint (a `NotReady`
//! node gets `not-ready`); pods on a NoExecute-tainted node are evicted once their toleration
//! runs out, so their ReplicaSets replace them elsewhere. The taint goes when the node is back.
//!
//! A node is heard from when its kubelet renews its Lease (`kube-node-lease/<node>`'s
//! `renewTime`) or writes its status (the Ready condition's `lastHeartbeatTime`), whichever is
//! newer; the cause of `Ready=Unknown` names the one that went stale.

use super::cache::Snapshot;
use super::causes::{self, Input};
use super::{Cause, Caused, Controller, Pass, Stored, Wake};
use crate::api::actors;
use crate::events::{Command, DeleteOptions, UpdatePart};
use crate::model::meta::Lookup as _;
use crate::model::{ResourceKind, meta};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The namespace of the nodes' Leases, one per node, named as the node.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Heartbeat, status report and grace periods: kubelet renews its Lease every 10 s and writes
/// an unchanged node status every 5 minutes; a node not heard from for 40 s is unknown.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub heartbeat: Duration,
    pub status_report: Duration,
    pub grace: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat: Duration::from_secs(10),
            status_report: Duration::from_secs(300),
            grace: Duration::from_secs(40),
        }
    }
}

/// When a node was last heard from, and through what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeardFrom {
    /// Its Lease's `renewTime`.
    Lease(jiff::Timestamp),
    /// Its Ready condition's `lastHeartbeatTime` (or `lastTransitionTime` without one).
    Status(jiff::Timestamp),
}

impl HeardFrom {
    pub fn at(self) -> jiff::Timestamp {
        match self {
            HeardFrom::Lease(t) | HeardFrom::Status(t) => t,
        }
    }
}

/// When `lease` was last renewed.
fn renewed_at(lease: &Value) -> Option<jiff::Timestamp> {
    lease.at("/spec/renewTime").and_then(time_of)
}

/// The newer of the node's Lease renewal and its Ready condition's heartbeat (the status when
/// both are the same time).
pub fn heard_from(node: &Value, lease: Option<&Value>) -> Option<HeardFrom> {
    let status = ready_condition(node).and_then(|ready| {
        time_of(&ready["lastHeartbeatTime"]).or_else(|| time_of(&ready["lastTransitionTime"]))
    });
    let renewed = lease.and_then(renewed_at);
    match (status, renewed) {
        (Some(s), Some(l)) if l > s => Some(HeardFrom::Lease(l)),
        (Some(s), _) => Some(HeardFrom::Status(s)),
        (None, Some(l)) => Some(HeardFrom::Lease(l)),
        (None, None) => None,
    }
}

fn ready_condition(node: &Value) -> Option<&Value> {
    node.at("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c["type"] == "Ready")
}

fn taints(node: &Value) -> Vec<Value> {
    node.at("/spec/taints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn time_of(v: &Value) -> Option<jiff::Timestamp> {
    v.as_str().and_then(meta::parse_time)
}

/// The commands for one node (with its Lease, when it has one) and the pods bound to it.
pub fn reconcile(
    node: &Value,
    lease: Option<&Value>,
    pods: &[&Value],
    timing: Timing,
    now: jiff::Timestamp,
) -> Vec<Command> {
    let mut commands = Vec::new();
    let Some(ready) = ready_condition(node) else {
        return commands;
    };
    let status = ready["status"].as_str().unwrap_or("Unknown");
    let silent = heard_from(node, lease).is_some_and(|heard| {
        now.duration_since(heard.at()).as_secs_f64() > timing.grace.as_secs_f64()
    });
    if silent && status != "Unknown" {
        let mut updated = node.clone();
        if let Some(conditions) = updated
            .pointer_mut("/status/conditions")
            .and_then(Value::as_array_mut)
        {
            for c in conditions.iter_mut() {
                if c["type"] == "Ready"
                    || c["type"].as_str().is_some_and(|t| t.ends_with("Pressure"))
                {
                    c["status"] = json!("Unknown");
                    c["reason"] = json!("NodeStatusUnknown");
                    c["message"] = json!("Kubelet stopped posting node status.");
                    c["lastTransitionTime"] = json!(meta::format_time(now));
                }
            }
        }
        commands.push(Command::Update {
            kind: ResourceKind::Node,
            namespace: String::new(),
            name: meta::name(node).to_string(),
            object: updated,
            part: UpdatePart::Status,
        });
        return commands;
    }
    let wanted = match status {
        "Unknown" => Some(UNREACHABLE),
        "False" => Some(NOT_READY),
        _ => None,
    };
    let current = taints(node);
    let has = |key: &str| {
        current
            .iter()
            .any(|t| t["key"] == key && t["effect"] == "NoExecute")
    };
    let mut next: Vec<Value> = current
        .iter()
        .filter(|t| {
            let key = t["key"].as_str().unwrap_or("");
            !((key == UNREACHABLE || key == NOT_READY) && Some(key) != wanted)
        })
        .cloned()
        .collect();
    if let Some(key) = wanted
        && !has(key)
    {
        next.push(json!({"key": key, "effect": "NoExecute", "timeAdded": meta::format_time(now)}));
    }
    if next != current {
        let mut updated = node.clone();
        let spec = updated
            .as_object_mut()
            .map(|o| o.entry("spec").or_insert_with(|| json!({})));
        if let Some(spec) = spec {
            spec["taints"] = json!(next);
        }
        commands.push(Command::Update {
            kind: ResourceKind::Node,
            namespace: String::new(),
            name: meta::name(node).to_string(),
            object: updated,
            part: UpdatePart::Main,
        });
        return commands;
    }
    // Evict pods that do not tolerate a NoExecute taint, once their toleration has run out.
    for taint in current.iter().filter(|t| t["effect"] == "NoExecute") {
        let added = time_of(&taint["timeAdded"]).unwrap_or(now);
        for pod in pods {
            if meta::deletion_timestamp(pod).is_some() {
                continue;
            }
            let evict_at = match toleration_seconds(pod, taint) {
                Tolerated::Not => Some(added),
                Tolerated::For(seconds) => Some(meta::after_seconds(added, seconds)),
                Tolerated::Forever => None,
            };
            if evict_at.is_some_and(|at| at <= now) {
                commands.push(Command::Delete {
                    kind: ResourceKind::Pod,
                    namespace: meta::namespace(pod).to_string(),
                    name: meta::name(pod).to_string(),
                    options: DeleteOptions {
                        precondition_uid: Some(meta::uid(pod).to_string()),
                        ..Default::default()
                    },
                });
            }
        }
    }
    commands
}

enum Tolerated {
    Not,
    For(i64),
    Forever,
}

fn toleration_seconds(pod: &Value, taint: &Value) -> Tolerated {
    let mut result = Tolerated::Not;
    for t in pod
        .at("/spec/tolerations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = t["key"].as_str().unwrap_or("");
        let operator = t["operator"].as_str().unwrap_or("Equal");
        let effect = t["effect"].as_str().unwrap_or("");
        let key_ok = (key.is_empty() && operator == "Exists") || Some(key) == taint["key"].as_str();
        let effect_ok = effect.is_empty() || effect == "NoExecute";
        if !(key_ok && effect_ok) {
            continue;
        }
        match t["tolerationSeconds"].as_i64() {
            None => return Tolerated::Forever,
            Some(s) => {
                result = match result {
                    Tolerated::For(prev) if prev >= s => Tolerated::For(prev),
                    _ => Tolerated::For(s.max(0)),
                }
            }
        }
    }
    result
}

/// The causes of a command for `node`: for the Ready condition, the node and its Lease, the
/// newer first (a dead kubelet's last renewal; or a change to the node since, such as a pause),
/// each saying how long ago it was heard from; the Ready condition's change for the taints,
/// the taint for an eviction (and the pod, for its tolerations).
fn causes_for(
    command: &Command,
    node: &Value,
    lease: Option<&Value>,
    snapshot: &Snapshot,
    timing: Timing,
    now: jiff::Timestamp,
) -> Vec<Cause> {
    let name = meta::name(node);
    let marks = snapshot.marks_of(ResourceKind::Node, node);
    let heartbeat = meta::resource_version(node).parse().unwrap_or(0);
    let grace = timing.grace.as_secs();
    match command {
        Command::Update {
            part: UpdatePart::Status,
            ..
        } => {
            let ago = |t: jiff::Timestamp| now.duration_since(t).as_secs();
            let status_heartbeat = heard_from(node, None);
            let node_input = match (heard_from(node, lease), status_heartbeat) {
                (Some(HeardFrom::Lease(_)), Some(status)) => format!(
                    "node {name} (its status last reported {}s ago)",
                    ago(status.at())
                ),
                (_, status) => format!(
                    "node {name} sent no heartbeat for {}s (grace {grace}s)",
                    status.map_or(0, |s| ago(s.at()))
                ),
            };
            let mut inputs = vec![Input::new(heartbeat, node_input)];
            if let Some(lease) = lease
                && let Some(renewed) = renewed_at(lease)
            {
                inputs.insert(
                    0,
                    Input::new(
                        meta::resource_version(lease).parse().unwrap_or(0),
                        format!(
                            "node {name}'s lease was last renewed {}s ago (grace {grace}s)",
                            ago(renewed)
                        ),
                    ),
                );
            }
            causes::newest_first(inputs, "Ready=Unknown")
        }
        Command::Update { object, .. } => {
            let status = super::cache::ready_status(node).unwrap_or("Unknown");
            let taints: Vec<String> = taints(object)
                .iter()
                .filter_map(|t| t["key"].as_str().map(str::to_string))
                .collect();
            causes::only(
                marks.ready,
                format!("node {name} Ready={status}: taints [{}]", taints.join(", ")),
            )
        }
        Command::Delete {
            namespace,
            name: pod,
            ..
        } => {
            let keys: Vec<String> = taints(node)
                .iter()
                .filter(|t| t["effect"] == "NoExecute")
                .filter_map(|t| t["key"].as_str().map(str::to_string))
                .collect();
            let pod_spec = snapshot
                .marks(ResourceKind::Pod, namespace, pod)
                .map_or(0, |m| m.spec);
            causes::newest_first(
                vec![
                    Input::new(
                        marks.spec,
                        format!("node {name} tainted {}:NoExecute", keys.join(", ")),
                    ),
                    Input::new(pod_spec, format!("pod {pod} does not tolerate it")),
                ],
                &format!("pod {pod} evicted"),
            )
        }
        _ => causes::only(heartbeat, format!("node {name}")),
    }
}

fn reconcile_all(snapshot: &Snapshot, timing: Timing, now: jiff::Timestamp) -> Vec<Caused> {
    let mut commands = Vec::new();
    for node in snapshot.list(ResourceKind::Node) {
        let name = meta::name(node);
        // Only a node already tainted NoExecute evicts: the pods of the others stay unparsed.
        let no_execute = node
            .at("/spec/taints")
            .and_then(Value::as_array)
            .is_some_and(|taints| taints.iter().any(|t| t["effect"] == "NoExecute"));
        let held: Vec<Arc<Value>> = match no_execute {
            true => snapshot
                .pods_held_on(name)
                .into_iter()
                .filter(|p| !p.deleting())
                .map(|p| p.object())
                .collect(),
            false => Vec::new(),
        };
        let pods: Vec<&Value> = held.iter().map(|p| p.as_ref()).collect();
        let lease = snapshot
            .get(ResourceKind::Lease, LEASE_NAMESPACE, name)
            .map(|l| l.as_ref());
        for command in reconcile(node, lease, &pods, timing, now) {
            let because = causes_for(&command, node, lease, snapshot, timing, now);
            commands.push((command, because));
        }
    }
    commands
}

/// The node lifecycle controller with its heartbeat and grace periods.
pub struct NodeLifecycleController {
    timing: Timing,
}

impl NodeLifecycleController {
    pub fn new(timing: Timing) -> Self {
        NodeLifecycleController { timing }
    }
}

impl Controller for NodeLifecycleController {
    fn actor(&self) -> &'static str {
        actors::NODE_LIFECYCLE_CONTROLLER
    }

    /// Node conditions and taints are decided from the nodes, their Leases and the clock; pods
    /// on a node are looked at again on every tick (a quarter of the grace period, at least
    /// 100 ms). A Lease renewal only ever makes a node less silent, which changes nothing the
    /// controller writes (the kubelet writes Ready back), so Leases do not wake it: the tick
    /// notices one that stopped.
    fn wake(&self) -> Wake {
        Wake {
            tick: (self.timing.grace / 4).max(Duration::from_millis(100)),
            interest: |snapshot: &Snapshot| snapshot.changes_of(ResourceKind::Node),
        }
    }

    fn reconcile(&self, snapshot: &Snapshot, _stored: &Stored, now: jiff::Timestamp) -> Pass {
        reconcile_all(snapshot, self.timing, now).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01T00:10:00Z";

    fn node(status: &str, heartbeat: &str, taints: Value) -> Value {
        json!({"metadata": {"name": "n1"}, "spec": {"taints": taints},
               "status": {"conditions": [{"type": "Ready", "status": status, "lastHeartbeatTime": heartbeat}]}})
    }

    fn pod(toleration_seconds: Option<i64>) -> Value {
        let mut tol = json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"});
        if let Some(s) = toleration_seconds {
            tol["tolerationSeconds"] = json!(s);
        }
        json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"}, "spec": {"nodeName": "n1", "tolerations": [tol]}})
    }

    fn run(node: &Value, pods: &[&Value]) -> Vec<Command> {
        reconcile(node, None, pods, Timing::default(), NOW.parse().unwrap())
    }

    #[test]
    fn silent_node_becomes_unknown_then_tainted() {
        let silent = node("True", "2026-01-01T00:09:00Z", json!([]));
        let commands = run(&silent, &[]);
        assert!(
            matches!(&commands[..], [Command::Update { part: UpdatePart::Status, object, .. }]
            if object["status"]["conditions"][0]["status"] == "Unknown")
        );
        let unknown = node("Unknown", "2026-01-01T00:09:00Z", json!([]));
        let commands = run(&unknown, &[]);
        assert!(
            matches!(&commands[..], [Command::Update { part: UpdatePart::Main, object, .. }]
            if object["spec"]["taints"][0]["key"] == UNREACHABLE)
        );
        let healthy = node(
            "True",
            "2026-01-01T00:09:55Z",
            json!([{"key": UNREACHABLE, "effect": "NoExecute"}]),
        );
        let commands = run(&healthy, &[]);
        assert!(
            matches!(&commands[..], [Command::Update { object, .. }] if object["spec"]["taints"] == json!([]))
        );
    }

    #[test]
    fn pods_are_evicted_when_their_toleration_runs_out() {
        let tainted = node(
            "Unknown",
            "2026-01-01T00:00:00Z",
            json!([{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "2026-01-01T00:09:00Z"}]),
        );
        let (short, long, forever) = (pod(Some(30)), pod(Some(300)), pod(None));
        assert_eq!(run(&tainted, &[&short]).len(), 1);
        assert!(run(&tainted, &[&long]).is_empty());
        assert!(run(&tainted, &[&forever]).is_empty());
        let intolerant = json!({"metadata": {"name": "x", "namespace": "default", "uid": "u"}, "spec": {"nodeName": "n1"}});
        assert_eq!(run(&tainted, &[&intolerant]).len(), 1);
    }

    #[test]
    fn a_toleration_longer_than_any_timestamp_never_runs_out() {
        let tainted = node(
            "Unknown",
            "2026-01-01T00:00:00Z",
            json!([{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "2026-01-01T00:09:00Z"}]),
        );
        for seconds in [i64::MAX, 9_000_000_000_000_000] {
            assert!(run(&tainted, &[&pod(Some(seconds))]).is_empty());
        }
        assert_eq!(run(&tainted, &[&pod(Some(i64::MIN))]).len(), 1);
    }

    fn lease(renewed: &str) -> Value {
        json!({"metadata": {"name": "n1", "namespace": LEASE_NAMESPACE, "resourceVersion": "77"},
               "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": renewed}})
    }

    #[test]
    fn a_renewed_lease_keeps_a_node_with_an_old_status_heard_from() {
        // The status was written 9 minutes ago; the lease 5 s ago.
        let quiet = node("True", "2026-01-01T00:01:00Z", json!([]));
        let fresh = lease("2026-01-01T00:09:55.123456Z");
        let now = NOW.parse().unwrap();
        assert!(reconcile(&quiet, Some(&fresh), &[], Timing::default(), now).is_empty());
        assert_eq!(
            heard_from(&quiet, Some(&fresh)),
            Some(HeardFrom::Lease(
                "2026-01-01T00:09:55.123456Z".parse().unwrap()
            ))
        );
        // A status newer than the lease is what the node was heard from.
        let recent = node("True", "2026-01-01T00:09:58Z", json!([]));
        assert!(matches!(
            heard_from(&recent, Some(&fresh)),
            Some(HeardFrom::Status(_))
        ));
    }

    #[test]
    fn a_stale_lease_makes_the_node_unknown_and_is_named_as_the_cause() {
        let mut quiet = node("True", "2026-01-01T00:01:00Z", json!([]));
        quiet["metadata"]["resourceVersion"] = json!("12");
        let stale = lease("2026-01-01T00:09:15Z");
        let now: jiff::Timestamp = NOW.parse().unwrap();
        let commands = reconcile(&quiet, Some(&stale), &[], Timing::default(), now);
        let [command] = &commands[..] else {
            panic!("one write: {commands:?}")
        };
        assert!(
            matches!(command, Command::Update { part: UpdatePart::Status, object, .. }
            if object["status"]["conditions"][0]["status"] == "Unknown")
        );
        let causes_of = |node: &Value, lease: Option<&Value>| {
            causes_for(
                command,
                node,
                lease,
                &Snapshot::default(),
                Timing::default(),
                now,
            )
        };
        // The lease's last renewal is the newest input: a dead kubelet.
        assert_eq!(
            causes_of(&quiet, Some(&stale)),
            [
                Cause::new(
                    77,
                    "node n1's lease was last renewed 45s ago (grace 40s): Ready=Unknown"
                ),
                Cause::new(12, "node n1 (its status last reported 540s ago)"),
            ]
        );
        // The node changed after the lease's last renewal (a pause): that change comes first,
        // the lease beside it.
        let mut paused = quiet.clone();
        paused["metadata"]["resourceVersion"] = json!("90");
        assert_eq!(
            causes_of(&paused, Some(&stale)),
            [
                Cause::new(
                    90,
                    "node n1 (its status last reported 540s ago): Ready=Unknown"
                ),
                Cause::new(77, "node n1's lease was last renewed 45s ago (grace 40s)"),
            ]
        );
        // Without a lease the status's heartbeat is what went stale.
        assert_eq!(
            causes_of(&quiet, None),
            [Cause::new(
                12,
                "node n1 sent no heartbeat for 540s (grace 40s): Ready=Unknown"
            )]
        );
    }
}
