//! A container's environment as Kubernetes' kubelet makes it (`makeEnvironmentVariables`):
//! the service links (`KUBERNETES_SERVICE_HOST` and friends for the `kubernetes` Service
//! always, every Service of the pod's namespace when `enableServiceLinks`), then `envFrom`
//! (ConfigMaps and Secrets, with `prefix`; keys that are no variable names skipped with a
//! Warning), then `env` in order (`value` with `$(VAR)` expansion, `valueFrom`: `fieldRef`,
//! `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef`). A missing ConfigMap, Secret or key
//! that is not `optional` is a `CreateContainerConfigError` with the kubelet's message. Pure:
//! what it reads is in `Sources`, gathered by the kubelet from its informer.

use super::pod::{ConfigError, Runtime};
use crate::model::meta;
use crate::model::validation::parse_quantity;
use base64::Engine as _;
use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The namespace and name of the Service whose variables every container gets.
pub const MASTER_SERVICE: (&str, &str) = ("default", "kubernetes");

/// The objects a pod's environment and volumes are made from: the ConfigMaps, Secrets and
/// Services of its namespace, the `kubernetes` Service, and its ServiceAccount.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub config_maps: HashMap<String, Arc<Value>>,
    pub secrets: HashMap<String, Arc<Value>>,
    /// The Services of the pod's namespace.
    pub services: Vec<Arc<Value>>,
    /// `default/kubernetes`.
    pub master: Option<Arc<Value>>,
    /// The pod's ServiceAccount, when it exists.
    pub service_account: Option<Arc<Value>>,
}

/// What reading one key of a ConfigMap or Secret found.
pub enum Lookup {
    Found(Vec<u8>),
    /// The object is missing: the kubelet's NotFound message.
    NoObject(String),
    /// The object has no such key: the kubelet's message.
    NoKey(String),
}

impl Sources {
    /// The data of ConfigMap `name` (`data` and `binaryData`), or its NotFound message.
    pub fn config_map(&self, name: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
        let object = self
            .config_maps
            .get(name)
            .ok_or_else(|| format!("configmap \"{name}\" not found"))?;
        let mut out = BTreeMap::new();
        for (key, value) in object["data"].as_object().into_iter().flatten() {
            out.insert(
                key.clone(),
                value.as_str().unwrap_or("").as_bytes().to_vec(),
            );
        }
        for (key, value) in object["binaryData"].as_object().into_iter().flatten() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.as_str().unwrap_or(""))
                .unwrap_or_default();
            out.insert(key.clone(), bytes);
        }
        Ok(out)
    }

    /// The text data of ConfigMap `name` only (`data`: what environment variables read).
    fn config_map_text(&self, name: &str) -> Result<BTreeMap<String, String>, String> {
        let object = self
            .config_maps
            .get(name)
            .ok_or_else(|| format!("configmap \"{name}\" not found"))?;
        Ok(object["data"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .collect())
    }

    /// The decoded data of Secret `name`, or its NotFound message.
    pub fn secret(&self, name: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
        let object = self
            .secrets
            .get(name)
            .ok_or_else(|| format!("secret \"{name}\" not found"))?;
        let mut out = BTreeMap::new();
        for (key, value) in object["data"].as_object().into_iter().flatten() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.as_str().unwrap_or(""))
                .unwrap_or_default();
            out.insert(key.clone(), bytes);
        }
        // A Secret written before `stringData` was folded keeps it readable all the same.
        for (key, value) in object["stringData"].as_object().into_iter().flatten() {
            out.insert(
                key.clone(),
                value.as_str().unwrap_or("").as_bytes().to_vec(),
            );
        }
        Ok(out)
    }

    fn key(&self, secret: bool, namespace: &str, name: &str, key: &str) -> Lookup {
        let data = if secret {
            self.secret(name)
        } else {
            self.config_map_text(name).map(|d| {
                d.into_iter()
                    .map(|(k, v)| (k, v.into_bytes()))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        match data {
            Err(message) => Lookup::NoObject(message),
            Ok(data) => match data.get(key) {
                Some(value) => Lookup::Found(value.clone()),
                None => Lookup::NoKey(format!(
                    "couldn't find key {key} in {} {namespace}/{name}",
                    if secret { "Secret" } else { "ConfigMap" }
                )),
            },
        }
    }
}

/// Kubernetes' `IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
pub fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '-' | '.' | '_'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

fn variable_name(service: &str) -> String {
    service.replace('-', "_").to_uppercase()
}

/// The variables of one Service, as `envvars.FromServices` writes them.
fn service_variables(service: &Value) -> Vec<(String, String)> {
    let ip = service["spec"]["clusterIP"].as_str().unwrap_or("");
    if ip.is_empty() || ip == "None" {
        return Vec::new();
    }
    let ports = service["spec"]["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(first) = ports.first() else {
        return Vec::new();
    };
    let prefix = variable_name(meta::name(service));
    let port_of = |p: &Value| p["port"].as_i64().unwrap_or(0);
    let mut out = vec![
        (format!("{prefix}_SERVICE_HOST"), ip.to_string()),
        (format!("{prefix}_SERVICE_PORT"), port_of(first).to_string()),
    ];
    for port in &ports {
        if let Some(name) = port["name"].as_str().filter(|n| !n.is_empty()) {
            out.push((
                format!("{prefix}_SERVICE_PORT_{}", variable_name(name)),
                port_of(port).to_string(),
            ));
        }
    }
    for (i, port) in ports.iter().enumerate() {
        let protocol = port["protocol"].as_str().unwrap_or("TCP");
        let lower = protocol.to_lowercase();
        let number = port_of(port);
        let url = format!("{lower}://{ip}:{number}");
        if i == 0 {
            out.push((format!("{prefix}_PORT"), url.clone()));
        }
        let at = format!("{prefix}_PORT_{number}_{}", protocol.to_uppercase());
        out.push((at.clone(), url));
        out.push((format!("{at}_PROTO"), lower));
        out.push((format!("{at}_PORT"), number.to_string()));
        out.push((format!("{at}_ADDR"), ip.to_string()));
    }
    out
}

/// The service links of a pod in `namespace`: `kubernetes` always, the namespace's Services
/// when `links` (a Service of the namespace wins over the master one of the same name).
pub fn service_environment(
    sources: &Sources,
    namespace: &str,
    links: bool,
) -> Vec<(String, String)> {
    let mut by_name: BTreeMap<&str, &Value> = BTreeMap::new();
    if links {
        for service in &sources.services {
            if meta::namespace(service) == namespace {
                by_name.insert(meta::name(service), service);
            }
        }
    }
    if let Some(master) = &sources.master {
        by_name.entry(MASTER_SERVICE.1).or_insert(master);
    }
    by_name
        .values()
        .flat_map(|s| service_variables(s))
        .collect()
}

/// Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` is a literal `$`, and
/// anything else is left as written.
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
            && let Some(value) = lookup(&inner[..end])
        {
            out.push_str(&value);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A pod field a `fieldRef` (or a downwardAPI volume item) names.
pub fn field_value(pod: &Pod, path: &str, runtime: &Runtime) -> Result<String, ConfigError> {
    let keyed = |map: &Option<BTreeMap<String, String>>, prefix: &str| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?.to_string();
        Some(map.as_ref()?.get(&key).cloned().unwrap_or_default())
    };
    let spec = pod.spec.as_ref();
    let meta = &pod.metadata;
    let value = match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => runtime.node.to_string(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => runtime.pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => runtime.host_ip.to_string(),
        _ => keyed(&meta.labels, "metadata.labels['")
            .or_else(|| keyed(&meta.annotations, "metadata.annotations['"))
            .ok_or_else(|| ConfigError::config(format!("unsupported fieldRef path {path:?}")))?,
    };
    Ok(value)
}

/// The downward API's rendering of labels and annotations: `key="value"` lines, sorted.
fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", Value::String(v.clone())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `resourceFieldRef`: the container's limit or request of cpu, memory or
/// ephemeral-storage, divided by `divisor` and rounded up as the kubelet does. A limit that
/// is not set reads as the node's allocatable, which this kubelet does not know: 0.
pub fn resource_value(
    container: &Container,
    resource: &str,
    divisor: Option<&str>,
) -> Result<String, ConfigError> {
    let (section, name) = resource.split_once('.').ok_or_else(|| {
        ConfigError::config(format!("unsupported container resource {resource:?}"))
    })?;
    let resources = container.resources.as_ref();
    let list = match section {
        "limits" => resources.and_then(|r| r.limits.as_ref()),
        "requests" => resources.and_then(|r| r.requests.as_ref()),
        _ => {
            return Err(ConfigError::config(format!(
                "unsupported container resource {resource:?}"
            )));
        }
    };
    let nanos = list
        .and_then(|l| l.get(name))
        .and_then(|q| parse_quantity(&q.0).ok())
        .map(|q| q.nanos)
        .unwrap_or(0);
    let divisor = parse_quantity(divisor.unwrap_or("1"))
        .ok()
        .map(|q| q.nanos)
        .filter(|d| *d > 0)
        .unwrap_or(1_000_000_000);
    // Rounded up: a 250m cpu limit in cores is 1.
    Ok(((nanos + divisor - 1) / divisor).to_string())
}

/// A container's resolved environment, in order, and the Warnings to record about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Environment {
    pub vars: Vec<(String, String)>,
    /// `(reason, message)` of each Warning Event (`InvalidEnvironmentVariableNames`).
    pub warnings: Vec<(String, String)>,
}

impl Environment {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Set `name` in an ordered list, in place when it is there already.
fn set(vars: &mut Vec<(String, String)>, name: String, value: String) {
    match vars.iter_mut().find(|(k, _)| *k == name) {
        Some(slot) => slot.1 = value,
        None => vars.push((name, value)),
    }
}

/// The environment of `container` in `pod`, as the kubelet makes it.
pub fn environment(
    pod: &Pod,
    container: &Container,
    runtime: &Runtime,
    sources: &Sources,
) -> Result<Environment, ConfigError> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let links = pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let services = service_environment(sources, namespace, links);
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut warnings = Vec::new();
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or("");
        let (data, what, name, optional) = if let Some(cm) = &from.config_map_ref {
            let data = sources.config_map_text(&cm.name).map(|d| {
                d.into_iter()
                    .map(|(k, v)| (k, v.into_bytes()))
                    .collect::<BTreeMap<_, _>>()
            });
            (data, "configMap", &cm.name, cm.optional)
        } else if let Some(secret) = &from.secret_ref {
            (
                sources.secret(&secret.name),
                "secret",
                &secret.name,
                secret.optional,
            )
        } else {
            continue;
        };
        let data = match data {
            Ok(data) => data,
            Err(_) if optional == Some(true) => continue,
            Err(message) => return Err(ConfigError::config(message)),
        };
        let mut invalid = Vec::new();
        for (key, value) in data {
            let key = format!("{prefix}{key}");
            if !is_env_var_name(&key) {
                invalid.push(key);
                continue;
            }
            set(&mut vars, key, String::from_utf8_lossy(&value).into_owned());
        }
        if !invalid.is_empty() {
            invalid.sort();
            warnings.push((
                "InvalidEnvironmentVariableNames".to_string(),
                format!(
                    "Keys [{}] from the EnvFrom {what} {namespace}/{name} were skipped since \
                     they are considered invalid environment variable names.",
                    invalid.join(", ")
                ),
            ));
        }
    }
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(value), _) if !value.is_empty() => {
                let lookup = |name: &str| {
                    vars.iter()
                        .find(|(k, _)| k == name)
                        .or_else(|| services.iter().find(|(k, _)| k == name))
                        .map(|(_, v)| v.clone())
                };
                expand(value, &lookup)
            }
            (_, Some(from)) => {
                if let Some(field) = &from.field_ref {
                    field_value(pod, &field.field_path, runtime)?
                } else if let Some(resource) = &from.resource_field_ref {
                    let target = match resource.container_name.as_deref() {
                        Some(name) if !name.is_empty() => super::pod::all_containers(pod)
                            .find(|c| c.name == name)
                            .unwrap_or(container),
                        _ => container,
                    };
                    resource_value(
                        target,
                        &resource.resource,
                        resource.divisor.as_ref().map(|d| d.0.as_str()),
                    )?
                } else if let Some(key) = &from.config_map_key_ref {
                    match sources.key(false, namespace, &key.name, &key.key) {
                        Lookup::Found(value) => String::from_utf8_lossy(&value).into_owned(),
                        Lookup::NoObject(_) | Lookup::NoKey(_) if key.optional == Some(true) => {
                            continue;
                        }
                        Lookup::NoObject(message) | Lookup::NoKey(message) => {
                            return Err(ConfigError::config(message));
                        }
                    }
                } else if let Some(key) = &from.secret_key_ref {
                    match sources.key(true, namespace, &key.name, &key.key) {
                        Lookup::Found(value) => String::from_utf8_lossy(&value).into_owned(),
                        Lookup::NoObject(_) | Lookup::NoKey(_) if key.optional == Some(true) => {
                            continue;
                        }
                        Lookup::NoObject(message) | Lookup::NoKey(message) => {
                            return Err(ConfigError::config(message));
                        }
                    }
                } else {
                    String::new()
                }
            }
            _ => String::new(),
        };
        set(&mut vars, var.name.clone(), value);
    }
    for (name, value) in services {
        if !vars.iter().any(|(k, _)| *k == name) {
            vars.push((name, value));
        }
    }
    Ok(Environment { vars, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn runtime() -> Runtime<'static> {
        Runtime {
            sandbox_id: "sb",
            pod_ip: "172.17.0.5",
            host_ip: "127.0.0.1",
            node: "n1",
            pod_dir: "/data/pods/u",
        }
    }

    fn sources() -> Sources {
        let cm = json!({"metadata": {"name": "cfg", "namespace": "shop"},
            "data": {"LOG_LEVEL": "debug", "mode": "fast", "bad key": "x", "1st": "y"}});
        let secret = json!({"metadata": {"name": "creds", "namespace": "shop"},
            "data": {"password": "c2VjcmV0", "user": "YWRtaW4="}});
        let web = json!({"metadata": {"name": "web-front", "namespace": "shop"},
            "spec": {"clusterIP": "10.96.0.20", "ports": [
                {"name": "http", "port": 80, "protocol": "TCP"},
                {"name": "dns", "port": 53, "protocol": "UDP"}]}});
        let headless = json!({"metadata": {"name": "db", "namespace": "shop"},
            "spec": {"clusterIP": "None", "ports": [{"port": 5432}]}});
        let master = json!({"metadata": {"name": "kubernetes", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}});
        Sources {
            config_maps: HashMap::from([("cfg".to_string(), Arc::new(cm))]),
            secrets: HashMap::from([("creds".to_string(), Arc::new(secret))]),
            services: vec![Arc::new(web), Arc::new(headless)],
            master: Some(Arc::new(master)),
            service_account: None,
        }
    }

    fn pod(container: Value, links: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "shop", "uid": "u", "labels": {"app": "web"}},
            "spec": {"enableServiceLinks": links, "containers": [container]},
        }))
        .unwrap()
    }

    /// The variables a row expects, or its error message.
    type Expected = Result<Vec<(&'static str, &'static str)>, &'static str>;

    fn resolve(container: Value, links: bool) -> Result<Environment, ConfigError> {
        let p = pod(container, links);
        environment(
            &p,
            &p.spec.as_ref().unwrap().containers[0],
            &runtime(),
            &sources(),
        )
    }

    #[test]
    fn the_kubernetes_service_is_always_in_the_environment_and_others_with_links() {
        let without = resolve(json!({"name": "c"}), false).unwrap();
        assert_eq!(without.get("KUBERNETES_SERVICE_HOST"), Some("10.96.0.1"));
        assert_eq!(without.get("KUBERNETES_SERVICE_PORT"), Some("443"));
        assert_eq!(without.get("KUBERNETES_SERVICE_PORT_HTTPS"), Some("443"));
        assert_eq!(without.get("KUBERNETES_PORT"), Some("tcp://10.96.0.1:443"));
        assert_eq!(
            without.get("KUBERNETES_PORT_443_TCP"),
            Some("tcp://10.96.0.1:443")
        );
        assert_eq!(without.get("KUBERNETES_PORT_443_TCP_PROTO"), Some("tcp"));
        assert_eq!(without.get("KUBERNETES_PORT_443_TCP_PORT"), Some("443"));
        assert_eq!(
            without.get("KUBERNETES_PORT_443_TCP_ADDR"),
            Some("10.96.0.1")
        );
        assert_eq!(without.get("WEB_FRONT_SERVICE_HOST"), None);
        let with = resolve(json!({"name": "c"}), true).unwrap();
        assert_eq!(with.get("WEB_FRONT_SERVICE_HOST"), Some("10.96.0.20"));
        assert_eq!(with.get("WEB_FRONT_SERVICE_PORT"), Some("80"));
        assert_eq!(with.get("WEB_FRONT_SERVICE_PORT_DNS"), Some("53"));
        assert_eq!(
            with.get("WEB_FRONT_PORT_53_UDP"),
            Some("udp://10.96.0.20:53")
        );
        // A headless Service has no address to give.
        assert_eq!(with.get("DB_SERVICE_HOST"), None);
    }

    /// (env / envFrom, expected variable or error) for each row.
    #[test]
    fn value_from_and_env_from_resolve_as_the_kubelet_does() {
        let table: Vec<(Value, Expected)> = vec![
            (
                json!({"env": [{"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "LOG_LEVEL"}}}]}),
                Ok(vec![("LEVEL", "debug")]),
            ),
            (
                json!({"env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]}),
                Ok(vec![("PW", "secret")]),
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]}),
                Err("configmap \"nope\" not found"),
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]}),
                Err("couldn't find key k in ConfigMap shop/cfg"),
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}),
                Err("secret \"nope\" not found"),
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}]}),
                Err("couldn't find key k in Secret shop/creds"),
            ),
            (
                json!({"env": [
                    {"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": true}}},
                    {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k", "optional": true}}},
                    {"name": "Z", "value": "[$(X)]"}]}),
                Ok(vec![("Z", "[$(X)]")]),
            ),
            (
                json!({"envFrom": [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "creds"}, "prefix": "DB_"}],
                       "env": [{"name": "URL", "value": "$(DB_user)@$(KUBERNETES_SERVICE_HOST):$(mode)"}]}),
                Ok(vec![
                    ("LOG_LEVEL", "debug"),
                    ("mode", "fast"),
                    ("DB_password", "secret"),
                    ("URL", "admin@10.96.0.1:fast"),
                ]),
            ),
            (
                json!({"envFrom": [{"configMapRef": {"name": "nope"}}]}),
                Err("configmap \"nope\" not found"),
            ),
            (
                json!({"envFrom": [{"secretRef": {"name": "nope", "optional": true}}]}),
                Ok(vec![]),
            ),
            (
                json!({"env": [
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}),
                Ok(vec![("NODE", "n1"), ("APP", "web"), ("IP", "172.17.0.5")]),
            ),
            (
                json!({"resources": {"limits": {"memory": "64Mi", "cpu": "250m"}},
                       "env": [
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    {"name": "MCPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}}]}),
                Ok(vec![("MEM", "64"), ("CPU", "1"), ("MCPU", "250")]),
            ),
        ];
        for (container, expected) in table {
            let mut c = container.clone();
            c["name"] = json!("c");
            let got = resolve(c, false);
            match expected {
                Ok(vars) => {
                    let env = got.unwrap_or_else(|e| panic!("{container}: {e:?}"));
                    for (name, value) in &vars {
                        assert_eq!(env.get(name), Some(*value), "{container}: {name}");
                    }
                    for absent in ["X", "Y"] {
                        if !vars.iter().any(|(n, _)| *n == absent) {
                            assert_eq!(env.get(absent), None, "{container}");
                        }
                    }
                }
                Err(message) => {
                    let e = got.expect_err(&container.to_string());
                    assert_eq!(e.reason, "CreateContainerConfigError");
                    assert_eq!(e.message, message);
                }
            }
        }
    }

    #[test]
    fn env_from_keys_that_are_no_variable_names_are_skipped_with_a_warning() {
        let env = resolve(
            json!({"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}}]}),
            false,
        )
        .unwrap();
        assert_eq!(env.get("bad key"), None);
        assert_eq!(
            env.warnings,
            vec![(
                "InvalidEnvironmentVariableNames".to_string(),
                "Keys [1st, bad key] from the EnvFrom configMap shop/cfg were skipped since they \
                 are considered invalid environment variable names."
                    .to_string()
            )]
        );
    }

    #[test]
    fn expansion_follows_kubernetes_rules() {
        let vars = |name: &str| (name == "A").then(|| "1".to_string());
        assert_eq!(
            expand("$(NOPE) $(A)$ $$(A) $(A", &vars),
            "$(NOPE) 1$ $(A) $(A"
        );
    }
}
