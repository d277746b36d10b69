//! A readable diff between two versions of an object: the leaves that were added, removed or
//! changed, by dotted path (`spec.replicas`, `status.conditions[type=Ready].status`), with
//! YAML-style values. Pure. `metadata.resourceVersion` (always changes) and
//! `metadata.managedFields` (bookkeeping of who owns which field; the log names the writer
//! anyway) are left out.

use serde_json::Value;

/// One difference at a leaf (or at a subtree that appeared or disappeared whole).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Added {
        path: String,
        value: Value,
    },
    Removed {
        path: String,
        value: Value,
    },
    Changed {
        path: String,
        from: Value,
        to: Value,
    },
}

impl Change {
    pub fn path(&self) -> &str {
        match self {
            Change::Added { path, .. }
            | Change::Removed { path, .. }
            | Change::Changed { path, .. } => path,
        }
    }

    /// `+ metadata.labels.tier: web`, `- spec.nodeName: a`, `~ spec.replicas: 2 -> 3`.
    pub fn line(&self) -> String {
        match self {
            Change::Added { path, value } => format!("+ {path}: {}", scalar(value)),
            Change::Removed { path, value } => format!("- {path}: {}", scalar(value)),
            Change::Changed { path, from, to } => {
                format!("~ {path}: {} -> {}", scalar(from), scalar(to))
            }
        }
    }

    /// The change as JSON, for `-o json`.
    pub fn to_json(&self) -> Value {
        match self {
            Change::Added { path, value } => {
                serde_json::json!({"op": "add", "path": path, "value": value})
            }
            Change::Removed { path, value } => {
                serde_json::json!({"op": "remove", "path": path, "value": value})
            }
            Change::Changed { path, from, to } => {
                serde_json::json!({"op": "change", "path": path, "from": from, "to": to})
            }
        }
    }
}

const IGNORED: [&str; 2] = ["metadata.resourceVersion", "metadata.managedFields"];

/// What changed from `old` to `new`, in document order; a Secret's values hidden
/// (`redact`).
pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    walk("", old, new, &mut changes);
    if super::redact::is_secret(new) || super::redact::is_secret(old) {
        hide_secret_values(&mut changes);
    }
    changes
}

/// A Secret's diff with every value `redact::hidden` hides replaced (the change itself stays).
fn hide_secret_values(changes: &mut [Change]) {
    use super::redact::hidden;
    for change in changes {
        match change {
            Change::Added { path, value } | Change::Removed { path, value } => {
                if let Some(stand_in) = hidden(path, value) {
                    *value = stand_in;
                }
            }
            Change::Changed { path, from, to } => {
                if let (Some(a), Some(b)) = (hidden(path, from), hidden(path, to)) {
                    *from = a;
                    *to = b;
                }
            }
        }
    }
}

/// What an event changed, as the log records it (`events.changes`): the diff from the
/// object's previous version (when the event continues the same object and does not delete
/// it), as JSON array text; `[]` otherwise.
pub fn recorded_changes(previous: Option<&Value>, object: &Value, deleted: bool) -> String {
    let changes = match previous {
        Some(before)
            if !deleted && crate::model::meta::uid(before) == crate::model::meta::uid(object) =>
        {
            diff(before, object)
        }
        _ => vec![],
    };
    Value::Array(changes.iter().map(Change::to_json).collect()).to_string()
}

/// Every leaf of `object` as an addition (the diff of a creation).
pub fn created(object: &Value) -> Vec<Change> {
    diff(&Value::Object(Default::default()), object)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
    if IGNORED.contains(&path) || old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, av) in a {
                let p = join(path, key);
                match b.get(key) {
                    Some(bv) => walk(&p, av, bv, out),
                    None if !IGNORED.contains(&p.as_str()) => leaves(&p, av, out, false),
                    None => {}
                }
            }
            for (key, bv) in b {
                let p = join(path, key);
                if !a.contains_key(key) && !IGNORED.contains(&p.as_str()) {
                    leaves(&p, bv, out, true);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => match merge_key(a).zip(merge_key(b)) {
            Some((ka, kb)) if ka == kb => {
                let id = |v: &Value| v.get(ka).map(scalar).unwrap_or_default();
                for av in a {
                    let p = format!("{path}[{ka}={}]", id(av));
                    match b.iter().find(|bv| id(bv) == id(av)) {
                        Some(bv) => walk(&p, av, bv, out),
                        None => leaves(&p, av, out, false),
                    }
                }
                for bv in b {
                    if !a.iter().any(|av| id(av) == id(bv)) {
                        leaves(&format!("{path}[{ka}={}]", id(bv)), bv, out, true);
                    }
                }
            }
            _ => {
                for i in 0..a.len().max(b.len()) {
                    let p = format!("{path}[{i}]");
                    match (a.get(i), b.get(i)) {
                        (Some(av), Some(bv)) => walk(&p, av, bv, out),
                        (Some(av), None) => leaves(&p, av, out, false),
                        (None, Some(bv)) => leaves(&p, bv, out, true),
                        (None, None) => {}
                    }
                }
            }
        },
        _ => out.push(Change::Changed {
            path: path.to_string(),
            from: old.clone(),
            to: new.clone(),
        }),
    }
}

/// A subtree that appeared or disappeared: one change per leaf, so nothing hides in a blob.
fn leaves(path: &str, value: &Value, out: &mut Vec<Change>, added: bool) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                let p = join(path, key);
                if !IGNORED.contains(&p.as_str()) {
                    leaves(&p, v, out, added);
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let key = merge_key(items);
            for (i, v) in items.iter().enumerate() {
                let p = match key {
                    Some(k) => format!("{path}[{k}={}]", v.get(k).map(scalar).unwrap_or_default()),
                    None => format!("{path}[{i}]"),
                };
                leaves(&p, v, out, added);
            }
        }
        _ => {
            let change = if added {
                Change::Added {
                    path: path.to_string(),
                    value: value.clone(),
                }
            } else {
                Change::Removed {
                    path: path.to_string(),
                    value: value.clone(),
                }
            };
            out.push(change);
        }
    }
}

/// The key that identifies the items of a list of objects (`name`, else `type`), when every
/// item has a distinct one.
fn merge_key(items: &[Value]) -> Option<&'static str> {
    ["name", "type"].into_iter().find(|key| {
        let ids: Vec<&Value> = items.iter().filter_map(|i| i.get(*key)).collect();
        !items.is_empty()
            && ids.len() == items.len()
            && ids.iter().all(|v| v.is_string())
            && ids.iter().enumerate().all(|(i, v)| !ids[..i].contains(v))
    })
}

/// A value as YAML would print it inline: strings bare unless they need quotes, `{}`/`[]`
/// for empty collections, flow JSON otherwise.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let plain = !s.is_empty()
                && !s.contains([':', '#', '\n', '"', '\''])
                && !s.starts_with([' ', '-', '[', '{', '*', '&', '!', '|', '>', '%', '@'])
                && !s.ends_with(' ')
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
                )
                && s.parse::<f64>().is_err();
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(old: Value, new: Value) -> Vec<String> {
        diff(&old, &new).iter().map(Change::line).collect()
    }

    fn secret(password: &str, applied: &str) -> Value {
        use base64::Engine as _;
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "annotations": {
                crate::model::redact::LAST_APPLIED: applied, "team": "a"}},
            "data": {"password": base64::engine::general_purpose::STANDARD.encode(password)},
            "type": "Opaque",
        })
    }

    #[test]
    fn a_secrets_diff_says_what_changed_never_the_values() {
        let before = secret("hunter2", "{\"stringData\":{\"password\":\"hunter2\"}}");
        let after = secret(
            "correct horse",
            "{\"stringData\":{\"password\":\"correct horse\"}}",
        );
        let lines: Vec<String> = diff(&before, &after).iter().map(Change::line).collect();
        assert_eq!(
            lines,
            [
                "~ data.password: (redacted, 7 bytes) -> (redacted, 13 bytes)",
                "~ metadata.annotations.kubectl.kubernetes.io/last-applied-configuration: \
                 (redacted) -> (redacted)",
            ],
        );
        let created: Vec<String> = created(&after).iter().map(Change::line).collect();
        assert!(created.contains(&"+ data.password: (redacted, 13 bytes)".to_string()));
        assert!(
            created.iter().all(|l| !l.contains("correct horse")),
            "{created:?}"
        );
        assert!(created.contains(&"+ metadata.annotations.team: a".to_string()));
    }

    #[test]
    fn other_kinds_show_their_values() {
        let before = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "a"}});
        let after = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "b"}});
        assert_eq!(diff(&before, &after)[0].line(), "~ data.k: a -> b");
    }

    #[test]
    fn leaves_are_added_removed_and_changed_by_path() {
        assert_eq!(
            lines(
                json!({"metadata": {"labels": {"app": "echo"}, "resourceVersion": "4"}, "spec": {"replicas": 2}}),
                json!({"metadata": {"labels": {"tier": "web"}, "resourceVersion": "9"}, "spec": {"replicas": 3}}),
            ),
            [
                "- metadata.labels.app: echo",
                "+ metadata.labels.tier: web",
                "~ spec.replicas: 2 -> 3"
            ]
        );
    }

    #[test]
    fn lists_of_named_items_are_matched_by_name_or_type() {
        assert_eq!(
            lines(
                json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]}}),
                json!({"status": {"conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]}}),
            ),
            ["~ status.conditions[type=Ready].status: \"False\" -> \"True\""]
        );
        assert_eq!(
            lines(json!({"a": [1, 2]}), json!({"a": [1, 3, 4]})),
            ["~ a[1]: 2 -> 3", "+ a[2]: 4"]
        );
    }

    #[test]
    fn whole_subtrees_are_listed_leaf_by_leaf_and_bookkeeping_is_skipped() {
        assert_eq!(
            lines(
                json!({"metadata": {"name": "p"}}),
                json!({"metadata": {"name": "p", "managedFields": [{"manager": "k"}],
                                    "ownerReferences": [{"name": "rs", "uid": "u"}]},
                       "spec": {"nodeName": "n1"}}),
            ),
            [
                "+ metadata.ownerReferences[name=rs].name: rs",
                "+ metadata.ownerReferences[name=rs].uid: u",
                "+ spec.nodeName: n1"
            ]
        );
        assert!(diff(&json!({"a": 1}), &json!({"a": 1})).is_empty());
    }

    #[test]
    fn scalars_print_like_yaml() {
        for (value, text) in [
            (json!("web"), "web"),
            (json!("true"), "\"true\""),
            (json!("3"), "\"3\""),
            (json!("a: b"), "\"a: b\""),
            (json!(""), "\"\""),
            (json!(3), "3"),
            (json!(null), "null"),
            (json!({}), "{}"),
        ] {
            assert_eq!(scalar(&value), text);
        }
    }
}
