//! Several servers on one log: creates/s and watch delivery with 1, 2 and 3 servers on one
//! PostgreSQL database, beside one server on SQLite, in the same run.
//!
//! Each setup gets fresh servers (the real binary over loopback HTTP; the second and third
//! with a copy of the first one's data directory, as an operator hands out its keys) and a
//! fresh database from a PostgreSQL server the benchmark starts (`tests/support/postgres.rs`:
//! Debian's PostgreSQL in a temporary directory, on a Unix socket). One watch of the
//! benchmark's namespace is open on every server; 16 clients, spread over the servers in turn,
//! create ConfigMaps for `SECONDS` (at most `MOST` in all). Printed per setup: creates/s, the
//! latency of a create (p50/p99), and the delivery latency of each create to each server's
//! watch (from the request's start to the event's arrival, p50/p99), with the refusals.
//!
//! Run with `cargo bench --bench cluster` (`-- --quick`: 3 s a setup). Without `--bench` (as
//! `cargo test --all-targets` runs it) it measures nothing. Every loop is bounded in count and
//! time; the servers are stopped when each setup ends.

use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/serve.rs"]
mod support;

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;

/// Concurrent clients creating.
const CLIENTS: usize = 16;
/// Most creates in one setup, however fast they go.
const MOST: usize = 40_000;
/// Longest to wait for the watches after the last create.
const DELIVERY_GRACE: Duration = Duration::from_secs(20);

/// When each create was sent, by name; when each watch saw it.
#[derive(Default)]
struct Times {
    sent: HashMap<String, Instant>,
    seen: Vec<(String, Instant)>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Copy the first server's data directory into `to`: not its lock or kubeconfig.
fn copy_keys(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("data dir").flatten() {
        let name = entry.file_name();
        let kept = !matches!(name.to_str(), Some("serve.lock" | "kubeconfig"));
        if kept && entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::copy(entry.path(), to.join(&name)).expect("copy");
        }
    }
}

/// Servers for one setup: one on SQLite (`url` none), or `n` on the database at `url`.
fn servers(url: Option<&str>, n: usize) -> Vec<support::Served> {
    let common = ["--no-docker-node", "--no-service-network"];
    let Some(url) = url else {
        return vec![support::serve(&common)];
    };
    let mut args = common.to_vec();
    args.extend(["--database", url]);
    let first = support::serve(&args);
    let mut all = vec![first];
    for _ in 1..n {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_keys(all[0].dir.path(), dir.path());
        all.push(support::serve_in(dir, &args));
    }
    all
}

/// Follow the watch at `url` until `stop`, noting when each ConfigMap arrived.
async fn watch(client: reqwest::Client, url: String, times: Arc<Mutex<Times>>, stop: Instant) {
    let Ok(mut response) = client.get(&url).send().await else {
        return;
    };
    let mut buffer = Vec::new();
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(stop.into(), response.chunk()).await {
        let now = Instant::now();
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let Ok(event) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            if let Some(name) = event["object"]["metadata"]["name"].as_str()
                && let Ok(mut times) = times.lock()
            {
                times.seen.push((name.to_string(), now));
            }
        }
    }
}

/// One setup: its line of the table.
async fn run(label: &str, served: &[support::Served], seconds: u64) {
    let client = reqwest::Client::new();
    let namespace = "bench";
    let made = client
        .post(format!("{}/api/v1/namespaces", served[0].url))
        .json(&json!({"metadata": {"name": namespace}}))
        .send()
        .await
        .expect("namespace");
    assert!(made.status().is_success(), "namespace: {}", made.status());
    let list: serde_json::Value = client
        .get(format!(
            "{}/api/v1/namespaces/{namespace}/configmaps",
            served[0].url
        ))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list JSON");
    let from = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let times = Arc::new(Mutex::new(Times::default()));
    let load = Duration::from_secs(seconds);
    let stop = Instant::now() + load + DELIVERY_GRACE + Duration::from_secs(5);
    let watches: Vec<_> = served
        .iter()
        .map(|s| {
            let url = format!(
                "{}/api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion={from}",
                s.url
            );
            tokio::spawn(watch(reqwest::Client::new(), url, times.clone(), stop))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let url = format!(
                "{}/api/v1/namespaces/{namespace}/configmaps",
                served[c % served.len()].url
            );
            let (times, counter) = (times.clone(), counter.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let (mut latencies, mut refused) = (Vec::new(), 0usize);
                while started.elapsed() < load {
                    let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= MOST {
                        break;
                    }
                    let name = format!("cm-{n}");
                    let sent = Instant::now();
                    if let Ok(mut times) = times.lock() {
                        times.sent.insert(name.clone(), sent);
                    }
                    let body = json!({"metadata": {"name": name}, "data": {"v": "1"}});
                    match client.post(&url).json(&body).send().await {
                        Ok(r) if r.status().as_u16() == 201 => {
                            latencies.push(sent.elapsed().as_secs_f64() * 1000.0)
                        }
                        _ => refused += 1,
                    }
                }
                (latencies, refused)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut refused = 0;
    for client in clients {
        if let Ok((l, r)) = client.await {
            latencies.extend(l);
            refused += r;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let created = latencies.len();
    // Wait until every watch saw every create, or the grace ran out.
    let want = created * served.len();
    let deadline = Instant::now() + DELIVERY_GRACE;
    while Instant::now() < deadline {
        let seen = times.lock().map(|t| t.seen.len()).unwrap_or(0);
        if seen >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for watch in watches {
        watch.abort();
    }
    let (mut delivery, seen) = {
        let times = times.lock().expect("times");
        let delivery: Vec<f64> = times
            .seen
            .iter()
            .filter_map(|(name, at)| {
                let sent = times.sent.get(name)?;
                Some(at.duration_since(*sent).as_secs_f64() * 1000.0)
            })
            .collect();
        (delivery, times.seen.len())
    };
    latencies.sort_by(f64::total_cmp);
    delivery.sort_by(f64::total_cmp);
    println!(
        "  {label:<16} {:>7} {:>10.0} {:>9.1} {:>9.1} {:>11.1} {:>11.1} {:>8} {:>9}",
        served.len(),
        created as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&delivery, 0.5),
        percentile(&delivery, 0.99),
        refused,
        format!("{seen}/{want}"),
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("cluster benchmark: skipped outside `cargo bench`");
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seconds = if args.iter().any(|a| a == "--quick") {
        3
    } else {
        10
    };
    println!("kubetrail cluster benchmark: {CLIENTS} clients creating ConfigMaps for {seconds} s");
    println!(
        "  {:<16} {:>7} {:>10} {:>9} {:>9} {:>11} {:>11} {:>8} {:>9}",
        "LOG",
        "SERVERS",
        "CREATES/S",
        "P50 MS",
        "P99 MS",
        "WATCH P50",
        "WATCH P99",
        "REFUSED",
        "DELIVERED"
    );
    let sqlite = servers(None, 1);
    run("sqlite", &sqlite, seconds).await;
    drop(sqlite);
    for n in 1..=3 {
        let url = postgres::new_database().await;
        let served = servers(Some(&url), n);
        run("postgresql", &served, seconds).await;
    }
}
