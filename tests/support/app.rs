//! Test harness: a real server on 127.0.0.1:0 over HTTPS with a fresh data directory, and a
//! client that trusts its CA and carries its token.

use kubetrail::config::Settings;
use kubetrail::startup::Application;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Once;
use std::time::Duration;
use tempfile::TempDir;

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub token: String,
    pub dir: TempDir,
    pub handle: actix_web::dev::ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

static INIT: Once = Once::new();

fn init() {
    INIT.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if std::env::var("TEST_LOG").is_ok() {
            kubetrail::telemetry::init("debug");
        }
    });
}

/// A server for REST tests: controllers off, so nothing but the test writes (the namespace
/// controller still runs).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    start_in(dir, configure).await
}

/// Start a server on an existing data directory (for restart tests).
pub async fn start_in(dir: TempDir, configure: impl FnOnce(&mut Settings)) -> TestApp {
    init();
    let mut settings = Settings::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().to_path_buf(),
    );
    settings.workers.controllers = false;
    configure(&mut settings);
    let app = Application::build(settings).await.expect("server builds");
    let url = app.url().to_string();
    let handle = app.server_handle();
    let task = tokio::spawn(app.run_until_stopped());
    let ca = std::fs::read(dir.path().join("ca.crt")).expect("ca");
    let token = std::fs::read_to_string(dir.path().join("token"))
        .expect("token")
        .trim()
        .to_string();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("ca pem")])
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    TestApp {
        url,
        client,
        token,
        dir,
        handle,
        task,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> Reply {
        let response = builder.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> Reply {
        self.send(
            self.request(Method::PATCH, path)
                .header("Content-Type", content_type)
                .body(body.to_string()),
        )
        .await
    }

    pub async fn delete(&self, path: &str, body: Option<&Value>) -> Reply {
        let mut builder = self.request(Method::DELETE, path);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        self.send(builder).await
    }

    pub async fn create_pod(&self, namespace: &str, pod: &Value) -> Reply {
        self.post(&format!("/api/v1/namespaces/{namespace}/pods"), pod)
            .await
    }

    /// The newest resourceVersion, from an empty-namespace list.
    pub async fn latest_rv(&self) -> i64 {
        let reply = self.get("/api/v1/namespaces").await;
        reply.body["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("list resourceVersion")
    }

    pub async fn stop(self) -> TempDir {
        self.handle.stop(true).await;
        let _ = self.task.await;
        self.dir
    }
}

pub fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "echo"}},
        "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1",
                                  "ports": [{"containerPort": 3000}]}]},
    })
}

pub fn pod_labelled(name: &str, labels: Value) -> Value {
    let mut p = pod(name);
    p["metadata"]["labels"] = labels;
    p
}

pub fn replicaset(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {"replicas": replicas,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1"}]}}},
    })
}

/// Names of a list's items, in order.
pub fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Poll `check` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
