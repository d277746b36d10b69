//! End-to-end benchmark of the kubetrail API server, as kubectl-like clients see it.
//!
//! `cargo bench --bench api` builds the release binary, starts it as its own process
//! (`kubetrail serve --listen 127.0.0.1:0 --data-dir <tempdir>`), and drives it over HTTPS with
//! the generated CA and bearer token. It measures, and prints in tables beside the targets:
//!
//! 1. durable creates/s (`POST /api/v1/namespaces/default/pods`) with 1, 16 and 64 concurrent
//!    clients, each client its own `reqwest::Client` (its own TLS connection), with p50/p99
//!    latency and the count of non-201 answers;
//! 2. GET latency of one pod and LIST latency of a namespace holding 10,000 pods;
//! 3. commit→watcher delivery latency with 100 and 1,000 concurrent watchers of a fresh
//!    namespace, for pods created one at a time about 20 ms apart;
//! 4. the server's idle resident set size (VmRSS) right after start-up and after the load.
//!
//! `--quick` (or `KUBETRAIL_BENCH_QUICK=1`) runs a short smoke version with small counts. Without
//! `--bench` (as `cargo test --all-targets` runs it) it measures nothing. Every loop is bounded
//! in count and time; the server process is killed at the end, also on error. Definitions and
//! the latest figures are in `docs/benchmarks.md`.

use anyhow::{Context, Result, anyhow, bail, ensure};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

/// How long the server may take to print its address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Per-request timeout of ordinary requests.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a whole create level may run before it is cut short (and reported as such).
const LEVEL_TIME_LIMIT: Duration = Duration::from_secs(300);
/// Watch streams sharing one client (one HTTP/2 connection).
const WATCHERS_PER_CLIENT: usize = 50;
/// Longest to wait for every watcher's events after the last create.
const DELIVERY_GRACE: Duration = Duration::from_secs(15);
/// Idle time before the second RSS reading.
const IDLE_BEFORE_RSS: Duration = Duration::from_secs(2);
/// Longest to wait, after the idle RSS reading, for the server to end the watch streams the
/// benchmark closed (it notices on a later heartbeat), for an extra, informational RSS reading.
const REAP_WAIT: Duration = Duration::from_secs(45);

/// Targets printed beside the figures.
const TARGET_CREATES_PER_SEC_64: f64 = 5_000.0;
const TARGET_SINGLE_CREATE_P99_MS: f64 = 5.0;
const TARGET_WATCH_P99_MS: f64 = 10.0;
const TARGET_IDLE_RSS_MB: f64 = 30.0;

/// What to run: the full benchmark or the quick smoke run.
struct Plan {
    quick: bool,
    /// (concurrent clients, creates) per level.
    create_levels: Vec<(usize, usize)>,
    read_pods: usize,
    gets: usize,
    lists: usize,
    watcher_levels: Vec<usize>,
    watch_pods: usize,
    watch_spacing: Duration,
}

impl Plan {
    fn from_args_and_env() -> Plan {
        let quick = std::env::args().any(|a| a == "--quick")
            || std::env::var("KUBETRAIL_BENCH_QUICK").is_ok_and(|v| v == "1");
        if quick {
            Plan {
                quick,
                create_levels: vec![(1, 100), (16, 400), (64, 800)],
                read_pods: 1_000,
                gets: 50,
                lists: 5,
                watcher_levels: vec![20, 100],
                watch_pods: 20,
                watch_spacing: Duration::from_millis(20),
            }
        } else {
            Plan {
                quick,
                create_levels: vec![(1, 1_000), (16, 5_000), (64, 10_000)],
                read_pods: 10_000,
                gets: 200,
                lists: 20,
                watcher_levels: vec![100, 1_000],
                watch_pods: 100,
                watch_spacing: Duration::from_millis(20),
            }
        }
    }
}

/// The server process; killed when dropped, so also on every error path.
struct Server {
    child: Child,
    url: String,
    ca_pem: Vec<u8>,
    token: String,
    data_dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Result<Server> {
        let data_dir = tempfile::tempdir().context("creating the data directory")?;
        let stderr = std::fs::File::create(data_dir.path().join("server.log"))
            .context("creating the server log file")?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_kubetrail"));
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--no-docker-node", "--data-dir"])
            .arg(data_dir.path())
            .env_remove("RUST_LOG");
        // The server's defaults, whatever this shell sets (e.g. KUBETRAIL_SIMULATED_NODES).
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("KUBETRAIL_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting the kubetrail server")?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        // From here on `server` owns the child: any early return kills it.
        let mut server = Server {
            child,
            url: String::new(),
            ca_pem: Vec::new(),
            token: String::new(),
            data_dir,
        };
        server.url = wait_for_url(stdout).map_err(|e| {
            anyhow!(
                "{e:#}; server log:\n{}",
                std::fs::read_to_string(server.data_dir.path().join("server.log"))
                    .unwrap_or_default()
            )
        })?;
        let dir = server.data_dir.path();
        server.ca_pem = std::fs::read(dir.join("ca.crt")).context("reading ca.crt")?;
        server.token = std::fs::read_to_string(dir.join("token"))
            .context("reading token")?
            .trim()
            .to_string();
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn api(&self) -> Api {
        Api {
            url: self.url.clone(),
            token: self.token.clone(),
            ca_pem: self.ca_pem.clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("could not kill the server (pid {}): {e}", self.child.id());
        }
        let _ = self.child.wait();
    }
}

/// Read the server's stdout until it prints its URL; keep draining it in the background.
fn wait_for_url(stdout: std::process::ChildStdout) -> Result<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                // Nobody listens any more; keep reading so the server never blocks on stdout.
                continue;
            }
        }
    });
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .map_err(|_| anyhow!("the server printed no URL within {STARTUP_TIMEOUT:?}"))?;
        if let Some((_, url)) = line.split_once("serving the Kubernetes API at ") {
            return Ok(url.trim().to_string());
        }
    }
}

/// Resident set size of a process in bytes, from `/proc/<pid>/status`.
fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmRSS has no value")?
        .parse()
        .context("VmRSS is not a number")?;
    Ok(kib * 1024)
}

/// CPU time (user + system, all threads) a process has used, from `/proc/<pid>/stat`.
/// Linux reports it in USER_HZ ticks, which are 1/100 s on every mainstream ABI.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let (_, after_name) = stat.rsplit_once(')').context("malformed /proc stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        let field = fields.get(i).context("short /proc stat")?;
        field.parse::<f64>().context("non-numeric /proc stat field")
    };
    // Fields 14 and 15 of the man page; index 0 here is field 3 (state).
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// How to reach the server.
#[derive(Clone)]
struct Api {
    url: String,
    token: String,
    ca_pem: Vec<u8>,
}

impl Api {
    /// A new client: its own connection pool, so its own TLS connection, like a kubectl process.
    fn client(&self, timeout: Duration) -> Result<reqwest::Client> {
        let ca = reqwest::Certificate::from_pem(&self.ca_pem).context("parsing ca.crt")?;
        reqwest::Client::builder()
            .tls_certs_only([ca])
            .timeout(timeout)
            .build()
            .context("building a client")
    }

    fn get(&self, client: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
        client
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header(ACCEPT, "application/json")
    }

    fn post(&self, client: &reqwest::Client, path: &str, body: String) -> reqwest::RequestBuilder {
        client
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body)
    }

    /// GET a JSON document, requiring 200.
    async fn get_json(&self, client: &reqwest::Client, path: &str) -> Result<serde_json::Value> {
        let response = self
            .get(client, path)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("GET {path} body"))?;
        ensure!(status == StatusCode::OK, "GET {path}: {status}: {text}");
        serde_json::from_str(&text).with_context(|| format!("GET {path}: not JSON"))
    }

    /// Wait (bounded) until `/readyz` answers 200.
    async fn wait_ready(&self) -> Result<()> {
        let client = self.client(Duration::from_secs(2))?;
        for _ in 0..100 {
            if let Ok(r) = self.get(&client, "/readyz").send().await
                && r.status() == StatusCode::OK
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not become ready")
    }

    async fn create_namespace(&self, client: &reqwest::Client, name: &str) -> Result<()> {
        let body =
            format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{name}"}}}}"#);
        let response = self.post(client, "/api/v1/namespaces", body).send().await?;
        let status = response.status();
        ensure!(
            status == StatusCode::CREATED,
            "creating namespace {name}: {status}: {}",
            response.text().await.unwrap_or_default()
        );
        Ok(())
    }

    /// The resourceVersion of a list of pods in `namespace`, and how many items it had.
    async fn list_pods(&self, client: &reqwest::Client, namespace: &str) -> Result<(i64, usize)> {
        let list = self
            .get_json(client, &format!("/api/v1/namespaces/{namespace}/pods"))
            .await?;
        let rv = list["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .context("list without a resourceVersion")?;
        let items = list["items"].as_array().map_or(0, Vec::len);
        Ok((rv, items))
    }

    /// Commit metrics from `/metrics`: (batches, submissions, seconds spent committing).
    async fn commit_metrics(&self, client: &reqwest::Client) -> Result<CommitMetrics> {
        let response = self.get(client, "/metrics").send().await?;
        ensure!(
            response.status() == StatusCode::OK,
            "GET /metrics: {}",
            response.status()
        );
        let text = response.text().await?;
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
                .unwrap_or(0.0)
        };
        Ok(CommitMetrics {
            batches: value("kubetrail_event_log_commit_batch_size_count"),
            submissions: value("kubetrail_event_log_commit_batch_size_sum"),
            seconds: value("kubetrail_event_log_commit_duration_seconds_sum"),
            open_watches: value("kubetrail_open_watches"),
        })
    }
}

/// Counters of the event log's group commit, as `/metrics` reports them.
#[derive(Debug, Clone, Copy, Default)]
struct CommitMetrics {
    batches: f64,
    submissions: f64,
    seconds: f64,
    open_watches: f64,
}

impl CommitMetrics {
    fn since(&self, before: &CommitMetrics) -> CommitMetrics {
        CommitMetrics {
            batches: self.batches - before.batches,
            submissions: self.submissions - before.submissions,
            seconds: self.seconds - before.seconds,
            open_watches: self.open_watches,
        }
    }
}

/// A small pod like `kubectl run` would send.
fn pod_json(name: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","labels":{{"app":"bench"}}}},"spec":{{"containers":[{{"name":"app","image":"ghcr.io/subicura/echo:v1","ports":[{{"containerPort":3000}}]}}]}}}}"#
    )
}

/// Latency samples and their percentiles.
#[derive(Debug, Default)]
struct Latencies(Vec<Duration>);

impl Latencies {
    /// Nearest-rank percentile in milliseconds; NaN without samples.
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
    }

    fn p50(&self) -> f64 {
        self.percentile_ms(50.0)
    }

    fn p99(&self) -> f64 {
        self.percentile_ms(99.0)
    }

    fn max(&self) -> f64 {
        self.0
            .iter()
            .max()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Creates
// ---------------------------------------------------------------------------------------------

struct CreateLevel {
    clients: usize,
    requested: usize,
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    wall: Duration,
    latencies: Latencies,
    commits: CommitMetrics,
    /// CPU seconds the server and this benchmark process used during the level.
    server_cpu: f64,
    bench_cpu: f64,
}

impl CreateLevel {
    fn per_second(&self) -> f64 {
        self.ok as f64 / self.wall.as_secs_f64()
    }
}

/// `total` creates of pods named `<prefix>-<i>` in `namespace`, spread over `clients`
/// concurrent clients that each hold their own connection (opened before the clock starts).
async fn create_level(
    api: &Api,
    server_pid: u32,
    namespace: &str,
    prefix: &str,
    clients: usize,
    total: usize,
) -> Result<CreateLevel> {
    let metrics_client = api.client(REQUEST_TIMEOUT)?;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(clients + 1));
    let connections = (0..clients)
        .map(|_| api.client(REQUEST_TIMEOUT))
        .collect::<Result<Vec<_>>>()?;
    let mut tasks = Vec::with_capacity(clients);
    for client in connections {
        let (api, next, start) = (api.clone(), next.clone(), start.clone());
        let path = format!("/api/v1/namespaces/{namespace}/pods");
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            // Open the connection (TLS handshake, HTTP/2 settings) before the clock starts.
            let warm = api.get(&client, "/version").send().await;
            start.wait().await;
            warm.context("warming up a client connection")?;
            let deadline = Instant::now() + LEVEL_TIME_LIMIT;
            let mut latencies = Vec::new();
            let (mut errors, mut first_error) = (0usize, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > deadline {
                    break;
                }
                let body = pod_json(&format!("{prefix}-{i}"));
                let sent = Instant::now();
                let outcome = match api.post(&client, &path, body).send().await {
                    Ok(response) => {
                        let status = response.status();
                        match response.bytes().await {
                            Ok(_) if status == StatusCode::CREATED => Ok(()),
                            Ok(bytes) => {
                                Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)))
                            }
                            Err(e) => Err(format!("{status}, reading the body: {e}")),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                latencies.push(sent.elapsed());
                if let Err(e) = outcome {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            anyhow::Ok((latencies, errors, first_error))
        }));
    }
    let before = api.commit_metrics(&metrics_client).await?;
    start.wait().await;
    let started = Instant::now();
    let server_cpu_before = cpu_seconds(server_pid)?;
    let bench_cpu_before = cpu_seconds(std::process::id())?;
    let mut level = CreateLevel {
        clients,
        requested: total,
        ok: 0,
        errors: 0,
        first_error: None,
        wall: Duration::ZERO,
        latencies: Latencies::default(),
        commits: CommitMetrics::default(),
        server_cpu: 0.0,
        bench_cpu: 0.0,
    };
    for task in tasks {
        let (latencies, errors, first_error) = task.await.context("a create client panicked")??;
        level.ok += latencies.len() - errors;
        level.errors += errors;
        level.latencies.0.extend(latencies);
        if level.first_error.is_none() {
            level.first_error = first_error;
        }
    }
    level.wall = started.elapsed();
    level.server_cpu = cpu_seconds(server_pid)? - server_cpu_before;
    level.bench_cpu = cpu_seconds(std::process::id())? - bench_cpu_before;
    level.commits = api.commit_metrics(&metrics_client).await?.since(&before);
    Ok(level)
}

async fn bench_creates(api: &Api, server_pid: u32, plan: &Plan) -> Result<Vec<CreateLevel>> {
    let mut levels = Vec::new();
    for &(clients, total) in &plan.create_levels {
        let level = create_level(
            api,
            server_pid,
            "default",
            &format!("c{clients}"),
            clients,
            total,
        )
        .await?;
        eprintln!(
            "  creates with {clients:>2} clients: {:.0}/s, {} errors",
            level.per_second(),
            level.errors
        );
        levels.push(level);
    }
    Ok(levels)
}

// ---------------------------------------------------------------------------------------------
// 2. Reads
// ---------------------------------------------------------------------------------------------

struct Reads {
    pods: usize,
    get: Latencies,
    list: Latencies,
    list_bytes: usize,
    fill: CreateLevel,
}

/// Fill a namespace with `plan.read_pods` pods, then time single GETs and full LISTs of it.
async fn bench_reads(
    api: &Api,
    server_pid: u32,
    plan: &Plan,
    rss_after_phase: &mut Vec<(&'static str, u64)>,
) -> Result<Reads> {
    let namespace = "bench-reads";
    let client = api.client(REQUEST_TIMEOUT)?;
    api.create_namespace(&client, namespace).await?;
    let fill = create_level(api, server_pid, namespace, "r", 64, plan.read_pods).await?;
    ensure!(
        fill.errors == 0,
        "filling {namespace}: {:?}",
        fill.first_error
    );
    rss_after_phase.push(("read fill", rss_bytes(server_pid)?));
    let (_, items) = api.list_pods(&client, namespace).await?;
    ensure!(
        items == plan.read_pods,
        "{namespace} holds {items} pods, expected {}",
        plan.read_pods
    );
    eprintln!("  {namespace} holds {items} pods; timing GETs and LISTs");

    let mut get = Latencies::default();
    for i in 0..plan.gets {
        // Spread over the namespace with a stride coprime to the pod count.
        let name = format!("r-{}", (i * 7_919) % plan.read_pods);
        let path = format!("/api/v1/namespaces/{namespace}/pods/{name}");
        let sent = Instant::now();
        let response = api.get(&client, &path).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        get.0.push(sent.elapsed());
        ensure!(status == StatusCode::OK, "GET {path}: {status}");
        ensure!(!body.is_empty(), "GET {path}: empty body");
    }

    let mut list = Latencies::default();
    let mut list_bytes = 0;
    let path = format!("/api/v1/namespaces/{namespace}/pods");
    for _ in 0..plan.lists {
        let sent = Instant::now();
        let response = api.get(&client, &path).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        list.0.push(sent.elapsed());
        ensure!(status == StatusCode::OK, "GET {path}: {status}");
        list_bytes = body.len();
    }
    Ok(Reads {
        pods: items,
        get,
        list,
        list_bytes,
        fill,
    })
}

// ---------------------------------------------------------------------------------------------
// 3. Watch delivery
// ---------------------------------------------------------------------------------------------

struct WatchLevel {
    watchers: usize,
    opened: usize,
    pods: usize,
    expected: usize,
    received: usize,
    stream_errors: usize,
    delivery: Latencies,
    create: Latencies,
    create_errors: usize,
    /// CPU used by the server and this benchmark, as % of one core, from the first create
    /// until every event arrived.
    server_cpu_pct: f64,
    bench_cpu_pct: f64,
}

/// What one watcher saw: when each pod's ADDED line arrived, and ERROR lines.
struct Seen {
    arrivals: Vec<Option<Instant>>,
    errors: usize,
}

/// The pod index of an `ADDED` line for a pod named `wpod-<i>`.
fn added_pod_index(line: &[u8]) -> Option<usize> {
    const NAME: &[u8] = b"\"name\":\"wpod-";
    if !line.starts_with(b"{\"type\":\"ADDED\"") {
        return None;
    }
    let at = line.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
    let digits = &line[at..];
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// Follow one watch stream until it has seen `pods` ADDED events, `stop` fires, or the
/// stream ends. The arrival instant is taken as soon as the chunk is read, before parsing.
async fn follow(
    response: reqwest::Response,
    pods: usize,
    received: Arc<AtomicUsize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen {
        arrivals: vec![None; pods],
        errors: 0,
    };
    let mut got = 0;
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while got < pods {
        let chunk = tokio::select! {
            chunk = body.next() => chunk,
            _ = stop.changed() => break,
        };
        let now = Instant::now();
        let Some(Ok(chunk)) = chunk else { break };
        buffer.extend_from_slice(&chunk);
        while let Some(newline) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=newline).collect();
            if line.starts_with(b"{\"type\":\"ERROR\"") {
                seen.errors += 1;
            } else if let Some(i) = added_pod_index(&line)
                && i < pods
                && seen.arrivals[i].is_none()
            {
                seen.arrivals[i] = Some(now);
                got += 1;
                received.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    seen
}

/// Open `watchers` watches on a fresh namespace, create `plan.watch_pods` pods one at a time,
/// and measure when each watcher receives each pod's ADDED line.
async fn watch_level(
    api: &Api,
    server_pid: u32,
    plan: &Plan,
    watchers: usize,
) -> Result<WatchLevel> {
    let namespace = format!("bench-watch-{watchers}");
    let writer = api.client(REQUEST_TIMEOUT)?;
    api.create_namespace(&writer, &namespace).await?;
    let (latest, _) = api.list_pods(&writer, &namespace).await?;
    let path = format!("/api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion={latest}");
    let pods = plan.watch_pods;
    let received = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let watch_timeout = Duration::from_secs(600);
    let clients = (0..watchers.div_ceil(WATCHERS_PER_CLIENT))
        .map(|_| api.client(watch_timeout))
        .collect::<Result<Vec<_>>>()?;
    let mut opening = Vec::with_capacity(watchers);
    for w in 0..watchers {
        let request = api.get(&clients[w % clients.len()], &path);
        opening.push(async move { request.send().await });
    }
    let responses = tokio::time::timeout(
        Duration::from_secs(120),
        futures_util::future::join_all(opening),
    )
    .await
    .context("opening the watches took over 120 s")?;
    let mut tasks = Vec::with_capacity(watchers);
    let mut open_failures = Vec::new();
    for response in responses {
        match response {
            Ok(r) if r.status() == StatusCode::OK => tasks.push(tokio::spawn(follow(
                r,
                pods,
                received.clone(),
                stop_rx.clone(),
            ))),
            Ok(r) => open_failures.push(format!("{}", r.status())),
            Err(e) => open_failures.push(e.to_string()),
        }
    }
    if let Some(first) = open_failures.first() {
        eprintln!(
            "  {} of {watchers} watches failed to open, first: {first}",
            open_failures.len()
        );
    }
    let opened = tasks.len();
    eprintln!(
        "  {opened} watchers open; creating {} pods",
        plan.watch_pods
    );

    let cpu_window = Instant::now();
    let server_cpu_before = cpu_seconds(server_pid)?;
    let bench_cpu_before = cpu_seconds(std::process::id())?;
    let mut create = Latencies::default();
    let mut create_errors = 0;
    let mut sent_at = Vec::with_capacity(pods);
    let mut tick = tokio::time::interval(plan.watch_spacing);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let pods_path = format!("/api/v1/namespaces/{namespace}/pods");
    for i in 0..pods {
        tick.tick().await;
        let body = pod_json(&format!("wpod-{i}"));
        let sent = Instant::now();
        sent_at.push(sent);
        let response = api.post(&writer, &pods_path, body).send().await;
        let created = match response {
            Ok(r) => r.status() == StatusCode::CREATED && r.bytes().await.is_ok(),
            Err(_) => false,
        };
        create.0.push(sent.elapsed());
        if !created {
            create_errors += 1;
        }
    }

    let expected = opened * pods;
    let deadline = Instant::now() + DELIVERY_GRACE;
    while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let window = cpu_window.elapsed().as_secs_f64();
    let server_cpu_pct = (cpu_seconds(server_pid)? - server_cpu_before) * 100.0 / window;
    let bench_cpu_pct = (cpu_seconds(std::process::id())? - bench_cpu_before) * 100.0 / window;
    stop_tx.send_replace(true);
    let mut delivery = Latencies::default();
    let mut stream_errors = 0;
    let mut got = 0;
    for task in tasks {
        let seen = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .context("a watcher did not stop")?
            .context("a watcher panicked")?;
        stream_errors += seen.errors;
        for (i, arrival) in seen.arrivals.iter().enumerate() {
            if let Some(at) = arrival {
                delivery.0.push(at.saturating_duration_since(sent_at[i]));
                got += 1;
            }
        }
    }
    drop(clients);
    Ok(WatchLevel {
        watchers,
        opened,
        pods,
        expected: watchers * pods,
        received: got,
        stream_errors,
        delivery,
        create,
        create_errors,
        server_cpu_pct,
        bench_cpu_pct,
    })
}

async fn bench_watches(api: &Api, server_pid: u32, plan: &Plan) -> Result<Vec<WatchLevel>> {
    let mut levels = Vec::new();
    for &watchers in &plan.watcher_levels {
        let level = watch_level(api, server_pid, plan, watchers).await?;
        eprintln!(
            "  {watchers} watchers: {}/{} events, p99 {:.2} ms",
            level.received,
            level.expected,
            level.delivery.p99()
        );
        levels.push(level);
    }
    Ok(levels)
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

struct Results {
    rss_start: u64,
    rss_idle: u64,
    open_watches_at_idle: f64,
    /// RSS, open watch streams and seconds waited, once the server has ended the closed watch
    /// streams or `REAP_WAIT` passed (full runs only).
    rss_reaped: Option<(u64, f64, f64)>,
    /// RSS right after each phase, under no load but not idle long (informational).
    rss_after_phase: Vec<(&'static str, u64)>,
    creates: Vec<CreateLevel>,
    reads: Reads,
    watches: Vec<WatchLevel>,
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn print_report(plan: &Plan, r: &Results) {
    let mode = if plan.quick {
        " (QUICK smoke run: small counts, not comparable)"
    } else {
        ""
    };
    println!();
    println!("kubetrail API benchmark{mode}");
    println!(
        "server: release build, own process, HTTPS (rustls, HTTP/2), bearer token; client on the same machine"
    );
    println!();

    println!("1. Durable creates: POST /api/v1/namespaces/default/pods, one connection per client");
    println!(
        "{:>8} {:>8} {:>10} {:>9} {:>9} {:>9} {:>7} {:>8} {:>10} {:>11} {:>8} {:>10}",
        "clients",
        "creates",
        "creates/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "commits",
        "avg batch",
        "avg commit",
        "srv CPU",
        "bench CPU"
    );
    for l in &r.creates {
        let truncated = if l.ok + l.errors < l.requested {
            " (time limit hit)"
        } else {
            ""
        };
        println!(
            "{:>8} {:>8} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>8.0} {:>10.1} {:>8.2} ms {:>7.0}% {:>9.0}%{truncated}",
            l.clients,
            l.ok + l.errors,
            l.per_second(),
            l.latencies.p50(),
            l.latencies.p99(),
            l.latencies.max(),
            l.errors,
            l.commits.batches,
            l.commits.submissions / l.commits.batches.max(1.0),
            l.commits.seconds * 1e3 / l.commits.batches.max(1.0),
            l.server_cpu * 100.0 / l.wall.as_secs_f64(),
            l.bench_cpu * 100.0 / l.wall.as_secs_f64(),
        );
        if let Some(e) = &l.first_error {
            println!("         first error: {e}");
        }
    }
    println!(
        "   (commits, avg batch and avg commit time come from the server's /metrics, per level;"
    );
    println!(
        "    CPU is user+system time over the level's wall time, 100% = one core; 2 cores are shared)"
    );
    println!();

    let reads = &r.reads;
    println!(
        "2. Reads of a namespace holding {} pods (application/json, one client, sequential)",
        reads.pods
    );
    println!(
        "{:>18} {:>8} {:>9} {:>9} {:>9}",
        "", "requests", "p50 ms", "p99 ms", "max ms"
    );
    for (name, lat) in [("GET one pod", &reads.get), ("LIST all pods", &reads.list)] {
        println!(
            "{name:>18} {:>8} {:>9.2} {:>9.2} {:>9.2}",
            lat.0.len(),
            lat.p50(),
            lat.p99(),
            lat.max()
        );
    }
    println!(
        "   LIST response {:.1} MB; namespace filled at {:.0} creates/s with 64 clients ({} errors)",
        reads.list_bytes as f64 / 1e6,
        reads.fill.per_second(),
        reads.fill.errors
    );
    println!();

    println!(
        "3. Watch delivery: GET .../pods?watch=true&resourceVersion=<latest> on a fresh namespace"
    );
    println!(
        "   latency = instant a watcher read the pod's ADDED line - instant just before that pod's"
    );
    println!(
        "   create request was sent; it includes the create's own write path (HTTPS, group commit,"
    );
    println!("   fsync), so it is an upper bound on commit->delivery. Pods created one at a time.");
    println!(
        "{:>9} {:>7} {:>6} {:>17} {:>7} {:>9} {:>9} {:>9} {:>16} {:>8} {:>10}",
        "watchers",
        "opened",
        "pods",
        "events recv/exp",
        "errors",
        "p50 ms",
        "p99 ms",
        "max ms",
        "create p50/p99",
        "srv CPU",
        "bench CPU"
    );
    for w in &r.watches {
        println!(
            "{:>9} {:>7} {:>6} {:>17} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>16} {:>7.0}% {:>9.0}%",
            w.watchers,
            w.opened,
            w.pods,
            format!("{}/{}", w.received, w.expected),
            w.stream_errors + w.create_errors,
            w.delivery.p50(),
            w.delivery.p99(),
            w.delivery.max(),
            format!("{:.2}/{:.2} ms", w.create.p50(), w.create.p99()),
            w.server_cpu_pct,
            w.bench_cpu_pct,
        );
    }
    println!("   (errors = watch ERROR lines + failed creates)");
    println!();

    println!("4. Server resident set size (VmRSS)");
    println!(
        "   after start-up, before load:  {:>7.1} MB",
        mb(r.rss_start)
    );
    println!(
        "   after the load, {:.0} s idle:     {:>7.1} MB  ({} watch streams still open server-side)",
        IDLE_BEFORE_RSS.as_secs_f64(),
        mb(r.rss_idle),
        r.open_watches_at_idle
    );
    if let Some((rss, open, waited)) = r.rss_reaped {
        println!(
            "   {waited:.0} s later (info only):        {:>7.1} MB  ({open} watch streams still open)",
            mb(rss)
        );
    }
    let phases: Vec<String> = r
        .rss_after_phase
        .iter()
        .map(|(phase, rss)| format!("{phase} {:.1} MB", mb(*rss)))
        .collect();
    println!(
        "   right after each phase (info only): {}",
        phases.join(", ")
    );
    println!();

    println!("Targets");
    if let Some(top) = r.creates.iter().find(|l| l.clients == 64) {
        let met = top.per_second() >= TARGET_CREATES_PER_SEC_64 && top.errors == 0;
        println!(
            "   creates/s at 64 clients >= {TARGET_CREATES_PER_SEC_64:.0}, 0 errors: {:>8.0}/s, {} errors  {}",
            top.per_second(),
            top.errors,
            verdict(met)
        );
    }
    if let Some(single) = r.creates.iter().find(|l| l.clients == 1) {
        let p99 = single.latencies.p99();
        println!(
            "   single-client create p99 <= {TARGET_SINGLE_CREATE_P99_MS} ms:        {p99:>8.2} ms     {}",
            verdict(p99 <= TARGET_SINGLE_CREATE_P99_MS)
        );
    }
    if let Some(w) = r.watches.last() {
        let p99 = w.delivery.p99();
        let complete = w.received == w.expected;
        println!(
            "   watch p99 <= {TARGET_WATCH_P99_MS} ms at {} watchers, all delivered: {p99:>6.2} ms     {}",
            w.watchers,
            verdict(p99 <= TARGET_WATCH_P99_MS && complete)
        );
    }
    let rss = mb(r.rss_start.max(r.rss_idle));
    println!(
        "   idle RSS <= {TARGET_IDLE_RSS_MB} MB (both readings):          {rss:>8.1} MB     {}",
        verdict(rss <= TARGET_IDLE_RSS_MB)
    );
    println!("   (1 MB = 10^6 bytes)");
}

async fn run(plan: &Plan, server: &Server) -> Result<Results> {
    let api = server.api();
    api.wait_ready().await?;
    let rss_start = rss_bytes(server.pid())?;
    eprintln!(
        "server pid {} at {}; measuring creates",
        server.pid(),
        api.url
    );
    let mut rss_after_phase = Vec::new();
    let creates = bench_creates(&api, server.pid(), plan).await?;
    rss_after_phase.push(("creates", rss_bytes(server.pid())?));
    eprintln!("measuring reads");
    let reads = bench_reads(&api, server.pid(), plan, &mut rss_after_phase).await?;
    rss_after_phase.push(("gets+lists", rss_bytes(server.pid())?));
    eprintln!("measuring watch delivery");
    let watches = bench_watches(&api, server.pid(), plan).await?;
    rss_after_phase.push(("watches", rss_bytes(server.pid())?));
    tokio::time::sleep(IDLE_BEFORE_RSS).await;
    let rss_idle = rss_bytes(server.pid())?;
    let metrics_client = api.client(REQUEST_TIMEOUT)?;
    let open_watches_at_idle = api.commit_metrics(&metrics_client).await?.open_watches;
    let rss_reaped = if plan.quick {
        None
    } else {
        let waiting = Instant::now();
        let mut open = open_watches_at_idle;
        while open > 0.0 && waiting.elapsed() < REAP_WAIT {
            tokio::time::sleep(Duration::from_secs(1)).await;
            open = api.commit_metrics(&metrics_client).await?.open_watches;
        }
        let waited = IDLE_BEFORE_RSS + waiting.elapsed();
        Some((rss_bytes(server.pid())?, open, waited.as_secs_f64()))
    };
    Ok(Results {
        rss_start,
        rss_idle,
        open_watches_at_idle,
        rss_reaped,
        rss_after_phase,
        creates,
        reads,
        watches,
    })
}

fn main() -> Result<()> {
    // `cargo test --all-targets` runs bench targets without `--bench`: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("api benchmark: skipped outside `cargo bench`");
        return Ok(());
    }
    let plan = Plan::from_args_and_env();
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| anyhow!("another rustls crypto provider is already installed"))?;
    let server = Server::start()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let results = runtime.block_on(run(&plan, &server));
    // Stop client tasks (open watches) before the server goes away.
    runtime.shutdown_timeout(Duration::from_secs(5));
    let log =
        std::fs::read_to_string(server.data_dir.path().join("server.log")).unwrap_or_default();
    drop(server);
    let results = results?;
    print_report(&plan, &results);
    if !log.is_empty() {
        eprintln!(
            "the server wrote {} bytes to stderr; first lines:",
            log.len()
        );
        for line in log.lines().take(5) {
            eprintln!("  {line}");
        }
    }
    Ok(())
}
