//! The service proxy: follows Services and Endpoints through the informer and keeps the
//! service network (`network::Network`) at what they say (`table::desired`), gives
//! LoadBalancer Services their ingress (127.0.0.1, where they listen), and tells on each
//! Service, with a Warning Event, what could not be served. The `kubernetes` Service goes to
//! the API server's own listener (`table::route_api_server`). Where the network cannot run (not
//! root, or no Docker node in this process) every Service with a selector gets one Event saying
//! why, and the API works as before.

use super::network::Network;
use super::table::{self, Range};
use crate::api::actors;
use crate::events::{Command, RequestMeta, UpdatePart};
use crate::model::ResourceKind;
use crate::model::meta::{self, Lookup as _};
use crate::shutdown::Shutdown;
use crate::workers::cache::{Informer, Snapshot};
use crate::workers::causes;
use crate::workers::record::{Reporter, Severity};
use crate::workers::{Caused, Submit, run_commands, wait_for_change};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the service network runs, or why it does not.
#[derive(Debug, Clone)]
pub enum Routing {
    On { data_dir: PathBuf, range: Range },
    Off { why: String },
}

/// Why a server without a Docker node routes nothing.
pub const NO_DOCKER_NODE: &str = "Service routing is off: this server runs no Docker node \
     (its Services are served by the API; nothing listens on their addresses)";

impl Routing {
    /// The cluster DNS pods are given: the range's tenth address, when routing is on.
    pub fn cluster_dns(&self) -> Option<std::net::Ipv4Addr> {
        match self {
            Routing::On { range, .. } => Some(range.nth(10)),
            Routing::Off { .. } => None,
        }
    }
}

/// What the proxy reads: Services and Endpoints.
fn what_it_reads(snapshot: &Snapshot) -> u64 {
    snapshot.changes_of(ResourceKind::Service) + snapshot.changes_of(ResourceKind::Endpoints)
}

/// A LoadBalancer Service's status with its ingress on loopback, when it lacks it.
fn ingress_update(service: &Value) -> Option<Command> {
    if service.at("/spec/type").and_then(Value::as_str) != Some("LoadBalancer") {
        return None;
    }
    let ingress = json!([{"ip": "127.0.0.1", "ipMode": "VIP"}]);
    if service.at("/status/loadBalancer/ingress") == Some(&ingress) {
        return None;
    }
    let mut updated = service.clone();
    updated["status"] = json!({"loadBalancer": {"ingress": ingress}});
    Some(Command::Update {
        kind: ResourceKind::Service,
        namespace: meta::namespace(service).to_string(),
        name: meta::name(service).to_string(),
        object: updated,
        part: UpdatePart::Status,
    })
}

/// Run the service proxy until shutdown.
pub async fn run_service_proxy_until_stopped(
    submit: Arc<dyn Submit>,
    informer: Informer,
    routing: Routing,
    api_listener: Option<std::net::SocketAddr>,
    mut shutdown: Shutdown,
) {
    let reporter = Reporter::new(actors::SERVICE_PROXY, "");
    let mut network = None;
    let mut off = match routing {
        Routing::On { data_dir, range } => match Network::start(&data_dir, range).await {
            Ok(started) => {
                tracing::info!(range = %range, dns = %started.dns, "service network up");
                network = Some(started);
                None
            }
            Err(why) => {
                tracing::warn!(%why, "service network unavailable");
                Some(format!("Service routing is unavailable: {why}"))
            }
        },
        Routing::Off { why } => Some(why),
    };
    let mut told: HashSet<String> = HashSet::new();
    let mut changes = informer.changes();
    let mut seen = None;
    loop {
        let mark = what_it_reads(&informer.read());
        if seen != Some(mark) {
            seen = Some(mark);
            let (services, endpoints): (Vec<Value>, Vec<Value>) = {
                let snapshot = informer.read();
                (
                    snapshot
                        .list(ResourceKind::Service)
                        .map(|s| (**s).clone())
                        .collect(),
                    snapshot
                        .list(ResourceKind::Endpoints)
                        .map(|e| (**e).clone())
                        .collect(),
                )
            };
            let now = jiff::Timestamp::now();
            let mut commands: Vec<Caused> = Vec::new();
            match network.as_mut() {
                Some(network) => {
                    let s: Vec<&Value> = services.iter().collect();
                    let e: Vec<&Value> = endpoints.iter().collect();
                    let mut desired = table::desired(&s, &e, network.range, network.dns);
                    if let Some(api) = api_listener {
                        table::route_api_server(&mut desired, api);
                    }
                    let problems = network.apply(desired.clone()).await;
                    for (socket, why) in problems {
                        let Some((_, route)) = desired.listens.iter().find(|(s, _)| **s == socket)
                        else {
                            continue;
                        };
                        let (namespace, name) = route.service.split_once('/').unwrap_or(("", ""));
                        let Some(service) = services
                            .iter()
                            .find(|s| meta::namespace(s) == namespace && meta::name(s) == name)
                        else {
                            continue;
                        };
                        if told.insert(format!("{}/{socket}", meta::uid(service))) {
                            commands.push((
                                reporter.event(
                                    ResourceKind::Service,
                                    service,
                                    Severity::Warning,
                                    "ListenFailed",
                                    &why,
                                    now,
                                ),
                                Vec::new(),
                            ));
                        }
                    }
                    for service in &services {
                        if let Some(update) = ingress_update(service) {
                            let spec = informer
                                .read()
                                .marks_of(ResourceKind::Service, service)
                                .spec;
                            commands.push((
                                update,
                                causes::only(spec, "type LoadBalancer: ingress 127.0.0.1"),
                            ));
                        }
                    }
                }
                None => {
                    let why = off.get_or_insert_with(String::new).clone();
                    for service in &services {
                        if service.at("/spec/selector").is_none()
                            || !told.insert(meta::uid(service).to_string())
                        {
                            continue;
                        }
                        commands.push((
                            reporter.event(
                                ResourceKind::Service,
                                service,
                                Severity::Warning,
                                "RoutingUnavailable",
                                &why,
                                now,
                            ),
                            Vec::new(),
                        ));
                    }
                }
            }
            if !commands.is_empty() {
                let last = run_commands(submit.as_ref(), commands, || {
                    RequestMeta::worker(actors::SERVICE_PROXY)
                })
                .await;
                informer.wait_for(last).await;
            }
        }
        if !wait_for_change(&mut changes, Duration::from_secs(2), &mut shutdown).await {
            break;
        }
    }
    if let Some(mut network) = network {
        network.stop();
        tracing::info!("service network down: its host changes undone");
    }
}
