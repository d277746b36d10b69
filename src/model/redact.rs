//! What a Secret's history may show: that its data changed, never the values. A diff of a
//! Secret (`diff::diff`) and a Secret shown by the log's debugging views (`redact_object`)
//! carry `(redacted, N bytes)` for every value under `data` and `stringData`, and
//! `(redacted)` for the annotation `kubectl apply` fills with the whole manifest. Reading a
//! Secret through the API still gives its values, as Kubernetes does. Pure.

use super::diff::Change;
use base64::Engine as _;
use serde_json::{Map, Value};

/// The annotation `kubectl apply` keeps the applied manifest in (values included).
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const DATA_FIELDS: [&str; 2] = ["data", "stringData"];

/// Whether `object` is a core/v1 Secret.
pub fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// The stand-in for a value under `data` (base64, so its decoded size) or `stringData`.
fn redacted_value(field: &str, value: &Value) -> Value {
    match value {
        Value::String(text) => {
            let size = match field {
                "data" => base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_or(text.len(), |bytes| bytes.len()),
                _ => text.len(),
            };
            Value::String(format!("(redacted, {size} bytes)"))
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redacted_value(field, v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Null => Value::Null,
        _ => Value::String("(redacted)".into()),
    }
}

/// `object` with its values hidden, when it is a Secret.
pub fn redact_object(object: &mut Value) {
    if !is_secret(object) {
        return;
    }
    for field in DATA_FIELDS {
        if let Some(value) = object.get_mut(field) {
            *value = redacted_value(field, value);
        }
    }
    if let Some(applied) = object
        .pointer_mut("/metadata/annotations")
        .and_then(|a| a.get_mut(LAST_APPLIED))
    {
        *applied = Value::String("(redacted)".into());
    }
}

/// The redaction of the value at diff path `path` of a Secret, if it is one to hide.
fn redaction_at(path: &str, value: &Value) -> Option<Value> {
    for field in DATA_FIELDS {
        if path == field || path.starts_with(&format!("{field}.")) {
            return Some(redacted_value(field, value));
        }
    }
    (path == format!("metadata.annotations.{LAST_APPLIED}"))
        .then(|| Value::String("(redacted)".into()))
}

/// A Secret's diff with every hidden value replaced (the change itself stays visible).
pub fn redact_changes(changes: &mut [Change]) {
    for change in changes {
        match change {
            Change::Added { path, value } | Change::Removed { path, value } => {
                if let Some(hidden) = redaction_at(path, value) {
                    *value = hidden;
                }
            }
            Change::Changed { path, from, to } => {
                if let (Some(a), Some(b)) = (redaction_at(path, from), redaction_at(path, to)) {
                    *from = a;
                    *to = b;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::diff::diff;
    use serde_json::json;

    fn secret(password: &str, applied: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "annotations": {LAST_APPLIED: applied, "team": "a"}},
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
        let created: Vec<String> = crate::model::diff::created(&after)
            .iter()
            .map(Change::line)
            .collect();
        assert!(created.contains(&"+ data.password: (redacted, 13 bytes)".to_string()));
        assert!(
            created.iter().all(|l| !l.contains("correct horse")),
            "{created:?}"
        );
        assert!(created.contains(&"+ metadata.annotations.team: a".to_string()));
    }

    #[test]
    fn other_kinds_and_other_fields_are_shown_as_they_are() {
        let before = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "a"}});
        let after = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "b"}});
        assert_eq!(diff(&before, &after)[0].line(), "~ data.k: a -> b");
        let mut config = after.clone();
        redact_object(&mut config);
        assert_eq!(config, after);
    }

    #[test]
    fn a_secret_object_keeps_its_keys_and_sizes() {
        let mut object = secret("hunter2", "{}");
        object["stringData"] = json!({"token": "abc"});
        redact_object(&mut object);
        assert_eq!(object["data"], json!({"password": "(redacted, 7 bytes)"}));
        assert_eq!(
            object["stringData"],
            json!({"token": "(redacted, 3 bytes)"})
        );
        assert_eq!(
            object["metadata"]["annotations"][LAST_APPLIED],
            "(redacted)"
        );
        assert_eq!(object["metadata"]["annotations"]["team"], "a");
        assert_eq!(object["type"], "Opaque");
    }
}
