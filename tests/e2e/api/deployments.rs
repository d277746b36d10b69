//! apps/v1 Deployments served like the other kinds: created with Kubernetes' defaults, refused
//! with its validation's errors, scaled through the `scale` subresource.

use crate::support::app::*;
use serde_json::{Value, json};

fn deployment(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1"}]}}},
    })
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

#[tokio::test]
async fn a_deployment_is_created_with_kubernetes_defaults_and_scaled() {
    let app = spawn_app().await;
    let created = app.post(DEPLOYMENTS, &deployment("echo", 4)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let spec = &created.body["spec"];
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
    assert_eq!(created.body["metadata"]["generation"], 1);

    let scale = app.get(&format!("{DEPLOYMENTS}/echo/scale")).await;
    assert_eq!(scale.status, 200, "{}", scale.text);
    assert_eq!(scale.body["kind"], "Scale");
    assert_eq!(scale.body["spec"]["replicas"], 4);
    assert_eq!(scale.body["status"]["selector"], "app=echo");
    let scaled = app
        .patch(
            &format!("{DEPLOYMENTS}/echo/scale"),
            "application/merge-patch+json",
            &json!({"spec": {"replicas": 2}}),
        )
        .await;
    assert_eq!(scaled.status, 200, "{}", scaled.text);
    let now = app.get(&format!("{DEPLOYMENTS}/echo")).await;
    assert_eq!(now.body["spec"]["replicas"], 2);
    assert_eq!(now.body["metadata"]["generation"], 2);
    let listed = app.get("/apis/apps/v1/deployments").await;
    assert_eq!(names(&listed.body), ["echo"]);
}

#[tokio::test]
async fn a_deployment_that_kubernetes_refuses_is_refused_with_its_errors() {
    let app = spawn_app().await;
    let mut bad = deployment("bad", 1);
    bad["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
    let refused = app.post(DEPLOYMENTS, &bad).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.body["reason"], "Invalid");
    assert!(
        refused.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0\": may not be 0 when `maxSurge` is 0")),
        "{}",
        refused.text
    );
    let created = app.post(DEPLOYMENTS, &deployment("good", 1)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let mut moved = created.body.clone();
    moved["spec"]["selector"] = json!({"matchLabels": {"app": "good", "tier": "web"}});
    moved["spec"]["template"]["metadata"]["labels"] = json!({"app": "good", "tier": "web"});
    let refused = app.put(&format!("{DEPLOYMENTS}/good"), &moved).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(
        refused.text.contains("field is immutable"),
        "{}",
        refused.text
    );
    let absent = app.get(&format!("{DEPLOYMENTS}/bad")).await;
    assert_eq!(absent.status, 404);
}
