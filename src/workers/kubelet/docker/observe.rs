//! What Docker holds for a node: every container carrying the node's label, read from
//! `docker inspect` into `ContainerRecord`s. Records are the kubelet's only view of the running
//! world; pod status is computed from them, so a restarted kubelet sees exactly what its
//! predecessor left behind.

use crate::api::containers as naming;
use bollard::models::ContainerInspectResponse;
use std::collections::HashMap;

/// Whether a container holds a pod's network namespace or runs one of its spec's containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Sandbox,
    Container,
}

/// Docker's state of a container, reduced to what pod status needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Created and never started (or being started).
    Created,
    Running,
    /// Stopped: exited, killed, or dead.
    Exited,
}

/// One container of this node, as Docker reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRecord {
    pub id: String,
    pub pod_uid: String,
    pub pod_name: String,
    pub pod_namespace: String,
    /// The spec's container name (`POD` for a sandbox).
    pub container: String,
    pub attempt: u32,
    pub role: Role,
    pub state: RunState,
    pub exit_code: i64,
    pub oom_killed: bool,
    /// Docker's error for a container that could not start.
    pub error: String,
    pub started_at: Option<jiff::Timestamp>,
    pub finished_at: Option<jiff::Timestamp>,
    /// The image as the spec names it.
    pub image: String,
    /// The image's content id (`sha256:...`).
    pub image_id: String,
    /// The sandbox's address on Docker's bridge (empty for other containers).
    pub ip: String,
    /// The sandbox's published ports: container port → port on 127.0.0.1.
    pub ports: HashMap<u16, u16>,
}

impl ContainerRecord {
    /// Docker's `0001-01-01T00:00:00Z` means "never".
    fn time(text: Option<&String>) -> Option<jiff::Timestamp> {
        let time: jiff::Timestamp = text?.parse().ok()?;
        (time.as_second() > 0).then_some(time)
    }

    /// The record of an inspected container, or `None` when it is not one of ours.
    pub fn from_inspect(inspect: &ContainerInspectResponse) -> Option<Self> {
        let labels = inspect.config.as_ref()?.labels.as_ref()?;
        let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
        let role = match labels.get(naming::TYPE).map(String::as_str) {
            Some(naming::TYPE_SANDBOX) => Role::Sandbox,
            Some(naming::TYPE_CONTAINER) => Role::Container,
            _ => return None,
        };
        let state = inspect.state.as_ref();
        let status = state
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_default();
        let run_state = match status.as_str() {
            "running" | "paused" | "restarting" => RunState::Running,
            "created" => RunState::Created,
            _ => RunState::Exited,
        };
        let network = inspect.network_settings.as_ref();
        let ip = network
            .and_then(|n| n.networks.as_ref())
            .and_then(|n| n.values().find_map(|e| e.ip_address.clone()))
            .filter(|ip| !ip.is_empty())
            .unwrap_or_default();
        let ports = network
            .and_then(|n| n.ports.as_ref())
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|(key, bindings)| {
                        let port = key.split('/').next()?.parse().ok()?;
                        let host = bindings
                            .as_ref()?
                            .iter()
                            .filter(|b| b.host_ip.as_deref() == Some("127.0.0.1"))
                            .find_map(|b| b.host_port.as_ref()?.parse().ok())?;
                        Some((port, host))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(ContainerRecord {
            id: inspect.id.clone()?,
            pod_uid: label(naming::POD_UID),
            pod_name: label(naming::POD_NAME),
            pod_namespace: label(naming::POD_NAMESPACE),
            container: label(naming::CONTAINER_NAME),
            attempt: label(naming::ATTEMPT).parse().unwrap_or(0),
            role,
            state: run_state,
            exit_code: state.and_then(|s| s.exit_code).unwrap_or(0),
            oom_killed: state.and_then(|s| s.oom_killed).unwrap_or(false),
            error: state.and_then(|s| s.error.clone()).unwrap_or_default(),
            started_at: Self::time(state.and_then(|s| s.started_at.as_ref())),
            finished_at: Self::time(state.and_then(|s| s.finished_at.as_ref())),
            image: inspect
                .config
                .as_ref()
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            image_id: inspect.image.clone().unwrap_or_default(),
            ip,
            ports,
        })
    }
}

/// A node's containers, grouped by pod uid.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub by_pod: HashMap<String, Vec<ContainerRecord>>,
}

impl Observed {
    pub fn new(records: impl IntoIterator<Item = ContainerRecord>) -> Self {
        let mut by_pod: HashMap<String, Vec<ContainerRecord>> = HashMap::new();
        for record in records {
            by_pod
                .entry(record.pod_uid.clone())
                .or_default()
                .push(record);
        }
        Observed { by_pod }
    }

    pub fn pod(&self, uid: &str) -> &[ContainerRecord] {
        self.by_pod.get(uid).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A pod's records, sorted out: its sandbox and the instances of each container.
#[derive(Debug, Default)]
pub struct PodRecords<'a> {
    /// The newest sandbox.
    pub sandbox: Option<&'a ContainerRecord>,
    /// Sandboxes other than the newest.
    pub stale_sandboxes: Vec<&'a ContainerRecord>,
    /// Instances of each container, newest (highest attempt) first.
    pub instances: HashMap<&'a str, Vec<&'a ContainerRecord>>,
}

impl<'a> PodRecords<'a> {
    pub fn new(records: &'a [ContainerRecord]) -> Self {
        let mut sorted = PodRecords::default();
        let mut sandboxes: Vec<&ContainerRecord> =
            records.iter().filter(|r| r.role == Role::Sandbox).collect();
        sandboxes.sort_by_key(|r| (r.state == RunState::Running, r.started_at));
        sorted.sandbox = sandboxes.pop();
        sorted.stale_sandboxes = sandboxes;
        for record in records.iter().filter(|r| r.role == Role::Container) {
            sorted
                .instances
                .entry(record.container.as_str())
                .or_default()
                .push(record);
        }
        for instances in sorted.instances.values_mut() {
            instances.sort_by_key(|r| std::cmp::Reverse(r.attempt));
        }
        sorted
    }

    /// The newest instance of `container`.
    pub fn current(&self, container: &str) -> Option<&'a ContainerRecord> {
        self.instances.get(container)?.first().copied()
    }

    /// The instance before the newest.
    pub fn previous(&self, container: &str) -> Option<&'a ContainerRecord> {
        self.instances.get(container)?.get(1).copied()
    }
}
