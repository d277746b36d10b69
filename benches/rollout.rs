//! Rollout benchmark: a server with 100 simulated nodes and a Deployment of 1,000 replicas
//! (RollingUpdate, maxSurge and maxUnavailable 25%) rolled from one image to another; prints
//! the time from the `PATCH` of the template until the Deployment's status says the rollout is
//! complete, and the writes the rollout cost (the log's events in between, by kind and by actor),
//! per replaced pod. Run with `cargo bench --bench rollout` (add `-- --quick` for 100 replicas).
//! The server is the real binary over loopback HTTP.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[path = "support/serve.rs"]
mod support;

async fn get(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

/// Wait until the Deployment has observed its generation and all `replicas` are updated and
/// available with no old ones left; the status's resourceVersion then.
async fn rolled_out(client: &reqwest::Client, url: &str, replicas: i64, timeout: Duration) -> i64 {
    let deadline = Instant::now() + timeout;
    loop {
        let d = get(client, url).await;
        let status = &d["status"];
        let n = |k: &str| status[k].as_i64().unwrap_or(0);
        if n("observedGeneration") >= d["metadata"]["generation"].as_i64().unwrap_or(1)
            && n("updatedReplicas") == replicas
            && n("replicas") == replicas
            && n("availableReplicas") == replicas
        {
            return d["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .expect("rv");
        }
        assert!(
            Instant::now() < deadline,
            "rolled out within {timeout:?}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("rollout benchmark: skipped outside `cargo bench`");
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quick = args.iter().any(|a| a == "--quick");
    let (nodes, replicas) = (100, if quick { 100 } else { 1_000 });
    let server = support::serve(&["--no-docker-node", "--simulated-nodes", &nodes.to_string()]);
    let client = reqwest::Client::new();
    let base = format!("{}/apis/apps/v1/namespaces/default/deployments", server.url);
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "roll"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "roll"}},
                 "template": {"metadata": {"labels": {"app": "roll"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}},
    });
    let created = client
        .post(&base)
        .json(&deployment)
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let url = format!("{base}/roll");
    let first = Instant::now();
    rolled_out(&client, &url, replicas, Duration::from_secs(600)).await;
    let created_in = first.elapsed();
    // Let the last status writes of the first rollout land before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before: i64 = get(&client, &format!("{}/api/v1/namespaces", server.url)).await["metadata"]
        ["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("rv");
    let started = Instant::now();
    let patched = client
        .patch(&url)
        .header("Content-Type", "application/strategic-merge-patch+json")
        .body(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}}})
                .to_string(),
        )
        .send()
        .await
        .expect("patch");
    assert_eq!(patched.status(), 200);
    let done = rolled_out(&client, &url, replicas, Duration::from_secs(600)).await;
    let took = started.elapsed();
    // Every event of the rollout, by kind and by actor.
    let (mut by_kind, mut by_actor) = (BTreeMap::new(), BTreeMap::new());
    let mut after = before;
    loop {
        let page = get(
            &client,
            &format!(
                "{}/apis/kubetrail.dev/v1alpha1/logentries?continue={after}&toResourceVersion={done}&limit=5000&includeObject=false",
                server.url
            ),
        )
        .await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        for item in &items {
            let kind = item["involvedObject"]["kind"]
                .as_str()
                .or(item["kind"].as_str())
                .unwrap_or("?");
            *by_kind
                .entry(format!("{kind} {}", item["type"].as_str().unwrap_or("")))
                .or_insert(0) += 1;
            *by_actor
                .entry(item["actor"].as_str().unwrap_or("?").to_string())
                .or_insert(0) += 1;
        }
        match page["metadata"]["continue"]
            .as_str()
            .and_then(|c| c.parse().ok())
        {
            Some(next) if !items.is_empty() => after = next,
            _ => break,
        }
    }
    let writes = done - before;
    println!("kubetrail rollout benchmark");
    println!(
        "  {nodes} simulated nodes, Deployment of {replicas} replicas, maxSurge/maxUnavailable 25%"
    );
    println!(
        "  first rollout (create):   {:.2} s",
        created_in.as_secs_f64()
    );
    println!("  rollout to a new image:   {:.2} s", took.as_secs_f64());
    println!(
        "  replaced pods per second: {:.0}",
        replicas as f64 / took.as_secs_f64()
    );
    println!(
        "  writes: {writes} ({:.1} per replaced pod)",
        writes as f64 / replicas as f64
    );
    for (what, n) in &by_kind {
        println!("    {what:<32} {n}");
    }
    for (actor, n) in &by_actor {
        println!("    by {actor:<29} {n}");
    }
}
