//! Discovery: `/version`, `/api`, `/apis` (aggregated v2 and legacy), `/api/v1`,
//! `/apis/apps/v1`, `/apis/apps`. Static data derived from the kinds table.

use crate::model::ResourceKind;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

/// The Kubernetes version whose API is served. kubectl's dispatcher picks its binary by it.
pub const KUBERNETES_VERSION: &str = "v1.32.4";

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

fn aggregated(group: &str) -> Value {
    let resources: Vec<Value> = kinds_in(group).map(discovery_resource).collect();
    let mut items = vec![
        json!({"metadata": {"name": group, "creationTimestamp": null},
                   "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}]}),
    ];
    if !group.is_empty() {
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
            .body(aggregated("").to_string());
    }
    HttpResponse::Ok().json(json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    }))
}

fn apps_group() -> Value {
    json!({
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    })
}

/// `GET /apis`
pub fn groups_root(req: &HttpRequest) -> HttpResponse {
    if wants_aggregated(req) {
        return HttpResponse::Ok()
            .content_type(AGGREGATED)
            .body(aggregated("apps").to_string());
    }
    HttpResponse::Ok().json(json!({"kind": "APIGroupList", "apiVersion": "v1",
                                   "groups": [apps_group(), super::history::group_json()]}))
}

/// `GET /apis/apps`
pub fn apps_root() -> HttpResponse {
    let mut group = apps_group();
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    HttpResponse::Ok().json(group)
}

/// `GET /api/v1` or `GET /apis/apps/v1`: the legacy APIResourceList.
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
