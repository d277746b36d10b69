//! Node agents (kubelets): register a Node, keep it heartbeating, and run the pods bound to it,
//! reporting their status the way Kubernetes does. `simulated` runs no containers (for scale
//! work and for users without Docker); the status shapes here are shared by every runtime.
//!
//! A kubelet heartbeats as Kubernetes' does: it renews its node's `coordination.k8s.io/v1`
//! Lease in `kube-node-lease` every heartbeat period (`NodeReporting`), and writes the Node's
//! status only when what it reports changed or the status report period (5 minutes) passed.

pub mod docker;
pub mod simulated;
pub mod tokens;

use crate::events::{Command, UpdatePart};
use crate::model::meta::Lookup as _;
use crate::model::{ResourceKind, meta};
use crate::workers::Caused;
use crate::workers::cache::Snapshot;
use crate::workers::nodes::{self, LEASE_NAMESPACE};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// What a kubelet says about its node when it registers.
#[derive(Debug, Clone)]
pub struct NodeDescription {
    pub name: String,
    pub labels: Value,
    pub annotations: Value,
    pub capacity: Value,
    pub internal_ip: String,
    pub node_info: Value,
}

/// Node conditions as a healthy kubelet reports them at `now`.
pub fn healthy_conditions(now: &str, since: &str) -> Value {
    conditions(now, since, None)
}

/// Node conditions at `now`; `runtime_down` makes the node not ready, with Kubernetes' reason.
pub fn conditions(now: &str, since: &str, runtime_down: Option<&str>) -> Value {
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": since,
               "reason": reason, "message": message})
    };
    let ready = match runtime_down {
        None => condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
        Some(error) => condition(
            "Ready",
            "False",
            "KubeletNotReady",
            &format!("container runtime is down: {error}"),
        ),
    };
    json!([
        condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available"
        ),
        condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure"
        ),
        condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available"
        ),
        ready,
    ])
}

/// The Node object a kubelet registers.
pub fn node_object(description: &NodeDescription, now: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": description.name, "labels": description.labels, "annotations": description.annotations},
        "spec": {},
        "status": {
            "capacity": description.capacity,
            "allocatable": description.capacity,
            "conditions": healthy_conditions(now, now),
            "addresses": [{"type": "InternalIP", "address": description.internal_ip},
                          {"type": "Hostname", "address": description.name}],
            "nodeInfo": description.node_info,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    })
}

/// `node` with refreshed heartbeats (and Ready again if it was not).
pub fn heartbeat(node: &Value, now: &str) -> Value {
    heartbeat_with(node, now, None)
}

/// `node` with refreshed heartbeats, ready unless the container runtime is down.
pub fn heartbeat_with(node: &Value, now: &str, runtime_down: Option<&str>) -> Value {
    let mut next = node.clone();
    let want = if runtime_down.is_none() {
        "True"
    } else {
        "False"
    };
    let since = node
        .at("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c["type"] == "Ready" && c["status"] == want)
        })
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now)
        .to_string();
    if let Some(status) = next.get_mut("status").and_then(Value::as_object_mut) {
        status.insert("conditions".into(), conditions(now, &since, runtime_down));
    }
    next
}

/// Whether `node`'s stored conditions say something other than what its kubelet reports now
/// (heartbeat times aside): a real change, written at once rather than at the next report.
pub fn status_differs(node: &Value, runtime_down: Option<&str>) -> bool {
    let gist = |conditions: Option<&Value>| -> Vec<(String, String, String, String)> {
        let mut list: Vec<_> = conditions
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let text = |field: &str| c[field].as_str().unwrap_or("").to_string();
                (
                    text("type"),
                    text("status"),
                    text("reason"),
                    text("message"),
                )
            })
            .collect();
        list.sort();
        list
    };
    let reported = heartbeat_with(node, "", runtime_down);
    gist(node.at("/status/conditions")) != gist(reported.at("/status/conditions"))
}

/// The Lease `node` heartbeats through: named as the node in `kube-node-lease`, held by it for
/// `duration_seconds`, renewed at `now` (a MicroTime), owned by the Node so the garbage
/// collector removes it with the node.
pub fn node_lease(node: &Value, duration_seconds: i32, now: &str) -> Value {
    let name = meta::name(node);
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {
            "name": name, "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name,
                                 "uid": meta::uid(node)}],
        },
        "spec": {"holderIdentity": name, "leaseDurationSeconds": duration_seconds,
                 "renewTime": now},
    })
}

/// `lease` renewed at `now`, held by `node` for `duration_seconds`.
pub fn renewed(lease: &Value, node: &str, duration_seconds: i32, now: &str) -> Value {
    let mut next = lease.clone();
    if let Some(root) = next.as_object_mut() {
        let spec = root.entry("spec").or_insert_with(|| json!({}));
        if let Some(spec) = spec.as_object_mut() {
            spec.insert("holderIdentity".into(), json!(node));
            spec.insert("leaseDurationSeconds".into(), json!(duration_seconds));
            spec.insert("renewTime".into(), json!(now));
        }
    }
    next
}

/// How a kubelet reports its node: how often it renews the node's Lease, how often it writes
/// an unchanged status, and the Lease's duration.
#[derive(Debug, Clone, Copy)]
pub struct NodeReporting {
    pub renew_every: Duration,
    pub status_every: Duration,
    pub lease_seconds: i32,
}

impl From<nodes::Timing> for NodeReporting {
    /// The lease lasts the controller's grace period, as kubelet's 40 s matches it.
    fn from(timing: nodes::Timing) -> Self {
        NodeReporting {
            renew_every: timing.heartbeat,
            status_every: timing.status_report,
            lease_seconds: i32::try_from(timing.grace.as_secs().max(1)).unwrap_or(i32::MAX),
        }
    }
}

/// What a kubelet remembers of its reports: when it last renewed the Lease and last wrote the
/// node's status (`None`: not since it started).
#[derive(Debug, Default, Clone, Copy)]
pub struct Reports {
    pub last_renewal: Option<Instant>,
    pub last_status: Option<Instant>,
}

impl Reports {
    /// The Lease write due for `node` at `now` (`now_micro` as a MicroTime): a create when the
    /// snapshot holds none, a renewal once `renew_every` has passed since the last. A renewal
    /// is driven by the clock, not by an event: it records no cause.
    pub fn lease(
        &mut self,
        snapshot: &Snapshot,
        node: &Value,
        reporting: NodeReporting,
        now: Instant,
        now_micro: &str,
    ) -> Option<Caused> {
        let name = meta::name(node);
        let lease = snapshot.get(ResourceKind::Lease, LEASE_NAMESPACE, name);
        let due = self
            .last_renewal
            .is_none_or(|t| now.duration_since(t) >= reporting.renew_every);
        let command = match lease {
            None if !meta::uid(node).is_empty() => Command::Create {
                kind: ResourceKind::Lease,
                namespace: LEASE_NAMESPACE.to_string(),
                object: node_lease(node, reporting.lease_seconds, now_micro),
            },
            Some(lease) if due => Command::Update {
                kind: ResourceKind::Lease,
                namespace: LEASE_NAMESPACE.to_string(),
                name: name.to_string(),
                object: renewed(lease, name, reporting.lease_seconds, now_micro),
                part: UpdatePart::Main,
            },
            _ => return None,
        };
        self.last_renewal = Some(now);
        Some((command, Vec::new()))
    }

    /// Why the node's status is to be written at `now`, if it is: a real change, or
    /// `status_every` passed since the last write.
    pub fn status_due(
        &mut self,
        node: &Value,
        runtime_down: Option<&str>,
        reporting: NodeReporting,
        now: Instant,
    ) -> Option<StatusWrite> {
        let why = if status_differs(node, runtime_down) {
            StatusWrite::Changed
        } else if self
            .last_status
            .is_none_or(|t| now.duration_since(t) >= reporting.status_every)
        {
            StatusWrite::Due
        } else {
            return None;
        };
        self.last_status = Some(now);
        Some(why)
    }
}

/// Why a kubelet writes its node's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusWrite {
    /// What it reports differs from what the node holds (heartbeat times aside).
    Changed,
    /// Nothing changed, and the status report period has passed.
    Due,
}

impl StatusWrite {
    /// The reason of the write's cause (the node's version it replaces).
    pub fn reason(self, node: &str) -> String {
        match self {
            StatusWrite::Changed => format!("node {node}'s last status differs from its kubelet's"),
            StatusWrite::Due => format!("node {node}'s last status: status report due"),
        }
    }
}

/// What a pod status write changes, in words, for its cause's reason: the phase, and per
/// container a start, an exit (with its code), a restart, readiness, a waiting reason.
pub fn status_change(before: Option<&Value>, after: &Value) -> String {
    let null = Value::Null;
    let before = before.unwrap_or(&null);
    let mut parts = Vec::new();
    let phase = |s: &Value| s["phase"].as_str().unwrap_or("").to_string();
    if phase(before) != phase(after) && !phase(after).is_empty() {
        parts.push(format!("phase {}", phase(after)));
    }
    let containers = |s: &Value| -> Vec<Value> {
        ["initContainerStatuses", "containerStatuses"]
            .iter()
            .flat_map(|field| s[*field].as_array().cloned().unwrap_or_default())
            .collect()
    };
    let old = containers(before);
    for c in containers(after) {
        let name = c["name"].as_str().unwrap_or("");
        let was = old.iter().find(|o| o["name"] == c["name"]).unwrap_or(&null);
        let restarts = c["restartCount"].as_i64().unwrap_or(0);
        if restarts > was["restartCount"].as_i64().unwrap_or(0) {
            let last = &c["lastState"]["terminated"];
            let exit = match last["exitCode"].as_i64() {
                Some(code) => format!(
                    " after it exited with code {code} ({})",
                    last["reason"].as_str().unwrap_or("Error")
                ),
                None => String::new(),
            };
            parts.push(format!(
                "container {name} restarted{exit} (restart {restarts})"
            ));
        } else if c["state"]["terminated"].is_object() && !was["state"]["terminated"].is_object() {
            let t = &c["state"]["terminated"];
            parts.push(format!(
                "container {name} exited with code {} ({})",
                t["exitCode"].as_i64().unwrap_or(0),
                t["reason"].as_str().unwrap_or("")
            ));
        } else if c["state"]["running"].is_object() && !was["state"]["running"].is_object() {
            parts.push(format!("container {name} running"));
        }
        let waiting = c["state"]["waiting"]["reason"].as_str();
        if waiting.is_some() && waiting != was["state"]["waiting"]["reason"].as_str() {
            parts.push(format!(
                "container {name} waiting: {}",
                waiting.unwrap_or("")
            ));
        }
        if c["ready"] != was["ready"] && c["ready"].is_boolean() {
            let ready = if c["ready"] == true {
                "ready"
            } else {
                "not ready"
            };
            parts.push(format!("container {name} {ready}"));
        }
    }
    if parts.is_empty() {
        "status refreshed".to_string()
    } else {
        parts.join("; ")
    }
}

/// The status of a pod whose containers all run and are ready.
pub fn running_status(pod: &Value, host_ip: &str, pod_ip: &str, runtime: &str, now: &str) -> Value {
    let scheduled_at = pod
        .at("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled"))
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now)
        .to_string();
    let condition = |kind: &str, at: &str| json!({"type": kind, "status": "True", "lastProbeTime": null, "lastTransitionTime": at});
    let uid = meta::uid(pod);
    let containers: Vec<Value> = pod
        .at("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let name = c["name"].as_str().unwrap_or("");
            let image = c["image"].as_str().unwrap_or("");
            json!({
                "name": name, "image": image, "imageID": format!("{runtime}://{image}"),
                "containerID": format!("{runtime}://{uid}-{name}"),
                "ready": true, "started": true, "restartCount": 0,
                "state": {"running": {"startedAt": now}}, "lastState": {},
            })
        })
        .collect();
    let mut status = pod.get("status").cloned().unwrap_or(json!({}));
    status["phase"] = json!("Running");
    status["hostIP"] = json!(host_ip);
    status["hostIPs"] = json!([{"ip": host_ip}]);
    status["podIP"] = json!(pod_ip);
    status["podIPs"] = json!([{"ip": pod_ip}]);
    status["startTime"] = json!(now);
    status["conditions"] = json!([
        condition("PodReadyToStartContainers", now),
        condition("Initialized", now),
        condition("Ready", now),
        condition("ContainersReady", now),
        condition("PodScheduled", &scheduled_at),
    ]);
    status["containerStatuses"] = json!(containers);
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventType;
    use std::sync::Arc;

    const NOW: &str = "2026-01-01T00:00:00.000000Z";

    fn registered() -> Value {
        let mut node = node_object(
            &NodeDescription {
                name: "n1".into(),
                labels: json!({}),
                annotations: json!({}),
                capacity: json!({"pods": "110"}),
                internal_ip: "10.0.0.2".into(),
                node_info: json!({}),
            },
            "2026-01-01T00:00:00Z",
        );
        node["metadata"]["uid"] = json!("node-uid");
        node["metadata"]["resourceVersion"] = json!("3");
        node
    }

    fn reporting() -> NodeReporting {
        NodeReporting::from(nodes::Timing::default())
    }

    #[test]
    fn the_lease_is_made_owned_by_the_node_then_renewed_each_period() {
        let node = registered();
        let mut snapshot = Snapshot::default();
        let mut reports = Reports::default();
        let start = Instant::now();
        let Some((Command::Create { object, .. }, causes)) =
            reports.lease(&snapshot, &node, reporting(), start, NOW)
        else {
            panic!("a create")
        };
        assert!(causes.is_empty());
        assert_eq!(
            object,
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "n1", "namespace": "kube-node-lease",
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1",
                                         "uid": "node-uid"}]},
                "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": NOW}})
        );
        let mut lease = object;
        lease["metadata"]["resourceVersion"] = json!("4");
        snapshot.apply(ResourceKind::Lease, EventType::Created, Arc::new(lease), 4);
        let early = start + Duration::from_secs(9);
        assert!(
            reports
                .lease(&snapshot, &node, reporting(), early, NOW)
                .is_none()
        );
        let later = "2026-01-01T00:00:10.000000Z";
        let due = start + Duration::from_secs(10);
        let Some((Command::Update { object, part, .. }, _)) =
            reports.lease(&snapshot, &node, reporting(), due, later)
        else {
            panic!("a renewal")
        };
        assert_eq!(part, UpdatePart::Main);
        assert_eq!(object["spec"]["renewTime"], later);
        assert_eq!(object["metadata"]["resourceVersion"], "4");
    }

    #[test]
    fn the_status_is_written_on_a_change_or_every_report_period() {
        let node = registered();
        let mut reports = Reports::default();
        let start = Instant::now();
        assert_eq!(
            reports.status_due(&node, None, reporting(), start),
            Some(StatusWrite::Due),
            "the first report"
        );
        let minute = start + Duration::from_secs(60);
        assert_eq!(reports.status_due(&node, None, reporting(), minute), None);
        let mut unknown = node.clone();
        unknown["status"]["conditions"][3]["status"] = json!("Unknown");
        assert_eq!(
            reports.status_due(&unknown, None, reporting(), minute),
            Some(StatusWrite::Changed)
        );
        assert_eq!(
            reports.status_due(&node, Some("no Docker"), reporting(), minute),
            Some(StatusWrite::Changed),
            "the runtime went down"
        );
        let five = minute + Duration::from_secs(300);
        assert_eq!(
            reports.status_due(&node, None, reporting(), five),
            Some(StatusWrite::Due)
        );
    }
}
