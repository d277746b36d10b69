//! Probes: one task per running container instance runs its startup probe, then its liveness
//! and readiness probes, honouring initialDelaySeconds, periodSeconds, timeoutSeconds,
//! successThreshold and failureThreshold, and reports what it finds to the kubelet's loop.
//! httpGet and tcpSocket probes go to the port the sandbox publishes on 127.0.0.1 (never
//! another address); exec probes run through `docker exec`.

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Container, Probe};
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
        let scheme = http
            .scheme
            .as_deref()
            .unwrap_or("HTTP")
            .to_ascii_lowercase();
        let path = http.path.as_deref().unwrap_or("/");
        let url = format!("{scheme}://127.0.0.1:{port}{path}");
        let mut request = target
            .http
            .get(&url)
            .timeout(timeout)
            .header("User-Agent", "kube-probe/1.32");
        for header in http.http_headers.iter().flatten() {
            request = request.header(&header.name, &header.value);
        }
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
        return if (200..400).contains(&code) {
            Ok(())
        } else {
            Err(format!("HTTP probe failed with statuscode: {code}"))
        };
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
    fn defaults_follow_kubernetes() {
        let t = timing(&Probe::default());
        assert_eq!(t.period, Duration::from_secs(10));
        assert_eq!(t.timeout, Duration::from_secs(1));
        assert_eq!((t.success_threshold, t.failure_threshold), (1, 3));
    }
}
