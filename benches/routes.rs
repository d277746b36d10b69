//! Service routing throughput: HTTP requests to one echo pod on the Docker node, side by side
//! in one run, through (1) the pod's own published port on 127.0.0.1 (direct), (2) a NodePort
//! on 127.0.0.1 (the service network's relay), (3) `kubectl port-forward` (SPDY in a
//! websocket, through the API server into the pod's network namespace). Each target gets the
//! same load (4 clients, one connection per request, 5 s, twice, alternating); prints
//! requests/s, p50 and p99. Run with `cargo bench --bench routes` as root with Docker, kubectl
//! and the images `scripts/images` builds.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "support/serve.rs"]
mod support;

const POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: echo, labels: {app: echo}}
spec:
  containers:
    - name: echo
      image: ghcr.io/subicura/echo:v1
      ports: [{containerPort: 3000}]
      readinessProbe: {httpGet: {path: /, port: 3000}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  type: NodePort
  selector: {app: echo}
  ports: [{port: 3000, nodePort: 31500}]
";

fn kubectl(kubeconfig: &std::path::Path, args: &[&str], input: Option<&str>) -> String {
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(input) = input {
        use std::io::Write as _;
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes());
    }
    let out = child.wait_with_output().expect("kubectl ran");
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn request(to: &str) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(to).await.ok()?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
        .await
        .ok()?;
    let mut body = Vec::new();
    stream.read_to_end(&mut body).await.ok()?;
    body.windows(7)
        .any(|w| w == b"echo v1")
        .then(|| started.elapsed())
}

/// What one run measured: requests/s, p50, p99, failures.
type Run = (f64, Duration, Duration, usize);

/// `clients` loops of requests to `to` for `length`.
async fn load(to: &str, clients: usize, length: Duration) -> Run {
    let deadline = Instant::now() + length;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let to = to.to_string();
        tasks.push(tokio::spawn(async move {
            let (mut times, mut failures) = (Vec::new(), 0);
            while Instant::now() < deadline {
                match tokio::time::timeout(Duration::from_secs(5), request(&to)).await {
                    Ok(Some(t)) => times.push(t),
                    _ => failures += 1,
                }
            }
            (times, failures)
        }));
    }
    let (mut times, mut failures) = (Vec::new(), 0);
    for task in tasks {
        let (t, f) = task.await.expect("client");
        times.extend(t);
        failures += f;
    }
    times.sort();
    let at = |q: f64| {
        times
            .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    (
        times.len() as f64 / length.as_secs_f64(),
        at(0.5),
        at(0.99),
        failures,
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("routes benchmark: skipped outside `cargo bench`");
        return;
    }
    let node = format!("bench-routes-{}", std::process::id());
    let served = support::serve(&[
        "--node-name",
        &node,
        "--service-cluster-ip-range",
        "10.161.0.0/16",
    ]);
    let kubeconfig = served.dir.path().join("kubeconfig");
    kubectl(&kubeconfig, &["apply", "-f", "-"], Some(POD));
    kubectl(
        &kubeconfig,
        &[
            "wait",
            "--for=condition=Ready",
            "pod/echo",
            "--timeout=120s",
        ],
        None,
    );
    // The sandbox publishes the declared port on 127.0.0.1.
    let ports = Command::new("docker")
        .args([
            "ps",
            "--filter",
            &format!("label=dev.kubetrail.node={node}"),
            "--filter",
            "label=io.kubernetes.docker.type=podsandbox",
            "--format",
            "{{.Ports}}",
        ])
        .output()
        .expect("docker ps");
    let ports = String::from_utf8_lossy(&ports.stdout).to_string();
    let direct = ports
        .split(',')
        .find_map(|p| p.trim().strip_suffix("->3000/tcp").map(str::to_string))
        .expect("the published port");
    let mut forward = Command::new("kubectl")
        .args(["port-forward", "pod/echo", ":3000"])
        .env("KUBECONFIG", &kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl port-forward");
    let mut line = String::new();
    let mut lines = BufReader::new(forward.stdout.take().expect("stdout"));
    lines.read_line(&mut line).expect("a line");
    // kubectl prints a line per connection: keep reading, or it would write into a closed pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while lines.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let forwarded = line
        .trim()
        .strip_prefix("Forwarding from ")
        .and_then(|l| l.split(" -> ").next())
        .expect("Forwarding from 127.0.0.1:PORT -> 3000")
        .to_string();
    let targets = [
        ("direct (published port)", direct),
        ("NodePort 31500", "127.0.0.1:31500".to_string()),
        ("kubectl port-forward", forwarded),
    ];
    for (name, to) in &targets {
        assert!(request(to).await.is_some(), "{name} at {to} answers");
    }
    println!("kubetrail routes benchmark: 4 clients, one connection per request, 5 s per run");
    let mut results: Vec<(String, Vec<Run>)> = targets
        .iter()
        .map(|(n, _)| (n.to_string(), Vec::new()))
        .collect();
    for _round in 0..2 {
        for (i, (_, to)) in targets.iter().enumerate() {
            results[i].1.push(load(to, 4, Duration::from_secs(5)).await);
        }
    }
    for (name, runs) in results {
        for (rate, p50, p99, failures) in runs {
            println!(
                "  {name:<24} {rate:>7.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   failures {failures}",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            );
        }
    }
    let _ = forward.kill();
    let _ = forward.wait();
    kubectl(
        &kubeconfig,
        &["delete", "-f", "-", "--wait=true"],
        Some(POD),
    );
    drop(served);
    support::remove_containers_of(&node);
}
