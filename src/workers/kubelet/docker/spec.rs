//! From a pod spec to Docker create requests: the sandbox that holds the pod's network
//! namespace (hostname, ports published on 127.0.0.1, emptyDir volumes) and each container
//! joined to it (command and args with Kubernetes' entrypoint rules and `$(VAR)` expansion,
//! the environment `env` resolves, working dir, limits, mounts: emptyDir volumes and the
//! API-data volumes' host directories, read-only, `subPath` below them). Pure: the same pod
//! and sources give the same requests.

use super::env::{Environment, Sources, environment, expand};
use super::pause;
use super::pod::{ConfigError, Runtime, all_containers};
use super::volumes;
use crate::api::containers as naming;
use crate::model::validation::parse_quantity;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use k8s_openapi::api::core::v1::{Container, Pod, Probe, VolumeMount};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeSet, HashMap};

fn metadata(pod: &Pod) -> (&str, &str, &str) {
    (
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.uid.as_deref().unwrap_or(""),
    )
}

fn labels(
    pod: &Pod,
    node: &str,
    container: &str,
    attempt: u32,
    role: &str,
) -> HashMap<String, String> {
    let (name, namespace, uid) = metadata(pod);
    HashMap::from([
        (naming::POD_UID.to_string(), uid.to_string()),
        (naming::POD_NAME.to_string(), name.to_string()),
        (naming::POD_NAMESPACE.to_string(), namespace.to_string()),
        (naming::CONTAINER_NAME.to_string(), container.to_string()),
        (naming::ATTEMPT.to_string(), attempt.to_string()),
        (naming::TYPE.to_string(), role.to_string()),
        (naming::NODE.to_string(), node.to_string()),
    ])
}

/// The container port a probe handler targets, resolving a named port against the
/// container's ports.
pub fn probe_port(container: &Container, port: &IntOrString) -> Option<u16> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .or_else(|| name.parse().ok()),
    }
}

fn probe_ports(container: &Container, probe: Option<&Probe>) -> Option<u16> {
    let probe = probe?;
    if let Some(http) = &probe.http_get {
        return probe_port(container, &http.port);
    }
    probe_port(container, &probe.tcp_socket.as_ref()?.port)
}

/// The TCP ports the sandbox publishes on 127.0.0.1: every declared container port and every
/// port a probe targets (the kubelet probes through them).
pub fn published_ports(pod: &Pod) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for container in all_containers(pod) {
        for port in container.ports.iter().flatten() {
            let tcp = port.protocol.as_deref().unwrap_or("TCP") == "TCP";
            if let Ok(p) = u16::try_from(port.container_port)
                && tcp
            {
                ports.insert(p);
            }
        }
        for probe in [
            &container.liveness_probe,
            &container.readiness_probe,
            &container.startup_probe,
        ] {
            ports.extend(probe_ports(container, probe.as_ref()));
        }
    }
    ports
}

/// Docker's name for the volume backing the pod's emptyDir `volume`.
pub fn volume_name(uid: &str, volume: &str) -> String {
    format!("k8s_{uid}_{volume}")
}

/// The pod's emptyDir volumes: (volume name in the spec, Docker volume name).
pub fn empty_dirs(pod: &Pod) -> Vec<(String, String)> {
    let (_, _, uid) = metadata(pod);
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter(|v| v.empty_dir.is_some())
        .map(|v| (v.name.clone(), volume_name(uid, &v.name)))
        .collect()
}

/// Whether a container's environment refers to the pod's IP (so it must be known first).
pub fn wants_pod_ip(pod: &Pod) -> bool {
    all_containers(pod)
        .flat_map(|c| c.env.iter().flatten())
        .any(|var| {
            var.value_from
                .as_ref()
                .and_then(|f| f.field_ref.as_ref())
                .is_some_and(|f| f.field_path.starts_with("status.podIP"))
        })
}

/// The pod's resolver as Kubernetes sets it: with `dnsPolicy: ClusterFirst` (the default) the
/// cluster DNS at `cluster_dns`, the search path `NAMESPACE.svc.cluster.local svc.cluster.local
/// cluster.local` and `ndots:5`; with `None`, only the pod's `dnsConfig`; with `Default` (or
/// no cluster DNS), Docker's own. `dnsConfig` adds its nameservers, searches and options.
/// (Docker writes it into the sandbox's /etc/resolv.conf, which the pod's containers share.)
pub fn resolver(
    pod: &Pod,
    cluster_dns: Option<std::net::Ipv4Addr>,
) -> Option<(Vec<String>, Vec<String>, Vec<String>)> {
    let spec = pod.spec.as_ref()?;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let (mut servers, mut searches, mut options) = match (policy, cluster_dns) {
        ("ClusterFirst" | "ClusterFirstWithHostNet", Some(ip)) => (
            vec![ip.to_string()],
            vec![
                format!("{namespace}.svc.cluster.local"),
                "svc.cluster.local".to_string(),
                "cluster.local".to_string(),
            ],
            vec!["ndots:5".to_string()],
        ),
        ("None", _) => (Vec::new(), Vec::new(), Vec::new()),
        _ => {
            spec.dns_config.as_ref()?;
            (Vec::new(), Vec::new(), Vec::new())
        }
    };
    if let Some(config) = spec.dns_config.as_ref() {
        servers.extend(config.nameservers.clone().unwrap_or_default());
        searches.extend(config.searches.clone().unwrap_or_default());
        for option in config.options.clone().unwrap_or_default() {
            let Some(name) = option.name else { continue };
            options.retain(|o| o.split(':').next() != Some(name.as_str()));
            options.push(match option.value {
                Some(value) => format!("{name}:{value}"),
                None => name,
            });
        }
    }
    Some((servers, searches, options))
}

/// The sandbox's create request.
pub fn sandbox_config(
    pod: &Pod,
    node: &str,
    cluster_dns: Option<std::net::Ipv4Addr>,
) -> ContainerCreateBody {
    let resolver = resolver(pod, cluster_dns);
    let (name, _, _) = metadata(pod);
    let hostname = pod
        .spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .unwrap_or_else(|| name.to_string());
    let ports = published_ports(pod);
    let bindings = ports
        .iter()
        .map(|p| {
            (
                format!("{p}/tcp"),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".to_string()),
                    host_port: Some(String::new()),
                }]),
            )
        })
        .collect();
    ContainerCreateBody {
        image: Some(pause::IMAGE.to_string()),
        hostname: Some(hostname),
        labels: Some(labels(
            pod,
            node,
            naming::SANDBOX_NAME,
            0,
            naming::TYPE_SANDBOX,
        )),
        exposed_ports: Some(ports.iter().map(|p| format!("{p}/tcp")).collect()),
        host_config: Some(HostConfig {
            port_bindings: Some(bindings),
            // The pod's containers join the sandbox's IPC namespace as well as its network.
            ipc_mode: Some("shareable".to_string()),
            dns: resolver
                .as_ref()
                .map(|r| r.0.clone())
                .filter(|v| !v.is_empty()),
            dns_search: resolver
                .as_ref()
                .map(|r| r.1.clone())
                .filter(|v| !v.is_empty()),
            dns_options: resolver.map(|r| r.2).filter(|v| !v.is_empty()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn quantity(text: &str, scale: i128) -> Option<i64> {
    parse_quantity(text).ok().map(|q| (q.nanos / scale) as i64)
}

/// The host source of a volume mount: the emptyDir's Docker volume, or the directory (or,
/// with `subPath`, the path below it) of an API-data volume; `None` for other volumes.
fn mount_source(
    pod: &Pod,
    mount: &VolumeMount,
    empty_dirs: &HashMap<String, String>,
    runtime: &Runtime,
) -> Option<(String, bool)> {
    if let Some(volume) = empty_dirs.get(&mount.name) {
        let source = match mount.sub_path.as_deref().filter(|p| !p.is_empty()) {
            // A subPath of an emptyDir needs the volume's path on the host: not offered.
            Some(_) => return None,
            None => volume.clone(),
        };
        return Some((source, mount.read_only == Some(true)));
    }
    let volume = pod
        .spec
        .as_ref()?
        .volumes
        .as_ref()?
        .iter()
        .find(|v| v.name == mount.name)
        .filter(|v| volumes::is_projected(v))?;
    let dir = volumes::volume_dir(runtime.pod_dir, &volume.name);
    let source = match mount.sub_path.as_deref().filter(|p| !p.is_empty()) {
        Some(sub) if !sub.starts_with('/') && !sub.split('/').any(|c| c == "..") => {
            format!("{dir}/{sub}")
        }
        Some(_) => return None,
        None => dir,
    };
    // API data is always mounted read-only, as the kubelet does.
    Some((source, true))
}

/// The create request of run `attempt` of `container`, joined to the sandbox, and the
/// Warnings its environment gave (`InvalidEnvironmentVariableNames`).
pub fn container_config(
    pod: &Pod,
    container: &Container,
    runtime: &Runtime,
    sources: &Sources,
    attempt: u32,
) -> Result<(ContainerCreateBody, Vec<(String, String)>), ConfigError> {
    let Environment {
        vars: env,
        warnings,
    } = environment(pod, container, runtime, sources)?;
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let expand_all = |items: &Option<Vec<String>>| {
        items
            .as_ref()
            .map(|v| v.iter().map(|s| expand(s, &lookup)).collect::<Vec<_>>())
    };
    let command = expand_all(&container.command);
    let args = expand_all(&container.args);
    // Kubernetes: `command` replaces the image's entrypoint and drops its cmd; `args` alone
    // keeps the entrypoint and replaces the cmd.
    let (entrypoint, cmd) = match (command, args) {
        (Some(command), args) => (Some(command), Some(args.unwrap_or_default())),
        (None, args) => (None, args),
    };
    let limits = container.resources.as_ref().and_then(|r| r.limits.as_ref());
    let limit = |name: &str, scale: i128| {
        limits
            .and_then(|l| l.get(name))
            .and_then(|q| quantity(&q.0, scale))
            .filter(|v| *v > 0)
    };
    let empty_dirs: HashMap<String, String> = empty_dirs(pod).into_iter().collect();
    let binds: Vec<String> = container
        .volume_mounts
        .iter()
        .flatten()
        .filter_map(|m| {
            let (source, read_only) = mount_source(pod, m, &empty_dirs, runtime)?;
            let mode = if read_only { ":ro" } else { "" };
            Some(format!("{source}:{}{mode}", m.mount_path))
        })
        .collect();
    let stdin = container.stdin == Some(true);
    let sandbox = format!("container:{}", runtime.sandbox_id);
    let body = ContainerCreateBody {
        image: container.image.clone(),
        entrypoint,
        cmd,
        env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: container.working_dir.clone(),
        tty: Some(container.tty == Some(true)),
        open_stdin: Some(stdin),
        stdin_once: Some(stdin && container.stdin_once == Some(true)),
        attach_stdin: Some(stdin),
        labels: Some(labels(
            pod,
            runtime.node,
            &container.name,
            attempt,
            naming::TYPE_CONTAINER,
        )),
        host_config: Some(HostConfig {
            network_mode: Some(sandbox.clone()),
            ipc_mode: Some(sandbox),
            memory: limit("memory", 1_000_000_000),
            nano_cpus: limit("cpu", 1),
            binds: (!binds.is_empty()).then_some(binds),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok((body, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "echo", "namespace": "default", "uid": "u-1", "labels": {"app": "echo"}},
            "spec": spec,
        }))
        .unwrap()
    }

    fn runtime() -> Runtime<'static> {
        Runtime {
            sandbox_id: "sb",
            pod_ip: "172.17.0.5",
            host_ip: "127.0.0.1",
            node: "n1",
            pod_dir: "/data/kubelet/pods/u-1",
        }
    }

    fn config(p: &Pod, i: usize, attempt: u32) -> Result<ContainerCreateBody, ConfigError> {
        let c = &p.spec.as_ref().unwrap().containers[i];
        container_config(p, c, &runtime(), &Sources::default(), attempt).map(|(body, _)| body)
    }

    #[test]
    fn cluster_first_pods_resolve_through_the_cluster_dns_with_kubernetes_search_path() {
        let dns = Some(std::net::Ipv4Addr::new(10, 96, 0, 10));
        let mut p: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "a", "namespace": "shop"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}
        }))
        .unwrap();
        let host = sandbox_config(&p, "n1", dns).host_config.unwrap();
        assert_eq!(host.dns, Some(vec!["10.96.0.10".to_string()]));
        assert_eq!(
            host.dns_search,
            Some(vec![
                "shop.svc.cluster.local".to_string(),
                "svc.cluster.local".to_string(),
                "cluster.local".to_string()
            ])
        );
        assert_eq!(host.dns_options, Some(vec!["ndots:5".to_string()]));
        // Without a cluster DNS, or with dnsPolicy Default, Docker's own resolver.
        assert_eq!(
            sandbox_config(&p, "n1", None).host_config.unwrap().dns,
            None
        );
        p.spec.as_mut().unwrap().dns_policy = Some("Default".into());
        assert_eq!(sandbox_config(&p, "n1", dns).host_config.unwrap().dns, None);
        // dnsConfig adds to it, an option replacing one of the same name.
        p.spec.as_mut().unwrap().dns_policy = None;
        p.spec.as_mut().unwrap().dns_config = serde_json::from_value(serde_json::json!({
            "searches": ["extra.local"], "options": [{"name": "ndots", "value": "2"}]
        }))
        .unwrap();
        let host = sandbox_config(&p, "n1", dns).host_config.unwrap();
        assert_eq!(
            host.dns_search.unwrap().last().map(String::as_str),
            Some("extra.local")
        );
        assert_eq!(host.dns_options, Some(vec!["ndots:2".to_string()]));
    }

    #[test]
    fn the_sandbox_publishes_declared_and_probed_ports_on_loopback() {
        let p = pod(json!({"containers": [{
            "name": "app", "image": "echo",
            "ports": [{"containerPort": 3000, "name": "http"}, {"containerPort": 53, "protocol": "UDP"}],
            "livenessProbe": {"httpGet": {"path": "/", "port": 8080}},
            "readinessProbe": {"tcpSocket": {"port": "http"}},
        }]}));
        assert_eq!(published_ports(&p), BTreeSet::from([3000, 8080]));
        let body = sandbox_config(&p, "n1", None);
        assert_eq!(body.hostname.as_deref(), Some("echo"));
        assert_eq!(body.image.as_deref(), Some(pause::IMAGE));
        let bindings = body.host_config.unwrap().port_bindings.unwrap();
        let binding = bindings["3000/tcp"].as_ref().unwrap()[0].clone();
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some(""));
        assert_eq!(body.labels.unwrap()[naming::TYPE], naming::TYPE_SANDBOX);
    }

    #[test]
    fn command_replaces_the_entrypoint_and_args_alone_replace_cmd() {
        let p = pod(json!({"containers": [
            {"name": "a", "image": "x", "command": ["sh", "-c"], "args": ["echo $(GREETING) $$HOME"],
             "env": [{"name": "GREETING", "value": "hi"}]},
            {"name": "b", "image": "x", "command": ["sleep"]},
            {"name": "c", "image": "x", "args": ["--port", "80"]},
        ]}));
        let a = config(&p, 0, 0).unwrap();
        assert_eq!(a.entrypoint, Some(vec!["sh".to_string(), "-c".to_string()]));
        assert_eq!(a.cmd, Some(vec!["echo hi $HOME".to_string()]));
        let b = config(&p, 1, 0).unwrap();
        assert_eq!(b.entrypoint, Some(vec!["sleep".to_string()]));
        assert_eq!(b.cmd, Some(vec![]));
        let c = config(&p, 2, 0).unwrap();
        assert_eq!(c.entrypoint, None);
        assert_eq!(c.cmd, Some(vec!["--port".to_string(), "80".to_string()]));
    }

    #[test]
    fn env_resolves_field_refs_and_refuses_missing_config_maps() {
        let p = pod(json!({"containers": [{"name": "a", "image": "x", "env": [
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "URL", "value": "http://$(IP):3000"},
        ]}]}));
        let body = config(&p, 0, 1).unwrap();
        assert_eq!(
            body.env.unwrap(),
            vec![
                "POD=echo",
                "NS=default",
                "IP=172.17.0.5",
                "APP=echo",
                "URL=http://172.17.0.5:3000"
            ]
        );
        let labels = body.labels.unwrap();
        assert_eq!(labels[naming::ATTEMPT], "1");
        assert_eq!(labels[naming::NODE], "n1");
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("container:sb"));

        let missing = pod(json!({"containers": [{"name": "a", "image": "x", "env": [
            {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]}]}));
        let err = config(&missing, 0, 0).unwrap_err();
        assert_eq!(err.reason, "CreateContainerConfigError");
        assert_eq!(err.message, "configmap \"cfg\" not found");
    }

    #[test]
    fn limits_and_empty_dirs_reach_docker() {
        let p = pod(json!({
            "volumes": [{"name": "shared", "emptyDir": {}}],
            "containers": [{"name": "a", "image": "x",
                "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
                "volumeMounts": [{"name": "shared", "mountPath": "/data", "readOnly": true}]}]}));
        let body = config(&p, 0, 0).unwrap();
        let host = body.host_config.unwrap();
        assert_eq!(host.memory, Some(64 * 1024 * 1024));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(
            host.binds,
            Some(vec!["k8s_u-1_shared:/data:ro".to_string()])
        );
    }

    #[test]
    fn api_data_volumes_mount_read_only_from_the_pod_directory() {
        let p = pod(json!({
            "volumes": [
                {"name": "cfg", "configMap": {"name": "app"}},
                {"name": "creds", "secret": {"secretName": "db"}},
                {"name": "shared", "emptyDir": {}}],
            "containers": [{"name": "a", "image": "x", "volumeMounts": [
                {"name": "cfg", "mountPath": "/etc/app"},
                {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
                {"name": "creds", "mountPath": "/secrets", "readOnly": false},
                {"name": "shared", "mountPath": "/data"}]}]}));
        let host = config(&p, 0, 0).unwrap().host_config.unwrap();
        assert_eq!(
            host.binds.unwrap(),
            vec![
                "/data/kubelet/pods/u-1/volumes/cfg:/etc/app:ro",
                "/data/kubelet/pods/u-1/volumes/cfg/app.conf:/etc/app.conf:ro",
                "/data/kubelet/pods/u-1/volumes/creds:/secrets:ro",
                "k8s_u-1_shared:/data",
            ]
        );
    }
}
