//! Benchmark of debugging with the log on a long history: rebuild rate, start-up time and
//! history query latency with a log of 1,000,000 events.
//!
//! `cargo bench --bench history` builds the log, then runs the release binary as its own
//! process:
//!
//! 1. **The log.** A fresh data directory; the built-in namespaces, a `bench` namespace and one
//!    pod (`bench/hot`) are written through the real append path (`EventLog::submit`, so
//!    admission, defaults and managedFields are the server's own). The rest is generated from
//!    that pod as template and appended through the store (`Writer::append_unprojected`, in
//!    transactions of 10,000 events), seq after seq, the way the writer would append it (resourceVersion = seq, `prev_seq` chaining each object's events, uids, times
//!    increasing): 9,999 label updates of `bench/hot` (10,000 events in all), 10,000 pods that
//!    stay (one `Created` each) and short-lived pods (`Created`, `Updated`, `Deleted`) for the
//!    rest, up to 1,000,000 events. Pods are bound to a node and Running, so no controller
//!    acts on them at start-up.
//! 2. **Rebuild.** `kubetrail rebuild` three times (from genesis: no snapshot exists), then
//!    after `kubetrail snapshot` once more; events/s = events in the log / the time the
//!    command reports for the rebuild itself.
//! 3. **Start-up.** `kubetrail serve --insecure-http` on that directory, three times: time from
//!    spawning the process to the first `200` from `/readyz` (polled every 2 ms).
//! 4. **History queries** of `bench/hot` over HTTP, sequential: the whole history (10,000 rows,
//!    each with its diff) 20 times, `?tail=100` (the newest 100 rows with their diffs) 200
//!    times, and its 10,000 log entries without objects or diffs
//!    (`logentries?kind=Pod&namespace=bench&name=hot&includeObject=false`) 200 times;
//!    p50/p99/max. Each kind of request is sent once, untimed, before its timed ones.
//! 5. **Verify**: `kubetrail verify` once, for information.
//!
//! `KUBETRAIL_BENCH_LOG_DIR=DIR` builds the log in `DIR` and keeps it; a later run finds it
//! there and reuses it (opening it runs any newer migrations) instead of building it again.
//!
//! `--quick` uses 100,000 events and a 1,000-event hot pod. Without `--bench` (as
//! `cargo test --all-targets` runs it) it measures nothing. Every loop is bounded; the server
//! is killed on every path.

use anyhow::{Context, Result, bail};
use kubetrail::events::{Command as Write, EventLog, RequestMeta};
use kubetrail::model::{ResourceKind, meta};
use kubetrail::store::{EventRow, NewEvent, Readers, Writer};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TARGET_REBUILD_PER_SEC: f64 = 200_000.0;
const TARGET_STARTUP_SECS: f64 = 1.0;
const TARGET_HISTORY_P99_MS: f64 = 50.0;

struct Plan {
    events: i64,
    hot: i64,
    live: i64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Write the seed through the real append path; returns the hot pod as stored.
async fn seed(dir: &Path) -> Result<Value> {
    let (writer, readers) = kubetrail::store::open(&dir.join("state.db")).await?;
    let (log, task) = EventLog::start(
        writer,
        &readers,
        Arc::new(kubetrail::metrics::Metrics::new()),
        1024,
    )
    .await?;
    let meta_ = || RequestMeta {
        actor: "kubetrail-admin".into(),
        user_agent: Some("kubetrail-bench".into()),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    for ns in kubetrail::app::startup::BUILTIN_NAMESPACES
        .iter()
        .chain(["bench"].iter())
    {
        log.submit(
            Write::Create {
                kind: ResourceKind::Namespace,
                namespace: String::new(),
                object: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            },
            meta_(),
        )
        .await?;
    }
    let pod = log
        .submit(
            Write::Create {
                kind: ResourceKind::Pod,
                namespace: "bench".into(),
                object: json!({"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": "hot", "labels": {"app": "bench", "rev": "0"}},
                               "spec": {"nodeName": "bench-node",
                                        "containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1"}]}}),
            },
            meta_(),
        )
        .await?
        .object;
    drop(log);
    task.await?;
    readers.close().await;
    Ok(Arc::unwrap_or_clone(pod))
}

/// One generated event row.
struct Row {
    seq: i64,
    name: String,
    uid: String,
    event_type: &'static str,
    prev_seq: Option<i64>,
    object: String,
}

/// Generate the rest of the log after the seed, a chunk per transaction.
async fn generate(dir: &Path, template: &Value, plan: &Plan) -> Result<i64> {
    let (mut conn, readers) = kubetrail::store::open(&dir.join("state.db")).await?;
    let mut seq = readers.last_seq().await?;
    let hot_uid = meta::uid(template).to_string();
    let mut hot_prev = seq;
    let mut hot_rev = 0;
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3600);
    let object = |name: &str, uid: &str, seq: i64, rev: i64, deleted: bool| -> String {
        let mut o = template.clone();
        meta::set_meta(&mut o, "name", json!(name));
        meta::set_meta(&mut o, "uid", json!(uid));
        meta::set_meta(&mut o, "resourceVersion", json!(seq.to_string()));
        meta::set_meta(
            &mut o,
            "labels",
            json!({"app": "bench", "rev": rev.to_string()}),
        );
        if deleted {
            meta::set_meta(&mut o, "deletionTimestamp", json!(meta::format_time(start)));
            meta::set_meta(&mut o, "deletionGracePeriodSeconds", json!(0));
        }
        o["status"] = json!({"phase": "Running"});
        o.to_string()
    };
    let mut rows: Vec<Row> = Vec::with_capacity(CHUNK);
    let mut written = 0;
    let next = |seq: &mut i64| {
        *seq += 1;
        *seq
    };
    // Each object's newest version, for the changes recorded with the next event.
    let mut previous: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    let mut live_made = 0;
    let mut churn = 0;
    // Interleave: one hot update every `stride` events, live pods first, churn for the rest.
    let stride = (plan.events / plan.hot).max(1);
    while seq < plan.events {
        if rows.len() >= CHUNK {
            written += rows.len();
            flush(&mut conn, &readers, &mut rows, &mut previous, start).await?;
        }
        if hot_rev + 1 < plan.hot && seq % stride == 0 {
            hot_rev += 1;
            let s = next(&mut seq);
            rows.push(Row {
                seq: s,
                name: "hot".into(),
                uid: hot_uid.clone(),
                event_type: "Updated",
                prev_seq: Some(hot_prev),
                object: object("hot", &hot_uid, s, hot_rev, false),
            });
            hot_prev = s;
            continue;
        }
        if live_made < plan.live {
            live_made += 1;
            let name = format!("live-{live_made:06}");
            let uid = uuid::Uuid::new_v4().to_string();
            let s = next(&mut seq);
            rows.push(Row {
                seq: s,
                object: object(&name, &uid, s, 0, false),
                name,
                uid,
                event_type: "Created",
                prev_seq: None,
            });
            continue;
        }
        if plan.events - seq < 3 {
            // Not room for a whole churn pod: more hot updates (still one object's events).
            hot_rev += 1;
            let s = next(&mut seq);
            rows.push(Row {
                seq: s,
                name: "hot".into(),
                uid: hot_uid.clone(),
                event_type: "Updated",
                prev_seq: Some(hot_prev),
                object: object("hot", &hot_uid, s, hot_rev, false),
            });
            hot_prev = s;
            continue;
        }
        churn += 1;
        let name = format!("churn-{churn:07}");
        let uid = uuid::Uuid::new_v4().to_string();
        let mut prev = None;
        for (i, event_type) in ["Created", "Updated", "Deleted"].into_iter().enumerate() {
            let s = next(&mut seq);
            rows.push(Row {
                seq: s,
                name: name.clone(),
                uid: uid.clone(),
                event_type,
                prev_seq: prev,
                object: object(&name, &uid, s, i as i64, event_type == "Deleted"),
            });
            prev = Some(s);
        }
    }
    written += rows.len();
    flush(&mut conn, &readers, &mut rows, &mut previous, start).await?;
    readers.close().await;
    println!(
        "  generated {written} events: bench/hot has {} events, {live_made} pods stay, {churn} pods come and go",
        hot_rev + 1
    );
    Ok(seq)
}

/// Rows generated between inserts (the log is not held in memory).
const CHUNK: usize = 10_000;

/// Append `rows` in one transaction and empty it.
async fn flush(
    conn: &mut Writer,
    readers: &Readers,
    rows: &mut Vec<Row>,
    previous: &mut std::collections::HashMap<String, Value>,
    start: jiff::Timestamp,
) -> Result<()> {
    // (row, time, request id, changes): what the appended rows borrow.
    let mut made = Vec::with_capacity(rows.len());
    for row in rows.drain(..) {
        let time = meta::format_log_time(start + jiff::SignedDuration::from_micros(row.seq));
        // The changes the writer records: the diff from the object's previous version.
        let object: Value = serde_json::from_str(&row.object)?;
        if let Some(prev_seq) = row.prev_seq
            && !previous.contains_key(&row.name)
        {
            let stored = readers
                .entry(prev_seq)
                .await?
                .with_context(|| format!("event {prev_seq} is not in the log"))?
                .object;
            previous.insert(row.name.clone(), serde_json::from_str(&stored)?);
        }
        let before = row.prev_seq.and_then(|_| previous.get(&row.name));
        let deleted = row.event_type == "Deleted";
        let changes = kubetrail::model::diff::recorded_changes(before, &object, deleted);
        if deleted {
            previous.remove(&row.name);
        } else {
            previous.insert(row.name.clone(), object);
        }
        made.push((row, time, uuid::Uuid::new_v4().to_string(), changes));
    }
    let events: Vec<NewEvent<'_>> = made
        .iter()
        .map(|(row, time, request_id, changes)| NewEvent {
            row: EventRow {
                seq: row.seq,
                time,
                api_version: "v1",
                kind: "Pod",
                namespace: "bench",
                name: &row.name,
                uid: &row.uid,
                event_type: row.event_type,
                event_version: 1,
                prev_seq: row.prev_seq,
                object: &row.object,
                actor: "kubetrail-admin",
                user_agent: Some("kubetrail-bench"),
                field_manager: None,
                request_id,
                caused_by: None,
                causes: None,
            },
            changes,
        })
        .collect();
    conn.append_unprojected(&events).await?;
    Ok(())
}

fn binary(args: &[&str], dir: &Path) -> Result<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("RUST_LOG")
        .output()?;
    if !out.status.success() && args[0] != "verify" {
        bail!(
            "kubetrail {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// "rebuilt the projections from N events in X.XXXs" -> seconds.
fn rebuild_seconds(output: &str) -> Result<f64> {
    output
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|s| s.strip_suffix('s'))
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("unexpected rebuild output: {output}"))
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the server; returns it, its URL and the time until /readyz answered 200.
async fn start_server(dir: &Path, client: &reqwest::Client) -> Result<(Server, String, Duration)> {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .args([
            "serve",
            "--insecure-http",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir)
        .env_remove("RUST_LOG")
        .env_remove("KUBETRAIL_SIMULATED_NODES")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut url = String::new();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("kubetrail is serving the Kubernetes API at ") {
            url = rest.trim().to_string();
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    if url.is_empty() {
        bail!("the server did not print its URL");
    }
    let deadline = started + Duration::from_secs(120);
    loop {
        if let Ok(r) = client.get(format!("{url}/readyz")).send().await
            && r.status() == 200
        {
            return Ok((server, url, started.elapsed()));
        }
        if Instant::now() > deadline {
            bail!("/readyz did not answer 200 within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn time_gets(client: &reqwest::Client, url: &str, times: usize) -> Result<(Vec<f64>, usize)> {
    let mut samples = Vec::with_capacity(times);
    let mut bytes = 0;
    // One request first, not counted: the server's first read of these pages after start-up
    // pays for faulting them in and for its heap growing to the response's size.
    let warm_up = client.get(url).send().await?;
    if warm_up.status() != 200 {
        bail!("{url}: {}", warm_up.status());
    }
    warm_up.bytes().await?;
    for _ in 0..times {
        let t = Instant::now();
        let response = client.get(url).send().await?;
        if response.status() != 200 {
            bail!("{url}: {}", response.status());
        }
        bytes = response.bytes().await?.len();
        samples.push(ms(t.elapsed()));
    }
    samples.sort_by(f64::total_cmp);
    Ok((samples, bytes))
}

async fn run(plan: Plan) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let kept = std::env::var_os("KUBETRAIL_BENCH_LOG_DIR").map(std::path::PathBuf::from);
    let path = kept.as_deref().unwrap_or(dir.path());
    println!("kubetrail history benchmark: {} events", plan.events);
    let t = Instant::now();
    let last = if path.join("state.db").exists() {
        let (_, readers) = kubetrail::store::open(&path.join("state.db")).await?;
        let seq = readers.last_seq().await?;
        readers.close().await;
        println!("  reusing the log in {} ({seq} events)", path.display());
        seq
    } else {
        std::fs::create_dir_all(path)?;
        let template = seed(path).await?;
        let last = generate(path, &template, &plan).await?;
        println!(
            "  log built in {:.1} s ({last} events)",
            t.elapsed().as_secs_f64()
        );
        last
    };
    let size = std::fs::metadata(path.join("state.db"))?.len();
    println!("  state.db: {:.0} MB", size as f64 / 1e6);

    println!("\n2. Rebuild (kubetrail rebuild)");
    let mut rates = Vec::new();
    for run in 1..=3 {
        let out = binary(&["rebuild"], path)?;
        let secs = rebuild_seconds(&out)?;
        rates.push(last as f64 / secs);
        println!(
            "  run {run}: {} ({:.0} events/s)",
            out.trim(),
            last as f64 / secs
        );
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[1];
    println!(
        "  median {median:.0} events/s   target >= {TARGET_REBUILD_PER_SEC:.0}   {}",
        if median >= TARGET_REBUILD_PER_SEC {
            "met"
        } else {
            "MISSED"
        }
    );
    println!("  {}", binary(&["snapshot"], path)?.trim());
    let out = binary(&["rebuild"], path)?;
    println!("  after a snapshot at the last event: {}", out.trim());

    println!("\n3. Start-up to serving (spawn -> /readyz 200)");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut startups = Vec::new();
    for run in 1..=3 {
        let (server, _, took) = start_server(path, &client).await?;
        println!("  run {run}: {:.3} s", took.as_secs_f64());
        startups.push(took.as_secs_f64());
        drop(server);
    }
    startups.sort_by(f64::total_cmp);
    println!(
        "  median {:.3} s, max {:.3} s   target <= {TARGET_STARTUP_SECS} s   {}",
        startups[1],
        startups[2],
        if startups[2] <= TARGET_STARTUP_SECS {
            "met"
        } else {
            "MISSED"
        }
    );

    println!(
        "\n4. History of bench/hot ({} events) over HTTP, sequential",
        plan.hot
    );
    let (server, url, _) = start_server(path, &client).await?;
    let base = format!("{url}/apis/kubetrail.dev/v1alpha1/namespaces/bench/history/pods/hot");
    let (full, full_bytes) = time_gets(&client, &format!("{base}?limit=10000"), 20).await?;
    let (tail, tail_bytes) = time_gets(&client, &format!("{base}?tail=100"), 200).await?;
    let entries = format!(
        "{url}/apis/kubetrail.dev/v1alpha1/logentries?kind=Pod&namespace=bench&name=hot&includeObject=false&limit=10000"
    );
    let (log, log_bytes) = time_gets(&client, &entries, 200).await?;
    for (label, samples, bytes) in [
        ("whole history", &full, full_bytes),
        ("tail=100", &tail, tail_bytes),
        ("log entries", &log, log_bytes),
    ] {
        let p99 = percentile(samples, 99.0);
        println!(
            "  {label:<14} {:>4} requests  p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  ({:.1} MB)  target p99 <= {TARGET_HISTORY_P99_MS} ms  {}",
            samples.len(),
            percentile(samples, 50.0),
            p99,
            samples.last().copied().unwrap_or(f64::NAN),
            bytes as f64 / 1e6,
            if p99 <= TARGET_HISTORY_P99_MS {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    drop(server);

    println!("\n5. Verify (kubetrail verify), for information");
    let t = Instant::now();
    let out = binary(&["verify"], path)?;
    println!(
        "  {:.2} s: {}",
        t.elapsed().as_secs_f64(),
        out.lines().last().unwrap_or("")
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("history benchmark: skipped outside `cargo bench`");
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plan = if args.iter().any(|a| a == "--quick") {
        Plan {
            events: 100_000,
            hot: 1_000,
            live: 1_000,
        }
    } else {
        Plan {
            events: 1_000_000,
            hot: 10_000,
            live: 10_000,
        }
    };
    if let Err(e) = run(plan).await {
        eprintln!("history benchmark failed: {e:#}");
        std::process::exit(1);
    }
}
