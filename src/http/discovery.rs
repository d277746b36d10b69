//! Discovery: `/version`, `/api`, `/apis` (aggregated v2 and legacy), `/api/v1`, and for each
//! group (`apps`, `coordination.k8s.io`, `discovery.k8s.io`) `/apis/<group>` and `/apis/<group>/v1`. Static data
//! derived from the kinds table.

use crate::model::ResourceKind;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

/// The Kubernetes version whose API is served. kubectl's dispatcher picks its binary by it.
pub const KUBERNETES_VERSION: &str = "v1.32.4";

/// The named groups served (besides the log's own), in the order `/apis` lists them.
pub const GROUPS: [&str; 3] = ["apps", "coordination.k8s.io", "discovery.k8s.io"];

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "kubetrail", "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.4",
        "compiler": "gc", "platform": "linux/amd64",
    })
}

fn wants_aggregated(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept.split(',').any(|media| {
                let params: Vec<&str> = media.split(';').map(str::trim).collect();
                params.contains(&"g=apidiscovery.k8s.io")
                    && params.contains(&"v=v2")
                    && params.contains(&"as=APIGroupDiscoveryList")
            })
        })
}

fn kinds_in(group: &str) -> impl Iterator<Item = ResourceKind> + '_ {
    ResourceKind::ALL
        .into_iter()
        .filter(move |k| k.group() == group)
}

fn discovery_resource(kind: ResourceKind) -> Value {
    let subresources: Vec<Value> = kind
        .subresources()
        .iter()
        .map(|s| {
            json!({"subresource": s.name,
                   "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                   "verbs": s.verbs})
        })
        .collect();
    let mut resource = json!({
        "resource": kind.plural(),
        "responseKind": {"group": "", "version": "", "kind": kind.as_str()},
        "scope": if kind.namespaced() { "Namespaced" } else { "Cluster" },
        "singularResource": kind.singular(),
        "shortNames": kind.short_names(),
        "verbs": kind.verbs(),
    });
    if !kind.categories().is_empty() {
        resource["categories"] = json!(kind.categories());
    }
    if !subresources.is_empty() {
        resource["subresources"] = json!(subresources);
    }
    resource
}

fn aggregated_group(group: &str) -> Value {
    let resources: Vec<Value> = kinds_in(group).map(discovery_resource).collect();
    json!({"metadata": {"name": group, "creationTimestamp": null},
           "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}]})
}

/// The core group alone (`""`), or every named group and the log's own.
fn aggregated(core: bool) -> Value {
    let mut items = if core {
        vec![aggregated_group("")]
    } else {
        GROUPS.iter().map(|g| aggregated_group(g)).collect()
    };
    if !core {
        // `/apis` also lists the log's own group.
        items.push(json!({"metadata": {"name": super::history::group_json()["name"], "creationTimestamp": null},
                          "versions": [{"version": crate::api::VERSION,
                                        "resources": super::history::discovery_resources(),
                                        "freshness": "Current"}]}));
    }
    json!({
        "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
        "items": items,
    })
}

/// `GET /api`
pub fn core_root(req: &HttpRequest) -> HttpResponse {
    if wants_aggregated(req) {
        return HttpResponse::Ok()
            .content_type(AGGREGATED)
            .body(aggregated(true).to_string());
    }
    HttpResponse::Ok().json(json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    }))
}

fn api_group(group: &str) -> Value {
    let group_version = format!("{group}/v1");
    json!({
        "name": group,
        "versions": [{"groupVersion": group_version, "version": "v1"}],
        "preferredVersion": {"groupVersion": group_version, "version": "v1"},
    })
}

/// `GET /apis`
pub fn groups_root(req: &HttpRequest) -> HttpResponse {
    if wants_aggregated(req) {
        return HttpResponse::Ok()
            .content_type(AGGREGATED)
            .body(aggregated(false).to_string());
    }
    let mut groups: Vec<Value> = GROUPS.iter().map(|g| api_group(g)).collect();
    groups.push(super::history::group_json());
    HttpResponse::Ok().json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

/// `GET /apis/<group>` of a served group.
pub fn group_root(group: &str) -> HttpResponse {
    let mut group = api_group(group);
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    HttpResponse::Ok().json(group)
}

/// `GET /api/v1` or `GET /apis/<group>/v1`: the legacy APIResourceList.
pub fn resource_list(group: &str) -> HttpResponse {
    let mut resources = Vec::new();
    for kind in kinds_in(group) {
        let mut resource = json!({
            "name": kind.plural(), "singularName": kind.singular(), "namespaced": kind.namespaced(),
            "kind": kind.as_str(), "verbs": kind.verbs(), "shortNames": kind.short_names(),
        });
        if !kind.categories().is_empty() {
            resource["categories"] = json!(kind.categories());
        }
        resources.push(resource);
        for sub in kind.subresources() {
            let mut entry = json!({
                "name": format!("{}/{}", kind.plural(), sub.name), "singularName": "",
                "namespaced": kind.namespaced(), "kind": sub.kind, "verbs": sub.verbs,
            });
            if !sub.group.is_empty() {
                entry["group"] = json!(sub.group);
                entry["version"] = json!(sub.version);
            }
            resources.push(entry);
        }
    }
    let group_version = if group.is_empty() {
        "v1".to_string()
    } else {
        format!("{group}/v1")
    };
    HttpResponse::Ok().json(json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
        "resources": resources,
    }))
}
