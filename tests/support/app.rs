//! The server in this test process: `Application` on 127.0.0.1:0 with a fresh data directory
//! (HTTPS unless a test turns TLS off), a client that trusts its CA and carries its token, and
//! kubectl bound to its kubeconfig. REST suites run it with controllers off; the kubectl,
//! OpenAPI, history and remote suites with every worker `serve` runs.

use super::internals::{Application, Settings};
use super::kubectl::Kubectl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tempfile::TempDir;

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    /// Empty when the server serves plain HTTP (no token, nothing sent).
    pub token: String,
    pub dir: TempDir,
    /// kubectl with this server's kubeconfig and a cache of its own.
    pub kubectl: Kubectl,
    pub handle: actix_web::dev::ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    tls: bool,
}

/// A server for REST tests: controllers off, so nothing but the test writes (the namespace
/// controller still runs).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server for REST tests (controllers off), then `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    start_in(dir, configure).await
}

/// Start a REST-test server (controllers off) on an existing data directory (for restart
/// tests).
pub async fn start_in(dir: TempDir, configure: impl FnOnce(&mut Settings)) -> TestApp {
    start_with_workers(dir, |settings| {
        settings.workers.controllers = false;
        configure(settings);
    })
    .await
}

/// A server with every worker `serve` runs (controllers on, no nodes unless `configure` adds
/// simulated ones) on data directory `dir`.
pub async fn start_with_workers(dir: TempDir, configure: impl FnOnce(&mut Settings)) -> TestApp {
    super::init();
    super::turn::shared();
    let mut settings = Settings::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().to_path_buf(),
    );
    configure(&mut settings);
    let tls = settings.tls;
    let app = Application::build(settings).await.expect("server builds");
    let url = app.url().to_string();
    let kubectl = Kubectl::new(app.kubeconfig_path());
    let handle = app.server_handle();
    let task = tokio::spawn(app.run_until_stopped());
    let mut app = TestApp {
        url,
        client: reqwest::Client::new(),
        token: String::new(),
        dir,
        kubectl,
        handle,
        task,
        tls,
    };
    if tls {
        app.token = super::http::token(app.dir.path());
    }
    app.client_with(|client| client.timeout(Duration::from_secs(30)));
    app
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    /// Replace the client with one `builder` makes from a builder that trusts this server's
    /// CA (for a longer timeout, or redirects not followed).
    pub fn client_with(
        &mut self,
        builder: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) {
        let base = match self.tls {
            true => super::http::trusting(self.dir.path()),
            false => reqwest::Client::builder(),
        };
        self.client = builder(base).build().expect("client");
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.url));
        match self.token.is_empty() {
            true => builder,
            false => builder.bearer_auth(&self.token),
        }
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

    /// Stop the server and its workers; the data directory stays for a restart.
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
