//! `pods/{name}/exec` and `pods/{name}/attach`: a WebSocket session (`v5.channel.k8s.io`,
//! `v4.channel.k8s.io`) bridged to a Docker exec or to the container's own streams. Channel 0
//! is stdin, 1 stdout, 2 stderr, 3 the closing `Status`, 4 terminal resizes, 255 (v5) a
//! half-close; every message is binary, its first byte the channel. Never writes the store.

use super::AppState;
use super::containers::{self, Choice, Purpose};
use super::error::ApiError;
use super::params::Query;
use super::target::Target;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{AttachContainerOptionsBuilder, ResizeContainerTTYOptionsBuilder};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Subprotocols served, most preferred first.
pub const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
/// v5: `[255, channel]` closes the client's side of that channel (stdin's EOF).
pub const CLOSE: u8 = 255;

/// Largest message a client may send; kubectl sends stdin in pieces of at most 32 KiB.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// First read buffer for a process's output.
const OUTPUT_CAPACITY: usize = 64 * 1024;

/// Whether this is an exec (run a command) or an attach (the container's main process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Exec,
    Attach,
}

/// `PodExecOptions` / `PodAttachOptions`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamOptions {
    pub command: Vec<String>,
    pub container: Option<String>,
    pub stdin: bool,
    pub stdout: bool,
    /// Never with a TTY: a terminal has one output stream.
    pub stderr: bool,
    pub tty: bool,
}

impl StreamOptions {
    pub fn parse(query: &Query, mode: Mode) -> Result<Self, ApiError> {
        let tty = query.flag("tty")?;
        let options = StreamOptions {
            command: query
                .all("command")
                .into_iter()
                .map(str::to_string)
                .collect(),
            container: query.get("container").map(str::to_string),
            stdin: query.flag("stdin")?,
            stdout: query.flag("stdout")?,
            stderr: query.flag("stderr")? && !tty,
            tty,
        };
        if mode == Mode::Exec && options.command.is_empty() {
            return Err(ApiError::bad_request("you must specify at least 1 command"));
        }
        if !options.stdin && !options.stdout && !options.stderr {
            return Err(ApiError::bad_request(
                "you must specify at least 1 of stdin, stdout, stderr",
            ));
        }
        Ok(options)
    }
}

/// `{"Width":100,"Height":30}`, as kubectl sends on channel 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TerminalSize {
    pub width: u16,
    pub height: u16,
}

/// One message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientFrame {
    Stdin(Bytes),
    Resize(TerminalSize),
    /// The client will send nothing more on this channel.
    Close(u8),
    /// Empty, malformed, or on a channel a client does not write.
    Ignored,
}

impl ClientFrame {
    pub fn parse(message: &Bytes, v5: bool) -> ClientFrame {
        let Some((&channel, _)) = message.split_first() else {
            return ClientFrame::Ignored;
        };
        let payload = message.slice(1..);
        match channel {
            STDIN => ClientFrame::Stdin(payload),
            RESIZE => serde_json::from_slice(payload.trim_ascii())
                .map(ClientFrame::Resize)
                .unwrap_or(ClientFrame::Ignored),
            CLOSE if v5 => match payload.first() {
                Some(&closed) => ClientFrame::Close(closed),
                None => ClientFrame::Ignored,
            },
            _ => ClientFrame::Ignored,
        }
    }
}

/// A server message: the channel byte, then the payload.
pub fn frame(channel: u8, payload: &[u8]) -> Bytes {
    let mut framed = Vec::with_capacity(payload.len() + 1);
    framed.push(channel);
    framed.extend_from_slice(payload);
    Bytes::from(framed)
}

/// The channel-3 `Status` for a process that exited with `code`: kubectl exits with the code
/// it finds in the `ExitCode` cause.
pub fn exit_status(command: &[String], code: i64) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// The channel-3 `Status` for a session that failed other than by the process's exit code.
pub fn error_status(message: &str) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: {message}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    })
}

/// Docker reports a command it could not start (not found, not executable) as text on the
/// output stream; such text is held back until the exit code says which it was.
fn is_start_failure(output: &[u8]) -> bool {
    output.starts_with(b"OCI runtime exec failed")
}

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;
type Input = Pin<Box<dyn AsyncWrite + Send>>;

/// What a session is bridged to.
enum Process {
    Exec { id: String, command: Vec<String> },
    Attach { container: String },
}

pub async fn serve(
    req: HttpRequest,
    payload: web::Payload,
    state: &AppState,
    target: &Target,
    query: &Query,
    mode: Mode,
) -> Result<HttpResponse, ApiError> {
    state.docker.check_allowed()?;
    let name = target.name.as_deref().unwrap_or("");
    let namespace = target.namespace.as_deref().unwrap_or("");
    let options = StreamOptions::parse(query, mode)?;
    // Refusals come before the upgrade check: kubectl retries a refused WebSocket upgrade over
    // SPDY and prints what that second request is told.
    let found = containers::find(
        &state.store,
        &state.docker,
        namespace,
        name,
        options.container.as_deref(),
        Purpose::Exec,
    )
    .await?;
    let Choice::Instance(instance) = found.choice else {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    };
    if !is_websocket_upgrade(&req) {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let Some(protocol) = offered_protocol(&req) else {
        return Err(ApiError::bad_request(format!(
            "none of the offered subprotocols is served; offer one of: {}",
            PROTOCOLS.join(", ")
        )));
    };
    let docker = state.docker.get().await?.clone();
    let (process, output, input) = match mode {
        Mode::Exec => start_exec(&docker, &instance.id, &options).await?,
        Mode::Attach => attach(&docker, &instance.id, &options).await?,
    };
    let (response, session, messages) = actix_ws::handle_with_protocols(&req, payload, &PROTOCOLS)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let messages = messages
        .max_frame_size(MAX_MESSAGE)
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE);
    let session_state = Bridge {
        docker,
        process,
        options,
        v5: protocol == PROTOCOLS[0],
    };
    actix_web::rt::spawn(session_state.run(session, messages, output, input));
    Ok(response)
}

fn is_websocket_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The first subprotocol the client offers that is served (the one the handshake echoes).
fn offered_protocol(req: &HttpRequest) -> Option<&'static str> {
    req.headers()
        .get_all(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|offered| PROTOCOLS.iter().copied().find(|p| *p == offered))
}

async fn start_exec(
    docker: &Docker,
    container: &str,
    options: &StreamOptions,
) -> Result<(Process, Output, Input), ApiError> {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdin: Some(options.stdin),
                attach_stdout: Some(options.stdout),
                attach_stderr: Some(options.stderr),
                tty: Some(options.tty),
                cmd: Some(options.command.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| containers::runtime_error("creating the exec", e))?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: options.tty,
                output_capacity: Some(OUTPUT_CAPACITY),
            }),
        )
        .await
        .map_err(|e| containers::runtime_error("starting the exec", e))?;
    match started {
        StartExecResults::Attached { output, input } => Ok((
            Process::Exec {
                id: created.id,
                command: options.command.clone(),
            },
            output,
            input,
        )),
        StartExecResults::Detached => Err(ApiError::Unexpected(anyhow::anyhow!(
            "Docker started the exec detached"
        ))),
    }
}

async fn attach(
    docker: &Docker,
    container: &str,
    options: &StreamOptions,
) -> Result<(Process, Output, Input), ApiError> {
    let attach_options = AttachContainerOptionsBuilder::new()
        .stdin(options.stdin)
        .stdout(options.stdout)
        .stderr(options.stderr)
        .stream(true)
        .logs(false)
        .build();
    let attached = docker
        .attach_container(container, Some(attach_options))
        .await
        .map_err(|e| containers::runtime_error("attaching to the container", e))?;
    Ok((
        Process::Attach {
            container: container.to_string(),
        },
        attached.output,
        attached.input,
    ))
}

/// One session: the client's WebSocket on one side, the process's streams on the other.
struct Bridge {
    docker: Docker,
    process: Process,
    options: StreamOptions,
    v5: bool,
}

impl Bridge {
    async fn run(
        self,
        mut session: Session,
        messages: AggregatedMessageStream,
        mut output: Output,
        input: Input,
    ) {
        let (gone_tx, mut gone) = tokio::sync::oneshot::channel::<()>();
        let pump = actix_web::rt::spawn(pump_input(
            session.clone(),
            messages,
            input,
            self.docker.clone(),
            self.resize_target(),
            self.options.stdin,
            self.v5,
            gone_tx,
        ));
        let mut held: Option<Bytes> = None;
        let mut failed: Option<String> = None;
        let client_left = loop {
            let item = tokio::select! {
                item = output.next() => item,
                _ = &mut gone => break true,
            };
            let (channel, bytes) = match item {
                None => break false,
                Some(Err(e)) => {
                    failed = Some(format!("reading the process's output: {e}"));
                    break false;
                }
                Some(Ok(LogOutput::StdOut { message })) => (STDOUT, message),
                Some(Ok(LogOutput::Console { message })) => (STDOUT, message),
                Some(Ok(LogOutput::StdErr { message })) => (STDERR, message),
                Some(Ok(LogOutput::StdIn { .. })) => continue,
            };
            if matches!(self.process, Process::Exec { .. })
                && held.is_none()
                && is_start_failure(&bytes)
            {
                held = Some(bytes);
                continue;
            }
            if let Some(earlier) = held.take()
                && session.binary(frame(STDOUT, &earlier)).await.is_err()
            {
                break true;
            }
            let wanted = match channel {
                STDERR => self.options.stderr,
                _ => self.options.stdout,
            };
            if wanted && session.binary(frame(channel, &bytes)).await.is_err() {
                break true;
            }
        };
        drop(output);
        if client_left {
            pump.abort();
            return;
        }
        let status = match (&self.process, failed) {
            (_, Some(message)) => error_status(&message),
            (Process::Attach { .. }, None) => json!({"metadata": {}, "status": "Success"}),
            (Process::Exec { id, command }, None) => {
                let code = exit_code(&self.docker, id).await;
                match (code, held) {
                    (Ok(code), Some(text)) if code == 126 || code == 127 => error_status(&format!(
                        "error executing command in container: {}",
                        String::from_utf8_lossy(&text).trim_end()
                    )),
                    (code, held) => {
                        if let Some(text) = held {
                            let _ = session.binary(frame(STDOUT, &text)).await;
                        }
                        match code {
                            Ok(code) => exit_status(command, code),
                            Err(message) => error_status(&message),
                        }
                    }
                }
            }
        };
        let _ = session
            .binary(frame(ERROR, status.to_string().as_bytes()))
            .await;
        let _ = session
            .close(Some(CloseReason {
                code: CloseCode::Normal,
                description: None,
            }))
            .await;
        // The client answers the close; the pump ends when it does, or here.
        let _ = tokio::time::timeout(Duration::from_secs(5), pump).await;
    }

    fn resize_target(&self) -> Resize {
        match &self.process {
            Process::Exec { id, .. } => Resize::Exec(id.clone()),
            Process::Attach { container } => Resize::Container(container.clone()),
        }
    }
}

/// What a channel-4 message resizes.
enum Resize {
    Exec(String),
    Container(String),
}

impl Resize {
    async fn apply(&self, docker: &Docker, size: TerminalSize) {
        if size.width == 0 || size.height == 0 {
            return;
        }
        let result = match self {
            Resize::Exec(id) => {
                docker
                    .resize_exec(
                        id,
                        bollard::exec::ResizeExecOptions {
                            width: size.width,
                            height: size.height,
                        },
                    )
                    .await
            }
            Resize::Container(id) => {
                let options = ResizeContainerTTYOptionsBuilder::new()
                    .w(size.width.into())
                    .h(size.height.into())
                    .build();
                docker.resize_container_tty(id, options).await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "terminal resize failed");
        }
    }
}

/// Client to process: stdin, resizes, half-close; answers pings. Tells `gone` when the client
/// closes or drops the connection.
#[allow(clippy::too_many_arguments)]
async fn pump_input(
    mut session: Session,
    mut messages: AggregatedMessageStream,
    input: Input,
    docker: Docker,
    resize: Resize,
    stdin: bool,
    v5: bool,
    gone: tokio::sync::oneshot::Sender<()>,
) {
    let mut input = stdin.then_some(input);
    while let Some(Ok(message)) = messages.recv().await {
        match message {
            AggregatedMessage::Binary(bytes) => match ClientFrame::parse(&bytes, v5) {
                ClientFrame::Stdin(data) => {
                    if let Some(writer) = input.as_mut()
                        && (writer.write_all(&data).await.is_err() || writer.flush().await.is_err())
                    {
                        input = None;
                    }
                }
                ClientFrame::Resize(size) => resize.apply(&docker, size).await,
                ClientFrame::Close(STDIN) => {
                    // Half-close: the process reads EOF, its output still flows.
                    if let Some(mut writer) = input.take() {
                        let _ = writer.shutdown().await;
                    }
                }
                ClientFrame::Close(_) | ClientFrame::Ignored => {}
            },
            AggregatedMessage::Ping(data) => {
                if session.pong(&data).await.is_err() {
                    break;
                }
            }
            AggregatedMessage::Close(_) => break,
            AggregatedMessage::Text(_) | AggregatedMessage::Pong(_) => {}
        }
    }
    let _ = gone.send(());
}

/// The exec's exit code, once Docker has recorded it.
async fn exit_code(docker: &Docker, id: &str) -> Result<i64, String> {
    for _ in 0..100 {
        let inspected = docker
            .inspect_exec(id)
            .await
            .map_err(|e| format!("inspecting the exec: {e}"))?;
        if inspected.running != Some(true)
            && let Some(code) = inspected.exit_code
        {
            return Ok(code);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("the exec's exit code was not recorded".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(query: &str, mode: Mode) -> Result<StreamOptions, ApiError> {
        StreamOptions::parse(&Query::parse(query).unwrap(), mode)
    }

    #[test]
    fn options_parse_as_kubectl_sends_them() {
        assert_eq!(
            options(
                "command=sh&command=-c&command=exit%203&container=app&stderr=true&stdout=true",
                Mode::Exec
            )
            .unwrap(),
            StreamOptions {
                command: vec!["sh".into(), "-c".into(), "exit 3".into()],
                container: Some("app".into()),
                stdout: true,
                stderr: true,
                ..StreamOptions::default()
            }
        );
        let tty = options(
            "command=sh&stdin=true&stdout=true&stderr=true&tty=true",
            Mode::Exec,
        )
        .unwrap();
        assert!(tty.tty && tty.stdin && !tty.stderr, "no stderr with a tty");
        assert!(
            options("stdout=true", Mode::Attach)
                .unwrap()
                .command
                .is_empty()
        );
    }

    #[test]
    fn bad_options_are_refused() {
        for (query, mode, message) in [
            (
                "stdout=true",
                Mode::Exec,
                "you must specify at least 1 command",
            ),
            (
                "command=ls",
                Mode::Exec,
                "you must specify at least 1 of stdin, stdout, stderr",
            ),
            (
                "command=ls&stdout=yes",
                Mode::Exec,
                "invalid value for stdout: \"yes\" (expected true or false)",
            ),
        ] {
            let e = options(query, mode).expect_err(query);
            assert_eq!((e.code(), e.to_string().as_str()), (400, message));
        }
    }

    #[test]
    fn client_frames() {
        let b = |bytes: &[u8]| Bytes::copy_from_slice(bytes);
        assert_eq!(
            ClientFrame::parse(&b(b"\x00exit\n"), true),
            ClientFrame::Stdin(b(b"exit\n"))
        );
        assert_eq!(
            ClientFrame::parse(&b(b"\x04{\"Width\":100,\"Height\":30}\n"), true),
            ClientFrame::Resize(TerminalSize {
                width: 100,
                height: 30
            })
        );
        assert_eq!(
            ClientFrame::parse(&b(b"\xff\x00"), true),
            ClientFrame::Close(STDIN)
        );
        assert_eq!(
            ClientFrame::parse(&b(b"\xff\x00"), false),
            ClientFrame::Ignored,
            "v4 has no close channel"
        );
        for ignored in [&b""[..], b"\x04not json", b"\x01out", b"\xff"] {
            assert_eq!(
                ClientFrame::parse(&b(ignored), true),
                ClientFrame::Ignored,
                "{ignored:?}"
            );
        }
        assert_eq!(&frame(STDERR, b"oops")[..], b"\x02oops");
    }

    #[test]
    fn exit_statuses_are_what_kubectl_reads() {
        let command = vec!["sh".to_string(), "-c".to_string(), "exit 3".to_string()];
        assert_eq!(
            exit_status(&command, 0),
            json!({"metadata": {}, "status": "Success"})
        );
        assert_eq!(
            exit_status(&command, 3).to_string(),
            r#"{"details":{"causes":[{"message":"3","reason":"ExitCode"}]},"message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","metadata":{},"reason":"NonZeroExitCode","status":"Failure"}"#
        );
        let failed = error_status("error executing command in container: no such file");
        assert_eq!(failed["reason"], "InternalError");
        assert_eq!(
            failed["message"],
            "Internal error occurred: error executing command in container: no such file"
        );
        assert!(is_start_failure(
            b"OCI runtime exec failed: exec failed: container_linux.go:380: starting container process caused: exec: \"nosuch\": executable file not found in $PATH: unknown\r\n"
        ));
        assert!(!is_start_failure(b"hello\n"));
    }
}
