//! Which ReplicaSet holds which revision of a Deployment's pod template: the
//! `pod-template-hash` that names it, the template comparison that ignores that label, and the
//! annotations a Deployment keeps on its ReplicaSets (`deployment.kubernetes.io/revision`, the
//! revisions a rolled-back template held before, the Deployment's own annotations such as
//! `kubernetes.io/change-cause`). Pure.

use crate::model::meta::{self, Lookup as _};
use serde_json::{Map, Value};

pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// The longest `revision-history` kept (the controller's default).
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// The characters Kubernetes' `SafeEncodeString` maps to: no vowels, no 0/1/3, so a name
/// suffix never spells a word.
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The `pod-template-hash` of a template, as Kubernetes' `ComputeHash`: FNV-32a over the
/// template, then the collision count's four little-endian bytes (padded to eight), the
/// decimal digits of the sum mapped through `SafeEncodeString`. The template is hashed in its
/// canonical JSON (keys sorted), so equal templates hash equally in every process and after
/// every rebuild; Kubernetes hashes the Go struct's printed form instead, so the suffixes
/// differ from a real cluster's for the same template, which nothing relies on.
pub fn template_hash(template: &Value, collision_count: Option<i64>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    // serde_json's maps keep their keys sorted (its `preserve_order` feature is off), so this
    // text is already canonical.
    feed(template.to_string().as_bytes());
    if let Some(count) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(count as u32).to_le_bytes());
        feed(&bytes);
    }
    hash.to_string()
        .bytes()
        .map(|digit| SAFE[usize::from(digit) % SAFE.len()] as char)
        .collect()
}

/// A template without its `pod-template-hash` label.
fn without_hash(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
    }
    template
}

/// Whether two templates are the same but for the `pod-template-hash` label
/// (`EqualIgnoreHash`).
pub fn same_template(a: &Value, b: &Value) -> bool {
    without_hash(a) == without_hash(b)
}

/// A ReplicaSet's revision (0 when it has none or it does not parse).
pub fn revision_of(rs: &Value) -> i64 {
    annotation(rs, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .at("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// Deployment annotations that stay on the Deployment.
fn stays_on_deployment(key: &str) -> bool {
    [
        LAST_APPLIED,
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        ROLLBACK_TO,
    ]
    .contains(&key)
}

fn set_annotation(object: &mut Value, key: &str, value: String) {
    let metadata = meta::metadata_mut(object);
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    if let Some(map) = annotations.as_object_mut() {
        map.insert(key.to_string(), Value::String(value));
    }
}

/// The new ReplicaSet's annotations brought up to date (`SetNewReplicaSetAnnotations`): the
/// Deployment's own annotations copied over, and `revision` raised to `revision` when it is
/// lower, the revision it had before appended to `revision-history` (a rollback to it).
/// Whether anything changed.
pub fn bring_up_to_date(rs: &mut Value, deployment: &Value, revision: i64) -> bool {
    let mut changed = false;
    let own = meta::string_map(deployment, "annotations");
    for (key, value) in own {
        if stays_on_deployment(&key) || annotation(rs, &key) == Some(value.as_str()) {
            continue;
        }
        set_annotation(rs, &key, value);
        changed = true;
    }
    let had = annotation(rs, REVISION).map(str::to_string);
    let before = had.as_deref().map_or(Some(0), |r| r.parse::<i64>().ok());
    let Some(before) = before else {
        return changed;
    };
    if before < revision {
        set_annotation(rs, REVISION, revision.to_string());
        changed = true;
        if let Some(old) = had {
            let history = annotation(rs, REVISION_HISTORY).unwrap_or("").to_string();
            let mut kept: Vec<&str> = history.split(',').filter(|r| !r.is_empty()).collect();
            let mut length = history.len() + old.len() + 1;
            while length > MAX_REVISION_HISTORY_CHARS && !kept.is_empty() {
                length -= kept.remove(0).len() + 1;
            }
            if length <= MAX_REVISION_HISTORY_CHARS {
                kept.push(&old);
                let joined = kept.join(",");
                set_annotation(rs, REVISION_HISTORY, joined);
            }
        }
    }
    changed
}

/// Record on a ReplicaSet the size the Deployment gave it (`desired-replicas`) and the most
/// pods the Deployment allowed (`max-replicas`). Whether anything changed.
pub fn set_replicas_annotations(rs: &mut Value, desired: i64, max: i64) -> bool {
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        if annotation(rs, key) != Some(value.to_string().as_str()) {
            set_annotation(rs, key, value.to_string());
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(image: &str) -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": image}]}})
    }

    #[test]
    fn the_hash_is_kubernetes_alphabet_and_moves_with_template_and_collisions() {
        let a = template_hash(&template("echo:v1"), None);
        assert!(!a.is_empty() && a.len() <= 10, "{a}");
        assert!(a.bytes().all(|b| b"456789bcdf".contains(&b)), "{a}");
        assert_eq!(a, template_hash(&template("echo:v1"), None));
        assert_ne!(a, template_hash(&template("echo:v2"), None));
        assert_ne!(a, template_hash(&template("echo:v1"), Some(1)));
        // Key order does not matter.
        let reordered: Value = serde_json::from_str(
            r#"{"spec": {"containers": [{"image": "echo:v1", "name": "web"}]},
                "metadata": {"labels": {"app": "web"}}}"#,
        )
        .unwrap();
        assert_eq!(a, template_hash(&reordered, None));
    }

    #[test]
    fn templates_compare_without_the_hash_label() {
        let mut labelled = template("echo:v1");
        labelled["metadata"]["labels"][HASH_LABEL] = json!("abc");
        assert!(same_template(&labelled, &template("echo:v1")));
        assert!(!same_template(&labelled, &template("echo:v2")));
    }

    #[test]
    fn a_rolled_back_revision_keeps_its_old_numbers() {
        let deployment = json!({"metadata": {"annotations": {
            "kubernetes.io/change-cause": "set image v1",
            REVISION: "3",
            LAST_APPLIED: "{}",
        }}});
        let mut rs = json!({"metadata": {"annotations": {REVISION: "1"}}});
        assert!(bring_up_to_date(&mut rs, &deployment, 4));
        assert_eq!(revision_of(&rs), 4);
        assert_eq!(annotation(&rs, REVISION_HISTORY), Some("1"));
        assert_eq!(
            annotation(&rs, "kubernetes.io/change-cause"),
            Some("set image v1")
        );
        assert_eq!(annotation(&rs, LAST_APPLIED), None);
        assert!(bring_up_to_date(&mut rs, &deployment, 6));
        assert_eq!(annotation(&rs, REVISION_HISTORY), Some("1,4"));
        assert!(!bring_up_to_date(&mut rs, &deployment, 6));
        // A fresh ReplicaSet has no history.
        let mut fresh = json!({"metadata": {}});
        assert!(bring_up_to_date(&mut fresh, &deployment, 1));
        assert_eq!(annotation(&fresh, REVISION_HISTORY), None);
    }
}
