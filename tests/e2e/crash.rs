//! Crash safety with the real binary: `kill -9` while the ReplicaSet controller is creating
//! pods, start again on the same data directory, and the set converges with no duplicates.

use crate::support::binary::{Serve, Server};
use crate::support::turn;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Start `kubetrail serve` (plain HTTP on a free loopback port, three simulated nodes) and
/// wait for its URL.
fn start(dir: &std::path::Path) -> Server {
    Serve::new(dir)
        .args(&[
            "--insecure-http",
            "--no-docker-node",
            "--simulated-nodes",
            "3",
        ])
        .start()
}

async fn pods(client: &reqwest::Client, url: &str) -> Vec<Value> {
    let list: Value = client
        .get(format!(
            "{url}/api/v1/namespaces/default/pods?labelSelector=app%3Dcrash"
        ))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    list["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn kill_9_mid_reconcile_then_restart_converges_without_duplicates() {
    // A kill under load, timed against 300 creates: nothing else runs beside it.
    turn::alone();
    let dir = tempfile::tempdir().expect("data dir");
    crate::support::init();
    let client = reqwest::Client::new();
    let replicas = 300;
    let server = start(dir.path());
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "crash"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "crash"}},
                 "template": {"metadata": {"labels": {"app": "crash"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}},
    });
    let created = client
        .post(format!(
            "{}/apis/apps/v1/namespaces/default/replicasets",
            server.url
        ))
        .json(&rs)
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    // Kill the server as soon as the controller has started creating pods.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = pods(&client, &server.url).await.len();
        if n > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the controller started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill_9();

    let server = start(dir.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = pods(&client, &server.url).await;
        let running = all
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .count();
        if all.len() == replicas && running == replicas {
            break;
        }
        assert!(
            all.len() <= replicas,
            "never more pods than replicas: {} > {replicas}",
            all.len()
        );
        assert!(
            Instant::now() < deadline,
            "converged: {} pods, {running} running",
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Stays converged.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(pods(&client, &server.url).await.len(), replicas);
}
