//! The Docker runtime: runs each pod bound to the node as real containers through bollard, one
//! sandbox container holding the pod's network namespace and the spec's containers joined to it.
//!
//! The loop is level-triggered like every worker: each pass reads the pods bound to the node
//! (from the informer) and the node's containers (from Docker, by label), plans each pod's next
//! actions and status with the pure functions of `sync`, writes changed statuses, and hands a
//! pod's actions to a task of its own (one at a time per pod), so a slow pull or a grace period
//! never holds up other pods. It wakes on a change in the log, on Docker's event stream (a
//! container exit is noticed at once), on a finished pod task or probe finding, and each second
//! for back-off timers and heartbeats (the node's Lease renewed every heartbeat period, its
//! status written on a change or every status report period). Because everything a container belongs to is on its
//! labels, a restarted kubelet adopts the containers it finds instead of duplicating them, and
//! removes those of pods that are gone.

pub mod atomic;
pub mod engine;
pub mod env;
pub mod observe;
pub mod pause;
pub mod pod;
pub mod probe;
pub mod spec;
pub mod sync;
pub mod volumes;

use super::tokens::{Issued, PodToken, TokenSource};
use super::{NodeDescription, NodeReporting, Reports, StatusWrite, heartbeat_with, node_object};
use crate::api::actors;
use crate::api::containers as naming;
use crate::events::{Command, RequestMeta, UpdatePart};
use crate::model::{ResourceKind, meta};
use crate::shutdown::Shutdown;
use crate::workers::cache::{Informer, Marks};
use crate::workers::causes::{self, Input};
use crate::workers::record::{Reporter, Severity};
use crate::workers::{Caused, Submit, run_commands};
use bollard::Docker;
use bollard::query_parameters::EventsOptionsBuilder;
use engine::{Engine, InspectCache, Outcome, Recorder};
use env::Sources;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use observe::{Observed, PodRecords, RunState};
use probe::{Finding, ProbeKind, ProbeReport};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use sync::PodMemory;
use tokio::sync::mpsc;
use volumes::TokenWant;

/// The address Docker-backed nodes report: containers publish their ports on loopback.
pub const HOST_IP: &str = "127.0.0.1";

/// What wakes the kubelet's loop besides the log.
#[derive(Debug)]
pub enum Message {
    /// Docker reported an event about a container of this node.
    Docker(String),
    /// A pod task finished.
    Done {
        uid: String,
        outcomes: Vec<Outcome>,
    },
    Probe(ProbeReport),
    /// A token fetch for a pod's projected volume finished.
    Token {
        uid: String,
        want: TokenWant,
        result: Result<Issued, String>,
    },
}

/// What the kubelet injects into pods and where it keeps their files: its directory
/// (`pods/UID/volumes/NAME` below it), where pod tokens come from (none: token volumes never
/// mount), and the cluster CA it gives as `ca.crt` when a namespace has no `kube-root-ca.crt`.
#[derive(Clone)]
pub struct Injection {
    pub root_dir: std::path::PathBuf,
    pub tokens: Option<Arc<dyn TokenSource>>,
    pub ca_pem: String,
}

impl Injection {
    /// The directory of the pod `uid`.
    pub fn pod_dir(&self, uid: &str) -> std::path::PathBuf {
        self.root_dir.join("pods").join(uid)
    }
}

/// Connect to the local Docker engine (`DOCKER_HOST` or the default socket).
pub async fn connect() -> Result<Docker, String> {
    let docker = Docker::connect_with_local_defaults().map_err(|e| e.to_string())?;
    docker.negotiate_version().await.map_err(|e| e.to_string())
}

/// The node name a Docker-backed kubelet uses when none is given: the machine's hostname.
pub fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_lowercase())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "kubetrail-node".to_string())
}

fn disk_bytes(path: &str) -> Option<u64> {
    let path = std::ffi::CString::new(path).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stat` a writable statvfs.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_blocks as u64 * stat.f_frsize as u64)
}

/// What the node says about itself: capacity from the machine Docker runs on (from this
/// machine when Docker cannot be reached).
async fn describe(docker: Option<&Docker>, node: &str) -> NodeDescription {
    let (info, version) = match docker {
        Some(docker) => (
            docker.info().await.ok().unwrap_or_default(),
            docker
                .version()
                .await
                .ok()
                .and_then(|v| v.version)
                .unwrap_or_default(),
        ),
        None => Default::default(),
    };
    let memory_from_machine = || {
        std::fs::read_to_string("/proc/meminfo")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<i64>()
            .ok()
            .map(|kib| kib * 1024)
    };
    let info = bollard::models::SystemInfo {
        mem_total: info.mem_total.or_else(memory_from_machine),
        ..info
    };
    let cpus = info
        .ncpu
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as i64));
    let memory_kib = info.mem_total.unwrap_or(0) / 1024;
    let disk = info
        .docker_root_dir
        .as_deref()
        .and_then(disk_bytes)
        .or_else(|| disk_bytes("/"))
        .unwrap_or(0);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    NodeDescription {
        name: node.to_string(),
        labels: json!({
            "kubernetes.io/hostname": node, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch,
        }),
        annotations: json!({}),
        capacity: json!({
            "cpu": cpus.to_string(), "memory": format!("{memory_kib}Ki"), "pods": "110",
            "ephemeral-storage": format!("{}Ki", disk / 1024),
        }),
        internal_ip: HOST_IP.to_string(),
        node_info: json!({
            "kubeletVersion": "v1.32.4", "kubeProxyVersion": "v1.32.4",
            "containerRuntimeVersion": format!("docker://{version}"),
            "osImage": info.operating_system.unwrap_or_default(),
            "kernelVersion": info.kernel_version.unwrap_or_default(),
            "operatingSystem": "linux", "architecture": arch,
            "machineID": std::fs::read_to_string("/etc/machine-id").unwrap_or_default().trim(),
            "systemUUID": "", "bootID": std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default().trim(),
        }),
    }
}

/// Follow Docker's container events for this node, reconnecting after errors.
fn follow_docker_events(docker: Docker, node: String, messages: mpsc::UnboundedSender<Message>) {
    tokio::spawn(async move {
        loop {
            let filter = format!("{}={node}", naming::NODE);
            let options = EventsOptionsBuilder::new()
                .filters(&HashMap::from([
                    ("type", vec!["container"]),
                    ("label", vec![filter.as_str()]),
                ]))
                .build();
            let mut events = docker.events(Some(options));
            while let Some(event) = events.next().await {
                let Ok(event) = event else { break };
                let id = event.actor.and_then(|a| a.id).unwrap_or_default();
                if messages.send(Message::Docker(id)).is_err() {
                    return;
                }
            }
            if messages.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// The loop's memory between passes.
struct Kubelet {
    node: String,
    engine: Engine,
    recorder: Recorder,
    messages: mpsc::UnboundedSender<Message>,
    http: reqwest::Client,
    cache: InspectCache,
    memory: HashMap<String, PodMemory>,
    /// Pods with a task in flight.
    busy: HashMap<String, tokio::task::JoinHandle<()>>,
    /// Probers by container instance: (pod uid, task).
    probers: HashMap<String, (String, tokio::task::AbortHandle)>,
    /// When the node's Lease was last renewed and its status last written.
    reports: Reports,
    last_runtime_error: Option<String>,
    /// The pods bound to the node at the last pass, by uid.
    pods: HashMap<String, Arc<Value>>,
    injection: Injection,
    /// The tokens held for each pod's projected volumes, by pod uid.
    issued: HashMap<String, HashMap<TokenWant, Issued>>,
    /// Token fetches in flight: (pod uid, token).
    fetching: HashSet<(String, TokenWant)>,
    /// A digest of what each API-data volume last had written: (pod uid, volume) -> digest.
    written: HashMap<(String, String), u64>,
    /// The last mount failure reported about each pod.
    mount_errors: HashMap<String, String>,
}

/// Make the kubelet's directory private to it: created 0700 when missing; an existing one must
/// be a directory (not a symlink) of this user's. The pods' files stay the kubelet's own on
/// the host (containers reach them through their bind mounts, not through it), and a
/// directory someone else prepared (in a shared temporary directory, say) is refused rather
/// than written into.
fn prepare_root(root: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
    match std::fs::symlink_metadata(root) {
        Ok(found) => {
            // SAFETY: geteuid has no preconditions and cannot fail.
            let me = unsafe { libc::geteuid() };
            if !found.is_dir() || found.uid() != me {
                return Err(std::io::Error::other(format!(
                    "{} is not a directory of this user's",
                    root.display()
                )));
            }
            if found.mode() & 0o077 != 0 {
                std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root),
        Err(e) => Err(e),
    }
}

/// A digest of a volume's files, to write only what changed.
fn digest(payload: &volumes::Payload) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    payload.hash(&mut hasher);
    hasher.finish()
}

/// The objects the pod `pod` in `namespace` draws on, from the informer's snapshot; the
/// namespace's `kube-root-ca.crt` is `ca_pem` when it has none (empty without a CA).
fn gather_sources(
    snapshot: &crate::workers::cache::Snapshot,
    pod: &Value,
    ca_pem: &str,
) -> Sources {
    let namespace = meta::namespace(pod);
    let named = |kind| {
        snapshot
            .in_namespace(kind, namespace)
            .map(|o| (meta::name(&o).to_string(), o))
            .collect::<HashMap<_, _>>()
    };
    let mut config_maps = named(ResourceKind::ConfigMap);
    // A server on plain HTTP has no CA: its pods still get the volume, with an empty `ca.crt`,
    // rather than never starting for want of a ConfigMap nobody can publish.
    if !config_maps.contains_key(volumes::ROOT_CA_CONFIG_MAP) {
        config_maps.insert(
            volumes::ROOT_CA_CONFIG_MAP.to_string(),
            Arc::new(json!({"metadata": {"name": volumes::ROOT_CA_CONFIG_MAP,
                "namespace": namespace}, "data": {"ca.crt": ca_pem}})),
        );
    }
    let account = pod
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("default");
    Sources {
        config_maps,
        secrets: named(ResourceKind::Secret),
        services: snapshot
            .in_namespace(ResourceKind::Service, namespace)
            .collect(),
        master: snapshot
            .get(
                ResourceKind::Service,
                env::MASTER_SERVICE.0,
                env::MASTER_SERVICE.1,
            )
            .cloned(),
        service_account: snapshot
            .get(ResourceKind::ServiceAccount, namespace, account)
            .cloned(),
    }
}

impl Kubelet {
    fn take(&mut self, message: Message) {
        let now = jiff::Timestamp::now();
        match message {
            Message::Docker(id) => self.cache.forget(&id),
            Message::Done { uid, outcomes } => {
                self.busy.remove(&uid);
                let memory = self.memory.entry(uid).or_default();
                for outcome in outcomes {
                    match outcome {
                        Outcome::PullFailed {
                            container,
                            message,
                            reason,
                        } => memory.pull_failed(&container, reason, message, now),
                        Outcome::PullSucceeded { container } => {
                            memory.container(&container).pull = None
                        }
                        Outcome::CreateFailed {
                            container,
                            reason,
                            message,
                        } => memory.container(&container).create_error = Some((reason, message)),
                        Outcome::StartFailed { instance, message } => {
                            memory.failed_starts.insert(instance, message);
                        }
                        Outcome::Created { container } => {
                            let c = memory.container(&container);
                            c.create_error = None;
                            c.pull = None;
                        }
                    }
                }
            }
            Message::Token { uid, want, result } => {
                self.fetching.remove(&(uid.clone(), want.clone()));
                match result {
                    Ok(issued) => {
                        self.issued.entry(uid).or_default().insert(want, issued);
                    }
                    Err(error) => {
                        tracing::debug!(pod_uid = %uid, %error, "a pod token was not issued");
                    }
                }
            }
            Message::Probe(report) => {
                let memory = self.memory.entry(report.pod_uid.clone()).or_default();
                let probes = &mut memory.container(&report.container).probes;
                if probes.instance != report.instance {
                    *probes = sync::ProbeView {
                        instance: report.instance.clone(),
                        ..Default::default()
                    };
                }
                match report.finding {
                    Finding::Started => probes.started = true,
                    Finding::Ready(ready) => probes.ready = ready,
                    Finding::GaveUp { kind } => {
                        let what = match kind {
                            ProbeKind::Startup => "startup",
                            _ => "liveness",
                        };
                        probes.failed = Some(format!(
                            "Container {} failed {what} probe, will be restarted",
                            report.container
                        ));
                    }
                    Finding::Failed { kind, message } => {
                        if let Some(pod) = self.pods.get(&report.pod_uid) {
                            self.recorder.note(
                                pod,
                                Severity::Warning,
                                "Unhealthy",
                                &format!("{} probe failed: {message}", kind.title()),
                            );
                        }
                    }
                }
            }
        }
    }

    /// Run `work` for pod `uid` in a task of its own; the pod is busy until it reports back.
    /// A task that panics reports back with nothing done, so the pod is planned again on a
    /// later pass instead of staying busy for ever.
    fn spawn<F, Fut>(&mut self, uid: String, work: F)
    where
        F: FnOnce(Engine, Recorder) -> Fut,
        Fut: std::future::Future<Output = Vec<Outcome>> + Send + 'static,
    {
        let task = work(self.engine.clone(), self.recorder.clone());
        let messages = self.messages.clone();
        let key = uid.clone();
        let handle = tokio::spawn(async move {
            let outcomes =
                match futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(task))
                    .await
                {
                    Ok(outcomes) => outcomes,
                    Err(payload) => {
                        let message = crate::health::panic_message(payload.as_ref());
                        tracing::error!(pod_uid = %key, panic = %message, "a pod's task panicked");
                        Vec::new()
                    }
                };
            let _ = messages.send(Message::Done { uid: key, outcomes });
        });
        self.busy.insert(uid, handle);
    }

    /// Register the node, or write its status when it changed or a report is due.
    async fn node_command(
        &mut self,
        node: Option<Arc<Value>>,
        runtime_error: Option<&str>,
        reporting: NodeReporting,
    ) -> Option<Caused> {
        let Some(node) = node else {
            let description = describe(Some(&self.engine.docker), &self.node).await;
            self.reports.last_status = Some(Instant::now());
            return Some(register(&description, runtime_error));
        };
        let why = self
            .reports
            .status_due(&node, runtime_error, reporting, Instant::now())?;
        Some(refresh(&node, runtime_error, why))
    }

    /// Start probers for running instances that have probes and none yet.
    fn ensure_probers(&mut self, pod: &Pod, uid: &str, sorted: &PodRecords, now: jiff::Timestamp) {
        let ports = sorted.sandbox.map(|s| s.ports.clone()).unwrap_or_default();
        for record in sorted
            .instances
            .values()
            .filter_map(|i| i.first())
            .filter(|r| r.state == RunState::Running)
        {
            if self.probers.contains_key(&record.id) {
                continue;
            }
            let Some(container) = pod::all_containers(pod).find(|c| c.name == record.container)
            else {
                continue;
            };
            if container.liveness_probe.is_none()
                && container.readiness_probe.is_none()
                && container.startup_probe.is_none()
            {
                continue;
            }
            let running_for = record
                .started_at
                .map(|s| now.duration_since(s).unsigned_abs())
                .unwrap_or_default();
            let started_at = tokio::time::Instant::now()
                .checked_sub(running_for)
                .unwrap_or_else(tokio::time::Instant::now);
            let target = probe::Target {
                docker: self.engine.docker.clone(),
                http: self.http.clone(),
                instance: record.id.clone(),
                ports: ports.clone(),
            };
            let handle = probe::spawn_prober(
                target,
                uid.to_string(),
                container.clone(),
                started_at,
                self.messages.clone(),
            );
            self.probers
                .insert(record.id.clone(), (uid.to_string(), handle));
        }
    }

    /// Fetch the tokens the pod's volumes need (when missing or due for a refresh), and write
    /// each API-data volume whose files changed. `Err` names the first volume that cannot be
    /// set up yet (a missing ConfigMap or Secret, a token not issued), in the kubelet's words;
    /// it is empty while the only thing missing is a token being fetched.
    fn mount_volumes(&mut self, pod: &Pod, uid: &str, sources: &Sources) -> Result<(), String> {
        let now = jiff::Timestamp::now().as_second();
        let held = self.issued.entry(uid.to_string()).or_default();
        for want in volumes::token_wants(pod, sources) {
            let due = held.get(&want).is_none_or(|t| t.refresh_due(now));
            let key = (uid.to_string(), want.clone());
            if !due || self.fetching.contains(&key) {
                continue;
            }
            let Some(tokens) = self.injection.tokens.clone() else {
                continue;
            };
            self.fetching.insert(key);
            let request = PodToken {
                namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                service_account: pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.service_account_name.clone())
                    .unwrap_or_else(|| "default".to_string()),
                pod_name: pod.metadata.name.clone().unwrap_or_default(),
                pod_uid: uid.to_string(),
                audience: want.audience.clone(),
                seconds: want.seconds,
            };
            let messages = self.messages.clone();
            let uid = uid.to_string();
            tokio::spawn(async move {
                let result = tokens.pod_token(request).await;
                let _ = messages.send(Message::Token { uid, want, result });
            });
        }
        let tokens: HashMap<TokenWant, String> = self
            .issued
            .get(uid)
            .into_iter()
            .flatten()
            .map(|(w, t)| (w.clone(), t.token.clone()))
            .collect();
        let pod_dir = self.injection.pod_dir(uid);
        let pod_dir_text = pod_dir.to_string_lossy().into_owned();
        let pod_ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .unwrap_or_default();
        let runtime = pod::Runtime {
            sandbox_id: "",
            pod_ip: &pod_ip,
            host_ip: HOST_IP,
            node: &self.node,
            pod_dir: &pod_dir_text,
        };
        let mut first_error = None;
        for volume in volumes::projected_volumes(pod) {
            let key = (uid.to_string(), volume.name.clone());
            let payload = match volumes::payload(pod, volume, &runtime, sources, &tokens) {
                Ok(Some(payload)) => payload,
                Ok(None) => continue,
                Err(message) => {
                    // A volume already set up keeps its files, as the kubelet's do.
                    if !self.written.contains_key(&key) && first_error.is_none() {
                        first_error = Some(format!(
                            "MountVolume.SetUp failed for volume \"{}\" : {message}",
                            volume.name
                        ));
                    }
                    continue;
                }
            };
            let sum = digest(&payload);
            if self.written.get(&key) == Some(&sum) {
                continue;
            }
            let dir = pod_dir.join("volumes").join(&volume.name);
            let created = prepare_root(&self.injection.root_dir)
                .and_then(|()| std::fs::create_dir_all(&pod_dir))
                .and_then(|()| atomic::write(&dir, &payload));
            match created {
                Ok(_) => {
                    self.written.insert(key, sum);
                }
                Err(e) => {
                    if first_error.is_none() {
                        first_error = Some(format!(
                            "MountVolume.SetUp failed for volume \"{}\" : writing {}: {e}",
                            volume.name,
                            dir.display()
                        ));
                    }
                }
            }
        }
        match first_error {
            // A token on its way is no failure to report: the pod waits for it quietly.
            Some(message)
                if message.contains(volumes::TOKEN_PENDING)
                    && self.fetching.iter().any(|(u, _)| u == uid) =>
            {
                Err(String::new())
            }
            Some(message) => Err(message),
            None => Ok(()),
        }
    }

    /// One pass: observe, plan every idle pod, write what changed. Returns the last seq written.
    async fn pass(
        &mut self,
        submit: &dyn Submit,
        informer: &Informer,
        reporting: NodeReporting,
    ) -> i64 {
        let now = jiff::Timestamp::now();
        let (node, lease, pods, marks, sources) = {
            let snapshot = informer.read();
            let node = snapshot.get(ResourceKind::Node, "", &self.node).cloned();
            let lease = node.as_ref().and_then(|node| {
                self.reports.lease(
                    &snapshot,
                    node,
                    reporting,
                    Instant::now(),
                    &meta::format_micro_time(now),
                )
            });
            let pods: Vec<Arc<Value>> = snapshot.pods_on(&self.node);
            let sources: HashMap<String, Arc<Sources>> = pods
                .iter()
                .map(|p| {
                    (
                        meta::uid(p).to_string(),
                        Arc::new(gather_sources(&snapshot, p, &self.injection.ca_pem)),
                    )
                })
                .collect();
            let marks: HashMap<String, Marks> = pods
                .iter()
                .map(|p| {
                    (
                        meta::uid(p).to_string(),
                        snapshot.marks_of(ResourceKind::Pod, p),
                    )
                })
                .collect();
            (node, lease, pods, marks, sources)
        };
        self.pods = pods
            .iter()
            .map(|p| (meta::uid(p).to_string(), p.clone()))
            .collect();
        let observed = self.engine.observe(&mut self.cache).await;
        tracing::debug!(node = %self.node, pods = pods.len(), containers = ?observed.as_ref().map(Vec::len), "kubelet pass");
        let runtime_error = observed.as_ref().err().cloned();
        if let Some(error) = &runtime_error
            && self.last_runtime_error.is_none()
        {
            tracing::warn!(node = %self.node, %error, "the container runtime is down");
        }
        let mut commands: Vec<Caused> = Vec::new();
        commands.extend(lease);
        commands.extend(
            self.node_command(node, runtime_error.as_deref(), reporting)
                .await,
        );
        self.last_runtime_error = runtime_error;
        if let Ok(records) = observed {
            let observed = Observed::new(records);
            self.sync_pods(&pods, &marks, &sources, &observed, now, &mut commands);
        }
        run_commands(submit, commands, || {
            RequestMeta::worker(&self.recorder.actor)
        })
        .await
    }

    fn sync_pods(
        &mut self,
        pods: &[Arc<Value>],
        marks: &HashMap<String, Marks>,
        sources: &HashMap<String, Arc<Sources>>,
        observed: &Observed,
        now: jiff::Timestamp,
        commands: &mut Vec<Caused>,
    ) {
        let running: std::collections::HashSet<&str> = observed
            .by_pod
            .values()
            .flatten()
            .filter(|r| r.state == RunState::Running)
            .map(|r| r.id.as_str())
            .collect();
        self.probers.retain(|id, (_, handle)| {
            let keep = running.contains(id.as_str());
            if !keep {
                handle.abort();
            }
            keep
        });
        let present: std::collections::HashSet<String> = self.pods.keys().cloned().collect();
        self.memory.retain(|uid, _| present.contains(uid));
        self.issued.retain(|uid, _| present.contains(uid));
        self.written.retain(|(uid, _), _| present.contains(uid));
        self.mount_errors.retain(|uid, _| present.contains(uid));
        self.recorder.forget_notes_except(&present);
        for pod_json in pods {
            let uid = meta::uid(pod_json).to_string();
            if self.busy.contains_key(&uid) {
                continue;
            }
            let mut records = observed.pod(&uid).to_vec();
            if let Some(memory) = self.memory.get(&uid) {
                memory.mark_failed_starts(&mut records);
            }
            let pod_marks = marks
                .get(&uid)
                .copied()
                .unwrap_or_else(|| Marks::first(pod_json, 0));
            if let Some(asked) = pod_marks.deletion {
                let grace = pod_json
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(30);
                let pod_json = pod_json.clone();
                self.spawn(uid, move |engine, recorder| async move {
                    engine
                        .terminate(&pod_json, &records, grace, asked, &recorder)
                        .await;
                    vec![]
                });
                continue;
            }
            let finished = matches!(
                pod_json.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
            if finished {
                continue;
            }
            let Ok(pod) = serde_json::from_value::<Pod>(pod_json.as_ref().clone()) else {
                continue;
            };
            let pod_sources = sources.get(&uid).cloned().unwrap_or_default();
            let mounted = match self.mount_volumes(&pod, &uid, &pod_sources) {
                Ok(()) => {
                    self.mount_errors.remove(&uid);
                    true
                }
                Err(message) => {
                    if !message.is_empty() && self.mount_errors.get(&uid) != Some(&message) {
                        self.recorder
                            .note(pod_json, Severity::Warning, "FailedMount", &message);
                        self.mount_errors.insert(uid.clone(), message);
                    }
                    false
                }
            };
            let sorted = PodRecords::new(&records);
            let memory = self.memory.entry(uid.clone()).or_default();
            let (mut actions, notes) = sync::plan(&pod, &sorted, memory, now);
            if !mounted {
                // Nothing starts before its volumes are there; stopping what runs goes on.
                actions.retain(|a| {
                    !matches!(a, sync::Action::Start { .. } | sync::Action::CreateSandbox)
                });
            }
            let status = sync::status(&pod, &sorted, memory, HOST_IP, now);
            let version: i64 = meta::resource_version(pod_json).parse().unwrap_or(0);
            if let Ok(status) = serde_json::to_value(&status)
                && pod_json.get("status") != Some(&status)
            {
                let mut inputs = vec![Input::new(
                    pod_marks.spec,
                    format!("pod {} bound to {}", meta::name(pod_json), self.node),
                )];
                let failure = self
                    .recorder
                    .latest_note(&uid)
                    .filter(|f| f.seq > pod_marks.spec);
                if let Some(failure) = failure {
                    // A kill shows its outcome when the container has restarted (or the pod
                    // finished); any other failure in the first write after it.
                    let restarts = |s: Option<&Value>| -> i64 {
                        s.and_then(|s| s["containerStatuses"].as_array())
                            .into_iter()
                            .flatten()
                            .filter_map(|c| c["restartCount"].as_i64())
                            .sum()
                    };
                    let shown = !failure.kill
                        || restarts(Some(&status)) > restarts(pod_json.get("status"))
                        || matches!(status["phase"].as_str(), Some("Succeeded" | "Failed"));
                    if shown {
                        self.recorder.consume_note(&uid, failure.seq);
                    }
                    inputs.push(Input::new(failure.seq, failure.text));
                }
                let cause = causes::newest_first(
                    inputs,
                    &super::status_change(pod_json.get("status"), &status),
                );
                let mut updated = pod_json.as_ref().clone();
                updated["status"] = status;
                commands.push((
                    Command::Update {
                        kind: ResourceKind::Pod,
                        namespace: meta::namespace(pod_json).to_string(),
                        name: meta::name(pod_json).to_string(),
                        object: updated,
                        part: UpdatePart::Status,
                    },
                    cause,
                ));
            }
            for note in notes {
                if self.recorder.reporter.allow(pod_json, now) {
                    let event = self.recorder.reporter.event(
                        ResourceKind::Pod,
                        pod_json,
                        note.severity,
                        &note.reason,
                        &note.message,
                        now,
                    );
                    let because = causes::only(
                        version,
                        format!(
                            "pod {}: {}: {}",
                            meta::name(pod_json),
                            note.reason,
                            note.message
                        ),
                    );
                    commands.push((event, because));
                }
            }
            self.ensure_probers(&pod, &uid, &sorted, now);
            if !actions.is_empty() {
                let pod_json = pod_json.clone();
                self.spawn(uid, move |engine, recorder| async move {
                    engine
                        .run(&pod, &pod_json, &records, actions, &pod_sources, &recorder)
                        .await
                });
            }
        }
        // Containers of pods that are gone (deleted with --force, or while kubetrail was down).
        let orphans: Vec<(String, Vec<observe::ContainerRecord>)> = observed
            .by_pod
            .iter()
            .filter(|(uid, _)| !self.pods.contains_key(*uid) && !self.busy.contains_key(*uid))
            .map(|(uid, records)| (uid.clone(), records.clone()))
            .collect();
        for (uid, records) in orphans {
            let key = uid.clone();
            self.spawn(key, move |engine, _| async move {
                engine.remove_pod(&uid, &records).await;
                vec![]
            });
        }
    }
}

/// The write that registers the node `description` says, ready unless the runtime is down.
fn register(description: &NodeDescription, runtime_error: Option<&str>) -> Caused {
    let now = meta::format_time(jiff::Timestamp::now());
    let mut object = node_object(description, &now);
    object["status"]["conditions"] = super::conditions(&now, &now, runtime_error);
    let command = Command::Create {
        kind: ResourceKind::Node,
        namespace: String::new(),
        object,
    };
    (command, Vec::new())
}

/// The write that refreshes `node`'s status (`why`: a change, or a report due), ready unless
/// the runtime is down.
fn refresh(node: &Value, runtime_error: Option<&str>, why: StatusWrite) -> Caused {
    let now = meta::format_time(jiff::Timestamp::now());
    let command = Command::Update {
        kind: ResourceKind::Node,
        namespace: String::new(),
        name: meta::name(node).to_string(),
        object: heartbeat_with(node, &now, runtime_error),
        part: UpdatePart::Status,
    };
    let reason = match runtime_error {
        Some(error) => format!(
            "node {}'s last status: the runtime is down: {error}",
            meta::name(node)
        ),
        None => why.reason(meta::name(node)),
    };
    (
        command,
        causes::only(meta::resource_version(node).parse().unwrap_or(0), reason),
    )
}

/// Register `node`, or report it, as not ready because Docker cannot be reached: its Lease
/// renewed when due, its status written when it changed or a report is due.
async fn report_unreachable(
    submit: &dyn Submit,
    informer: &Informer,
    node: &str,
    error: &str,
    reports: &mut Reports,
    reporting: NodeReporting,
) {
    let (current, lease) = {
        let snapshot = informer.read();
        let current = snapshot.get(ResourceKind::Node, "", node).cloned();
        let lease = current.as_ref().and_then(|current| {
            let now = meta::format_micro_time(jiff::Timestamp::now());
            reports.lease(&snapshot, current, reporting, Instant::now(), &now)
        });
        (current, lease)
    };
    let mut commands: Vec<Caused> = lease.into_iter().collect();
    match current {
        None => {
            reports.last_status = Some(Instant::now());
            commands.push(register(&describe(None, node).await, Some(error)));
        }
        Some(current) => {
            if let Some(why) = reports.status_due(&current, Some(error), reporting, Instant::now())
            {
                commands.push(refresh(&current, Some(error), why));
            }
        }
    }
    let last = run_commands(submit, commands, || {
        RequestMeta::worker(&actors::kubelet(node))
    })
    .await;
    informer.wait_for(last).await;
}

/// Run the Docker-backed kubelet of `node` until shutdown. Containers keep running when it
/// stops; the next kubelet of the node adopts them.
pub async fn run_docker_kubelet_until_stopped(
    submit: Arc<dyn Submit>,
    informer: Informer,
    node: String,
    reporting: NodeReporting,
    cluster_dns: Option<std::net::Ipv4Addr>,
    injection: Injection,
    mut shutdown: Shutdown,
) {
    tracing::info!(node = %node, "Docker kubelet starting");
    let mut reports = Reports::default();
    let docker = loop {
        match Docker::connect_with_local_defaults() {
            Ok(docker) => match docker.clone().negotiate_version().await {
                Ok(negotiated) => break negotiated,
                Err(_) => break docker,
            },
            Err(error) => {
                // No client at all (e.g. no socket): the node is registered as not ready and
                // the kubelet keeps trying.
                report_unreachable(
                    submit.as_ref(),
                    &informer,
                    &node,
                    &error.to_string(),
                    &mut reports,
                    reporting,
                )
                .await;
                tokio::select! {
                    _ = shutdown.wait() => return,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
        }
    };
    // The prober's HTTP client (HTTPS probes included) needs the process's TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (messages, mut inbox) = mpsc::unbounded_channel();
    follow_docker_events(docker.clone(), node.clone(), messages.clone());
    let actor = actors::kubelet(&node);
    let mut kubelet = Kubelet {
        engine: Engine {
            docker,
            node: node.clone(),
            host_ip: HOST_IP.to_string(),
            cluster_dns,
            root_dir: injection.root_dir.clone(),
        },
        recorder: Recorder::new(submit.clone(), Reporter::new("kubelet", &node), actor),
        node,
        messages,
        http: probe::http_client(),
        cache: InspectCache::default(),
        memory: HashMap::new(),
        busy: HashMap::new(),
        probers: HashMap::new(),
        reports,
        last_runtime_error: None,
        pods: HashMap::new(),
        injection,
        issued: HashMap::new(),
        fetching: HashSet::new(),
        written: HashMap::new(),
        mount_errors: HashMap::new(),
    };
    let mut changes = informer.changes();
    tracing::info!(node = %kubelet.node, "Docker kubelet running");
    loop {
        while let Ok(message) = inbox.try_recv() {
            kubelet.take(message);
        }
        let started = Instant::now();
        let last = kubelet.pass(submit.as_ref(), &informer, reporting).await;
        informer.wait_for(last).await;
        // A pod's task reporting back (its containers started, or stopped) is what a pod
        // start waits on: it ends the rest, and the next pass writes the new status at once.
        let rest = tokio::time::sleep(crate::workers::rest_after(started.elapsed() / 4));
        tokio::pin!(rest);
        let task_done = loop {
            tokio::select! {
                _ = &mut rest => break false,
                Some(message) = inbox.recv() => {
                    let done = matches!(message, Message::Done { .. });
                    kubelet.take(message);
                    if done {
                        break true;
                    }
                }
            }
        };
        if task_done {
            continue;
        }
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            changed = changes.changed() => if changed.is_err() { break },
            Some(message) = inbox.recv() => kubelet.take(message),
        }
    }
    for (_, (_, handle)) in kubelet.probers.drain() {
        handle.abort();
    }
}
