//! A pod's network namespace, for port forwarding: the pod's sandbox container (found by the
//! kubelet's labels, `api::containers`) holds it; its process's `/proc/PID/ns/net` is opened
//! once per session, and each connection is made to `localhost:PORT` by a short-lived OS
//! thread that `setns`es into it (a socket keeps the namespace it was made in, so the thread
//! hands the socket to tokio and exits). Needs root (CAP_SYS_ADMIN). Never starts, stops or
//! changes a container.

use super::containers::{self, DockerHandle};
use super::error::ApiError;
use super::portforward::session::Dial;
use crate::api::containers as naming;
use crate::model::{ResourceKind, meta};
use crate::projections::ReadStore;
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptionsBuilder};
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// How long one connection attempt inside the pod may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections being made at once, server-wide: each takes an OS thread while it lasts.
static CONNECTING: Semaphore = Semaphore::const_new(32);

/// The network namespace of one running pod, held open for a session.
pub struct PodNetwork {
    /// `/proc/PID/ns/net` of the sandbox's process, opened when the session began: it names
    /// the namespace even if that process's pid were reused later.
    namespace: Arc<File>,
    /// The sandbox container's id: the kubelet names the pod by it in its errors.
    sandbox: String,
    uid: String,
}

impl PodNetwork {
    /// The namespace of pod `namespace/name`, or the `Status` saying why there is none.
    pub async fn find(
        store: &ReadStore,
        docker: &DockerHandle,
        namespace: &str,
        name: &str,
    ) -> Result<PodNetwork, ApiError> {
        docker.check_allowed()?;
        let stored = store
            .get(ResourceKind::Pod, namespace, name)
            .await?
            .ok_or_else(|| ApiError::not_found(ResourceKind::Pod, name))?;
        let pod: Value =
            serde_json::from_str(&stored.json).map_err(|e| ApiError::Unexpected(e.into()))?;
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if node.is_empty() {
            return Err(ApiError::bad_request(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        if runs_without_containers(&pod) {
            return Err(ApiError::bad_request(format!(
                "pod {name} runs on node {node}, which runs no containers (a simulated node): \
                 it has no network namespace to forward ports into"
            )));
        }
        let uid = meta::uid(&pod).to_string();
        let docker = docker.get().await?;
        let Some((sandbox, pid)) = running_sandbox(docker, &uid).await? else {
            return Err(ApiError::bad_request(format!(
                "pod {name} has no running sandbox: its network namespace is not there (yet)"
            )));
        };
        // SAFETY: geteuid(2) only reads the process's effective user id.
        if unsafe { libc::geteuid() } != 0 {
            return Err(ApiError::service_unavailable(
                "port forwarding enters the pod's network namespace, which needs root: this \
                 server does not run as root",
            ));
        }
        let path = format!("/proc/{pid}/ns/net");
        let file = File::open(&path).map_err(|e| {
            ApiError::service_unavailable(format!(
                "cannot open the network namespace of pod {name} ({path}): {e}"
            ))
        })?;
        Ok(PodNetwork {
            namespace: Arc::new(file),
            sandbox,
            uid,
        })
    }
}

/// Whether the pod's node reported its containers as running without Docker (simulated
/// nodes give `simulated://` container ids).
fn runs_without_containers(pod: &Value) -> bool {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|field| pod.pointer(&format!("/status/{field}"))?.as_array())
        .flatten()
        .filter_map(|s| s["containerID"].as_str())
        .any(|id| !id.is_empty() && !id.starts_with("docker://"))
}

/// The pod's running sandbox container and its process id.
async fn running_sandbox(
    docker: &bollard::Docker,
    uid: &str,
) -> Result<Option<(String, i64)>, ApiError> {
    let filters = HashMap::from([
        (
            "label",
            vec![
                format!("{}={uid}", naming::POD_UID),
                format!("{}={}", naming::TYPE, naming::TYPE_SANDBOX),
            ],
        ),
        ("status", vec!["running".to_string()]),
    ]);
    let options = ListContainersOptionsBuilder::new()
        .filters(&filters)
        .build();
    let listed = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| containers::runtime_error("listing the pod's sandbox", e))?;
    let Some(id) = listed.into_iter().find_map(|c| c.id) else {
        return Ok(None);
    };
    let inspected = docker
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .map_err(|e| containers::runtime_error("inspecting the pod's sandbox", e))?;
    let pid = inspected.state.and_then(|s| s.pid).filter(|pid| *pid > 0);
    Ok(pid.map(|pid| (id, pid)))
}

impl Dial for PodNetwork {
    fn dial(
        &self,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = Result<TcpStream, String>> + Send + '_>> {
        Box::pin(async move {
            let failed = |e: String| {
                format!(
                    "error forwarding port {port} to pod {}, uid {}: {e}",
                    self.sandbox, self.uid
                )
            };
            let _permit = CONNECTING
                .acquire()
                .await
                .map_err(|e| failed(e.to_string()))?;
            let namespace = self.namespace.clone();
            let sandbox = self.sandbox.clone();
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("kubetrail-netns".to_string())
                .spawn(move || {
                    let _ = tx.send(connect_inside(&namespace, &sandbox, port));
                })
                .map_err(|e| failed(format!("starting a thread to connect: {e}")))?;
            let socket = rx
                .await
                .map_err(|_| failed("the connecting thread ended".to_string()))?
                .map_err(failed)?;
            TcpStream::from_std(socket).map_err(|e| failed(e.to_string()))
        })
    }
}

/// On the calling thread (a fresh one, which exits after): enter the namespace and connect to
/// localhost:PORT, IPv4 first, then IPv6 (as containerd does).
fn connect_inside(
    namespace: &File,
    sandbox: &str,
    port: u16,
) -> Result<std::net::TcpStream, String> {
    // SAFETY: setns(2) on a descriptor this process holds open; it moves only the calling
    // thread, which does nothing but connect and then exits.
    if unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "entering the network namespace of sandbox {sandbox}: {}",
            go_error(&io::Error::last_os_error())
        ));
    }
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    let connect = |addr: &SocketAddr| -> io::Result<std::net::TcpStream> {
        let socket = std::net::TcpStream::connect_timeout(addr, CONNECT_TIMEOUT)?;
        socket.set_nonblocking(true)?;
        socket.set_nodelay(true)?;
        Ok(socket)
    };
    match connect(&v4) {
        Ok(socket) => Ok(socket),
        Err(e4) => match connect(&v6) {
            Ok(socket) => Ok(socket),
            Err(e6) => Err(format!(
                "failed to connect to localhost:{port} inside namespace \"{sandbox}\", IPv4: dial tcp4 \
                 {v4}: connect: {} IPv6 dial tcp6 {v6}: connect: {}",
                go_error(&e4),
                go_error(&e6)
            )),
        },
    }
}

/// An OS error as Go prints it (`connection refused`), which kubectl users know.
fn go_error(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn os_errors_read_as_go_prints_them() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(go_error(&refused), "connection refused");
    }

    #[test]
    fn simulated_pods_are_told_apart() {
        let pod = |id: &str| json!({"status": {"containerStatuses": [{"containerID": id}]}});
        assert!(runs_without_containers(&pod("simulated://u-1-app")));
        assert!(!runs_without_containers(&pod("docker://abc")));
        assert!(!runs_without_containers(&pod("")));
        assert!(!runs_without_containers(&json!({"status": {}})));
    }

    #[test]
    fn a_connection_made_inside_our_own_namespace_works() {
        // Entering the namespace this thread is already in needs the same privilege; as root
        // this proves the connect path, otherwise the error is worded.
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let namespace = File::open("/proc/self/ns/net").unwrap();
        // SAFETY: reads the effective uid only.
        let root = unsafe { libc::geteuid() } == 0;
        let result = std::thread::spawn(move || connect_inside(&namespace, "sb", port))
            .join()
            .unwrap();
        match (root, result) {
            (true, Ok(_)) => {}
            (false, Err(e)) => assert!(e.contains("entering the network namespace"), "{e}"),
            (root, other) => panic!("root={root}: {other:?}"),
        }
        drop(listener);
        let namespace = File::open("/proc/self/ns/net").unwrap();
        if root {
            let e = std::thread::spawn(move || connect_inside(&namespace, "sb", port))
                .join()
                .unwrap()
                .unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "failed to connect to localhost:{port} inside namespace \"sb\", IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused"
                )),
                "{e}"
            );
        }
    }
}
