//! Node agents (kubelets): register a Node, keep it heartbeating, and run the pods bound to it,
//! reporting their status the way Kubernetes does. `simulated` runs no containers (for scale
//! work and for users without Docker); the status shapes here are shared by every runtime.

pub mod docker;
pub mod simulated;
pub mod tokens;

use crate::model::meta;
use crate::model::meta::Lookup as _;
use serde_json::{Value, json};

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
