//! Probes: one task per running container instance runs its startup probe, then its liveness
//! and readiness probes, honouring initialDelaySeconds, periodSeconds, timeoutSeconds,
//! successThreshold and failureThreshold, and reports what it finds to the kubelet's loop.
//! httpGet and tcpSocket probes go to the port the sandbox publishes on 127.0.0.1 (never
//! another address: the URL is built with a URL type from the spec's path, and redirects are
//! followed only to that same address); exec probes run through `docker exec`.

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Container, Probe};
use reqwest::Url;
use reqwest::redirect::{Action, Attempt, Policy};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    pub fn title(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }
}

/// What a prober found.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// One failed probe (an `Unhealthy` event).
    Failed { kind: ProbeKind, message: String },
    /// Readiness changed.
    Ready(bool),
    /// The startup probe succeeded (or there is none).
    Started,
    /// The liveness or startup probe failed `failureThreshold` times in a row: the container
    /// must be killed.
    GaveUp { kind: ProbeKind },
}

/// A finding about one container instance of a pod.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    pub pod_uid: String,
    pub container: String,
    pub instance: String,
    pub finding: Finding,
}

/// Where probes reach an instance.
#[derive(Clone)]
pub struct Target {
    pub docker: Docker,
    pub http: reqwest::Client,
    pub instance: String,
    /// Container port → port on 127.0.0.1, as the sandbox publishes them.
    pub ports: HashMap<u16, u16>,
}

/// Kubernetes' probe defaults, applied where the spec is silent.
struct Timing {
    initial_delay: Duration,
    period: Duration,
    timeout: Duration,
    success_threshold: u32,
    failure_threshold: u32,
}

fn timing(probe: &Probe) -> Timing {
    let seconds =
        |v: Option<i32>, default: i32| Duration::from_secs(v.unwrap_or(default).max(0) as u64);
    Timing {
        initial_delay: seconds(probe.initial_delay_seconds, 0),
        period: seconds(probe.period_seconds, 10).max(Duration::from_secs(1)),
        timeout: seconds(probe.timeout_seconds, 1).max(Duration::from_secs(1)),
        success_threshold: probe.success_threshold.unwrap_or(1).max(1) as u32,
        failure_threshold: probe.failure_threshold.unwrap_or(3).max(1) as u32,
    }
}

/// Run `probe` once: `Ok` on success, the failure's message otherwise.
pub async fn run_once(
    target: &Target,
    container: &Container,
    probe: &Probe,
    timeout: Duration,
) -> Result<(), String> {
    let host_port = |port| {
        let port = super::spec::probe_port(container, port)
            .ok_or("the probe's port is not a port of the container")?;
        target
            .ports
            .get(&port)
            .copied()
            .ok_or_else(|| format!("port {port} is not published by the pod's sandbox"))
    };
    if let Some(http) = &probe.http_get {
        let port = host_port(&http.port)?;
        let url = probe_url(
            http.scheme.as_deref().unwrap_or("HTTP"),
            port,
            http.path.as_deref().unwrap_or("/"),
        )?;
        let headers: Vec<(&str, &str)> = http
            .http_headers
            .iter()
            .flatten()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect();
        return http_probe(&target.http, &url, &headers, timeout).await;
    }
    if let Some(tcp) = &probe.tcp_socket {
        let port = host_port(&tcp.port)?;
        return tcp_probe(port, timeout).await;
    }
    if let Some(exec) = &probe.exec {
        let command = exec.command.clone().unwrap_or_default();
        return tokio::time::timeout(
            timeout,
            exec_probe(&target.docker, &target.instance, command.clone()),
        )
        .await
        .unwrap_or_else(|_| Err(format!("command {command:?} timed out")));
    }
    Err("the probe has no handler".to_string())
}

/// Redirects an httpGet probe follows, as Go's client (and so the kubelet) does.
const MAX_REDIRECTS: usize = 10;

/// The client httpGet probes use: any certificate (the kubelet does not verify a pod's), no
/// proxy, and redirects followed only to the address the probe started at.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .redirect(Policy::custom(same_address_redirects))
        .build()
        .unwrap_or_default()
}

/// The kubelet follows a probe's redirects while they stay on the pod's host and stops at the
/// first that leaves it, taking that redirect response as the answer. A pod's address here is
/// 127.0.0.1 and its published port, which the host shares with everything else it runs, so
/// "the pod's host" is that host and port together.
fn same_address_redirects(attempt: Attempt) -> Action {
    let stays = attempt.previous().first().is_some_and(|first| {
        first.host_str() == attempt.url().host_str()
            && first.port_or_known_default() == attempt.url().port_or_known_default()
    });
    if !stays {
        attempt.stop()
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error(format!("stopped after {MAX_REDIRECTS} redirects"))
    } else {
        attempt.follow()
    }
}

/// The URL of an httpGet probe: `scheme` (HTTP or HTTPS) to the port the sandbox publishes on
/// 127.0.0.1, with the spec's path and query. The path is read as the kubelet reads it, as a
/// URL reference whose scheme and authority are then replaced, so nothing in it can name
/// another host: "//elsewhere/x" and "http://elsewhere/x" request /x of the pod, and
/// "@elsewhere/" is a path.
pub fn probe_url(scheme: &str, port: u16, path: &str) -> Result<Url, String> {
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https") {
        return Err(format!("unsupported scheme {scheme:?} for an HTTP probe"));
    }
    let mut url =
        Url::parse(&format!("{scheme}://127.0.0.1:{port}/")).map_err(|e| e.to_string())?;
    match url.join(path) {
        Ok(reference) => {
            url.set_path(reference.path());
            url.set_query(reference.query());
        }
        // Not a reference at all: taken as a plain path, as the kubelet passes it along.
        Err(_) => url.set_path(path),
    }
    Ok(url)
}

/// GET `url`: success on a 2xx or 3xx answer, the kubelet's failure message otherwise. A 3xx
/// is a redirect the client did not follow (to another address, or without a Location):
/// success, with a warning, as the kubelet's `Probe terminated redirects`.
async fn http_probe(
    client: &reqwest::Client,
    url: &Url,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<(), String> {
    let mut request = client
        .get(url.clone())
        .timeout(timeout)
        .header("User-Agent", "kube-probe/1.32");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let port = url.port_or_known_default().unwrap_or_default();
    let response = request.send().await.map_err(|e| {
        let chain = error_chain(&e);
        if e.is_timeout() {
            format!("Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
        } else if e.is_connect() || chain.contains("connection closed before message completed") {
            // Docker's port proxy accepts, then closes when nothing listens in the pod.
            format!("Get \"{url}\": dial tcp 127.0.0.1:{port}: connect: connection refused")
        } else {
            format!("Get \"{url}\": {chain}")
        }
    })?;
    let code = response.status().as_u16();
    if (300..400).contains(&code) {
        tracing::warn!(
            %url,
            location = ?response.headers().get(reqwest::header::LOCATION),
            "probe terminated redirects: not followed off the pod's address"
        );
    }
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {code}"))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Connect to the published port. Docker's port proxy accepts every connection and closes
/// it at once when nothing listens in the container, so a connection closed within a moment
/// of opening counts as refused.
async fn tcp_probe(port: u16, timeout: Duration) -> Result<(), String> {
    let address = format!("127.0.0.1:{port}");
    let refused = || format!("dial tcp {address}: connect: connection refused");
    let mut stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&address))
        .await
        .map_err(|_| format!("dial tcp {address}: i/o timeout"))?
        .map_err(|_| refused())?;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(150), stream.read(&mut byte)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Err(refused()),
        _ => Ok(()),
    }
}

async fn exec_probe(docker: &Docker, instance: &str, command: Vec<String>) -> Result<(), String> {
    let exec = docker
        .create_exec(
            instance,
            CreateExecOptions {
                cmd: Some(command.clone()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut output = String::new();
    if let StartExecResults::Attached {
        output: mut stream, ..
    } = docker
        .start_exec(&exec.id, None)
        .await
        .map_err(|e| e.to_string())?
    {
        while let Some(Ok(chunk)) = stream.next().await {
            if output.len() < 10 * 1024 {
                output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
        }
    }
    let code = docker
        .inspect_exec(&exec.id)
        .await
        .map_err(|e| e.to_string())?
        .exit_code
        .unwrap_or(-1);
    if code == 0 {
        Ok(())
    } else if output.trim().is_empty() {
        Err(format!("command {command:?} exited with {code}"))
    } else {
        Err(output.trim_end().to_string())
    }
}

/// Start the prober of a running instance; abort the handle when the instance stops.
pub fn spawn_prober(
    target: Target,
    pod_uid: String,
    container: Container,
    started_at: Instant,
    reports: UnboundedSender<super::Message>,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let report = |finding: Finding| {
            let _ = reports.send(super::Message::Probe(ProbeReport {
                pod_uid: pod_uid.clone(),
                container: container.name.clone(),
                instance: target.instance.clone(),
                finding,
            }));
        };
        if let Some(probe) = &container.startup_probe {
            let timing = timing(probe);
            tokio::time::sleep_until(started_at + timing.initial_delay).await;
            let mut failures = 0;
            loop {
                match run_once(&target, &container, probe, timing.timeout).await {
                    Ok(()) => break,
                    Err(message) => {
                        failures += 1;
                        report(Finding::Failed {
                            kind: ProbeKind::Startup,
                            message,
                        });
                        if failures >= timing.failure_threshold {
                            report(Finding::GaveUp {
                                kind: ProbeKind::Startup,
                            });
                            return;
                        }
                    }
                }
                tokio::time::sleep(timing.period).await;
            }
        }
        report(Finding::Started);
        let liveness = async {
            let Some(probe) = &container.liveness_probe else {
                return;
            };
            let timing = timing(probe);
            tokio::time::sleep_until(started_at + timing.initial_delay).await;
            let mut failures = 0;
            loop {
                match run_once(&target, &container, probe, timing.timeout).await {
                    Ok(()) => failures = 0,
                    Err(message) => {
                        failures += 1;
                        report(Finding::Failed {
                            kind: ProbeKind::Liveness,
                            message,
                        });
                        if failures >= timing.failure_threshold {
                            report(Finding::GaveUp {
                                kind: ProbeKind::Liveness,
                            });
                            return;
                        }
                    }
                }
                tokio::time::sleep(timing.period).await;
            }
        };
        let readiness = async {
            let Some(probe) = &container.readiness_probe else {
                return;
            };
            let timing = timing(probe);
            tokio::time::sleep_until(started_at + timing.initial_delay).await;
            let (mut ready, mut successes, mut failures) = (false, 0, 0);
            loop {
                match run_once(&target, &container, probe, timing.timeout).await {
                    Ok(()) => {
                        failures = 0;
                        successes += 1;
                        if !ready && successes >= timing.success_threshold {
                            ready = true;
                            report(Finding::Ready(true));
                        }
                    }
                    Err(message) => {
                        successes = 0;
                        failures += 1;
                        report(Finding::Failed {
                            kind: ProbeKind::Readiness,
                            message,
                        });
                        if ready && failures >= timing.failure_threshold {
                            ready = false;
                            report(Finding::Ready(false));
                        }
                    }
                }
                tokio::time::sleep(timing.period).await;
            }
        };
        tokio::join!(liveness, readiness);
    })
    .abort_handle()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_fails_and_a_listening_one_passes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap().port();
        let accept = tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
        assert_eq!(tcp_probe(open, Duration::from_secs(1)).await, Ok(()));
        accept.abort();
        // A listener that closes at once, as Docker's proxy does for an empty port.
        let closing = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closing.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = closing.accept().await {
                drop(socket);
            }
        });
        assert!(tcp_probe(port, Duration::from_secs(1)).await.is_err());
    }

    #[test]
    fn probe_urls_keep_the_pod_address() {
        let cases = [
            ("HTTP", "/healthz", "http://127.0.0.1:8080/healthz"),
            ("HTTPS", "/healthz", "https://127.0.0.1:8080/healthz"),
            ("HTTP", "", "http://127.0.0.1:8080/"),
            ("HTTP", "healthz", "http://127.0.0.1:8080/healthz"),
            (
                "HTTP",
                "/ready?full=1",
                "http://127.0.0.1:8080/ready?full=1",
            ),
            (
                "HTTP",
                "@evil.example/",
                "http://127.0.0.1:8080/@evil.example/",
            ),
            ("HTTP", "//evil.example/x", "http://127.0.0.1:8080/x"),
            (
                "HTTP",
                "http://evil.example/x?y=1",
                "http://127.0.0.1:8080/x?y=1",
            ),
            (
                "HTTP",
                "https://user:pw@evil.example:99/x",
                "http://127.0.0.1:8080/x",
            ),
            ("HTTP", "\\\\evil.example\\x", "http://127.0.0.1:8080/x"),
            (
                "HTTP",
                "/../../etc/passwd",
                "http://127.0.0.1:8080/etc/passwd",
            ),
            ("HTTP", "/a#fragment", "http://127.0.0.1:8080/a"),
            ("HTTP", "/a b", "http://127.0.0.1:8080/a%20b"),
            (
                "HTTP",
                "file:///etc/passwd",
                "http://127.0.0.1:8080/etc/passwd",
            ),
        ];
        for (scheme, path, expected) in cases {
            let url = probe_url(scheme, 8080, path).expect(path);
            assert_eq!(url.as_str(), expected, "path {path:?}");
            assert_eq!(url.host_str(), Some("127.0.0.1"));
        }
        assert!(probe_url("FTP", 8080, "/").is_err());
        assert!(probe_url("file", 8080, "/").is_err());
    }

    /// A server on 127.0.0.1 answering each request with `answer(path)`, counting requests.
    async fn serve(
        answer: fn(&str, u16) -> String,
    ) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap_or(0) == 1
                {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                record.lock().unwrap().push(path.clone());
                let _ = socket.write_all(answer(&path, port).as_bytes()).await;
            }
        });
        (port, seen)
    }

    /// The probe client, with the crypto provider the server installs at start.
    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        http_client()
    }

    fn reply(status: &str, location: Option<String>) -> String {
        let location = location
            .map(|l| format!("Location: {l}\r\n"))
            .unwrap_or_default();
        format!("HTTP/1.1 {status}\r\n{location}Content-Length: 0\r\nConnection: close\r\n\r\n")
    }

    #[tokio::test]
    async fn redirects_are_followed_only_on_the_pod_address() {
        // Somewhere else on this host the pod must not make the kubelet reach.
        let (elsewhere, elsewhere_seen) = serve(|_, _| reply("200 OK", None)).await;
        let (pod, pod_seen) = serve(|path, port| match path {
            "/same" => reply("302 Found", Some("/broken".to_string())),
            "/same-absolute" => reply(
                "301 Moved Permanently",
                Some(format!("http://127.0.0.1:{port}/ok")),
            ),
            "/loop" => reply("302 Found", Some("/loop".to_string())),
            "/ok" => reply("200 OK", None),
            "/broken" => reply("500 Internal Server Error", None),
            "/no-location" => reply("302 Found", None),
            other => {
                let target = other.trim_start_matches("/to-");
                reply("302 Found", Some(format!("http://{target}/steal")))
            }
        })
        .await;
        let client = client();
        let probe = |path: &str| {
            let url = probe_url("HTTP", pod, path).unwrap();
            let client = client.clone();
            async move { http_probe(&client, &url, &[], Duration::from_secs(2)).await }
        };
        // Followed on the pod's address: the final answer decides.
        assert_eq!(
            probe("/same").await,
            Err("HTTP probe failed with statuscode: 500".to_string())
        );
        assert_eq!(probe("/same-absolute").await, Ok(()));
        let looped = probe("/loop").await.unwrap_err();
        assert!(looped.contains("redirect"), "{looped}");
        assert_eq!(probe("/no-location").await, Ok(()));
        // Not followed off it (another port, another name for the host): success with a
        // warning, and the other address never sees a request.
        assert_eq!(probe(&format!("/to-127.0.0.1:{elsewhere}")).await, Ok(()));
        assert_eq!(probe(&format!("/to-localhost:{elsewhere}")).await, Ok(()));
        assert_eq!(probe(&format!("/to-localhost:{pod}")).await, Ok(()));
        assert!(elsewhere_seen.lock().unwrap().is_empty());
        assert!(!pod_seen.lock().unwrap().iter().any(|p| p == "/steal"));
        let loops = pod_seen
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == "/loop")
            .count();
        assert_eq!(loops, MAX_REDIRECTS + 1);
    }

    #[tokio::test]
    async fn a_host_header_changes_the_header_not_the_address() {
        let (pod, seen) = serve(|_, _| reply("200 OK", None)).await;
        let url = probe_url("HTTP", pod, "/").unwrap();
        let result = http_probe(
            &client(),
            &url,
            &[("Host", "evil.example")],
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn defaults_follow_kubernetes() {
        let t = timing(&Probe::default());
        assert_eq!(t.period, Duration::from_secs(10));
        assert_eq!(t.timeout, Duration::from_secs(1));
        assert_eq!((t.success_threshold, t.failure_threshold), (1, 3));
    }
}
