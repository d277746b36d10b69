//! Strategic merge patches and `fieldValidation` over HTTP.

use crate::support::app::*;
use reqwest::Method;
use serde_json::json;

const SMP: &str = "application/strategic-merge-patch+json";

#[tokio::test]
async fn strategic_merge_patch_merges_containers_by_name() {
    let app = spawn_app().await;
    let mut rs = replicaset("web", 1);
    rs["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "side", "image": "s:1"}
    ]);
    assert_eq!(
        app.post("/apis/apps/v1/namespaces/default/replicasets", &rs)
            .await
            .status,
        201
    );
    let path = "/apis/apps/v1/namespaces/default/replicasets/web";
    // What `kubectl apply` sends after removing env A and the side container from the file.
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "app"}],
        "containers": [{"$setElementOrder/env": [{"name": "B"}], "env": [{"$patch": "delete", "name": "A"}],
                        "image": "a:2", "name": "app"},
                       {"$patch": "delete", "name": "side"}]}}}});
    let reply = app.patch(path, SMP, &patch).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let containers = &reply.body["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().unwrap().len(), 1);
    assert_eq!(containers[0]["image"], "a:2");
    assert_eq!(containers[0]["env"], json!([{"name": "B", "value": "2"}]));
    assert!(!reply.text.contains("$patch") && !reply.text.contains("$setElementOrder"));

    let bad = app
        .patch(path, SMP, &json!({"metadata": {"$patch": "bogus"}}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

#[tokio::test]
async fn field_validation_strict_warn_ignore() {
    let app = spawn_app().await;
    let mut p = pod("typo");
    p["spec"]["containers"][0]["imagee"] = json!("x");
    let strict = app
        .post("/api/v1/namespaces/default/pods?fieldValidation=Strict", &p)
        .await;
    assert_eq!(strict.status, 400);
    assert_eq!(
        strict.body["message"],
        "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.containers[0].imagee\""
    );
    assert_eq!(
        app.get("/api/v1/namespaces/default/pods/typo").await.status,
        404
    );

    let response = app
        .request(
            Method::POST,
            "/api/v1/namespaces/default/pods?fieldValidation=Warn",
        )
        .json(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers()["warning"],
        "299 - \"unknown field \\\"spec.containers[0].imagee\\\"\""
    );
    let stored = app.get("/api/v1/namespaces/default/pods/typo").await.body;
    assert!(stored["spec"]["containers"][0].get("imagee").is_none());

    p["metadata"]["name"] = json!("quiet");
    let response = app
        .request(
            Method::POST,
            "/api/v1/namespaces/default/pods?fieldValidation=Ignore",
        )
        .json(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("warning").is_none());

    let bad = app
        .post(
            "/api/v1/namespaces/default/pods?fieldValidation=Loud",
            &pod("x"),
        )
        .await;
    assert_eq!(bad.status, 400);
}
