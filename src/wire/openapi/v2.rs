//! The Swagger 2.0 document `/openapi/v2` serves: every group-version's v3 document (the one
//! source of the schemas and operations, so a kind served later appears here too) merged and
//! written in Swagger 2.0's terms, as kube-apiserver's v2 document is. Schemas move from
//! `components.schemas` to `definitions`; a request body becomes a `body` parameter and its
//! media types the operation's `consumes`; a response's media types become `produces`; v3's
//! `allOf: [{$ref}]` wrappers become plain `$ref`s; an int-or-string becomes
//! `type: string, format: int-or-string`. Pure.

use super::{GroupVersion, KUBERNETES_VERSION};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

const V3_PREFIX: &str = "#/components/schemas/";
const V2_PREFIX: &str = "#/definitions/";

/// The Swagger 2.0 document of `documents` (the v3 documents, in serving order).
pub fn swagger(documents: &[(GroupVersion, Value)]) -> Value {
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for (_, document) in documents {
        if let Some(schemas) = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                definitions.insert(name.clone(), schema_v2(schema));
            }
        }
        if let Some(items) = document.get("paths").and_then(Value::as_object) {
            for (path, item) in items {
                paths.insert(path.clone(), path_item_v2(item));
            }
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header",
                            "description": "Bearer Token authentication"},
        },
        "security": [{"BearerToken": []}],
    })
}

/// A v3 schema in Swagger 2.0's terms.
pub fn schema_v2(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            // `allOf: [{$ref}]` with siblings (default, description) is how v3 gives a
            // reference a description; Swagger 2.0 keeps the siblings beside `$ref`.
            if let Some([only]) = map
                .get("allOf")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                && only.get("$ref").is_some()
            {
                let mut out = Map::new();
                for (key, value) in map {
                    if key != "allOf" && key != "default" {
                        out.insert(key.clone(), schema_v2(value));
                    }
                }
                if let Some(reference) = only.get("$ref") {
                    out.insert("$ref".into(), reference_v2(reference));
                }
                return Value::Object(out);
            }
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    // v3 only.
                    "nullable" | "oneOf" | "anyOf" => {}
                    "$ref" => {
                        out.insert(key.clone(), reference_v2(value));
                    }
                    // Property names and extension values are data, not schemas.
                    "properties" => {
                        let properties = value
                            .as_object()
                            .map(|p| {
                                p.iter()
                                    .map(|(name, s)| (name.clone(), schema_v2(s)))
                                    .collect()
                            })
                            .unwrap_or_default();
                        out.insert(key.clone(), Value::Object(properties));
                    }
                    k if k.starts_with("x-") => {
                        out.insert(key.clone(), value.clone());
                    }
                    _ => {
                        out.insert(key.clone(), schema_v2(value));
                    }
                }
            }
            if out.get("x-kubernetes-int-or-string") == Some(&json!(true))
                && !out.contains_key("type")
            {
                out.insert("type".into(), json!("string"));
                out.insert("format".into(), json!("int-or-string"));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(schema_v2).collect()),
        other => other.clone(),
    }
}

/// `#/components/schemas/X` as `#/definitions/X`.
fn reference_v2(reference: &Value) -> Value {
    let target = reference.as_str().unwrap_or("");
    let name = target.strip_prefix(V3_PREFIX).unwrap_or(target);
    json!(format!("{V2_PREFIX}{name}"))
}

/// A v3 parameter (`schema` holds its type) as a Swagger 2.0 non-body parameter.
fn parameter_v2(parameter: &Value) -> Value {
    let mut out = Map::new();
    if let Some(map) = parameter.as_object() {
        for (key, value) in map {
            match key.as_str() {
                "schema" => {
                    if let Some(schema) = value.as_object() {
                        for (k, v) in schema {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                }
                "style" | "explode" | "example" | "examples" => {}
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
    }
    if out.get("in") == Some(&json!("path")) {
        out.insert("required".into(), json!(true));
    }
    if !out.contains_key("type") {
        out.insert("type".into(), json!("string"));
    }
    Value::Object(out)
}

/// The media types of a v3 `content` map, in order.
fn media_types(content: Option<&Value>) -> Vec<String> {
    content
        .and_then(Value::as_object)
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default()
}

/// The schema of the first media type of a v3 `content` map.
fn content_schema(content: Option<&Value>) -> Option<Value> {
    content
        .and_then(Value::as_object)
        .and_then(|c| c.values().find_map(|m| m.get("schema")))
        .map(schema_v2)
}

fn operation_v2(operation: &Value) -> Value {
    let mut out = Map::new();
    let Some(map) = operation.as_object() else {
        return Value::Object(out);
    };
    let mut parameters: Vec<Value> = map
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(parameter_v2)
        .collect();
    let mut consumes = Vec::new();
    if let Some(body) = map.get("requestBody") {
        consumes = media_types(body.get("content"));
        if let Some(schema) = content_schema(body.get("content")) {
            parameters.insert(
                0,
                json!({"name": "body", "in": "body",
                       "required": body.get("required").cloned().unwrap_or(json!(true)),
                       "schema": schema}),
            );
        }
    }
    let mut produces = BTreeSet::new();
    let mut responses = Map::new();
    if let Some(codes) = map.get("responses").and_then(Value::as_object) {
        for (code, response) in codes {
            let mut out = Map::new();
            out.insert(
                "description".into(),
                response.get("description").cloned().unwrap_or(json!("")),
            );
            for media_type in media_types(response.get("content")) {
                produces.insert(media_type);
            }
            if let Some(schema) = content_schema(response.get("content")) {
                out.insert("schema".into(), schema);
            }
            responses.insert(code.clone(), Value::Object(out));
        }
    }
    for (key, value) in map {
        match key.as_str() {
            "parameters" | "requestBody" | "responses" => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if !consumes.is_empty() {
        out.insert("consumes".into(), json!(consumes));
    }
    if !produces.is_empty() {
        out.insert("produces".into(), json!(produces));
    }
    out.insert("schemes".into(), json!(["https"]));
    if !parameters.is_empty() {
        out.insert("parameters".into(), Value::Array(parameters));
    }
    out.insert("responses".into(), Value::Object(responses));
    Value::Object(out)
}

fn path_item_v2(item: &Value) -> Value {
    let mut out = Map::new();
    let Some(map) = item.as_object() else {
        return Value::Object(out);
    };
    for (key, value) in map {
        match key.as_str() {
            "get" | "put" | "post" | "delete" | "options" | "head" | "patch" => {
                out.insert(key.clone(), operation_v2(value));
            }
            "parameters" => {
                let parameters: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(parameter_v2)
                    .collect();
                out.insert(key.clone(), Value::Array(parameters));
            }
            k if k.starts_with("x-") => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_wrappers_take_swagger_2_form() {
        let v3 = json!({"properties": {
            "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.ObjectMeta"}],
                         "default": {}, "description": "Standard object's metadata."},
            "port": {"x-kubernetes-int-or-string": true},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/io.k8s.Pod"},
                      "nullable": true},
        }});
        let v2 = schema_v2(&v3);
        assert_eq!(
            v2["properties"]["metadata"],
            json!({"$ref": "#/definitions/io.k8s.ObjectMeta", "description": "Standard object's metadata."})
        );
        assert_eq!(
            v2["properties"]["port"],
            json!({"x-kubernetes-int-or-string": true, "type": "string", "format": "int-or-string"})
        );
        assert_eq!(
            v2["properties"]["items"],
            json!({"type": "array", "items": {"$ref": "#/definitions/io.k8s.Pod"}})
        );
    }

    #[test]
    fn a_request_body_becomes_a_body_parameter_and_media_types_consumes_and_produces() {
        let v3 = json!({
            "operationId": "createCoreV1NamespacedPod",
            "parameters": [{"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}}],
            "requestBody": {"required": true, "content": {
                "*/*": {"schema": {"$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"}}}},
            "responses": {"201": {"description": "Created", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"}},
                "application/yaml": {"schema": {"$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"}}}}},
            "x-kubernetes-action": "post",
        });
        let v2 = operation_v2(&v3);
        assert_eq!(v2["consumes"], json!(["*/*"]));
        assert_eq!(
            v2["produces"],
            json!(["application/json", "application/yaml"])
        );
        assert_eq!(
            v2["parameters"][0],
            json!({"name": "body", "in": "body", "required": true,
                   "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.Pod"}})
        );
        assert_eq!(
            v2["parameters"][1],
            json!({"name": "dryRun", "in": "query", "type": "string", "uniqueItems": true})
        );
        assert_eq!(
            v2["responses"]["201"]["schema"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.Pod"
        );
        assert_eq!(v2["x-kubernetes-action"], "post");
    }

    #[test]
    fn the_document_has_every_kind_with_its_group_version_kind() {
        let document = swagger(&super::super::generate());
        assert_eq!(document["swagger"], "2.0");
        let definitions = document["definitions"].as_object().expect("definitions");
        for (name, kind) in [
            ("io.k8s.api.core.v1.Pod", "Pod"),
            ("io.k8s.api.apps.v1.ReplicaSet", "ReplicaSet"),
            ("io.k8s.api.core.v1.Namespace", "Namespace"),
        ] {
            let gvk = &definitions[name]["x-kubernetes-group-version-kind"][0];
            assert_eq!(gvk["kind"], kind, "{name}");
        }
        assert!(document["paths"]["/api/v1/namespaces/{namespace}/pods"]["post"].is_object());
        let text = document.to_string();
        assert!(!text.contains(V3_PREFIX), "every reference is rewritten");
        assert!(
            !text.contains("\"allOf\""),
            "no v3 reference wrappers are left"
        );
    }
}
