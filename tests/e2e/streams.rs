//! Pod logs, exec, attach and cp against real Docker containers, driven by the real kubectl
//! (and a WebSocket client for the channel framing). Each test runs its own server (controllers
//! off) and creates the pod object through the API and its containers itself, labelled as the
//! Docker kubelet labels them (`workers::kubelet::docker::naming`) plus `dev.kubetrail.test`,
//! so the server finds them exactly as it finds the kubelet's. Containers are removed when the
//! test's `Cluster` is dropped, pass or fail (found by a `dev.kubetrail.test` value of the
//! test's own).

use crate::support::app::{TestApp, spawn_app_with};
use crate::support::docker::{BUSYBOX as IMAGE, Cleanup, engine_with, unique};
use crate::support::internals::naming;
use crate::support::kubectl::kubectl_binary;
use crate::support::turn;
use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
    StartContainerOptions,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

const NODE: &str = "streams-node";
/// Marks the containers these tests create; each test's value is its own.
const TEST_LABEL: &str = "dev.kubetrail.test";

struct Cluster {
    app: TestApp,
    docker: Docker,
    /// Removes the containers this test created, also when it panics.
    containers: Cleanup,
}

/// How a test container is run.
#[derive(Default, Clone, Copy)]
struct Io {
    stdin: bool,
    tty: bool,
}

impl Cluster {
    async fn start() -> Cluster {
        Cluster::start_with(true).await
    }

    /// A server with controllers off; `tls: false` serves plain HTTP without a token (for the
    /// WebSocket client).
    async fn start_with(tls: bool) -> Cluster {
        let docker = engine_with(IMAGE).await;
        let mut app = spawn_app_with(|settings| settings.tls = tls).await;
        app.client_with(|client| client.timeout(Duration::from_secs(60)));
        Cluster {
            app,
            docker,
            containers: Cleanup::new(TEST_LABEL, &unique("streams", "test")),
        }
    }

    /// A cluster while no other test of this binary runs (the test counts this process's
    /// sockets).
    async fn start_alone() -> Cluster {
        turn::alone();
        Cluster::start_with(true).await
    }

    fn kubeconfig(&self) -> PathBuf {
        self.app.kubectl.kubeconfig.clone()
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.app.request(method, path)
    }

    /// GET `path`: status and body text.
    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Create a pod bound to the test node; returns it as stored.
    async fn create_pod(&self, pod: Value) -> Value {
        let response = self
            .request(reqwest::Method::POST, "/api/v1/namespaces/default/pods")
            .json(&pod)
            .send()
            .await
            .expect("create pod");
        assert_eq!(response.status().as_u16(), 201, "pod created");
        response.json().await.expect("pod json")
    }

    /// Report container statuses as the kubelet does, through pods/status.
    async fn set_statuses(&self, pod: &str, statuses: Vec<Value>) {
        let patch = json!({"status": {"phase": "Running", "containerStatuses": statuses}});
        let response = self
            .request(
                reqwest::Method::PATCH,
                &format!("/api/v1/namespaces/default/pods/{pod}/status"),
            )
            .header("Content-Type", "application/merge-patch+json")
            .body(patch.to_string())
            .send()
            .await
            .expect("patch status");
        let status = response.status().as_u16();
        assert_eq!(status, 200, "{}", response.text().await.unwrap_or_default());
    }

    /// Create (and start) the Docker container for run `attempt` of `container` in `pod`,
    /// named and labelled as the kubelet does.
    async fn run_container(
        &self,
        pod: &Value,
        container: &str,
        attempt: u32,
        cmd: &[&str],
        stdio: Io,
    ) -> String {
        let (name, namespace, uid) = (
            pod["metadata"]["name"].as_str().expect("name"),
            pod["metadata"]["namespace"].as_str().expect("namespace"),
            pod["metadata"]["uid"].as_str().expect("uid"),
        );
        let labels = HashMap::from([
            (naming::POD_UID.to_string(), uid.to_string()),
            (naming::POD_NAME.to_string(), name.to_string()),
            (naming::POD_NAMESPACE.to_string(), namespace.to_string()),
            (naming::CONTAINER_NAME.to_string(), container.to_string()),
            (naming::ATTEMPT.to_string(), attempt.to_string()),
            (naming::TYPE.to_string(), naming::TYPE_CONTAINER.to_string()),
            (naming::NODE.to_string(), NODE.to_string()),
            (TEST_LABEL.to_string(), self.test_value().to_string()),
        ]);
        let docker_name = naming::container_name(container, name, namespace, uid, attempt);
        let created = self
            .docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::new()
                        .name(&docker_name)
                        .build(),
                ),
                ContainerCreateBody {
                    image: Some(IMAGE.to_string()),
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    labels: Some(labels),
                    open_stdin: Some(stdio.stdin),
                    stdin_once: Some(stdio.stdin),
                    attach_stdin: Some(stdio.stdin),
                    tty: Some(stdio.tty),
                    ..Default::default()
                },
            )
            .await
            .expect("container created");
        self.docker
            .start_container(&created.id, None::<StartContainerOptions>)
            .await
            .expect("container started");
        created.id
    }

    /// Wait until Docker has logged `needle` for container `id`.
    async fn wait_for_output(&self, id: &str, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut logs = self.docker.logs(
                id,
                Some(LogsOptionsBuilder::new().stdout(true).stderr(true).build()),
            );
            let mut text = String::new();
            while let Some(Ok(chunk)) = logs.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
            if text.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never printed {needle:?}: {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until the container has exited.
    async fn wait_for_exit(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let inspected = self
                .docker
                .inspect_container(id, None::<InspectContainerOptions>)
                .await
                .expect("inspect");
            if inspected.state.and_then(|s| s.running) == Some(false) {
                return;
            }
            assert!(Instant::now() < deadline, "{id} did not exit");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Run kubectl with this cluster's kubeconfig, `stdin` piped in; at most 60 s.
    async fn kubectl(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        tokio::time::timeout(
            Duration::from_secs(60),
            self.app.kubectl.run_with_input(args, stdin),
        )
        .await
        .unwrap_or_else(|_| panic!("kubectl {} did not finish in 60 s", args.join(" ")))
    }

    /// Run kubectl, require success, return stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args, None).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed ({:?}): {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Run kubectl, require failure, return its exit code and stderr.
    async fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.kubectl(args, None).await;
        assert!(
            !out.status.success(),
            "kubectl {args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    async fn stop(self) {
        self.app.handle.stop(true).await;
    }

    /// The `dev.kubetrail.test` value of this test's containers.
    fn test_value(&self) -> &str {
        self.containers
            .label
            .split_once('=')
            .map_or("", |(_, value)| value)
    }
}

/// A pod bound to the test node with these containers (and init containers).
fn pod(name: &str, containers: &[&str], init: &[&str]) -> Value {
    let spec = |names: &[&str]| -> Vec<Value> {
        names
            .iter()
            .map(|n| json!({"name": n, "image": IMAGE}))
            .collect()
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"nodeName": NODE, "containers": spec(containers), "initContainers": spec(init)},
    })
}

fn running(name: &str, id: &str, restarts: u32, last: Option<&str>) -> Value {
    let last_state = match last {
        Some(last) => json!({"terminated": {"exitCode": 0, "reason": "Completed",
                                            "containerID": format!("docker://{last}")}}),
        None => json!({}),
    };
    json!({"name": name, "image": IMAGE, "imageID": "", "ready": true, "started": true,
           "restartCount": restarts, "containerID": format!("docker://{id}"),
           "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}, "lastState": last_state})
}

fn waiting(name: &str, reason: &str) -> Value {
    json!({"name": name, "image": IMAGE, "imageID": "", "ready": false, "started": false,
           "restartCount": 0, "state": {"waiting": {"reason": reason}}, "lastState": {}})
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test]
async fn logs_with_tail_timestamps_since_and_limit() {
    let c = Cluster::start().await;
    let p = c.create_pod(pod("one", &["app"], &[])).await;
    let id = c
        .run_container(
            &p,
            "app",
            0,
            &[
                "sh",
                "-c",
                "for i in 1 2 3 4 5; do echo line $i; done; sleep 0.2; echo oops >&2; exec sleep 3600",
            ],
            Io::default(),
        )
        .await;
    c.set_statuses("one", vec![running("app", &id, 0, None)])
        .await;
    c.wait_for_output(&id, "oops").await;

    assert_eq!(
        c.ok(&["logs", "one"]).await,
        "line 1\nline 2\nline 3\nline 4\nline 5\noops\n"
    );
    assert_eq!(c.ok(&["logs", "one", "--tail=2"]).await, "line 5\noops\n");
    assert_eq!(c.ok(&["logs", "one", "--tail=0"]).await, "");
    let stamped = c.ok(&["logs", "one", "--timestamps", "--tail=1"]).await;
    let (stamp, text) = stamped.split_once(' ').expect("a timestamp");
    assert_eq!(text, "oops\n");
    let stamp: jiff::Timestamp = stamp.parse().expect("RFC 3339 timestamp");
    assert!(stamped.starts_with(&stamp.to_string()[..4]));
    assert_eq!(
        stamped.split_once(' ').unwrap().0.len(),
        "2025-01-01T00:00:00.000000000Z".len(),
        "nanosecond timestamps: {stamped}"
    );
    assert_eq!(
        c.ok(&["logs", "one", "--limit-bytes=10"]).await,
        "line 1\nlin"
    );
    assert_eq!(
        c.ok(&["logs", "one", "--since=1h"]).await.lines().count(),
        6
    );
    // Everything was logged before this whole second (sinceTime travels in whole seconds).
    let after = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 1).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(c.ok(&["logs", "one", "--since=1s"]).await, "");
    assert_eq!(
        c.ok(&["logs", "one", &format!("--since-time={after}")])
            .await,
        ""
    );
    assert_eq!(
        c.ok(&["logs", "one", "--since-time=2020-01-01T00:00:00Z"])
            .await
            .lines()
            .count(),
        6
    );
    // `logs -l`: one request per matching pod, last 10 lines each.
    assert_eq!(
        c.ok(&["logs", "-l", "app=one"]).await,
        "line 1\nline 2\nline 3\nline 4\nline 5\noops\n"
    );
    let (code, stderr) = c.fails(&["logs", "nosuch"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("pods \"nosuch\" not found"), "{stderr}");
    // Bad options are refused with a Status.
    let (code, body) = c
        .get("/api/v1/namespaces/default/pods/one/log?tailLines=abc")
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("\"reason\":\"BadRequest\""), "{body}");
    let (code, body) = c
        .get("/api/v1/namespaces/default/pods/one/log?limitBytes=0")
        .await;
    assert_eq!(code, 422, "{body}");
    c.stop().await;
}

#[tokio::test]
async fn logs_choose_the_container_as_kubernetes_does() {
    let c = Cluster::start().await;
    let p = c
        .create_pod(pod("multi", &["main", "side", "late"], &["setup"]))
        .await;
    let main = c
        .run_container(
            &p,
            "main",
            0,
            &["sh", "-c", "echo from main; exec sleep 3600"],
            Io::default(),
        )
        .await;
    let side = c
        .run_container(
            &p,
            "side",
            0,
            &["sh", "-c", "echo from side; exec sleep 3600"],
            Io::default(),
        )
        .await;
    c.set_statuses(
        "multi",
        vec![
            running("main", &main, 0, None),
            running("side", &side, 0, None),
            waiting("late", "ContainerCreating"),
        ],
    )
    .await;
    c.wait_for_output(&main, "from main").await;
    c.wait_for_output(&side, "from side").await;

    assert_eq!(c.ok(&["logs", "multi", "-c", "side"]).await, "from side\n");
    // kubectl picks the first container itself and says so.
    let out = c.kubectl(&["logs", "multi"], None).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from main\n");
    assert!(
        stderr_of(&out)
            .contains("Defaulted container \"main\" out of: main, side, late, setup (init)"),
        "{}",
        stderr_of(&out)
    );
    // The server's own choice, when no container is named.
    let (code, body) = c.get("/api/v1/namespaces/default/pods/multi/log").await;
    assert_eq!(code, 400);
    let status: Value = serde_json::from_str(&body).expect("a Status");
    assert_eq!(
        status["message"],
        "a container name must be specified for pod multi, choose one of: [main side late] or one of the init containers: [setup]"
    );
    assert_eq!(status["reason"], "BadRequest");
    let (code, body) = c
        .get("/api/v1/namespaces/default/pods/multi/log?container=nosuch")
        .await;
    assert_eq!(code, 400);
    assert!(
        body.contains("container nosuch is not valid for pod multi"),
        "{body}"
    );
    let (code, stderr) = c.fails(&["logs", "multi", "-c", "late"]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "Error from server (BadRequest): container \"late\" in pod \"multi\" is waiting to start: ContainerCreating"
        ),
        "{stderr}"
    );
    c.stop().await;
}

#[tokio::test]
async fn logs_follow_until_the_container_stops() {
    let c = Cluster::start().await;
    let p = c.create_pod(pod("follow", &["app"], &[])).await;
    let id = c
        .run_container(
            &p,
            "app",
            0,
            &["sh", "-c", "echo start; sleep 3; echo end"],
            Io::default(),
        )
        .await;
    c.set_statuses("follow", vec![running("app", &id, 0, None)])
        .await;
    c.wait_for_output(&id, "start").await;
    let started = Instant::now();
    assert_eq!(c.ok(&["logs", "-f", "follow"]).await, "start\nend\n");
    assert!(
        started.elapsed() > Duration::from_millis(1500),
        "followed until the container stopped ({:?})",
        started.elapsed()
    );
    c.wait_for_exit(&id).await;
    // A stopped container's logs end at once, followed or not.
    assert_eq!(c.ok(&["logs", "-f", "follow"]).await, "start\nend\n");
    c.stop().await;
}

#[tokio::test]
async fn logs_previous_reads_the_last_terminated_run() {
    let c = Cluster::start().await;
    let p = c.create_pod(pod("again", &["app"], &[])).await;
    let first = c
        .run_container(&p, "app", 0, &["sh", "-c", "echo run 0"], Io::default())
        .await;
    c.wait_for_exit(&first).await;
    let second = c
        .run_container(
            &p,
            "app",
            1,
            &["sh", "-c", "echo run 1; exec sleep 3600"],
            Io::default(),
        )
        .await;
    c.wait_for_output(&second, "run 1").await;
    c.set_statuses("again", vec![running("app", &second, 1, Some(&first))])
        .await;
    assert_eq!(c.ok(&["logs", "again"]).await, "run 1\n");
    assert_eq!(c.ok(&["logs", "again", "--previous"]).await, "run 0\n");
    assert_eq!(c.ok(&["logs", "again", "-p", "--tail=1"]).await, "run 0\n");

    let p = c.create_pod(pod("once", &["app"], &[])).await;
    let only = c
        .run_container(
            &p,
            "app",
            0,
            &["sh", "-c", "exec sleep 3600"],
            Io::default(),
        )
        .await;
    c.set_statuses("once", vec![running("app", &only, 0, None)])
        .await;
    let (code, stderr) = c.fails(&["logs", "once", "--previous"]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "Error from server (BadRequest): previous terminated container \"app\" in pod \"once\" not found"
        ),
        "{stderr}"
    );
    c.stop().await;
}

/// A pod `name` with a running `app` container (and `side` when `two`), reported running.
async fn running_pod(c: &Cluster, name: &str, two: bool) -> Value {
    let names: &[&str] = if two { &["app", "side"] } else { &["app"] };
    let p = c.create_pod(pod(name, names, &[])).await;
    let mut statuses = Vec::new();
    for container in names {
        let id = c
            .run_container(
                &p,
                container,
                0,
                &[
                    "sh",
                    "-c",
                    &format!("echo {container} > /tmp/who; exec sleep 3600"),
                ],
                Io::default(),
            )
            .await;
        statuses.push(running(container, &id, 0, None));
    }
    c.set_statuses(name, statuses).await;
    p
}

#[tokio::test]
async fn exec_runs_commands_and_returns_their_exit_code() {
    let c = Cluster::start().await;
    running_pod(&c, "shell", true).await;

    assert_eq!(
        c.ok(&["exec", "shell", "-c", "app", "--", "echo", "hi", "there"])
            .await,
        "hi there\n"
    );
    assert_eq!(
        c.ok(&["exec", "shell", "-c", "side", "--", "cat", "/tmp/who"])
            .await,
        "side\n"
    );
    let out = c
        .kubectl(
            &[
                "exec",
                "shell",
                "-c",
                "app",
                "--",
                "sh",
                "-c",
                "echo out; echo err >&2; exit 3",
            ],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert!(
        stderr_of(&out).contains("err\n")
            && stderr_of(&out).contains("command terminated with exit code 3"),
        "{}",
        stderr_of(&out)
    );
    // A command that cannot start is an error, not an exit code.
    let out = c
        .kubectl(&["exec", "shell", "-c", "app", "--", "nosuch"], None)
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("executable file not found in $PATH"),
        "{}",
        stderr_of(&out)
    );
    assert!(out.stdout.is_empty());
    // Piped stdin reaches the process and its end closes the process's stdin.
    let out = c
        .kubectl(
            &[
                "exec",
                "-i",
                "shell",
                "-c",
                "app",
                "--",
                "sh",
                "-c",
                "cat; echo done",
            ],
            Some(b"hello\nworld\n"),
        )
        .await;
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\nworld\ndone\n");
    // An unknown container is refused (kubectl retries over SPDY and prints that answer).
    let (code, stderr) = c
        .fails(&["exec", "shell", "-c", "nosuch", "--", "true"])
        .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("nosuch"), "{stderr}");
    c.stop().await;
}

#[tokio::test]
async fn kubectl_cp_copies_both_ways_byte_for_byte() {
    let c = Cluster::start().await;
    running_pod(&c, "files", false).await;
    let work = tempfile::tempdir().expect("work dir");
    let original = work.path().join("big.bin");
    // ~2 MB that no compression or line handling leaves alone.
    let mut data = Vec::with_capacity(2 * 1024 * 1024 + 123);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while data.len() < 2 * 1024 * 1024 + 123 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(&original, &data).expect("write");
    let original_arg = original.display().to_string();
    c.ok(&["cp", &original_arg, "files:/tmp/big.bin"]).await;
    let size = c
        .ok(&["exec", "files", "--", "wc", "-c", "/tmp/big.bin"])
        .await;
    assert_eq!(
        size.split_whitespace().next(),
        Some(data.len().to_string().as_str())
    );
    let back = work.path().join("back.bin");
    let back_arg = back.display().to_string();
    c.ok(&["cp", "files:/tmp/big.bin", &back_arg]).await;
    let copied = std::fs::read(&back).expect("copied back");
    assert_eq!(copied.len(), data.len());
    assert!(copied == data, "the round trip changed bytes");
    c.stop().await;
}

#[tokio::test]
async fn attach_streams_the_main_process() {
    let c = Cluster::start().await;
    // Output only: kubectl attach ends when the container stops.
    let mut spec = pod("talker", &["app"], &[]);
    spec["spec"]["containers"][0]["stdin"] = json!(true);
    spec["spec"]["containers"][0]["stdinOnce"] = json!(true);
    let p = c.create_pod(spec).await;
    let id = c
        .run_container(
            &p,
            "app",
            0,
            &["sh", "-c", "read line; echo got:$line; echo bye >&2"],
            Io {
                stdin: true,
                tty: false,
            },
        )
        .await;
    c.set_statuses("talker", vec![running("app", &id, 0, None)])
        .await;
    let out = c
        .kubectl(&["attach", "-i", "talker"], Some(b"hello\n"))
        .await;
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got:hello\n");
    assert!(stderr_of(&out).contains("bye"), "{}", stderr_of(&out));
    c.wait_for_exit(&id).await;

    let p = c.create_pod(pod("ticker", &["app"], &[])).await;
    let id = c
        .run_container(
            &p,
            "app",
            0,
            &["sh", "-c", "sleep 2; echo tick; sleep 1; echo tock"],
            Io::default(),
        )
        .await;
    c.set_statuses("ticker", vec![running("app", &id, 0, None)])
        .await;
    let out = c.kubectl(&["attach", "ticker"], None).await;
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tick\ntock\n");
    c.stop().await;
}

/// A tmux server of this test's own, removed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        Tmux {
            socket: format!("kubetrail-streams-{name}-{}", std::process::id()),
        }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    async fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.run(&["capture-pane", "-p", "-t", "t"]);
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the terminal never showed {needle:?}:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Tmux {
    /// Ask the shell for its terminal size until it reports `size`: kubectl sends the size
    /// beside the first keystrokes, so the first answer may predate it.
    async fn wait_for_size(&self, size: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.run(&["send-keys", "-t", "t", "clear; stty size", "Enter"]);
            tokio::time::sleep(Duration::from_millis(300)).await;
            let screen = self.run(&["capture-pane", "-p", "-t", "t"]);
            if screen.lines().any(|line| line.trim() == size) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the shell never reported the size {size:?}:\n{screen}"
            );
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let socket = self.run(&["display-message", "-p", "#{socket_path}"]);
        self.run(&["kill-server"]);
        let socket = socket.trim();
        if !socket.is_empty() {
            let _ = std::fs::remove_file(socket);
        }
    }
}

#[tokio::test]
async fn exec_it_drives_a_shell_through_a_terminal() {
    let c = Cluster::start().await;
    running_pod(&c, "tty", false).await;
    let tmux = Tmux::new("exec-it");
    let command = format!(
        "env KUBECONFIG={} KUBECACHEDIR={} {} exec -it tty -- sh; echo kubectl-exit=$?; sleep 60",
        c.kubeconfig().display(),
        c.app.kubectl.cache.path().display(),
        kubectl_binary()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "100",
        "-y",
        "30",
        &command,
    ]);
    tmux.wait_for("/ #").await;
    // The terminal's size reached the shell (channel 4 → resize) and the shell has a tty.
    tmux.run(&["send-keys", "-t", "t", "tty; echo $((6*7))", "Enter"]);
    let screen = tmux.wait_for("42").await;
    assert!(screen.contains("/dev/pts/"), "{screen}");
    tmux.wait_for_size("30 100").await;
    // A resize of the terminal reaches the shell (kubectl sends it on SIGWINCH).
    tmux.run(&["resize-window", "-t", "t", "-x", "90", "-y", "20"]);
    tmux.wait_for_size("20 90").await;
    tmux.run(&["send-keys", "-t", "t", "exit 4", "Enter"]);
    let screen = tmux.wait_for("kubectl-exit=").await;
    assert!(screen.contains("kubectl-exit=4"), "{screen}");
    c.stop().await;
}

#[tokio::test]
async fn attach_it_drives_the_containers_terminal() {
    let c = Cluster::start().await;
    let mut spec = pod("console", &["app"], &[]);
    for (field, value) in [("stdin", true), ("stdinOnce", true), ("tty", true)] {
        spec["spec"]["containers"][0][field] = json!(value);
    }
    let p = c.create_pod(spec).await;
    let id = c
        .run_container(
            &p,
            "app",
            0,
            &["sh"],
            Io {
                stdin: true,
                tty: true,
            },
        )
        .await;
    c.set_statuses("console", vec![running("app", &id, 0, None)])
        .await;
    let tmux = Tmux::new("attach-it");
    let command = format!(
        "env KUBECONFIG={} KUBECACHEDIR={} {} attach -it console; echo kubectl-exit=$?; sleep 60",
        c.kubeconfig().display(),
        c.app.kubectl.cache.path().display(),
        kubectl_binary()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);
    tmux.wait_for("If you don't see a command prompt, try pressing enter.")
        .await;
    tmux.run(&["send-keys", "-t", "t", "echo $((7*6))x", "Enter"]);
    tmux.wait_for("42x").await;
    // The container's own tty takes the terminal's size (channel 4 → container resize).
    tmux.wait_for_size("40 120").await;
    tmux.run(&["send-keys", "-t", "t", "exit", "Enter"]);
    let screen = tmux.wait_for("kubectl-exit=").await;
    assert!(screen.contains("kubectl-exit=0"), "{screen}");
    c.wait_for_exit(&id).await;
    c.stop().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(c: &Cluster, path_and_query: &str, protocol: &str) -> Ws {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}{path_and_query}", c.app.url.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        protocol.parse().expect("header value"),
    );
    let (ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgraded");
    assert_eq!(
        response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok()),
        Some(protocol)
    );
    ws
}

/// Every channel message until the server closes, and the close code.
async fn read_all(ws: &mut Ws) -> (Vec<(u8, Vec<u8>)>, Option<u16>) {
    use tokio_tungstenite::tungstenite::Message;
    let mut frames = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("the server answers");
        match next {
            Some(Ok(Message::Binary(bytes))) => {
                frames.push((bytes[0], bytes[1..].to_vec()));
            }
            Some(Ok(Message::Close(frame))) => {
                return (frames, frame.map(|f| u16::from(f.code)));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("websocket error: {e}"),
            None => return (frames, None),
        }
    }
}

fn channel(frames: &[(u8, Vec<u8>)], wanted: u8) -> String {
    frames
        .iter()
        .filter(|(c, _)| *c == wanted)
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).to_string())
        .collect()
}

#[tokio::test]
async fn websocket_channels_v5_and_v4() {
    use tokio_tungstenite::tungstenite::Message;
    let c = Cluster::start_with(false).await;
    running_pod(&c, "ws", false).await;
    let base = "/api/v1/namespaces/default/pods/ws/exec";

    // v5: stdin, then the close signal for stdin; cat ends and exits 0.
    let mut ws = connect(
        &c,
        &format!("{base}?command=cat&stdin=true&stdout=true&stderr=true"),
        "v5.channel.k8s.io",
    )
    .await;
    ws.send(Message::Binary(b"\x00hello ".to_vec().into()))
        .await
        .expect("send");
    ws.send(Message::Binary(b"\x00world".to_vec().into()))
        .await
        .expect("send");
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .expect("ping");
    ws.send(Message::Binary(vec![255, 0].into()))
        .await
        .expect("close stdin");
    let (frames, close) = read_all(&mut ws).await;
    assert_eq!(channel(&frames, 1), "hello world");
    let status: Value = serde_json::from_str(&channel(&frames, 3)).expect("status json");
    assert_eq!(status, json!({"metadata": {}, "status": "Success"}));
    assert_eq!(close, Some(1000));
    assert_eq!(frames.last().map(|f| f.0), Some(3), "the status comes last");

    // v4: stdout, stderr and a non-zero exit code.
    let mut ws = connect(
        &c,
        &format!(
            "{base}?command=sh&command=-c&command=echo%20hi%3B%20echo%20oops%20%3E%262%3B%20exit%202&stdout=true&stderr=true"
        ),
        "v4.channel.k8s.io",
    )
    .await;
    let (frames, close) = read_all(&mut ws).await;
    assert_eq!(channel(&frames, 1), "hi\n");
    assert_eq!(channel(&frames, 2), "oops\n");
    let status: Value = serde_json::from_str(&channel(&frames, 3)).expect("status json");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "ExitCode", "message": "2"}])
    );
    assert_eq!(close, Some(1000));

    // tty: one output stream, nothing on channel 2.
    let mut ws = connect(
        &c,
        &format!(
            "{base}?command=sh&command=-c&command=echo%20to-err%20%3E%262&stdout=true&stderr=true&tty=true"
        ),
        "v5.channel.k8s.io",
    )
    .await;
    let (frames, _) = read_all(&mut ws).await;
    assert_eq!(channel(&frames, 1), "to-err\r\n");
    assert!(frames.iter().all(|(c, _)| *c != 2));

    // Without an upgrade (kubectl's SPDY fallback): a Status, nothing run.
    let response = c
        .request(
            reqwest::Method::POST,
            &format!("{base}?command=ls&stdout=true"),
        )
        .header("Connection", "Upgrade")
        .header("Upgrade", "SPDY/3.1")
        .header("X-Stream-Protocol-Version", "v4.channel.k8s.io")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
    let status: Value = response.json().await.expect("status");
    assert_eq!(status["message"], "Upgrade request required");
    assert_eq!(status["reason"], "BadRequest");
    c.stop().await;
}

/// Unix sockets this test process holds open (the server's connections to Docker among them).
fn unix_sockets() -> usize {
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let inodes: std::collections::HashSet<&str> = table
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(6))
        .collect();
    std::fs::read_dir("/proc/self/fd")
        .map(|fds| {
            fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                .filter_map(|link| {
                    let link = link.to_string_lossy().to_string();
                    let inode = link
                        .strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .to_string();
                    inodes.contains(inode.as_str()).then_some(())
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_followed_log_ends_when_its_client_leaves() {
    let c = Cluster::start_alone().await;
    let p = c.create_pod(pod("quiet", &["app"], &[])).await;
    let id = c
        .run_container(
            &p,
            "app",
            0,
            &["sh", "-c", "echo one; exec sleep 3600"],
            Io::default(),
        )
        .await;
    c.set_statuses("quiet", vec![running("app", &id, 0, None)])
        .await;
    c.wait_for_output(&id, "one").await;
    let before = unix_sockets();
    let mut follower = std::process::Command::new(kubectl_binary())
        .args(["logs", "-f", "quiet"])
        .env("KUBECONFIG", c.kubeconfig())
        .env("KUBECACHEDIR", c.app.kubectl.cache.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    let mut first = [0u8; 4];
    std::io::Read::read_exact(follower.stdout.as_mut().expect("stdout"), &mut first)
        .expect("the log so far");
    assert_eq!(&first, b"one\n");
    // The server follows the container's log over one more connection to Docker.
    let following = unix_sockets();
    assert!(following > before, "{following} > {before}");
    follower.kill().expect("kubectl killed");
    follower.wait().expect("kubectl reaped");
    // The container stays quiet; only the client's leaving can end the follow.
    let deadline = Instant::now() + Duration::from_secs(10);
    while unix_sockets() >= following {
        assert!(
            Instant::now() < deadline,
            "the follow outlived its client ({} unix sockets, {following} while following)",
            unix_sockets()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.stop().await;
}
