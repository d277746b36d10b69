//! Pod start latency on the Docker kubelet: `kubectl apply` of one pod until a watch sees it
//! Running, 50 pods one after another with a local image, side by side in the same run with
//! plain `docker run -d` of the same image (until the command returns, i.e. the container is
//! started). Prints p50/p90/p99/max of both and their ratio. Run with `cargo bench --bench pods`
//! (needs Docker and the images `scripts/images` builds; add `-- --pods N` for another count).

use futures_util::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const IMAGE: &str = "ghcr.io/subicura/echo:v1";

#[path = "support/serve.rs"]
mod support;

/// The server and its Docker node; the node's containers are removed after the server stops.
struct Server {
    served: Option<support::Served>,
    url: String,
    node: String,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Stop the kubelet first, or it would start again what is removed.
        drop(self.served.take());
        support::remove_containers_of(&self.node);
    }
}

fn start() -> Server {
    let node = format!("bench-{}", std::process::id());
    let served = support::serve(&["--node-name", &node]);
    Server {
        url: served.url.clone(),
        dir: served.dir.path().to_path_buf(),
        served: Some(served),
        node,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn summary(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<34} n={} p50={:.0} ms p90={:.0} ms p99={:.0} ms max={:.0} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.90)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap_or(&Duration::ZERO)),
    );
    percentile(&samples, 0.99)
}

/// Follow the pod watch; record when each pod is first seen Running.
fn follow_running(url: String) -> Arc<Mutex<HashMap<String, Instant>>> {
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let response = client
            .get(format!("{url}/api/v1/namespaces/default/pods?watch=true"))
            .send()
            .await
            .expect("watch");
        let mut body = response.bytes_stream();
        let mut buffer = Vec::new();
        while let Some(Ok(chunk)) = body.next().await {
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let Ok(event) = serde_json::from_slice::<Value>(&line) else {
                    continue;
                };
                let pod = &event["object"];
                if pod["status"]["phase"] == "Running" {
                    let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
                    if let Ok(mut seen) = record.lock() {
                        seen.entry(name).or_insert_with(Instant::now);
                    }
                }
            }
        }
    });
    seen
}

fn kubectl_apply(server: &Server, manifest: &str) {
    let kubeconfig = server.dir.join("kubeconfig");
    let mut child = Command::new("kubectl")
        .args(["apply", "-f", "-"])
        .env("KUBECONFIG", &kubeconfig)
        .env("KUBECACHEDIR", server.dir.join("cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("kubectl runs");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(manifest.as_bytes())
            .expect("manifest written");
    }
    assert!(
        child.wait().expect("kubectl").success(),
        "kubectl apply failed"
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("pods benchmark: skipped outside `cargo bench`");
        return;
    }
    let pods: usize = args
        .iter()
        .position(|a| a == "--pods")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = start();
    // Wait for the node, then warm up kubectl's discovery cache with one pod not measured.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let node: Value = client
            .get(format!("{}/api/v1/nodes/{}", server.url, server.node))
            .send()
            .await
            .expect("get node")
            .json()
            .await
            .expect("json");
        if node["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "the Docker node became Ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let running = follow_running(server.url.clone());
    let manifest = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  terminationGracePeriodSeconds: 0\n  containers: [{{name: app, image: \"{IMAGE}\"}}]\n"
        )
    };
    let mut kubetrail = Vec::new();
    for i in 0..=pods {
        let name = format!("latency-{i}");
        let started = Instant::now();
        kubectl_apply(&server, &manifest(&name));
        let seen = loop {
            if let Some(at) = running.lock().ok().and_then(|s| s.get(&name).copied()) {
                break at;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{name} ran");
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        if i > 0 {
            kubetrail.push(seen.duration_since(started));
        }
    }
    let label = format!("dev.kubetrail.bench={}", std::process::id());
    let mut docker = Vec::new();
    for _ in 0..pods {
        let started = Instant::now();
        let status = Command::new("docker")
            .args(["run", "-d", "--label", &label, IMAGE])
            .stdout(Stdio::null())
            .status()
            .expect("docker run");
        assert!(status.success());
        docker.push(started.elapsed());
    }
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={label}")])
        .output()
        .expect("docker ps");
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f"])
            .args(&ids)
            .output();
    }
    println!("pod start latency, {pods} pods one after another, image {IMAGE}");
    let ours = summary("kubectl apply -> Running (watch)", kubetrail);
    let theirs = summary("docker run -d", docker);
    println!(
        "p99 ratio kubetrail / docker run: {:.2}",
        ours.as_secs_f64() / theirs.as_secs_f64().max(1e-9)
    );
}
