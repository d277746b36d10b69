//! The scheduler: binds pending pods (no `spec.nodeName`, `schedulerName` default-scheduler) to
//! a node that is Ready, schedulable, matches `nodeSelector`, tolerates its taints and has room
//! for the pod's requests; spreads pods of one owner across nodes. A pod that fits nowhere gets
//! `PodScheduled=False` and a `FailedScheduling` event, and is retried when anything changes.
//! A pass parses only the pending pods; the placed ones count through their facts (node,
//! requests, controller).

use super::cache::{Held, Snapshot};
use super::causes::{self, Input};
use super::pods::{Requests, bytes, controller_of, cpu_milli, pod_requests};
use super::record::{Reporter, Severity};
use super::{Cause, Caused, Controller, Pass, Stored, Wake};
use crate::api::actors;
use crate::events::{Command, UpdatePart};
use crate::model::meta::Lookup as _;
use crate::model::{ResourceKind, meta};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Room on one node.
#[derive(Debug, Clone)]
struct NodeRoom<'a> {
    name: &'a str,
    cpu_milli: i64,
    memory: i64,
    pods: i64,
    used: Requests,
    used_pods: i64,
}

impl<'a> NodeRoom<'a> {
    fn of(node: &'a Value) -> Self {
        let alloc = node.at("/status/allocatable");
        let limit = |field: &str, parse: fn(Option<&Value>) -> i64| {
            alloc.map_or(i64::MAX, |a| match a.get(field) {
                Some(v) => parse(Some(v)),
                None => i64::MAX,
            })
        };
        NodeRoom {
            name: meta::name(node),
            cpu_milli: limit("cpu", cpu_milli),
            memory: limit("memory", bytes),
            pods: alloc
                .and_then(|a| a.get("pods"))
                .and_then(Value::as_str)
                .and_then(|p| p.parse().ok())
                .unwrap_or(110),
            used: Requests::default(),
            used_pods: 0,
        }
    }

    fn take(&mut self, asks: Requests) {
        self.used.cpu_milli += asks.cpu_milli;
        self.used.memory += asks.memory;
        self.used_pods += 1;
    }
}

/// What the scheduler decided for one pod.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Bind { node: String },
    Unschedulable { message: String },
}

fn is_ready(node: &Value) -> bool {
    node.at("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn tolerates(pod: &Value, taint: &Value) -> bool {
    pod.at("/spec/tolerations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|t| {
            let effect_ok = t
                .get("effect")
                .and_then(Value::as_str)
                .is_none_or(|e| e.is_empty() || Some(e) == taint["effect"].as_str());
            let key = t.get("key").and_then(Value::as_str).unwrap_or("");
            let operator = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
            let key_ok = key.is_empty() && operator == "Exists"
                || Some(key) == taint["key"].as_str()
                    && (operator == "Exists"
                        || t.get("value").and_then(Value::as_str).unwrap_or("")
                            == taint["value"].as_str().unwrap_or(""));
            effect_ok && key_ok
        })
}

/// The taint a cordoned node behaves as having.
static UNSCHEDULABLE_TAINT: std::sync::LazyLock<Value> = std::sync::LazyLock::new(
    || json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}),
);

/// What a pass reads of one node, once per pass rather than once per pod.
struct NodeFacts<'a> {
    ready: bool,
    unschedulable: bool,
    /// Its NoSchedule and NoExecute taints.
    taints: Vec<&'a Value>,
    labels: Option<&'a serde_json::Map<String, Value>>,
}

impl<'a> NodeFacts<'a> {
    fn of(node: &'a Value) -> Self {
        NodeFacts {
            ready: is_ready(node),
            unschedulable: node.at("/spec/unschedulable").and_then(Value::as_bool) == Some(true),
            taints: node
                .at("/spec/taints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|t| matches!(t["effect"].as_str(), Some("NoSchedule" | "NoExecute")))
                .collect(),
            labels: node.at("/metadata/labels").and_then(Value::as_object),
        }
    }
}

/// Why a node does not take a pod (the reasons kube-scheduler counts in its message).
fn misfit(pod: &Value, node: &NodeFacts, room: &NodeRoom, asks: Requests) -> Option<String> {
    if !node.ready {
        return Some("node(s) were not ready".into());
    }
    if node.unschedulable && !tolerates(pod, &UNSCHEDULABLE_TAINT) {
        return Some("node(s) were unschedulable".into());
    }
    for taint in &node.taints {
        if !tolerates(pod, taint) {
            return Some(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint["key"].as_str().unwrap_or(""),
                taint["value"].as_str().unwrap_or("")
            ));
        }
    }
    if let Some(selector) = pod.at("/spec/nodeSelector").and_then(Value::as_object)
        && selector.iter().any(|(k, v)| {
            node.labels
                .and_then(|labels| labels.get(k))
                .and_then(Value::as_str)
                != v.as_str()
        })
    {
        return Some("node(s) didn't match Pod's node affinity/selector".into());
    }
    if room.used_pods + 1 > room.pods {
        return Some("Too many pods".into());
    }
    if asks.cpu_milli > 0 && room.used.cpu_milli + asks.cpu_milli > room.cpu_milli {
        return Some("Insufficient cpu".into());
    }
    if asks.memory > 0 && room.used.memory + asks.memory > room.memory {
        return Some("Insufficient memory".into());
    }
    None
}

fn controller_uid(pod: &Value) -> Option<String> {
    controller_of(pod)
        .and_then(|r| r["uid"].as_str())
        .map(str::to_string)
}

/// Count one more pod of `owner` (if any) on the node at `node` of `nodes`.
fn count_owned(
    owners: &mut HashMap<String, Vec<i64>>,
    owner: Option<String>,
    node: usize,
    nodes: usize,
) {
    if let Some(owner) = owner {
        owners.entry(owner).or_insert_with(|| vec![0; nodes])[node] += 1;
    }
}

/// Decide a node for each pending pod, oldest first, accounting each placement before the
/// next so one pass never overfills a node. The pods already `placed` (every pod not pending)
/// count by their facts alone.
pub fn schedule(pending: &[&Value], nodes: &[&Value], placed: &[&Held]) -> Vec<Decision> {
    let mut sorted: Vec<&Value> = nodes.to_vec();
    sorted.sort_by(|a, b| meta::name(a).cmp(meta::name(b)));
    let facts: Vec<NodeFacts> = sorted.iter().map(|n| NodeFacts::of(n)).collect();
    let mut rooms: Vec<NodeRoom> = sorted.iter().map(|n| NodeRoom::of(n)).collect();
    let index: HashMap<&str, usize> = rooms
        .iter()
        .enumerate()
        .map(|(i, room)| (room.name, i))
        .collect();
    // Pods of each owner on each node (by the node's index), for spreading.
    let mut owners: HashMap<String, Vec<i64>> = HashMap::new();
    for pod in placed {
        let facts = pod.pod();
        if facts.is_terminal() {
            continue;
        }
        if let Some(&i) = pod.node().and_then(|node| index.get(node)) {
            rooms[i].take(facts.requests);
            let owner = facts.controller_uid().map(str::to_string);
            count_owned(&mut owners, owner, i, rooms.len());
        }
    }
    let mut decisions = Vec::with_capacity(pending.len());
    for pod in pending {
        let asks = pod_requests(pod);
        let owner = controller_uid(pod);
        let same_owner = owner.as_ref().and_then(|o| owners.get(o));
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut best: Option<(i64, i64, usize)> = None;
        for (i, (room, node)) in rooms.iter().zip(&facts).enumerate() {
            if let Some(reason) = misfit(pod, node, room, asks) {
                *reasons.entry(reason).or_default() += 1;
                continue;
            }
            // Fewest of this owner's pods, then fewest pods, then the first name.
            let score = (same_owner.map_or(0, |counts| counts[i]), room.used_pods, i);
            if best.is_none_or(|b| score < b) {
                best = Some(score);
            }
        }
        match best {
            Some((_, _, i)) => {
                rooms[i].take(asks);
                count_owned(&mut owners, owner, i, rooms.len());
                decisions.push(Decision::Bind {
                    node: rooms[i].name.to_string(),
                });
            }
            None => {
                let detail: Vec<String> = reasons
                    .iter()
                    .map(|(reason, count)| format!("{count} {reason}"))
                    .collect();
                let message = if nodes.is_empty() {
                    "no nodes available to schedule pods".to_string()
                } else {
                    format!(
                        "0/{} nodes are available: {}.",
                        nodes.len(),
                        detail.join(", ")
                    )
                };
                decisions.push(Decision::Unschedulable { message });
            }
        }
    }
    decisions
}

/// The causes of binding `pod` to `node`: the pod's creation; for a pod that waited as
/// unschedulable, also the change of the node that made it fit (its creation, readiness or
/// taints), which is then the newest.
fn bind_causes(snapshot: &Snapshot, pod: &Value, node: &str) -> Vec<Cause> {
    let name = meta::name(pod);
    let marks = snapshot.marks_of(ResourceKind::Pod, pod);
    let mut inputs = vec![Input::new(marks.created, format!("pod {name} created"))];
    let waited = pod
        .at("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "PodScheduled" && c["status"] == "False");
    if waited && let Some(node_marks) = snapshot.marks(ResourceKind::Node, "", node) {
        let ready = snapshot
            .get(ResourceKind::Node, "", node)
            .and_then(|n| super::cache::ready_status(n))
            .unwrap_or("Unknown");
        inputs.push(Input::new(
            node_marks.created,
            format!("node {node} registered"),
        ));
        inputs.push(Input::new(
            node_marks.ready,
            format!("node {node} Ready={ready}"),
        ));
        inputs.push(Input::new(
            node_marks.spec,
            format!("spec of node {node} (taints)"),
        ));
    }
    causes::newest_first(inputs, &format!("pod {name} fits node {node}"))
}

/// The commands for one scheduling pass over `snapshot`.
pub fn reconcile(snapshot: &Snapshot, reporter: &Reporter, now: jiff::Timestamp) -> Vec<Caused> {
    let mut pending: Vec<&Held> = snapshot.pods().filter(|p| p.pod().pending).collect();
    if pending.is_empty() {
        return vec![];
    }
    pending.sort_by_key(|p| p.version());
    // Only the pending pods are parsed: they are the ones a pass writes.
    let pending: Vec<Arc<Value>> = pending.into_iter().map(Held::object).collect();
    let pending: Vec<&Value> = pending.iter().map(|p| p.as_ref()).collect();
    let nodes: Vec<&Value> = snapshot
        .list(ResourceKind::Node)
        .map(|n| n.as_ref())
        .collect();
    let placed: Vec<&Held> = snapshot.pods().filter(|p| !p.pod().pending).collect();
    let mut commands = Vec::new();
    for (pod, decision) in pending.iter().zip(schedule(&pending, &nodes, &placed)) {
        let namespace = meta::namespace(pod).to_string();
        let name = meta::name(pod).to_string();
        match decision {
            Decision::Bind { node } => {
                let message = format!("Successfully assigned {namespace}/{name} to {node}");
                let cause = bind_causes(snapshot, pod, &node);
                commands.push((
                    Command::Bind {
                        namespace,
                        name,
                        node,
                        uid: Some(meta::uid(pod).to_string()),
                    },
                    cause.clone(),
                ));
                commands.push((
                    reporter.event(
                        ResourceKind::Pod,
                        pod,
                        Severity::Normal,
                        "Scheduled",
                        &message,
                        now,
                    ),
                    cause,
                ));
            }
            Decision::Unschedulable { message } => {
                let already = pod
                    .at("/status/conditions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|c| {
                        c["type"] == "PodScheduled"
                            && c["status"] == "False"
                            && c["message"] == message.as_str()
                    });
                if already {
                    continue;
                }
                let marks = snapshot.marks_of(ResourceKind::Pod, pod);
                let cause = causes::only(
                    marks.created,
                    format!("pod {name} waits for a node: {message}"),
                );
                let mut updated = (*pod).clone();
                meta::set_status_condition(
                    &mut updated,
                    json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null,
                           "lastTransitionTime": meta::format_time(now),
                           "reason": "Unschedulable", "message": message}),
                );
                commands.push((
                    Command::Update {
                        kind: ResourceKind::Pod,
                        namespace: namespace.clone(),
                        name: name.clone(),
                        object: updated,
                        part: UpdatePart::Status,
                    },
                    cause.clone(),
                ));
                commands.push((
                    reporter.event(
                        ResourceKind::Pod,
                        pod,
                        Severity::Warning,
                        "FailedScheduling",
                        &message,
                        now,
                    ),
                    cause,
                ));
            }
        }
    }
    commands
}

/// The scheduler: every change wakes it, and a tick every 5 s. Its reporter's rate limits last
/// as long as it does.
pub struct Scheduler {
    reporter: Reporter,
}

impl Scheduler {
    pub fn new() -> Self {
        Scheduler {
            reporter: Reporter::new(actors::SCHEDULER, ""),
        }
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Controller for Scheduler {
    fn actor(&self) -> &'static str {
        actors::SCHEDULER
    }

    fn wake(&self) -> Wake {
        Wake {
            tick: Duration::from_secs(5),
            interest: super::any_change_but_leases,
        }
    }

    fn reconcile(&self, snapshot: &Snapshot, _stored: &Stored, now: jiff::Timestamp) -> Pass {
        reconcile(snapshot, &self.reporter, now).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Value {
        json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
               "status": {"conditions": [{"type": "Ready", "status": "True"}],
                          "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}})
    }

    fn pod(name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default",
                            "ownerReferences": [{"uid": "rs-1", "controller": true}]},
               "spec": {"containers": [{"name": "a", "image": "x",
                                         "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}})
    }

    fn names(decisions: &[Decision]) -> Vec<String> {
        decisions
            .iter()
            .map(|d| match d {
                Decision::Bind { node } => node.clone(),
                Decision::Unschedulable { message } => message.clone(),
            })
            .collect()
    }

    #[test]
    fn spreads_replicas_across_nodes() {
        let (a, b) = (node("a"), node("b"));
        let pods: Vec<Value> = (0..4).map(|i| pod(&format!("p{i}"))).collect();
        let pending: Vec<&Value> = pods.iter().collect();
        assert_eq!(
            names(&schedule(&pending, &[&a, &b], &[])),
            ["a", "b", "a", "b"]
        );
    }

    #[test]
    fn unschedulable_cases() {
        let mut cordoned = node("c");
        cordoned["spec"] = json!({"unschedulable": true});
        let mut tainted = node("t");
        tainted["spec"] =
            json!({"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]});
        let mut not_ready = node("n");
        not_ready["status"]["conditions"][0]["status"] = json!("Unknown");
        let ready = node("r");
        let mut picky = pod("picky");
        picky["spec"]["nodeSelector"] = json!({"disk": "ssd"});
        let decisions = schedule(&[&picky], &[&cordoned, &tainted, &not_ready, &ready], &[]);
        assert_eq!(
            names(&decisions),
            [
                "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were not ready, 1 node(s) were unschedulable."
            ]
        );
        let mut big = pod("big");
        big["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("3");
        assert_eq!(
            names(&schedule(&[&big], &[&ready], &[])),
            ["0/1 nodes are available: 1 Insufficient cpu."]
        );
        assert_eq!(
            names(&schedule(&[&big], &[], &[])),
            ["no nodes available to schedule pods"]
        );
    }

    #[test]
    fn tolerations_and_selectors_admit() {
        let mut tainted = node("t");
        tainted["metadata"]["labels"]["disk"] = json!("ssd");
        tainted["spec"] =
            json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]});
        let mut p = pod("p");
        p["spec"]["nodeSelector"] = json!({"disk": "ssd"});
        p["spec"]["tolerations"] = json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]);
        assert_eq!(names(&schedule(&[&p], &[&tainted], &[])), ["t"]);
    }

    #[test]
    fn resources_fill_up_and_count_existing_pods() {
        let n = node("a");
        let mut running = pod("old");
        running["spec"]["nodeName"] = json!("a");
        running["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("1500m");
        let pods: Vec<Value> = (0..2).map(|i| pod(&format!("p{i}"))).collect();
        let pending: Vec<&Value> = pods.iter().collect();
        let running = Held::new(ResourceKind::Pod, Arc::new(running), None);
        let decisions = schedule(&pending, &[&n], &[&running]);
        assert_eq!(names(&decisions)[0], "a");
        assert_eq!(
            names(&decisions)[1],
            "0/1 nodes are available: 1 Insufficient cpu."
        );
    }
}
