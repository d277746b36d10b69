//! Workers: the in-process controllers and the kubelets. Both follow the log through the
//! shared `cache::Informer` and reconcile state, not events: a pass reads one snapshot, submits
//! its commands, and waits for the cache to reflect them before the next pass, so no pass acts
//! twice on the same state.
//!
//! Controllers (`controller::Controller`: namespace, scheduler, Deployment, ReplicaSet, garbage collector,
//! node lifecycle) are listed once in `controllers` and all run the one loop
//! `run_controller_until_stopped`; kubelets (`kubelet`) keep loops of their own. The
//! controllers run only while this server holds the controllers' Lease (`election`), each term
//! of leadership afresh; the kubelets and the service proxy run on every server.
//!
//! Every worker writes through `Submit`, and only through it: `submit_command` with a
//! `RequestMeta` naming the worker's actor (`api::actors`) and the seq of the object version
//! that made it act (`caused_by`). In the server's process `Submit` is the `EventLog` itself
//! (the same `EventLog::submit` an HTTP request reaches); a kubelet in another process
//! (`remote::Connection`) submits the equivalent REST calls to a server, which turns them into
//! the same commands with the same cause (`Kubetrail-Caused-By`). Such a kubelet's events are
//! recorded as the user its token authenticates; its actor name reaches the log only as the
//! `User-Agent`.

pub mod cache;
pub mod causes;
pub mod controller;
pub mod deployment;
pub mod election;
pub mod endpoints;
pub mod eventttl;
pub mod gc;
pub mod kubelet;
pub mod namespace;
pub mod nodes;
pub mod pods;
pub mod proxy;
pub mod record;
pub mod remote;
pub mod replicaset;
pub mod scheduler;
pub mod serviceaccount;
pub mod stored;

use crate::api::actors;
pub use crate::events::Cause;
use crate::events::{Command, EventLog, RequestMeta};
use crate::health::{Health, panic_message};
use crate::projections::ReadStore;
use crate::shutdown::Shutdown;
use cache::Informer;
pub use controller::{
    Controller, Interest, Wake, any_change, any_change_but_leases, controllers,
    run_controller_until_stopped,
};
use futures_util::StreamExt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use stored::{StoreReads, Stored};
use tokio::sync::watch;

/// How many of one pass's commands are in flight at once (they share group commits). Enough to
/// fill the batch being decided and the one being written (1,024 each), with some queued behind.
const IN_FLIGHT: usize = 4096;

/// A command and its causes, the primary one first (`RequestMeta::because`).
pub type Caused = (Command, Vec<Cause>);

/// What one pass of a controller submits: `commands` all at once, and `slow_start` groups
/// (e.g. one ReplicaSet's pod creations) in batches of 1, 2, 4, ... as Kubernetes'
/// `slowStartBatch`: a group stops at the first batch with a refusal, so a request that
/// fails for every pod (a quota, a bad template) costs one pod, not hundreds.
#[derive(Debug, Default)]
pub struct Pass {
    pub commands: Vec<Caused>,
    pub slow_start: Vec<SlowStart>,
    /// Sequences submitted in order, each stopping at its first refusal (a write, then the
    /// Event that reports it: no report of a write that did not happen); the sequences run
    /// side by side.
    pub chains: Vec<Vec<Caused>>,
}

/// One group of commands submitted in slow-start batches.
#[derive(Debug)]
pub struct SlowStart {
    /// Names the group from pass to pass (a ReplicaSet's uid): a group whose whole last run
    /// was accepted starts its next one at full size, since what slow start guards against,
    /// a request that fails for every pod, would have shown there. One refusal, and the
    /// group starts from a batch of one again.
    pub key: String,
    pub commands: Vec<Caused>,
}

impl From<Vec<Caused>> for Pass {
    fn from(commands: Vec<Caused>) -> Self {
        Pass {
            commands,
            slow_start: Vec::new(),
            chains: Vec::new(),
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

/// Where a worker's commands go, the one way any worker writes: the `EventLog` in this
/// process, or a server's HTTP API (`remote::Connection`) for a kubelet in another one.
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
    commands: Vec<Caused>,
    meta: impl Fn() -> RequestMeta,
) -> i64 {
    let submissions = commands
        .into_iter()
        .map(|(command, causes)| sink.submit_command(command, meta().because(causes)));
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

/// Submit each chain in order, stopping it at its first refusal; the chains go side by side.
/// Returns the highest seq appended (0 when nothing was).
pub async fn run_chains<S: Submit + ?Sized>(
    sink: &S,
    chains: Vec<Vec<Caused>>,
    meta: impl Fn() -> RequestMeta,
) -> i64 {
    let meta = &meta;
    let runs = chains.into_iter().map(|chain| async move {
        let mut last = 0;
        for (command, causes) in chain {
            match sink.submit_command(command, meta().because(causes)).await {
                Ok(seq) => last = last.max(seq),
                Err(e) => {
                    tracing::debug!(error = %e, "worker command refused; the rest of its chain dropped");
                    break;
                }
            }
        }
        last
    });
    futures_util::stream::iter(runs)
        .buffer_unordered(IN_FLIGHT)
        .fold(0, |last, seq| async move { last.max(seq) })
        .await
}

/// Submit each group in batches of 1, 2, 4, ... (the batches of all groups together, each
/// batch concurrently); a group with a refusal in one batch submits no more. A group named
/// in `accepted` (its whole last run was accepted) goes in one batch. On return `accepted`
/// names the groups of this run that had no refusal. Returns the highest seq appended (0 when
/// nothing was).
pub async fn run_slow_start<S: Submit + ?Sized>(
    sink: &S,
    groups: Vec<SlowStart>,
    accepted: &mut std::collections::HashSet<String>,
    meta: impl Fn() -> RequestMeta,
) -> i64 {
    struct Running {
        key: String,
        commands: std::vec::IntoIter<Caused>,
        batch: usize,
        refused: bool,
    }
    let mut running: Vec<Running> = groups
        .into_iter()
        .map(|group| Running {
            batch: if accepted.contains(&group.key) {
                group.commands.len().max(1)
            } else {
                1
            },
            key: group.key,
            commands: group.commands.into_iter(),
            refused: false,
        })
        .collect();
    accepted.clear();
    let mut last = 0;
    while !running.is_empty() {
        let mut wave = Vec::new();
        for (index, group) in running.iter_mut().enumerate() {
            wave.extend(
                group
                    .commands
                    .by_ref()
                    .take(group.batch)
                    .map(|c| (index, c)),
            );
            group.batch = group.batch.saturating_mul(2);
        }
        let submissions = wave.into_iter().map(|(index, (command, causes))| {
            let request = meta().because(causes);
            async move { (index, sink.submit_command(command, request).await) }
        });
        let results: Vec<_> = futures_util::stream::iter(submissions)
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for (index, result) in results {
            match result {
                Ok(seq) => last = last.max(seq),
                Err(e) => {
                    tracing::debug!(error = %e, "worker command refused; its group stops");
                    running[index].refused = true;
                }
            }
        }
        running.retain(|group| {
            let done = group.refused || group.commands.as_slice().is_empty();
            if done && !group.refused {
                accepted.insert(group.key.clone());
            }
            !done
        });
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
    /// Where the service network runs (the Docker node's Services reachable from its pods
    /// and on loopback), or why it does not.
    pub routing: proxy::worker::Routing,
    /// How long a core/v1 Event lives after its last write (`--event-ttl`).
    pub event_ttl: Duration,
    /// The controllers' election: its periods (with `controllers` on, the controllers run
    /// only while this server holds the Lease).
    pub election: election::Timing,
    /// No other server can write this log (a SQLite data directory, locked by this server):
    /// a controllers' Lease held by another is a dead process's, taken over at once.
    pub sole_server: bool,
    /// The API server these workers run in, once it is bound (set by the server at start).
    pub api: Option<ApiServer>,
}

/// What the in-process workers know of the server they run in: where its API listens (the
/// `kubernetes` Service's route), its CA (pods' `ca.crt`), its ServiceAccount token signer
/// (pods' tokens) and the directory the Docker kubelet keeps pod files in.
#[derive(Debug, Clone)]
pub struct ApiServer {
    pub listener: std::net::SocketAddr,
    pub ca_pem: String,
    pub signer: Arc<crate::auth::token::Signer>,
    pub kubelet_dir: std::path::PathBuf,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            controllers: true,
            simulated_nodes: 0,
            node_lifecycle: nodes::Timing::default(),
            simulated_start_delay: Duration::from_millis(200),
            docker_node: None,
            routing: proxy::worker::Routing::Off {
                why: proxy::worker::NO_DOCKER_NODE.to_string(),
            },
            event_ttl: eventttl::DEFAULT_EVENT_TTL,
            election: election::Timing::default(),
            sole_server: false,
            api: None,
        }
    }
}

/// The first wait before a panicked worker starts again; it doubles with each panic in a row.
const RESTART_BACKOFF_START: Duration = Duration::from_secs(1);
/// The longest wait before a restart.
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A worker that ran this long since its last start is healthy again: the next panic waits
/// from the start of the back-off.
const RESTART_BACKOFF_RESET: Duration = Duration::from_secs(120);

/// Run the worker `start` makes as `name`, and make it again after a panic, waiting longer
/// after each panic in a row (1 s, 2 s, ... at most 60 s). While it waits it is down in
/// `health` (so `/readyz` fails naming it); every panic is logged and counted. Returns when
/// the worker returns by itself (shutdown) or on shutdown during a wait.
pub async fn supervise<F, Fut>(name: String, health: Arc<Health>, mut shutdown: Shutdown, start: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = RESTART_BACKOFF_START;
    loop {
        health.up(&name);
        let started = Instant::now();
        let message = match tokio::spawn(start()).await {
            Ok(()) => return,
            Err(e) if e.is_panic() => panic_message(e.into_panic().as_ref()),
            Err(_) => return,
        };
        if started.elapsed() >= RESTART_BACKOFF_RESET {
            backoff = RESTART_BACKOFF_START;
        }
        health.panicked(&name, &message);
        health.down(
            &name,
            format!("panicked: {message}; restarting in {}s", backoff.as_secs()),
        );
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
    }
}

/// Start the in-process workers on a shared informer, each supervised (`supervise`).
pub async fn spawn_workers(
    log: EventLog,
    store: ReadStore,
    settings: &WorkerSettings,
    shutdown: Shutdown,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let informer = Informer::start(&log, &store, shutdown.clone()).await?;
    let workers = Supervised {
        log,
        informer,
        shutdown,
    };
    let mut tasks = Vec::new();
    // With controllers on, they run only while this server holds the controllers' Lease;
    // with them off (tests where nothing but the test writes) no election runs and the
    // namespace controller runs alone, as on a single server.
    let leadership = if settings.controllers {
        let (elected, leadership) = election::leadership(Some(workers.log.health().clone()));
        let identity = election::identity();
        tracing::info!(%identity, "running for the controllers' Lease");
        let candidate = election::Candidate::new(identity, settings.election);
        let candidate = if settings.sole_server {
            candidate.sole()
        } else {
            candidate
        };
        tasks.push(
            workers.spawn(CONTROLLER_ELECTION, move |log, informer, shutdown| {
                election::run_election_until_stopped(
                    Arc::new(log),
                    informer,
                    candidate.clone(),
                    elected.clone(),
                    shutdown,
                )
            }),
        );
        Some(leadership)
    } else {
        None
    };
    for controller in controllers(settings.node_lifecycle, settings.event_ttl) {
        if !(settings.controllers || controller.always_runs()) {
            continue;
        }
        let controller: Arc<dyn Controller> = Arc::from(controller);
        let leadership = leadership.clone();
        tasks.push(
            workers.spawn(controller.actor(), move |log, informer, shutdown| {
                run_controller_in_terms(
                    controller.clone(),
                    leadership.clone(),
                    log,
                    informer,
                    shutdown,
                )
            }),
        );
    }
    let reporting = kubelet::NodeReporting::from(settings.node_lifecycle);
    if settings.simulated_nodes > 0 {
        let nodes: Vec<String> = (0..settings.simulated_nodes)
            .map(kubelet::simulated::node_name)
            .collect();
        let delay = settings.simulated_start_delay;
        tasks.push(
            workers.spawn("simulated-kubelets", move |log, informer, shutdown| {
                kubelet::simulated::run_simulated_kubelets_until_stopped(
                    Arc::new(log),
                    informer,
                    nodes.clone(),
                    delay,
                    reporting,
                    shutdown,
                )
            }),
        );
    }
    let routing = settings.routing.clone();
    let cluster_dns = routing.cluster_dns();
    let api_listener = settings.api.as_ref().map(|a| a.listener);
    tasks.push(
        workers.spawn(actors::SERVICE_PROXY, move |log, informer, shutdown| {
            proxy::worker::run_service_proxy_until_stopped(
                Arc::new(log),
                informer,
                routing.clone(),
                api_listener,
                shutdown,
            )
        }),
    );
    if let Some(node) = settings.docker_node.clone() {
        let name = format!("kubelet-{node}");
        let api = settings.api.clone();
        tasks.push(workers.spawn(&name, move |log, informer, shutdown| {
            let injection = kubelet::docker::Injection {
                root_dir: api.as_ref().map_or_else(
                    || std::env::temp_dir().join(format!("kubetrail-kubelet-{node}")),
                    |a| a.kubelet_dir.clone(),
                ),
                tokens: api.as_ref().map(|a| {
                    Arc::new(kubelet::tokens::LocalTokens {
                        signer: a.signer.clone(),
                        informer: informer.clone(),
                    }) as Arc<dyn kubelet::tokens::TokenSource>
                }),
                ca_pem: api.as_ref().map(|a| a.ca_pem.clone()).unwrap_or_default(),
            };
            kubelet::docker::run_docker_kubelet_until_stopped(
                Arc::new(log),
                informer,
                node.clone(),
                reporting,
                cluster_dns,
                injection,
                shutdown,
            )
        }));
    }
    Ok(tasks)
}

/// The controllers' election's name in `/readyz`.
pub const CONTROLLER_ELECTION: &str = "controller-election";

/// Run `controller` while this server leads (`leadership`; always when there is no
/// election): each term of leadership runs it afresh from the informer's state (it is
/// level-triggered) with a stop signal of its own that also fires on shutdown, and a lost
/// leadership drops the running pass at once, before it writes again.
async fn run_controller_in_terms(
    controller: Arc<dyn Controller>,
    leadership: Option<election::Leadership>,
    log: EventLog,
    informer: Informer,
    mut shutdown: Shutdown,
) {
    let Some(mut leadership) = leadership else {
        return run_controller_until_stopped(controller, log, informer, shutdown).await;
    };
    loop {
        let term = tokio::select! {
            _ = shutdown.wait() => return,
            term = leadership.term() => term,
        };
        let Some(term) = term else {
            return;
        };
        tracing::debug!(controller = controller.actor(), "leading: started");
        let stop = shutdown.child();
        tokio::select! {
            _ = run_controller_until_stopped(
                controller.clone(), log.clone(), informer.clone(), stop.clone()) => {}
            _ = leadership.lost() => {}
            _ = shutdown.wait() => {}
        }
        stop.trigger();
        drop(term);
        if shutdown.is_triggered() {
            return;
        }
        tracing::debug!(
            controller = controller.actor(),
            "no longer leading: stopped"
        );
    }
}

/// What every in-process worker runs on.
struct Supervised {
    log: EventLog,
    informer: Informer,
    shutdown: Shutdown,
}

impl Supervised {
    /// Start `run` as `name` under `supervise`, on clones of the log, informer and shutdown.
    fn spawn<F, Fut>(&self, name: &str, run: F) -> tokio::task::JoinHandle<()>
    where
        F: Fn(EventLog, Informer, Shutdown) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (log, informer, shutdown) = (
            self.log.clone(),
            self.informer.clone(),
            self.shutdown.clone(),
        );
        let start = move || run(log.clone(), informer.clone(), shutdown.clone());
        tokio::spawn(supervise(
            name.to_string(),
            self.log.health().clone(),
            self.shutdown.clone(),
            start,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceKind;
    use serde_json::json;
    use std::sync::Mutex;

    /// A sink that refuses the creation of names starting with `refuse` and records what
    /// it was sent, in order.
    struct Recorder {
        refuse: &'static str,
        sent: Mutex<Vec<String>>,
    }

    impl Submit for Recorder {
        fn submit_command(
            &self,
            command: Command,
            _meta: RequestMeta,
        ) -> futures_util::future::BoxFuture<'_, Result<i64, String>> {
            let (_, _, name) = command.target();
            let name = name.to_string();
            self.sent.lock().unwrap().push(name.clone());
            let refused = name.starts_with(self.refuse);
            Box::pin(async move { if refused { Err(name) } else { Ok(1) } })
        }
    }

    fn creations(prefix: &str, n: usize) -> Vec<Caused> {
        (0..n)
            .map(|i| {
                let object = json!({"metadata": {"name": format!("{prefix}-{i}")}});
                let command = Command::Create {
                    kind: ResourceKind::Pod,
                    namespace: "default".into(),
                    object,
                };
                (command, Vec::new())
            })
            .collect()
    }

    #[tokio::test]
    async fn a_worker_that_panics_is_down_then_started_again() {
        let health = Health::new(Arc::new(crate::metrics::Metrics::new()));
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let shutdown = Shutdown::new();
        let counted = runs.clone();
        let supervisor = tokio::spawn(supervise(
            "flaky".to_string(),
            health.clone(),
            shutdown.clone(),
            move || {
                let run = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    if run == 0 {
                        panic!("first run fails");
                    }
                }
            },
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let report = health.report();
        assert!(
            matches!(&report[0].1, crate::health::ComponentState::Down(reason) if reason.contains("first run fails")),
            "{report:?}"
        );
        tokio::time::timeout(Duration::from_secs(5), supervisor)
            .await
            .expect("the second run ends the supervisor")
            .expect("supervisor");
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(health.all_up());
    }

    #[tokio::test]
    async fn slow_start_stops_a_group_at_its_first_refused_batch_and_lets_the_others_go_on() {
        let sink = Recorder {
            refuse: "bad",
            sent: Mutex::new(Vec::new()),
        };
        let group = |key: &str| SlowStart {
            key: key.to_string(),
            commands: creations(key, 10),
        };
        let mut accepted = std::collections::HashSet::new();
        run_slow_start(
            &sink,
            vec![group("good"), group("bad")],
            &mut accepted,
            RequestMeta::default,
        )
        .await;
        let sent = std::mem::take(&mut *sink.sent.lock().unwrap());
        // The failing group stops after its first batch of one.
        assert_eq!(sent.iter().filter(|n| n.starts_with("bad")).count(), 1);
        // The other goes on in batches of 1, 2, 4 and the remaining 3: all ten.
        assert_eq!(sent.iter().filter(|n| n.starts_with("good")).count(), 10);
        assert_eq!(accepted, ["good".to_string()].into());

        // Next time the accepted group goes in one batch, the refused one from one again.
        let probe = Recorder {
            refuse: "bad",
            sent: Mutex::new(Vec::new()),
        };
        run_slow_start(
            &probe,
            vec![group("good"), group("bad")],
            &mut accepted,
            RequestMeta::default,
        )
        .await;
        let sent = probe.sent.into_inner().unwrap();
        assert_eq!(sent.iter().filter(|n| n.starts_with("good")).count(), 10);
        assert_eq!(sent.iter().filter(|n| n.starts_with("bad")).count(), 1);
    }
}
