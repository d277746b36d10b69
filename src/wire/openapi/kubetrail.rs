//! The OpenAPI v3 document of the log's own API group, `kubetrail.dev/v1alpha1`: `logentries`
//! (the log, with filters, and a watch of new entries), `history` and `why` of one object.
//! Pure, written by hand (these are not Kubernetes kinds, so k8s-openapi has no schemas for
//! them); served and snapshotted with the Kubernetes documents by `wire::openapi`.

use crate::api::{GROUP, VERSION};
use serde_json::{Value, json};

fn param(name: &str, location: &str, description: &str, schema: Value) -> Value {
    let mut p = json!({"name": name, "in": location, "description": description, "schema": schema});
    if location == "path" {
        p["required"] = json!(true);
    }
    p
}

fn string(name: &str, description: &str) -> Value {
    param(
        name,
        "query",
        description,
        json!({"type": "string", "uniqueItems": true}),
    )
}

fn integer(name: &str, description: &str) -> Value {
    param(
        name,
        "query",
        description,
        json!({"type": "integer", "uniqueItems": true}),
    )
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn ok(schema: &str, watch: bool) -> Value {
    let mut content = json!({"application/json": {"schema": schema_ref(schema)}});
    if watch {
        content["application/json;stream=watch"] =
            json!({"schema": schema_ref("dev.kubetrail.v1alpha1.LogEntryWatchEvent")});
    }
    json!({
        "200": {"description": "OK", "content": content},
        "400": {"description": "BadRequest: a malformed filter, reference or time (a Status)"},
        "401": {"description": "Unauthorized"},
        "404": {"description": "NotFound: no such resource type or no event of the object (a Status)"},
    })
}

fn object_params(namespaced: bool) -> Vec<Value> {
    let mut params = vec![
        param(
            "resource",
            "path",
            "the object's resource: plural, singular, short name or kind (pods, pod, po, Pod)",
            json!({"type": "string"}),
        ),
        param(
            "name",
            "path",
            "the object's name",
            json!({"type": "string"}),
        ),
    ];
    if namespaced {
        params.push(param(
            "namespace",
            "path",
            "the object's namespace",
            json!({"type": "string"}),
        ));
    }
    params
}

fn history_op(namespaced: bool) -> Value {
    let mut params = object_params(namespaced);
    params.push(integer(
        "limit",
        "at most this many events (default 1000, at most 10000)",
    ));
    params.push(string(
        "continue",
        "the resourceVersion after which this page starts (the previous page's metadata.continue)",
    ));
    params.push(integer("tail", "only the newest N events"));
    json!({"get": {
        "tags": ["kubetrail_v1alpha1"],
        "operationId": if namespaced { "readKubetrailV1alpha1NamespacedHistory" } else { "readKubetrailV1alpha1History" },
        "description": "every event of one object, oldest first, across deletions and re-creations under the same name, each with who wrote it, what caused it and what it changed",
        "parameters": params,
        "responses": ok("dev.kubetrail.v1alpha1.History", false),
    }})
}

fn why_op(namespaced: bool) -> Value {
    let mut params = object_params(namespaced);
    params.push(string(
        "resourceVersion",
        "the event to explain (default: the creation of the object's newest incarnation)",
    ));
    json!({"get": {
        "tags": ["kubetrail_v1alpha1"],
        "operationId": if namespaced { "readKubetrailV1alpha1NamespacedWhy" } else { "readKubetrailV1alpha1Why" },
        "description": "the causal chain of an event: each link's causedBy, back to a request no worker made",
        "parameters": params,
        "responses": ok("dev.kubetrail.v1alpha1.Why", false),
    }})
}

fn schemas() -> Value {
    let entry_properties = json!({
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object", "description": "name and resourceVersion: the entry's seq", "properties": {
            "name": {"type": "string"}, "resourceVersion": {"type": "string"}}},
        "time": {"type": "string", "description": "when the event was appended, RFC 3339 with nanoseconds, UTC"},
        "type": {"type": "string", "description": "Created, Updated, StatusUpdated, Scaled, Bound, DeletionRequested or Deleted"},
        "eventVersion": {"type": "integer"},
        "involvedObject": {"type": "object", "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "namespace": {"type": "string"},
            "name": {"type": "string"}, "uid": {"type": "string"}}},
        "previousResourceVersion": {"type": "string", "description": "the object's previous event; absent for a creation"},
        "actor": {"type": "string", "description": "the authenticated user or the worker that wrote it"},
        "userAgent": {"type": "string"},
        "fieldManager": {"type": "string"},
        "requestID": {"type": "string"},
        "causedBy": {"type": "string", "description": "for worker writes: the resourceVersion of the event that made the worker act (the newest input that made its decision differ)"},
        "causes": {"type": "array", "description": "for worker writes: every cause, the one causedBy names first, each with what about it mattered", "items": schema_ref("dev.kubetrail.v1alpha1.Cause")},
        "object": {"type": "object", "description": "the object after the event (its last state for Deleted)"},
        "changes": {"type": "array", "description": "history and why only: what changed since the object's previous version", "items": schema_ref("dev.kubetrail.v1alpha1.Change")},
    });
    json!({
        "dev.kubetrail.v1alpha1.LogEntry": {
            "description": "One event of the log.", "type": "object", "properties": entry_properties,
            "x-kubernetes-group-version-kind": [{"group": GROUP, "version": VERSION, "kind": "LogEntry"}],
        },
        "dev.kubetrail.v1alpha1.LogEntryList": {
            "description": "Log entries, oldest first.", "type": "object", "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "metadata": {"type": "object", "properties": {"resourceVersion": {"type": "string"}, "continue": {"type": "string"}, "compaction": schema_ref("dev.kubetrail.v1alpha1.Compaction")}},
                "items": {"type": "array", "items": schema_ref("dev.kubetrail.v1alpha1.LogEntry")},
            },
            "x-kubernetes-group-version-kind": [{"group": GROUP, "version": VERSION, "kind": "LogEntryList"}],
        },
        "dev.kubetrail.v1alpha1.LogEntryWatchEvent": {
            "description": "A new log entry, one JSON object per line.", "type": "object", "required": ["type", "object"],
            "properties": {"type": {"type": "string", "description": "ADDED, or ERROR with a Status"},
                           "object": schema_ref("dev.kubetrail.v1alpha1.LogEntry")},
        },
        "dev.kubetrail.v1alpha1.Cause": {
            "description": "One cause of an event, with what about it mattered.", "type": "object", "required": ["resourceVersion", "reason"],
            "properties": {
                "resourceVersion": {"type": "string", "description": "the event that is the cause"},
                "reason": {"type": "string", "description": "what about it mattered (0 of 1 pods, liveness probe failed)"},
                "involvedObject": {"type": "object", "description": "why only: the object the cause is about", "properties": {
                    "kind": {"type": "string"}, "namespace": {"type": "string"}, "name": {"type": "string"}}},
                "type": {"type": "string", "description": "why only: the cause's event type"},
                "actor": {"type": "string", "description": "why only: who wrote the cause"},
                "time": {"type": "string", "description": "why only: when the cause was appended"},
            },
        },
        "dev.kubetrail.v1alpha1.Compaction": {
            "description": "The newest compaction, when one folded part of the log: the log holds every event after resourceVersion; before it, only each object's newest version of what it folded.",
            "type": "object",
            "properties": {
                "resourceVersion": {"type": "string", "description": "the compaction point"},
                "time": {"type": "string"}, "selection": {"type": "string", "description": "what it folded"},
                "eventsRemoved": {"type": "integer"}, "actor": {"type": "string"},
                "message": {"type": "string", "description": "the line the command-line views print"},
            },
        },
        "dev.kubetrail.v1alpha1.Change": {
            "description": "A leaf added, removed or changed between two versions of an object.", "type": "object",
            "properties": {"op": {"type": "string", "description": "add, remove or change"}, "path": {"type": "string"},
                           "value": {}, "from": {}, "to": {}},
        },
        "dev.kubetrail.v1alpha1.History": {
            "description": "Every event of one object, each with its changes.", "type": "object",
            "properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "metadata": {"type": "object", "properties": {"resourceVersion": {"type": "string"}, "continue": {"type": "string"}, "compaction": schema_ref("dev.kubetrail.v1alpha1.Compaction")}},
                "involvedObject": {"type": "object"},
                "items": {"type": "array", "items": schema_ref("dev.kubetrail.v1alpha1.LogEntry")},
            },
            "x-kubernetes-group-version-kind": [{"group": GROUP, "version": VERSION, "kind": "History"}],
        },
        "dev.kubetrail.v1alpha1.Why": {
            "description": "The causal chain of an event, the event first.", "type": "object",
            "properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "chain": {"type": "array", "items": schema_ref("dev.kubetrail.v1alpha1.LogEntry")},
                "origin": {"type": "object", "properties": {"resourceVersion": {"type": "string"}, "actor": {"type": "string"}, "person": {"type": "boolean"}}},
                "explanation": {"type": "array", "items": {"type": "string"}},
                "compaction": schema_ref("dev.kubetrail.v1alpha1.Compaction"),
            },
            "x-kubernetes-group-version-kind": [{"group": GROUP, "version": VERSION, "kind": "Why"}],
        },
    })
}

/// The document served at `/openapi/v3/apis/kubetrail.dev/v1alpha1`.
pub fn document(kubernetes_version: &str) -> Value {
    let prefix = format!("/apis/{GROUP}/{VERSION}");
    let log_params = vec![
        string(
            "kind",
            "only events of this kind or resource (Pod, pods, rs, ...)",
        ),
        string("namespace", "only events of objects in this namespace"),
        string("name", "only events of objects with this name"),
        string("uid", "only events of the object with this uid"),
        string("actor", "only events written by this user or worker"),
        string(
            "type",
            "only these event types, comma-separated (Created,Deleted)",
        ),
        integer(
            "fromResourceVersion",
            "only events at or after this resourceVersion",
        ),
        integer(
            "toResourceVersion",
            "only events at or before this resourceVersion",
        ),
        string("since", "only events at or after this time (RFC 3339)"),
        string("until", "only events at or before this time (RFC 3339)"),
        integer(
            "limit",
            "at most this many entries (default 500, at most 10000)",
        ),
        string(
            "continue",
            "the resourceVersion after which this page starts (the previous page's metadata.continue)",
        ),
        string("includeObject", "false leaves each entry's object out"),
        param(
            "watch",
            "query",
            "stream new entries as watch events, one JSON object per line",
            json!({"type": "boolean", "uniqueItems": true}),
        ),
        string(
            "resourceVersion",
            "with watch: stream entries after this resourceVersion (default: the newest)",
        ),
        integer(
            "timeoutSeconds",
            "with watch: end the stream after this long",
        ),
    ];
    let paths = json!({
        format!("{prefix}/"): {"get": {
            "tags": ["kubetrail_v1alpha1"], "operationId": "getKubetrailV1alpha1APIResources",
            "description": "get available resources",
            "responses": {"200": {"description": "OK"}},
        }},
        format!("{prefix}/logentries"): {"get": {
            "tags": ["kubetrail_v1alpha1"], "operationId": "listKubetrailV1alpha1LogEntry",
            "description": "list or watch the event log: every write since the first, with its author and cause",
            "x-kubernetes-action": "list",
            "x-kubernetes-group-version-kind": {"group": GROUP, "version": VERSION, "kind": "LogEntry"},
            "parameters": log_params,
            "responses": ok("dev.kubetrail.v1alpha1.LogEntryList", true),
        }},
        format!("{prefix}/history/{{resource}}/{{name}}"): history_op(false),
        format!("{prefix}/namespaces/{{namespace}}/history/{{resource}}/{{name}}"): history_op(true),
        format!("{prefix}/why/{{resource}}/{{name}}"): why_op(false),
        format!("{prefix}/namespaces/{{namespace}}/why/{{resource}}/{{name}}"): why_op(true),
    });
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": kubernetes_version,
                 "description": "kubetrail's event log: history, causes and the raw log"},
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}},
        },
        "security": [{"BearerToken": []}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_inside_the_document() {
        let document = document("v1.32.4");
        let text = document.to_string();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(schemas.contains_key(name), "{name}");
        }
        assert!(document["paths"]["/apis/kubetrail.dev/v1alpha1/logentries"]["get"].is_object());
    }
}
