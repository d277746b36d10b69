//! Kubernetes protobuf bodies (`k8s\0` + `runtime.Unknown`) decoded into the JSON Go's
//! `encoding/json` writes for the same object, for any kind whose `.proto` is vendored under
//! `proto/`. Descriptors are compiled ahead (`proto/descriptors.binpb`); which zero values Go
//! keeps comes from `proto/go-fields.tsv` (scripts/k8s-proto). Pure: bytes in, JSON out.

mod golang;
mod rules;

use base64::Engine;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage, Value as Proto,
};
use rules::{FieldRule, Rules};
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// The magic that starts every Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

/// Messages nest no deeper than this (a Pod is about 15 levels deep); prost refuses more than
/// 100 while decoding, and this bounds the walk that turns a message into JSON.
const MAX_DEPTH: usize = 64;

/// The compiled `.proto` files under `proto/` (`e2e::protobuf` regenerates and checks it).
static DESCRIPTORS: &[u8] = include_bytes!("../../../proto/descriptors.binpb");

const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";
const RUNTIME: &str = "k8s.io.apimachinery.pkg.runtime";

/// The descriptor pool, or why it could not be read (only if the committed file is broken,
/// which a test rules out; requests then get an error rather than a panic).
static POOL: LazyLock<Result<DescriptorPool, String>> =
    LazyLock::new(|| DescriptorPool::decode(DESCRIPTORS).map_err(|e| e.to_string()));

/// Why a protobuf body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body does not start with `k8s\0`.
    #[error("the body is not a Kubernetes protobuf message (no k8s\\0 prefix)")]
    NoMagic,
    /// The bytes are not the message they claim to be.
    #[error("the protobuf body could not be decoded: {0}")]
    Malformed(String),
    /// No vendored definition for this apiVersion and kind.
    #[error("no protobuf definition of {kind} in {api_version}")]
    UnknownKind { api_version: String, kind: String },
    /// Nested deeper than `MAX_DEPTH`.
    #[error("the protobuf body nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// The outer `runtime.Unknown`: which type the raw bytes hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub api_version: String,
    pub kind: String,
    pub raw: Vec<u8>,
}

fn pool() -> Result<&'static DescriptorPool, DecodeError> {
    POOL.as_ref().map_err(|e| {
        DecodeError::Malformed(format!("the protobuf descriptors are unreadable: {e}"))
    })
}

fn message_descriptor(name: &str) -> Result<MessageDescriptor, DecodeError> {
    pool()?
        .get_message_by_name(name)
        .ok_or_else(|| DecodeError::Malformed(format!("no protobuf message {name}")))
}

/// Read the `k8s\0` envelope: its type and the raw bytes of the object.
pub fn envelope(body: &[u8]) -> Result<Envelope, DecodeError> {
    let inner = body.strip_prefix(MAGIC).ok_or(DecodeError::NoMagic)?;
    let unknown = DynamicMessage::decode(message_descriptor(&format!("{RUNTIME}.Unknown"))?, inner)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let type_meta = unknown
        .get_field_by_name("typeMeta")
        .and_then(|v| v.as_message().cloned());
    let text = |field: &str| {
        type_meta
            .as_ref()
            .and_then(|t| t.get_field_by_name(field))
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let raw = unknown
        .get_field_by_name("raw")
        .and_then(|v| v.as_bytes().map(|b| b.to_vec()))
        .unwrap_or_default();
    Ok(Envelope {
        api_version: text("apiVersion"),
        kind: text("kind"),
        raw,
    })
}

/// The message of `kind` in `api_version`: `k8s.io.api.<group>.<version>.<kind>`, named after
/// the group's first label as k8s.io/api's directories are (`v1` is `core/v1`); else meta/v1's,
/// whose types (DeleteOptions, Status) every group version serves.
pub fn message_for(api_version: &str, kind: &str) -> Result<MessageDescriptor, DecodeError> {
    let pool = pool()?;
    let (group, version) = api_version
        .rsplit_once('/')
        .unwrap_or(("core", api_version));
    let directory = group.split('.').next().unwrap_or(group);
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if valid(directory) && valid(version) && valid(kind) {
        let names = [
            format!("k8s.io.api.{directory}.{version}.{kind}"),
            format!("{META}.{kind}"),
        ];
        if let Some(message) = names.iter().find_map(|n| pool.get_message_by_name(n)) {
            return Ok(message);
        }
    }
    Err(DecodeError::UnknownKind {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
    })
}

/// The JSON of the object an envelope carries, `apiVersion` and `kind` from the envelope.
pub fn object(envelope: &Envelope) -> Result<Value, DecodeError> {
    let descriptor = message_for(&envelope.api_version, &envelope.kind)?;
    let message = DynamicMessage::decode(descriptor, envelope.raw.as_slice())
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let mut object = match to_json(&message, 0)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    // TypeMeta's fields are omitempty.
    for (field, value) in [
        ("apiVersion", &envelope.api_version),
        ("kind", &envelope.kind),
    ] {
        if !value.is_empty() {
            object.insert(field.into(), Value::String(value.clone()));
        }
    }
    Ok(Value::Object(object))
}

/// `envelope` then `object`.
pub fn decode(body: &[u8]) -> Result<Value, DecodeError> {
    object(&envelope(body)?)
}

/// The JSON of one message, as Go's `encoding/json` writes the Go struct it decodes into.
fn to_json(message: &DynamicMessage, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    let descriptor = message.descriptor();
    if let Some(value) = special(message, &descriptor)? {
        return Ok(value);
    }
    let rules = Rules::get();
    if rules.is_list(descriptor.full_name()) {
        return list_items(message, depth);
    }
    let mut out = Map::new();
    for field in descriptor.fields() {
        let rule = rules.field(field.full_name());
        let value = if field.is_list() || field.is_map() {
            match collection(message, &field, depth)? {
                Some(value) => value,
                None => continue,
            }
        } else {
            match singular(message, &field, &rule, depth)? {
                Some(value) => value,
                None => continue,
            }
        };
        match (rule.inline, value) {
            // An embedded struct's fields appear as its parent's.
            (true, Value::Object(fields)) => out.extend(fields),
            (true, _) => {}
            (false, value) => {
                out.insert(rule.json_name(&field), value);
            }
        }
    }
    Ok(Value::Object(out))
}

/// A repeated or map field: absent when empty (Go's nil slice or map).
fn collection(
    message: &DynamicMessage,
    field: &FieldDescriptor,
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    let value = message.get_field(field);
    if let Some(items) = value.as_list() {
        if items.is_empty() {
            return Ok(None);
        }
        let items = items
            .iter()
            .map(|item| scalar_or_message(item, depth))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Some(Value::Array(items)));
    }
    if let Some(entries) = value.as_map() {
        if entries.is_empty() {
            return Ok(None);
        }
        let mut map = Map::new();
        for (key, value) in entries {
            let key = match key {
                MapKey::String(s) => s.clone(),
                MapKey::Bool(b) => b.to_string(),
                MapKey::I32(n) => n.to_string(),
                MapKey::I64(n) => n.to_string(),
                MapKey::U32(n) => n.to_string(),
                MapKey::U64(n) => n.to_string(),
            };
            map.insert(key, scalar_or_message(value, depth)?);
        }
        return Ok(Some(Value::Object(map)));
    }
    Ok(None)
}

/// A singular field by its Go rule: a pointer is written when set (even to zero), a
/// non-pointer scalar unless `omitempty` and zero, a non-pointer struct always (unless
/// `omitzero` and zero).
fn singular(
    message: &DynamicMessage,
    field: &FieldDescriptor,
    rule: &FieldRule,
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    let present = message.has_field(field);
    if let Kind::Message(target) = field.kind() {
        // A named slice (meta/v1 Verbs) is nil, not an empty struct, when absent or empty.
        let list = Rules::get().is_list(target.full_name());
        if (list || rule.ptr) && !present {
            return Ok(None);
        }
        let value = message.get_field(field);
        let Some(sub) = value.as_message() else {
            return Ok(None);
        };
        if rule.omitzero && is_zero(sub) {
            return Ok(None);
        }
        let json = to_json(sub, depth + 1)?;
        if list && json.as_array().is_none_or(Vec::is_empty) {
            return Ok(None);
        }
        return Ok(Some(json));
    }
    if rule.ptr && !present {
        return Ok(None);
    }
    let value = message.get_field(field);
    if !rule.ptr && (rule.omitempty || rule.omitzero) && value.is_default(&field.kind()) {
        return Ok(None);
    }
    scalar(&value).map(Some)
}

fn scalar_or_message(value: &Proto, depth: usize) -> Result<Value, DecodeError> {
    match value {
        Proto::Message(message) => to_json(message, depth + 1),
        other => scalar(other),
    }
}

fn scalar(value: &Proto) -> Result<Value, DecodeError> {
    Ok(match value {
        Proto::Bool(b) => Value::Bool(*b),
        Proto::I32(n) => Value::from(*n),
        Proto::I64(n) => Value::from(*n),
        Proto::U32(n) => Value::from(*n),
        Proto::U64(n) => Value::from(*n),
        Proto::EnumNumber(n) => Value::from(*n),
        Proto::F32(f) => float(f64::from(*f))?,
        Proto::F64(f) => float(*f)?,
        Proto::String(s) => Value::String(s.clone()),
        // Go writes []byte as standard base64.
        Proto::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Proto::Message(_) | Proto::List(_) | Proto::Map(_) => {
            return Err(DecodeError::Malformed(
                "a nested value where a scalar belongs".into(),
            ));
        }
    })
}

/// Go's `encoding/json` refuses NaN and the infinities.
fn float(f: f64) -> Result<Value, DecodeError> {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| DecodeError::Malformed(format!("{f} has no JSON form")))
}

/// Whether Go would call the struct zero (`omitzero`): `Time` by its `IsZero`, others by every
/// field being its zero value.
fn is_zero(message: &DynamicMessage) -> bool {
    let descriptor = message.descriptor();
    if is_time(descriptor.full_name()) {
        return descriptor.fields().all(|f| !message.has_field(&f));
    }
    let rules = Rules::get();
    descriptor.fields().all(|field| {
        if !message.has_field(&field) {
            return true;
        }
        let value = message.get_field(&field);
        match &*value {
            Proto::List(items) => items.is_empty(),
            Proto::Map(entries) => entries.is_empty(),
            Proto::Message(sub) => !rules.field(field.full_name()).ptr && is_zero(sub),
            other => other.is_default(&field.kind()),
        }
    })
}

fn is_time(name: &str) -> bool {
    name.strip_prefix(META)
        .is_some_and(|rest| rest == ".Time" || rest == ".MicroTime")
}

/// The types whose Go `MarshalJSON` is not the struct's fields.
fn special(
    message: &DynamicMessage,
    descriptor: &MessageDescriptor,
) -> Result<Option<Value>, DecodeError> {
    let int = |name: &str| {
        message
            .get_field_by_name(name)
            .and_then(|v| v.as_i64().or_else(|| v.as_i32().map(i64::from)))
            .unwrap_or(0)
    };
    let set = |name: &str| {
        descriptor
            .get_field_by_name(name)
            .is_some_and(|f| message.has_field(&f))
    };
    let text = |name: &str| {
        message
            .get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let value = match descriptor.full_name() {
        // A zero Time travels as an empty message and is null in JSON; Go keeps only seconds.
        name if name == format!("{META}.Time") => {
            if !set("seconds") && !set("nanos") {
                Value::Null
            } else {
                Value::String(golang::time(int("seconds"), 0).map_err(DecodeError::Malformed)?)
            }
        }
        name if name == format!("{META}.MicroTime") => {
            if !set("seconds") && !set("nanos") {
                Value::Null
            } else {
                Value::String(
                    golang::micro_time(int("seconds"), int("nanos"))
                        .map_err(DecodeError::Malformed)?,
                )
            }
        }
        name if name == format!("{META}.Duration") => {
            Value::String(golang::duration(int("duration")))
        }
        name if name == format!("{META}.FieldsV1") => embedded_json(message, "Raw")?,
        name if name == format!("{RUNTIME}.RawExtension") => embedded_json(message, "raw")?,
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => match int("type") {
            1 => Value::String(text("strVal")),
            _ => Value::from(int("intVal")),
        },
        "k8s.io.apimachinery.pkg.api.resource.Quantity"
        | "k8s.io.apimachinery.pkg.api.resource.QuantityValue" => {
            // The zero Quantity prints as "0".
            let s = text("string");
            Value::String(if s.is_empty() { "0".into() } else { s })
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

/// `RawExtension` and `FieldsV1` hold JSON as bytes and write it as is; null when empty.
fn embedded_json(message: &DynamicMessage, field: &str) -> Result<Value, DecodeError> {
    let raw = message
        .get_field_by_name(field)
        .and_then(|v| v.as_bytes().cloned())
        .unwrap_or_default();
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&raw)
        .map_err(|e| DecodeError::Malformed(format!("embedded JSON is not valid: {e}")))
}

/// A named Go slice (meta/v1 `Verbs`) that protobuf wraps as `{items}`: its items.
fn list_items(message: &DynamicMessage, depth: usize) -> Result<Value, DecodeError> {
    let mut items = Vec::new();
    for field in message.descriptor().fields() {
        if let Some(Value::Array(values)) = collection(message, &field, depth)? {
            items.extend(values);
        }
    }
    Ok(Value::Array(items))
}

#[cfg(test)]
mod tests;
