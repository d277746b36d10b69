//! Reading and writing `metadata` on stored objects, which are kept as `serde_json::Value` so the
//! log stores exactly what was served. Also the wire time formats.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The one JSON-path lookup of the crate: `Value::pointer` for the literal paths read on every
/// controller pass, every printed row and every apply. `pointer` unescapes each token into a
/// new `String`, two allocations per segment per object; these paths carry no `~` escapes, so
/// their tokens are looked up as they are.
///
/// The typed readers treat a missing field, or one of another type, as Go's zero value (`""`,
/// `false`, an empty list), which is how Kubernetes' printers and field managers read
/// unset fields.
pub trait Lookup {
    fn at(&self, path: &str) -> Option<&Value>;

    /// The string at `path`, or "".
    fn str_at(&self, path: &str) -> &str {
        self.at(path).and_then(Value::as_str).unwrap_or("")
    }

    /// The integer at `path`, if there is one.
    fn i64_at(&self, path: &str) -> Option<i64> {
        self.at(path).and_then(Value::as_i64)
    }

    /// The boolean at `path`, or false.
    fn bool_at(&self, path: &str) -> bool {
        self.at(path).and_then(Value::as_bool).unwrap_or(false)
    }

    /// The array at `path`, or an empty slice.
    fn array_at(&self, path: &str) -> &[Value] {
        self.at(path)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// The JSON object at `path` (Go: a non-nil pointer to a struct).
    fn object_at(&self, path: &str) -> Option<&Value> {
        self.at(path).filter(|v| v.is_object())
    }

    /// Present and not null (Go: a non-nil pointer).
    fn is_set(&self, path: &str) -> bool {
        self.at(path).is_some_and(|v| !v.is_null())
    }
}

impl Lookup for Value {
    fn at(&self, path: &str) -> Option<&Value> {
        debug_assert!(!path.contains('~'), "escaped path {path}");
        if path.is_empty() {
            return Some(self);
        }
        path.strip_prefix('/')?
            .split('/')
            .try_fold(self, |value, token| match value {
                Value::Object(map) => map.get(token),
                Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
    }
}

/// `metadata.<field>` as a string, or "".
pub fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn name(object: &Value) -> &str {
    meta_str(object, "name")
}

pub fn namespace(object: &Value) -> &str {
    meta_str(object, "namespace")
}

pub fn uid(object: &Value) -> &str {
    meta_str(object, "uid")
}

pub fn resource_version(object: &Value) -> &str {
    meta_str(object, "resourceVersion")
}

/// The `metadata` map, created when missing or not an object.
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let root = match object.as_object_mut() {
        Some(root) => root,
        None => unreachable_object(),
    };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    match meta.as_object_mut() {
        Some(meta) => meta,
        None => unreachable_object(),
    }
}

// Both call sites have just made the value an object; this keeps them free of `unwrap`.
fn unreachable_object() -> ! {
    unreachable!("value was just replaced by an object")
}

pub fn set_meta(object: &mut Value, field: &str, value: Value) {
    metadata_mut(object).insert(field.to_string(), value);
}

pub fn remove_meta(object: &mut Value, field: &str) {
    metadata_mut(object).remove(field);
}

/// A string-to-string map under `metadata` (labels, annotations).
pub fn string_map(object: &Value, field: &str) -> BTreeMap<String, String> {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn labels(object: &Value) -> BTreeMap<String, String> {
    string_map(object, "labels")
}

/// The uids `metadata.ownerReferences` names, in order.
pub fn owner_uids(object: &Value) -> Vec<&str> {
    object
        .get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str())
        .collect()
}

pub fn finalizers(object: &Value) -> Vec<String> {
    object
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn deletion_timestamp(object: &Value) -> Option<&str> {
    object
        .get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .and_then(Value::as_str)
}

/// A `metav1.Time` string: RFC 3339, whole seconds, UTC.
/// `t` plus `seconds` (which may come from a client: any i64), held to the range a timestamp
/// can express instead of overflowing.
pub fn after_seconds(t: jiff::Timestamp, seconds: i64) -> jiff::Timestamp {
    let seconds = seconds.clamp(-MAX_TIMESTAMP_SPAN_SECONDS, MAX_TIMESTAMP_SPAN_SECONDS);
    t.checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap_or(if seconds < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        })
}

/// More seconds than separate any two timestamps (jiff's range is about ±10,000 years).
const MAX_TIMESTAMP_SPAN_SECONDS: i64 = 700_000_000_000;

pub fn format_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A `metav1.MicroTime` string: RFC 3339 with microseconds, UTC.
pub fn format_micro_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Log time: RFC 3339 with nanoseconds, UTC.
pub fn format_log_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

pub fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    s.parse().ok()
}

/// Put `condition` into `status.conditions`, replacing the one of the same type.
pub fn set_status_condition(object: &mut Value, condition: Value) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let status = root
        .entry("status")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let list = status
        .entry("conditions")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(list) = list.as_array_mut() else {
        return;
    };
    match list.iter_mut().find(|c| c["type"] == condition["type"]) {
        Some(existing) => *existing = condition,
        None => list.push(condition),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_is_created_on_demand() {
        let mut v = json!({"kind": "Pod"});
        set_meta(&mut v, "name", json!("web"));
        assert_eq!(name(&v), "web");
        assert_eq!(namespace(&v), "");
    }

    #[test]
    fn lookups_find_what_json_pointers_find() {
        let pod = json!({"metadata": {"name": "web"}, "spec": {"nodeName": "n1",
            "containers": [{"name": "a"}, {"name": "b", "ports": [{"containerPort": 80}]}]}});
        for path in [
            "",
            "/metadata/name",
            "/spec/nodeName",
            "/spec/containers/1/name",
            "/spec/containers/1/ports/0/containerPort",
            "/spec/containers/2/name",
            "/spec/containers/x",
            "/spec/nodeName/deeper",
            "/status/phase",
            "spec",
        ] {
            assert_eq!(pod.at(path), pod.pointer(path), "{path}");
        }
    }

    #[test]
    fn times_use_kubernetes_precision() {
        let t: jiff::Timestamp = "2025-01-02T03:04:05.123456789Z".parse().unwrap();
        assert_eq!(format_time(t), "2025-01-02T03:04:05Z");
        assert_eq!(format_micro_time(t), "2025-01-02T03:04:05.123456Z");
        assert_eq!(format_log_time(t), "2025-01-02T03:04:05.123456789Z");
    }
}
