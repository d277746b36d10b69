//! A worker in another process: `kubetrail kubelet --simulated` runs a node against a server
//! through its HTTP API (list+watch and REST writes), and the log records what it did and why.

use kubetrail::config::Settings;
use kubetrail::startup::Application;
use serde_json::{Value, json};
use sqlx::Row;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_kubelet_in_another_process_runs_pods_of_a_replicaset() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("data dir");
    let settings = Settings::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().to_path_buf(),
    );
    let app = Application::build(settings).await.expect("server");
    let url = app.url().to_string();
    let kubeconfig = app.kubeconfig_path().to_path_buf();
    let handle = app.server_handle();
    let server = tokio::spawn(app.run_until_stopped());

    let mut kubelet = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .args([
            "kubelet",
            "--simulated",
            "--node-name",
            "remote-1",
            "--start-delay-ms",
            "50",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the kubelet starts");

    let ca = std::fs::read(dir.path().join("ca.crt")).expect("ca");
    let token = std::fs::read_to_string(dir.path().join("token")).expect("token");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("pem")])
        .build()
        .expect("client");
    let get = |path: String| {
        let client = client.clone();
        let token = token.clone();
        async move {
            client
                .get(path)
                .bearer_auth(token.trim())
                .send()
                .await
                .expect("get")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}});
    let created = client
        .post(format!("{url}/apis/apps/v1/namespaces/default/replicasets"))
        .bearer_auth(token.trim())
        .json(&rs)
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);

    let deadline = Instant::now() + Duration::from_secs(30);
    let running = loop {
        let pods = get(format!(
            "{url}/api/v1/namespaces/default/pods?labelSelector=app%3Dweb"
        ))
        .await;
        let items = pods["items"].as_array().cloned().unwrap_or_default();
        if items.len() == 2
            && items
                .iter()
                .all(|p| p["status"]["phase"] == "Running" && p["spec"]["nodeName"] == "remote-1")
        {
            break items;
        }
        assert!(
            Instant::now() < deadline,
            "pods run on the remote node: {pods}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let node = get(format!("{url}/api/v1/nodes/remote-1")).await;
    assert_eq!(
        node["metadata"]["annotations"]["kubetrail.dev/simulated"],
        "true"
    );

    let _ = kubelet.kill();
    let _ = kubelet.wait();
    handle.stop(true).await;
    let _ = server.await;

    // The log names the remote kubelet and the pod version that made it act.
    let (mut conn, _) = kubetrail::startup::open_database(&dir.path().join("state.db"))
        .await
        .expect("db");
    let uid = running[0]["metadata"]["uid"].as_str().unwrap();
    let row = sqlx::query(
        "SELECT user_agent, caused_by FROM events WHERE uid = ? AND event_type = 'StatusUpdated' AND json_extract(object, '$.status.phase') = 'Running' ORDER BY seq LIMIT 1",
    )
    .bind(uid)
    .fetch_one(&mut conn)
    .await
    .expect("the kubelet's status update is in the log");
    let agent: Option<String> = row.get(0);
    let caused_by: Option<i64> = row.get(1);
    assert_eq!(agent.as_deref(), Some("kubelet/remote-1"));
    assert!(caused_by.is_some());
}
