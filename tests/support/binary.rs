//! The real `kubetrail` binary as a test starts it: `serve` on a data directory over HTTPS
//! with a client that trusts its CA and carries its token, and `verify` on a directory.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `kubetrail serve` process over HTTPS, with a client that trusts its CA.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub token: String,
    pub client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Start `kubetrail serve` on `dir` (no nodes), its log appended to `log`, and wait until
    /// it prints its URL.
    pub fn start(dir: &Path, log: &Path) -> Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
            .args(["serve", "--listen", "127.0.0.1:0", "--no-docker-node"])
            .arg("--data-dir")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("kubetrail starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut url = String::new();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("kubetrail is serving the Kubernetes API at ") {
                url = rest.trim().to_string();
                break;
            }
        }
        // Keep reading so the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        assert!(
            !url.is_empty(),
            "the server printed its URL; its log:\n{}",
            tail(log)
        );
        let ca = std::fs::read(dir.join("ca.crt")).expect("ca.crt");
        let token = std::fs::read_to_string(dir.join("token"))
            .expect("token")
            .trim()
            .to_string();
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("ca pem")])
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        Server {
            child,
            url,
            token,
            client,
        }
    }

    /// SIGKILL, and wait until the process is gone (so its lock on the directory is too).
    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.request(reqwest::Method::GET, path))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}

/// Send a request; the HTTP status and the JSON body (a string when it is not JSON).
pub async fn answer(request: reqwest::RequestBuilder) -> Result<(u16, Value), reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

pub fn resource_version(object: &Value) -> i64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or_else(|| panic!("a resourceVersion in {object}"))
}

/// The last lines of a server log, for failure messages.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// `kubetrail verify --data-dir dir` succeeds.
pub fn assert_verify_clean(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .arg("verify")
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
