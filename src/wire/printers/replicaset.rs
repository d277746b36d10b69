//! ReplicaSet and Deployment rows: `printReplicaSet` (DESIRED, CURRENT, READY, containers,
//! images and the selector) and `printDeployment` (READY as ready/desired, UP-TO-DATE,
//! AVAILABLE, and the same wide columns).

use jiff::Timestamp;
use serde_json::Value;

use super::age;
use crate::model::meta::Lookup as _;

pub(super) fn replica_set_cells(rs: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = layout_containers(rs.array_at("/spec/template/spec/containers"));
    vec![
        Value::from(rs.str_at("/metadata/name")),
        Value::from(rs.i64_at("/spec/replicas").unwrap_or(1)),
        Value::from(rs.i64_at("/status/replicas").unwrap_or(0)),
        Value::from(rs.i64_at("/status/readyReplicas").unwrap_or(0)),
        Value::from(age(rs, now)),
        Value::from(names),
        Value::from(images),
        Value::from(format_label_selector(rs.at("/spec/selector"))),
    ]
}

pub(super) fn deployment_cells(deployment: &Value, now: Timestamp) -> Vec<Value> {
    let d = deployment;
    let (names, images) = layout_containers(d.array_at("/spec/template/spec/containers"));
    vec![
        Value::from(d.str_at("/metadata/name")),
        Value::from(format!(
            "{}/{}",
            d.i64_at("/status/readyReplicas").unwrap_or(0),
            d.i64_at("/spec/replicas").unwrap_or(1)
        )),
        Value::from(d.i64_at("/status/updatedReplicas").unwrap_or(0)),
        Value::from(d.i64_at("/status/availableReplicas").unwrap_or(0)),
        Value::from(age(d, now)),
        Value::from(names),
        Value::from(images),
        Value::from(format_label_selector(d.at("/spec/selector"))),
    ]
}

/// Container names and images of a pod template, each comma-joined.
fn layout_containers(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| c.str_at("/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| c.str_at("/image")).collect();
    (names.join(","), images.join(","))
}

/// apimachinery's `metav1.FormatLabelSelector`: the canonical selector string (requirements
/// sorted by key), `<none>` when it selects everything or nothing, `<error>` when invalid.
fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector_string(selector) {
        Some(s) if s.is_empty() => "<none>".to_string(),
        Some(s) => s,
        None => "<error>".to_string(),
    }
}

/// The selector as `labels.Selector.String()`, or `None` when it is not a valid selector.
fn label_selector_string(selector: Option<&Value>) -> Option<String> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Some(String::new());
    };
    let mut requirements: Vec<(&str, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").filter(|l| !l.is_null()) {
        for (key, value) in labels.as_object()? {
            requirements.push((key, format!("{key}={}", value.as_str()?)));
        }
    }
    if let Some(expressions) = selector.get("matchExpressions").filter(|e| !e.is_null()) {
        for expression in expressions.as_array()? {
            let key = expression.str_at("/key");
            let mut values = match expression.get("values") {
                None | Some(Value::Null) => Vec::new(),
                Some(values) => values
                    .as_array()?
                    .iter()
                    .map(Value::as_str)
                    .collect::<Option<Vec<&str>>>()?,
            };
            values.sort_unstable();
            let rendered = match expression.str_at("/operator") {
                "In" | "NotIn" if values.is_empty() => return None,
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" | "DoesNotExist" if !values.is_empty() => return None,
                "Exists" => key.to_string(),
                "DoesNotExist" => format!("!{key}"),
                _ => return None,
            };
            requirements.push((key, rendered));
        }
    }
    requirements.sort_by(|a, b| a.0.cmp(b.0));
    let rendered: Vec<String> = requirements.into_iter().map(|(_, r)| r).collect();
    Some(rendered.join(","))
}

#[cfg(test)]
mod tests {
    use super::super::cells;
    use super::super::tests::{ago, now, s};
    use super::*;
    use serde_json::json;

    #[test]
    fn replica_set_cells_and_selectors() {
        let rs = |selector: Value, replicas: Option<i64>| {
            let mut spec = json!({
                "selector": selector,
                "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx:1.27"},
                    {"name": "log", "image": "busybox"}]}},
            });
            if let Some(r) = replicas {
                spec["replicas"] = json!(r);
            }
            json!({
                "metadata": {"name": "web-abc", "creationTimestamp": ago(3 * 86400 + 4 * 3600)},
                "spec": spec,
                "status": {"replicas": 3, "readyReplicas": 2},
            })
        };
        let full = rs(json!({"matchLabels": {"app": "web"}}), Some(3));
        assert_eq!(
            cells("ReplicaSet", &full, now()),
            vec![
                s("web-abc"),
                json!(3),
                json!(3),
                json!(2),
                s("3d4h"),
                s("web,log"),
                s("nginx:1.27,busybox"),
                s("app=web")
            ]
        );
        // Desired defaults to 1; missing status counts are 0.
        let mut bare = rs(json!({"matchLabels": {"app": "web"}}), None);
        bare["status"] = json!({});
        let got = cells("ReplicaSet", &bare, now());
        assert_eq!(got[1..4], [json!(1), json!(0), json!(0)]);

        let selectors: Vec<(Value, &str)> = vec![
            (
                json!({"matchLabels": {"tier": "fe", "app": "web"}}),
                "app=web,tier=fe",
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}),
                "tier in (a,b)",
            ),
            (
                json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}),
                "env notin (prod)",
            ),
            (
                json!({"matchLabels": {"z": "1"}, "matchExpressions": [
                    {"key": "gpu", "operator": "Exists"},
                    {"key": "canary", "operator": "DoesNotExist", "values": []},
                    {"key": "app", "operator": "In", "values": ["web"]}]}),
                "app in (web),!canary,gpu,z=1",
            ),
            (
                json!({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}),
                "!canary",
            ),
            (json!({}), "<none>"),
            (Value::Null, "<none>"),
            (json!({"matchLabels": {}}), "<none>"),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}),
                "<error>",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
                "<error>",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                "<error>",
            ),
        ];
        let deployment = json!({
            "metadata": {"name": "echo", "creationTimestamp": ago(90)},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "echo"}},
                     "template": {"spec": {"containers": [{"name": "echo", "image": "ghcr.io/subicura/echo:v1"}]}}},
            "status": {"readyReplicas": 3, "updatedReplicas": 4, "availableReplicas": 2},
        });
        assert_eq!(
            cells("Deployment", &deployment, now()),
            vec![
                s("echo"),
                s("3/4"),
                json!(4),
                json!(2),
                s("90s"),
                s("echo"),
                s("ghcr.io/subicura/echo:v1"),
                s("app=echo")
            ]
        );
        for (selector, want) in selectors {
            let got = cells("ReplicaSet", &rs(selector.clone(), Some(1)), now());
            assert_eq!(got[7], s(want), "{selector}");
        }
    }
}
