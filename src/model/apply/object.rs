//! Object helpers of the field manager: the applied configuration's sanitizing, the
//! comparable form of an object, and the `last-applied-configuration` annotation.

use serde_json::Value;

use super::{ApplyError, LAST_APPLIED, MAX_ANNOTATIONS_SIZE, Object, SERVER_METADATA};

// ---------------------------------------------------------------------------------------------
// Object helpers.

pub(super) fn str_field<'a>(map: &'a Object, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

/// `schema.GroupVersionKind.String()`: `apps/v1, Kind=ReplicaSet`, `/v1, Kind=Pod`.
pub(super) fn gvk_string(api_version: &str, kind: &str) -> String {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    format!("{group}/{version}, Kind={kind}")
}

/// `objectGVKNN`: `default/web; apps/v1, Kind=ReplicaSet`.
pub(super) fn gvknn(config: &Object, api_version: &str, kind: &str) -> String {
    let meta = config.get("metadata");
    let get = |key: &str| {
        meta.and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    format!(
        "{}/{}; {}",
        get("namespace"),
        get("name"),
        gvk_string(api_version, kind)
    )
}

/// The applied configuration without `status` and server-owned metadata.
pub(super) fn sanitize_config(config: &Object) -> Result<Value, ApplyError> {
    let mut out = config.clone();
    out.remove("status");
    match out.get_mut("metadata") {
        None | Some(Value::Null) => {
            out.remove("metadata");
        }
        Some(Value::Object(meta)) => {
            for key in SERVER_METADATA {
                meta.remove(*key);
            }
        }
        Some(other) => {
            return Err(ApplyError::Invalid(format!(
                "failed to create typed patch object: .metadata: expected map, got {other}"
            )));
        }
    }
    Ok(Value::Object(out))
}

pub(super) fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(Value::Object(meta)) = out.get_mut("metadata") {
        meta.remove("managedFields");
    }
    out
}

/// `obj` as an update's field comparison sees it: without `managedFields`, and without the
/// top-level field the write cannot own (`spec` through the status subresource, `status`
/// otherwise). `ignored_fields` drops those and everything under them from the comparison,
/// so leaving them out changes nothing but the cost of copying and walking them.
pub(super) fn comparable(obj: &Value, subresource: Option<&str>) -> Value {
    let Value::Object(root) = obj else {
        return obj.clone();
    };
    let unowned = if subresource == Some("status") {
        "spec"
    } else {
        "status"
    };
    let mut out = Object::new();
    for (key, value) in root {
        match (key.as_str(), value) {
            (k, _) if k == unowned => {}
            ("metadata", Value::Object(meta)) => {
                let meta: Object = meta
                    .iter()
                    .filter(|(field, _)| *field != "managedFields")
                    .map(|(field, v)| (field.clone(), v.clone()))
                    .collect();
                out.insert(key.clone(), Value::Object(meta));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// Fill in what `skel` has and `obj` lacks.
pub(super) fn overlay(obj: &mut Value, skel: &Value) {
    if let (Value::Object(o), Value::Object(s)) = (obj, skel) {
        for (key, sv) in s {
            match o.get_mut(key) {
                Some(ov) => overlay(ov, sv),
                None => {
                    o.insert(key.clone(), sv.clone());
                }
            }
        }
    }
}

/// Nulls the config set on object fields mean "unset": drop them from the result.
pub(super) fn drop_config_nulls(result: &mut Value, config: &Value) {
    if let (Value::Object(r), Value::Object(c)) = (result, config) {
        for (key, cv) in c {
            match cv {
                Value::Null if r.get(key).is_some_and(Value::is_null) => {
                    r.remove(key);
                }
                Value::Object(_) => {
                    if let Some(rv) = r.get_mut(key) {
                        drop_config_nulls(rv, cv);
                    }
                }
                _ => {}
            }
        }
    }
}

/// `lastAppliedUpdater`: when the object carries a last-applied annotation, an apply by
/// `kubectl` rewrites it from the applied configuration (dropped if annotations get too big).
pub(super) fn update_last_applied(obj: &mut Value, config: &Value) {
    if annotation(obj, LAST_APPLIED).is_none_or(str::is_empty) {
        return;
    }
    let mut applied = config.clone();
    if let Some(Value::Object(annotations)) = applied
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        annotations.remove(LAST_APPLIED);
    }
    let mut text = String::new();
    go_json(&applied, &mut text);
    text.push('\n');
    let Some(Value::Object(annotations)) = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    else {
        return;
    };
    annotations.insert(LAST_APPLIED.to_owned(), Value::String(text));
    let size: usize = annotations
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if size > MAX_ANNOTATIONS_SIZE {
        annotations.remove(LAST_APPLIED);
    }
}

/// Go `encoding/json` output: sorted keys, HTML-safe escaping.
pub(super) fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut items: Vec<(&String, &Value)> = map.iter().collect();
            items.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(key, out);
                out.push(':');
                go_json(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::String(s) => go_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn go_string(s: &str, out: &mut String) {
    for c in Value::String(s.to_owned()).to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}
