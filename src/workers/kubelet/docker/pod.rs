//! What every part of a pod's containers is made from: the facts of the pod's run (its
//! sandbox, addresses, node and host directory) that `$(VAR)`, `fieldRef`s and volume files
//! resolve against, its containers in order, and why a container cannot be made. Pure; the
//! one module `spec`, `env` and `volumes` all read, so none of them reads another's.

use k8s_openapi::api::core::v1::{Container, Pod};

/// Why a container cannot be created: a Kubernetes waiting reason and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub reason: &'static str,
    pub message: String,
}

impl ConfigError {
    /// A `CreateContainerConfigError` with the kubelet's `message`.
    pub fn config(message: String) -> ConfigError {
        ConfigError {
            reason: "CreateContainerConfigError",
            message,
        }
    }
}

/// Every container of the pod: init containers first, in order.
pub fn all_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    let spec = pod.spec.as_ref();
    spec.and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .chain(spec.map(|s| s.containers.as_slice()).unwrap_or(&[]))
}

/// What `$(VAR)` references and `fieldRef`s resolve against, and where the pod's volume
/// files are on the host.
#[derive(Debug, Clone, Default)]
pub struct Runtime<'a> {
    pub sandbox_id: &'a str,
    pub pod_ip: &'a str,
    pub host_ip: &'a str,
    pub node: &'a str,
    /// The pod's directory on the host (`volumes/NAME` below it holds the API-data volumes).
    pub pod_dir: &'a str,
}
