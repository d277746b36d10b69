//! Port forwarding to pods the Docker kubelet runs, through the real kubectl (PATH, and
//! `$KUBECTL` = 1.37 in the test command's second run) and the Python `kubernetes` client:
//! kubectl's SPDY-in-websocket tunnel and its plain SPDY/3.1 fallback, the channel protocol,
//! pod,
//! Deployment and ReplicaSet targets, two ports at once, many requests through one forward,
//! a refused port's error, and a server bound to the pod's own localhost (reachable only
//! from inside its network namespace). Each test runs its own server and Docker node; what
//! the node made is removed when the test ends.

use crate::support::binary::{Serve, Server};
use crate::support::docker::{BUSYBOX, Cleanup, ECHO, unique};
use crate::support::kubectl::Kubectl;
use crate::support::wait;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tempfile::TempDir;

/// The label the kubelet puts on everything it makes for its node.
const NODE_LABEL: &str = "dev.kubetrail.node";

/// A pod with the echo server (port 3000, all addresses) and busybox's httpd bound to the
/// pod's 127.0.0.1:8080 only; ready once both answer, so a test never races their start.
const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: echo
    image: ECHO
    readinessProbe:
      tcpSocket: {port: 3000}
      periodSeconds: 1
  - name: local
    image: BUSYBOX
    command: ["sh", "-c", "mkdir -p /www && echo local-only > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"]
    readinessProbe:
      exec: {command: ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]}
      periodSeconds: 1
"#;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 1
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
      - name: echo
        image: ECHO
        readinessProbe:
          tcpSocket: {port: 3000}
          periodSeconds: 1
"#;

/// Fields drop in order: the server, then what its node made, then the directory.
struct Cluster {
    url: String,
    _server: Server,
    _made: Cleanup,
    kubectl: Kubectl,
    dir: TempDir,
}

impl Cluster {
    /// A server with one Docker node (`simulated`: one simulated node as well, and pods
    /// must then name their node).
    fn start(test: &str, simulated: bool) -> Cluster {
        let dir = tempfile::tempdir().expect("data dir");
        let node = unique("pf", test);
        let simulated = if simulated { "1" } else { "0" };
        let server = Serve::new(dir.path())
            .args(&["--node-name", &node, "--simulated-nodes", simulated])
            .start();
        let cluster = Cluster {
            url: server.url.clone(),
            kubectl: Kubectl::new(&server.kubeconfig),
            _made: Cleanup::new(NODE_LABEL, &node),
            _server: server,
            dir,
        };
        wait::blocking(
            "the Docker node to be Ready",
            Duration::from_secs(60),
            || {
                let out = cluster
                    .kubectl
                    .output(&["get", "node", &node, "--no-headers"]);
                String::from_utf8_lossy(&out.stdout)
                    .contains(" Ready ")
                    .then_some(())
            },
        );
        cluster
    }

    fn apply(&self, manifest: &str) {
        let manifest = manifest.replace("ECHO", ECHO).replace("BUSYBOX", BUSYBOX);
        let out = self
            .kubectl
            .output_with_input(&["apply", "-f", "-"], Some(manifest.as_bytes()));
        assert!(
            out.status.success(),
            "kubectl apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Wait until `kubectl get pod NAME` shows READY `ready` and Running.
    fn wait_running(&self, pod: &str, ready: &str) {
        wait::blocking(
            &format!("pod {pod} to be {ready} Running"),
            Duration::from_secs(90),
            || {
                let out = self.kubectl.output(&["get", "pod", pod, "--no-headers"]);
                let row = String::from_utf8_lossy(&out.stdout).to_string();
                let cells: Vec<&str> = row.split_whitespace().collect();
                (cells.len() >= 3 && cells[1] == ready && cells[2] == "Running").then_some(())
            },
        );
    }

    /// The web pod (both containers running) and the echo Deployment's pod.
    fn with_workloads(test: &str) -> Cluster {
        let c = Cluster::start(test, false);
        c.apply(POD);
        c.apply(DEPLOYMENT);
        c.wait_running("web", "2/2");
        wait::blocking(
            "the Deployment's pod to run",
            Duration::from_secs(90),
            || {
                let out = c
                    .kubectl
                    .output(&["get", "pods", "-l", "app=echo", "--no-headers"]);
                String::from_utf8_lossy(&out.stdout)
                    .contains(" 1/1 ")
                    .then_some(())
            },
        );
        c
    }

    /// `kubectl port-forward TARGET PORTS...` in the background, once it listens.
    fn forward(&self, target: &str, ports: &[&str]) -> Forward {
        let mut args = vec!["port-forward", target];
        args.extend_from_slice(ports);
        Forward::start(self.kubectl.command(&args), ports.len())
    }
}

/// A running `kubectl port-forward`: the local ports it listens on, in the order given;
/// killed (by its pid) when dropped.
struct Forward {
    child: Child,
    local: Vec<u16>,
    stderr: mpsc::Receiver<String>,
}

impl Forward {
    fn start(mut command: Command, ports: usize) -> Forward {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        let (lines_tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let (stderr_tx, stderr) = mpsc::channel();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = stderr_tx.send(line);
            }
        });
        let mut forward = Forward {
            child,
            local: Vec::new(),
            stderr,
        };
        // `Forwarding from 127.0.0.1:LOCAL -> REMOTE`, one IPv4 line per port.
        while forward.local.len() < ports {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    panic!(
                        "kubectl port-forward printed no `Forwarding from` line; stderr: {}",
                        forward.stderr_text()
                    )
                });
            if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
                let port = rest.split_whitespace().next().unwrap_or_default();
                forward.local.push(port.parse().expect("a local port"));
            }
        }
        // Keep draining stdout (`Handling connection for …`).
        std::thread::spawn(move || lines.iter().for_each(drop));
        forward
    }

    fn stderr_text(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// kubectl's exit, waiting at most `seconds`; its stderr.
    fn wait_exit(mut self, seconds: u64) -> (Option<i32>, String) {
        let code = wait::blocking("kubectl to exit", Duration::from_secs(seconds), || {
            self.child.try_wait().ok().flatten()
        });
        std::thread::sleep(Duration::from_millis(200));
        (code.code(), self.stderr_text())
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /` on 127.0.0.1:port (HTTP/1.0, so the server closes): status line and body.
fn get(port: u16) -> Result<(String, String), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP response: {text:?}"))?;
    let status = head.lines().next().unwrap_or_default().to_string();
    Ok((status, body.to_string()))
}

fn get_ok(port: u16, forward: &Forward) -> String {
    match get(port) {
        Ok((status, body)) if status.contains(" 200 ") => body,
        other => panic!(
            "GET through port {port}: {other:?}; kubectl's stderr: {}",
            forward.stderr_text()
        ),
    }
}

#[test]
fn kubectl_forwards_two_ports_including_one_bound_to_the_pods_localhost() {
    let c = Cluster::with_workloads("two");
    let forward = c.forward("pod/web", &[":3000", ":8080"]);
    let echo = get_ok(forward.local[0], &forward);
    assert!(echo.contains("echo"), "{echo}");
    // httpd listens on the pod's 127.0.0.1 only: reachable from inside its namespace alone.
    let local = get_ok(forward.local[1], &forward);
    assert_eq!(local.trim(), "local-only");
}

#[test]
fn fifty_requests_go_through_one_forward() {
    let c = Cluster::with_workloads("fifty");
    let forward = c.forward("pod/web", &[":3000"]);
    for i in 0..50 {
        let body = get_ok(forward.local[0], &forward);
        assert!(body.contains("echo"), "request {i}: {body}");
    }
}

#[test]
fn kubectl_resolves_deployments_and_replicasets_to_a_pod() {
    let c = Cluster::with_workloads("owners");
    let out = c.kubectl.ok_blocking(&[
        "get",
        "rs",
        "-l",
        "app=echo",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let rs = format!("rs/{}", out.trim());
    for target in ["deploy/echo", "deployment/echo", rs.as_str()] {
        let forward = c.forward(target, &[":3000"]);
        let body = get_ok(forward.local[0], &forward);
        assert!(body.contains("echo"), "{target}: {body}");
    }
}

#[test]
fn the_plain_spdy_upgrade_forwards_two_ports_too() {
    let c = Cluster::with_workloads("spdy");
    let mut command = c
        .kubectl
        .command(&["port-forward", "pod/web", ":3000", ":8080"]);
    command.env("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false");
    let forward = Forward::start(command, 2);
    for i in 0..10 {
        let echo = get_ok(forward.local[0], &forward);
        assert!(echo.contains("echo"), "request {i}: {echo}");
    }
    let local = get_ok(forward.local[1], &forward);
    assert_eq!(local.trim(), "local-only");
}

/// A TLS connection to the server of data directory `dir` at `url`, trusting its CA.
fn raw_tls(
    dir: &std::path::Path,
    url: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let ca = std::fs::read(dir.join("ca.crt")).expect("ca.crt");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots
            .add(cert.expect("a CA certificate"))
            .expect("CA added");
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let address = url.trim_start_matches("https://");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("server name");
    let connection =
        rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("TLS client");
    let socket = TcpStream::connect(address).expect("connects");
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    rustls::StreamOwned::new(connection, socket)
}

/// A SPDY upgrade that is not its connection's first request cannot be streamed: it is
/// refused with a `Status`.
#[test]
fn a_spdy_upgrade_after_another_request_is_refused_with_a_status() {
    let c = Cluster::with_workloads("spdylate");
    let token = crate::support::http::token(c.dir.path());
    let mut tls = raw_tls(c.dir.path(), &c.url);
    let auth = format!("Authorization: Bearer {token}\r\n");
    let first = format!("GET /version HTTP/1.1\r\nHost: x\r\n{auth}\r\n");
    let second = format!(
        "POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\nHost: x\r\n{auth}\
         Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
         X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n"
    );
    tls.write_all(format!("{first}{second}").as_bytes())
        .expect("requests sent");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"code\":400") {
        match tls.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("\"gitVersion\""), "{text}");
    assert!(
        text.contains(
            "unable to upgrade: a SPDY/3.1 upgrade must be the first request of a new HTTP/1.1 \
             connection"
        ),
        "{text}"
    );
}

#[test]
fn a_refused_port_is_reported_as_the_kubelet_words_it() {
    let c = Cluster::with_workloads("refused");
    let forward = c.forward("pod/web", &[":81"]);
    let local = forward.local[0];
    assert!(get(local).is_err(), "nothing listens on the pod's port 81");
    let (code, stderr) = forward.wait_exit(30);
    assert_eq!(code, Some(1), "{stderr}");
    // kubectl 1.32 prints `an error occurred forwarding LOCAL -> 81: <message>`, 1.37 the
    // message with `localPort=LOCAL remotePort=81`.
    let local = local.to_string();
    for expected in [
        "error forwarding port 81 to pod ",
        "failed to connect to localhost:81 inside namespace",
        "connect: connection refused",
        "lost connection to pod",
        local.as_str(),
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
}

#[test]
fn a_pod_without_containers_is_refused_with_a_status() {
    let c = Cluster::start("sim", true);
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: sim}
spec:
  nodeName: sim-node-000
  containers:
  - {name: app, image: ECHO}
"#,
    );
    c.wait_running("sim", "1/1");
    // kubectl dials before it listens: the refusal ends it at once.
    let out = c.kubectl.output(&["port-forward", "pod/sim", ":3000"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("error upgrading connection: ")
            && stderr.contains("pod sim runs on node sim-node-000, which runs no containers"),
        "{stderr}"
    );
}

/// The Python client: both ports' requests sent first, since a port's local socket ends only
/// when the whole session does (once every port's pod connection has ended).
const PYTHON_CLIENT: &str = r#"
import sys
from kubernetes import client, config
from kubernetes.stream import portforward
config.load_kube_config(config_file=sys.argv[1])
api = client.CoreV1Api()
ports = [int(p) for p in sys.argv[3].split(",")]
pf = portforward(api.connect_get_namespaced_pod_portforward, sys.argv[2], "default", ports=sys.argv[3])
for port in ports:
    pf.socket(port).setblocking(True)
    try:
        pf.socket(port).sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    except OSError:
        pass  # a refused port: its socket is closed once the error channel speaks
for port in ports:
    s = pf.socket(port)
    data = b""
    while s.fileno() != -1:
        try:
            chunk = s.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    status = data.split(b"\r\n", 1)[0].decode(errors="replace")
    body = data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
    print(f"{port}|{status}|{body[:40]}|{pf.error(port)}")
"#;

fn python() -> String {
    std::env::var("KUBETRAIL_KUBERNETES_PYTHON").unwrap_or_else(|_| {
        panic!(
            "KUBETRAIL_KUBERNETES_PYTHON is unset: it names a Python with the `kubernetes` \
             package. scripts/test installs it in a venv and sets it"
        )
    })
}

#[test]
fn the_python_client_forwards_with_the_channel_protocol() {
    let python = python();
    let c = Cluster::with_workloads("python");
    let script = c.dir.path().join("portforward.py");
    std::fs::write(&script, PYTHON_CLIENT).expect("script");
    let run = |ports: &str| -> Vec<String> {
        let out = Command::new(&python)
            .arg(&script)
            .arg(&c.kubectl.kubeconfig)
            .args(["web", ports])
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "python: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let lines = run("3000,8080");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("3000|HTTP/1.1 200 OK|echo") && lines[0].ends_with("|None"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "8080|HTTP/1.1 200 OK|local-only|None");
    let refused = run("81");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].starts_with("81|||error forwarding port 81 to pod ")
            && refused[0].contains("connect: connection refused"),
        "{refused:?}"
    );
}
