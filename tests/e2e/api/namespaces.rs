//! Namespaces: built-ins exist from the start; deleting one removes what is in it.

use crate::support::app::*;
use crate::support::wait::eventually;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn builtin_namespaces_exist() {
    let app = spawn_app().await;
    let list = app.get("/api/v1/namespaces").await.body;
    let got = names(&list);
    for ns in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        assert!(got.contains(&ns.to_string()), "{ns} in {got:?}");
    }
    let default = app.get("/api/v1/namespaces/default").await.body;
    assert_eq!(default["status"]["phase"], "Active");
    assert_eq!(default["spec"]["finalizers"], json!(["kubernetes"]));
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_contents_then_itself() {
    let app = spawn_app().await;
    assert_eq!(
        app.post(
            "/api/v1/namespaces",
            &json!({"metadata": {"name": "team"}, "spec": {"finalizers": []}})
        )
        .await
        .status,
        201
    );
    app.create_pod("team", &pod("a")).await;
    app.post(
        "/apis/apps/v1/namespaces/team/replicasets",
        &replicaset("web", 0),
    )
    .await;
    app.create_pod("default", &pod("outside")).await;
    // core/v1 Events too, which the controllers read from the store rather than hold.
    let event = json!({"metadata": {"name": "a.1"},
        "involvedObject": {"kind": "Pod", "namespace": "team", "name": "a"},
        "reason": "Tested", "message": "in the namespace", "type": "Normal"});
    let made = app.post("/api/v1/namespaces/team/events", &event).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let reply = app.delete("/api/v1/namespaces/team", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["status"]["phase"], "Terminating");
    let refused = app.create_pod("team", &pod("late")).await;
    assert!(
        refused.status == 403 || refused.status == 404,
        "{}",
        refused.text
    );
    let gone = eventually(Duration::from_secs(10), || async {
        app.get("/api/v1/namespaces/team").await.status == 404
    })
    .await;
    assert!(gone, "namespace removed");
    assert!(names(&app.get("/api/v1/namespaces/team/pods").await.body).is_empty());
    assert!(names(&app.get("/api/v1/namespaces/team/events").await.body).is_empty());
    assert!(
        names(
            &app.get("/apis/apps/v1/namespaces/team/replicasets")
                .await
                .body
        )
        .is_empty()
    );
    assert_eq!(
        names(&app.get("/api/v1/namespaces/default/pods").await.body),
        ["outside"]
    );
}
