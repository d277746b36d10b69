//! /version, discovery documents, health and metrics.

use crate::support::app::*;
use reqwest::Method;

#[tokio::test]
async fn version_reports_kubernetes_1_32() {
    let app = spawn_app().await;
    let reply = app.get("/version").await;
    assert_eq!(reply.body["major"], "1");
    assert_eq!(reply.body["minor"], "32");
    assert!(
        reply.body["gitVersion"]
            .as_str()
            .unwrap()
            .starts_with("v1.32.")
    );
}

#[tokio::test]
async fn aggregated_discovery_lists_resources_with_short_names_and_categories() {
    let app = spawn_app().await;
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let response = app
        .request(Method::GET, "/api")
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    let resources = body["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap();
    let pods = resources.iter().find(|r| r["resource"] == "pods").unwrap();
    assert_eq!(pods["shortNames"][0], "po");
    assert_eq!(pods["categories"][0], "all");
    assert_eq!(pods["responseKind"]["kind"], "Pod");
    assert!(
        pods["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["subresource"] == "binding")
    );
    for (name, short) in [("namespaces", "ns"), ("nodes", "no"), ("events", "ev")] {
        let r = resources.iter().find(|r| r["resource"] == name).unwrap();
        assert_eq!(r["shortNames"][0], short);
    }
    let apps: serde_json::Value = app
        .request(Method::GET, "/apis")
        .header("Accept", accept)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rs = &apps["items"][0]["versions"][0]["resources"][0];
    assert_eq!(rs["resource"], "replicasets");
    assert_eq!(rs["shortNames"][0], "rs");
    let scale = rs["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subresource"] == "scale")
        .unwrap();
    assert_eq!(scale["responseKind"]["group"], "autoscaling");
}

#[tokio::test]
async fn legacy_discovery_documents() {
    let app = spawn_app().await;
    let api = app.get("/api").await.body;
    assert_eq!(api["versions"][0], "v1");
    let groups = app.get("/apis").await.body;
    assert_eq!(groups["groups"][0]["name"], "apps");
    let core = app.get("/api/v1").await.body;
    assert_eq!(core["groupVersion"], "v1");
    let names: Vec<&str> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    for expected in [
        "pods",
        "pods/status",
        "pods/binding",
        "nodes",
        "namespaces",
        "events",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let apps = app.get("/apis/apps/v1").await.body;
    assert!(
        apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "replicasets/scale" && r["group"] == "autoscaling")
    );
}

#[tokio::test]
async fn health_and_metrics() {
    let app = spawn_app().await;
    for path in ["/healthz", "/livez", "/readyz"] {
        let reply = app.send(app.client.get(format!("{}{path}", app.url))).await;
        assert_eq!(reply.status, 200, "{path} needs no token");
    }
    app.create_pod("default", &pod("m")).await;
    app.get("/api/v1/namespaces/default/pods").await;
    let metrics = app.get("/metrics").await.text;
    for name in [
        "kubetrail_apiserver_requests_total",
        "kubetrail_apiserver_request_duration_seconds",
        "kubetrail_event_log_commit_duration_seconds",
        "kubetrail_event_log_commit_batch_size",
        "kubetrail_open_watches",
        "kubetrail_database_size_bytes",
        "kubetrail_database_wal_size_bytes",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    assert!(
        metrics.contains("verb=\"create\",resource=\"pods\",code=\"201\""),
        "{metrics}"
    );
}
