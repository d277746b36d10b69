//! What the workers read of every pod, held beside its JSON text (`PodFacts`): the informer
//! keeps pods only as text and these facts, so a pass over ten thousand pods reads typed fields
//! and parses only the few pods it acts on (`Held::object`). The readers here answer the same
//! questions for a pod's facts as for a parsed pod, so a decision reads the same either way.

use crate::api::actors;
use crate::model::meta::{self, Lookup as _};
use crate::model::selector::LabelSelector;
use crate::model::validation;
use serde_json::Value;

/// CPU (millicores) and memory (bytes) a pod asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requests {
    pub cpu_milli: i64,
    pub memory: i64,
}

fn quantity(value: Option<&Value>, scale: i128) -> i64 {
    value
        .and_then(Value::as_str)
        .and_then(|q| validation::parse_quantity(q).ok())
        .map(|q| (q.nanos / scale) as i64)
        .unwrap_or(0)
}

/// A CPU quantity in millicores (0 when absent or malformed).
pub fn cpu_milli(v: Option<&Value>) -> i64 {
    quantity(v, 1_000_000)
}

/// A memory quantity in bytes (0 when absent or malformed).
pub fn bytes(v: Option<&Value>) -> i64 {
    quantity(v, 1_000_000_000)
}

/// The sum of a pod's containers' requests.
pub fn pod_requests(pod: &Value) -> Requests {
    let mut total = Requests::default();
    for c in pod
        .at("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        total.cpu_milli += cpu_milli(c.at("/resources/requests/cpu"));
        total.memory += bytes(c.at("/resources/requests/memory"));
    }
    total
}

/// The controller entry of a pod's ownerReferences.
pub fn controller_of(pod: &Value) -> Option<&Value> {
    pod.at("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r["controller"] == true)
}

/// Whether a pod has finished (Succeeded or Failed).
pub fn is_terminal(pod: &Value) -> bool {
    is_terminal_phase(pod.at("/status/phase").and_then(Value::as_str))
}

fn is_terminal_phase(phase: Option<&str>) -> bool {
    matches!(phase, Some("Succeeded") | Some("Failed"))
}

/// Whether a pod counts toward its workload: not being deleted, not finished.
pub fn is_active(pod: &Value) -> bool {
    meta::deletion_timestamp(pod).is_none() && !is_terminal(pod)
}

/// Since when a pod has been Ready (`None` when it is not).
pub fn ready_since(pod: &Value) -> Option<jiff::Timestamp> {
    pod.at("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")
        .map(|c| {
            c["lastTransitionTime"]
                .as_str()
                .and_then(meta::parse_time)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        })
}

/// The sum of a pod's containers' restarts.
pub fn restarts(pod: &Value) -> i64 {
    pod.at("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["restartCount"].as_i64())
        .sum()
}

/// Whether the scheduler owns this pod now: unassigned, ours (its `schedulerName`, defaulted
/// to ours, is our actor name, as in Kubernetes), not being deleted.
pub fn is_pending(pod: &Value) -> bool {
    let node = pod
        .at("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let scheduler = pod
        .at("/spec/schedulerName")
        .and_then(Value::as_str)
        .unwrap_or(actors::SCHEDULER);
    node.is_empty() && scheduler == actors::SCHEDULER && meta::deletion_timestamp(pod).is_none()
}

/// An object's labels (string values only, as `meta::labels`), sorted by key in one
/// allocation: a pod holds a few, and a map of its own would cost more than they do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Box<[(Box<str>, Box<str>)]>);

impl Labels {
    pub fn of(object: &Value) -> Labels {
        Labels(
            meta::labels(object)
                .into_iter()
                .map(|(k, v)| (k.into_boxed_str(), v.into_boxed_str()))
                .collect(),
        )
    }

    /// The value of label `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| self.0[i].1.as_ref())
    }

    /// Whether `selector` selects an object with these labels.
    pub fn selected_by(&self, selector: &LabelSelector) -> bool {
        selector.matches_with(|key| self.get(key))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }
}

/// The controller owner of a pod, as its ownerReference names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControllerRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
}

/// A container port, as a Service's named `targetPort` resolves against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: String,
    pub port: i64,
    pub protocol: String,
}

/// What the workers read of a pod without parsing it: everything a ReplicaSet, Deployment,
/// endpoints, scheduling or garbage-collection pass needs to choose the pods it acts on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodFacts {
    /// `metadata.labels` (string values only, as `meta::labels`).
    pub labels: Labels,
    pub controller: Option<ControllerRef>,
    /// `metadata.creationTimestamp` as written.
    pub created: String,
    /// `status.phase`.
    pub phase: Option<String>,
    /// Since when the pod has been Ready (`ready_since`).
    pub ready_since: Option<jiff::Timestamp>,
    /// The sum of the containers' restarts.
    pub restarts: i64,
    /// `status.podIP`, when set and not empty.
    pub ip: Option<String>,
    /// `spec.hostname`, `spec.subdomain`.
    pub hostname: Option<String>,
    pub subdomain: Option<String>,
    /// The containers' named ports.
    pub named_ports: Vec<ContainerPort>,
    pub requests: Requests,
    /// `is_pending`: unassigned, ours to schedule, not being deleted.
    pub pending: bool,
    /// `status.startTime` is set: a kubelet has started the pod.
    pub started: bool,
}

impl PodFacts {
    pub fn of(pod: &Value) -> PodFacts {
        let string = |path: &str| {
            pod.at(path)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        PodFacts {
            labels: Labels::of(pod),
            controller: controller_of(pod).map(|r| ControllerRef {
                api_version: r["apiVersion"].as_str().unwrap_or("").to_string(),
                kind: r["kind"].as_str().unwrap_or("").to_string(),
                name: r["name"].as_str().unwrap_or("").to_string(),
                uid: r["uid"].as_str().unwrap_or("").to_string(),
            }),
            created: string("/metadata/creationTimestamp").unwrap_or_default(),
            phase: string("/status/phase"),
            ready_since: ready_since(pod),
            restarts: restarts(pod),
            ip: string("/status/podIP"),
            hostname: string("/spec/hostname"),
            subdomain: string("/spec/subdomain"),
            named_ports: pod
                .at("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .filter_map(|p| {
                    Some(ContainerPort {
                        name: p["name"].as_str().filter(|n| !n.is_empty())?.to_string(),
                        port: p["containerPort"].as_i64()?,
                        protocol: p["protocol"].as_str().unwrap_or("TCP").to_string(),
                    })
                })
                .collect(),
            requests: pod_requests(pod),
            pending: is_pending(pod),
            started: pod.at("/status/startTime").is_some(),
        }
    }

    /// Whether the pod has finished (Succeeded or Failed).
    pub fn is_terminal(&self) -> bool {
        is_terminal_phase(self.phase.as_deref())
    }

    /// The controller owner's uid.
    pub fn controller_uid(&self) -> Option<&str> {
        self.controller.as_ref().map(|c| c.uid.as_str())
    }

    /// The container port named `name` with `protocol`.
    pub fn named_port(&self, name: &str, protocol: &str) -> Option<i64> {
        self.named_ports
            .iter()
            .find(|p| p.name == name && p.protocol == protocol)
            .map(|p| p.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn facts_answer_what_the_parsed_pod_answers() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u",
                         "creationTimestamp": "2026-01-01T00:00:00Z",
                         "labels": {"app": "a", "odd": 3},
                         "ownerReferences": [
                             {"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "o1"},
                             {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                              "uid": "o2", "controller": true}]},
            "spec": {"hostname": "h", "nodeName": "n1", "containers": [
                {"name": "c", "ports": [{"name": "http", "containerPort": 8080},
                                        {"containerPort": 9090}],
                 "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"name": "d", "ports": [{"name": "dns", "containerPort": 53,
                                         "protocol": "UDP"}]}]},
            "status": {"phase": "Running", "podIP": "10.0.0.7",
                       "conditions": [{"type": "Ready", "status": "True",
                                       "lastTransitionTime": "2026-01-01T00:00:05Z"}],
                       "containerStatuses": [{"restartCount": 2}, {"restartCount": 1}]}
        });
        let facts = PodFacts::of(&pod);
        let labels: Vec<(&str, &str)> = facts.labels.iter().collect();
        assert_eq!(labels, [("app", "a")]);
        assert_eq!(facts.labels.get("app"), Some("a"));
        assert_eq!(facts.labels.get("odd"), None);
        let selector = |s: &str| LabelSelector::parse(s).expect("selector");
        assert!(facts.labels.selected_by(&selector("app=a,!odd")));
        assert!(!facts.labels.selected_by(&selector("app in (b)")));
        assert_eq!(facts.controller_uid(), Some("o2"));
        assert_eq!(facts.ready_since, ready_since(&pod));
        assert_eq!(facts.restarts, 3);
        assert_eq!(facts.ip.as_deref(), Some("10.0.0.7"));
        assert_eq!(facts.named_port("http", "TCP"), Some(8080));
        assert_eq!(facts.named_port("dns", "TCP"), None);
        assert_eq!(facts.named_port("dns", "UDP"), Some(53));
        assert_eq!(
            facts.requests,
            Requests {
                cpu_milli: 250,
                memory: 64 << 20
            }
        );
        assert!(!facts.pending && !facts.is_terminal());
        assert!(PodFacts::of(&json!({"spec": {}})).pending);
    }
}
