//! Which Docker container serves a pod's log, exec or attach request: Kubernetes' container
//! choice and its errors from the stored pod, then the instance among the containers the kubelet
//! labelled (`workers::kubelet::docker::naming`). The choice is pure; Docker is only listed.

use super::error::ApiError;
use crate::api::containers as naming;
use crate::model::{ResourceKind, meta};
use crate::projections::ReadStore;
use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use serde_json::Value;
use std::collections::HashMap;
use tokio::sync::OnceCell;

/// The local Docker engine, connected on first use so that a server started before Docker
/// still serves logs once Docker runs.
pub struct DockerHandle {
    docker: OnceCell<Docker>,
    /// Set on a read-only server: why no request may reach a container. Its pods carry the
    /// uids of a live cluster's, whose containers may still run on this engine.
    refused: Option<String>,
}

impl DockerHandle {
    /// The engine at `DOCKER_HOST`, else the local socket.
    pub fn local() -> Self {
        DockerHandle {
            docker: OnceCell::new(),
            refused: None,
        }
    }

    /// A handle that never connects: every use is refused with `message` (405, as a write).
    pub fn refusing(message: &str) -> Self {
        DockerHandle {
            docker: OnceCell::new(),
            refused: Some(message.to_string()),
        }
    }

    /// The read-only refusal, before anything else a log, exec or attach request does.
    pub fn check_allowed(&self) -> Result<(), ApiError> {
        match &self.refused {
            Some(message) => Err(ApiError::read_only(message)),
            None => Ok(()),
        }
    }

    /// The connection, or a 503 saying why there is none.
    pub async fn get(&self) -> Result<&Docker, ApiError> {
        self.check_allowed()?;
        self.docker
            .get_or_try_init(|| async {
                let docker = Docker::connect_with_local_defaults()?;
                docker.negotiate_version().await
            })
            .await
            .map_err(|e| {
                ApiError::service_unavailable(format!(
                    "the container runtime is not reachable: {e}"
                ))
            })
    }
}

/// One Docker container the kubelet created for a container of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    /// The container's name in the pod spec.
    pub container: String,
    /// Which run of the container this is (0, 1, 2, ...).
    pub attempt: u32,
    pub running: bool,
}

impl Instance {
    /// An instance from Docker's listing; `None` for containers without the kubelet's labels
    /// and for the sandbox.
    pub fn from_summary(summary: &bollard::models::ContainerSummary) -> Option<Instance> {
        let labels = summary.labels.as_ref()?;
        if labels.get(naming::TYPE).map(String::as_str) != Some(naming::TYPE_CONTAINER) {
            return None;
        }
        Some(Instance {
            id: summary.id.clone()?,
            container: labels.get(naming::CONTAINER_NAME)?.clone(),
            attempt: labels.get(naming::ATTEMPT)?.parse().ok()?,
            running: summary.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
        })
    }
}

/// What a request is for: logs read any instance, current or previous; exec and attach need
/// the running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Logs { previous: bool },
    Exec,
}

/// The container a request names, or the only one, as kube-apiserver validates it before it
/// asks the kubelet.
pub fn container_name(pod: &Value, requested: Option<&str>) -> Result<String, ApiError> {
    let pod_name = meta::name(pod);
    let names = |field: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect()
    };
    let containers = names("containers");
    let init = names("initContainers");
    match requested.filter(|c| !c.is_empty()) {
        Some(name) => {
            if containers.iter().chain(&init).any(|c| c == name) {
                Ok(name.to_string())
            } else {
                Err(ApiError::bad_request(format!(
                    "container {name} is not valid for pod {pod_name}"
                )))
            }
        }
        None => match containers.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {pod_name}"
            ))),
            many => {
                let mut message = format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    many.join(" ")
                );
                if !init.is_empty() {
                    message.push_str(&format!(
                        " or one of the init containers: [{}]",
                        init.join(" ")
                    ));
                }
                Err(ApiError::bad_request(message))
            }
        },
    }
}

/// Where a request goes once its container is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// This Docker container.
    Instance(Instance),
    /// The pod is not bound to a node yet: logs are empty, as kube-apiserver serves them.
    Unscheduled,
}

/// The instance serving `purpose` for `container` of `pod`, among `instances` (the pod's
/// labelled containers). Follows the kubelet: the status names the current container and the
/// last terminated one; the labels decide when the status does not name a known instance yet.
pub fn choose(
    pod: &Value,
    container: &str,
    purpose: Purpose,
    instances: &[Instance],
) -> Result<Choice, ApiError> {
    let pod_name = meta::name(pod);
    if pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return match purpose {
            Purpose::Logs { .. } => Ok(Choice::Unscheduled),
            Purpose::Exec => Err(ApiError::bad_request(format!(
                "pod {pod_name} does not have a host assigned"
            ))),
        };
    }
    let mut mine: Vec<&Instance> = instances
        .iter()
        .filter(|i| i.container == container)
        .collect();
    mine.sort_by_key(|i| std::cmp::Reverse(i.attempt));
    let status = container_status(pod, container);
    let by_id = |id: Option<&str>| -> Option<&Instance> {
        let id = id?.strip_prefix("docker://")?;
        mine.iter()
            .copied()
            .find(|i| !id.is_empty() && i.id.starts_with(id))
    };
    let str_at = |path: &str| status.and_then(|s| s.pointer(path)).and_then(Value::as_str);
    let current_id = str_at("/containerID");
    let last_id = str_at("/lastState/terminated/containerID");
    let current = by_id(current_id).or(mine.first().copied());
    let not_served = || {
        let id = current_id.or(last_id).unwrap_or_default();
        ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" has no Docker container: its node runs none ({id})"
        ))
    };
    let foreign =
        |id: Option<&str>| id.is_some_and(|id| !id.is_empty() && !id.starts_with("docker://"));
    match purpose {
        Purpose::Logs { previous: true } => {
            if let Some(last) = by_id(last_id) {
                return Ok(Choice::Instance(last.clone()));
            }
            if foreign(last_id) {
                return Err(not_served());
            }
            let below = current.map(|c| c.attempt).unwrap_or(0);
            mine.iter()
                .find(|i| i.attempt < below)
                .map(|i| Choice::Instance((*i).clone()))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
                    ))
                })
        }
        Purpose::Logs { previous: false } => {
            let waiting = status.and_then(|s| s.pointer("/state/waiting"));
            // A container waiting to restart shows the run that ended last.
            if waiting.is_some()
                && let Some(last) = by_id(last_id)
            {
                return Ok(Choice::Instance(last.clone()));
            }
            match current {
                Some(instance) => Ok(Choice::Instance(instance.clone())),
                None if foreign(current_id) || foreign(last_id) => Err(not_served()),
                None => {
                    let reason = waiting
                        .and_then(|w| w["reason"].as_str())
                        .unwrap_or("ContainerCreating");
                    Err(waiting_to_start(container, pod_name, reason))
                }
            }
        }
        Purpose::Exec => match current {
            Some(instance) if instance.running => Ok(Choice::Instance(instance.clone())),
            None if foreign(current_id) => Err(not_served()),
            _ => Err(ApiError::bad_request(format!(
                "container not found (\"{container}\")"
            ))),
        },
    }
}

/// `container "x" in pod "y" is waiting to start: <why>`, worded as the kubelet words the
/// common image failures.
fn waiting_to_start(container: &str, pod: &str, reason: &str) -> ApiError {
    let why = match reason {
        "ErrImagePull" => "image can't be pulled",
        "ImagePullBackOff" => "trying and failing to pull image",
        other => other,
    };
    ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{pod}\" is waiting to start: {why}"
    ))
}

/// The status the kubelet reported for `container` (regular or init).
fn container_status<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|field| pod.pointer(&format!("/status/{field}"))?.as_array())
        .flatten()
        .find(|s| s["name"] == container)
}

/// The pod, the container the request names (or the only one) and where the request goes.
pub struct Target {
    pub pod: Value,
    pub container: String,
    pub choice: Choice,
}

/// Look up the pod in the store and its containers in Docker, and choose.
pub async fn find(
    store: &ReadStore,
    docker: &DockerHandle,
    namespace: &str,
    name: &str,
    requested: Option<&str>,
    purpose: Purpose,
) -> Result<Target, ApiError> {
    let stored = store
        .get(ResourceKind::Pod, namespace, name)
        .await?
        .ok_or_else(|| ApiError::not_found(ResourceKind::Pod, name))?;
    let pod: Value =
        serde_json::from_str(&stored.json).map_err(|e| ApiError::Unexpected(e.into()))?;
    let container = container_name(&pod, requested)?;
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let instances = if scheduled {
        list_instances(docker.get().await?, meta::uid(&pod)).await?
    } else {
        Vec::new()
    };
    let choice = choose(&pod, &container, purpose, &instances)?;
    Ok(Target {
        pod,
        container,
        choice,
    })
}

/// The pod's containers the kubelet created (sandbox excluded), running or not.
async fn list_instances(docker: &Docker, uid: &str) -> Result<Vec<Instance>, ApiError> {
    let filters = HashMap::from([(
        "label",
        vec![
            format!("{}={uid}", naming::POD_UID),
            format!("{}={}", naming::TYPE, naming::TYPE_CONTAINER),
        ],
    )]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let listed = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| runtime_error("listing the pod's containers", e))?;
    Ok(listed.iter().filter_map(Instance::from_summary).collect())
}

/// A failed Docker call, as the 500 a failed kubelet call is.
pub fn runtime_error(doing: &str, e: bollard::errors::Error) -> ApiError {
    ApiError::Unexpected(anyhow::Error::new(e).context(doing.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], init: &[&str]) -> Value {
        let list = |names: &[&str]| -> Vec<Value> {
            names
                .iter()
                .map(|n| json!({"name": n, "image": "busybox"}))
                .collect()
        };
        json!({"metadata": {"name": "web", "namespace": "default", "uid": "u-1"},
               "spec": {"nodeName": "node-1", "containers": list(containers), "initContainers": list(init)}})
    }

    fn with_status(mut pod: Value, status: Value) -> Value {
        pod["status"] = json!({"containerStatuses": [status]});
        pod
    }

    fn instance(container: &str, attempt: u32, running: bool) -> Instance {
        Instance {
            id: format!("{container}{attempt}{}", "f".repeat(60)),
            container: container.to_string(),
            attempt,
            running,
        }
    }

    fn message(result: Result<impl std::fmt::Debug, ApiError>) -> (u16, String) {
        let e = result.expect_err("an error");
        (e.code(), e.to_string())
    }

    #[test]
    fn container_names_are_checked_as_kube_apiserver_does() {
        type Case = (
            &'static str,
            Value,
            Option<&'static str>,
            Result<&'static str, &'static str>,
        );
        let cases: &[Case] = &[
            ("the only container", pod(&["app"], &[]), None, Ok("app")),
            (
                "named",
                pod(&["app", "side"], &[]),
                Some("side"),
                Ok("side"),
            ),
            (
                "an init container",
                pod(&["app"], &["setup"]),
                Some("setup"),
                Ok("setup"),
            ),
            (
                "several, none named",
                pod(&["app", "side"], &[]),
                None,
                Err("a container name must be specified for pod web, choose one of: [app side]"),
            ),
            (
                "several with init containers",
                pod(&["app", "side"], &["setup", "migrate"]),
                Some(""),
                Err(
                    "a container name must be specified for pod web, choose one of: [app side] or one of the init containers: [setup migrate]",
                ),
            ),
            (
                "unknown",
                pod(&["app"], &[]),
                Some("nosuch"),
                Err("container nosuch is not valid for pod web"),
            ),
        ];
        for (reason, pod, requested, expected) in cases {
            match expected {
                Ok(name) => assert_eq!(
                    container_name(pod, *requested).expect(reason),
                    *name,
                    "{reason}"
                ),
                Err(text) => {
                    assert_eq!(
                        message(container_name(pod, *requested)),
                        (400, text.to_string()),
                        "{reason}"
                    )
                }
            }
        }
    }

    #[test]
    fn logs_read_the_current_instance_or_wait() {
        let logs = Purpose::Logs { previous: false };
        let p = pod(&["app"], &[]);
        let run0 = instance("app", 0, true);
        assert_eq!(
            choose(&p, "app", logs, &[run0.clone(), instance("side", 3, true)]).unwrap(),
            Choice::Instance(run0.clone()),
            "labels alone: the highest attempt of that container"
        );
        assert_eq!(
            message(choose(&p, "app", logs, &[])),
            (
                400,
                "container \"app\" in pod \"web\" is waiting to start: ContainerCreating".into()
            )
        );
        for (reason, said) in [
            ("ErrImagePull", "image can't be pulled"),
            ("ImagePullBackOff", "trying and failing to pull image"),
            ("CreateContainerConfigError", "CreateContainerConfigError"),
        ] {
            let waiting = with_status(
                p.clone(),
                json!({"name": "app", "state": {"waiting": {"reason": reason}}, "lastState": {}}),
            );
            assert_eq!(
                message(choose(&waiting, "app", logs, &[])).1,
                format!("container \"app\" in pod \"web\" is waiting to start: {said}")
            );
        }
        let mut unscheduled = p.clone();
        unscheduled["spec"]["nodeName"] = json!(null);
        assert_eq!(
            choose(&unscheduled, "app", logs, &[]).unwrap(),
            Choice::Unscheduled
        );
    }

    #[test]
    fn the_status_names_the_current_and_the_previous_instance() {
        let p = pod(&["app"], &[]);
        let (old, new) = (instance("app", 0, false), instance("app", 1, true));
        let both = [old.clone(), new.clone()];
        let status = with_status(
            p.clone(),
            json!({"name": "app", "containerID": format!("docker://{}", old.id),
                   "state": {"running": {}},
                   "lastState": {}}),
        );
        assert_eq!(
            choose(&status, "app", Purpose::Logs { previous: false }, &both).unwrap(),
            Choice::Instance(old.clone()),
            "the status is followed while it names a known instance"
        );
        assert_eq!(
            choose(&p, "app", Purpose::Logs { previous: true }, &both).unwrap(),
            Choice::Instance(old.clone()),
            "labels alone: the attempt before the current one"
        );
        assert_eq!(
            message(choose(
                &p,
                "app",
                Purpose::Logs { previous: true },
                std::slice::from_ref(&new)
            )),
            (
                400,
                "previous terminated container \"app\" in pod \"web\" not found".into()
            )
        );
        // Crash loop: waiting to restart, the last run is both the current and previous logs.
        let backoff = with_status(
            p.clone(),
            json!({"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                   "lastState": {"terminated": {"exitCode": 1, "containerID": format!("docker://{}", new.id)}}}),
        );
        for previous in [false, true] {
            assert_eq!(
                choose(&backoff, "app", Purpose::Logs { previous }, &both).unwrap(),
                Choice::Instance(new.clone())
            );
        }
    }

    #[test]
    fn exec_needs_the_running_instance() {
        let p = pod(&["app"], &[]);
        assert_eq!(
            choose(&p, "app", Purpose::Exec, &[instance("app", 0, true)]).unwrap(),
            Choice::Instance(instance("app", 0, true))
        );
        for instances in [vec![], vec![instance("app", 0, false)]] {
            assert_eq!(
                message(choose(&p, "app", Purpose::Exec, &instances)),
                (400, "container not found (\"app\")".into())
            );
        }
        let mut unscheduled = p.clone();
        unscheduled["spec"]["nodeName"] = json!("");
        assert_eq!(
            message(choose(&unscheduled, "app", Purpose::Exec, &[])),
            (400, "pod web does not have a host assigned".into())
        );
    }

    #[test]
    fn pods_on_nodes_without_containers_say_so() {
        let p = with_status(
            pod(&["app"], &[]),
            json!({"name": "app", "containerID": "simulated://u-1-app", "state": {"running": {}}}),
        );
        for purpose in [Purpose::Logs { previous: false }, Purpose::Exec] {
            let (code, text) = message(choose(&p, "app", purpose, &[]));
            assert_eq!(code, 400);
            assert!(text.contains("simulated://u-1-app"), "{text}");
        }
    }
}
