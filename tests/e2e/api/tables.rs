//! Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.

use crate::support::app::*;
use reqwest::Method;
use serde_json::{Value, json};

const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

async fn table(app: &TestApp, path: &str) -> Value {
    let response = app
        .request(Method::GET, path)
        .header("Accept", TABLE_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    );
    response.json().await.unwrap()
}

fn headers(table: &Value) -> Vec<String> {
    table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pod_tables_have_kubernetes_columns_and_row_metadata() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("echo")).await;
    let t = table(&app, "/api/v1/namespaces/default/pods").await;
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(
        headers(&t),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    let row = &t["rows"][0];
    assert_eq!(row["cells"][0], "echo");
    assert_eq!(row["cells"][1], "0/1");
    assert_eq!(row["cells"][2], "Pending");
    assert_eq!(row["cells"][3], "0");
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["labels"]["app"], "echo");
    assert!(t["metadata"]["resourceVersion"].is_string());

    let one = table(&app, "/api/v1/namespaces/default/pods/echo").await;
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    let full = table(&app, "/api/v1/namespaces/default/pods?includeObject=Object").await;
    assert_eq!(full["rows"][0]["object"]["kind"], "Pod");
}

#[tokio::test]
async fn replicaset_node_namespace_event_tables() {
    let app = spawn_app().await;
    app.post(
        "/apis/apps/v1/namespaces/default/replicasets",
        &replicaset("web", 3),
    )
    .await;
    let t = table(&app, "/apis/apps/v1/namespaces/default/replicasets").await;
    assert_eq!(
        headers(&t),
        [
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(t["rows"][0]["cells"][1], 3);
    assert_eq!(t["rows"][0]["cells"][7], "app=web");

    let node = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true},
                      "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.32.4"}}});
    app.post("/api/v1/nodes", &node).await;
    let t = table(&app, "/api/v1/nodes").await;
    assert_eq!(t["rows"][0]["cells"][1], "Ready,SchedulingDisabled");

    let t = table(&app, "/api/v1/namespaces").await;
    assert_eq!(headers(&t), ["Name", "Status", "Age"]);

    let event = json!({"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "echo"},
                       "reason": "Scheduled", "message": "ok", "type": "Normal", "count": 1});
    app.post("/api/v1/namespaces/default/events", &event).await;
    let t = table(&app, "/api/v1/namespaces/default/events").await;
    assert_eq!(t["rows"][0]["cells"][3], "pod/echo");

    let bad = app
        .send(
            app.request(Method::GET, "/api/v1/namespaces?includeObject=All")
                .header("Accept", TABLE_ACCEPT),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn table_watch_sends_column_definitions_once() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("a")).await;
    let response = app
        .request(
            Method::GET,
            "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=2",
        )
        .header("Accept", TABLE_ACCEPT)
        .send()
        .await
        .unwrap();
    app.create_pod("default", &pod("b")).await;
    let text = response.text().await.unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{text}");
    assert_eq!(events[0]["object"]["kind"], "Table");
    assert!(events[0]["object"]["columnDefinitions"].is_array());
    assert!(events[1]["object"]["columnDefinitions"].is_null());
    assert_eq!(events[1]["object"]["rows"][0]["cells"][0], "b");
}
