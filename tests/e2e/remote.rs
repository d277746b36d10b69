//! A worker in another process: `kubetrail kubelet --simulated` runs a node against a server
//! through its HTTP API (list+watch and REST writes), and the log records what it did and why.

use crate::support::app::start_with_workers;
use crate::support::binary::kubetrail;
use serde_json::{Value, json};
use sqlx::Row;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_kubelet_in_another_process_runs_pods_of_a_replicaset() {
    let app = start_with_workers(tempfile::tempdir().expect("data dir"), |_| {}).await;
    let url = app.url.clone();

    let mut kubelet = kubetrail(&[
        "kubelet",
        "--simulated",
        "--node-name",
        "remote-1",
        "--start-delay-ms",
        "50",
    ])
    .arg("--kubeconfig")
    .arg(&app.kubectl.kubeconfig)
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("the kubelet starts");

    let get = |path: String| {
        let request = app.client.get(path).bearer_auth(&app.token);
        async move {
            request
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
    let created = app
        .client
        .post(format!("{url}/apis/apps/v1/namespaces/default/replicasets"))
        .bearer_auth(&app.token)
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
    let dir = app.stop().await;

    // The log names the remote kubelet and the pod version that made it act.
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
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
