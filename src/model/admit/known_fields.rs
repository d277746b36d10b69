//! Which fields each kind's type defines, from k8s-openapi's schemas (the same generated
//! definitions its serde impls follow), so that a request body can be checked for fields its
//! kind does not define without decoding it. Pure; the schemas (`model::schemas`) are
//! generated once.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use crate::model::ResourceKind;
use crate::model::schemas::{self, REF_PREFIX};

/// The definitions of every admitted kind's type and of everything they hold.
struct Schemas {
    definitions: Map<String, Value>,
    roots: HashMap<ResourceKind, Value>,
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| {
    let mut generator = schemas::generator();
    let roots = ResourceKind::ALL
        .into_iter()
        .map(|kind| {
            let name = schemas::register(kind, &mut generator);
            (kind, json!({ "$ref": format!("{REF_PREFIX}{name}") }))
        })
        .collect();
    Schemas {
        definitions: generator.take_definitions(true),
        roots,
    }
});

/// Whether `raw` holds a non-null field that `kind`'s type does not define. Never false when
/// the decoder would find one: it follows the same definitions. It may be true for a body the
/// decoder refuses (a wrong type somewhere), which is why a true answer is then checked by
/// decoding.
pub(super) fn may_have_unknown(kind: ResourceKind, raw: &Value) -> bool {
    let schemas = &*SCHEMAS;
    schemas
        .roots
        .get(&kind)
        .is_some_and(|root| schemas.has_unknown(root, raw))
}

impl Schemas {
    /// The schema `schema` stands for: a `$ref` (alone or as the one member of an `allOf`, as
    /// schemars writes a described reference) resolved, anything else as it is.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        // References chain at most a few levels; the bound keeps a malformed table finite.
        for _ in 0..8 {
            let target = schema
                .get("$ref")
                .or_else(|| match schema.get("allOf").and_then(Value::as_array) {
                    Some(all) if all.len() == 1 => all[0].get("$ref"),
                    _ => None,
                })
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
                .and_then(|name| self.definitions.get(name));
            match target {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn has_unknown(&self, schema: &Value, raw: &Value) -> bool {
        let schema = self.resolve(schema);
        match raw {
            Value::Object(fields) => {
                if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                    fields
                        .iter()
                        .filter(|(_, v)| !v.is_null())
                        .any(|(key, value)| {
                            properties
                                .get(key)
                                .is_none_or(|field| self.has_unknown(field, value))
                        })
                } else if let Some(values) =
                    schema.get("additionalProperties").filter(|v| v.is_object())
                {
                    fields
                        .values()
                        .filter(|v| !v.is_null())
                        .any(|value| self.has_unknown(values, value))
                } else {
                    // A scalar's schema, or free-form JSON (`FieldsV1`): the decoder keeps or
                    // refuses it whole and never drops a field inside it.
                    false
                }
            }
            Value::Array(items) => schema
                .get("items")
                .is_some_and(|item| items.iter().any(|value| self.has_unknown(item, value))),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::unknown_fields_decoded;
    use super::*;

    /// An object that sets every field `schema` defines (down to a depth), with values the
    /// decoder accepts.
    fn every_field(schemas: &Schemas, schema: &Value, depth: usize) -> Value {
        let schema = schemas.resolve(schema);
        if depth > 14 {
            return Value::Null;
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            return properties
                .iter()
                .map(|(k, s)| (k.clone(), every_field(schemas, s, depth + 1)))
                .filter(|(_, v)| !v.is_null())
                .collect::<Map<_, _>>()
                .into();
        }
        if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            return json!({"key": every_field(schemas, values, depth + 1)});
        }
        if schema.get("x-kubernetes-int-or-string").is_some() {
            return json!(1);
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("array") => json!([every_field(schemas, &schema["items"], depth + 1)]),
            Some("object") => json!({"f:spec": {".": {}}}),
            Some("integer") => json!(1),
            Some("number") => json!(1.5),
            Some("boolean") => json!(true),
            Some("string") => match schema.get("format").and_then(Value::as_str) {
                Some("date-time") => json!("2025-01-01T00:00:00Z"),
                Some("byte") => json!("eA=="),
                _ => json!("x"),
            },
            // Quantity: a string the decoder takes as it is.
            _ => json!("1"),
        }
    }

    /// Every object inside `value`, by its path, to plant an unknown field in.
    fn object_paths(value: &Value, path: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                out.push(path.clone());
                for (k, v) in map {
                    object_paths(v, format!("{path}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    object_paths(v, format!("{path}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_walk_knows_exactly_the_fields_the_decoder_keeps() {
        let schemas = &*SCHEMAS;
        for kind in ResourceKind::ALL {
            let mut full = every_field(schemas, &schemas.roots[&kind], 0);
            full["apiVersion"] = json!(kind.api_version());
            full["kind"] = json!(kind.as_str());
            if let Err(e) = super::super::admit(kind, full.clone(), super::super::Admission::Create)
            {
                // Validation may refuse the values; only a decode error means the sample is
                // not what the type holds.
                assert!(
                    !matches!(e, super::super::AdmitError::Decode(_)),
                    "{kind}: {e:?}"
                );
            }
            assert!(
                unknown_fields_decoded(kind, &full).is_empty(),
                "{kind}: {:?}",
                unknown_fields_decoded(kind, &full)
            );
            assert!(!may_have_unknown(kind, &full), "{kind}");
            // A field planted in any object the type holds is found by both, except inside
            // free-form JSON (`FieldsV1`), which the decoder keeps whole.
            let mut paths = Vec::new();
            object_paths(&full, String::new(), &mut paths);
            let mut planted = 0;
            for path in paths {
                let mut body = full.clone();
                if let Some(Value::Object(map)) = body.pointer_mut(&path) {
                    map.insert("zzUnknown".to_string(), json!(1));
                }
                let decoded = unknown_fields_decoded(kind, &body);
                assert_eq!(
                    may_have_unknown(kind, &body),
                    !decoded.is_empty(),
                    "{kind} {path}: {decoded:?}"
                );
                planted += usize::from(!decoded.is_empty());
            }
            // ConfigMaps and Secrets hold maps of strings: metadata's objects are all there is.
            let least = match kind {
                ResourceKind::ConfigMap | ResourceKind::Secret => 4,
                _ => 5,
            };
            assert!(planted >= least, "{kind}: {planted}");
        }
    }

    #[test]
    fn nulls_and_undecodable_bodies() {
        let raw = json!({"metadata": {"name": "x", "foo": null}, "spec": {"containers": [null]}});
        assert!(!may_have_unknown(ResourceKind::Pod, &raw));
        // The walk may flag a body the decoder refuses; `unknown_fields` then reports nothing.
        let bad = json!({"spec": {"containers": "no", "foo": 1}});
        assert!(may_have_unknown(ResourceKind::Pod, &bad));
        assert!(super::super::unknown_fields(ResourceKind::Pod, &bad).is_empty());
    }
}
