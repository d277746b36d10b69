//! Label and field selectors, limit/continue, and all-namespace lists.

use crate::support::app::*;
use serde_json::json;

async fn seed(app: &TestApp) {
    let pods = [
        ("a", json!({"app": "web", "tier": "fe"})),
        ("b", json!({"app": "web", "tier": "be"})),
        ("c", json!({"app": "db"})),
        ("d", json!({"env": "prod"})),
    ];
    for (name, labels) in pods {
        let reply = app.create_pod("default", &pod_labelled(name, labels)).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
}

#[tokio::test]
async fn label_selector_operators() {
    let app = spawn_app().await;
    seed(&app).await;
    let cases = [
        ("app=web", vec!["a", "b"]),
        ("app==web", vec!["a", "b"]),
        ("app!=web", vec!["c", "d"]),
        ("app in (web,db)", vec!["a", "b", "c"]),
        ("app notin (web)", vec!["c", "d"]),
        ("tier", vec!["a", "b"]),
        ("!tier", vec!["c", "d"]),
        ("app=web,tier=fe", vec!["a"]),
        ("", vec!["a", "b", "c", "d"]),
    ];
    for (selector, want) in cases {
        let reply = app
            .send(
                app.request(reqwest::Method::GET, "/api/v1/namespaces/default/pods")
                    .query(&[("labelSelector", selector)]),
            )
            .await;
        assert_eq!(reply.status, 200, "{selector}: {}", reply.text);
        assert_eq!(names(&reply.body), want, "{selector}");
    }
}

#[tokio::test]
async fn field_selectors() {
    let app = spawn_app().await;
    seed(&app).await;
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "a"},
                         "target": {"kind": "Node", "name": "node-1"}});
    app.post("/api/v1/namespaces/default/pods/a/binding", &binding)
        .await;
    app.patch(
        "/api/v1/namespaces/default/pods/b/status",
        "application/merge-patch+json",
        &json!({"status": {"phase": "Running"}}),
    )
    .await;
    let cases = [
        ("metadata.name=c", vec!["c"]),
        (
            "metadata.namespace=default,metadata.name!=a",
            vec!["b", "c", "d"],
        ),
        ("spec.nodeName=node-1", vec!["a"]),
        ("spec.nodeName=", vec!["b", "c", "d"]),
        ("status.phase=Running", vec!["b"]),
        (
            "status.phase!=Running,status.phase!=Succeeded",
            vec!["a", "c", "d"],
        ),
    ];
    for (selector, want) in cases {
        let reply = app
            .send(
                app.request(reqwest::Method::GET, "/api/v1/pods")
                    .query(&[("fieldSelector", selector)]),
            )
            .await;
        assert_eq!(reply.status, 200, "{selector}: {}", reply.text);
        assert_eq!(names(&reply.body), want, "{selector}");
    }
    let reply = app.get("/api/v1/pods?fieldSelector=spec.image%3Dx").await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body["message"],
        "field label not supported: spec.image"
    );
}

#[tokio::test]
async fn event_involved_object_selectors() {
    let app = spawn_app().await;
    for (name, pod_name) in [("e1", "echo"), ("e2", "other")] {
        let event = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": "default", "uid": format!("uid-{pod_name}")},
            "reason": "Scheduled", "message": "m", "type": "Normal"});
        assert_eq!(
            app.post("/api/v1/namespaces/default/events", &event)
                .await
                .status,
            201
        );
    }
    let reply = app
        .get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Decho%2CinvolvedObject.namespace%3Ddefault%2CinvolvedObject.uid%3Duid-echo")
        .await;
    assert_eq!(names(&reply.body), ["e1"]);
    let reply = app
        .get("/api/v1/events?fieldSelector=involvedObject.kind%3DPod")
        .await;
    assert_eq!(names(&reply.body), ["e1", "e2"]);
}

#[tokio::test]
async fn limit_and_continue_page_through_one_snapshot() {
    let app = spawn_app().await;
    seed(&app).await;
    let first = app
        .get("/api/v1/namespaces/default/pods?limit=3")
        .await
        .body;
    assert_eq!(names(&first), ["a", "b", "c"]);
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("continue token");
    let rv = first["metadata"]["resourceVersion"].clone();
    let second = app
        .send(
            app.request(reqwest::Method::GET, "/api/v1/namespaces/default/pods")
                .query(&[("limit", "3"), ("continue", token)]),
        )
        .await
        .body;
    assert_eq!(names(&second), ["d"]);
    assert!(second["metadata"].get("continue").is_none());
    assert_eq!(second["metadata"]["resourceVersion"], rv);

    // A filtered page counts only matches.
    let filtered = app
        .get("/api/v1/namespaces/default/pods?limit=1&labelSelector=app%3Dweb")
        .await
        .body;
    assert_eq!(names(&filtered), ["a"]);
    assert!(filtered["metadata"]["continue"].is_string());

    let bad = app
        .get("/api/v1/namespaces/default/pods?continue=garbage")
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn all_namespace_lists_span_namespaces() {
    let app = spawn_app().await;
    app.post("/api/v1/namespaces", &json!({"metadata": {"name": "team"}}))
        .await;
    app.create_pod("default", &pod("x")).await;
    app.create_pod("team", &pod("y")).await;
    let all = app.get("/api/v1/pods").await.body;
    assert_eq!(names(&all), ["x", "y"]);
    let team = app.get("/api/v1/namespaces/team/pods").await.body;
    assert_eq!(names(&team), ["y"]);
}
