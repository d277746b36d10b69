//! The Docker side of the kubelet: reading the node's containers (`observe`), and carrying out
//! a pod's planned actions — sandbox and volumes, image pulls by policy, create and start,
//! kills — and its graceful termination, recording the Events Kubernetes' kubelet records
//! (Pulling, Pulled, Created, Started, Killing, Failed).

use super::env::Sources;
use super::observe::{ContainerRecord, PodRecords, Role, RunState};
use super::pause;
use super::pod::Runtime;
use super::sync::Action;
use super::{pod, spec};
use crate::api::containers as naming;
use crate::events::{Command, DeleteOptions, RequestMeta};
use crate::model::{ResourceKind, meta};
use crate::workers::causes;
use crate::workers::record::{Reporter, Severity};
use crate::workers::{Cause, Submit};
use bollard::Docker;
use bollard::models::{ContainerSummaryStateEnum, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, InspectContainerOptions,
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
    StartContainerOptions, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// What happened to an action that the next sync needs to know.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    PullFailed {
        container: String,
        message: String,
        /// `ErrImageNeverPull`, or `ErrImagePull`.
        reason: &'static str,
    },
    PullSucceeded {
        container: String,
    },
    CreateFailed {
        container: String,
        reason: String,
        message: String,
    },
    Created {
        container: String,
    },
    /// Docker created the instance but could not start it.
    StartFailed {
        instance: String,
        message: String,
    },
}

/// Records the kubelet's Events about a pod, through the same command path as every write.
/// Events are queued and written in order by a task of their own, so recording one never
/// holds up the container work it reports on.
#[derive(Clone)]
pub struct Recorder {
    pub submit: Arc<dyn Submit>,
    pub reporter: Reporter,
    pub actor: String,
    queue: tokio::sync::mpsc::UnboundedSender<Note>,
    /// The newest failure an Event recorded about each pod (by uid; `Killing`, or a warning
    /// such as `Unhealthy`): its seq and `Reason: message`, a cause of the status writes that
    /// follow it until one has shown its outcome (`consume_note`).
    latest: Arc<std::sync::Mutex<HashMap<String, Failure>>>,
}

/// A failure an Event recorded about a pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub seq: i64,
    /// `Reason: message`.
    pub text: String,
    /// It ordered a kill: its outcome shows when the container has restarted.
    pub kill: bool,
}

/// An Event to record about a pod, with its causes.
struct Note {
    command: Command,
    causes: Vec<Cause>,
    pod_uid: String,
    text: String,
    /// Whether it reports a failure that later status writes follow from.
    failure: bool,
    kill: bool,
}

impl Recorder {
    pub fn new(submit: Arc<dyn Submit>, reporter: Reporter, actor: String) -> Self {
        let (queue, mut pending) = tokio::sync::mpsc::unbounded_channel::<Note>();
        let sink = submit.clone();
        let writer = actor.clone();
        let latest: Arc<std::sync::Mutex<HashMap<String, Failure>>> = Arc::default();
        let recorded = latest.clone();
        tokio::spawn(async move {
            while let Some(note) = pending.recv().await {
                let request = RequestMeta::worker(&writer).because(note.causes);
                match sink.submit_command(note.command, request).await {
                    Ok(seq) if seq > 0 && note.failure => {
                        recorded.lock().unwrap_or_else(|p| p.into_inner()).insert(
                            note.pod_uid,
                            Failure {
                                seq,
                                text: note.text,
                                kill: note.kill,
                            },
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "kubelet event refused"),
                }
            }
        });
        Recorder {
            submit,
            reporter,
            actor,
            queue,
            latest,
        }
    }

    /// The newest failure recorded about the pod `uid` and not yet consumed.
    pub fn latest_note(&self, uid: &str) -> Option<Failure> {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uid)
            .cloned()
    }

    /// A status write showed the outcome of the failure at `seq`: it causes no later one.
    pub fn consume_note(&self, uid: &str, seq: i64) {
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        if latest.get(uid).is_some_and(|f| f.seq == seq) {
            latest.remove(uid);
        }
    }

    /// Forget the Events of pods not in `present`.
    pub fn forget_notes_except(&self, present: &std::collections::HashSet<String>) {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|uid, _| present.contains(uid));
    }

    pub fn note(&self, pod: &Value, severity: Severity, reason: &str, message: &str) {
        let now = jiff::Timestamp::now();
        if !self.reporter.allow(pod, now) {
            return;
        }
        let command = self
            .reporter
            .event(ResourceKind::Pod, pod, severity, reason, message, now);
        let text = format!("{reason}: {message}");
        let causes = causes::only(
            meta::resource_version(pod).parse().unwrap_or(0),
            format!("pod {}: {text}", meta::name(pod)),
        );
        let _ = self.queue.send(Note {
            command,
            causes,
            pod_uid: meta::uid(pod).to_string(),
            text,
            failure: severity == Severity::Warning || reason == "Killing",
            kill: reason == "Killing",
        });
    }
}

/// The inspections behind the last observation, reused while a container's state holds.
#[derive(Debug, Default)]
pub struct InspectCache {
    entries: HashMap<String, (String, Option<ContainerRecord>)>,
}

impl InspectCache {
    /// Forget a container, after Docker reported an event about it.
    pub fn forget(&mut self, id: &str) {
        self.entries.remove(id);
    }
}

/// What one run of a container is made from: the pod's runtime facts, the objects its
/// environment and volumes draw on, and the attempt's number.
#[derive(Clone, Copy)]
struct Run<'a> {
    runtime: &'a Runtime<'a>,
    sources: &'a Sources,
    attempt: u32,
}

/// The kubelet's handle on Docker for one node.
#[derive(Clone)]
pub struct Engine {
    pub docker: Docker,
    pub node: String,
    pub host_ip: String,
    /// The cluster DNS pods resolve through (`None`: Docker's resolver).
    pub cluster_dns: Option<std::net::Ipv4Addr>,
    /// The kubelet's directory: `pods/UID` below it holds each pod's volume files.
    pub root_dir: std::path::PathBuf,
}

fn split_image(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

impl Engine {
    /// Every container of this node, as Docker holds them now.
    pub async fn observe(&self, cache: &mut InspectCache) -> Result<Vec<ContainerRecord>, String> {
        let filter = format!("{}={}", naming::NODE, self.node);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&HashMap::from([("label", vec![filter.as_str()])]))
            .build();
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| e.to_string())?;
        let mut seen = std::collections::HashSet::new();
        let mut records = Vec::new();
        for summary in summaries {
            let Some(id) = summary.id else { continue };
            let state = summary
                .state
                .unwrap_or(ContainerSummaryStateEnum::EMPTY)
                .to_string();
            seen.insert(id.clone());
            if let Some((cached_state, record)) = cache.entries.get(&id)
                && *cached_state == state
            {
                records.extend(record.clone());
                continue;
            }
            match self
                .docker
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
            {
                Ok(inspect) => {
                    let record = ContainerRecord::from_inspect(&inspect);
                    records.extend(record.clone());
                    cache.entries.insert(id, (state, record));
                }
                // Removed between the list and the inspection.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        cache.entries.retain(|id, _| seen.contains(id));
        Ok(records)
    }

    /// Carry out `actions` for `pod`, in order; stops at the first action that cannot go on.
    pub async fn run(
        &self,
        pod: &Pod,
        pod_json: &Value,
        records: &[ContainerRecord],
        actions: Vec<Action>,
        sources: &Sources,
        recorder: &Recorder,
    ) -> Vec<Outcome> {
        let pod_dir = self
            .root_dir
            .join("pods")
            .join(pod.metadata.uid.as_deref().unwrap_or(""))
            .to_string_lossy()
            .into_owned();
        let sorted = PodRecords::new(records);
        let mut sandbox = sorted
            .sandbox
            .filter(|s| s.state == RunState::Running)
            .map(|s| (s.id.clone(), s.ip.clone()));
        // A sandbox created in this round starts while the first container is prepared.
        let mut unstarted: Option<String> = None;
        let mut outcomes = Vec::new();
        let sandbox_failed = |message: String| {
            recorder.note(
                pod_json,
                Severity::Warning,
                "FailedCreatePodSandBox",
                &format!("Failed to create pod sandbox: {message}"),
            );
        };
        for action in actions {
            match action {
                Action::Remove { id } => self.remove(&id).await,
                Action::CreateSandbox => match self.create_sandbox(pod).await {
                    Ok(id) if spec::wants_pod_ip(pod) => match self.start_sandbox(pod, &id).await {
                        Ok(ip) => sandbox = Some((id, ip)),
                        Err(message) => {
                            sandbox_failed(message);
                            return outcomes;
                        }
                    },
                    Ok(id) => unstarted = Some(id),
                    Err(message) => {
                        sandbox_failed(message);
                        return outcomes;
                    }
                },
                Action::Start { container, attempt } => {
                    let Some(spec) = pod::all_containers(pod).find(|c| c.name == container) else {
                        continue;
                    };
                    let sandbox_id = match (&sandbox, &unstarted) {
                        (Some((id, _)), _) | (None, Some(id)) => id.clone(),
                        (None, None) => return outcomes,
                    };
                    let ip = sandbox.as_ref().map(|s| s.1.clone()).unwrap_or_default();
                    let runtime = Runtime {
                        sandbox_id: &sandbox_id,
                        pod_ip: &ip,
                        host_ip: &self.host_ip,
                        node: &self.node,
                        pod_dir: &pod_dir,
                    };
                    let run = Run {
                        runtime: &runtime,
                        sources,
                        attempt,
                    };
                    let prepare = self.prepare(pod, pod_json, spec, run, recorder);
                    let (prepared, started) = match unstarted.take() {
                        Some(id) => {
                            let (prepared, started) =
                                tokio::join!(prepare, self.start_sandbox(pod, &id));
                            (prepared, Some(started.map(|ip| (id, ip))))
                        }
                        None => (prepare.await, None),
                    };
                    match started {
                        Some(Ok(started)) => sandbox = Some(started),
                        Some(Err(message)) => {
                            sandbox_failed(message);
                            return outcomes;
                        }
                        None => {}
                    }
                    let (done, created) = prepared;
                    outcomes.extend(done);
                    let Some(id) = created else {
                        // Init containers run one at a time; a failed start ends this round.
                        return outcomes;
                    };
                    outcomes.extend(self.launch(pod_json, spec, id, recorder).await);
                }
                Action::Kill {
                    id,
                    container,
                    grace,
                    message,
                } => {
                    recorder.note(pod_json, Severity::Normal, "Killing", &message);
                    tracing::debug!(pod = %meta::name(pod_json), %container, grace, "killing a container");
                    self.stop(&id, grace).await;
                }
            }
        }
        if let Some(id) = unstarted
            && let Err(message) = self.start_sandbox(pod, &id).await
        {
            sandbox_failed(message);
        }
        outcomes
    }

    /// Create the pod's volumes and sandbox container (not started yet).
    async fn create_sandbox(&self, pod: &Pod) -> Result<String, String> {
        pause::ensure_image(&self.docker).await?;
        let uid = pod.metadata.uid.as_deref().unwrap_or("");
        for (_, volume) in spec::empty_dirs(pod) {
            let labels = HashMap::from([
                (naming::POD_UID.to_string(), uid.to_string()),
                (naming::NODE.to_string(), self.node.clone()),
            ]);
            self.docker
                .create_volume(VolumeCreateRequest {
                    name: Some(volume),
                    labels: Some(labels),
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
        }
        let name = naming::sandbox_name(
            pod.metadata.name.as_deref().unwrap_or(""),
            pod.metadata.namespace.as_deref().unwrap_or(""),
            uid,
        );
        self.create_named(
            &name,
            spec::sandbox_config(pod, &self.node, self.cluster_dns),
        )
        .await
    }

    /// Start the sandbox; its address when a container must be told it.
    async fn start_sandbox(&self, pod: &Pod, id: &str) -> Result<String, String> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| e.to_string())?;
        // The address only matters now to a container that is told it (`status.podIP`); the
        // next observation reads it for the pod's status.
        if !spec::wants_pod_ip(pod) {
            return Ok(String::new());
        }
        let inspect = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| e.to_string())?;
        Ok(ContainerRecord::from_inspect(&inspect)
            .map(|r| r.ip)
            .unwrap_or_default())
    }

    /// Create a container under `name`, replacing a leftover of the same name.
    async fn create_named(
        &self,
        name: &str,
        body: bollard::models::ContainerCreateBody,
    ) -> Result<String, String> {
        let options = || CreateContainerOptionsBuilder::new().name(name).build();
        match self
            .docker
            .create_container(Some(options()), body.clone())
            .await
        {
            Ok(created) => Ok(created.id),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => {
                self.remove(name).await;
                self.docker
                    .create_container(Some(options()), body)
                    .await
                    .map(|c| c.id)
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn image_present(&self, image: &str) -> bool {
        self.docker.inspect_image(image).await.is_ok()
    }

    /// Make the image available as `imagePullPolicy` says.
    async fn ensure_image(
        &self,
        pod_json: &Value,
        container: &Container,
        recorder: &Recorder,
    ) -> Result<bool, Outcome> {
        let image = container.image.clone().unwrap_or_default();
        let policy = container
            .image_pull_policy
            .as_deref()
            .unwrap_or("IfNotPresent");
        let present = self.image_present(&image).await;
        let failed = |reason, message: String| Outcome::PullFailed {
            container: container.name.clone(),
            message,
            reason,
        };
        match policy {
            "Never" if !present => {
                let message =
                    format!("Container image \"{image}\" is not present with pull policy of Never");
                recorder.note(pod_json, Severity::Warning, "ErrImageNeverPull", &message);
                return Err(failed("ErrImageNeverPull", message));
            }
            "Never" | "IfNotPresent" if present => {
                recorder.note(
                    pod_json,
                    Severity::Normal,
                    "Pulled",
                    &format!("Container image \"{image}\" already present on machine"),
                );
                return Ok(false);
            }
            _ => {}
        }
        recorder.note(
            pod_json,
            Severity::Normal,
            "Pulling",
            &format!("Pulling image \"{image}\""),
        );
        let started = std::time::Instant::now();
        let (name, tag) = split_image(&image);
        let mut options = CreateImageOptionsBuilder::new().from_image(name);
        if !tag.is_empty() {
            options = options.tag(tag);
        }
        let mut pull = self.docker.create_image(Some(options.build()), None, None);
        let mut error = None;
        while let Some(step) = pull.next().await {
            if let Err(e) = step {
                error = Some(e.to_string());
                break;
            }
        }
        if let Some(error) = error {
            let message = format!("Failed to pull image \"{image}\": {error}");
            recorder.note(pod_json, Severity::Warning, "Failed", &message);
            // Offline (no registry reachable), an image this machine already has is used, as
            // `IfNotPresent` would: the course's `image: redis` then runs on the local
            // stand-in. Kubernetes would stop at ErrImagePull; the Warning above says why this
            // one did not.
            if present {
                recorder.note(
                    pod_json,
                    Severity::Normal,
                    "Pulled",
                    &format!(
                        "Container image \"{image}\" already present on machine; the pull failed, so that one is used"
                    ),
                );
                return Ok(false);
            }
            recorder.note(pod_json, Severity::Warning, "Failed", "Error: ErrImagePull");
            return Err(failed("ErrImagePull", message));
        }
        let took = started.elapsed().as_secs_f64();
        let size = self
            .docker
            .inspect_image(&image)
            .await
            .ok()
            .and_then(|i| i.size)
            .unwrap_or(0);
        recorder
            .note(
                pod_json,
                Severity::Normal,
                "Pulled",
                &format!(
                    "Successfully pulled image \"{image}\" in {took:.3}s ({took:.3}s including waiting). Image size: {size} bytes."
                ),
            );
        Ok(true)
    }

    /// Make the image available and create run `attempt` of `container`; returns what
    /// happened and the new container's id when it was created.
    async fn prepare(
        &self,
        pod: &Pod,
        pod_json: &Value,
        container: &Container,
        run: Run<'_>,
        recorder: &Recorder,
    ) -> (Vec<Outcome>, Option<String>) {
        let Run {
            runtime,
            sources,
            attempt,
        } = run;
        let mut outcomes = Vec::new();
        match self.ensure_image(pod_json, container, recorder).await {
            Ok(true) => outcomes.push(Outcome::PullSucceeded {
                container: container.name.clone(),
            }),
            Ok(false) => {}
            Err(failed) => return (vec![failed], None),
        }
        let create_failed = |reason: &str, message: String| Outcome::CreateFailed {
            container: container.name.clone(),
            reason: reason.to_string(),
            message,
        };
        let body = match spec::container_config(pod, container, runtime, sources, attempt) {
            Ok((body, warnings)) => {
                for (reason, message) in warnings {
                    recorder.note(pod_json, Severity::Warning, &reason, &message);
                }
                body
            }
            Err(e) => {
                recorder.note(
                    pod_json,
                    Severity::Warning,
                    "Failed",
                    &format!("Error: {}", e.message),
                );
                outcomes.push(create_failed(e.reason, e.message));
                return (outcomes, None);
            }
        };
        let name = naming::container_name(
            &container.name,
            pod.metadata.name.as_deref().unwrap_or(""),
            pod.metadata.namespace.as_deref().unwrap_or(""),
            pod.metadata.uid.as_deref().unwrap_or(""),
            attempt,
        );
        match self.create_named(&name, body).await {
            Ok(id) => {
                recorder.note(
                    pod_json,
                    Severity::Normal,
                    "Created",
                    &format!("Created container {}", container.name),
                );
                outcomes.push(Outcome::Created {
                    container: container.name.clone(),
                });
                (outcomes, Some(id))
            }
            Err(message) => {
                recorder.note(
                    pod_json,
                    Severity::Warning,
                    "Failed",
                    &format!("Error: {message}"),
                );
                outcomes.push(create_failed("CreateContainerError", message));
                (outcomes, None)
            }
        }
    }

    /// Start a created container.
    async fn launch(
        &self,
        pod_json: &Value,
        container: &Container,
        id: String,
        recorder: &Recorder,
    ) -> Option<Outcome> {
        match self
            .docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
        {
            Ok(()) => {
                recorder.note(
                    pod_json,
                    Severity::Normal,
                    "Started",
                    &format!("Started container {}", container.name),
                );
                None
            }
            // Docker keeps the container, created with the error: the sync reports it and
            // restarts it per the restart policy.
            Err(e) => {
                let message = format!("failed to start container \"{}\": {e}", container.name);
                recorder.note(
                    pod_json,
                    Severity::Warning,
                    "Failed",
                    &format!("Error: {message}"),
                );
                Some(Outcome::StartFailed {
                    instance: id,
                    message,
                })
            }
        }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    async fn stop(&self, id: &str, grace: i64) {
        let options = StopContainerOptionsBuilder::new()
            .t(grace.clamp(0, i64::from(i32::MAX)) as i32)
            .build();
        if let Err(e) = self.docker.stop_container(id, Some(options)).await {
            tracing::debug!(container = %id, error = %e, "stop failed");
        }
    }

    async fn remove(&self, id: &str) {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        if let Err(e) = self.docker.remove_container(id, Some(options)).await {
            tracing::debug!(container = %id, error = %e, "remove failed");
        }
    }

    /// Remove every container and volume of the pod `uid`.
    pub async fn remove_pod(&self, uid: &str, records: &[ContainerRecord]) {
        // Containers first: the sandbox holds their network.
        for role in [Role::Container, Role::Sandbox] {
            let removals = records
                .iter()
                .filter(|r| r.role == role)
                .map(|r| self.remove(&r.id));
            futures_util::future::join_all(removals).await;
        }
        let filter = format!("{}={uid}", naming::POD_UID);
        let options = ListVolumesOptionsBuilder::new()
            .filters(&HashMap::from([("label", vec![filter.as_str()])]))
            .build();
        if let Ok(volumes) = self.docker.list_volumes(Some(options)).await {
            for volume in volumes.volumes.unwrap_or_default() {
                let _ = self
                    .docker
                    .remove_volume(
                        &volume.name,
                        None::<bollard::query_parameters::RemoveVolumeOptions>,
                    )
                    .await;
            }
        }
        // The pod's API-data volume files (ConfigMaps, Secrets, its token) go with it.
        if !uid.is_empty() && !uid.contains('/') && uid != ".." {
            let dir = self.root_dir.join("pods").join(uid);
            if let Err(e) = std::fs::remove_dir_all(&dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::debug!(dir = %dir.display(), error = %e, "removing a pod's files failed");
            }
        }
    }

    /// Graceful deletion: stop every running container (SIGTERM, SIGKILL after the grace
    /// period), remove the pod's containers, then confirm the deletion.
    pub async fn terminate(
        &self,
        pod_json: &Value,
        records: &[ContainerRecord],
        grace: i64,
        asked: i64,
        recorder: &Recorder,
    ) {
        let running: Vec<&ContainerRecord> = records
            .iter()
            .filter(|r| r.role == Role::Container && r.state == RunState::Running)
            .collect();
        for record in &running {
            recorder.note(
                pod_json,
                Severity::Normal,
                "Killing",
                &format!("Stopping container {}", record.container),
            );
        }
        futures_util::future::join_all(running.iter().map(|r| self.stop(&r.id, grace))).await;
        self.remove_pod(meta::uid(pod_json), records).await;
        let command = Command::Delete {
            kind: ResourceKind::Pod,
            namespace: meta::namespace(pod_json).to_string(),
            name: meta::name(pod_json).to_string(),
            options: DeleteOptions {
                grace_period_seconds: Some(0),
                precondition_uid: Some(meta::uid(pod_json).to_string()),
                ..Default::default()
            },
        };
        let request = RequestMeta::worker(&recorder.actor).because(causes::only(
            asked,
            format!(
                "pod {} is being deleted: {} containers stopped, deletion confirmed",
                meta::name(pod_json),
                running.len()
            ),
        ));
        if let Err(e) = recorder.submit.submit_command(command, request).await {
            tracing::debug!(error = %e, "confirming a pod deletion was refused");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_into_name_and_tag() {
        assert_eq!(
            split_image("ghcr.io/subicura/echo:v1"),
            ("ghcr.io/subicura/echo", "v1")
        );
        assert_eq!(split_image("busybox"), ("busybox", "latest"));
        assert_eq!(
            split_image("localhost:5000/app"),
            ("localhost:5000/app", "latest")
        );
        assert_eq!(split_image("app@sha256:abc"), ("app@sha256:abc", ""));
    }
}
