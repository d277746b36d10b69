//! The control loops with simulated nodes: scheduling, ReplicaSets converging, healing,
//! scaling, adoption and release, garbage collection by propagation policy, node failure.

use crate::support::app::*;
use crate::support::wait::eventually;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

async fn cluster(nodes: usize) -> TestApp {
    spawn_app_with(|s| {
        s.workers.controllers = true;
        s.workers.simulated_nodes = nodes;
        s.workers.simulated_start_delay = Duration::from_millis(50);
        s.workers.node_lifecycle.heartbeat = Duration::from_millis(300);
        s.workers.node_lifecycle.grace = Duration::from_secs(2);
    })
    .await
}

async fn pods(app: &TestApp, selector: &str) -> Vec<Value> {
    let reply = app
        .send(
            app.request(reqwest::Method::GET, "/api/v1/namespaces/default/pods")
                .query(&[("labelSelector", selector)]),
        )
        .await;
    reply.body["items"].as_array().cloned().unwrap_or_default()
}

fn running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running" && pod["metadata"]["deletionTimestamp"].is_null()
}

async fn wait_running(app: &TestApp, selector: &str, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let all = pods(app, selector).await;
        if all.len() == count && all.iter().all(running) {
            return all;
        }
        if tokio::time::Instant::now() > deadline {
            let seen: Vec<_> = all
                .iter()
                .map(|p| {
                    (
                        &p["metadata"]["name"],
                        &p["status"]["phase"],
                        &p["metadata"]["deletionTimestamp"],
                    )
                })
                .collect();
            panic!("expected {count} running pods for {selector}, got {seen:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rs_with(name: &str, replicas: i64) -> Value {
    let mut rs = replicaset(name, replicas);
    // Tolerate an unreachable node for 1 s so node-failure tests do not wait 5 minutes.
    rs["spec"]["template"]["spec"]["tolerations"] = json!([
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}
    ]);
    rs
}

#[tokio::test]
async fn a_pod_is_scheduled_and_runs_on_a_simulated_node() {
    let app = cluster(2).await;
    assert!(
        eventually(WAIT, || async {
            names(&app.get("/api/v1/nodes").await.body).len() == 2
        })
        .await
    );
    let node = app.get("/api/v1/nodes/sim-node-000").await.body;
    assert_eq!(
        node["metadata"]["annotations"]["kubetrail.dev/simulated"],
        "true"
    );
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.32.4");
    app.create_pod("default", &pod("echo")).await;
    let pod = &wait_running(&app, "app=echo", 1).await[0];
    assert!(
        pod["spec"]["nodeName"]
            .as_str()
            .unwrap()
            .starts_with("sim-node-")
    );
    assert!(pod["status"]["podIP"].is_string());
    assert_eq!(pod["status"]["containerStatuses"][0]["ready"], true);
    let events = app
        .get(&format!("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Decho,involvedObject.uid%3D{}", pod["metadata"]["uid"].as_str().unwrap()))
        .await
        .body;
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"Scheduled"), "{reasons:?}");
    let scheduled = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"] == "Scheduled")
        .unwrap();
    assert_eq!(
        scheduled["message"],
        format!(
            "Successfully assigned default/echo to {}",
            pod["spec"]["nodeName"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn without_nodes_a_pod_is_unschedulable_until_one_appears() {
    let app = cluster(0).await;
    app.create_pod("default", &pod("waiting")).await;
    let reported = eventually(WAIT, || async {
        let p = app
            .get("/api/v1/namespaces/default/pods/waiting")
            .await
            .body;
        p["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter().any(|c| {
                c["type"] == "PodScheduled"
                    && c["status"] == "False"
                    && c["reason"] == "Unschedulable"
            })
        })
    })
    .await;
    assert!(reported);
    // The event and the condition are written by one pass but not always in one commit.
    let recorded = eventually(WAIT, || async {
        let events = app
            .get("/api/v1/namespaces/default/events?fieldSelector=reason%3DFailedScheduling")
            .await
            .body;
        !names(&events).is_empty()
    })
    .await;
    assert!(recorded, "a FailedScheduling event");
    let node = json!({"metadata": {"name": "late"}, "status": {"conditions": [{"type": "Ready", "status": "True"}],
                      "allocatable": {"cpu": "1", "memory": "1Gi", "pods": "10"}}});
    app.post("/api/v1/nodes", &node).await;
    assert!(
        eventually(WAIT, || async {
            app.get("/api/v1/namespaces/default/pods/waiting")
                .await
                .body["spec"]["nodeName"]
                == "late"
        })
        .await
    );
}

#[tokio::test]
async fn replicaset_converges_heals_scales_and_spreads() {
    let app = cluster(3).await;
    assert_eq!(
        app.post(
            "/apis/apps/v1/namespaces/default/replicasets",
            &rs_with("echo-rs", 3)
        )
        .await
        .status,
        201
    );
    let first = wait_running(&app, "app=echo-rs", 3).await;
    let nodes: std::collections::BTreeSet<&str> = first
        .iter()
        .filter_map(|p| p["spec"]["nodeName"].as_str())
        .collect();
    assert_eq!(nodes.len(), 3, "spread across nodes");
    for p in &first {
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
        assert!(
            p["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("echo-rs-")
        );
    }
    // Delete one: it is replaced.
    let victim = first[0]["metadata"]["name"].as_str().unwrap().to_string();
    app.delete(&format!("/api/v1/namespaces/default/pods/{victim}"), None)
        .await;
    let healed = wait_running(&app, "app=echo-rs", 3).await;
    assert!(
        healed
            .iter()
            .all(|p| p["metadata"]["name"] != victim.as_str())
    );

    let scale = |n: i64| {
        let app = &app;
        async move {
            app.patch(
                "/apis/apps/v1/namespaces/default/replicasets/echo-rs/scale",
                "application/merge-patch+json",
                &json!({"spec": {"replicas": n}}),
            )
            .await
        }
    };
    scale(10).await;
    wait_running(&app, "app=echo-rs", 10).await;
    scale(0).await;
    assert!(
        eventually(WAIT, || async {
            pods(&app, "app=echo-rs").await.is_empty()
        })
        .await
    );
    scale(2).await;
    wait_running(&app, "app=echo-rs", 2).await;
    let status_ok = eventually(WAIT, || async {
        let rs = app
            .get("/apis/apps/v1/namespaces/default/replicasets/echo-rs")
            .await
            .body;
        rs["status"]["replicas"] == 2
            && rs["status"]["readyReplicas"] == 2
            && rs["status"]["availableReplicas"] == 2
            && rs["status"]["observedGeneration"] == rs["metadata"]["generation"]
    })
    .await;
    assert!(status_ok, "status converges");
    let events = app
        .get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.kind%3DReplicaSet")
        .await
        .body;
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"SuccessfulCreate") && reasons.contains(&"SuccessfulDelete"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn relabelling_releases_and_adopts() {
    let app = cluster(1).await;
    app.post(
        "/apis/apps/v1/namespaces/default/replicasets",
        &rs_with("echo-rs", 2),
    )
    .await;
    let first = wait_running(&app, "app=echo-rs", 2).await;
    let name = first[0]["metadata"]["name"].as_str().unwrap().to_string();
    let path = format!("/api/v1/namespaces/default/pods/{name}");
    // `kubectl label pod X app-`: released, and the set makes a replacement.
    app.patch(
        &path,
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"app": null}}}),
    )
    .await;
    wait_running(&app, "app=echo-rs", 2).await;
    let released = app.get(&path).await.body;
    assert!(
        released["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|r| r.is_empty()),
        "{released}"
    );
    // Relabel it back: adopted again, and one pod goes.
    app.patch(
        &path,
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"app": "echo-rs"}}}),
    )
    .await;
    let settled = eventually(WAIT, || async {
        let all = pods(&app, "app=echo-rs").await;
        all.iter().filter(|p| running(p)).count() == 2 && all.len() == 2
    })
    .await;
    assert!(settled);
}

#[tokio::test]
async fn deleting_a_replicaset_with_each_propagation_policy() {
    let app = cluster(1).await;
    for (name, policy) in [
        ("bg", "Background"),
        ("fg", "Foreground"),
        ("orphan", "Orphan"),
    ] {
        app.post(
            "/apis/apps/v1/namespaces/default/replicasets",
            &rs_with(name, 2),
        )
        .await;
        wait_running(&app, &format!("app={name}"), 2).await;
        let reply = app
            .delete(
                &format!("/apis/apps/v1/namespaces/default/replicasets/{name}"),
                Some(&json!({"propagationPolicy": policy})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let gone = eventually(WAIT, || async {
            app.get(&format!(
                "/apis/apps/v1/namespaces/default/replicasets/{name}"
            ))
            .await
            .status
                == 404
        })
        .await;
        assert!(gone, "{policy}: the ReplicaSet goes");
        if policy == "Orphan" {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let left = pods(&app, &format!("app={name}")).await;
            assert_eq!(left.len(), 2, "orphaned pods stay");
            assert!(left.iter().all(|p| {
                p["metadata"]["ownerReferences"]
                    .as_array()
                    .is_none_or(|r| r.is_empty())
            }));
        } else {
            assert!(
                eventually(WAIT, || async {
                    pods(&app, &format!("app={name}")).await.is_empty()
                })
                .await,
                "{policy}: pods go"
            );
        }
    }
}

#[tokio::test]
async fn pods_move_off_a_node_that_stops_heartbeating() {
    let app = cluster(2).await;
    app.post(
        "/apis/apps/v1/namespaces/default/replicasets",
        &rs_with("echo-rs", 4),
    )
    .await;
    let before = wait_running(&app, "app=echo-rs", 4).await;
    let dead = "sim-node-000";
    assert!(before.iter().any(|p| p["spec"]["nodeName"] == dead));
    app.patch(
        &format!("/api/v1/nodes/{dead}"),
        "application/merge-patch+json",
        &json!({"metadata": {"annotations": {"kubetrail.dev/paused": "true"}}}),
    )
    .await;
    let unknown = eventually(WAIT, || async {
        let node = app.get(&format!("/api/v1/nodes/{dead}")).await.body;
        node["spec"]["taints"].as_array().is_some_and(|t| {
            t.iter()
                .any(|t| t["key"] == "node.kubernetes.io/unreachable")
        })
    })
    .await;
    assert!(unknown, "the silent node is tainted unreachable");
    let moved = eventually(WAIT, || async {
        let all = pods(&app, "app=echo-rs").await;
        all.iter()
            .filter(|p| running(p) && p["spec"]["nodeName"] != dead)
            .count()
            == 4
    })
    .await;
    assert!(moved, "replacements run on the healthy node");
}

#[tokio::test]
async fn a_restarted_server_converges_without_duplicates() {
    let app = cluster(1).await;
    app.post(
        "/apis/apps/v1/namespaces/default/replicasets",
        &rs_with("echo-rs", 5),
    )
    .await;
    wait_running(&app, "app=echo-rs", 5).await;
    let dir = app.stop().await;
    let app = start_in(dir, |s| {
        s.workers.controllers = true;
        s.workers.simulated_nodes = 1;
        s.workers.simulated_start_delay = Duration::from_millis(50);
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = wait_running(&app, "app=echo-rs", 5).await;
    assert_eq!(after.len(), 5);
}
