//! The OpenAPI v3 documents kube-apiserver serves at `/openapi/v3/<group-version>`, for the
//! group-versions kubetrail serves: schemas from k8s-openapi's `JsonSchema` impls, named the
//! Kubernetes way and carrying the extensions kubectl reads (`x-kubernetes-group-version-kind`,
//! patch strategies and merge keys, list and map types), and every operation the router serves.
//! Pure: built once from the kind table, serialized deterministically and hashed; no HTTP.

use crate::model::kinds::{ResourceKind, Subresource};
use crate::model::schemas::{self, REF_PREFIX as SCHEMAS, name_of};
use crate::model::strategic::{self, FieldStrategy};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::{Binding, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIResourceList, DeleteOptions, ListMeta, Patch, Status, WatchEvent,
};
use schemars::generate::SchemaGenerator;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

pub mod gnostic;
pub mod kubetrail;
pub mod v2;

/// `info.version` of every document: the Kubernetes version `/version` reports.
pub const KUBERNETES_VERSION: &str = "v1.32.4";

/// A group-version with a document of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupVersion {
    /// API group; "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// The document's path under `/openapi/v3/`: `api/v1`, `apis/apps/v1`.
    pub path: &'static str,
    /// Where the document is served: `/openapi/v3/<path>`.
    pub url: &'static str,
}

impl GroupVersion {
    /// The URL prefix of the group-version's resources: `/api/v1`, `/apis/apps/v1`.
    pub fn url_prefix(self) -> String {
        format!("/{}", self.path)
    }

    /// The snapshot file name under `openapi/`: `api__v1.json`, `apis__apps__v1.json`.
    pub fn file_name(self) -> String {
        format!("{}.json", self.path.replace('/', "__"))
    }

    /// `CoreV1`, `AppsV1`: how operation ids name the group-version.
    fn id(self) -> String {
        format!(
            "{}{}",
            capitalize(self.short_group()),
            capitalize(self.version)
        )
    }

    /// `core_v1`, `apps_v1`: the operations' tag.
    fn tag(self) -> String {
        format!("{}_{}", self.short_group(), self.version)
    }

    fn short_group(self) -> &'static str {
        match self.group {
            "" => "core",
            group => group.split('.').next().unwrap_or(group),
        }
    }
}

/// The group-versions with a document, in index order.
pub const GROUP_VERSIONS: [GroupVersion; 6] = [
    GroupVersion {
        group: "",
        version: "v1",
        path: "api/v1",
        url: "/openapi/v3/api/v1",
    },
    GroupVersion {
        group: "apps",
        version: "v1",
        path: "apis/apps/v1",
        url: "/openapi/v3/apis/apps/v1",
    },
    GroupVersion {
        group: "autoscaling",
        version: "v1",
        path: "apis/autoscaling/v1",
        url: "/openapi/v3/apis/autoscaling/v1",
    },
    GroupVersion {
        group: "coordination.k8s.io",
        version: "v1",
        path: "apis/coordination.k8s.io/v1",
        url: "/openapi/v3/apis/coordination.k8s.io/v1",
    },
    GroupVersion {
        group: "discovery.k8s.io",
        version: "v1",
        path: "apis/discovery.k8s.io/v1",
        url: "/openapi/v3/apis/discovery.k8s.io/v1",
    },
    // The log's own group: its document is written in `kubetrail`.
    GroupVersion {
        group: crate::api::GROUP,
        version: crate::api::VERSION,
        path: "apis/kubetrail.dev/v1alpha1",
        url: "/openapi/v3/apis/kubetrail.dev/v1alpha1",
    },
];

/// One served document: its bytes (compact JSON, what `/openapi/v3/<path>` answers) and their
/// hash (uppercase hex SHA-512, the `hash` query and the ETag).
#[derive(Debug, Clone)]
pub struct Document {
    pub group_version: GroupVersion,
    pub json: Vec<u8>,
    pub hash: String,
}

impl Document {
    /// `/openapi/v3/<path>?hash=<hash>`, as the index lists it.
    pub fn server_relative_url(&self) -> String {
        format!("{}?hash={}", self.group_version.url, self.hash)
    }
}

/// The Swagger 2.0 document `/openapi/v2` serves, in both of its encodings, each with its
/// hash (the ETag).
#[derive(Debug, Clone)]
pub struct SwaggerDocument {
    pub json: Vec<u8>,
    pub json_hash: String,
    /// gnostic's `openapi.v2.Document`.
    pub protobuf: Vec<u8>,
    pub protobuf_hash: String,
}

/// Every document plus the `/openapi/v3` index that points at them, and the v2 document.
#[derive(Debug, Clone)]
pub struct Documents {
    pub documents: Vec<Document>,
    pub v2: SwaggerDocument,
    /// `{"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=…"},…}}`
    pub index: Vec<u8>,
    /// Hash of `index`, for its ETag.
    pub index_hash: String,
}

impl Documents {
    /// The document at `path` (`api/v1`, `apis/apps/v1`, ...).
    pub fn get(&self, path: &str) -> Option<&Document> {
        self.documents.iter().find(|d| d.group_version.path == path)
    }
}

static DOCUMENTS: LazyLock<Result<Documents, String>> = LazyLock::new(build);

/// The documents, generated on first use and kept for the life of the process.
pub fn documents() -> Result<&'static Documents, &'static str> {
    DOCUMENTS.as_ref().map_err(String::as_str)
}

fn build() -> Result<Documents, String> {
    let mut documents = Vec::new();
    let mut paths = Map::new();
    let generated = generate();
    let swagger = sorted(&v2::swagger(&generated));
    let v2_json = encode(&swagger).map_err(|e| format!("encoding the v2 document: {e}"))?;
    let v2_protobuf = gnostic::document(&swagger);
    let v2 = SwaggerDocument {
        json_hash: hash(&v2_json),
        json: v2_json,
        protobuf_hash: hash(&v2_protobuf),
        protobuf: v2_protobuf,
    };
    for (group_version, document) in generated {
        let json =
            encode(&document).map_err(|e| format!("encoding {}: {e}", group_version.path))?;
        let document = Document {
            group_version,
            hash: hash(&json),
            json,
        };
        paths.insert(
            group_version.path.to_string(),
            json!({ "serverRelativeURL": document.server_relative_url() }),
        );
        documents.push(document);
    }
    let index =
        encode(&json!({ "paths": paths })).map_err(|e| format!("encoding the index: {e}"))?;
    Ok(Documents {
        index_hash: hash(&index),
        index,
        documents,
        v2,
    })
}

/// The served bytes of a document: compact JSON with every object's keys sorted, so the same
/// document always gives the same bytes and hash.
pub fn encode(document: &Value) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&sorted(document))
}

/// Uppercase hex SHA-512, as kube-openapi hashes its documents.
pub fn hash(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA512, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// A copy of `value` whose objects have their keys in sorted order, whatever map type
/// `serde_json` was built with.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let entries: BTreeMap<&String, &Value> = map.iter().collect();
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Generate every document afresh, in `GROUP_VERSIONS` order.
pub fn generate() -> Vec<(GroupVersion, Value)> {
    let schemas = Schemas::generate();
    GROUP_VERSIONS
        .into_iter()
        .map(|gv| match gv.group {
            crate::api::GROUP => (gv, kubetrail::document(KUBERNETES_VERSION)),
            _ => (gv, schemas.document(gv)),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Schemas

/// A kind with a schema of its own and where it belongs.
#[derive(Debug, Clone)]
struct KindSchema {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    /// The schema's name: `io.k8s.api.core.v1.Pod`.
    name: String,
}

/// All schemas of every document, annotated, plus the kinds they describe.
struct Schemas {
    definitions: Map<String, Value>,
    /// Served resource kinds and the kinds of subresource bodies (Binding, Scale).
    kinds: Vec<KindSchema>,
    list_meta: String,
    status: String,
    delete_options: String,
    watch_event: String,
    patch: String,
    api_resource_list: String,
}

impl Schemas {
    fn generate() -> Schemas {
        let mut generator = schemas::generator();
        let mut kinds: Vec<KindSchema> = ResourceKind::ALL
            .into_iter()
            .map(|kind| KindSchema {
                group: kind.group(),
                version: kind.version(),
                kind: kind.as_str(),
                name: schemas::register(kind, &mut generator),
            })
            .collect();
        for kind in ResourceKind::ALL {
            for sub in kind.subresources() {
                let (group, version) = subresource_group_version(kind, sub);
                if kinds
                    .iter()
                    .any(|k| k.group == group && k.version == version && k.kind == sub.kind)
                {
                    continue;
                }
                if let Some(name) = body_schema(group, sub.kind, &mut generator) {
                    kinds.push(KindSchema {
                        group,
                        version,
                        kind: sub.kind,
                        name,
                    });
                }
            }
        }
        let list_meta = name_of::<ListMeta>(&mut generator);
        let status = name_of::<Status>(&mut generator);
        let delete_options = name_of::<DeleteOptions>(&mut generator);
        let watch_event = name_of::<WatchEvent<Pod>>(&mut generator);
        let patch = name_of::<Patch>(&mut generator);
        let api_resource_list = name_of::<APIResourceList>(&mut generator);
        let mut schemas = Schemas {
            definitions: generator.take_definitions(true),
            kinds,
            list_meta,
            status,
            delete_options,
            watch_event,
            patch,
            api_resource_list,
        };
        schemas.add_scalar_shapes();
        schemas.relax_required();
        schemas.add_topologies();
        schemas.add_patch_strategies();
        schemas.add_group_version_kinds();
        schemas.add_lists();
        schemas
    }

    /// k8s-openapi requires fields its Rust types hold without `Option` (every object's
    /// `metadata`, the `name` of local object references) that Kubernetes leaves optional;
    /// `kubectl explain` would print them as `-required-`.
    fn relax_required(&mut self) {
        for (name, schema) in self.definitions.iter_mut() {
            let Value::Object(schema) = schema else {
                continue;
            };
            let Some(Value::Array(required)) = schema.get_mut("required") else {
                continue;
            };
            required.retain(|field| {
                let field = field.as_str().unwrap_or("");
                field != "metadata"
                    && !(field == "name" && OPTIONAL_NAME.iter().any(|t| type_name(t) == *name))
            });
            if required.is_empty() {
                schema.remove("required");
            }
        }
    }

    /// `Quantity` and `IntOrString` as kube-apiserver's v3 documents describe them (k8s-openapi
    /// gives them no type, only `x-kubernetes-int-or-string`).
    fn add_scalar_shapes(&mut self) {
        let shapes = [
            (
                "io.k8s.apimachinery.pkg.api.resource.Quantity",
                json!({ "oneOf": [{ "type": "string" }, { "type": "number" }] }),
            ),
            (
                "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                json!({
                    "format": "int-or-string",
                    "oneOf": [{ "type": "integer" }, { "type": "string" }],
                }),
            ),
        ];
        for (name, shape) in shapes {
            if let Some(Value::Object(schema)) = self.definitions.get_mut(name)
                && let Value::Object(shape) = shape
            {
                schema.remove("x-kubernetes-int-or-string");
                schema.extend(shape);
            }
        }
    }

    /// `<Kind>List` for every served resource kind, shaped like kube-apiserver's.
    fn add_lists(&mut self) {
        let type_meta = self.type_meta();
        for kind in ResourceKind::ALL {
            let Some(item) = self.resource(kind).map(|k| k.name.clone()) else {
                continue;
            };
            let mut properties = type_meta.clone();
            properties.insert(
                "items".to_string(),
                json!({
                    "description": format!("List of {}.", kind.plural()),
                    "type": "array",
                    "items": reference(&item),
                }),
            );
            properties.insert(
                "metadata".to_string(),
                json!({
                    "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                    "allOf": [reference(&self.list_meta)],
                }),
            );
            self.definitions.insert(
                list_name(&item),
                json!({
                    "description": format!("{kind}List is a list of {kind} objects."),
                    "type": "object",
                    "required": ["items"],
                    "properties": properties,
                    "x-kubernetes-group-version-kind": [gvk(kind.group(), kind.version(), &format!("{kind}List"))],
                }),
            );
        }
    }

    /// `apiVersion` and `kind` as the resource schemas describe them.
    fn type_meta(&self) -> Map<String, Value> {
        let pod = self.resource(ResourceKind::Pod).map(|k| k.name.as_str());
        let properties = pod
            .and_then(|name| self.definitions.get(name))
            .and_then(|pod| pod.get("properties"));
        ["apiVersion", "kind"]
            .into_iter()
            .map(|field| {
                let schema = properties
                    .and_then(|p| p.get(field))
                    .cloned()
                    .unwrap_or_else(|| json!({ "type": "string" }));
                (field.to_string(), schema)
            })
            .collect()
    }

    /// `x-kubernetes-group-version-kind` on every kind's schema (an array, as kube-apiserver
    /// writes it); meta types used by every group-version list each of them.
    fn add_group_version_kinds(&mut self) {
        let mut marks: Vec<(String, Vec<Value>)> = self
            .kinds
            .iter()
            .map(|k| (k.name.clone(), vec![gvk(k.group, k.version, k.kind)]))
            .collect();
        marks.push((self.status.clone(), vec![gvk("", "v1", "Status")]));
        marks.push((
            self.api_resource_list.clone(),
            vec![gvk("", "v1", "APIResourceList")],
        ));
        for (name, kind) in [
            (&self.delete_options, "DeleteOptions"),
            (&self.watch_event, "WatchEvent"),
        ] {
            let all = GROUP_VERSIONS
                .iter()
                .filter(|gv| gv.group != crate::api::GROUP)
                .map(|gv| gvk(gv.group, gv.version, kind))
                .collect();
            marks.push((name.clone(), all));
        }
        for (name, gvks) in marks {
            if let Some(Value::Object(schema)) = self.definitions.get_mut(&name) {
                schema.insert(
                    "x-kubernetes-group-version-kind".to_string(),
                    Value::Array(gvks),
                );
            }
        }
    }

    /// Server-side apply list and map semantics: the table below, and `atomic` for every other
    /// list field of the object types (Kubernetes declares a list type on each of them).
    fn add_topologies(&mut self) {
        for (schema, extension) in TYPE_EXTENSIONS {
            if let Some(Value::Object(schema)) = self.definitions.get_mut(&type_name(schema))
                && let Value::Object(extensions) = extension.to_json()
            {
                schema.extend(extensions);
            }
        }
        let object_types = self.closure(self.kinds.iter().map(|k| k.name.clone()).collect());
        for name in object_types.keys() {
            let Some(Value::Object(properties)) = self
                .definitions
                .get_mut(name)
                .and_then(|schema| schema.get_mut("properties"))
            else {
                continue;
            };
            for property in properties.values_mut() {
                if let Value::Object(property) = property
                    && property.get("type").and_then(Value::as_str) == Some("array")
                {
                    property
                        .entry("x-kubernetes-list-type")
                        .or_insert_with(|| json!("atomic"));
                }
            }
        }
        for (schema, field, topology) in FIELD_TOPOLOGIES {
            let Some(property) = self.property_mut(&type_name(schema), field) else {
                continue;
            };
            match topology {
                Topology::ListMap(keys) => {
                    property.insert("x-kubernetes-list-type".into(), json!("map"));
                    property.insert("x-kubernetes-list-map-keys".into(), json!(keys));
                }
                Topology::ListSet => {
                    property.insert("x-kubernetes-list-type".into(), json!("set"));
                }
                Topology::AtomicMap => {
                    property.insert("x-kubernetes-map-type".into(), json!("atomic"));
                }
            }
        }
    }

    /// `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` from the strategic merge
    /// patch table (`strategic::field_strategy`), found by walking each kind's fields.
    fn add_patch_strategies(&mut self) {
        for (schema, field, strategy) in self.patch_strategies() {
            let Some(property) = self.property_mut(&schema, &field) else {
                continue;
            };
            match strategy {
                FieldStrategy::MergeList { key, retain_keys } => {
                    let strategy = if retain_keys {
                        "merge,retainKeys"
                    } else {
                        "merge"
                    };
                    property.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
                    property.insert("x-kubernetes-patch-merge-key".into(), json!(key));
                }
                FieldStrategy::MergePrimitives => {
                    property.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
                }
                FieldStrategy::AtomicMap => {
                    property.insert("x-kubernetes-map-type".into(), json!("atomic"));
                }
                FieldStrategy::Replace | FieldStrategy::Map => {}
            }
        }
    }

    /// (schema, field, strategy) for every field of a served kind whose patch strategy is not
    /// the default, keyed by where the field is declared; the first path to reach a field wins.
    fn patch_strategies(&self) -> Vec<(String, String, FieldStrategy)> {
        let mut found: BTreeMap<(String, String), FieldStrategy> = BTreeMap::new();
        for kind in ResourceKind::ALL {
            if let Some(root) = self.resource(kind) {
                let mut path = Vec::new();
                self.walk(kind.as_str(), &root.name, &mut path, &mut found);
            }
        }
        found
            .into_iter()
            .map(|((schema, field), strategy)| (schema, field, strategy))
            .collect()
    }

    fn walk(
        &self,
        kind: &str,
        schema: &str,
        path: &mut Vec<String>,
        found: &mut BTreeMap<(String, String), FieldStrategy>,
    ) {
        // Kubernetes types nest about a dozen levels deep; the bound only guards a cycle.
        if path.len() > 32 {
            return;
        }
        let Some(Value::Object(properties)) = self
            .definitions
            .get(schema)
            .and_then(|s| s.get("properties"))
        else {
            return;
        };
        for (field, property) in properties {
            path.push(field.clone());
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            let strategy = strategic::field_strategy(kind, &segments);
            if !matches!(strategy, FieldStrategy::Map | FieldStrategy::Replace) {
                found
                    .entry((schema.to_string(), field.clone()))
                    .or_insert(strategy);
            }
            if let Some(target) = referenced_schema(property) {
                self.walk(kind, target, path, found);
            }
            path.pop();
        }
    }

    fn property_mut(&mut self, schema: &str, field: &str) -> Option<&mut Map<String, Value>> {
        match self
            .definitions
            .get_mut(schema)?
            .get_mut("properties")?
            .get_mut(field)?
        {
            Value::Object(property) => Some(property),
            _ => None,
        }
    }

    fn resource(&self, kind: ResourceKind) -> Option<&KindSchema> {
        self.kind(kind.group(), kind.version(), kind.as_str())
    }

    fn kind(&self, group: &str, version: &str, kind: &str) -> Option<&KindSchema> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.version == version && k.kind == kind)
    }

    /// The document of one group-version: its operations and the schemas they reach.
    fn document(&self, gv: GroupVersion) -> Value {
        let paths = self.paths(gv);
        let mut roots: BTreeSet<String> = [
            &self.status,
            &self.delete_options,
            &self.watch_event,
            &self.patch,
        ]
        .into_iter()
        .cloned()
        .collect();
        roots.extend(
            self.kinds
                .iter()
                .filter(|k| k.group == gv.group && k.version == gv.version)
                .map(|k| k.name.clone()),
        );
        collect_refs(&Value::Object(paths.clone()), &mut roots);
        let schemas = self.closure(roots);
        json!({
            "openapi": "3.0.0",
            "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "BearerToken": {
                        "type": "apiKey",
                        "description": "Bearer Token authentication",
                        "name": "authorization",
                        "in": "header",
                    },
                },
            },
            "security": [{ "BearerToken": [] }],
        })
    }

    /// The named schemas and every schema they reference, transitively.
    fn closure(&self, roots: BTreeSet<String>) -> Map<String, Value> {
        let mut pending: Vec<String> = roots.into_iter().collect();
        let mut schemas = Map::new();
        while let Some(name) = pending.pop() {
            if schemas.contains_key(&name) {
                continue;
            }
            let Some(schema) = self.definitions.get(&name) else {
                continue;
            };
            let mut refs = BTreeSet::new();
            collect_refs(schema, &mut refs);
            pending.extend(refs);
            schemas.insert(name, schema.clone());
        }
        schemas
    }

    // -----------------------------------------------------------------------------------------
    // Paths

    fn paths(&self, gv: GroupVersion) -> Map<String, Value> {
        let mut paths = Map::new();
        let kinds: Vec<ResourceKind> = ResourceKind::ALL
            .into_iter()
            .filter(|k| k.group() == gv.group && k.version() == gv.version)
            .collect();
        if kinds.is_empty() {
            return paths;
        }
        let resources = json!({
            "tags": [gv.tag()],
            "description": "get available resources",
            "operationId": format!("get{}APIResources", gv.id()),
            "responses": responses(&[OK], &self.api_resource_list, OBJECT_TYPES),
        });
        paths.insert(
            format!("{}/", gv.url_prefix()),
            path_item(Vec::new(), vec![("get", resources)]),
        );
        for kind in kinds {
            if let Some(schema) = self.resource(kind) {
                self.resource_paths(gv, kind, &schema.name, &mut paths);
            }
        }
        paths
    }

    /// The collection, the object and its subresources, with the verbs the kind table gives.
    fn resource_paths(
        &self,
        gv: GroupVersion,
        kind: ResourceKind,
        schema: &str,
        paths: &mut Map<String, Value>,
    ) {
        let namespaced = kind.namespaced();
        let scope = if namespaced { "Namespaced" } else { "" };
        let collection = match namespaced {
            true => format!(
                "{}/namespaces/{{namespace}}/{}",
                gv.url_prefix(),
                kind.plural()
            ),
            false => format!("{}/{}", gv.url_prefix(), kind.plural()),
        };
        let item = format!("{collection}/{{name}}");
        let parameters = |name: bool| {
            let mut parameters = Vec::new();
            if name {
                parameters.push(path_param("name", &format!("name of the {kind}")));
            }
            if namespaced {
                parameters.push(path_param(
                    "namespace",
                    "object name and auth scope, such as for teams and projects",
                ));
            }
            parameters.push(query_param("pretty"));
            parameters
        };
        let subject = Subject {
            gv,
            kind,
            name: format!("{scope}{kind}"),
            subresource: None,
            gvk: gvk(kind.group(), kind.version(), kind.as_str()),
            schema,
        };
        let operations = |verbs: &[Verb]| -> Vec<(&'static str, Value)> {
            verbs
                .iter()
                .filter(|verb| kind.verbs().contains(&verb.name()))
                .map(|verb| self.operation(*verb, &subject))
                .collect()
        };
        let ops = operations(&[Verb::List, Verb::Create, Verb::DeleteCollection]);
        if !ops.is_empty() {
            paths.insert(collection, path_item(parameters(false), ops));
        }
        let ops = operations(&[Verb::Get, Verb::Update, Verb::Patch, Verb::Delete]);
        if !ops.is_empty() {
            paths.insert(item.clone(), path_item(parameters(true), ops));
        }
        if namespaced && kind.verbs().contains(&"list") {
            let all = Subject {
                name: format!("{kind}ForAllNamespaces"),
                ..subject.clone()
            };
            // Path-level query parameters, as kube-apiserver lists them for these paths.
            let mut parameters: Vec<Value> = LIST_QUERY.iter().map(|q| query_param(q)).collect();
            parameters.push(query_param("pretty"));
            parameters.sort_by_key(|p| p["name"].as_str().map(str::to_string));
            let (method, mut op) = self.operation(Verb::List, &all);
            if let Value::Object(op) = &mut op {
                op.remove("parameters");
            }
            paths.insert(
                format!("{}/{}", gv.url_prefix(), kind.plural()),
                path_item(parameters, vec![(method, op)]),
            );
        }
        // Log, exec and attach stream bytes, not objects; their connect operations are not
        // described here.
        for sub in kind.subresources().iter().filter(|s| !s.is_stream()) {
            let (group, version) = subresource_group_version(kind, sub);
            let Some(body) = self.kind(group, version, sub.kind) else {
                continue;
            };
            let subject = Subject {
                name: format!("{scope}{kind}{}", capitalize(sub.name)),
                subresource: Some(sub.name),
                gvk: gvk(group, version, sub.kind),
                schema: &body.name,
                ..subject.clone()
            };
            let ops: Vec<(&'static str, Value)> =
                [Verb::Create, Verb::Get, Verb::Update, Verb::Patch]
                    .into_iter()
                    .filter(|verb| sub.verbs.contains(&verb.name()))
                    .map(|verb| self.operation(verb, &subject))
                    .collect();
            if !ops.is_empty() {
                paths.insert(
                    format!("{item}/{}", sub.name),
                    path_item(parameters(true), ops),
                );
            }
        }
    }

    /// One operation on `subject`, as kube-apiserver describes it: its method, and the operation
    /// object with `operationId`, `x-kubernetes-action` and `x-kubernetes-group-version-kind`.
    fn operation(&self, verb: Verb, subject: &Subject) -> (&'static str, Value) {
        let (kind, schema) = (subject.kind, subject.schema);
        let a = article(kind.as_str());
        let the = match subject.subresource {
            Some(sub) => format!("{sub} of the specified {kind}"),
            None => format!("the specified {kind}"),
        };
        let description = match (verb, subject.subresource) {
            (Verb::List, _) => format!("list or watch objects of kind {kind}"),
            (Verb::Create, Some(sub)) => format!("create {sub} of {a} {kind}"),
            (Verb::Create, None) => format!("create {a} {kind}"),
            (Verb::DeleteCollection, _) => format!("delete collection of {kind}"),
            (Verb::Get, _) => format!("read {the}"),
            (Verb::Update, _) => format!("replace {the}"),
            (Verb::Patch, _) => format!("partially update {the}"),
            (Verb::Delete, _) => format!("delete {a} {kind}"),
        };
        let request = match verb {
            Verb::List | Verb::Get => None,
            Verb::Create | Verb::Update => Some(request_body(schema, BODY_TYPES)),
            Verb::Patch => Some(request_body(&self.patch, PATCH_TYPES)),
            Verb::Delete | Verb::DeleteCollection => {
                Some(request_body(&self.delete_options, &[JSON]))
            }
        };
        let list = list_name(schema);
        let (response, media_types) = match verb {
            Verb::List => (list.as_str(), LIST_TYPES),
            Verb::DeleteCollection => (self.status.as_str(), OBJECT_TYPES),
            _ => (schema, OBJECT_TYPES),
        };
        let collection = match verb {
            Verb::DeleteCollection => "Collection",
            _ => "",
        };
        let id = format!(
            "{}{}{collection}{}",
            verb.id(),
            subject.gv.id(),
            subject.name
        );
        let mut op = Map::new();
        op.insert("tags".into(), json!([subject.gv.tag()]));
        op.insert("description".into(), json!(description));
        op.insert("operationId".into(), json!(id));
        if !verb.query().is_empty() {
            let parameters = verb.query().iter().map(|q| query_param(q)).collect();
            op.insert("parameters".into(), parameters);
        }
        if let Some(request) = request {
            op.insert("requestBody".into(), request);
        }
        let responses = responses(verb.codes(), response, media_types);
        op.insert("responses".into(), responses);
        op.insert("x-kubernetes-action".into(), json!(verb.action()));
        op.insert(
            "x-kubernetes-group-version-kind".into(),
            subject.gvk.clone(),
        );
        (verb.method(), Value::Object(op))
    }
}

/// The verbs of the kind table, as operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    List,
    Create,
    DeleteCollection,
    Get,
    Update,
    Patch,
    Delete,
}

impl Verb {
    /// The verb as `ResourceKind::verbs` and `Subresource::verbs` name it.
    fn name(self) -> &'static str {
        match self {
            Verb::List => "list",
            Verb::Create => "create",
            Verb::DeleteCollection => "deletecollection",
            Verb::Get => "get",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Verb::List | Verb::Get => "get",
            Verb::Create => "post",
            Verb::Update => "put",
            Verb::Patch => "patch",
            Verb::Delete | Verb::DeleteCollection => "delete",
        }
    }

    /// `x-kubernetes-action`.
    fn action(self) -> &'static str {
        match self {
            Verb::List => "list",
            Verb::DeleteCollection => "deletecollection",
            Verb::Get | Verb::Create | Verb::Update | Verb::Patch | Verb::Delete => self.method(),
        }
    }

    /// How an operation id starts: `listCoreV1NamespacedPod`, `readCoreV1Node`.
    fn id(self) -> &'static str {
        match self {
            Verb::List => "list",
            Verb::Create => "create",
            Verb::DeleteCollection | Verb::Delete => "delete",
            Verb::Get => "read",
            Verb::Update => "replace",
            Verb::Patch => "patch",
        }
    }

    fn query(self) -> &'static [&'static str] {
        match self {
            Verb::List => LIST_QUERY,
            Verb::Create | Verb::Update => WRITE_QUERY,
            Verb::Patch => PATCH_QUERY,
            Verb::Delete => DELETE_QUERY,
            Verb::DeleteCollection => DELETE_COLLECTION_QUERY,
            Verb::Get => &[],
        }
    }

    fn codes(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Verb::List | Verb::Get | Verb::DeleteCollection => &[OK],
            Verb::Create => &[OK, CREATED, ACCEPTED],
            Verb::Update | Verb::Patch => &[OK, CREATED],
            Verb::Delete => &[OK, ACCEPTED],
        }
    }
}

/// What an operation acts on.
#[derive(Debug, Clone)]
struct Subject<'a> {
    gv: GroupVersion,
    kind: ResourceKind,
    /// The operation id after verb and group-version: `NamespacedPod`, `NodeStatus`,
    /// `PodForAllNamespaces`.
    name: String,
    subresource: Option<&'static str>,
    /// `x-kubernetes-group-version-kind` (a single object on operations).
    gvk: Value,
    /// The schema of the object read or written.
    schema: &'a str,
}

/// The group and version of a subresource's body: its own, or else its parent's.
fn subresource_group_version(
    parent: ResourceKind,
    sub: &Subresource,
) -> (&'static str, &'static str) {
    match sub.version {
        "" => (parent.group(), parent.version()),
        version => (sub.group, version),
    }
}

/// The type of a subresource body that is not a served kind.
fn body_schema(group: &str, kind: &str, generator: &mut SchemaGenerator) -> Option<String> {
    match (group, kind) {
        ("", "Binding") => Some(name_of::<Binding>(generator)),
        ("autoscaling", "Scale") => Some(name_of::<Scale>(generator)),
        ("authentication.k8s.io", "TokenRequest") => Some(name_of::<TokenRequest>(generator)),
        _ => None,
    }
}

/// `io.k8s.api.core.v1.Pod` → `io.k8s.api.core.v1.PodList`.
fn list_name(item: &str) -> String {
    format!("{item}List")
}

fn reference(schema: &str) -> Value {
    json!({ "$ref": format!("{SCHEMAS}{schema}") })
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "version": version, "kind": kind })
}

/// The schema a property refers to: itself, its list items, or through `allOf`.
fn referenced_schema(property: &Value) -> Option<&str> {
    direct_reference(property).or_else(|| direct_reference(property.get("items")?))
}

fn direct_reference(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .or_else(|| schema.get("allOf")?.get(0)?.get("$ref"))
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(SCHEMAS))
}

fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(SCHEMAS) {
                            refs.insert(name.to_string());
                        }
                    }
                    _ => collect_refs(value, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('A' | 'E' | 'I' | 'O' | 'U') => "an",
        _ => "a",
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

/// Response media types of one object, of a list (which can also stream a watch), and of
/// request bodies.
const JSON: &str = "application/json";
const OBJECT_TYPES: &[&str] = &[JSON, "application/yaml"];
const LIST_TYPES: &[&str] = &[JSON, "application/json;stream=watch", "application/yaml"];
const BODY_TYPES: &[&str] = &[JSON, "application/yaml"];
const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// The query parameters of each operation kind.
const LIST_QUERY: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];
const WRITE_QUERY: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_QUERY: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];
const DELETE_QUERY: &[&str] = &["dryRun", "gracePeriodSeconds", "propagationPolicy"];
const DELETE_COLLECTION_QUERY: &[&str] = &[
    "continue",
    "dryRun",
    "fieldSelector",
    "gracePeriodSeconds",
    "labelSelector",
    "limit",
    "propagationPolicy",
    "resourceVersion",
    "resourceVersionMatch",
    "timeoutSeconds",
];

/// Every query parameter: name, schema type, description.
const QUERY_PARAMETERS: &[(&str, &str, &str)] = &[
    (
        "allowWatchBookmarks",
        "boolean",
        "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. If this is not a watch, this field is ignored.",
    ),
    (
        "continue",
        "string",
        "The continue option should be set when retrieving more results from the server: the `metadata.continue` token of the previous page of a list with the same query parameters. A token the server does not recognize is rejected.",
    ),
    (
        "dryRun",
        "string",
        "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
    ),
    (
        "fieldManager",
        "string",
        "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters. It is required for apply requests (application/apply-patch+yaml).",
    ),
    (
        "fieldSelector",
        "string",
        "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    ),
    (
        "fieldValidation",
        "string",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: unknown fields are silently dropped from the object. - Warn: a warning is sent via the standard warning response header for each unknown field that is dropped from the object; the request still succeeds. This is the default. - Strict: the request fails with a BadRequest error listing the unknown fields.",
    ),
    (
        "force",
        "boolean",
        "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
    ),
    (
        "gracePeriodSeconds",
        "integer",
        "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used.",
    ),
    (
        "labelSelector",
        "string",
        "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    ),
    (
        "limit",
        "integer",
        "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. This field is not supported if watch is true.",
    ),
    (
        "pretty",
        "string",
        "If 'true', then the output is pretty printed. Accepted and ignored.",
    ),
    (
        "propagationPolicy",
        "string",
        "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
    ),
    (
        "resourceVersion",
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from. For a watch, events after this resourceVersion are sent; \"0\" (or unset) first sends the current state as ADDED events. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.",
    ),
    (
        "resourceVersionMatch",
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details. Accepted; lists are always served from the latest state.",
    ),
    (
        "sendInitialEvents",
        "boolean",
        "`sendInitialEvents=true` may be set together with `watch=true`. The watch stream then begins with synthetic events for the current state of all objects, followed by a BOOKMARK event annotated with `\"k8s.io/initial-events-end\": \"true\"`, then the changes that follow.",
    ),
    (
        "timeoutSeconds",
        "integer",
        "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
    ),
    (
        "watch",
        "boolean",
        "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
    ),
];

fn query_param(name: &str) -> Value {
    let (schema_type, description) = QUERY_PARAMETERS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, t, d)| (*t, *d))
        .unwrap_or(("string", ""));
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": { "type": schema_type },
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": { "type": "string" },
    })
}

fn content(schema: &str, media_types: &[&str]) -> Value {
    Value::Object(
        media_types
            .iter()
            .map(|media| (media.to_string(), json!({ "schema": reference(schema) })))
            .collect(),
    )
}

fn request_body(schema: &str, media_types: &[&str]) -> Value {
    json!({ "content": content(schema, media_types), "required": true })
}

/// Response codes and their descriptions.
const OK: (&str, &str) = ("200", "OK");
const CREATED: (&str, &str) = ("201", "Created");
const ACCEPTED: (&str, &str) = ("202", "Accepted");

fn responses(codes: &[(&str, &str)], schema: &str, media_types: &[&str]) -> Value {
    let mut responses: Map<String, Value> = codes
        .iter()
        .map(|(code, description)| {
            (
                code.to_string(),
                json!({ "description": description, "content": content(schema, media_types) }),
            )
        })
        .collect();
    responses.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(responses)
}

fn path_item(parameters: Vec<Value>, operations: Vec<(&str, Value)>) -> Value {
    let mut item: Map<String, Value> = operations
        .into_iter()
        .map(|(method, op)| (method.to_string(), op))
        .collect();
    if !parameters.is_empty() {
        item.insert("parameters".into(), Value::Array(parameters));
    }
    Value::Object(item)
}

// ---------------------------------------------------------------------------------------------
// Server-side apply semantics of fields (Kubernetes' `+listType`, `+listMapKey`, `+mapType`
// markers, from the upstream OpenAPI spec). Patch strategies come from `strategic`; this table
// only says how lists and maps are identified for apply. Lists not named here are atomic.

#[derive(Debug, Clone, Copy)]
enum Topology {
    /// `x-kubernetes-list-type: map` with these `x-kubernetes-list-map-keys`.
    ListMap(&'static [&'static str]),
    /// `x-kubernetes-list-type: set`.
    ListSet,
    /// `x-kubernetes-map-type: atomic` on a map field.
    AtomicMap,
}

/// (type, field, topology); types are named from `io.k8s.api.` or `io.k8s.apimachinery.pkg.apis.`
/// (for `meta.v1`).
#[rustfmt::skip]
const FIELD_TOPOLOGIES: &[(&str, &str, Topology)] = {
    use Topology::{AtomicMap, ListMap, ListSet};
    &[
        ("apps.v1.ReplicaSetStatus",     "conditions",                ListMap(&["type"])),
        ("core.v1.Container",            "env",                       ListMap(&["name"])),
        ("core.v1.Container",            "ports",                     ListMap(&["containerPort", "protocol"])),
        ("core.v1.Container",            "volumeDevices",             ListMap(&["devicePath"])),
        ("core.v1.Container",            "volumeMounts",              ListMap(&["mountPath"])),
        ("core.v1.ContainerStatus",      "allocatedResourcesStatus",  ListMap(&["name"])),
        ("core.v1.ContainerStatus",      "volumeMounts",              ListMap(&["mountPath"])),
        ("core.v1.EphemeralContainer",   "env",                       ListMap(&["name"])),
        ("core.v1.EphemeralContainer",   "ports",                     ListMap(&["containerPort", "protocol"])),
        ("core.v1.EphemeralContainer",   "volumeDevices",             ListMap(&["devicePath"])),
        ("core.v1.EphemeralContainer",   "volumeMounts",              ListMap(&["mountPath"])),
        ("core.v1.NamespaceStatus",      "conditions",                ListMap(&["type"])),
        ("core.v1.NodeSpec",             "podCIDRs",                  ListSet),
        ("core.v1.NodeStatus",           "addresses",                 ListMap(&["type"])),
        ("core.v1.NodeStatus",           "conditions",                ListMap(&["type"])),
        ("core.v1.PodSpec",              "containers",                ListMap(&["name"])),
        ("core.v1.PodSpec",              "ephemeralContainers",       ListMap(&["name"])),
        ("core.v1.PodSpec",              "hostAliases",               ListMap(&["ip"])),
        ("core.v1.PodSpec",              "imagePullSecrets",          ListMap(&["name"])),
        ("core.v1.PodSpec",              "initContainers",            ListMap(&["name"])),
        ("core.v1.PodSpec",              "nodeSelector",              AtomicMap),
        ("core.v1.PodSpec",              "resourceClaims",            ListMap(&["name"])),
        ("core.v1.PodSpec",              "schedulingGates",           ListMap(&["name"])),
        ("core.v1.PodSpec",              "topologySpreadConstraints", ListMap(&["topologyKey", "whenUnsatisfiable"])),
        ("core.v1.PodSpec",              "volumes",                   ListMap(&["name"])),
        ("core.v1.PodStatus",            "conditions",                ListMap(&["type"])),
        ("core.v1.PodStatus",            "podIPs",                    ListMap(&["ip"])),
        ("core.v1.PodStatus",            "resourceClaimStatuses",     ListMap(&["name"])),
        ("core.v1.ResourceRequirements", "claims",                    ListMap(&["name"])),
        ("core.v1.ResourceStatus",       "resources",                 ListMap(&["resourceID"])),
        ("core.v1.ServiceAccount",       "secrets",                   ListMap(&["name"])),
        ("meta.v1.ObjectMeta",           "finalizers",                ListSet),
        ("meta.v1.ObjectMeta",           "ownerReferences",           ListMap(&["uid"])),
    ]
};

/// Reference types whose `name` Kubernetes defaults to "" rather than requires.
const OPTIONAL_NAME: &[&str] = &[
    "core.v1.ConfigMapEnvSource",
    "core.v1.ConfigMapKeySelector",
    "core.v1.ConfigMapProjection",
    "core.v1.ConfigMapVolumeSource",
    "core.v1.LocalObjectReference",
    "core.v1.SecretEnvSource",
    "core.v1.SecretKeySelector",
    "core.v1.SecretProjection",
];

/// Extensions on whole types: structs applied atomically, and discriminated unions.
#[derive(Debug, Clone, Copy)]
enum TypeExtension {
    /// `x-kubernetes-map-type: atomic`: the struct is replaced whole by an apply.
    AtomicStruct,
    /// The `type` discriminator of seccomp and AppArmor profiles.
    LocalhostProfileUnion,
}

impl TypeExtension {
    fn to_json(self) -> Value {
        match self {
            TypeExtension::AtomicStruct => json!({ "x-kubernetes-map-type": "atomic" }),
            TypeExtension::LocalhostProfileUnion => json!({
                "x-kubernetes-unions": [{
                    "discriminator": "type",
                    "fields-to-discriminateBy": { "localhostProfile": "LocalhostProfile" },
                }],
            }),
        }
    }
}

const TYPE_EXTENSIONS: &[(&str, TypeExtension)] = {
    use TypeExtension::{AtomicStruct, LocalhostProfileUnion};
    &[
        ("core.v1.AppArmorProfile", LocalhostProfileUnion),
        ("core.v1.ConfigMapKeySelector", AtomicStruct),
        ("core.v1.LocalObjectReference", AtomicStruct),
        ("core.v1.NodeSelector", AtomicStruct),
        ("core.v1.NodeSelectorTerm", AtomicStruct),
        ("core.v1.ObjectFieldSelector", AtomicStruct),
        ("core.v1.ObjectReference", AtomicStruct),
        ("core.v1.ResourceFieldSelector", AtomicStruct),
        ("core.v1.SeccompProfile", LocalhostProfileUnion),
        ("core.v1.SecretKeySelector", AtomicStruct),
        ("core.v1.TypedLocalObjectReference", AtomicStruct),
        ("meta.v1.LabelSelector", AtomicStruct),
        ("meta.v1.OwnerReference", AtomicStruct),
    ]
};

/// `core.v1.Pod` → `io.k8s.api.core.v1.Pod`; `meta.v1.ObjectMeta` →
/// `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`.
fn type_name(short: &str) -> String {
    match short.starts_with("meta.") {
        true => format!("io.k8s.apimachinery.pkg.apis.{short}"),
        false => format!("io.k8s.api.{short}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> Schemas {
        Schemas::generate()
    }

    fn property<'a>(schemas: &'a Schemas, schema: &str, field: &str) -> &'a Value {
        &schemas.definitions[schema]["properties"][field]
    }

    #[test]
    fn schemas_are_named_the_kubernetes_way() {
        let schemas = schemas();
        for name in [
            "io.k8s.api.core.v1.Pod",
            "io.k8s.api.core.v1.PodList",
            "io.k8s.api.core.v1.Container",
            "io.k8s.api.apps.v1.ReplicaSet",
            "io.k8s.api.autoscaling.v1.Scale",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        ] {
            assert!(schemas.definitions.contains_key(name), "{name}");
        }
        assert_eq!(
            property(&schemas, "io.k8s.api.core.v1.Pod", "metadata")["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
    }

    #[test]
    fn patch_strategies_follow_the_strategic_merge_table() {
        let schemas = schemas();
        let containers = property(&schemas, "io.k8s.api.core.v1.PodSpec", "containers");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        let volumes = property(&schemas, "io.k8s.api.core.v1.PodSpec", "volumes");
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
        let finalizers = property(
            &schemas,
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "finalizers",
        );
        assert_eq!(finalizers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(finalizers["x-kubernetes-list-type"], "set");
        assert!(finalizers.get("x-kubernetes-patch-merge-key").is_none());
        let tolerations = property(&schemas, "io.k8s.api.core.v1.PodSpec", "tolerations");
        assert_eq!(tolerations["x-kubernetes-list-type"], "atomic");
        assert!(tolerations.get("x-kubernetes-patch-strategy").is_none());
        let selector = property(&schemas, "io.k8s.api.core.v1.PodSpec", "nodeSelector");
        assert_eq!(selector["x-kubernetes-map-type"], "atomic");
        let ports = property(&schemas, "io.k8s.api.core.v1.Container", "ports");
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        let conditions = property(
            &schemas,
            "io.k8s.api.apps.v1.ReplicaSetStatus",
            "conditions",
        );
        assert_eq!(conditions["x-kubernetes-patch-merge-key"], "type");
    }

    /// The apply table and the strategic merge table must agree on how list items are keyed.
    #[test]
    fn list_map_keys_start_with_the_patch_merge_key() {
        let schemas = schemas();
        for (schema, field, strategy) in schemas.patch_strategies() {
            let FieldStrategy::MergeList { key, .. } = strategy else {
                continue;
            };
            let property = property(&schemas, &schema, &field);
            if property["x-kubernetes-list-type"] == "map" {
                assert_eq!(
                    property["x-kubernetes-list-map-keys"][0], key,
                    "{schema}.{field}"
                );
            }
        }
    }

    #[test]
    fn every_table_entry_names_an_existing_field() {
        let schemas = schemas();
        // Fields newer than the k8s-openapi version in use may be missing, not their types.
        for (schema, _, _) in FIELD_TOPOLOGIES {
            assert!(
                schemas.definitions.contains_key(&type_name(schema)),
                "{schema}"
            );
        }
        for (schema, _) in TYPE_EXTENSIONS {
            assert!(
                schemas.definitions.contains_key(&type_name(schema)),
                "{schema}"
            );
        }
        for schema in OPTIONAL_NAME {
            assert!(
                schemas.definitions.contains_key(&type_name(schema)),
                "{schema}"
            );
        }
    }

    #[test]
    fn every_reference_resolves_inside_its_document() {
        for (gv, document) in generate() {
            let mut refs = BTreeSet::new();
            collect_refs(&document, &mut refs);
            let schemas = document["components"]["schemas"]
                .as_object()
                .expect("schemas");
            for r in refs {
                assert!(schemas.contains_key(&r), "{} refers to {r}", gv.path);
            }
        }
    }

    #[test]
    fn operation_ids_are_unique_and_kubernetes_shaped() {
        let mut ids = BTreeSet::new();
        for (_, document) in generate() {
            for item in document["paths"].as_object().expect("paths").values() {
                for (method, op) in item.as_object().expect("item") {
                    if method == "parameters" {
                        continue;
                    }
                    let id = op["operationId"].as_str().expect("id").to_string();
                    assert!(ids.insert(id.clone()), "duplicate {id}");
                }
            }
        }
        for id in [
            "listCoreV1NamespacedPod",
            "listCoreV1PodForAllNamespaces",
            "createCoreV1NamespacedPod",
            "deleteCoreV1CollectionNamespacedPod",
            "readCoreV1NamespacedPod",
            "replaceCoreV1NamespacedPod",
            "patchCoreV1NamespacedPod",
            "deleteCoreV1NamespacedPod",
            "readCoreV1NamespacedPodStatus",
            "createCoreV1NamespacedPodBinding",
            "listCoreV1Node",
            "patchCoreV1NodeStatus",
            "replaceCoreV1NamespaceFinalize",
            "listAppsV1ReplicaSetForAllNamespaces",
            "patchAppsV1NamespacedReplicaSetScale",
            "getCoreV1APIResources",
        ] {
            assert!(ids.contains(id), "{id} in {ids:?}");
        }
        assert!(!ids.contains("deleteCoreV1CollectionNamespace"));
    }

    #[test]
    fn hashes_are_uppercase_sha512() {
        let h = hash(b"");
        assert_eq!(h.len(), 128);
        assert!(h.starts_with("CF83E1357EEFB8BDF1542850D66D8007"), "{h}");
    }
}
