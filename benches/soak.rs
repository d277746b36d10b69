//! Soak benchmark: does a server stay flat over time? Three parts, each with its own server
//! (the real binary over loopback HTTP) and data directory:
//!
//! 1. **Memory per pod**: 100 simulated nodes, a ReplicaSet scaled to 10,000 pods; the
//!    server's anonymous resident memory once they all run, per stored pod.
//! 2. **Soak**: 20 simulated nodes, a ReplicaSet scaled between 0 and 2,000 every 30 s for 15
//!    minutes; every 30 s a row of resident memory (anonymous and file-backed), database and
//!    write-ahead log sizes, open descriptors and log rows; then the growth over the last 10
//!    minutes, between two samples of one phase and as the trend through all of them.
//! 3. **Idle Docker node** (only with Docker and the images `scripts/images` builds): one
//!    Docker node running 10 pods, left alone; how fast the database grows per hour.
//!
//! Run with `cargo bench --bench soak`; `-- --minutes N` sets the soak's length, `-- --quick`
//! makes every part short (1,000 pods, 3 minutes, 2 idle minutes), `-- --skip-docker` leaves
//! out part 3, `-- --part N` runs only part N (`--idle-minutes N` sets part 3's length),
//! `-- --event-ttl-minutes N` gives part 2's server that event TTL (Events are kept an hour by
//! default, longer than the soak: with a shorter TTL the soak shows whether memory levels off
//! once Events expire as fast as they come). Every loop is bounded in time; a watchdog stops
//! the run if the server's memory passes 4 GiB.

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/serve.rs"]
mod support;

/// The server's memory passed this: the run stops instead of taking the machine down.
const WATCHDOG_BYTES: u64 = 4 << 30;

struct Options {
    pods: usize,
    minutes: u64,
    idle_minutes: u64,
    docker: bool,
    /// `--part N`: run only that part.
    only: Option<u64>,
    /// `--event-ttl-minutes N`: part 2's server's `--event-ttl`.
    event_ttl_minutes: Option<u64>,
}

fn options() -> Option<Options> {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        return None;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Options {
        pods: if quick { 1_000 } else { 10_000 },
        minutes: value("--minutes").unwrap_or(if quick { 3 } else { 15 }),
        idle_minutes: value("--idle-minutes").unwrap_or(if quick { 2 } else { 10 }),
        docker: !args.iter().any(|a| a == "--skip-docker"),
        only: value("--part"),
        event_ttl_minutes: value("--event-ttl-minutes"),
    })
}

/// One sample of the server and its data directory.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    rss_anon: u64,
    rss_file: u64,
    database: u64,
    wal: u64,
    fds: u64,
    rows: u64,
    pods: u64,
}

fn proc_field(pid: u32, name: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.trim().strip_suffix("kB"))
                .and_then(|kb| kb.trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Log rows by `kubetrail status -o json`, the command a person would run.
fn log_rows(dir: &Path) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .args(["status", "-o", "json", "--data-dir"])
        .arg(dir)
        .output();
    out.ok()
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .and_then(|v| v["events"].as_u64())
        .unwrap_or(0)
}

async fn sample(server: &support::Served, client: &reqwest::Client, selector: &str) -> Sample {
    let pid = server.child.id();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    Sample {
        rss_anon: proc_field(pid, "RssAnon:"),
        rss_file: proc_field(pid, "RssFile:"),
        database: file_size(&server.dir.path().join("state.db")),
        wal: file_size(&server.dir.path().join("state.db-wal")),
        fds,
        rows: log_rows(server.dir.path()),
        pods: count_pods(client, &server.url, selector, false).await,
    }
}

fn watchdog(server: &support::Served) {
    let pid = server.child.id();
    let rss = proc_field(pid, "VmRSS:");
    assert!(
        rss < WATCHDOG_BYTES,
        "watchdog: the server's resident memory reached {} MiB; stopping",
        rss >> 20
    );
}

async fn get(client: &reqwest::Client, url: &str) -> Value {
    match client.get(url).send().await {
        Ok(response) => response.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

async fn wait_for_nodes(client: &reqwest::Client, url: &str, nodes: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let list = get(client, &format!("{url}/api/v1/nodes")).await;
        if list["items"].as_array().map_or(0, Vec::len) >= nodes {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{nodes} nodes did not register within 120 s");
}

/// Pods matching `selector` (with `running`: only those Running), counted from a list of
/// metadata-only Table rows so the count costs the server little.
async fn count_pods(client: &reqwest::Client, url: &str, selector: &str, running: bool) -> u64 {
    let field = if running {
        "&fieldSelector=status.phase%3DRunning"
    } else {
        ""
    };
    let list = get(
        client,
        &format!("{url}/api/v1/namespaces/default/pods?labelSelector={selector}{field}"),
    )
    .await;
    list["items"]
        .as_array()
        .map_or(0, |items| items.len() as u64)
}

async fn replicaset(client: &reqwest::Client, url: &str, name: &str, image: &str) {
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}},
    });
    let response = client
        .post(format!("{url}/apis/apps/v1/namespaces/default/replicasets"))
        .json(&rs)
        .send()
        .await
        .expect("create the ReplicaSet");
    assert_eq!(response.status(), 201, "ReplicaSet created");
}

async fn scale(client: &reqwest::Client, url: &str, name: &str, replicas: usize) {
    let response = client
        .patch(format!(
            "{url}/apis/apps/v1/namespaces/default/replicasets/{name}/scale"
        ))
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"spec": {"replicas": replicas}}).to_string())
        .send()
        .await
        .expect("scale");
    assert_eq!(response.status(), 200, "scaled");
}

/// Wait until `want` pods of `name` (Running ones when `running`) exist, at most `limit`.
async fn wait_for_pods(
    client: &reqwest::Client,
    server: &support::Served,
    name: &str,
    want: u64,
    running: bool,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        watchdog(server);
        let selector = format!("app%3D{name}");
        if count_pods(client, &server.url, &selector, running).await == want {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// Part 1: the anonymous memory a stored pod costs.
async fn memory_per_pod(client: &reqwest::Client, pods: usize) {
    let server = support::serve(&["--no-docker-node", "--simulated-nodes", "100"]);
    wait_for_nodes(client, &server.url, 100).await;
    replicaset(client, &server.url, "many", "busybox:1.36").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = proc_field(server.child.id(), "RssAnon:");
    scale(client, &server.url, "many", pods).await;
    let took = wait_for_pods(
        client,
        &server,
        "many",
        pods as u64,
        true,
        Duration::from_secs(300),
    )
    .await;
    // Let the controllers' last passes and the allocator settle before reading; and again a
    // minute later, when what the burst of writes left behind is given back: the memory the
    // stored pods keep.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let anon = proc_field(server.child.id(), "RssAnon:");
    let file = proc_field(server.child.id(), "RssFile:");
    tokio::time::sleep(Duration::from_secs(60)).await;
    let kept = proc_field(server.child.id(), "RssAnon:");
    println!("part 1: memory per stored pod (100 simulated nodes)");
    match took {
        Some(t) => println!("  {pods} pods Running after {:.1} s", t.as_secs_f64()),
        None => println!("  {pods} pods NOT all Running within 300 s"),
    }
    println!(
        "  RssAnon {} MiB (idle before the pods: {} MiB), RssFile {} MiB",
        mib(anon),
        mib(idle),
        mib(file)
    );
    let per_pod = |anon: u64| anon.saturating_sub(idle) as f64 / pods as f64;
    println!(
        "  RssAnon per stored pod: {:.1} KiB in all, {:.0} bytes above idle   (target <= 10 KB)",
        anon as f64 / 1024.0 / pods as f64,
        per_pod(anon)
    );
    println!(
        "  a minute later: RssAnon {} MiB, {:.0} bytes per stored pod above idle",
        mib(kept),
        per_pod(kept)
    );
}

/// Part 2: the soak, a row every 30 s.
async fn soak(client: &reqwest::Client, minutes: u64, event_ttl_minutes: Option<u64>) {
    let ttl = event_ttl_minutes.map(|m| format!("{m}m"));
    let mut args = vec!["--no-docker-node", "--simulated-nodes", "20"];
    if let Some(ttl) = &ttl {
        args.extend(["--event-ttl", ttl.as_str()]);
    }
    let server = support::serve(&args);
    wait_for_nodes(client, &server.url, 20).await;
    replicaset(client, &server.url, "soak", "busybox:1.36").await;
    println!();
    println!(
        "part 2: soak, 20 simulated nodes, a ReplicaSet scaled 0 <-> 2,000 every 30 s for {minutes} min{}",
        ttl.as_deref()
            .map(|t| format!(", event TTL {t}"))
            .unwrap_or_default()
    );
    println!(
        "  {:>5} {:>8} {:>6} {:>10} {:>10} {:>9} {:>8} {:>5} {:>9}",
        "MIN", "REPLICAS", "PODS", "ANON MiB", "FILE MiB", "DB MiB", "WAL MiB", "FDS", "LOG ROWS"
    );
    let started = Instant::now();
    let end = Duration::from_secs(minutes * 60);
    let mut samples: Vec<(Duration, usize, Sample)> = Vec::new();
    let mut replicas = 0;
    let mut next = Duration::ZERO;
    while started.elapsed() < end {
        replicas = if replicas == 0 { 2_000 } else { 0 };
        scale(client, &server.url, "soak", replicas).await;
        next += Duration::from_secs(30);
        while started.elapsed() < next {
            watchdog(&server);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let s = sample(&server, client, "app%3Dsoak").await;
        let at = started.elapsed();
        println!(
            "  {:>5.1} {:>8} {:>6} {:>10} {:>10} {:>9} {:>8} {:>5} {:>9}",
            at.as_secs_f64() / 60.0,
            replicas,
            s.pods,
            mib(s.rss_anon),
            mib(s.rss_file),
            mib(s.database),
            mib(s.wal),
            s.fds,
            s.rows
        );
        samples.push((at, replicas, s));
    }
    let Some(&(last_at, last_replicas, last)) = samples.last() else {
        return;
    };
    let window = Duration::from_secs(600).min(last_at);
    // Compare like with like: the newest sample at least the window before the last one, at
    // the same phase (the same replicas asked for). Samples come a little more than 30 s apart,
    // so the phase is read from the samples, not worked out from their times.
    let base = samples
        .iter()
        .rev()
        .filter(|(at, replicas, _)| last_at - *at >= window && *replicas == last_replicas)
        .map(|&(_, _, s)| s)
        .next();
    let wal_max = samples.iter().map(|(_, _, s)| s.wal).max().unwrap_or(0);
    println!("  WAL at most {} MiB (target <= 64 MiB)", mib(wal_max));
    if let Some(base) = base {
        let growth = |a: u64, b: u64| (b as f64 - a as f64) / a.max(1) as f64 * 100.0;
        println!(
            "  over the last {:.0} min: RSS {:+.1}% (anon {:+.1}%, target <= 5%), database {:+.1}%",
            window.as_secs_f64() / 60.0,
            growth(base.rss_anon + base.rss_file, last.rss_anon + last.rss_file),
            growth(base.rss_anon, last.rss_anon),
            growth(base.database, last.database),
        );
    }
    // Two samples differ by the allocator's ups and downs too (a few MiB either way): the
    // trend through every sample of a phase in the window says whether memory keeps growing.
    let mut phases: Vec<_> = samples.iter().map(|(_, replicas, _)| *replicas).collect();
    phases.sort_unstable();
    phases.dedup();
    for phase in phases {
        let points: Vec<(f64, f64)> = samples
            .iter()
            .filter(|(at, replicas, _)| last_at - *at <= window && *replicas == phase)
            .map(|(at, _, s)| (at.as_secs_f64() / 60.0, s.rss_anon as f64))
            .collect();
        if let Some((per_minute, start)) = trend(&points) {
            println!(
                "  anon trend at {phase} replicas over the window: {:+.2} MiB/min, {:+.1}% over {:.0} min",
                per_minute / (1024.0 * 1024.0),
                per_minute * window.as_secs_f64() / 60.0 / start * 100.0,
                window.as_secs_f64() / 60.0,
            );
        }
    }
}

/// The least-squares line through `points` (minutes, bytes): its slope per minute and its value
/// at the first point; none for fewer than three points.
fn trend(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_v = points.iter().map(|p| p.1).sum::<f64>() / n;
    let spread: f64 = points.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
    if spread == 0.0 {
        return None;
    }
    let slope = points
        .iter()
        .map(|p| (p.0 - mean_t) * (p.1 - mean_v))
        .sum::<f64>()
        / spread;
    Some((slope, mean_v + slope * (points[0].0 - mean_t)))
}

/// Part 3: one Docker node with 10 running pods, left alone.
async fn idle_docker(client: &reqwest::Client, minutes: u64) {
    let docker = Command::new("docker").arg("info").output();
    if !docker.is_ok_and(|o| o.status.success()) {
        println!();
        println!("part 3: skipped (no Docker engine answers `docker info`)");
        return;
    }
    let server = support::serve(&[]);
    wait_for_nodes(client, &server.url, 1).await;
    replicaset(client, &server.url, "idle", "ghcr.io/subicura/echo:v1").await;
    scale(client, &server.url, "idle", 10).await;
    let running = wait_for_pods(client, &server, "idle", 10, true, Duration::from_secs(180)).await;
    println!();
    println!("part 3: one Docker node, 10 running pods, idle for {minutes} min");
    if running.is_none() {
        println!("  the 10 pods did not all run within 180 s; skipped");
        let node = get(client, &format!("{}/api/v1/nodes", server.url)).await;
        if let Some(name) = node["items"][0]["metadata"]["name"].as_str() {
            drop(server);
            support::remove_containers_of(name);
        }
        return;
    }
    // Settle first: the pods' first probes and status writes are not idle growth.
    tokio::time::sleep(Duration::from_secs(30)).await;
    // The database file alone: the write-ahead log is a reused window (checkpointed into the
    // file every thousand pages), not growth.
    let size = |s: &support::Served| file_size(&s.dir.path().join("state.db"));
    let before = (size(&server), log_rows(server.dir.path()));
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(minutes * 60) {
        watchdog(&server);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let hours = started.elapsed().as_secs_f64() / 3600.0;
    let after = (size(&server), log_rows(server.dir.path()));
    println!(
        "  log rows {} -> {} ({:.0}/hour); state.db {} -> {} MiB",
        before.1,
        after.1,
        (after.1 as f64 - before.1 as f64) / hours,
        mib(before.0),
        mib(after.0)
    );
    println!(
        "  growth {:.2} MiB/hour   (target <= 1 MB/hour)",
        (after.0 as f64 - before.0 as f64) / hours / (1024.0 * 1024.0)
    );
    let node = get(client, &format!("{}/api/v1/nodes", server.url)).await;
    let name = node["items"][0]["metadata"]["name"]
        .as_str()
        .map(str::to_string);
    drop(server);
    if let Some(name) = name {
        support::remove_containers_of(&name);
    }
}

#[tokio::main]
async fn main() {
    let Some(options) = options() else {
        println!("soak benchmark: skipped outside `cargo bench`");
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    println!("kubetrail soak benchmark");
    let runs = |part: u64| options.only.is_none_or(|only| only == part);
    if runs(1) {
        memory_per_pod(&client, options.pods).await;
    }
    if runs(2) {
        soak(&client, options.minutes, options.event_ttl_minutes).await;
    }
    if runs(3) && options.docker {
        idle_docker(&client, options.idle_minutes).await;
    }
}
