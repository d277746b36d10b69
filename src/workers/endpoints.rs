//! The Endpoints and EndpointSlice controllers: for each Service with a selector, the pods it
//! selects become its endpoints, as Kubernetes' endpoint and endpointslice controllers make
//! them. A pod with an IP that is ready (or any pod, with `publishNotReadyAddresses`) is an
//! address; one that is not ready is a `notReadyAddress` (`ready: false` in a slice); a
//! finished pod or one without an IP is none; a pod being deleted leaves Endpoints and stays
//! in slices as `terminating`. Each service port resolves its `targetPort` against the pod: a
//! number as it is, a name through the pod's container ports (a pod without that name has no
//! endpoint for that port). `desired_endpoints` and `desired_slice` are pure; they read each
//! pod as held (`Held`: its facts), so a pass over every Service parses no pod.

use super::cache::{Held, Snapshot};
use super::causes::{self, Input};
use super::pods::PodFacts;
use super::{Cause, Controller, Pass, Stored, Wake};
use crate::api::actors;
use crate::events::{Command, DeleteOptions, UpdatePart};
use crate::model::ResourceKind;
use crate::model::meta::{self, Lookup as _};
use crate::model::selector::LabelSelector;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming the controller that manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// Kubernetes' headless marker on Endpoints of a Service with `clusterIP: None`.
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// The Service's selector, when it has one (a Service without one has its endpoints managed
/// by hand, not by these controllers).
pub fn selector_of(service: &Value) -> Option<LabelSelector> {
    let selector = service.at("/spec/selector")?.as_object()?;
    if selector.is_empty() {
        return None;
    }
    let labels: BTreeMap<String, String> = selector
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect();
    let text = labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    LabelSelector::parse(&text).ok()
}

fn is_ready(pod: &Held) -> bool {
    pod.ready() == Some("True")
}

/// The pod's port a service port's `targetPort` names (`FindPort`): a number as it is, a name
/// through the pod's container ports with that name and protocol. It reads the pod's facts
/// (`PodFacts::of` makes them of a parsed pod).
pub fn target_port(service_port: &Value, pod: &PodFacts) -> Option<i64> {
    let protocol = service_port["protocol"].as_str().unwrap_or("TCP");
    match service_port.get("targetPort") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(name)) => match name.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => pod.named_port(name, protocol),
        },
        _ => service_port["port"].as_i64(),
    }
}

fn target_ref(pod: &Held) -> Value {
    json!({
        "kind": "Pod",
        "namespace": pod.namespace(),
        "name": pod.name(),
        "uid": pod.uid(),
    })
}

/// The endpoint port of `service_port` for `pod` (None when the pod has no such port).
fn endpoint_port(service_port: &Value, pod: &Held) -> Option<Value> {
    let port = target_port(service_port, pod.pod())?;
    let mut out = json!({
        "port": port,
        "protocol": service_port["protocol"].as_str().unwrap_or("TCP"),
    });
    if let Some(name) = service_port["name"].as_str().filter(|n| !n.is_empty()) {
        out["name"] = json!(name);
    }
    if let Some(app) = service_port.get("appProtocol") {
        out["appProtocol"] = app.clone();
    }
    Some(out)
}

fn ports_of(service: &Value) -> Vec<Value> {
    service
        .at("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The Endpoints object the Service should have, given the pods of its namespace; `None` for
/// a Service without a selector.
pub fn desired_endpoints(service: &Value, pods: &[&Held]) -> Option<Value> {
    let selector = selector_of(service)?;
    let publish_not_ready = service.at("/spec/publishNotReadyAddresses") == Some(&json!(true));
    let service_ports = ports_of(service);
    // Addresses grouped by the ports they serve (`RepackSubsets`): ports -> (ready, not ready).
    type Addresses = (BTreeMap<String, Value>, BTreeMap<String, Value>);
    let mut subsets: BTreeMap<String, (Vec<Value>, Addresses)> = BTreeMap::new();
    for pod in pods {
        let facts = pod.pod();
        if !facts.labels.selected_by(&selector) || facts.is_terminal() {
            continue;
        }
        if pod.deleting() {
            continue;
        }
        let Some(ip) = facts.ip.as_deref() else {
            continue;
        };
        let mut ports: Vec<Value> = service_ports
            .iter()
            .filter_map(|p| endpoint_port(p, pod))
            .collect();
        if ports.is_empty() && !service_ports.is_empty() {
            continue;
        }
        ports.sort_by_key(|p| {
            (
                p["name"].as_str().unwrap_or("").to_string(),
                p["port"].as_i64(),
            )
        });
        let key = serde_json::to_string(&ports).unwrap_or_default();
        let mut address = json!({"ip": ip, "targetRef": target_ref(pod)});
        if let Some(node) = pod.node() {
            address["nodeName"] = json!(node);
        }
        if let (Some(hostname), Some(subdomain)) = (&facts.hostname, &facts.subdomain)
            && subdomain == meta::name(service)
        {
            address["hostname"] = json!(hostname);
        }
        let entry = subsets
            .entry(key)
            .or_insert_with(|| (ports, Default::default()));
        let sort_key = format!("{ip}/{}", pod.uid());
        if is_ready(pod) || publish_not_ready {
            entry.1.0.insert(sort_key, address);
        } else {
            entry.1.1.insert(sort_key, address);
        }
    }
    let subsets: Vec<Value> = subsets
        .into_values()
        .map(|(ports, (ready, not_ready))| {
            let mut subset = Map::new();
            if !ready.is_empty() {
                subset.insert(
                    "addresses".into(),
                    Value::Array(ready.into_values().collect()),
                );
            }
            if !not_ready.is_empty() {
                subset.insert(
                    "notReadyAddresses".into(),
                    Value::Array(not_ready.into_values().collect()),
                );
            }
            if !ports.is_empty() {
                subset.insert("ports".into(), Value::Array(ports));
            }
            Value::Object(subset)
        })
        .collect();
    let mut labels = meta::string_map(service, "labels");
    if service.at("/spec/clusterIP").and_then(Value::as_str) == Some("None") {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    let mut endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": meta::name(service), "namespace": meta::namespace(service)},
    });
    if !labels.is_empty() {
        endpoints["metadata"]["labels"] = json!(labels);
    }
    if !subsets.is_empty() {
        endpoints["subsets"] = Value::Array(subsets);
    }
    Some(endpoints)
}

/// Whether the Endpoints `current` already says what `desired` says (its subsets and labels).
pub fn endpoints_current(current: &Value, desired: &Value) -> bool {
    current.get("subsets").filter(|s| !s.is_null()) == desired.get("subsets")
        && meta::string_map(current, "labels") == meta::string_map(desired, "labels")
}

/// The one IPv4 EndpointSlice the Service should have (up to the endpoints a slice holds,
/// 100 in Kubernetes; beyond that the first 100 by IP), given its namespace's pods; `None` for
/// a Service without a selector. Its name is left to the caller (`<service>-<suffix>`).
pub fn desired_slice(service: &Value, pods: &[&Held]) -> Option<Value> {
    const MAX_ENDPOINTS: usize = 100;
    let selector = selector_of(service)?;
    let publish_not_ready = service.at("/spec/publishNotReadyAddresses") == Some(&json!(true));
    let service_ports = ports_of(service);
    let mut endpoints: BTreeMap<String, Value> = BTreeMap::new();
    let mut ports: BTreeSet<String> = BTreeSet::new();
    let mut port_values: Vec<Value> = Vec::new();
    for pod in pods {
        let facts = pod.pod();
        if !facts.labels.selected_by(&selector) || facts.is_terminal() {
            continue;
        }
        let Some(ip) = facts.ip.as_deref() else {
            continue;
        };
        let pod_ports: Vec<Value> = service_ports
            .iter()
            .filter_map(|p| endpoint_port(p, pod))
            .collect();
        if pod_ports.is_empty() && !service_ports.is_empty() {
            continue;
        }
        for port in pod_ports {
            if ports.insert(port.to_string()) {
                port_values.push(port);
            }
        }
        let terminating = pod.deleting();
        let serving = is_ready(pod) || publish_not_ready;
        let mut endpoint = json!({
            "addresses": [ip],
            "conditions": {
                "ready": serving && !terminating,
                "serving": serving,
                "terminating": terminating,
            },
            "targetRef": target_ref(pod),
        });
        if let Some(node) = pod.node() {
            endpoint["nodeName"] = json!(node);
        }
        endpoints.insert(format!("{ip}/{}", pod.uid()), endpoint);
    }
    let mut labels = meta::string_map(service, "labels");
    labels.insert(SERVICE_NAME_LABEL.into(), meta::name(service).to_string());
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    port_values.sort_by_key(|p| {
        (
            p["name"].as_str().unwrap_or("").to_string(),
            p["port"].as_i64(),
        )
    });
    Some(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "generateName": format!("{}-", meta::name(service)),
            "namespace": meta::namespace(service),
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "Service", "name": meta::name(service),
                "uid": meta::uid(service), "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "addressType": "IPv4",
        "endpoints": endpoints.into_values().take(MAX_ENDPOINTS).collect::<Vec<_>>(),
        "ports": port_values,
    }))
}

/// Whether the slice `current` already says what `desired` says.
pub fn slice_current(current: &Value, desired: &Value) -> bool {
    current
        .get("endpoints")
        .filter(|e| !e.is_null())
        .unwrap_or(&json!([]))
        == desired.get("endpoints").unwrap_or(&json!([]))
        && current
            .get("ports")
            .filter(|p| !p.is_null())
            .unwrap_or(&json!([]))
            == desired.get("ports").unwrap_or(&json!([]))
        && meta::string_map(current, "labels") == meta::string_map(desired, "labels")
}

/// Marks Endpoints this controller manages (Kubernetes' endpoint controller sets it, so the
/// mirroring controller leaves them be): only those are deleted when their Service goes.
pub const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";

/// The pods of each namespace, as held.
fn pods_by_namespace(snapshot: &Snapshot) -> HashMap<&str, Vec<&Held>> {
    let mut pods: HashMap<&str, Vec<&Held>> = HashMap::new();
    for pod in snapshot.pods() {
        pods.entry(pod.namespace()).or_default().push(pod);
    }
    pods
}

/// What a Service's endpoints were read from: its spec and the selected pods' creation,
/// readiness, IP and deletion, each at the event that last changed it.
fn causes_of(service: &Value, pods: &[&Held], snapshot: &Snapshot, outcome: &str) -> Vec<Cause> {
    let mut inputs = vec![Input::new(
        snapshot.marks_of(ResourceKind::Service, service).spec,
        format!("spec of Service {}", meta::name(service)),
    )];
    if let Some(selector) = selector_of(service) {
        for pod in pods
            .iter()
            .filter(|p| p.pod().labels.selected_by(&selector))
        {
            let marks = snapshot.marks_held(ResourceKind::Pod, pod);
            let name = pod.name();
            if let Some(ready) = pod.ready() {
                inputs.push(Input::new(marks.ready, format!("pod {name} Ready={ready}")));
            }
            if let Some(deletion) = marks.deletion {
                inputs.push(Input::new(deletion, format!("pod {name} is being deleted")));
            }
            inputs.push(Input::new(marks.phase, format!("pod {name} phase")));
            inputs.push(Input::new(marks.labels, format!("labels of pod {name}")));
            inputs.push(Input::new(marks.created, format!("pod {name} created")));
        }
    }
    causes::newest_first(inputs, outcome)
}

fn ready_count(endpoints: &Value) -> usize {
    endpoints["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["addresses"].as_array().map_or(0, Vec::len))
        .sum()
}

/// One pass of the endpoint controller: every Service's Endpoints made, brought up to date,
/// or (their Service gone) deleted.
fn reconcile_endpoints(snapshot: &Snapshot) -> Pass {
    let pods = pods_by_namespace(snapshot);
    let mut pass = Pass::default();
    let mut services = HashSet::new();
    for service in snapshot.list(ResourceKind::Service) {
        let (namespace, name) = (meta::namespace(service), meta::name(service));
        services.insert((namespace, name));
        if meta::deletion_timestamp(service).is_some() {
            continue;
        }
        let in_namespace = pods.get(namespace).map(Vec::as_slice).unwrap_or(&[]);
        let Some(mut desired) = desired_endpoints(service, in_namespace) else {
            continue;
        };
        desired["metadata"]["labels"][SKIP_MIRROR_LABEL] = json!("true");
        let outcome = format!("{} ready", ready_count(&desired));
        let command = match snapshot.get(ResourceKind::Endpoints, namespace, name) {
            None => Command::Create {
                kind: ResourceKind::Endpoints,
                namespace: namespace.to_string(),
                object: desired,
            },
            Some(current) if !endpoints_current(current, &desired) => {
                let mut updated = (**current).clone();
                match desired.get("subsets") {
                    Some(subsets) => updated["subsets"] = subsets.clone(),
                    None => {
                        if let Some(map) = updated.as_object_mut() {
                            map.remove("subsets");
                        }
                    }
                }
                updated["metadata"]["labels"] = desired["metadata"]["labels"].clone();
                Command::Update {
                    kind: ResourceKind::Endpoints,
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    object: updated,
                    part: UpdatePart::Main,
                }
            }
            Some(_) => continue,
        };
        let because = causes_of(service, in_namespace, snapshot, &outcome);
        pass.commands.push((command, because));
    }
    for endpoints in snapshot.list(ResourceKind::Endpoints) {
        let (namespace, name) = (meta::namespace(endpoints), meta::name(endpoints));
        let managed = meta::string_map(endpoints, "labels").get(SKIP_MIRROR_LABEL)
            == Some(&"true".to_string());
        if managed && !services.contains(&(namespace, name)) {
            pass.commands.push((
                Command::Delete {
                    kind: ResourceKind::Endpoints,
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    options: DeleteOptions {
                        precondition_uid: Some(meta::uid(endpoints).to_string()),
                        ..Default::default()
                    },
                },
                Vec::new(),
            ));
        }
    }
    pass
}

/// One pass of the endpointslice controller: each Service with a selector keeps one IPv4
/// slice of its own (made, brought up to date, extra ones deleted); the garbage collector
/// deletes a gone Service's slices through their ownerReference.
fn reconcile_slices(snapshot: &Snapshot) -> Pass {
    let pods = pods_by_namespace(snapshot);
    let mut slices: HashMap<&str, Vec<&Value>> = HashMap::new();
    for slice in snapshot.list(ResourceKind::EndpointSlice) {
        let owner = meta::owner_uids(slice).into_iter().next();
        let managed = meta::string_map(slice, "labels").get(MANAGED_BY_LABEL)
            == Some(&MANAGED_BY.to_string());
        if let (Some(owner), true) = (owner, managed) {
            slices.entry(owner).or_default().push(slice.as_ref());
        }
    }
    let mut pass = Pass::default();
    for service in snapshot.list(ResourceKind::Service) {
        if meta::deletion_timestamp(service).is_some() {
            continue;
        }
        let namespace = meta::namespace(service);
        let in_namespace = pods.get(namespace).map(Vec::as_slice).unwrap_or(&[]);
        let Some(desired) = desired_slice(service, in_namespace) else {
            continue;
        };
        let mut own: Vec<&Value> = slices.remove(meta::uid(service)).unwrap_or_default();
        own.sort_by_key(|s| {
            (
                meta::meta_str(s, "creationTimestamp").to_string(),
                meta::name(s).to_string(),
            )
        });
        let ready = desired["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["conditions"]["ready"] == true)
            .count();
        let because = causes_of(service, in_namespace, snapshot, &format!("{ready} ready"));
        match own.first() {
            None => pass.commands.push((
                Command::Create {
                    kind: ResourceKind::EndpointSlice,
                    namespace: namespace.to_string(),
                    object: desired,
                },
                because.clone(),
            )),
            Some(current) if !slice_current(current, &desired) => {
                let mut updated = (*current).clone();
                updated["endpoints"] = desired["endpoints"].clone();
                updated["ports"] = desired["ports"].clone();
                updated["metadata"]["labels"] = desired["metadata"]["labels"].clone();
                pass.commands.push((
                    Command::Update {
                        kind: ResourceKind::EndpointSlice,
                        namespace: namespace.to_string(),
                        name: meta::name(current).to_string(),
                        object: updated,
                        part: UpdatePart::Main,
                    },
                    because.clone(),
                ));
            }
            Some(_) => {}
        }
        for extra in own.iter().skip(1) {
            pass.commands.push((
                Command::Delete {
                    kind: ResourceKind::EndpointSlice,
                    namespace: namespace.to_string(),
                    name: meta::name(extra).to_string(),
                    options: DeleteOptions {
                        precondition_uid: Some(meta::uid(extra).to_string()),
                        ..Default::default()
                    },
                },
                because.clone(),
            ));
        }
    }
    pass
}

/// What both controllers read: Services, pods and their own objects.
fn what_they_read(snapshot: &Snapshot) -> u64 {
    [
        ResourceKind::Service,
        ResourceKind::Pod,
        ResourceKind::Endpoints,
        ResourceKind::EndpointSlice,
    ]
    .into_iter()
    .map(|kind| snapshot.changes_of(kind))
    .sum()
}

/// The endpoint controller: Services' Endpoints. A change of what it reads wakes it (pod
/// readiness included, so an endpoint follows its pod within a pass), and a tick every 5 s.
pub struct EndpointsController;

impl Controller for EndpointsController {
    fn actor(&self) -> &'static str {
        actors::ENDPOINT_CONTROLLER
    }

    fn wake(&self) -> Wake {
        Wake {
            tick: Duration::from_secs(5),
            interest: what_they_read,
        }
    }

    fn reconcile(&self, snapshot: &Snapshot, _stored: &Stored, _now: jiff::Timestamp) -> Pass {
        reconcile_endpoints(snapshot)
    }
}

/// The endpointslice controller: Services' EndpointSlices.
pub struct EndpointSliceController;

impl Controller for EndpointSliceController {
    fn actor(&self) -> &'static str {
        actors::ENDPOINTSLICE_CONTROLLER
    }

    fn wake(&self) -> Wake {
        Wake {
            tick: Duration::from_secs(5),
            interest: what_they_read,
        }
    }

    fn reconcile(&self, snapshot: &Snapshot, _stored: &Stored, _now: jiff::Timestamp) -> Pass {
        reconcile_slices(snapshot)
    }
}

#[cfg(test)]
mod tests {
    //! given (Service + pods) / when desired / then endpoints.
    use super::*;
    use std::sync::Arc;

    fn service(ports: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "default", "uid": "svc-uid", "labels": {"team": "a"}},
               "spec": {"selector": {"app": "web"}, "ports": ports, "clusterIP": "10.96.0.10"}})
    }

    fn pod(name: &str, ip: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "uid": format!("{name}-uid"), "labels": {"app": "web"}},
               "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
               "status": {"phase": "Running", "podIP": ip,
                          "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    /// `desired_endpoints` of the pods as the informer holds them.
    fn endpoints_of(service: &Value, pods: &[&Value]) -> Option<Value> {
        let held = held(pods);
        desired_endpoints(service, &held.iter().collect::<Vec<_>>())
    }

    /// `desired_slice` of the pods as the informer holds them.
    fn slice_of(service: &Value, pods: &[&Value]) -> Option<Value> {
        let held = held(pods);
        desired_slice(service, &held.iter().collect::<Vec<_>>())
    }

    fn held(pods: &[&Value]) -> Vec<Held> {
        pods.iter()
            .map(|p| Held::new(ResourceKind::Pod, Arc::new((*p).clone()), None))
            .collect()
    }

    #[test]
    fn ready_pods_are_addresses_and_unready_ones_are_not() {
        let svc = service(json!([{"port": 80, "targetPort": 8080, "protocol": "TCP"}]));
        let a = pod("a", "10.0.0.2", true);
        let b = pod("b", "10.0.0.1", false);
        let c = pod("c", "10.0.0.3", true);
        let mut other = pod("other", "10.0.0.9", true);
        other["metadata"]["labels"] = json!({"app": "other"});
        let mut no_ip = pod("pending", "", false);
        no_ip["status"]["podIP"] = json!(null);
        let mut done = pod("done", "10.0.0.4", false);
        done["status"]["phase"] = json!("Succeeded");
        let ep = endpoints_of(&svc, &[&a, &b, &c, &other, &no_ip, &done]).unwrap();
        let subset = &ep["subsets"][0];
        let ips = |k: &str| -> Vec<&str> {
            subset[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["ip"].as_str().unwrap())
                .collect()
        };
        assert_eq!(ips("addresses"), ["10.0.0.2", "10.0.0.3"]);
        assert_eq!(ips("notReadyAddresses"), ["10.0.0.1"]);
        assert_eq!(subset["ports"], json!([{"port": 8080, "protocol": "TCP"}]));
        assert_eq!(subset["addresses"][0]["targetRef"]["name"], "a");
        assert_eq!(ep["metadata"]["labels"]["team"], "a");
    }

    #[test]
    fn a_named_target_port_resolves_per_pod() {
        let svc =
            service(json!([{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}]));
        let a = pod("a", "10.0.0.1", true);
        let mut unnamed = pod("b", "10.0.0.2", true);
        unnamed["spec"]["containers"][0]["ports"] = json!([]);
        let ep = endpoints_of(&svc, &[&a, &unnamed]).unwrap();
        assert_eq!(ep["subsets"].as_array().unwrap().len(), 1);
        assert_eq!(
            ep["subsets"][0]["ports"],
            json!([{"name": "web", "port": 8080, "protocol": "TCP"}])
        );
        assert_eq!(ep["subsets"][0]["addresses"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn terminating_pods_leave_endpoints_but_stay_in_slices_as_terminating() {
        let svc = service(json!([{"port": 80, "targetPort": 8080, "protocol": "TCP"}]));
        let mut going = pod("a", "10.0.0.1", true);
        going["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let ep = endpoints_of(&svc, &[&going]).unwrap();
        assert!(ep.get("subsets").is_none(), "{ep}");
        let slice = slice_of(&svc, &[&going]).unwrap();
        assert_eq!(
            slice["endpoints"][0]["conditions"],
            json!({"ready": false, "serving": true, "terminating": true})
        );
        assert_eq!(slice["metadata"]["labels"][SERVICE_NAME_LABEL], "web");
        assert_eq!(slice["metadata"]["ownerReferences"][0]["uid"], "svc-uid");
        assert_eq!(slice["ports"], json!([{"port": 8080, "protocol": "TCP"}]));
    }

    #[test]
    fn publish_not_ready_addresses_and_services_without_selectors() {
        let mut svc = service(json!([{"port": 80, "protocol": "TCP"}]));
        svc["spec"]["publishNotReadyAddresses"] = json!(true);
        let b = pod("b", "10.0.0.1", false);
        let ep = endpoints_of(&svc, &[&b]).unwrap();
        assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "10.0.0.1");
        assert_eq!(ep["subsets"][0]["ports"][0]["port"], 80);
        svc["spec"]["selector"] = json!(null);
        assert!(endpoints_of(&svc, &[&b]).is_none());
        assert!(slice_of(&svc, &[&b]).is_none());
    }

    #[test]
    fn a_headless_service_is_labelled_and_unchanged_endpoints_need_no_write() {
        let mut svc = service(json!([{"port": 80, "protocol": "TCP"}]));
        svc["spec"]["clusterIP"] = json!("None");
        let a = pod("a", "10.0.0.1", true);
        let ep = endpoints_of(&svc, &[&a]).unwrap();
        assert_eq!(ep["metadata"]["labels"][HEADLESS_LABEL], "");
        let mut stored = ep.clone();
        stored["metadata"]["resourceVersion"] = json!("7");
        assert!(endpoints_current(&stored, &ep));
        let b = pod("b", "10.0.0.2", true);
        assert!(!endpoints_current(
            &stored,
            &endpoints_of(&svc, &[&a, &b]).unwrap()
        ));
    }
}
