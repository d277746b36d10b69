//! Workers: level-triggered reconcilers that follow the event log through the shared
//! `cache::Informer` and write only through `EventLog::submit`, as named actors, recording the
//! event that caused each write. A pass reads one snapshot, submits its commands, and waits for
//! the cache to reflect them before the next pass, so no pass acts twice on the same state.

pub mod cache;
pub mod gc;
pub mod kubelet;
pub mod namespace;
pub mod nodes;
pub mod record;
pub mod remote;
pub mod replicaset;
pub mod scheduler;

use crate::events::{Command, EventLog, RequestMeta};
use crate::projections::ReadStore;
use crate::shutdown::Shutdown;
use cache::Informer;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::watch;

/// How many of one pass's commands are in flight at once (they share group commits). Enough to
/// fill the batch being decided and the one being written (1,024 each), with some queued behind.
const IN_FLIGHT: usize = 4096;

/// What a controller reads: a mark of the snapshot that moves whenever something the
/// controller decides from may have changed. A pass is skipped while the mark stands still
/// (until `tick` has passed since the last one), so a controller that follows a few kinds does
/// not re-read the whole cluster for every pod status.
pub type Interest = fn(&cache::Snapshot) -> u64;

/// Every change matters.
pub fn any_change(snapshot: &cache::Snapshot) -> u64 {
    snapshot.seq.max(0) as u64
}

/// The loop every in-process controller runs as `actor`: a pass over the current snapshot,
/// its writes, a wait until the informer reflects them, a rest in proportion to the pass, then
/// a wait for the next change (or `tick`). A change that leaves `interest` where it was does
/// not start a pass before `tick`.
pub async fn run_controller_until_stopped(
    actor: &str,
    log: EventLog,
    informer: Informer,
    (tick, interest): (Duration, Interest),
    mut shutdown: Shutdown,
    mut pass: impl FnMut(&cache::Snapshot) -> Vec<(Command, Option<i64>)>,
) {
    let mut changes = informer.changes();
    let mut seen: Option<u64> = None;
    let mut last_pass = std::time::Instant::now();
    loop {
        let started = std::time::Instant::now();
        let commands = {
            let snapshot = informer.read();
            let mark = interest(&snapshot);
            if seen == Some(mark) && last_pass.elapsed() < tick {
                None
            } else {
                seen = Some(mark);
                last_pass = started;
                Some(pass(&snapshot))
            }
        };
        let Some(commands) = commands else {
            if !wait_for_change(&mut changes, tick, &mut shutdown).await {
                return;
            }
            continue;
        };
        let cost = started.elapsed();
        let last = run_commands(&log, commands, || RequestMeta::worker(actor)).await;
        informer.wait_for(last).await;
        pace(cost).await;
        if !wait_for_change(&mut changes, tick, &mut shutdown).await {
            return;
        }
    }
}

/// Rest after a pass as long as it cost (at most 100 ms), so that in a large cluster under a
/// burst of changes each loop folds many changes into one pass instead of re-reading everything
/// for each (a pass over 10,000 pods costs milliseconds; thousands of changes arrive per
/// second). A longer rest leaves the writer idle between a scheduler's passes.
pub async fn pace(pass: Duration) {
    tokio::time::sleep(rest_after(pass)).await;
}

/// How long `pace` rests after a pass that cost `pass`.
pub fn rest_after(pass: Duration) -> Duration {
    pass.clamp(Duration::from_millis(2), Duration::from_millis(100))
}

/// Wait until the cache advances, `tick` passes, or shutdown (then false).
pub async fn wait_for_change(
    changes: &mut watch::Receiver<i64>,
    tick: Duration,
    shutdown: &mut Shutdown,
) -> bool {
    tokio::select! {
        _ = shutdown.wait() => false,
        _ = tokio::time::sleep(tick) => true,
        changed = changes.changed() => changed.is_ok(),
    }
}

/// Where a worker's commands go: the event log in this process, or a server's HTTP API.
pub trait Submit: Send + Sync {
    /// Submit one command; on success, the seq of the last event it appended (0 if none).
    fn submit_command(
        &self,
        command: Command,
        meta: RequestMeta,
    ) -> futures_util::future::BoxFuture<'_, Result<i64, String>>;
}

impl Submit for EventLog {
    fn submit_command(
        &self,
        command: Command,
        meta: RequestMeta,
    ) -> futures_util::future::BoxFuture<'_, Result<i64, String>> {
        Box::pin(async move {
            self.submit(command, meta)
                .await
                .map(|done| done.envelopes.last().map_or(0, |e| e.seq))
                .map_err(|e| e.to_string())
        })
    }
}

/// Submit a pass's commands (each with the seq that caused it), concurrently, as `meta()`.
/// Refusals are expected when the world moved on (the next pass sees the new state); they are
/// logged, not retried. Returns the highest seq appended (0 when nothing was).
pub async fn run_commands<S: Submit + ?Sized>(
    sink: &S,
    commands: Vec<(Command, Option<i64>)>,
    meta: impl Fn() -> RequestMeta,
) -> i64 {
    let submissions = commands.into_iter().map(|(command, cause)| {
        let mut request = meta();
        request.caused_by = cause;
        sink.submit_command(command, request)
    });
    let results: Vec<_> = futures_util::stream::iter(submissions)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut last = 0;
    for result in results {
        match result {
            Ok(seq) => last = last.max(seq),
            Err(e) => tracing::debug!(error = %e, "worker command refused"),
        }
    }
    last
}

/// Options for the in-process workers.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Run the scheduler, ReplicaSet controller, garbage collector and node lifecycle
    /// controller (the namespace controller always runs: namespace deletion depends on it).
    pub controllers: bool,
    /// Simulated nodes to register (kubelets that mark pods Running without containers).
    pub simulated_nodes: usize,
    pub node_lifecycle: nodes::Timing,
    pub simulated_start_delay: Duration,
    /// Run a Docker-backed node of this name in the server's process.
    pub docker_node: Option<String>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            controllers: true,
            simulated_nodes: 0,
            node_lifecycle: nodes::Timing::default(),
            simulated_start_delay: Duration::from_millis(200),
            docker_node: None,
        }
    }
}

/// Start the in-process workers on a shared informer.
pub async fn spawn_workers(
    log: EventLog,
    store: ReadStore,
    settings: &WorkerSettings,
    shutdown: Shutdown,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let informer = Informer::start(&log, &store).await?;
    let mut tasks = vec![tokio::spawn(
        namespace::run_namespace_controller_until_stopped(
            log.clone(),
            informer.clone(),
            shutdown.clone(),
        ),
    )];
    if settings.controllers {
        tasks.push(tokio::spawn(scheduler::run_scheduler_until_stopped(
            log.clone(),
            informer.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(
            replicaset::run_replicaset_controller_until_stopped(
                log.clone(),
                informer.clone(),
                shutdown.clone(),
            ),
        ));
        tasks.push(tokio::spawn(gc::run_garbage_collector_until_stopped(
            log.clone(),
            informer.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(nodes::run_node_lifecycle_until_stopped(
            log.clone(),
            informer.clone(),
            settings.node_lifecycle,
            shutdown.clone(),
        )));
    }
    if settings.simulated_nodes > 0 {
        let nodes = (0..settings.simulated_nodes)
            .map(kubelet::simulated::node_name)
            .collect();
        tasks.push(tokio::spawn(
            kubelet::simulated::run_simulated_kubelets_until_stopped(
                std::sync::Arc::new(log.clone()),
                informer.clone(),
                nodes,
                settings.simulated_start_delay,
                settings.node_lifecycle.heartbeat,
                shutdown.clone(),
            ),
        ));
    }
    if let Some(node) = &settings.docker_node {
        tasks.push(tokio::spawn(
            kubelet::docker::run_docker_kubelet_until_stopped(
                std::sync::Arc::new(log.clone()),
                informer.clone(),
                node.clone(),
                settings.node_lifecycle.heartbeat,
                shutdown.clone(),
            ),
        ));
    }
    Ok(tasks)
}
