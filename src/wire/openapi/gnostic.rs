//! The Swagger 2.0 document in gnostic's protobuf form (`openapi.v2.Document`, the
//! `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` that kubectl before 1.27 and
//! client-go's OpenAPI v2 clients ask for). Each message of gnostic's `OpenAPIv2.proto` that a
//! Kubernetes document uses is one function here, writing the JSON document's fields under
//! their field numbers; values gnostic keeps as `Any` (defaults, enums, examples, vendor
//! extensions) are written as YAML text, as gnostic does. Proto3 rules: empty strings, false
//! and zero are left out. Pure.

use serde_json::{Map, Value};

/// A protobuf message being written.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn text(&mut self, field: u32, text: &str) {
        if !text.is_empty() {
            self.bytes(field, text.as_bytes());
        }
    }

    /// A string field from `value[key]`.
    fn string(&mut self, field: u32, value: &Value, key: &str) {
        if let Some(text) = value.get(key).and_then(Value::as_str) {
            self.text(field, text);
        }
    }

    fn boolean(&mut self, field: u32, value: &Value, key: &str) {
        if value.get(key).and_then(Value::as_bool) == Some(true) {
            self.key(field, 0);
            self.varint(1);
        }
    }

    fn int(&mut self, field: u32, value: &Value, key: &str) {
        if let Some(n) = value.get(key).and_then(Value::as_i64).filter(|n| *n != 0) {
            self.key(field, 0);
            self.varint(n as u64);
        }
    }

    fn double(&mut self, field: u32, value: &Value, key: &str) {
        if let Some(n) = value.get(key).and_then(Value::as_f64).filter(|n| *n != 0.0) {
            self.key(field, 1);
            self.0.extend_from_slice(&n.to_le_bytes());
        }
    }

    /// A repeated string field from an array (or a single string) at `value[key]`.
    fn strings(&mut self, field: u32, value: &Value, key: &str) {
        match value.get(key) {
            Some(Value::Array(items)) => {
                for item in items.iter().filter_map(Value::as_str) {
                    self.bytes(field, item.as_bytes());
                }
            }
            Some(Value::String(one)) => self.bytes(field, one.as_bytes()),
            _ => {}
        }
    }

    /// A nested message from `value[key]`, when present.
    fn message(&mut self, field: u32, value: &Value, key: &str, encode: fn(&Value) -> Vec<u8>) {
        if let Some(inner) = value.get(key).filter(|v| !v.is_null()) {
            self.bytes(field, &encode(inner));
        }
    }

    /// A repeated message field from the array at `value[key]`.
    fn messages(&mut self, field: u32, value: &Value, key: &str, encode: fn(&Value) -> Vec<u8>) {
        for item in value
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.bytes(field, &encode(item));
        }
    }

    /// An `Any` (its YAML) from `value[key]`.
    fn any(&mut self, field: u32, value: &Value, key: &str) {
        if let Some(inner) = value.get(key) {
            self.bytes(field, &any(inner));
        }
    }

    /// A repeated `Any` from the array at `value[key]`.
    fn anys(&mut self, field: u32, value: &Value, key: &str) {
        for item in value
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.bytes(field, &any(item));
        }
    }

    /// `repeated NamedAny vendor_extension`: every `x-` key of `value`.
    fn vendor(&mut self, field: u32, value: &Value) {
        for (name, extension) in value.as_object().into_iter().flatten() {
            if name.starts_with("x-") {
                let mut named = Message::default();
                named.text(1, name);
                named.bytes(2, &any(extension));
                self.bytes(field, &named.0);
            }
        }
    }

    /// A repeated `Named<T> {name = 1; value = 2}` from the entries of the map `map`.
    fn named(
        &mut self,
        field: u32,
        map: Option<&Map<String, Value>>,
        encode: fn(&Value) -> Vec<u8>,
    ) {
        for (name, value) in map.into_iter().flatten() {
            if name.starts_with("x-") {
                continue;
            }
            let mut named = Message::default();
            named.text(1, name);
            named.bytes(2, &encode(value));
            self.bytes(field, &named.0);
        }
    }
}

/// `Any { string yaml = 2; }`: the value as YAML text.
fn any(value: &Value) -> Vec<u8> {
    let yaml = yaml_serde::to_string(value).unwrap_or_default();
    let mut message = Message::default();
    message.text(2, &yaml);
    message.0
}

/// The protobuf bytes of a Swagger 2.0 document (`openapi.v2.Document`).
pub fn document(doc: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, doc, "swagger");
    m.message(2, doc, "info", info);
    m.string(3, doc, "host");
    m.string(4, doc, "basePath");
    m.strings(5, doc, "schemes");
    m.strings(6, doc, "consumes");
    m.strings(7, doc, "produces");
    m.message(8, doc, "paths", paths);
    m.message(9, doc, "definitions", |d| named_map(d, schema));
    m.message(10, doc, "parameters", |d| named_map(d, parameter));
    m.message(11, doc, "responses", |d| named_map(d, response));
    m.messages(12, doc, "security", security_requirement);
    m.message(13, doc, "securityDefinitions", |d| {
        named_map(d, security_definition)
    });
    m.messages(14, doc, "tags", tag);
    m.message(15, doc, "externalDocs", external_docs);
    m.vendor(16, doc);
    m.0
}

/// A message whose only field is `repeated Named<T> additional_properties = 1`.
fn named_map(value: &Value, encode: fn(&Value) -> Vec<u8>) -> Vec<u8> {
    let mut m = Message::default();
    m.named(1, value.as_object(), encode);
    m.0
}

fn info(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, v, "title");
    m.string(2, v, "version");
    m.string(3, v, "description");
    m.string(4, v, "termsOfService");
    m.vendor(7, v);
    m.0
}

fn external_docs(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, v, "description");
    m.string(2, v, "url");
    m.vendor(3, v);
    m.0
}

fn tag(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, v, "name");
    m.string(2, v, "description");
    m.message(3, v, "externalDocs", external_docs);
    m.vendor(4, v);
    m.0
}

fn paths(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.vendor(1, v);
    m.named(2, v.as_object(), path_item);
    m.0
}

fn path_item(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, v, "$ref");
    for (field, verb) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        m.message(field, v, verb, operation);
    }
    m.messages(9, v, "parameters", parameters_item);
    m.vendor(10, v);
    m.0
}

fn operation(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.strings(1, v, "tags");
    m.string(2, v, "summary");
    m.string(3, v, "description");
    m.message(4, v, "externalDocs", external_docs);
    m.string(5, v, "operationId");
    m.strings(6, v, "produces");
    m.strings(7, v, "consumes");
    m.messages(8, v, "parameters", parameters_item);
    m.message(9, v, "responses", responses);
    m.strings(10, v, "schemes");
    m.boolean(11, v, "deprecated");
    m.messages(12, v, "security", security_requirement);
    m.vendor(13, v);
    m.0
}

fn json_reference(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, v, "$ref");
    m.string(2, v, "description");
    m.0
}

/// `ParametersItem`: a reference or a parameter.
fn parameters_item(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    if v.get("$ref").is_some() {
        m.bytes(2, &json_reference(v));
    } else {
        m.bytes(1, &parameter(v));
    }
    m.0
}

/// `Parameter`: a body parameter, or one of the four others by `in`.
fn parameter(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    match v.get("in").and_then(Value::as_str).unwrap_or("") {
        "body" => {
            let mut body = Message::default();
            body.string(1, v, "description");
            body.string(2, v, "name");
            body.string(3, v, "in");
            body.boolean(4, v, "required");
            body.message(5, v, "schema", schema);
            body.vendor(6, v);
            m.bytes(1, &body.0);
        }
        place => {
            let (field, sub) = match place {
                "header" => (1, header_or_path_parameter(v)),
                "formData" => (2, query_or_form_parameter(v)),
                "path" => (4, header_or_path_parameter(v)),
                _ => (3, query_or_form_parameter(v)),
            };
            let mut non_body = Message::default();
            non_body.bytes(field, &sub);
            m.bytes(2, &non_body.0);
        }
    }
    m.0
}

/// The fields a query or form parameter shares (`QueryParameterSubSchema`,
/// `FormDataParameterSubSchema`: the same numbers).
fn query_or_form_parameter(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.boolean(1, v, "required");
    m.string(2, v, "in");
    m.string(3, v, "description");
    m.string(4, v, "name");
    m.boolean(5, v, "allowEmptyValue");
    m.string(6, v, "type");
    m.string(7, v, "format");
    m.message(8, v, "items", primitives_items);
    m.string(9, v, "collectionFormat");
    m.any(10, v, "default");
    m.double(11, v, "maximum");
    m.boolean(12, v, "exclusiveMaximum");
    m.double(13, v, "minimum");
    m.boolean(14, v, "exclusiveMinimum");
    m.int(15, v, "maxLength");
    m.int(16, v, "minLength");
    m.string(17, v, "pattern");
    m.int(18, v, "maxItems");
    m.int(19, v, "minItems");
    m.boolean(20, v, "uniqueItems");
    m.anys(21, v, "enum");
    m.double(22, v, "multipleOf");
    m.vendor(23, v);
    m.0
}

/// The fields a header or path parameter shares (`HeaderParameterSubSchema`,
/// `PathParameterSubSchema`: the same numbers, no `allowEmptyValue`).
fn header_or_path_parameter(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.boolean(1, v, "required");
    m.string(2, v, "in");
    m.string(3, v, "description");
    m.string(4, v, "name");
    m.string(5, v, "type");
    m.string(6, v, "format");
    m.message(7, v, "items", primitives_items);
    m.string(8, v, "collectionFormat");
    m.any(9, v, "default");
    m.double(10, v, "maximum");
    m.boolean(11, v, "exclusiveMaximum");
    m.double(12, v, "minimum");
    m.boolean(13, v, "exclusiveMinimum");
    m.int(14, v, "maxLength");
    m.int(15, v, "minLength");
    m.string(16, v, "pattern");
    m.int(17, v, "maxItems");
    m.int(18, v, "minItems");
    m.boolean(19, v, "uniqueItems");
    m.anys(20, v, "enum");
    m.double(21, v, "multipleOf");
    m.vendor(22, v);
    m.0
}

fn primitives_items(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, v, "type");
    m.string(2, v, "format");
    m.message(3, v, "items", primitives_items);
    m.string(4, v, "collectionFormat");
    m.any(5, v, "default");
    m.double(6, v, "maximum");
    m.boolean(7, v, "exclusiveMaximum");
    m.double(8, v, "minimum");
    m.boolean(9, v, "exclusiveMinimum");
    m.int(10, v, "maxLength");
    m.int(11, v, "minLength");
    m.string(12, v, "pattern");
    m.int(13, v, "maxItems");
    m.int(14, v, "minItems");
    m.boolean(15, v, "uniqueItems");
    m.anys(16, v, "enum");
    m.double(17, v, "multipleOf");
    m.vendor(18, v);
    m.0
}

/// `Responses`: `response_code` entries (`NamedResponseValue`) and vendor extensions.
fn responses(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.named(1, v.as_object(), response_value);
    m.vendor(2, v);
    m.0
}

/// `ResponseValue`: a reference or a response.
fn response_value(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    if v.get("$ref").is_some() {
        m.bytes(2, &json_reference(v));
    } else {
        m.bytes(1, &response(v));
    }
    m.0
}

fn response(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, v, "description");
    if let Some(inner) = v.get("schema") {
        // `SchemaItem`: a schema (a file schema only for `type: file`, which no Kubernetes
        // response has).
        let mut item = Message::default();
        item.bytes(1, &schema(inner));
        m.bytes(2, &item.0);
    }
    m.vendor(5, v);
    m.0
}

fn schema(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, v, "$ref");
    m.string(2, v, "format");
    m.string(3, v, "title");
    m.string(4, v, "description");
    m.any(5, v, "default");
    m.double(6, v, "multipleOf");
    m.double(7, v, "maximum");
    m.boolean(8, v, "exclusiveMaximum");
    m.double(9, v, "minimum");
    m.boolean(10, v, "exclusiveMinimum");
    m.int(11, v, "maxLength");
    m.int(12, v, "minLength");
    m.string(13, v, "pattern");
    m.int(14, v, "maxItems");
    m.int(15, v, "minItems");
    m.boolean(16, v, "uniqueItems");
    m.int(17, v, "maxProperties");
    m.int(18, v, "minProperties");
    m.strings(19, v, "required");
    m.anys(20, v, "enum");
    match v.get("additionalProperties") {
        Some(Value::Bool(allowed)) => {
            let mut item = Message::default();
            item.key(2, 0);
            item.varint(u64::from(*allowed));
            m.bytes(21, &item.0);
        }
        Some(inner @ Value::Object(_)) => {
            let mut item = Message::default();
            item.bytes(1, &schema(inner));
            m.bytes(21, &item.0);
        }
        _ => {}
    }
    if v.get("type").is_some() {
        let mut item = Message::default();
        item.strings(1, v, "type");
        m.bytes(22, &item.0);
    }
    match v.get("items") {
        Some(Value::Array(schemas)) => {
            let mut item = Message::default();
            for inner in schemas {
                item.bytes(1, &schema(inner));
            }
            m.bytes(23, &item.0);
        }
        Some(inner @ Value::Object(_)) => {
            let mut item = Message::default();
            item.bytes(1, &schema(inner));
            m.bytes(23, &item.0);
        }
        _ => {}
    }
    m.messages(24, v, "allOf", schema);
    m.message(25, v, "properties", |p| named_map(p, schema));
    m.string(26, v, "discriminator");
    m.boolean(27, v, "readOnly");
    m.message(29, v, "externalDocs", external_docs);
    m.any(30, v, "example");
    m.vendor(31, v);
    m.0
}

/// `SecurityRequirement`: `{name: [scopes]}` as `NamedStringArray`s.
fn security_requirement(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.named(1, v.as_object(), |scopes| {
        let mut array = Message::default();
        for scope in scopes
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            array.bytes(1, scope.as_bytes());
        }
        array.0
    });
    m.0
}

/// `SecurityDefinitionsItem`: an API key (the bearer token) or basic authentication.
fn security_definition(v: &Value) -> Vec<u8> {
    let mut m = Message::default();
    let mut inner = Message::default();
    match v.get("type").and_then(Value::as_str).unwrap_or("") {
        "basic" => {
            inner.string(1, v, "type");
            inner.string(2, v, "description");
            inner.vendor(3, v);
            m.bytes(1, &inner.0);
        }
        _ => {
            inner.string(1, v, "type");
            inner.string(2, v, "name");
            inner.string(3, v, "in");
            inner.string(4, v, "description");
            inner.vendor(5, v);
            m.bytes(2, &inner.0);
        }
    }
    m.0
}
