//! Workers in another process: a `Connection` to a kubetrail server's HTTP API that lists and
//! watches objects into an `Informer` (the same list+watch kubectl uses) and submits a worker's
//! commands as the equivalent REST calls, naming the worker in `User-Agent` and the event that
//! caused each write in the `Kubetrail-Caused-By` header.

use super::Submit;
use super::cache::{Informer, Snapshot};
use crate::events::{Cause, Command, Propagation, RequestMeta, UpdatePart};
use crate::model::{ResourceKind, meta};
use anyhow::Context;
use base64::Engine;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// An authenticated client of one server.
pub struct Connection {
    client: reqwest::Client,
    server: String,
    token: Option<String>,
    ca_pem: Option<String>,
}

/// What the current context of a kubeconfig names: the server's URL (without a trailing
/// slash), its CA certificate (PEM) and the bearer token.
#[derive(Debug, Clone)]
pub struct KubeconfigTarget {
    pub server: String,
    pub ca_pem: Option<String>,
    pub token: Option<String>,
}

/// Read the current context of the kubeconfig at `path`.
pub fn read_kubeconfig(path: &std::path::Path) -> anyhow::Result<KubeconfigTarget> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "no kubeconfig at {}: the server writes it when it starts; start it with \
             `kubetrail serve` (or name another data directory or kubeconfig)",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let config: Value = yaml_serde::from_str(&text)
        .with_context(|| format!("parsing the kubeconfig {}", path.display()))?;
    let current = config["current-context"].as_str().unwrap_or("");
    let named = |list: &str, name: &str| {
        config[list]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["name"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let context = named("contexts", current);
    let cluster = named(
        "clusters",
        context["context"]["cluster"].as_str().unwrap_or(""),
    );
    let user = named("users", context["context"]["user"].as_str().unwrap_or(""));
    let server = cluster["cluster"]["server"]
        .as_str()
        .with_context(|| format!("the kubeconfig {} names no server", path.display()))?
        .trim_end_matches('/')
        .to_string();
    let ca_pem = cluster["cluster"]["certificate-authority-data"]
        .as_str()
        .map(|b64| base64::engine::general_purpose::STANDARD.decode(b64))
        .transpose()
        .context("decoding certificate-authority-data")?
        .map(String::from_utf8)
        .transpose()
        .context("certificate-authority-data is not PEM text")?;
    let token = user["user"]["token"].as_str().map(str::to_string);
    Ok(KubeconfigTarget {
        server,
        ca_pem,
        token,
    })
}

impl Connection {
    /// Connect to `server` (https with `ca_pem` and `token`, or plain http).
    pub fn new(server: &str, token: Option<String>, ca_pem: Option<&str>) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
        if let Some(pem) = ca_pem {
            builder = builder.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes())?]);
        }
        Ok(Connection {
            client: builder.build()?,
            server: server.trim_end_matches('/').to_string(),
            token,
            ca_pem: ca_pem.map(str::to_string),
        })
    }

    /// Connect with the current context of a kubeconfig file (server, CA data, token).
    pub fn from_kubeconfig(path: &std::path::Path) -> anyhow::Result<Self> {
        let target = read_kubeconfig(path)?;
        Self::new(&target.server, target.token, target.ca_pem.as_deref())
    }

    /// The CA the server's certificate is checked against (PEM), when it is served over TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The server's URL, without a trailing slash.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// A request to `path` on the server, with the token when there is one.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self
            .client
            .request(method, format!("{}{path}", self.server));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }
}

fn group_prefix(kind: ResourceKind) -> String {
    match kind.group() {
        "" => "/api/v1".to_string(),
        group => format!("/apis/{group}/{}", kind.version()),
    }
}

fn collection(kind: ResourceKind, namespace: &str) -> String {
    if kind.namespaced() && !namespace.is_empty() {
        format!(
            "{}/namespaces/{namespace}/{}",
            group_prefix(kind),
            kind.plural()
        )
    } else {
        format!("{}/{}", group_prefix(kind), kind.plural())
    }
}

fn item(kind: ResourceKind, namespace: &str, name: &str) -> String {
    format!("{}/{name}", collection(kind, namespace))
}

fn rv_of(object: &Value) -> i64 {
    meta::resource_version(object).parse().unwrap_or(0)
}

/// A kubelet in another process asks the server for its pods' tokens: a TokenRequest bound to
/// the pod, as Kubernetes' kubelet asks.
impl crate::workers::kubelet::tokens::TokenSource for Connection {
    fn pod_token(
        &self,
        request: crate::workers::kubelet::tokens::PodToken,
    ) -> BoxFuture<'_, Result<crate::workers::kubelet::tokens::Issued, String>> {
        Box::pin(async move {
            let path = format!(
                "{}/token",
                item(
                    ResourceKind::ServiceAccount,
                    &request.namespace,
                    &request.service_account
                )
            );
            let audiences: Vec<&str> = request.audience.iter().map(String::as_str).collect();
            let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": audiences, "expirationSeconds": request.seconds,
                         "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                            "name": request.pod_name, "uid": request.pod_uid}}});
            let response = self
                .request(reqwest::Method::POST, &path)
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let answer: Value = response.json().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(answer["message"]
                    .as_str()
                    .unwrap_or("the TokenRequest was refused")
                    .to_string());
            }
            let token = answer["status"]["token"]
                .as_str()
                .ok_or("the TokenRequest's answer holds no token")?
                .to_string();
            let now = jiff::Timestamp::now().as_second();
            let expires_at = answer["status"]["expirationTimestamp"]
                .as_str()
                .and_then(meta::parse_time)
                .map_or(now + request.seconds, |t| t.as_second());
            Ok(crate::workers::kubelet::tokens::Issued {
                token,
                issued_at: now,
                expires_at,
            })
        })
    }
}

impl Submit for Connection {
    fn submit_command(
        &self,
        command: Command,
        meta: RequestMeta,
    ) -> BoxFuture<'_, Result<i64, String>> {
        Box::pin(async move {
            use reqwest::Method;
            let (method, path, body, content_type, query): (
                Method,
                String,
                Value,
                &str,
                Vec<(&str, String)>,
            ) = match command {
                Command::Create {
                    kind,
                    namespace,
                    object,
                } => (
                    Method::POST,
                    collection(kind, &namespace),
                    object,
                    "application/json",
                    vec![],
                ),
                Command::Update {
                    kind,
                    namespace,
                    name,
                    object,
                    part,
                } => {
                    let mut path = item(kind, &namespace, &name);
                    match part {
                        UpdatePart::Main => {}
                        UpdatePart::Status => path.push_str("/status"),
                        UpdatePart::Finalize => path.push_str("/finalize"),
                    }
                    (Method::PUT, path, object, "application/json", vec![])
                }
                Command::Scale {
                    kind,
                    namespace,
                    name,
                    replicas,
                    ..
                } => (
                    Method::PATCH,
                    format!("{}/scale", item(kind, &namespace, &name)),
                    json!({"spec": {"replicas": replicas}}),
                    "application/merge-patch+json",
                    vec![],
                ),
                Command::Bind {
                    namespace,
                    name,
                    node,
                    uid,
                } => (
                    Method::POST,
                    format!("{}/binding", item(ResourceKind::Pod, &namespace, &name)),
                    json!({"apiVersion": "v1", "kind": "Binding",
                               "metadata": {"name": name, "uid": uid.unwrap_or_default()},
                               "target": {"apiVersion": "v1", "kind": "Node", "name": node}}),
                    "application/json",
                    vec![],
                ),
                Command::Delete {
                    kind,
                    namespace,
                    name,
                    options,
                } => {
                    let mut body = json!({"apiVersion": "v1", "kind": "DeleteOptions"});
                    if let Some(grace) = options.grace_period_seconds {
                        body["gracePeriodSeconds"] = json!(grace);
                    }
                    if let Some(uid) = options.precondition_uid {
                        body["preconditions"]["uid"] = json!(uid);
                    }
                    if let Some(rv) = options.precondition_resource_version {
                        body["preconditions"]["resourceVersion"] = json!(rv);
                    }
                    if let Some(p) = options.propagation {
                        body["propagationPolicy"] = json!(match p {
                            Propagation::Background => "Background",
                            Propagation::Foreground => "Foreground",
                            Propagation::Orphan => "Orphan",
                        });
                    }
                    (
                        Method::DELETE,
                        item(kind, &namespace, &name),
                        body,
                        "application/json",
                        vec![],
                    )
                }
                Command::Apply {
                    kind,
                    namespace,
                    name,
                    config,
                    force,
                } => (
                    Method::PATCH,
                    item(kind, &namespace, &name),
                    config,
                    "application/apply-patch+yaml",
                    vec![
                        ("fieldManager", meta.manager()),
                        ("force", force.to_string()),
                    ],
                ),
            };
            let mut request = self
                .request(method, &path)
                .header("Content-Type", content_type)
                .header("User-Agent", meta.actor.clone())
                .query(&query)
                .body(body.to_string());
            if let Some(cause) = meta.caused_by {
                request = request.header(crate::api::CAUSED_BY_HEADER, cause.to_string());
            }
            if !meta.causes.is_empty() {
                let causes = &meta.causes[..meta.causes.len().min(crate::api::MAX_CAUSES)];
                request = request.header(crate::api::CAUSES_HEADER, Cause::list_json(causes));
            }
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let reply: Value = response.json().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(reply["message"]
                    .as_str()
                    .unwrap_or("request failed")
                    .to_string());
            }
            Ok(rv_of(&reply))
        })
    }
}

/// An informer of `kinds` fed by list+watch against the server; it reconnects (and relists
/// when told its resourceVersion is too old) until the process ends.
pub fn informer(connection: Arc<Connection>, kinds: &[ResourceKind]) -> Informer {
    let (state, tx, informer) = Informer::detached();
    let tx = Arc::new(tx);
    for kind in kinds {
        tokio::spawn(follow(connection.clone(), *kind, state.clone(), tx.clone()));
    }
    informer
}

fn publish(state: &RwLock<Snapshot>, tx: &watch::Sender<i64>) {
    let seq = state.read().map(|s| s.seq).unwrap_or(0);
    tx.send_replace(seq);
}

async fn follow(
    connection: Arc<Connection>,
    kind: ResourceKind,
    state: Arc<RwLock<Snapshot>>,
    tx: Arc<watch::Sender<i64>>,
) {
    loop {
        match list_and_watch(&connection, kind, &state, &tx).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(kind = %kind, error = %e, "remote list+watch failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// One list, then watches from its resourceVersion until the server says it is too old.
async fn list_and_watch(
    connection: &Connection,
    kind: ResourceKind,
    state: &RwLock<Snapshot>,
    tx: &watch::Sender<i64>,
) -> anyhow::Result<()> {
    let list: Value = connection
        .request(reqwest::Method::GET, &collection(kind, ""))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut rv: i64 = list["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let objects: Vec<Arc<Value>> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| Arc::new(o.clone()))
        .collect();
    if let Ok(mut snapshot) = state.write() {
        snapshot.replace_kind(kind, objects, rv);
    }
    publish(state, tx);
    loop {
        let response = connection
            .request(reqwest::Method::GET, &collection(kind, ""))
            .query(&[
                ("watch", "true".to_string()),
                ("allowWatchBookmarks", "true".to_string()),
                ("resourceVersion", rv.to_string()),
                ("timeoutSeconds", "300".to_string()),
            ])
            .send()
            .await?
            .error_for_status()?;
        let mut body = response.bytes_stream();
        let mut buffer = Vec::new();
        while let Some(chunk) = body.next().await {
            buffer.extend_from_slice(&chunk?);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let Ok(event) = serde_json::from_slice::<Value>(&line) else {
                    continue;
                };
                let object = &event["object"];
                let seq = rv_of(object);
                match event["type"].as_str().unwrap_or("") {
                    "ERROR" => return Ok(()),
                    "BOOKMARK" => {}
                    kind_of_change => {
                        let event_type = if kind_of_change == "DELETED" {
                            crate::events::EventType::Deleted
                        } else {
                            crate::events::EventType::Updated
                        };
                        if let Ok(mut snapshot) = state.write() {
                            snapshot.apply(kind, event_type, Arc::new(object.clone()), seq);
                        }
                    }
                }
                rv = rv.max(seq);
                if let Ok(mut snapshot) = state.write() {
                    snapshot.seq = snapshot.seq.max(seq);
                }
                publish(state, tx);
            }
        }
    }
}
