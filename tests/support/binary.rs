//! The real `kubetrail` binary in a process of its own: `serve` on a data directory with the
//! flags a test gives (its URL and kubeconfig read from what it prints, which it does once it
//! listens), stopped or `kill -9`ed by pid and waited for; and one-shot commands such as
//! `verify`.

use super::http::{answer, token, trusting};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `kubetrail` command (the binary cargo built for these tests).
pub fn kubetrail(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubetrail"));
    command.args(args);
    command
}

/// Run `kubetrail` to its end off the async runtime's threads: (exit code, stdout, stderr).
pub async fn run(args: &[&str]) -> (i32, String, String) {
    run_command(kubetrail(args)).await
}

/// Run a `kubetrail` command (with more arguments or environment than `run` gives) to its end
/// off the async runtime's threads: (exit code, stdout, stderr).
pub async fn run_command(mut command: Command) -> (i32, String, String) {
    let out = tokio::task::spawn_blocking(move || command.output().expect("kubetrail runs"))
        .await
        .expect("ran");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `kubetrail verify --data-dir dir` succeeds.
pub fn assert_verify_clean(dir: &Path) {
    let out = kubetrail(&["verify"])
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("kubetrail verify runs");
    assert!(
        out.status.success(),
        "kubetrail verify: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The last lines of a server log, for failure messages.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// How to start `kubetrail serve --listen 127.0.0.1:0 --data-dir DIR`: more flags, the
/// environment, where its stderr goes (nowhere unless `log_to`).
pub struct Serve {
    command: Command,
    dir: PathBuf,
    log: Option<PathBuf>,
    /// The service range when this server runs the service network (host changes, as root);
    /// servers run side by side in tests, so the network is off unless a test asks for it,
    /// with a range of its own.
    service_network: Option<String>,
}

impl Serve {
    pub fn new(dir: &Path) -> Serve {
        Serve {
            command: kubetrail(&["serve", "--listen", "127.0.0.1:0"]),
            dir: dir.to_path_buf(),
            log: None,
            service_network: None,
        }
    }

    /// Run the service network on `range` (a range no other test's server uses).
    pub fn service_network(mut self, range: &str) -> Serve {
        self.service_network = Some(range.to_string());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Serve {
        self.command.args(args);
        self
    }

    pub fn env_remove(mut self, name: &str) -> Serve {
        self.command.env_remove(name);
        self
    }

    /// Append the server's stderr to `log` (shown when it fails to start).
    pub fn log_to(mut self, log: &Path) -> Serve {
        self.log = Some(log.to_path_buf());
        self
    }

    /// Spawn it and wait until it prints its URL and kubeconfig (it serves by then).
    pub fn start(mut self) -> Server {
        super::init();
        super::turn::shared();
        let stderr = match &self.log {
            Some(log) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .expect("server log"),
            ),
            None => Stdio::null(),
        };
        match &self.service_network {
            Some(range) => self.command.args(["--service-cluster-ip-range", range]),
            None => self.command.arg("--no-service-network"),
        };
        let mut child = self
            .command
            .arg("--data-dir")
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("kubetrail starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut url = String::new();
        let mut kubeconfig = None;
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("kubetrail is serving the Kubernetes API at ") {
                url = rest.trim().to_string();
            }
            if let Some(path) = line.strip_prefix("export KUBECONFIG=") {
                kubeconfig = Some(PathBuf::from(path.trim()));
                break;
            }
        }
        // Keep reading so the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let log = self.log.as_deref().map(tail).unwrap_or_default();
        assert!(
            !url.is_empty(),
            "the server printed its URL; its log:\n{log}"
        );
        let kubeconfig = kubeconfig
            .unwrap_or_else(|| panic!("the server printed its kubeconfig; its log:\n{log}"));
        let tls = url.starts_with("https://");
        let client = match tls {
            true => trusting(&self.dir),
            false => reqwest::Client::builder(),
        };
        Server {
            child,
            graceful: self.service_network.is_some(),
            url,
            kubeconfig,
            token: if tls { token(&self.dir) } else { String::new() },
            client: client
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
        }
    }
}

/// A `kubetrail serve` process; killed and waited for when dropped.
pub struct Server {
    pub child: Child,
    /// Stopped with SIGTERM (and waited for) rather than killed: it runs the service network,
    /// whose host changes it undoes on the way out.
    pub graceful: bool,
    pub url: String,
    pub kubeconfig: PathBuf,
    /// Empty over plain HTTP.
    pub token: String,
    /// Trusts the server's CA; 20 s timeout.
    pub client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.graceful {
            self.terminate();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `kubetrail serve` on `dir` over HTTPS without nodes, its stderr appended to `log`.
    pub fn start(dir: &Path, log: &Path) -> Server {
        Serve::new(dir)
            .args(&["--no-docker-node"])
            .log_to(log)
            .start()
    }

    /// SIGKILL now, without waiting (the server may still be shared; drop or `kill_9` reaps).
    pub fn sigkill(&self) {
        // SAFETY: kill(2) on the pid of the child this fixture spawned and has not reaped.
        let killed = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(killed, 0, "SIGKILL to the server");
    }

    /// SIGKILL, and wait until the process is gone (so its lock on the directory is too).
    /// SIGTERM, and wait (at most 30 s) for it to stop.
    pub fn terminate(&mut self) {
        let pid = self.child.id() as i32;
        // The server's own pid, which this test started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill_9(mut self) {
        self.graceful = false;
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.url));
        match self.token.is_empty() {
            true => builder,
            false => builder.bearer_auth(&self.token),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.request(reqwest::Method::GET, path))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}
