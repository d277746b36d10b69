//! What a Secret's history may show: that its data changed, never the values. A diff of a
//! Secret (`diff::diff` asks `hidden` of each change) and a Secret shown by the log's debugging views (`redact_object`)
//! carry `(redacted, N bytes)` for every value under `data` and `stringData`, and
//! `(redacted)` for the annotation `kubectl apply` fills with the whole manifest. Reading a
//! Secret through the API still gives its values, as Kubernetes does. Pure.

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

/// The stand-in for `value` at diff path `path` of a Secret, when it is one to hide.
pub fn hidden(path: &str, value: &Value) -> Option<Value> {
    for field in DATA_FIELDS {
        if path == field || path.starts_with(&format!("{field}.")) {
            return Some(redacted_value(field, value));
        }
    }
    (path == format!("metadata.annotations.{LAST_APPLIED}"))
        .then(|| Value::String("(redacted)".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn other_kinds_are_left_as_they_are() {
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "b"}});
        let mut shown = config.clone();
        redact_object(&mut shown);
        assert_eq!(shown, config);
        assert_eq!(hidden("spec.replicas", &json!(3)), None);
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
