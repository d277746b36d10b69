//! The few Kubernetes protobuf bodies kubectl sends from typed clients: a Namespace (`kubectl
//! create namespace`) and DeleteOptions (`kubectl drain`). Decoded from the `k8s\0` envelope
//! into the JSON the rest of the server speaks; anything else is refused with 415.

use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

/// One protobuf field: number and value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Split a message into its fields; `None` when malformed.
fn fields(data: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let key = varint(data, &mut pos)?;
        let (number, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push((number, Field::Varint(varint(data, &mut pos)?))),
            2 => {
                let len = usize::try_from(varint(data, &mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|end| *end <= data.len())?;
                out.push((number, Field::Bytes(&data[pos..end])));
                pos = end;
            }
            1 => pos = pos.checked_add(8)?,
            5 => pos = pos.checked_add(4)?,
            _ => return None,
        }
    }
    (pos == data.len()).then_some(out)
}

fn text(bytes: &[u8]) -> Option<String> {
    String::from_utf8(bytes.to_vec()).ok()
}

/// The envelope's kind and raw object bytes.
fn unwrap_envelope(body: &[u8]) -> Option<(String, String, Vec<u8>)> {
    let inner = body.strip_prefix(MAGIC)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), Vec::new());
    for (number, field) in fields(inner)? {
        match (number, field) {
            (1, Field::Bytes(type_meta)) => {
                for (n, f) in fields(type_meta)? {
                    match (n, f) {
                        (1, Field::Bytes(b)) => api_version = text(b)?,
                        (2, Field::Bytes(b)) => kind = text(b)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b.to_vec(),
            _ => {}
        }
    }
    Some((api_version, kind, raw))
}

fn string_map(entries: &[&[u8]]) -> Option<Value> {
    let mut map = Map::new();
    for entry in entries {
        let (mut key, mut value) = (String::new(), String::new());
        for (n, f) in fields(entry)? {
            match (n, f) {
                (1, Field::Bytes(b)) => key = text(b)?,
                (2, Field::Bytes(b)) => value = text(b)?,
                _ => {}
            }
        }
        map.insert(key, Value::String(value));
    }
    Some(Value::Object(map))
}

/// ObjectMeta fields a client sets on create: name, generateName, namespace, labels,
/// annotations, finalizers.
fn object_meta(data: &[u8]) -> Option<Value> {
    let mut meta = Map::new();
    let (mut labels, mut annotations, mut finalizers) = (Vec::new(), Vec::new(), Vec::new());
    for (number, field) in fields(data)? {
        if let Field::Bytes(b) = field {
            match number {
                1 => {
                    meta.insert("name".into(), Value::String(text(b)?));
                }
                2 => {
                    meta.insert("generateName".into(), Value::String(text(b)?));
                }
                3 => {
                    meta.insert("namespace".into(), Value::String(text(b)?));
                }
                11 => labels.push(b),
                12 => annotations.push(b),
                14 => finalizers.push(Value::String(text(b)?)),
                _ => {}
            }
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), string_map(&labels)?);
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), string_map(&annotations)?);
    }
    if !finalizers.is_empty() {
        meta.insert("finalizers".into(), Value::Array(finalizers));
    }
    Some(Value::Object(meta))
}

/// Decode a protobuf Namespace body into its JSON object.
pub fn decode_namespace(body: &[u8]) -> Option<Value> {
    let (_, kind, raw) = unwrap_envelope(body)?;
    if kind != "Namespace" {
        return None;
    }
    let mut namespace = json!({"apiVersion": "v1", "kind": "Namespace"});
    for (number, field) in fields(&raw)? {
        match (number, field) {
            (1, Field::Bytes(b)) => namespace["metadata"] = object_meta(b)?,
            (2, Field::Bytes(b)) => {
                let mut finalizers = Vec::new();
                for (n, f) in fields(b)? {
                    if let (1, Field::Bytes(v)) = (n, f) {
                        finalizers.push(Value::String(text(v)?));
                    }
                }
                if !finalizers.is_empty() {
                    namespace["spec"] = json!({"finalizers": finalizers});
                }
            }
            _ => {}
        }
    }
    Some(namespace)
}

/// Decode a protobuf DeleteOptions body into its JSON form.
pub fn decode_delete_options(body: &[u8]) -> Option<Value> {
    let (_, kind, raw) = unwrap_envelope(body)?;
    if kind != "DeleteOptions" {
        return None;
    }
    let mut options = json!({});
    let mut dry_run = Vec::new();
    for (number, field) in fields(&raw)? {
        match (number, field) {
            // int64 travels as two's complement in a varint.
            (1, Field::Varint(v)) => options["gracePeriodSeconds"] = json!(v as i64),
            (2, Field::Bytes(b)) => {
                let mut pre = json!({});
                for (n, f) in fields(b)? {
                    match (n, f) {
                        (1, Field::Bytes(v)) => pre["uid"] = json!(text(v)?),
                        (2, Field::Bytes(v)) => pre["resourceVersion"] = json!(text(v)?),
                        _ => {}
                    }
                }
                options["preconditions"] = pre;
            }
            (3, Field::Varint(v)) => options["orphanDependents"] = json!(v != 0),
            (4, Field::Bytes(b)) => options["propagationPolicy"] = json!(text(b)?),
            (5, Field::Bytes(b)) => dry_run.push(Value::String(text(b)?)),
            _ => {}
        }
    }
    if !dry_run.is_empty() {
        options["dryRun"] = Value::Array(dry_run);
    }
    Some(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn message(fields: &[(u64, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (number, bytes) in fields {
            out.push(((number << 3) | 2) as u8);
            out.push(bytes.len() as u8);
            out.extend_from_slice(bytes);
        }
        out
    }

    #[test]
    fn decodes_the_namespace_kubectl_create_namespace_sends() {
        let label = message(&[(1, b"team"), (2, b"a")]);
        let meta = message(&[(1, b"demo"), (11, &label)]);
        let raw = message(&[(1, &meta)]);
        let type_meta = message(&[(1, b"v1"), (2, b"Namespace")]);
        let mut body = MAGIC.to_vec();
        body.extend(message(&[(1, &type_meta), (2, &raw)]));
        let ns = decode_namespace(&body).unwrap();
        assert_eq!(ns["metadata"]["name"], "demo");
        assert_eq!(ns["metadata"]["labels"]["team"], "a");
        assert_eq!(ns["kind"], "Namespace");
    }

    #[test]
    fn decodes_the_empty_delete_options_kubectl_drain_sends() {
        let body = hex("6b3873000a130a027631120d44656c6574654f7074696f6e7312001a002200");
        assert_eq!(decode_delete_options(&body).unwrap(), json!({}));
    }

    #[test]
    fn refuses_garbage() {
        assert!(decode_namespace(b"k8s\0\xff\xff").is_none());
        assert!(decode_namespace(b"{}").is_none());
    }
}
