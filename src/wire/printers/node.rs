//! Node rows: `printNode` (STATUS with SchedulingDisabled, ROLES, VERSION, addresses, node
//! info).

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::age;
use crate::model::meta::Lookup as _;

pub(super) fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    // The last Ready condition wins, as with Kubernetes' condition map.
    let ready = node
        .array_at("/status/conditions")
        .iter()
        .rfind(|c| c.str_at("/type") == "Ready");
    let mut status = match ready {
        Some(c) if c.str_at("/status") == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if node.bool_at("/spec/unschedulable") {
        status.push_str(",SchedulingDisabled");
    }

    let mut roles = BTreeSet::new();
    if let Some(labels) = node.at("/metadata/labels").and_then(Value::as_object) {
        for (key, value) in labels {
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role);
                }
            } else if key == "kubernetes.io/role"
                && let Some(role) = value.as_str().filter(|r| !r.is_empty())
            {
                roles.insert(role);
            }
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };

    let address = |kind: &str| {
        node.array_at("/status/addresses")
            .iter()
            .find(|a| a.str_at("/type") == kind)
            .map_or("<none>", |a| a.str_at("/address"))
            .to_string()
    };
    let info = |path: &str| match node.str_at(path) {
        "" => "<unknown>".to_string(),
        value => value.to_string(),
    };

    vec![
        Value::from(node.str_at("/metadata/name")),
        Value::from(status),
        Value::from(roles),
        Value::from(age(node, now)),
        Value::from(node.str_at("/status/nodeInfo/kubeletVersion")),
        Value::from(address("InternalIP")),
        Value::from(address("ExternalIP")),
        Value::from(info("/status/nodeInfo/osImage")),
        Value::from(info("/status/nodeInfo/kernelVersion")),
        Value::from(info("/status/nodeInfo/containerRuntimeVersion")),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::cells;
    use super::super::tests::{ago, now, s};
    use super::*;
    use serde_json::json;

    #[test]
    fn node_cells_cases() {
        let node = |conditions: Value, unschedulable: bool, labels: Value| {
            json!({
                "metadata": {"name": "n1", "labels": labels, "creationTimestamp": ago(45 * 86400)},
                "spec": {"unschedulable": unschedulable},
                "status": {
                    "conditions": conditions,
                    "addresses": [{"type": "Hostname", "address": "n1"},
                                  {"type": "InternalIP", "address": "192.168.1.10"}],
                    "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12",
                                 "kernelVersion": "6.1.0", "containerRuntimeVersion": ""},
                },
            })
        };
        let ready = json!([{"type": "MemoryPressure", "status": "False"},
                           {"type": "Ready", "status": "True"}]);
        let not_ready = json!([{"type": "Ready", "status": "False"}]);
        let unknown_status = json!([{"type": "Ready", "status": "Unknown"}]);
        let cases: Vec<(&str, Value, &str, &str)> = vec![
            (
                "ready",
                node(ready.clone(), false, json!({})),
                "Ready",
                "<none>",
            ),
            (
                "cordoned",
                node(
                    ready,
                    true,
                    json!({"node-role.kubernetes.io/control-plane": ""}),
                ),
                "Ready,SchedulingDisabled",
                "control-plane",
            ),
            (
                "not ready",
                node(
                    not_ready.clone(),
                    false,
                    json!({"kubernetes.io/role": "worker"}),
                ),
                "NotReady",
                "worker",
            ),
            (
                "ready condition status Unknown",
                node(unknown_status, false, json!({})),
                "NotReady",
                "<none>",
            ),
            (
                "no conditions, cordoned",
                node(json!([]), true, json!({})),
                "Unknown,SchedulingDisabled",
                "<none>",
            ),
            (
                "roles sorted and deduplicated",
                node(
                    not_ready,
                    false,
                    json!({"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/": "",
                           "node-role.kubernetes.io/control-plane": "true",
                           "kubernetes.io/role": "worker", "app": "x"}),
                ),
                "NotReady",
                "control-plane,worker",
            ),
        ];
        for (case, n, status, roles) in cases {
            let got = cells("Node", &n, now());
            assert_eq!(got[1], s(status), "{case}");
            assert_eq!(got[2], s(roles), "{case}");
        }
        let got = cells("Node", &node(json!([]), false, json!({})), now());
        assert_eq!(
            got,
            vec![
                s("n1"),
                s("Unknown"),
                s("<none>"),
                s("45d"),
                s("v1.32.4"),
                s("192.168.1.10"),
                s("<none>"),
                s("Debian GNU/Linux 12"),
                s("6.1.0"),
                s("<unknown>")
            ]
        );
    }
}
