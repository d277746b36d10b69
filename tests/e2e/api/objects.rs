//! Create, get, update, patch, delete and the subresources, through HTTPS with the token.

use crate::support::app::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn create_then_get_returns_the_stored_pod_with_server_fields() {
    let app = spawn_app().await;
    let created = app.create_pod("default", &pod("echo")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let meta = &created.body["metadata"];
    assert!(meta["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(meta["resourceVersion"].as_str().is_some());
    assert!(meta["creationTimestamp"].as_str().is_some());
    assert_eq!(created.body["kind"], "Pod");
    assert_eq!(created.body["apiVersion"], "v1");
    assert_eq!(created.body["spec"]["restartPolicy"], "Always");
    assert_eq!(created.body["status"]["phase"], "Pending");

    let got = app.get("/api/v1/namespaces/default/pods/echo").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, created.body);
}

#[tokio::test]
async fn generate_name_gets_a_random_suffix() {
    let app = spawn_app().await;
    let mut p = pod("");
    p["metadata"] = json!({"generateName": "echo-"});
    let created = app.create_pod("default", &p).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let name = created.body["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("echo-") && name.len() == 10, "{name}");
}

#[tokio::test]
async fn yaml_bodies_and_yaml_responses() {
    let app = spawn_app().await;
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: y\nspec:\n  containers:\n  - name: app\n    image: busybox:1.36\n";
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/namespaces/default/pods")
                .header("Content-Type", "application/yaml")
                .body(yaml),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reply = app
        .send(
            app.request(Method::GET, "/api/v1/namespaces/default/pods/y")
                .header("Accept", "application/yaml"),
        )
        .await;
    assert!(reply.text.contains("name: y"), "{}", reply.text);
}

#[tokio::test]
async fn put_updates_and_bumps_resource_version_but_not_status() {
    let app = spawn_app().await;
    let created = app.create_pod("default", &pod("echo")).await.body;
    let mut next = created.clone();
    next["metadata"]["labels"]["tier"] = json!("web");
    next["status"]["phase"] = json!("Running");
    let updated = app.put("/api/v1/namespaces/default/pods/echo", &next).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.body["metadata"]["labels"]["tier"], "web");
    assert_eq!(updated.body["status"]["phase"], "Pending");
    let before: i64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let after: i64 = updated.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after > before);
    assert_eq!(updated.body["metadata"]["uid"], created["metadata"]["uid"]);
}

#[tokio::test]
async fn stale_resource_version_conflicts() {
    let app = spawn_app().await;
    let created = app.create_pod("default", &pod("echo")).await.body;
    let mut first = created.clone();
    first["metadata"]["labels"]["n"] = json!("1");
    assert_eq!(
        app.put("/api/v1/namespaces/default/pods/echo", &first)
            .await
            .status,
        200
    );
    let mut stale = created.clone();
    stale["metadata"]["labels"]["n"] = json!("2");
    let reply = app
        .put("/api/v1/namespaces/default/pods/echo", &stale)
        .await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.body["reason"], "Conflict");
    assert_eq!(
        reply.body["message"],
        "Operation cannot be fulfilled on pods \"echo\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let now = app.get("/api/v1/namespaces/default/pods/echo").await.body;
    assert_eq!(now["metadata"]["labels"]["n"], "1");
}

#[tokio::test]
async fn of_two_concurrent_updates_from_one_version_exactly_one_wins() {
    let app = spawn_app().await;
    let created = app.create_pod("default", &pod("echo")).await.body;
    for round in 0..10 {
        let base = app.get("/api/v1/namespaces/default/pods/echo").await.body;
        let mut a = base.clone();
        a["metadata"]["labels"]["who"] = json!(format!("a{round}"));
        let mut b = base.clone();
        b["metadata"]["labels"]["who"] = json!(format!("b{round}"));
        let (ra, rb) = tokio::join!(
            app.put("/api/v1/namespaces/default/pods/echo", &a),
            app.put("/api/v1/namespaces/default/pods/echo", &b)
        );
        let mut codes = [ra.status.as_u16(), rb.status.as_u16()];
        codes.sort();
        assert_eq!(codes, [200, 409], "round {round}");
    }
    assert_eq!(created["kind"], "Pod");
}

#[tokio::test]
async fn merge_and_json_patches() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("echo")).await;
    let path = "/api/v1/namespaces/default/pods/echo";
    let merged = app
        .patch(
            path,
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"tier": "fe", "app": null}}}),
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    assert_eq!(merged.body["metadata"]["labels"], json!({"tier": "fe"}));

    let patched = app
        .patch(
            path,
            "application/json-patch+json",
            &json!([{"op": "test", "path": "/metadata/labels/tier", "value": "fe"},
                    {"op": "add", "path": "/metadata/annotations", "value": {"note": "hi"}}]),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["metadata"]["annotations"]["note"], "hi");

    let failed = app
        .patch(
            path,
            "application/json-patch+json",
            &json!([{"op": "test", "path": "/metadata/labels/tier", "value": "be"}]),
        )
        .await;
    assert_eq!(failed.status, 422, "{}", failed.text);
    let now = app.get(path).await.body;
    assert_eq!(now["metadata"]["labels"]["tier"], "fe");
}

#[tokio::test]
async fn status_subresource_changes_only_status() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("echo")).await;
    let reply = app
        .patch(
            "/api/v1/namespaces/default/pods/echo/status",
            "application/merge-patch+json",
            &json!({"status": {"phase": "Running"}, "metadata": {"labels": {"x": "y"}}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["status"]["phase"], "Running");
    assert!(reply.body["metadata"]["labels"].get("x").is_none());
    let got = app.get("/api/v1/namespaces/default/pods/echo/status").await;
    assert_eq!(got.body["status"]["phase"], "Running");
}

#[tokio::test]
async fn binding_assigns_a_node_once() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("echo")).await;
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "echo"},
                         "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}});
    let reply = app
        .post("/api/v1/namespaces/default/pods/echo/binding", &binding)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let got = app.get("/api/v1/namespaces/default/pods/echo").await.body;
    assert_eq!(got["spec"]["nodeName"], "node-1");
    let again = app
        .post("/api/v1/namespaces/default/pods/echo/binding", &binding)
        .await;
    assert_eq!(again.status, 409);
}

#[tokio::test]
async fn replicaset_scale_subresource() {
    let app = spawn_app().await;
    let created = app
        .post(
            "/apis/apps/v1/namespaces/default/replicasets",
            &replicaset("web", 2),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let path = "/apis/apps/v1/namespaces/default/replicasets/web/scale";
    let scale = app.get(path).await;
    assert_eq!(scale.body["kind"], "Scale");
    assert_eq!(scale.body["apiVersion"], "autoscaling/v1");
    assert_eq!(scale.body["spec"]["replicas"], 2);
    assert_eq!(scale.body["status"]["selector"], "app=web");

    let patched = app
        .patch(
            path,
            "application/merge-patch+json",
            &json!({"spec": {"replicas": 5}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["spec"]["replicas"], 5);

    let mut stale = scale.body.clone();
    stale["spec"]["replicas"] = json!(7);
    let reply = app.put(path, &stale).await;
    assert_eq!(reply.status, 409, "{}", reply.text);

    let rs = app
        .get("/apis/apps/v1/namespaces/default/replicasets/web")
        .await
        .body;
    assert_eq!(rs["spec"]["replicas"], 5);
    assert_eq!(rs["metadata"]["generation"], 2);
}

#[tokio::test]
async fn delete_unbound_pod_is_immediate_bound_pod_is_graceful() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("a")).await;
    let reply = app
        .delete(
            "/api/v1/namespaces/default/pods/a",
            Some(&json!({"propagationPolicy": "Background"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        app.get("/api/v1/namespaces/default/pods/a").await.status,
        404
    );

    let mut bound = pod("b");
    bound["spec"]["nodeName"] = json!("node-1");
    app.create_pod("default", &bound).await;
    let reply = app.delete("/api/v1/namespaces/default/pods/b", None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(reply.body["metadata"]["deletionGracePeriodSeconds"], 30);
    let still = app.get("/api/v1/namespaces/default/pods/b").await;
    assert_eq!(still.status, 200);
    // The kubelet's confirmation (grace period 0) removes it.
    let reply = app
        .delete(
            "/api/v1/namespaces/default/pods/b",
            Some(&json!({"gracePeriodSeconds": 0})),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        app.get("/api/v1/namespaces/default/pods/b").await.status,
        404
    );
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let app = spawn_app().await;
    let mut p = pod("held");
    p["metadata"]["finalizers"] = json!(["example.com/hold"]);
    app.create_pod("default", &p).await;
    let path = "/api/v1/namespaces/default/pods/held";
    let reply = app.delete(path, None).await;
    assert!(reply.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(app.get(path).await.status, 200);
    let reply = app
        .patch(
            path,
            "application/merge-patch+json",
            &json!({"metadata": {"finalizers": null}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(app.get(path).await.status, 404);
}

#[tokio::test]
async fn delete_preconditions() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("p")).await;
    let reply = app
        .delete(
            "/api/v1/namespaces/default/pods/p",
            Some(&json!({"preconditions": {"uid": "nope"}})),
        )
        .await;
    assert_eq!(reply.status, 409);
    assert_eq!(
        app.get("/api/v1/namespaces/default/pods/p").await.status,
        200
    );
}

#[tokio::test]
async fn deletecollection_deletes_what_the_selector_matches() {
    let app = spawn_app().await;
    for (name, app_label) in [("a", "x"), ("b", "x"), ("c", "y")] {
        app.create_pod("default", &pod_labelled(name, json!({"app": app_label})))
            .await;
    }
    let reply = app
        .delete(
            "/api/v1/namespaces/default/pods?labelSelector=app%3Dx",
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(names(&reply.body), ["a", "b"]);
    let left = app.get("/api/v1/namespaces/default/pods").await.body;
    assert_eq!(names(&left), ["c"]);
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("keep")).await;
    let before = app.latest_rv().await;
    let reply = app
        .post("/api/v1/namespaces/default/pods?dryRun=All", &pod("ghost"))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["metadata"]["name"], "ghost");
    let reply = app
        .delete(
            "/api/v1/namespaces/default/pods/keep",
            Some(&json!({"dryRun": ["All"]})),
        )
        .await;
    assert_eq!(reply.status, 200);
    let reply = app
        .patch(
            "/api/v1/namespaces/default/pods/keep?dryRun=All",
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"z": "1"}}}),
        )
        .await;
    assert_eq!(reply.body["metadata"]["labels"]["z"], "1");
    assert_eq!(
        app.get("/api/v1/namespaces/default/pods/ghost")
            .await
            .status,
        404
    );
    let kept = app.get("/api/v1/namespaces/default/pods/keep").await.body;
    assert!(kept["metadata"]["labels"].get("z").is_none());
    assert_eq!(app.latest_rv().await, before);
}

#[tokio::test]
async fn nodes_and_events_are_served() {
    let app = spawn_app().await;
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
                      "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}}});
    let reply = app.post("/api/v1/nodes", &node).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["status"]["capacity"]["cpu"], "2");
    let event = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "echo.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "echo", "namespace": "default"},
        "reason": "Scheduled", "message": "Successfully assigned default/echo to node-1", "type": "Normal"});
    let reply = app.post("/api/v1/namespaces/default/events", &event).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let list = app.get("/api/v1/events").await;
    assert_eq!(names(&list.body), ["echo.1"]);
    assert_eq!(list.body["kind"], "EventList");
    let value: &Value = &list.body;
    assert!(value["metadata"]["resourceVersion"].is_string());
}
