//! One pod's sync, as pure functions: from the pod, the containers Docker holds for it and the
//! kubelet's memory (back-offs, probe results), decide what to do next (`plan`) and what the
//! pod's status is (`status`). Kubernetes' rules live here: init containers in order, restart
//! policies, CrashLoopBackOff (10 s doubling to 5 min, reset after 10 min of running), image
//! pull back-off, liveness kills, and the phase and conditions `kubectl` shows.

use super::observe::{ContainerRecord, PodRecords, RunState};
use crate::workers::record::Severity;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::{HashMap, HashSet};

/// The first restart back-off, doubled after each crash.
pub const INITIAL_BACKOFF_SECONDS: i64 = 10;
/// The longest restart or pull back-off.
pub const MAX_BACKOFF_SECONDS: i64 = 300;
/// A container that ran this long before exiting starts its back-off afresh.
pub const BACKOFF_RESET_SECONDS: i64 = 600;
/// How long a failed pull shows as `ErrImagePull` before `ImagePullBackOff`.
const ERR_IMAGE_PULL_SECONDS: i64 = 2;

/// A pending restart of an exited container instance.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartBackoff {
    /// The exited instance this back-off is for.
    pub instance: String,
    pub not_before: jiff::Timestamp,
    pub delay_seconds: i64,
}

/// The last failed pull of a container's image.
#[derive(Debug, Clone, PartialEq)]
pub struct PullFailure {
    /// `ErrImagePull`, or `ErrImageNeverPull` (which no back-off changes).
    pub reason: String,
    pub message: String,
    pub failures: u32,
    pub failed_at: jiff::Timestamp,
    pub not_before: jiff::Timestamp,
}

/// What the probes of one container instance concluded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeView {
    pub instance: String,
    pub started: bool,
    pub ready: bool,
    /// The liveness (or startup) probe failed `failureThreshold` times: kill it.
    pub failed: Option<String>,
}

/// The kubelet's memory of one container of a pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerMemory {
    /// Crashes counted towards the restart back-off.
    pub crashes: u32,
    pub restart: Option<RestartBackoff>,
    pub pull: Option<PullFailure>,
    /// Why the container could not be created (`CreateContainerConfigError`, ...).
    pub create_error: Option<(String, String)>,
    pub probes: ProbeView,
}

/// The kubelet's memory of one pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodMemory {
    pub containers: HashMap<String, ContainerMemory>,
    /// Exited instances whose `BackOff` event was recorded.
    pub backoff_reported: HashSet<String>,
    /// Instances whose liveness kill was ordered.
    pub kills_ordered: HashSet<String>,
    /// Instances Docker created but could not start, with the error.
    pub failed_starts: HashMap<String, String>,
}

impl PodMemory {
    /// Docker leaves an instance that failed to start as merely "created": mark such records
    /// with the error, so that they count as stopped (exit code 128, as Kubernetes reports).
    pub fn mark_failed_starts(&self, records: &mut [ContainerRecord]) {
        for record in records {
            if record.state == RunState::Created
                && let Some(message) = self.failed_starts.get(&record.id)
            {
                record.error = message.clone();
                if record.exit_code == 0 {
                    record.exit_code = 128;
                }
            }
        }
    }

    pub fn container(&mut self, name: &str) -> &mut ContainerMemory {
        self.containers.entry(name.to_string()).or_default()
    }

    /// A pull of `container`'s image failed at `now`.
    pub fn pull_failed(
        &mut self,
        container: &str,
        reason: &str,
        message: String,
        now: jiff::Timestamp,
    ) {
        let memory = self.container(container);
        let failures = memory.pull.as_ref().map_or(0, |p| p.failures) + 1;
        let delay = backoff_seconds(failures);
        memory.pull = Some(PullFailure {
            reason: reason.to_string(),
            message,
            failures,
            failed_at: now,
            not_before: now + jiff::SignedDuration::from_secs(delay.max(ERR_IMAGE_PULL_SECONDS)),
        });
    }
}

/// Back-off after `failures` failures: 10 s, 20 s, 40 s, ... up to 5 min.
pub fn backoff_seconds(failures: u32) -> i64 {
    let doublings = failures.saturating_sub(1).min(16);
    (INITIAL_BACKOFF_SECONDS << doublings).min(MAX_BACKOFF_SECONDS)
}

/// Something the kubelet does for a pod, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Remove a container (stale sandbox, old instance, interrupted start).
    Remove { id: String },
    /// Create and start the pod's sandbox (and its volumes).
    CreateSandbox,
    /// Pull if the policy says so, then create and start run `attempt` of `container`.
    Start { container: String, attempt: u32 },
    /// Stop a running instance (SIGTERM, then SIGKILL after `grace` seconds).
    Kill {
        id: String,
        container: String,
        grace: i64,
        message: String,
    },
}

/// An Event the kubelet records about the pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub severity: Severity,
    pub reason: String,
    pub message: String,
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

fn should_restart(policy: &str, exit_code: i64) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

/// An instance that stopped, or that never started because Docker refused it.
fn has_stopped(record: &ContainerRecord) -> bool {
    record.state == RunState::Exited
        || (record.state == RunState::Created
            && (record.exit_code != 0 || !record.error.is_empty()))
}

fn pod_label(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.uid.as_deref().unwrap_or("")
    )
}

fn grace_period(pod: &Pod) -> i64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30)
}

/// What one container needs now.
enum Step {
    /// Nothing to do: it runs, or it is done for good.
    Settled,
    /// Still on its way (starting, backing off): later containers of an init chain wait.
    Waiting,
}

struct Planner<'a> {
    pod: &'a Pod,
    records: &'a PodRecords<'a>,
    memory: &'a mut PodMemory,
    now: jiff::Timestamp,
    actions: Vec<Action>,
    notes: Vec<Note>,
}

impl Planner<'_> {
    fn start(&mut self, container: &Container, attempt: u32) -> Step {
        let memory = self.memory.container(&container.name);
        if memory
            .pull
            .as_ref()
            .is_some_and(|p| self.now < p.not_before)
        {
            return Step::Waiting;
        }
        self.actions.push(Action::Start {
            container: container.name.clone(),
            attempt,
        });
        Step::Waiting
    }

    /// Old instances beyond the one that becomes "previous" once `attempt` starts.
    fn prune(&mut self, container: &str) {
        let old: Vec<String> = self
            .records
            .instances
            .get(container)
            .map(|i| i.iter().skip(1).map(|r| r.id.clone()).collect())
            .unwrap_or_default();
        self.actions
            .extend(old.into_iter().map(|id| Action::Remove { id }));
    }

    fn sync(&mut self, container: &Container, init: bool) -> Step {
        let Some(current) = self.records.current(&container.name) else {
            return self.start(container, 0);
        };
        match current.state {
            RunState::Running => {
                let memory = self.memory.container(&container.name);
                if memory.probes.instance == current.id
                    && let Some(message) = memory.probes.failed.clone()
                    && self.memory.kills_ordered.insert(current.id.clone())
                {
                    self.actions.push(Action::Kill {
                        id: current.id.clone(),
                        container: container.name.clone(),
                        grace: grace_period(self.pod),
                        message,
                    });
                }
                if init { Step::Waiting } else { Step::Settled }
            }
            RunState::Created if !has_stopped(current) => {
                // A start that was interrupted (the kubelet stopped between create and start).
                self.actions.push(Action::Remove {
                    id: current.id.clone(),
                });
                self.start(container, current.attempt)
            }
            _ => {
                let policy = restart_policy(self.pod);
                if init && current.exit_code == 0 && current.state == RunState::Exited {
                    return Step::Settled;
                }
                if !should_restart(if init { "OnFailure" } else { policy }, current.exit_code)
                    || (init && policy == "Never")
                {
                    return if init { Step::Waiting } else { Step::Settled };
                }
                let now = self.now;
                let memory = self.memory.container(&container.name);
                let backoff = match &memory.restart {
                    Some(b) if b.instance == current.id => b.clone(),
                    _ => {
                        let ran = match (current.started_at, current.finished_at) {
                            (Some(s), Some(f)) => f.duration_since(s).as_secs(),
                            _ => 0,
                        };
                        if ran >= BACKOFF_RESET_SECONDS {
                            memory.crashes = 0;
                        }
                        let delay = if memory.crashes == 0 {
                            0
                        } else {
                            backoff_seconds(memory.crashes)
                        };
                        memory.crashes += 1;
                        let since = current.finished_at.unwrap_or(now).min(now);
                        let backoff = RestartBackoff {
                            instance: current.id.clone(),
                            not_before: since + jiff::SignedDuration::from_secs(delay),
                            delay_seconds: delay,
                        };
                        memory.restart = Some(backoff.clone());
                        backoff
                    }
                };
                if now < backoff.not_before {
                    if self.memory.backoff_reported.insert(current.id.clone()) {
                        self.notes.push(Note {
                            severity: Severity::Warning,
                            reason: "BackOff".to_string(),
                            message: format!(
                                "Back-off restarting failed container {} in pod {}",
                                container.name,
                                pod_label(self.pod)
                            ),
                        });
                    }
                    return Step::Waiting;
                }
                self.prune(&container.name);
                self.start(container, current.attempt + 1)
            }
        }
    }
}

/// What to do next for `pod`, given what Docker holds for it. Updates `memory` (back-offs).
pub fn plan(
    pod: &Pod,
    records: &PodRecords,
    memory: &mut PodMemory,
    now: jiff::Timestamp,
) -> (Vec<Action>, Vec<Note>) {
    let mut planner = Planner {
        pod,
        records,
        memory,
        now,
        actions: Vec::new(),
        notes: Vec::new(),
    };
    for stale in &records.stale_sandboxes {
        planner.actions.push(Action::Remove {
            id: stale.id.clone(),
        });
    }
    match records.sandbox {
        None => planner.actions.push(Action::CreateSandbox),
        Some(sandbox) if sandbox.state != RunState::Running => {
            // The pod's network is gone: stop what runs in it, then give it a new sandbox;
            // the next sync restarts the containers per the restart policy.
            planner.actions.push(Action::Remove {
                id: sandbox.id.clone(),
            });
            for instances in records.instances.values() {
                if let Some(current) = instances.first()
                    && current.state == RunState::Running
                {
                    planner.actions.push(Action::Kill {
                        id: current.id.clone(),
                        container: current.container.clone(),
                        grace: 0,
                        message: "Pod sandbox changed, it will be killed and re-created."
                            .to_string(),
                    });
                }
            }
            planner.actions.push(Action::CreateSandbox);
            return (planner.actions, planner.notes);
        }
        Some(_) => {}
    }
    let spec = pod.spec.as_ref();
    for container in spec
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
    {
        if let Step::Waiting = planner.sync(container, true) {
            return (planner.actions, planner.notes);
        }
    }
    for container in spec.map(|s| s.containers.as_slice()).unwrap_or(&[]) {
        planner.sync(container, false);
    }
    (planner.actions, planner.notes)
}

fn time(t: jiff::Timestamp) -> Time {
    Time(t)
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message,
        }),
        ..Default::default()
    }
}

fn terminated(record: &ContainerRecord) -> ContainerState {
    let reason = if record.oom_killed {
        "OOMKilled"
    } else if record.state == RunState::Created {
        "StartError"
    } else if record.exit_code == 0 {
        "Completed"
    } else {
        "Error"
    };
    let exit_code = match (record.state, record.exit_code) {
        (RunState::Created, 0) => 128,
        (_, code) => code,
    };
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            container_id: Some(format!("docker://{}", record.id)),
            exit_code: exit_code as i32,
            reason: Some(reason.to_string()),
            message: (!record.error.is_empty()).then(|| record.error.clone()),
            started_at: record.started_at.map(time),
            finished_at: record.finished_at.map(time),
            signal: None,
        }),
        ..Default::default()
    }
}

/// Whether the instance will run again (its restart is pending).
fn restarting(pod: &Pod, record: &ContainerRecord, init: bool) -> bool {
    let policy = restart_policy(pod);
    if init {
        return policy != "Never" && record.exit_code != 0;
    }
    should_restart(policy, record.exit_code)
}

fn container_status(
    pod: &Pod,
    container: &Container,
    records: &PodRecords,
    memory: Option<&ContainerMemory>,
    init: bool,
    initialized: bool,
    now: jiff::Timestamp,
) -> ContainerStatus {
    let current = records.current(&container.name);
    let previous = records.previous(&container.name);
    let image = container.image.clone().unwrap_or_default();
    let mut status = ContainerStatus {
        name: container.name.clone(),
        image: image.clone(),
        image_id: String::new(),
        ready: false,
        restart_count: current.map_or(0, |c| c.attempt as i32),
        started: Some(false),
        ..Default::default()
    };
    let pull = memory.and_then(|m| m.pull.as_ref());
    let creating = |status: &mut ContainerStatus| {
        let reason = if !init && !initialized {
            "PodInitializing"
        } else {
            "ContainerCreating"
        };
        status.state = Some(waiting(reason, None));
    };
    match current {
        None => {
            if let Some(pull) = pull.filter(|p| p.reason == "ErrImageNeverPull") {
                status.state = Some(waiting(&pull.reason, Some(pull.message.clone())));
            } else if let Some(pull) = pull {
                let fresh = now.duration_since(pull.failed_at).as_secs() < ERR_IMAGE_PULL_SECONDS;
                status.state = Some(if fresh {
                    waiting("ErrImagePull", Some(pull.message.clone()))
                } else {
                    waiting(
                        "ImagePullBackOff",
                        Some(format!(
                            "Back-off pulling image \"{image}\": {}",
                            pull.message
                        )),
                    )
                });
            } else if let Some((reason, message)) = memory.and_then(|m| m.create_error.clone()) {
                status.state = Some(waiting(&reason, Some(message)));
            } else {
                creating(&mut status);
            }
        }
        Some(record) => {
            status.container_id = Some(format!("docker://{}", record.id));
            status.image_id = format!("docker://{}", record.image_id);
            if let Some(previous) = previous.filter(|p| has_stopped(p)) {
                status.last_state = Some(terminated(previous));
            }
            match record.state {
                RunState::Running => {
                    let probes = memory
                        .map(|m| &m.probes)
                        .filter(|p| p.instance == record.id);
                    let started =
                        container.startup_probe.is_none() || probes.is_some_and(|p| p.started);
                    let ready = started
                        && (container.readiness_probe.is_none() || probes.is_some_and(|p| p.ready));
                    status.started = Some(started);
                    status.ready = ready && !init;
                    status.state = Some(ContainerState {
                        running: Some(ContainerStateRunning {
                            started_at: record.started_at.map(time),
                        }),
                        ..Default::default()
                    });
                }
                _ if !has_stopped(record) => creating(&mut status),
                _ => {
                    let backoff = memory
                        .and_then(|m| m.restart.as_ref())
                        .filter(|b| b.instance == record.id && now < b.not_before);
                    match backoff {
                        Some(b) if restarting(pod, record, init) => {
                            status.last_state = Some(terminated(record));
                            status.state = Some(waiting(
                                "CrashLoopBackOff",
                                Some(format!(
                                    "back-off {}s restarting failed container={} pod={}",
                                    b.delay_seconds,
                                    container.name,
                                    pod_label(pod)
                                )),
                            ));
                        }
                        _ => status.state = Some(terminated(record)),
                    }
                }
            }
        }
    }
    status
}

fn condition(kind: &str, ok: bool, reason: Option<&str>, message: Option<String>) -> PodCondition {
    PodCondition {
        type_: kind.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.map(str::to_string),
        message,
        ..Default::default()
    }
}

/// Kubernetes' pod phase from its container statuses (kubelet's `getPhase`).
fn phase(
    pod: &Pod,
    statuses: &[ContainerStatus],
    initialized: bool,
    init_failed: bool,
) -> &'static str {
    let policy = restart_policy(pod);
    if init_failed {
        return "Failed";
    }
    if !initialized {
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for status in statuses {
        let state = status.state.as_ref();
        if state.is_some_and(|s| s.running.is_some()) {
            running += 1;
        } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if status
            .last_state
            .as_ref()
            .is_some_and(|s| s.terminated.is_some())
        {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        match policy {
            "Always" => "Running",
            _ if stopped == succeeded => "Succeeded",
            "Never" => "Failed",
            _ => "Running",
        }
    } else {
        "Pending"
    }
}

/// The pod's status as its kubelet reports it now. `previous` (the status the pod carries)
/// keeps start time, QoS class and the transition times of conditions that did not change.
pub fn status(
    pod: &Pod,
    records: &PodRecords,
    memory: &PodMemory,
    host_ip: &str,
    now: jiff::Timestamp,
) -> PodStatus {
    let previous = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.as_ref();
    let init_containers: &[Container] = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[]);
    let containers: &[Container] = spec.map(|s| s.containers.as_slice()).unwrap_or(&[]);
    let memory_of = |name: &str| memory.containers.get(name);

    let mut initialized = true;
    let mut init_failed = false;
    let mut init_statuses = Vec::new();
    let mut pending_init = Vec::new();
    for container in init_containers {
        let status = container_status(
            pod,
            container,
            records,
            memory_of(&container.name),
            true,
            initialized,
            now,
        );
        let done = status
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.exit_code == 0);
        let failed_for_good = status
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.exit_code != 0)
            && restart_policy(pod) == "Never";
        init_failed |= failed_for_good;
        if !done {
            initialized = false;
            pending_init.push(container.name.clone());
        }
        init_statuses.push(status);
    }
    let statuses: Vec<ContainerStatus> = containers
        .iter()
        .map(|c| container_status(pod, c, records, memory_of(&c.name), false, initialized, now))
        .collect();

    let sandbox_ip = records
        .sandbox
        .filter(|s| s.state == RunState::Running)
        .map(|s| s.ip.clone())
        .unwrap_or_default();
    let phase = phase(pod, &statuses, initialized, init_failed);
    let unready: Vec<String> = statuses
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.clone())
        .collect();
    let finished = matches!(phase, "Succeeded" | "Failed");
    let (ready_reason, ready_message) = if unready.is_empty() {
        (None, None)
    } else if finished {
        (Some("PodCompleted"), None)
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    };
    let mut conditions = vec![
        condition(
            "PodReadyToStartContainers",
            !sandbox_ip.is_empty(),
            None,
            None,
        ),
        if initialized {
            condition("Initialized", true, None, None)
        } else {
            condition(
                "Initialized",
                false,
                Some("ContainersNotInitialized"),
                Some(format!(
                    "containers with incomplete status: [{}]",
                    pending_init.join(" ")
                )),
            )
        },
        condition(
            "Ready",
            unready.is_empty(),
            ready_reason,
            ready_message.clone(),
        ),
        condition(
            "ContainersReady",
            unready.is_empty(),
            ready_reason,
            ready_message,
        ),
    ];
    let old_conditions = previous.conditions.clone().unwrap_or_default();
    for c in &mut conditions {
        let old = old_conditions.iter().find(|o| o.type_ == c.type_);
        c.last_transition_time = Some(match old {
            Some(o) if o.status == c.status && o.last_transition_time.is_some() => {
                o.last_transition_time.clone().unwrap_or(time(now))
            }
            _ => time(now),
        });
    }
    if let Some(scheduled) = old_conditions.iter().find(|o| o.type_ == "PodScheduled") {
        conditions.push(scheduled.clone());
    }
    PodStatus {
        phase: Some(phase.to_string()),
        conditions: Some(conditions),
        host_ip: Some(host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: host_ip.to_string(),
        }]),
        pod_ip: (!sandbox_ip.is_empty()).then(|| sandbox_ip.clone()),
        pod_ips: (!sandbox_ip.is_empty()).then(|| {
            vec![PodIP {
                ip: sandbox_ip.clone(),
            }]
        }),
        start_time: previous.start_time.clone().or(Some(time(now))),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        container_statuses: Some(statuses),
        qos_class: previous.qos_class.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    //! given (pod, Docker's records, memory) / when (plan, status) / then (actions, status).
    use super::*;
    use serde_json::json;

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn pod(policy: &str, extra: serde_json::Value) -> Pod {
        let mut spec = json!({
            "restartPolicy": policy,
            "containers": [{"name": "app", "image": "echo:v1"}],
        });
        if let Some(map) = extra.as_object() {
            for (k, v) in map {
                spec[k] = v.clone();
            }
        }
        serde_json::from_value(json!({
            "metadata": {"name": "echo", "namespace": "default", "uid": "u-1"},
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort",
                       "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2027-01-15T08:00:00Z"}]},
        }))
        .unwrap()
    }

    fn record(
        id: &str,
        container: &str,
        attempt: u32,
        state: RunState,
        exit: i64,
    ) -> ContainerRecord {
        ContainerRecord {
            id: id.to_string(),
            pod_uid: "u-1".into(),
            pod_name: "echo".into(),
            pod_namespace: "default".into(),
            container: container.to_string(),
            attempt,
            role: super::super::observe::Role::Container,
            state,
            exit_code: exit,
            oom_killed: false,
            error: String::new(),
            started_at: Some(at(0)),
            finished_at: (state == RunState::Exited).then(|| at(1)),
            image: "echo:v1".into(),
            image_id: "sha256:abc".into(),
            ip: String::new(),
            ports: HashMap::new(),
        }
    }

    fn sandbox() -> ContainerRecord {
        ContainerRecord {
            role: super::super::observe::Role::Sandbox,
            ip: "172.17.0.9".into(),
            ..record("sb", "POD", 0, RunState::Running, 0)
        }
    }

    fn state_reason(s: &ContainerStatus) -> String {
        let state = s.state.as_ref().unwrap();
        if let Some(w) = &state.waiting {
            return w.reason.clone().unwrap();
        }
        if let Some(t) = &state.terminated {
            return t.reason.clone().unwrap();
        }
        "Running".to_string()
    }

    #[test]
    fn a_new_pod_gets_a_sandbox_and_its_containers() {
        let p = pod("Always", json!({}));
        let records = vec![];
        let sorted = PodRecords::new(&records);
        let mut memory = PodMemory::default();
        let (actions, _) = plan(&p, &sorted, &mut memory, at(0));
        assert_eq!(
            actions,
            vec![
                Action::CreateSandbox,
                Action::Start {
                    container: "app".into(),
                    attempt: 0
                }
            ]
        );
        let status = status(&p, &sorted, &memory, "127.0.0.1", at(0));
        assert_eq!(status.phase.as_deref(), Some("Pending"));
        assert_eq!(
            state_reason(&status.container_statuses.unwrap()[0]),
            "ContainerCreating"
        );
    }

    #[test]
    fn a_running_pod_is_running_and_ready_with_its_ip() {
        let p = pod("Always", json!({}));
        let records = vec![sandbox(), record("c0", "app", 0, RunState::Running, 0)];
        let sorted = PodRecords::new(&records);
        let mut memory = PodMemory::default();
        let (actions, _) = plan(&p, &sorted, &mut memory, at(5));
        assert!(actions.is_empty());
        let status = status(&p, &sorted, &memory, "127.0.0.1", at(5));
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ip.as_deref(), Some("172.17.0.9"));
        let c = &status.container_statuses.unwrap()[0];
        assert!(c.ready);
        assert_eq!(c.container_id.as_deref(), Some("docker://c0"));
        let conditions = status.conditions.unwrap();
        let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "True");
        assert!(conditions.iter().any(|c| c.type_ == "PodScheduled"));
    }

    #[test]
    fn crashes_restart_at_once_then_back_off_doubling() {
        let p = pod("Always", json!({}));
        let mut memory = PodMemory::default();
        // First crash: restart now.
        let records = vec![sandbox(), record("c0", "app", 0, RunState::Exited, 1)];
        let sorted = PodRecords::new(&records);
        let (actions, _) = plan(&p, &sorted, &mut memory, at(2));
        assert_eq!(
            actions,
            vec![Action::Start {
                container: "app".into(),
                attempt: 1
            }]
        );
        // Second crash: 10 s back-off, CrashLoopBackOff, one BackOff event.
        let records = vec![
            sandbox(),
            record("c1", "app", 1, RunState::Exited, 1),
            record("c0", "app", 0, RunState::Exited, 1),
        ];
        let sorted = PodRecords::new(&records);
        let (actions, notes) = plan(&p, &sorted, &mut memory, at(3));
        assert!(actions.is_empty());
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].reason, "BackOff");
        let status = status(&p, &sorted, &memory, "127.0.0.1", at(3));
        let c = &status.container_statuses.unwrap()[0];
        assert_eq!(state_reason(c), "CrashLoopBackOff");
        assert_eq!(c.restart_count, 1);
        assert_eq!(
            c.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("back-off 10s restarting failed container=app pod=echo_default(u-1)")
        );
        assert_eq!(status.phase.as_deref(), Some("Running"));
        let (again, notes) = plan(&p, &sorted, &mut memory, at(5));
        assert!(again.is_empty() && notes.is_empty());
        // After 10 s: the oldest instance goes, the next attempt starts.
        let (actions, _) = plan(&p, &sorted, &mut memory, at(11));
        assert_eq!(
            actions,
            vec![
                Action::Remove { id: "c0".into() },
                Action::Start {
                    container: "app".into(),
                    attempt: 2
                }
            ]
        );
        assert_eq!(backoff_seconds(2), 20);
        assert_eq!(backoff_seconds(9), 300);
    }

    #[test]
    fn never_and_on_failure_end_in_completed_or_error() {
        for (policy, exit, phase, reason, restarts) in [
            ("Never", 0, "Succeeded", "Completed", false),
            ("Never", 3, "Failed", "Error", false),
            ("OnFailure", 0, "Succeeded", "Completed", false),
            ("OnFailure", 3, "Running", "Error", true),
        ] {
            let p = pod(policy, json!({}));
            let records = vec![sandbox(), record("c0", "app", 0, RunState::Exited, exit)];
            let sorted = PodRecords::new(&records);
            let mut memory = PodMemory::default();
            let (actions, _) = plan(&p, &sorted, &mut memory, at(2));
            assert_eq!(!actions.is_empty(), restarts, "{policy} {exit}");
            let s = status(
                &p,
                &PodRecords::new(&records),
                &PodMemory::default(),
                "127.0.0.1",
                at(2),
            );
            assert_eq!(s.phase.as_deref(), Some(phase), "{policy} {exit}");
            assert_eq!(state_reason(&s.container_statuses.unwrap()[0]), reason);
        }
    }

    #[test]
    fn oom_kills_are_reported_as_such() {
        let p = pod("Never", json!({}));
        let mut oom = record("c0", "app", 0, RunState::Exited, 137);
        oom.oom_killed = true;
        let records = vec![sandbox(), oom];
        let s = status(
            &p,
            &PodRecords::new(&records),
            &PodMemory::default(),
            "h",
            at(2),
        );
        assert_eq!(state_reason(&s.container_statuses.unwrap()[0]), "OOMKilled");
    }

    #[test]
    fn readiness_gates_ready_and_liveness_failure_kills_once() {
        let p = pod(
            "Always",
            json!({"containers": [{"name": "app", "image": "echo:v1",
            "readinessProbe": {"tcpSocket": {"port": 3000}}, "livenessProbe": {"tcpSocket": {"port": 3000}}}]}),
        );
        let records = vec![sandbox(), record("c0", "app", 0, RunState::Running, 0)];
        let sorted = PodRecords::new(&records);
        let mut memory = PodMemory::default();
        let s = status(&p, &sorted, &memory, "h", at(1));
        assert!(!s.container_statuses.unwrap()[0].ready);
        memory.container("app").probes = ProbeView {
            instance: "c0".into(),
            started: true,
            ready: true,
            failed: None,
        };
        let s = status(&p, &sorted, &memory, "h", at(1));
        assert!(s.container_statuses.unwrap()[0].ready);
        memory.container("app").probes.failed = Some("Liveness probe failed".into());
        let (actions, _) = plan(&p, &sorted, &mut memory, at(2));
        assert!(matches!(&actions[..], [Action::Kill { id, grace: 30, .. }] if id == "c0"));
        let (again, _) = plan(&p, &sorted, &mut memory, at(3));
        assert!(again.is_empty());
    }

    #[test]
    fn pull_failures_show_err_image_pull_then_back_off() {
        let p = pod("Always", json!({}));
        let records = vec![sandbox()];
        let sorted = PodRecords::new(&records);
        let mut memory = PodMemory::default();
        memory.pull_failed("app", "ErrImagePull", "no registry".into(), at(0));
        let s = status(&p, &sorted, &memory, "h", at(1));
        assert_eq!(
            state_reason(&s.container_statuses.unwrap()[0]),
            "ErrImagePull"
        );
        let s = status(&p, &sorted, &memory, "h", at(5));
        assert_eq!(
            state_reason(&s.container_statuses.unwrap()[0]),
            "ImagePullBackOff"
        );
        let (actions, _) = plan(&p, &sorted, &mut memory, at(5));
        assert!(actions.is_empty());
        let (actions, _) = plan(&p, &sorted, &mut memory, at(10));
        assert_eq!(
            actions,
            vec![Action::Start {
                container: "app".into(),
                attempt: 0
            }]
        );
    }

    #[test]
    fn init_containers_run_first_and_in_order() {
        let p = pod(
            "Always",
            json!({"initContainers": [{"name": "init", "image": "busybox"}]}),
        );
        let records = vec![sandbox()];
        let sorted = PodRecords::new(&records);
        let mut memory = PodMemory::default();
        let (actions, _) = plan(&p, &sorted, &mut memory, at(0));
        assert_eq!(
            actions,
            vec![Action::Start {
                container: "init".into(),
                attempt: 0
            }]
        );
        let s = status(&p, &sorted, &memory, "h", at(0));
        assert_eq!(
            state_reason(&s.container_statuses.clone().unwrap()[0]),
            "PodInitializing"
        );
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        let records = vec![sandbox(), record("i0", "init", 0, RunState::Exited, 0)];
        let sorted = PodRecords::new(&records);
        let (actions, _) = plan(&p, &sorted, &mut memory, at(1));
        assert_eq!(
            actions,
            vec![Action::Start {
                container: "app".into(),
                attempt: 0
            }]
        );
    }

    #[test]
    fn a_dead_sandbox_is_replaced_and_its_containers_stopped() {
        let p = pod("Always", json!({}));
        let mut dead = sandbox();
        dead.state = RunState::Exited;
        let records = vec![dead, record("c0", "app", 0, RunState::Running, 0)];
        let sorted = PodRecords::new(&records);
        let (actions, _) = plan(&p, &sorted, &mut PodMemory::default(), at(0));
        assert_eq!(actions[0], Action::Remove { id: "sb".into() });
        assert!(matches!(&actions[1], Action::Kill { id, grace: 0, .. } if id == "c0"));
        assert_eq!(actions[2], Action::CreateSandbox);
    }

    #[test]
    fn unchanged_conditions_keep_their_transition_times() {
        let p = pod("Always", json!({}));
        let records = vec![sandbox(), record("c0", "app", 0, RunState::Running, 0)];
        let sorted = PodRecords::new(&records);
        let first = status(&p, &sorted, &PodMemory::default(), "h", at(1));
        let mut later = p.clone();
        later.status = Some(first.clone());
        let second = status(&later, &sorted, &PodMemory::default(), "h", at(50));
        assert_eq!(first, second);
    }
}
