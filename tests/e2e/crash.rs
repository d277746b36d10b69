//! Crash safety with the real binary: `kill -9` while the ReplicaSet controller is creating
//! pods, start again on the same data directory, and the set converges with no duplicates.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `kubetrail serve` (plain HTTP on a free loopback port) and wait for its URL.
fn start(dir: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--insecure-http",
            "--no-docker-node",
            "--simulated-nodes",
            "3",
        ])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubetrail starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut url = String::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("a line");
        if let Some(rest) = line.strip_prefix("kubetrail is serving the Kubernetes API at ") {
            url = rest.trim().to_string();
            break;
        }
    }
    // Keep reading so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    assert!(!url.is_empty(), "the server printed its URL");
    Server { child, url }
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
    let dir = tempfile::tempdir().expect("data dir");
    let _ = rustls::crypto::ring::default_provider().install_default();
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
    let pid = server.child.id();
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    drop(server);

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
