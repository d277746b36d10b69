//! Control-loop scale benchmark: a server with 100 simulated nodes, one ReplicaSet scaled from
//! 0 to 10,000 replicas; prints the time until every pod is bound and until every pod runs,
//! and the binding rate. Run with `cargo bench --bench scale` (add `-- --quick` for 1,000).
//! The server is the real binary over loopback HTTP; the watch that observes the pods is the
//! same one kubectl uses.

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[path = "support/serve.rs"]
mod support;

fn start(nodes: usize) -> support::Served {
    support::serve(&["--no-docker-node", "--simulated-nodes", &nodes.to_string()])
}

async fn wait_for_nodes(client: &reqwest::Client, url: &str, nodes: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list: Value = client
            .get(format!("{url}/api/v1/nodes"))
            .send()
            .await
            .expect("nodes")
            .json()
            .await
            .expect("json");
        if list["items"].as_array().map_or(0, Vec::len) == nodes {
            return;
        }
        assert!(Instant::now() < deadline, "nodes registered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("scale benchmark: skipped outside `cargo bench`");
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quick = args.iter().any(|a| a == "--quick");
    let (nodes, replicas) = (100, if quick { 1_000 } else { 10_000 });
    let server = start(nodes);
    let client = reqwest::Client::new();
    wait_for_nodes(&client, &server.url, nodes).await;
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "scale"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "scale"}},
                 "template": {"metadata": {"labels": {"app": "scale"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}},
    });
    let created: Value = client
        .post(format!(
            "{}/apis/apps/v1/namespaces/default/replicasets",
            server.url
        ))
        .json(&rs)
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let watch = client
        .get(format!(
            "{}/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}&labelSelector=app%3Dscale",
            server.url
        ))
        .send()
        .await
        .expect("watch");
    let started = Instant::now();
    let scaled = client
        .patch(format!(
            "{}/apis/apps/v1/namespaces/default/replicasets/scale/scale",
            server.url
        ))
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"spec": {"replicas": replicas}}).to_string())
        .send()
        .await
        .expect("scale");
    assert_eq!(scaled.status(), 200);
    let (mut bound, mut running) = (HashSet::new(), HashSet::new());
    let (mut all_bound, mut all_running) = (None, None);
    let mut body = watch.bytes_stream();
    let mut buffer = Vec::new();
    let deadline = started + Duration::from_secs(300);
    while all_running.is_none() && Instant::now() < deadline {
        let Ok(Some(Ok(chunk))) = tokio::time::timeout(Duration::from_secs(30), body.next()).await
        else {
            break;
        };
        buffer.extend_from_slice(&chunk);
        while let Some(pos) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=pos).collect();
            let Ok(event) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            let pod = &event["object"];
            let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
            if pod["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
            {
                bound.insert(name.clone());
            }
            if pod["status"]["phase"] == "Running" {
                running.insert(name);
            }
            if all_bound.is_none() && bound.len() >= replicas {
                all_bound = Some(started.elapsed());
            }
            if all_running.is_none() && running.len() >= replicas {
                all_running = Some(started.elapsed());
            }
        }
    }
    let secs = |d: Option<Duration>| {
        d.map_or("not reached".to_string(), |d| {
            format!("{:.2} s", d.as_secs_f64())
        })
    };
    println!("kubetrail control-loop scale benchmark");
    println!("  {nodes} simulated nodes, ReplicaSet scaled 0 -> {replicas}");
    println!("  all pods bound:    {}", secs(all_bound));
    println!("  all pods Running:  {}", secs(all_running));
    if let Some(d) = all_bound {
        println!(
            "  pods bound per second: {:.0}   (target >= 1,000; kube-scheduler scheduler_perf floors 680-1,100)",
            replicas as f64 / d.as_secs_f64()
        );
    }
    println!(
        "  target: {replicas} Running <= 15 s; kube-controller-manager default ~20 pods/s creation"
    );
    println!(
        "  bound {} / running {} of {replicas}",
        bound.len(),
        running.len()
    );
}
