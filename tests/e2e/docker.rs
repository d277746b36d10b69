//! The Docker kubelet against the real Docker engine, driven with the real `kubectl`: each test
//! starts the `kubetrail` binary (HTTPS, generated kubeconfig) with a Docker-backed node of its
//! own name, so tests running side by side never touch each other's containers. Images are the
//! local ones `scripts/images` builds (no registry is reachable). Every container a test's node
//! made is removed when the test ends.

use crate::support::binary::{Serve, Server, kubetrail};
use crate::support::docker::{BUSYBOX, Cleanup, ECHO, docker, unique};
use crate::support::http::why_links;
use crate::support::kubectl::{Kubectl, kubectl_binary};
use crate::support::wait;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The label the kubelet puts on everything it makes for its node.
const NODE_LABEL: &str = "dev.kubetrail.node";

/// Fields drop in this order: the server first, then what its node made, then the directories.
struct Cluster {
    server: Option<Server>,
    /// The service range when this cluster runs the service network.
    range: Option<String>,
    /// More arguments of `serve`.
    extra: Vec<String>,
    /// Every container and volume this test's node made.
    made: Cleanup,
    kubectl: Kubectl,
    node: String,
    dir: TempDir,
}

/// Start `kubetrail serve` on `dir` with the Docker node `node` (and the service network on
/// `range`), plus `extra` arguments.
fn serve(dir: &Path, node: &str, range: Option<&str>, extra: &[String]) -> Server {
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let serve = Serve::new(dir)
        .args(&["--node-name", node])
        .args(&extra)
        .env_remove("KUBETRAIL_SIMULATED_NODES");
    match range {
        Some(range) => serve.service_network(range).start(),
        None => serve.start(),
    }
}

impl Cluster {
    fn start(test: &str) -> Cluster {
        Cluster::start_with(test, None, &[])
    }

    /// A cluster whose server runs the service network on `range`.
    fn start_routed(test: &str, range: &str) -> Cluster {
        Cluster::start_with(test, Some(range), &[])
    }

    fn start_with(test: &str, range: Option<&str>, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("data dir");
        let node = unique("dk", test);
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        let server = serve(dir.path(), &node, range, &extra);
        let cluster = Cluster {
            range: range.map(str::to_string),
            extra,
            kubectl: Kubectl::new(&server.kubeconfig),
            made: Cleanup::new(NODE_LABEL, &node),
            server: Some(server),
            node,
            dir,
        };
        cluster.wait_for("the Docker node to be Ready", 60, || {
            let out = cluster.kubectl(&["get", "node", &cluster.node, "--no-headers"]);
            String::from_utf8_lossy(&out.stdout)
                .contains(" Ready ")
                .then_some(())
        });
        cluster
    }

    /// `kill -9` the server, then start it again on the same data directory.
    fn kill_and_restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill_9();
        }
        let server = serve(
            self.dir.path(),
            &self.node,
            self.range.as_deref(),
            &self.extra,
        );
        self.kubectl.kubeconfig = server.kubeconfig.clone();
        self.server = Some(server);
    }

    fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        self.kubectl
            .output_with_input(args, input.map(str::as_bytes))
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl.output(args)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.kubectl.ok_blocking(args)
    }

    fn apply(&self, manifest: &str) {
        let out = self.kubectl_with_input(&["apply", "-f", "-"], Some(manifest));
        assert!(
            out.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let template = format!("jsonpath={path}");
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", &template]);
        String::from_utf8_lossy(&self.kubectl(&args).stdout).to_string()
    }

    /// Poll `check` every 200 ms until it returns `Some`, for at most `seconds`.
    fn wait_for<T>(&self, what: &str, seconds: u64, check: impl FnMut() -> Option<T>) -> T {
        wait::blocking(what, Duration::from_secs(seconds), check)
    }

    /// `kubectl get pod NAME --no-headers` columns: name, ready, status, restarts, age.
    fn pod_row(&self, name: &str) -> Vec<String> {
        let out = self.kubectl(&["get", "pod", name, "--no-headers"]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    fn wait_for_status(&self, pod: &str, ready: &str, status: &str, seconds: u64) -> Vec<String> {
        self.wait_for(
            &format!("pod {pod} to be {ready} {status}"),
            seconds,
            || {
                let row = self.pod_row(pod);
                (row.len() >= 3 && row[1] == ready && row[2] == status).then_some(row)
            },
        )
    }

    /// Ids of this node's containers that Docker runs (with `all`, stopped ones too), filtered
    /// by more labels.
    fn containers(&self, all: bool, labels: &[&str]) -> Vec<String> {
        self.made.containers(all, labels)
    }
}

#[test]
fn the_pod_chapter_runs_a_real_container() {
    let c = Cluster::start("pod");
    c.ok(&["run", "echo", "--image", ECHO, "--port", "3000"]);
    let first = c.pod_row("echo");
    assert!(
        ["ContainerCreating", "Running", "Pending"].contains(&first[2].as_str()),
        "{first:?}"
    );
    c.wait_for_status("echo", "1/1", "Running", 60);
    let uid = c.jsonpath(&["pod", "echo"], "{.metadata.uid}");
    let uid_label = format!("io.kubernetes.pod.uid={uid}");
    let app = c.containers(false, &[&uid_label, "io.kubernetes.container.name=echo"]);
    assert_eq!(app.len(), 1, "one running container for the pod");
    let status_id = c.jsonpath(
        &["pod", "echo"],
        "{.status.containerStatuses[0].containerID}",
    );
    assert_eq!(status_id, format!("docker://{}", app[0]));
    // The pod's address is its sandbox's, and the container's hostname is the pod's name.
    let ip = c.jsonpath(&["pod", "echo"], "{.status.podIP}");
    let sandbox_ip = docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &c.containers(false, &[&uid_label, "io.kubernetes.docker.type=podsandbox"])[0],
    ]);
    assert_eq!(ip, sandbox_ip.trim());
    assert_eq!(docker(&["exec", &app[0], "hostname"]).trim(), "echo");

    let describe = c.ok(&["describe", "pod", "echo"]);
    assert!(
        describe.contains(&format!("Node:             {}/127.0.0.1", c.node)),
        "{describe}"
    );
    assert!(
        describe.contains(&format!("IP:               {ip}")),
        "{describe}"
    );
    for event in [
        format!("Successfully assigned default/echo to {}", c.node),
        format!("Container image \"{ECHO}\" already present on machine"),
        "Created container echo".to_string(),
        "Started container echo".to_string(),
    ] {
        assert!(
            describe.contains(&event),
            "describe lacks {event:?}:\n{describe}"
        );
    }
    let node = c.ok(&["get", "node", &c.node, "-o", "wide", "--no-headers"]);
    assert!(node.contains("docker://"), "{node}");

    // Logs, a log that follows, and exec: non-interactive with its exit code, and a shell on a
    // terminal (kubectl -it under `script`, which gives it a pseudo-terminal).
    let logs = c.ok(&["logs", "echo"]);
    assert!(logs.contains("echo server v1 listening on :3000"), "{logs}");
    let mut follow = c
        .kubectl
        .command(&["logs", "-f", "echo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl logs -f");
    let followed = follow.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(followed).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let first = lines_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a first line");
    assert!(first.contains("listening on :3000"), "{first}");
    let exec = c.kubectl(&[
        "exec",
        "echo",
        "--",
        "sh",
        "-c",
        "wget -qO- http://localhost:3000/; exit 3",
    ]);
    assert_eq!(
        exec.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&exec.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "echo v1\n");
    assert!(String::from_utf8_lossy(&exec.stderr).contains("command terminated with exit code 3"));
    let served = lines_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the request's log line");
    assert!(served.contains("response:200"), "{served}");
    let kubectl = kubectl_binary();
    let mut shell = Command::new("script")
        .args([
            "-qec",
            &format!("{kubectl} exec -it echo -- sh"),
            "/dev/null",
        ])
        .env("KUBECONFIG", &c.kubectl.kubeconfig)
        .env("KUBECACHEDIR", c.kubectl.cache.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script runs");
    {
        let mut stdin = shell.stdin.take().expect("stdin");
        std::thread::sleep(Duration::from_secs(2));
        stdin.write_all(b"tty; echo $((6*7))x\n").expect("typed");
        std::thread::sleep(Duration::from_secs(1));
        stdin.write_all(b"exit\n").expect("typed");
        std::thread::sleep(Duration::from_millis(500));
    }
    let session = shell.wait_with_output().expect("the shell ended");
    let screen = String::from_utf8_lossy(&session.stdout);
    assert!(screen.contains("42x"), "{screen}");
    assert!(
        screen.contains("/dev/pts/"),
        "the shell runs on a terminal: {screen}"
    );

    // Deletion is graceful and waits until Docker has nothing left of the pod.
    let started = Instant::now();
    c.ok(&["delete", "pod", "echo", "--grace-period", "2"]);
    // `logs -f` ends when the container stops.
    let ended = follow.wait().expect("logs -f ended");
    assert!(ended.success());
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the grace period was honoured"
    );
    assert!(
        c.containers(true, &[&uid_label]).is_empty(),
        "every container of the pod is gone"
    );
}

/// A server on plain HTTP has no CA to publish as `kube-root-ca.crt`: its pods still start,
/// with the ServiceAccount volume's `ca.crt` empty beside their token.
#[test]
fn a_server_on_plain_http_runs_pods_with_an_empty_ca_file() {
    let c = Cluster::start_with("plain", None, &["--insecure-http"]);
    c.ok(&["run", "echo", "--image", ECHO, "--port", "3000"]);
    c.wait_for_status("echo", "1/1", "Running", 60);
    let dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    let ca = c.ok(&["exec", "echo", "--", "wc", "-c", &format!("{dir}/ca.crt")]);
    assert!(ca.trim().starts_with('0'), "{ca}");
    let token = c.ok(&["exec", "echo", "--", "cat", &format!("{dir}/token")]);
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");
    let namespace = c.ok(&["exec", "echo", "--", "cat", &format!("{dir}/namespace")]);
    assert_eq!(namespace.trim(), "default");
}

#[test]
fn probes_restart_or_unready_as_kubernetes_does() {
    let c = Cluster::start("probes");
    c.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: liveness}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: {ECHO}
      livenessProbe:
        httpGet: {{path: /, port: 8080}}
        periodSeconds: 1
        failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {{name: readiness}}
spec:
  containers:
    - name: app
      image: {ECHO}
      readinessProbe:
        httpGet: {{path: /not/exist, port: 3000}}
        periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {{name: healthy}}
spec:
  containers:
    - name: app
      image: {ECHO}
      ports: [{{name: http, containerPort: 3000}}]
      startupProbe:
        tcpSocket: {{port: http}}
        periodSeconds: 1
      livenessProbe:
        exec: {{command: [cat, /www/index.html]}}
        periodSeconds: 1
      readinessProbe:
        httpGet: {{path: /, port: http, httpHeaders: [{{name: X-Probe, value: "1"}}]}}
        periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {{name: tcp-unready}}
spec:
  containers:
    - name: app
      image: {ECHO}
      readinessProbe:
        tcpSocket: {{port: 9999}}
        periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {{name: exec-unready}}
spec:
  containers:
    - name: app
      image: {ECHO}
      readinessProbe:
        exec: {{command: [cat, /no/such/file]}}
        periodSeconds: 1
"#
    ));
    c.wait_for_status("healthy", "1/1", "Running", 60);
    let row = c.wait_for("liveness to crash-loop", 90, || {
        let row = c.pod_row("liveness");
        (row.len() >= 4 && row[2] == "CrashLoopBackOff").then_some(row)
    });
    assert!(row[3].parse::<u32>().is_ok_and(|r| r >= 1), "{row:?}");
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=liveness",
    ]);
    assert!(
        events.contains("Liveness probe failed: HTTP probe failed")
            || events.contains("Liveness probe failed: Get"),
        "{events}"
    );
    assert!(
        events.contains("Container app failed liveness probe, will be restarted"),
        "{events}"
    );

    for pod in ["readiness", "tcp-unready", "exec-unready"] {
        c.wait_for_status(pod, "0/1", "Running", 30);
    }
    // Unready for a while and never restarted.
    std::thread::sleep(Duration::from_secs(3));
    for pod in ["readiness", "tcp-unready", "exec-unready"] {
        let row = c.pod_row(pod);
        assert_eq!(
            (row[1].as_str(), row[2].as_str(), row[3].as_str()),
            ("0/1", "Running", "0"),
            "{pod}"
        );
    }
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=readiness",
    ]);
    assert!(
        events.contains("Readiness probe failed: HTTP probe failed with statuscode: 404"),
        "{events}"
    );
    let row = c.pod_row("healthy");
    assert_eq!((row[1].as_str(), row[3].as_str()), ("1/1", "0"));
}

#[test]
fn containers_of_a_pod_share_localhost_and_volumes_and_exits_are_reported() {
    let c = Cluster::start("shared");
    c.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: pair}}
spec:
  volumes: [{{name: shared, emptyDir: {{}}}}]
  containers:
    - name: web
      image: {ECHO}
      readinessProbe:
        exec: {{command: [cat, /data/hello]}}
        periodSeconds: 1
      volumeMounts: [{{name: shared, mountPath: /data}}]
    - name: client
      image: {BUSYBOX}
      command: [sh, -c, "echo hi > /data/hello; sleep 3600"]
      env:
        - name: POD_NAME
          valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
      readinessProbe:
        exec: {{command: [sh, -c, "wget -qO- http://localhost:3000/ | grep -q v1 && [ \"$POD_NAME\" = pair ]"]}}
        periodSeconds: 1
      volumeMounts: [{{name: shared, mountPath: /data}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: done}}
spec:
  restartPolicy: Never
  containers: [{{name: c, image: {BUSYBOX}, command: [sh, -c, "exit 0"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: failed}}
spec:
  restartPolicy: Never
  containers: [{{name: c, image: {BUSYBOX}, command: [sh, -c, "exit 3"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: retried}}
spec:
  restartPolicy: OnFailure
  containers: [{{name: c, image: {BUSYBOX}, command: [sh, -c, "exit 1"]}}]
"#
    ));
    c.wait_for_status("pair", "2/2", "Running", 60);
    c.wait_for_status("done", "0/1", "Completed", 60);
    c.wait_for_status("failed", "0/1", "Error", 60);
    assert_eq!(c.jsonpath(&["pod", "done"], "{.status.phase}"), "Succeeded");
    assert_eq!(c.jsonpath(&["pod", "failed"], "{.status.phase}"), "Failed");
    assert_eq!(
        c.jsonpath(
            &["pod", "failed"],
            "{.status.containerStatuses[0].state.terminated.exitCode}"
        ),
        "3"
    );
    // A forced deletion removes the pod at once; the kubelet then removes its containers.
    let uid = c.jsonpath(&["pod", "pair"], "{.metadata.uid}");
    let uid_label = format!("io.kubernetes.pod.uid={uid}");
    assert_eq!(c.containers(true, &[&uid_label]).len(), 3);
    c.ok(&["delete", "pod", "pair", "--grace-period=0", "--force"]);
    c.wait_for("the forced pod's containers to go", 30, || {
        c.containers(true, &[&uid_label]).is_empty().then_some(())
    });
    c.wait_for("OnFailure to restart a failing container", 60, || {
        let row = c.pod_row("retried");
        (row.len() >= 4 && row[3] != "0").then_some(())
    });
}

#[test]
fn image_pull_policies_follow_kubernetes() {
    let c = Cluster::start("images");
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  containers: [{name: c, image: "kubetrail.dev/absent:1", imagePullPolicy: Never}]
---
apiVersion: v1
kind: Pod
metadata: {name: unpullable}
spec:
  containers: [{name: c, image: "registry.invalid/nothing:1"}]
"#,
    );
    c.wait_for_status("never", "0/1", "ErrImageNeverPull", 60);
    c.wait_for_status("unpullable", "0/1", "ImagePullBackOff", 60);
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=unpullable",
    ]);
    assert!(
        events.contains("Pulling image \"registry.invalid/nothing:1\""),
        "{events}"
    );
    assert!(
        events.contains("Failed to pull image \"registry.invalid/nothing:1\""),
        "{events}"
    );
}

#[test]
fn a_replicaset_heals_with_real_containers() {
    let c = Cluster::start("rs");
    c.apply(&format!(
        r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: echo-rs}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: echo}}}}
  template:
    metadata: {{labels: {{app: echo}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{{name: echo, image: {ECHO}}}]
"#
    ));
    let echo = ["io.kubernetes.container.name=echo"];
    let running = |n: usize| {
        c.wait_for(&format!("{n} running echo containers"), 90, || {
            let ready = c.jsonpath(&["rs", "echo-rs"], "{.status.readyReplicas}");
            (c.containers(false, &echo).len() == n && ready == n.to_string()).then_some(())
        })
    };
    running(3);
    let victim = c.containers(false, &echo)[0].clone();
    docker(&["rm", "-f", &victim]);
    c.wait_for("the removed container to be replaced", 60, || {
        let now = c.containers(false, &echo);
        (now.len() == 3 && !now.contains(&victim)).then_some(())
    });
    c.ok(&["scale", "rs", "echo-rs", "--replicas", "5"]);
    running(5);
    c.ok(&["scale", "rs", "echo-rs", "--replicas", "1"]);
    c.wait_for("one echo container", 90, || {
        (c.containers(true, &echo).len() == 1).then_some(())
    });
    c.ok(&["delete", "rs", "echo-rs"]);
    c.wait_for("every container gone", 90, || {
        c.containers(true, &[]).is_empty().then_some(())
    });
}

#[test]
fn a_restarted_server_adopts_its_containers_and_docker_kills_restart_them() {
    let mut c = Cluster::start("adopt");
    c.apply(&format!(
        r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: keep}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: keep}}}}
  template:
    metadata: {{labels: {{app: keep}}}}
    spec:
      containers: [{{name: app, image: {ECHO}}}]
"#
    ));
    c.wait_for("two ready replicas", 90, || {
        (c.jsonpath(&["rs", "keep"], "{.status.readyReplicas}") == "2").then_some(())
    });
    let mut before = c.containers(false, &[]);
    before.sort();
    assert_eq!(before.len(), 4, "two sandboxes and two containers");
    c.kill_and_restart();
    c.wait_for("the server to answer again", 30, || {
        c.kubectl(&["get", "pods"]).status.success().then_some(())
    });
    // Give the new kubelet several passes: it must adopt, not duplicate or replace.
    std::thread::sleep(Duration::from_secs(4));
    let mut after = c.containers(false, &[]);
    after.sort();
    assert_eq!(before, after, "the same containers run after the restart");
    assert_eq!(
        c.containers(true, &[]).len(),
        4,
        "nothing was created beside them"
    );

    let pod = c.ok(&[
        "get",
        "pods",
        "-l",
        "app=keep",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let id = c.jsonpath(&["pod", &pod], "{.status.containerStatuses[0].containerID}");
    docker(&["kill", id.trim_start_matches("docker://")]);
    c.wait_for("the killed container to be restarted", 60, || {
        let row = c.pod_row(&pod);
        (row.len() >= 4 && row[1] == "1/1" && row[3].starts_with('1')).then_some(())
    });
    let last = c.jsonpath(
        &["pod", &pod],
        "{.status.containerStatuses[0].lastState.terminated.exitCode}",
    );
    assert_eq!(last, "137");
    let previous = c.ok(&["logs", &pod, "--previous"]);
    assert!(
        previous.contains("echo server v1 listening on :3000"),
        "{previous}"
    );
    let all = c.ok(&["logs", "-l", "app=keep"]);
    assert_eq!(all.matches("listening on :3000").count(), 2, "{all}");
}

#[test]
fn a_separate_kubelet_process_runs_a_node_and_reports_docker_down() {
    let c = Cluster::start("kubelet");
    let token = std::fs::read_to_string(c.dir.path().join("token")).expect("token");
    let kubeconfig = std::fs::read_to_string(&c.kubectl.kubeconfig).expect("kubeconfig");
    let server = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: ").map(str::to_string))
        .expect("a server line");
    let ca = c.dir.path().join("ca.crt");
    let spawn = |node: &str, docker_host: Option<&str>| {
        let mut command = kubetrail(&[
            "kubelet",
            "--server",
            &server,
            "--token",
            token.trim(),
            "--node-name",
            node,
        ]);
        command
            .arg("--certificate-authority")
            .arg(&ca)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(host) = docker_host {
            command.env("DOCKER_HOST", host);
        }
        command.spawn().expect("kubelet starts")
    };
    struct Killed(Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // A kubelet whose Docker socket is not there: NotReady with the reason, until it appears.
    let down = format!("{}-down", c.node);
    let socket_dir = tempfile::tempdir().expect("socket dir");
    let socket = socket_dir.path().join("docker.sock");
    let _down = Killed(spawn(&down, Some(&format!("unix://{}", socket.display()))));
    c.wait_for("the node without Docker to be NotReady", 60, || {
        let out = c.kubectl(&["get", "node", &down, "--no-headers"]);
        String::from_utf8_lossy(&out.stdout)
            .contains("NotReady")
            .then_some(())
    });
    let message = c.jsonpath(
        &["node", &down],
        "{.status.conditions[?(@.type==\"Ready\")].message}",
    );
    assert!(
        message.starts_with("container runtime is down"),
        "{message}"
    );
    std::os::unix::fs::symlink("/var/run/docker.sock", &socket).expect("socket link");
    c.wait_for("the node to recover once Docker answers", 60, || {
        let out = c.kubectl(&["get", "node", &down, "--no-headers"]);
        String::from_utf8_lossy(&out.stdout)
            .contains(" Ready ")
            .then_some(())
    });

    let second = format!("{}-b", c.node);
    let _kubelet = Killed(spawn(&second, None));
    c.wait_for("the second node to be Ready", 60, || {
        let out = c.kubectl(&["get", "node", &second, "--no-headers"]);
        String::from_utf8_lossy(&out.stdout)
            .contains(" Ready ")
            .then_some(())
    });
    c.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: there}}
spec:
  nodeName: {second}
  terminationGracePeriodSeconds: 1
  containers: [{{name: app, image: {ECHO}}}]
"#
    ));
    c.wait_for_status("there", "1/1", "Running", 60);
    // Its ServiceAccount token came through a TokenRequest of the separate kubelet's.
    let token = c.ok(&[
        "exec",
        "there",
        "--",
        "cat",
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
    ]);
    assert_eq!(token.split('.').count(), 3, "{token}");
    let node_label = format!("label=dev.kubetrail.node={second}");
    let ids = docker(&["ps", "-q", "--filter", &node_label]);
    assert_eq!(
        ids.lines().count(),
        2,
        "the sandbox and the container run on the second node"
    );
    c.ok(&["delete", "pod", "there"]);
    assert!(
        docker(&["ps", "-aq", "--filter", &node_label])
            .trim()
            .is_empty()
    );
}

/// The `why` of the first status write of `pod` (in `default`) that shows a restart: the
/// chain as `Kind name: Type by actor` lines, and the JSON.
fn why_of_restart(c: &Cluster, pod: &str) -> (Vec<String>, serde_json::Value) {
    let raw = c.ok(&[
        "get",
        "--raw",
        &format!(
            "/apis/kubetrail.dev/v1alpha1/logentries?kind=Pod&namespace=default&name={pod}&type=StatusUpdated"
        ),
    ]);
    let entries: serde_json::Value = serde_json::from_str(&raw).expect("log entries");
    let restart = entries["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| {
            e["object"]["status"]["containerStatuses"][0]["restartCount"]
                .as_i64()
                .is_some_and(|n| n >= 1)
        })
        .unwrap_or_else(|| panic!("no status write of {pod} shows a restart: {raw}"));
    let seq = restart["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("");
    let raw = c.ok(&[
        "get",
        "--raw",
        &format!(
            "/apis/kubetrail.dev/v1alpha1/namespaces/default/why/pods/{pod}?resourceVersion={seq}"
        ),
    ]);
    let why: serde_json::Value = serde_json::from_str(&raw).expect("why");
    let links = why_links(&why);
    (links, why)
}

#[test]
fn why_names_the_probe_failure_or_the_exit_behind_a_restart() {
    let c = Cluster::start("why");
    c.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: liveness}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: {ECHO}
      livenessProbe:
        httpGet: {{path: /, port: 8080}}
        periodSeconds: 1
        failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {{name: crash}}
spec:
  containers:
    - name: app
      image: {BUSYBOX}
      command: [sh, -c, "sleep 1; exit 3"]
"#
    ));
    for pod in ["liveness", "crash"] {
        c.wait_for(&format!("{pod} to restart"), 90, || {
            let row = c.pod_row(pod);
            (row.len() >= 4 && row[3].parse::<u32>().is_ok_and(|r| r >= 1)).then_some(())
        });
    }
    let kubelet = format!("kubelet/{}", c.node);
    let explained = |why: &serde_json::Value| {
        why["explanation"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Liveness failure -> kill -> restart: the kill the kubelet recorded is the cause, and the
    // chain goes on through the binding to the person's request.
    let (links, why) = why_of_restart(&c, "liveness");
    let text = explained(&why);
    assert_eq!(
        links.first().map(String::as_str),
        Some(format!("Pod liveness: StatusUpdated by {kubelet}").as_str()),
        "{text}"
    );
    let reason = why["chain"][0]["causes"][0]["reason"]
        .as_str()
        .unwrap_or("");
    assert!(
        reason.starts_with("Killing: Container app failed liveness probe, will be restarted")
            && reason.contains("container app restarted after it exited with code"),
        "{text}"
    );
    assert!(links[1].starts_with("Event liveness."), "{text}");
    assert!(
        links.contains(&"Pod liveness: Bound by default-scheduler".to_string()),
        "{text}"
    );
    assert_eq!(
        links.last().map(String::as_str),
        Some("Pod liveness: Created by kubetrail-admin"),
        "{text}"
    );
    assert_eq!(why["origin"]["person"], true, "{text}");

    // The container exits -> restart: the exit code, on the spec the kubelet runs.
    let (links, why) = why_of_restart(&c, "crash");
    let text = explained(&why);
    let reason = why["chain"][0]["causes"][0]["reason"]
        .as_str()
        .unwrap_or("");
    assert!(
        reason.contains("container app restarted after it exited with code 3"),
        "{text}"
    );
    assert_eq!(
        links,
        [
            format!("Pod crash: StatusUpdated by {kubelet}"),
            "Pod crash: Bound by default-scheduler".to_string(),
            "Pod crash: Created by kubetrail-admin".to_string(),
        ],
        "{text}"
    );
}

/// The images of this node's running `echo` containers, sorted (one `docker ps`, so a
/// container removed meanwhile is not looked up after it went).
fn echo_images(c: &Cluster) -> Vec<String> {
    let node = format!("label={NODE_LABEL}={}", c.node);
    let out = docker(&[
        "ps",
        "--filter",
        &node,
        "--filter",
        "label=io.kubernetes.container.name=echo",
        "--format",
        "{{.Image}}",
    ]);
    let mut images: Vec<String> = out.lines().map(str::to_string).collect();
    images.sort();
    images
}

/// Wait until exactly `count` echo containers run, all of `image`.
fn wait_for_echo_containers(c: &Cluster, count: usize, image: &str) {
    c.wait_for(
        &format!("{count} running echo containers of {image}"),
        120,
        || {
            let images = echo_images(c);
            (images.len() == count && images.iter().all(|i| i == image)).then_some(())
        },
    );
}

fn rollout_done(c: &Cluster, deployment: &str) -> Duration {
    let started = Instant::now();
    let out = c.ok(&["rollout", "status", deployment, "--timeout=180s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    started.elapsed()
}

#[test]
fn the_deployment_chapter_rolls_real_containers() {
    let c = Cluster::start("deploy");
    let manifest = |name: &str| {
        std::fs::read_to_string(crate::support::kubectl::manifest(name)).expect("manifest")
    };
    const V1: &str = "ghcr.io/subicura/echo:v1";
    const V2: &str = "ghcr.io/subicura/echo:v2";

    // A 4-replica Deployment of echo:v1: four real containers.
    c.apply(&manifest("echo-deployment.yaml"));
    rollout_done(&c, "deploy/echo-deploy");
    wait_for_echo_containers(&c, 4, V1);
    let row = c.ok(&["get", "deploy", "echo-deploy", "--no-headers"]);
    assert_eq!(
        row.split_whitespace().take(4).collect::<Vec<_>>(),
        ["echo-deploy", "4/4", "4", "4"],
        "{row}"
    );

    // set image: the containers are replaced by v2 ones.
    c.ok(&["set", "image", "deploy/echo-deploy", &format!("echo={V2}")]);
    rollout_done(&c, "deploy/echo-deploy");
    wait_for_echo_containers(&c, 4, V2);
    let history = c.ok(&["rollout", "history", "deploy/echo-deploy"]);
    let revisions: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");

    // undo: back to v1 containers.
    c.ok(&["rollout", "undo", "deploy/echo-deploy"]);
    rollout_done(&c, "deploy/echo-deploy");
    wait_for_echo_containers(&c, 4, V1);
    let deleted = c.ok(&["delete", "deploy", "echo-deploy"]);
    assert!(deleted.contains("deleted"), "{deleted}");
    wait_for_echo_containers(&c, 0, V1);

    // The strategy chapter: maxSurge/maxUnavailable 3, minReadySeconds 5, a liveness probe.
    c.apply(&manifest("echo-strategy.yaml"));
    rollout_done(&c, "deploy/echo-deploy-st");
    wait_for_echo_containers(&c, 4, V1);
    let described = c.ok(&["describe", "deploy", "echo-deploy-st"]);
    for line in [
        "MinReadySeconds:        5",
        "RollingUpdateStrategy:  3 max unavailable, 3 max surge",
        // (kubectl 1.37 then says `successThreshold=1 failureThreshold=3`, 1.32 `#success=1
        // #failure=3`.)
        "http-get http://:3000/ delay=0s timeout=1s period=10s",
    ] {
        assert!(described.contains(line), "{line:?} in\n{described}");
    }
    c.ok(&[
        "set",
        "image",
        "deploy/echo-deploy-st",
        &format!("echo={V2}"),
    ]);
    // New pods count as available only after 5 s ready, so the rollout takes at least that.
    let took = rollout_done(&c, "deploy/echo-deploy-st");
    assert!(took >= Duration::from_secs(5), "rolled out in {took:?}");
    wait_for_echo_containers(&c, 4, V2);
    let restarts = c.jsonpath(
        &["pods", "-l", "app=echo"],
        "{.items[*].status.containerStatuses[0].restartCount}",
    );
    assert!(
        restarts.split_whitespace().all(|r| r == "0"),
        "the liveness probe passes: {restarts}"
    );
    let second = c.ok(&[
        "rollout",
        "history",
        "deploy/echo-deploy-st",
        "--revision=2",
    ]);
    assert!(second.contains(V2), "{second}");
    c.ok(&[
        "rollout",
        "undo",
        "deploy/echo-deploy-st",
        "--to-revision=1",
    ]);
    rollout_done(&c, "deploy/echo-deploy-st");
    wait_for_echo_containers(&c, 4, V1);
    let history = c.ok(&["rollout", "history", "deploy/echo-deploy-st"]);
    let revisions: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");
}

/// An HTTP GET over plain TCP from this host: the body, or `None` when nothing answered.
fn http_get(to: &str) -> Option<String> {
    use std::io::Read as _;
    let mut stream = std::net::TcpStream::connect(to).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: kubetrail\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    out.split("\r\n\r\n").nth(1).map(|b| b.trim().to_string())
}

fn interfaces() -> String {
    crate::network::ip(&["-o", "link", "show"])
}

fn prohibited() -> String {
    crate::network::ip(&["route", "show", "type", "prohibit"])
}

const DEMO: &str = "apiVersion: v1
kind: Pod
metadata:
  name: demo-ready
  labels: {app: demo}
spec:
  containers:
    - name: echo
      image: ghcr.io/subicura/echo:v1
      readinessProbe:
        httpGet: {path: /, port: 3000}
        periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: demo-unready
  labels: {app: demo}
spec:
  containers:
    - name: echo
      image: ghcr.io/subicura/echo:v2
      readinessProbe:
        httpGet: {path: /missing, port: 3000}
        periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: demo
spec:
  selector: {app: demo}
  ports:
    - port: 3000
";

/// A DNS-like Service without a selector, port 53 over UDP and TCP, whose one endpoint is
/// the cluster DNS itself (the range's tenth address).
fn dns_relay(dns: &str) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata:
  name: dns-relay
spec:
  ports:
    - {{name: dns, port: 53, protocol: UDP}}
    - {{name: dns-tcp, port: 53, protocol: TCP}}
---
apiVersion: v1
kind: Endpoints
metadata:
  name: dns-relay
subsets:
  - addresses: [{{ip: {dns}}}]
    ports:
      - {{name: dns, port: 53, protocol: UDP}}
      - {{name: dns-tcp, port: 53, protocol: TCP}}
"
    )
}

/// A DNS query for `name`'s A record, without its length prefix.
fn dns_query(name: &str) -> Vec<u8> {
    let mut query = vec![0x4b, 0x54, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        query.push(u8::try_from(label.len()).expect("a short label"));
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    query
}

/// The last four bytes of a DNS answer: its one A record's address.
fn answered_address(reply: &[u8]) -> Option<String> {
    let a = reply.get(reply.len().checked_sub(4)?..)?;
    Some(format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]))
}

#[test]
fn the_service_chapter_routes_by_name_to_ready_endpoints_only() {
    let range = "10.150.0.0/16";
    let mut c = Cluster::start_routed("svc", range);
    let manifest = |name: &str| {
        std::fs::read_to_string(crate::support::kubectl::manifest(name)).expect("manifest")
    };
    assert!(prohibited().contains(range), "{}", prohibited());

    // redis behind its Service, the counter reaching it by name.
    c.apply(&manifest("counter-redis-svc.yaml"));
    c.apply(&manifest("counter-app.yaml"));
    rollout_done(&c, "deploy/redis");
    rollout_done(&c, "deploy/counter");
    let redis_ip = c.jsonpath(&["svc", "redis"], "{.spec.clusterIP}");
    assert!(redis_ip.starts_with("10.150."), "{redis_ip}");
    let first = c.wait_for("the counter to reach redis by name", 60, || {
        let out = c.kubectl(&[
            "exec",
            "deploy/counter",
            "--",
            "wget",
            "-qO-",
            "http://localhost:3000/",
        ]);
        let body = String::from_utf8_lossy(&out.stdout).trim().to_string();
        body.starts_with("Counter: ").then_some(body)
    });
    let n: u64 = first["Counter: ".len()..].parse().expect("a count");
    // (busybox's nslookup also prints the search path's other tries, NXDOMAIN, and exits 1.)
    let resolved = String::from_utf8_lossy(
        &c.kubectl(&["exec", "deploy/counter", "--", "nslookup", "redis"])
            .stdout,
    )
    .to_string();
    assert!(resolved.contains(&redis_ip), "{resolved}");
    let resolv = c.ok(&["exec", "deploy/counter", "--", "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.contains("nameserver 10.150.0.10")
            && resolv.contains("search default.svc.cluster.local svc.cluster.local cluster.local")
            && resolv.contains("ndots:5"),
        "{resolv}"
    );

    // A UDP Service: a pod's nslookup through it (busybox takes replies from the address it
    // asked only), and the same port over TCP from this host.
    c.apply(&dns_relay("10.150.0.10"));
    let relay_ip = c.jsonpath(&["svc", "dns-relay"], "{.spec.clusterIP}");
    let redis_name = "redis.default.svc.cluster.local";
    c.wait_for("a lookup through the UDP Service", 60, || {
        let out = c.kubectl(&[
            "exec",
            "deploy/counter",
            "--",
            "nslookup",
            redis_name,
            &relay_ip,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        // The answer can only have come back through the relay: nothing else answers there.
        text.contains(&redis_ip).then_some(())
    });
    let udp = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp");
    udp.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    udp.send_to(&dns_query(redis_name), (relay_ip.as_str(), 53))
        .expect("sent");
    let mut reply = [0u8; 512];
    let (length, from) = udp.recv_from(&mut reply).expect("a reply over UDP");
    assert_eq!(from.to_string(), format!("{relay_ip}:53"));
    assert_eq!(answered_address(&reply[..length]), Some(redis_ip.clone()));
    let mut tcp =
        std::net::TcpStream::connect((relay_ip.as_str(), 53)).expect("the TCP port of the Service");
    tcp.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let query = dns_query(redis_name);
    let mut framed = u16::try_from(query.len())
        .expect("short")
        .to_be_bytes()
        .to_vec();
    framed.extend_from_slice(&query);
    tcp.write_all(&framed).expect("sent over TCP");
    let mut size = [0u8; 2];
    std::io::Read::read_exact(&mut tcp, &mut size).expect("a reply over TCP");
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(size))];
    std::io::Read::read_exact(&mut tcp, &mut answer).expect("the reply");
    assert_eq!(answered_address(&answer), Some(redis_ip.clone()));

    // NodePort 31000 and a LoadBalancer, from this host on 127.0.0.1.
    c.apply(&manifest("counter-nodeport.yaml"));
    let through_node_port = c.wait_for("NodePort 31000 on 127.0.0.1", 60, || {
        http_get("127.0.0.1:31000").filter(|b| b.starts_with("Counter: "))
    });
    let m: u64 = through_node_port["Counter: ".len()..]
        .parse()
        .expect("a count");
    assert!(m > n, "{m} after {n}: the same redis counts on");
    c.apply(&manifest("counter-lb.yaml"));
    c.wait_for("the LoadBalancer's ingress", 60, || {
        let row = String::from_utf8_lossy(
            &c.kubectl(&["get", "svc", "counter-lb", "--no-headers"])
                .stdout,
        )
        .to_string();
        row.split_whitespace()
            .nth(3)
            .filter(|ip| *ip == "127.0.0.1")
            .map(|_| ())
    });
    c.wait_for("the LoadBalancer's port on 127.0.0.1", 60, || {
        http_get("127.0.0.1:30000").filter(|b| b.starts_with("Counter: "))
    });

    // Readiness: of two pods behind one Service, only the ready one is sent requests, and
    // the one failing its readiness probe is not restarted.
    c.apply(DEMO);
    c.wait_for_status("demo-ready", "1/1", "Running", 60);
    c.wait_for_status("demo-unready", "0/1", "Running", 60);
    let ready_ip = c.jsonpath(&["pod", "demo-ready"], "{.status.podIP}");
    c.wait_for("the demo Endpoints to hold the ready pod only", 30, || {
        let addresses = c.jsonpath(&["endpoints", "demo"], "{.subsets[0].addresses[*].ip}");
        let not_ready = c.jsonpath(
            &["endpoints", "demo"],
            "{.subsets[0].notReadyAddresses[*].ip}",
        );
        (addresses == ready_ip && !not_ready.is_empty()).then_some(())
    });
    let answers = c.ok(&[
        "exec",
        "deploy/counter",
        "--",
        "sh",
        "-c",
        "for i in $(seq 100); do wget -qO- http://demo:3000/; done",
    ]);
    let lines: Vec<&str> = answers.lines().collect();
    assert_eq!(lines.len(), 100, "{answers}");
    assert!(lines.iter().all(|l| *l == "echo v1"), "{answers}");
    let restarts = c.jsonpath(
        &["pod", "demo-unready"],
        "{.status.containerStatuses[0].restartCount}",
    );
    assert_eq!(restarts, "0");

    // No packet for the range leaves: an unassigned address is refused from a pod too.
    let leak = crate::network::Leak::count(range);
    let out = c.kubectl(&[
        "exec",
        "deploy/counter",
        "--",
        "timeout",
        "3",
        "wget",
        "-qO-",
        "http://10.150.99.99/",
    ]);
    assert!(
        !out.status.success(),
        "an unassigned service address answers nothing"
    );
    assert_eq!(
        leak.packets(),
        0,
        "packets for the service range left this host"
    );
    drop(leak);

    // kill -9 leaves the host changes; the restarted server takes them over and serves on.
    let ours = format!(
        ": {}",
        crate::support::internals::service_host::interface_for(c.dir.path())
    );
    assert!(interfaces().contains(&ours), "{}", interfaces());
    c.kill_and_restart();
    c.wait_for("NodePort 31000 after a restart", 60, || {
        http_get("127.0.0.1:31000").filter(|b| b.starts_with("Counter: "))
    });
    assert_eq!(interfaces().matches(&ours).count(), 1, "{}", interfaces());
    // A stop undoes everything.
    if let Some(mut server) = c.server.take() {
        server.terminate();
    }
    assert!(!prohibited().contains(range), "{}", prohibited());
    assert!(!interfaces().contains(&ours), "{}", interfaces());
    assert!(
        http_get("127.0.0.1:31000").is_none(),
        "the NodePort is closed"
    );
}
