//! Kubernetes v1.33 defaulting for Pod, apps/v1 ReplicaSet and Deployment, Node, Namespace and
//! core/v1 Event:
//! pkg/apis/core/v1 + apps/v1 defaults plus the stock admission defaults (ServiceAccount,
//! Priority, DefaultTolerationSeconds). In-place, idempotent, pure functions; no I/O.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{
    Container, Endpoints, EphemeralContainer, Event, HTTPGetAction, Lifecycle, Namespace, Node,
    Pod, PodSpec, Probe, ResourceRequirements, Secret, Service, Toleration, Volume,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::validation::{ParsedQuantity, parse_quantity};

const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn set_if_empty(field: &mut Option<String>, value: &str) {
    if field.as_deref().unwrap_or("").is_empty() {
        *field = Some(value.to_string());
    }
}

fn set_if_zero(field: &mut Option<i32>, value: i32) {
    if field.unwrap_or(0) == 0 {
        *field = Some(value);
    }
}

// ---------------------------------------------------------------------------------------------
// Pod
// ---------------------------------------------------------------------------------------------

/// Defaults a Pod as kube-apiserver does on create: `SetDefaults_Pod`/`SetDefaults_PodSpec` and
/// nested defaults, the ServiceAccount, Priority and DefaultTolerationSeconds admission
/// defaults, and the initial status (`phase: Pending`, computed `qosClass`).
pub fn default_pod(pod: &mut Pod) {
    let mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_POD_ANNOTATION));
    let spec = pod.spec.get_or_insert_with(Default::default);
    default_pod_spec(spec);

    // SetDefaults_Pod: requests default to limits (pods only, not templates).
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        if let Some(res) = c.resources.as_mut() {
            requests_from_limits(res);
        }
    }
    spec.enable_service_links.get_or_insert(true);
    if spec.host_network == Some(true) {
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            for port in c.ports.iter_mut().flatten() {
                if port.host_port.unwrap_or(0) == 0 {
                    port.host_port = Some(port.container_port);
                }
            }
        }
    }

    // v1 conversion: serviceAccountName falls back to the deprecated serviceAccount; then the
    // ServiceAccount admission plugin defaults it to "default" (not for mirror pods).
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        if let Some(sa) = spec.service_account.clone().filter(|s| !s.is_empty()) {
            spec.service_account_name = Some(sa);
        } else if !mirror {
            spec.service_account_name = Some("default".to_string());
        }
    }
    if let Some(sa) = spec.service_account_name.clone().filter(|s| !s.is_empty()) {
        spec.service_account = Some(sa);
    }

    // Priority admission (no global default PriorityClass).
    if spec.priority.is_none() {
        spec.priority = Some(match spec.priority_class_name.as_deref() {
            Some("system-node-critical") => 2_000_001_000,
            Some("system-cluster-critical") => 2_000_000_000,
            _ => 0,
        });
    }
    set_if_empty(&mut spec.preemption_policy, "PreemptLowerPriority");

    // DefaultTolerationSeconds admission.
    add_default_tolerations(spec);

    let qos = qos_class(spec);
    let status = pod.status.get_or_insert_with(Default::default);
    set_if_empty(&mut status.phase, "Pending");
    set_if_empty(&mut status.qos_class, qos);
}

/// Where the ServiceAccount admission mounts the API credentials in each container.
pub const SERVICE_ACCOUNT_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The characters of Kubernetes' random name suffixes (no vowels, no look-alikes).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The ServiceAccount admission's token volume, on create: unless the pod says
/// `automountServiceAccountToken: false` (or is a mirror pod, or mounts something at the path
/// already), a projected volume `kube-api-access-xxxxx` (a 3607-second token, `ca.crt` from
/// the `kube-root-ca.crt` ConfigMap, the namespace) mounted read-only at
/// `/var/run/secrets/kubernetes.io/serviceaccount` in every container and init container.
/// Kubernetes draws the suffix at random; here it is derived from the pod's namespace and
/// name, so admission stays a pure function of its input.
pub fn mount_service_account_token(pod: &mut Pod) {
    let mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_POD_ANNOTATION));
    let seed = format!(
        "{}/{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.generate_name.as_deref().unwrap_or("")
    );
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    if mirror || spec.automount_service_account_token == Some(false) {
        return;
    }
    let mounted = |c: &Container| {
        c.volume_mounts
            .iter()
            .flatten()
            .any(|m| m.mount_path.trim_end_matches('/') == SERVICE_ACCOUNT_MOUNT_PATH)
    };
    if spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .any(mounted)
    {
        return;
    }
    // FNV-1a over the seed, then one suffix character per step; a name already taken by
    // another volume moves on to the next.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let taken = |name: &str| spec.volumes.iter().flatten().any(|v| v.name == name);
    let mut name;
    loop {
        let mut h = hash;
        let suffix: String = (0..5)
            .map(|_| {
                let c = SUFFIX_ALPHABET[(h % SUFFIX_ALPHABET.len() as u64) as usize] as char;
                h /= SUFFIX_ALPHABET.len() as u64;
                c
            })
            .collect();
        name = format!("kube-api-access-{suffix}");
        if !taken(&name) {
            break;
        }
        hash = hash.wrapping_mul(31).wrapping_add(7);
    }
    let volume: Volume = match serde_json::from_value(serde_json::json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt",
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    })) {
        Ok(volume) => volume,
        Err(_) => return,
    };
    spec.volumes.get_or_insert_with(Vec::new).push(volume);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        c.volume_mounts.get_or_insert_with(Vec::new).push(
            k8s_openapi::api::core::v1::VolumeMount {
                name: name.clone(),
                mount_path: SERVICE_ACCOUNT_MOUNT_PATH.to_string(),
                read_only: Some(true),
                ..Default::default()
            },
        );
    }
}

fn add_default_tolerations(spec: &mut PodSpec) {
    const NOT_READY: &str = "node.kubernetes.io/not-ready";
    const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    let tolerates = |key: &str| {
        tolerations.iter().any(|t| {
            let k = t.key.as_deref().unwrap_or("");
            let e = t.effect.as_deref().unwrap_or("");
            (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
        })
    };
    let (not_ready, unreachable) = (tolerates(NOT_READY), tolerates(UNREACHABLE));
    for (present, key) in [(not_ready, NOT_READY), (unreachable, UNREACHABLE)] {
        if !present {
            tolerations.push(Toleration {
                key: Some(key.to_string()),
                operator: Some("Exists".to_string()),
                effect: Some("NoExecute".to_string()),
                toleration_seconds: Some(300),
                value: None,
            });
        }
    }
}

fn requests_from_limits(res: &mut ResourceRequirements) {
    let Some(limits) = res.limits.as_ref() else {
        return;
    };
    let requests = res.requests.get_or_insert_with(BTreeMap::new);
    for (k, v) in limits {
        requests.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

/// `SetDefaults_PodSpec` and the nested container/volume/probe defaults; used for Pods and for
/// pod templates (ReplicaSet).
pub fn default_pod_spec(spec: &mut PodSpec) {
    set_if_empty(&mut spec.dns_policy, "ClusterFirst");
    set_if_empty(&mut spec.restart_policy, "Always");
    spec.security_context.get_or_insert_with(Default::default);
    spec.termination_grace_period_seconds.get_or_insert(30);
    set_if_empty(&mut spec.scheduler_name, crate::api::actors::SCHEDULER);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        default_container(c);
    }
    for ec in spec.ephemeral_containers.iter_mut().flatten() {
        default_ephemeral_container(ec);
    }
    for v in spec.volumes.iter_mut().flatten() {
        default_volume(v);
    }
    if let Some(overhead) = spec.overhead.as_mut() {
        default_resource_list(overhead);
    }
}

fn default_container(c: &mut Container) {
    if c.image_pull_policy.as_deref().unwrap_or("").is_empty() {
        c.image_pull_policy = Some(image_pull_policy(c.image.as_deref().unwrap_or("")).into());
    }
    set_if_empty(&mut c.termination_message_path, "/dev/termination-log");
    set_if_empty(&mut c.termination_message_policy, "File");
    let res = c.resources.get_or_insert_with(Default::default);
    default_resources(res);
    for port in c.ports.iter_mut().flatten() {
        set_if_empty(&mut port.protocol, "TCP");
    }
    for env in c.env.iter_mut().flatten() {
        if let Some(fr) = env.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            set_if_empty(&mut fr.api_version, "v1");
        }
        if let Some(rf) = env
            .value_from
            .as_mut()
            .and_then(|v| v.resource_field_ref.as_mut())
            && let Some(d) = rf.divisor.as_mut()
        {
            canonicalize_quantity(d, false);
        }
    }
    for probe in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ] {
        if let Some(p) = probe.as_mut() {
            default_probe(p);
        }
    }
    if let Some(lc) = c.lifecycle.as_mut() {
        default_lifecycle(lc);
    }
}

fn default_ephemeral_container(c: &mut EphemeralContainer) {
    if c.image_pull_policy.as_deref().unwrap_or("").is_empty() {
        c.image_pull_policy = Some(image_pull_policy(c.image.as_deref().unwrap_or("")).into());
    }
    set_if_empty(&mut c.termination_message_path, "/dev/termination-log");
    set_if_empty(&mut c.termination_message_policy, "File");
    let res = c.resources.get_or_insert_with(Default::default);
    default_resources(res);
    for port in c.ports.iter_mut().flatten() {
        set_if_empty(&mut port.protocol, "TCP");
    }
    for env in c.env.iter_mut().flatten() {
        if let Some(fr) = env.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            set_if_empty(&mut fr.api_version, "v1");
        }
    }
    for probe in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ] {
        if let Some(p) = probe.as_mut() {
            default_probe(p);
        }
    }
    if let Some(lc) = c.lifecycle.as_mut() {
        default_lifecycle(lc);
    }
}

fn default_resources(res: &mut ResourceRequirements) {
    if let Some(l) = res.limits.as_mut() {
        default_resource_list(l);
    }
    if let Some(r) = res.requests.as_mut() {
        default_resource_list(r);
    }
}

/// `SetDefaults_ResourceList`: round up to milli scale; quantities are then serialized in
/// canonical form (e.g. `1024Mi` -> `1Gi`, `0.5` -> `500m`).
fn default_resource_list(list: &mut BTreeMap<String, Quantity>) {
    for q in list.values_mut() {
        canonicalize_quantity(q, true);
    }
}

fn canonicalize_quantity(q: &mut Quantity, round_to_milli: bool) {
    let Ok(mut parsed) = parse_quantity(&q.0) else {
        return; // left for validation to report
    };
    if round_to_milli {
        parsed = round_up_milli(parsed);
    }
    q.0 = parsed.canonical();
}

fn round_up_milli(q: ParsedQuantity) -> ParsedQuantity {
    const MILLI_IN_NANOS: i128 = 1_000_000;
    let rem = q.nanos.rem_euclid(MILLI_IN_NANOS);
    if rem == 0 {
        return q;
    }
    let nanos = if q.nanos > 0 {
        q.nanos.saturating_add(MILLI_IN_NANOS - rem)
    } else {
        q.nanos - rem
    };
    ParsedQuantity { nanos, ..q }
}

fn default_http_get(h: &mut HTTPGetAction) {
    set_if_empty(&mut h.path, "/");
    set_if_empty(&mut h.scheme, "HTTP");
}

fn default_probe(p: &mut Probe) {
    set_if_zero(&mut p.timeout_seconds, 1);
    set_if_zero(&mut p.period_seconds, 10);
    set_if_zero(&mut p.success_threshold, 1);
    set_if_zero(&mut p.failure_threshold, 3);
    if let Some(h) = p.http_get.as_mut() {
        default_http_get(h);
    }
    if let Some(g) = p.grpc.as_mut() {
        g.service.get_or_insert_with(String::new);
    }
}

fn default_lifecycle(lc: &mut Lifecycle) {
    for h in [lc.post_start.as_mut(), lc.pre_stop.as_mut()]
        .into_iter()
        .flatten()
    {
        if let Some(hg) = h.http_get.as_mut() {
            default_http_get(hg);
        }
    }
}

fn volume_has_source(v: &Volume) -> bool {
    v.empty_dir.is_some()
        || v.host_path.is_some()
        || v.git_repo.is_some()
        || v.gce_persistent_disk.is_some()
        || v.aws_elastic_block_store.is_some()
        || v.secret.is_some()
        || v.nfs.is_some()
        || v.iscsi.is_some()
        || v.glusterfs.is_some()
        || v.flocker.is_some()
        || v.persistent_volume_claim.is_some()
        || v.rbd.is_some()
        || v.cinder.is_some()
        || v.cephfs.is_some()
        || v.quobyte.is_some()
        || v.downward_api.is_some()
        || v.fc.is_some()
        || v.flex_volume.is_some()
        || v.config_map.is_some()
        || v.azure_file.is_some()
        || v.vsphere_volume.is_some()
        || v.photon_persistent_disk.is_some()
        || v.portworx_volume.is_some()
        || v.azure_disk.is_some()
        || v.storageos.is_some()
        || v.projected.is_some()
        || v.scale_io.is_some()
        || v.csi.is_some()
        || v.ephemeral.is_some()
        || v.image.is_some()
}

fn default_volume(v: &mut Volume) {
    if !volume_has_source(v) {
        v.empty_dir = Some(Default::default());
    }
    if let Some(e) = v.empty_dir.as_mut()
        && let Some(q) = e.size_limit.as_mut()
    {
        canonicalize_quantity(q, false);
    }
    if let Some(s) = v.secret.as_mut() {
        s.default_mode.get_or_insert(0o644);
    }
    if let Some(c) = v.config_map.as_mut() {
        c.default_mode.get_or_insert(0o644);
    }
    if let Some(d) = v.downward_api.as_mut() {
        d.default_mode.get_or_insert(0o644);
        for f in d.items.iter_mut().flatten() {
            if let Some(fr) = f.field_ref.as_mut() {
                set_if_empty(&mut fr.api_version, "v1");
            }
        }
    }
    if let Some(p) = v.projected.as_mut() {
        p.default_mode.get_or_insert(0o644);
        for src in p.sources.iter_mut().flatten() {
            if let Some(t) = src.service_account_token.as_mut() {
                t.expiration_seconds.get_or_insert(3600);
            }
            if let Some(d) = src.downward_api.as_mut() {
                for f in d.items.iter_mut().flatten() {
                    if let Some(fr) = f.field_ref.as_mut() {
                        set_if_empty(&mut fr.api_version, "v1");
                    }
                }
            }
        }
    }
    if let Some(h) = v.host_path.as_mut() {
        h.type_.get_or_insert_with(String::new);
    }
    if let Some(i) = v.iscsi.as_mut() {
        set_if_empty(&mut i.iscsi_interface, "default");
    }
    if let Some(r) = v.rbd.as_mut() {
        set_if_empty(&mut r.pool, "rbd");
        set_if_empty(&mut r.user, "admin");
        set_if_empty(&mut r.keyring, "/etc/ceph/keyring");
    }
    if let Some(a) = v.azure_disk.as_mut() {
        a.caching_mode
            .get_or_insert_with(|| "ReadWrite".to_string());
        a.kind.get_or_insert_with(|| "Shared".to_string());
        a.fs_type.get_or_insert_with(|| "ext4".to_string());
        a.read_only.get_or_insert(false);
    }
    if let Some(s) = v.scale_io.as_mut() {
        set_if_empty(&mut s.storage_mode, "ThinProvisioned");
        set_if_empty(&mut s.fs_type, "xfs");
    }
    if let Some(e) = v.ephemeral.as_mut()
        && let Some(spec) = e.volume_claim_template.as_mut().map(|t| &mut t.spec)
    {
        spec.volume_mode
            .get_or_insert_with(|| "Filesystem".to_string());
    }
}

// ---------------------------------------------------------------------------------------------
// Image references (k8s.io/kubernetes/pkg/util/parsers.ParseImageName)
// ---------------------------------------------------------------------------------------------

/// `Always` when the image has no tag and no digest or its tag is `latest`, otherwise
/// `IfNotPresent` (also for unparsable references, as Kubernetes ignores the parse error).
fn image_pull_policy(image: &str) -> &'static str {
    match parse_image_tag(image) {
        Some(tag) if tag == "latest" => "Always",
        _ => "IfNotPresent",
    }
}

/// The effective tag of a docker reference: `latest` when neither tag nor digest is given, ``
/// for digest-only references; `None` when the reference does not parse.
fn parse_image_tag(image: &str) -> Option<String> {
    if image.is_empty() {
        return None;
    }
    if image.len() == 64
        && image
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest
        && !valid_digest(d)
    {
        return None;
    }
    let last_slash = name_tag.rfind('/');
    let (name, tag) = match name_tag.rfind(':') {
        Some(i) if last_slash.is_none_or(|s| i > s) => (&name_tag[..i], Some(&name_tag[i + 1..])),
        _ => (name_tag, None),
    };
    if let Some(t) = tag
        && !valid_tag(t)
    {
        return None;
    }
    if name.len() > 255 || !valid_repository(name) {
        return None;
    }
    Some(match (tag, digest) {
        (Some(t), _) => t.to_string(),
        (None, Some(_)) => String::new(),
        (None, None) => "latest".to_string(),
    })
}

fn valid_tag(t: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = t.chars();
    matches!(chars.next(), Some(c) if word(c))
        && t.len() <= 128
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

fn valid_digest(d: &str) -> bool {
    let Some((algo, hex)) = d.split_once(':') else {
        return false;
    };
    let algo_ok = algo.split(['-', '_', '+', '.']).all(|part| {
        let mut cs = part.chars();
        matches!(cs.next(), Some(c) if c.is_ascii_alphabetic())
            && cs.all(|c| c.is_ascii_alphanumeric())
    });
    algo_ok && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip6, tail)) => {
                if ip6.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                (None, tail.strip_prefix(':'))
            }
            None => return false,
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(domain), None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    host.is_none_or(|h| {
        !h.is_empty()
            && h.split('.').all(|c| {
                let b = c.as_bytes();
                !b.is_empty()
                    && b[0].is_ascii_alphanumeric()
                    && b[b.len() - 1].is_ascii_alphanumeric()
                    && c.bytes().all(|x| x.is_ascii_alphanumeric() || x == b'-')
            })
    })
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) {
        return false;
    }
    let mut i = 0;
    loop {
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return true;
        }
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == b.len() || !alnum(b[i]) {
            return false;
        }
    }
}

fn valid_repository(name: &str) -> bool {
    let remote = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            if !valid_domain(first) {
                return false;
            }
            rest
        }
        _ => name,
    };
    !remote.is_empty() && remote.split('/').all(valid_path_component)
}

// ---------------------------------------------------------------------------------------------
// QoS
// ---------------------------------------------------------------------------------------------

/// The pod QoS class (`Guaranteed`, `Burstable` or `BestEffort`) computed by Kubernetes'
/// `ComputePodQOS` from the cpu/memory requests and limits of all containers and init containers.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let res = c.resources.as_ref();
        for (name, q) in res.and_then(|r| r.requests.as_ref()).into_iter().flatten() {
            if name != "cpu" && name != "memory" {
                continue;
            }
            if let Ok(v) = parse_quantity(&q.0)
                && v.nanos > 0
            {
                *requests.entry(name.as_str()).or_insert(0) += v.nanos;
            }
        }
        let mut found = (false, false);
        for (name, q) in res.and_then(|r| r.limits.as_ref()).into_iter().flatten() {
            if name != "cpu" && name != "memory" {
                continue;
            }
            if let Ok(v) = parse_quantity(&q.0)
                && v.nanos > 0
            {
                if name == "cpu" {
                    found.0 = true;
                } else {
                    found.1 = true;
                }
                *limits.entry(name.as_str()).or_insert(0) += v.nanos;
            }
        }
        if !(found.0 && found.1) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed && requests.iter().any(|(k, v)| limits.get(k) != Some(v)) {
        guaranteed = false;
    }
    if guaranteed && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

// ---------------------------------------------------------------------------------------------
// ReplicaSet, Node, Namespace, Event
// ---------------------------------------------------------------------------------------------

/// apps/v1 `SetDefaults_ReplicaSet` (`replicas: 1`; template labels are *not* copied) plus the
/// pod-template spec defaults. Missing `spec`, `template` and `status` become their zero values
/// as the Go structs serialize them.
pub fn default_replicaset(rs: &mut ReplicaSet) {
    let spec = rs.spec.get_or_insert_with(Default::default);
    spec.replicas.get_or_insert(1);
    let tpl = spec.template.get_or_insert_with(Default::default);
    default_pod_spec(tpl.spec.get_or_insert_with(Default::default));
    rs.status.get_or_insert_with(Default::default);
}

/// apps/v1 `SetDefaults_Deployment`: one replica, the RollingUpdate strategy with 25% surge
/// and 25% unavailable, a history of 10 ReplicaSets, a 600 s progress deadline, and the pod
/// template's defaults.
pub fn default_deployment(deployment: &mut Deployment) {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let spec = deployment.spec.get_or_insert_with(Default::default);
    spec.replicas.get_or_insert(1);
    let strategy = spec.strategy.get_or_insert_with(Default::default);
    set_if_empty(&mut strategy.type_, "RollingUpdate");
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let rolling = strategy.rolling_update.get_or_insert_with(Default::default);
        rolling
            .max_unavailable
            .get_or_insert_with(|| IntOrString::String("25%".into()));
        rolling
            .max_surge
            .get_or_insert_with(|| IntOrString::String("25%".into()));
    }
    spec.revision_history_limit.get_or_insert(10);
    spec.progress_deadline_seconds.get_or_insert(600);
    default_pod_spec(spec.template.spec.get_or_insert_with(Default::default));
    deployment.status.get_or_insert_with(Default::default);
}

// ---------------------------------------------------------------------------------------------
// Service, Endpoints, EndpointSlice
// ---------------------------------------------------------------------------------------------

/// core/v1 `SetDefaults_Service`: sessionAffinity None (ClientIP's timeout 10800 s), type
/// ClusterIP, each port's protocol TCP and targetPort its port, externalTrafficPolicy Cluster
/// for externally reachable types, internalTrafficPolicy Cluster, and
/// allocateLoadBalancerNodePorts for LoadBalancers; the status starts as `loadBalancer: {}`.
/// The IP family fields and addresses are the registry's, after this (`model::service`).
pub fn default_service(service: &mut Service) {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let spec = service.spec.get_or_insert_with(Default::default);
    set_if_empty(&mut spec.session_affinity, "None");
    if spec.session_affinity.as_deref() == Some("None") {
        spec.session_affinity_config = None;
    }
    if spec.session_affinity.as_deref() == Some("ClientIP") {
        let config = spec
            .session_affinity_config
            .get_or_insert_with(Default::default);
        let client_ip = config.client_ip.get_or_insert_with(Default::default);
        client_ip.timeout_seconds.get_or_insert(10800);
    }
    set_if_empty(&mut spec.type_, "ClusterIP");
    for port in spec.ports.iter_mut().flatten() {
        set_if_empty(&mut port.protocol, "TCP");
        let unset = match &port.target_port {
            None => true,
            Some(IntOrString::Int(0)) => true,
            Some(IntOrString::String(s)) => s.is_empty(),
            Some(IntOrString::Int(_)) => false,
        };
        if unset {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }
    let service_type = spec.type_.clone().unwrap_or_default();
    let externally_accessible = matches!(service_type.as_str(), "LoadBalancer" | "NodePort")
        || (service_type == "ClusterIP"
            && spec
                .external_ips
                .as_ref()
                .is_some_and(|ips| !ips.is_empty()));
    if externally_accessible {
        set_if_empty(&mut spec.external_traffic_policy, "Cluster");
    }
    if spec.internal_traffic_policy.is_none()
        && matches!(
            service_type.as_str(),
            "NodePort" | "LoadBalancer" | "ClusterIP"
        )
    {
        spec.internal_traffic_policy = Some("Cluster".to_string());
    }
    if service_type == "LoadBalancer" {
        spec.allocate_load_balancer_node_ports.get_or_insert(true);
    }
    let status = service.status.get_or_insert_with(Default::default);
    status.load_balancer.get_or_insert_with(Default::default);
}

/// core/v1 `SetDefaults_EndpointPort`: each port's protocol TCP.
pub fn default_endpoints(endpoints: &mut Endpoints) {
    for subset in endpoints.subsets.iter_mut().flatten() {
        for port in subset.ports.iter_mut().flatten() {
            set_if_empty(&mut port.protocol, "TCP");
        }
    }
}

/// discovery/v1 `SetDefaults_EndpointPort`: each port's name "" and protocol TCP.
pub fn default_endpoint_slice(slice: &mut EndpointSlice) {
    for port in slice.ports.iter_mut().flatten() {
        port.name.get_or_insert_with(String::new);
        set_if_empty(&mut port.protocol, "TCP");
    }
}

// ---------------------------------------------------------------------------------------------
// Secret
// ---------------------------------------------------------------------------------------------

/// core/v1 `SetDefaults_Secret` (type `Opaque`), after the conversion to the internal type
/// (`Convert_v1_Secret_To_core_Secret`) has folded `stringData` into `data`: a key in both
/// takes the `stringData` value, and `stringData` is never stored.
pub fn default_secret(secret: &mut Secret) {
    if let Some(strings) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(Default::default);
        for (key, value) in strings {
            data.insert(key, k8s_openapi::ByteString(value.into_bytes()));
        }
    }
    set_if_empty(&mut secret.type_, "Opaque");
}

/// `SetDefaults_NodeStatus` (allocatable defaults to capacity) and resource-list rounding.
pub fn default_node(node: &mut Node) {
    let Some(status) = node.status.as_mut() else {
        return;
    };
    if let Some(c) = status.capacity.as_mut() {
        default_resource_list(c);
    }
    if let Some(a) = status.allocatable.as_mut() {
        default_resource_list(a);
    }
    if status.allocatable.is_none() && status.capacity.is_some() {
        status.allocatable = status.capacity.clone();
    }
}

/// `SetDefaults_Namespace` (the `kubernetes.io/metadata.name` label), the create strategy's
/// `spec.finalizers: [kubernetes]` (when unset) and `status.phase: Active` (when unset).
pub fn default_namespace(ns: &mut Namespace) {
    if let Some(name) = ns.metadata.name.clone().filter(|n| !n.is_empty()) {
        ns.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(NAMESPACE_NAME_LABEL.to_string(), name);
    }
    let spec = ns.spec.get_or_insert_with(Default::default);
    if spec.finalizers.is_none() {
        spec.finalizers = Some(vec!["kubernetes".to_string()]);
    }
    let status = ns.status.get_or_insert_with(Default::default);
    set_if_empty(&mut status.phase, "Active");
}

/// core/v1 Events have no server-side defaults in Kubernetes (type, count and timestamps are
/// left as the client sent them); kept for symmetry with the other kinds.
pub fn default_event(ev: &mut Event) {
    let _ = ev;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod_from(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn echo_pod() -> Pod {
        pod_from(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "echo", "namespace": "default", "labels": {"app": "echo"}},
            "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1",
                                     "ports": [{"containerPort": 3000}]}]}
        }))
    }

    fn defaulted_json(mut p: Pod) -> Value {
        default_pod(&mut p);
        serde_json::to_value(&p).unwrap()
    }

    #[test]
    fn echo_pod_defaults() {
        let v = defaulted_json(echo_pod());
        let expected_spec = json!({
            "containers": [{
                "name": "app", "image": "ghcr.io/subicura/echo:v1",
                "ports": [{"containerPort": 3000, "protocol": "TCP"}],
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent"
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ],
            "priority": 0,
            "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority"
        });
        assert_eq!(v["spec"], expected_spec);
        assert_eq!(
            v["status"],
            json!({"phase": "Pending", "qosClass": "BestEffort"})
        );
    }

    #[test]
    fn defaults_are_idempotent() {
        let mut once = echo_pod();
        default_pod(&mut once);
        let mut twice = once.clone();
        default_pod(&mut twice);
        assert_eq!(once, twice);

        let mut rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "echo-rs", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "echo"}},
                     "template": {"metadata": {"labels": {"app": "echo"}},
                                  "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}
        }))
        .unwrap();
        default_replicaset(&mut rs);
        let snapshot = rs.clone();
        default_replicaset(&mut rs);
        assert_eq!(rs, snapshot);

        let mut ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
        default_namespace(&mut ns);
        let snapshot = ns.clone();
        default_namespace(&mut ns);
        assert_eq!(ns, snapshot);
    }

    #[test]
    fn image_pull_policy_table() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let cases: Vec<(String, &str)> = vec![
            ("nginx".into(), "Always"),
            ("nginx:latest".into(), "Always"),
            ("nginx:1.25".into(), "IfNotPresent"),
            ("library/nginx".into(), "Always"),
            ("docker.io/library/nginx".into(), "Always"),
            ("localhost:5000/echo".into(), "Always"),
            ("localhost:5000/echo:v1".into(), "IfNotPresent"),
            ("localhost/echo".into(), "Always"),
            (
                "registry.example.com:5000/team/app:1.0".into(),
                "IfNotPresent",
            ),
            ("ghcr.io/subicura/echo:v1".into(), "IfNotPresent"),
            ("ghcr.io/subicura/echo".into(), "Always"),
            (format!("nginx@{digest}"), "IfNotPresent"),
            (format!("nginx:latest@{digest}"), "Always"),
            (format!("nginx:1.0@{digest}"), "IfNotPresent"),
            ("Nginx".into(), "IfNotPresent"),
            ("".into(), "IfNotPresent"),
            ("nginx:".into(), "IfNotPresent"),
            ("a".repeat(64), "IfNotPresent"),
            ("my_repo/my__image".into(), "Always"),
            ("my-repo/my---image:tag_1.0".into(), "IfNotPresent"),
            ("bad..name".into(), "IfNotPresent"),
            ("[::1]:5000/echo".into(), "Always"),
        ];
        for (image, want) in cases {
            assert_eq!(image_pull_policy(&image), want, "{image}");
        }
        // explicit policies are kept
        let mut p = pod_from(
            json!({"spec": {"containers": [{"name": "a", "image": "nginx", "imagePullPolicy": "Never"}]}}),
        );
        default_pod(&mut p);
        assert_eq!(
            p.spec.unwrap().containers[0].image_pull_policy.as_deref(),
            Some("Never")
        );
    }

    #[test]
    fn container_nested_defaults() {
        let v = defaulted_json(pod_from(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{
                "name": "app", "image": "nginx:1",
                "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "livenessProbe": {"httpGet": {"port": 8080}},
                "readinessProbe": {"grpc": {"port": 9090}, "periodSeconds": 5},
                "startupProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 0},
                "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop"}}}
            }]}}),
        ));
        let c = &v["spec"]["containers"][0];
        assert_eq!(
            c["env"][0]["valueFrom"]["fieldRef"],
            json!({"apiVersion": "v1", "fieldPath": "metadata.name"})
        );
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(
            c["readinessProbe"]["grpc"],
            json!({"port": 9090, "service": ""})
        );
        assert_eq!(c["readinessProbe"]["periodSeconds"], json!(5));
        assert_eq!(c["startupProbe"]["timeoutSeconds"], json!(1));
        assert_eq!(
            c["lifecycle"]["preStop"]["httpGet"],
            json!({"port": 80, "path": "/stop", "scheme": "HTTP"})
        );
    }

    #[test]
    fn resources_and_qos() {
        // (resources of the single container, expected requests after defaulting, qos)
        let cases: Vec<(&str, Value, Value, &str)> = vec![
            ("none", json!(null), json!(null), "BestEffort"),
            (
                "requests only",
                json!({"requests": {"cpu": "100m"}}),
                json!({"cpu": "100m"}),
                "Burstable",
            ),
            (
                "limits only -> requests copied",
                json!({"limits": {"cpu": "1", "memory": "1024Mi"}}),
                json!({"cpu": "1", "memory": "1Gi"}),
                "Guaranteed",
            ),
            (
                "equal requests and limits",
                json!({"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "0.5", "memory": "64Mi"}}),
                json!({"cpu": "500m", "memory": "64Mi"}),
                "Guaranteed",
            ),
            (
                "cpu limit only",
                json!({"limits": {"cpu": "1"}}),
                json!({"cpu": "1"}),
                "Burstable",
            ),
            (
                "requests below limits",
                json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}),
                json!({"cpu": "500m", "memory": "1Gi"}),
                "Burstable",
            ),
            (
                "zero requests ignored",
                json!({"requests": {"cpu": "0"}}),
                json!({"cpu": "0"}),
                "BestEffort",
            ),
            (
                "rounded up to milli",
                json!({"requests": {"cpu": "0.0001"}}),
                json!({"cpu": "1m"}),
                "Burstable",
            ),
        ];
        for (name, res, want_req, want_qos) in cases {
            let mut c = json!({"name": "app", "image": "nginx"});
            if !res.is_null() {
                c["resources"] = res;
            }
            let v = defaulted_json(pod_from(
                json!({"metadata": {"name": "p"}, "spec": {"containers": [c]}}),
            ));
            assert_eq!(
                v["spec"]["containers"][0]["resources"]["requests"], want_req,
                "{name}"
            );
            assert_eq!(v["status"]["qosClass"], json!(want_qos), "{name}");
        }
        // init containers count: a resource-less init container breaks Guaranteed
        let mut p = pod_from(json!({"metadata": {"name": "p"}, "spec": {
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "app", "image": "nginx", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}));
        default_pod(&mut p);
        assert_eq!(
            p.status.and_then(|s| s.qos_class).as_deref(),
            Some("Burstable")
        );
    }

    #[test]
    fn volumes_defaults() {
        let v = defaulted_json(pod_from(json!({"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "app", "image": "nginx"}],
        "volumes": [
            {"name": "scratch"},
            {"name": "sec", "secret": {"secretName": "s"}},
            {"name": "cm", "configMap": {"name": "c", "defaultMode": 256}},
            {"name": "host", "hostPath": {"path": "/var/log"}},
            {"name": "proj", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
        ]}})));
        let vols = &v["spec"]["volumes"];
        assert_eq!(vols[0], json!({"name": "scratch", "emptyDir": {}}));
        assert_eq!(vols[1]["secret"]["defaultMode"], json!(420));
        assert_eq!(vols[2]["configMap"]["defaultMode"], json!(256));
        assert_eq!(vols[3]["hostPath"]["type"], json!(""));
        assert_eq!(vols[4]["projected"]["defaultMode"], json!(420));
        assert_eq!(
            vols[4]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            json!(3600)
        );
    }

    #[test]
    fn admission_defaults_table() {
        // (spec patch, expected serviceAccountName, priority, number of tolerations)
        let cases: Vec<(&str, Value, Option<&str>, i32, usize)> = vec![
            ("plain", json!({}), Some("default"), 0, 2),
            (
                "explicit sa",
                json!({"serviceAccountName": "builder"}),
                Some("builder"),
                0,
                2,
            ),
            (
                "deprecated sa",
                json!({"serviceAccount": "legacy"}),
                Some("legacy"),
                0,
                2,
            ),
            (
                "node critical",
                json!({"priorityClassName": "system-node-critical"}),
                Some("default"),
                2_000_001_000,
                2,
            ),
            (
                "cluster critical",
                json!({"priorityClassName": "system-cluster-critical"}),
                Some("default"),
                2_000_000_000,
                2,
            ),
            (
                "tolerates not-ready",
                json!({"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]}),
                Some("default"),
                0,
                2,
            ),
            (
                "tolerates everything",
                json!({"tolerations": [{"operator": "Exists"}]}),
                Some("default"),
                0,
                1,
            ),
            (
                "unrelated toleration",
                json!({"tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]}),
                Some("default"),
                0,
                3,
            ),
        ];
        for (name, spec_patch, sa, prio, tols) in cases {
            let mut v = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}});
            if let (Some(spec), Some(patch)) = (v["spec"].as_object_mut(), spec_patch.as_object()) {
                for (k, val) in patch {
                    spec.insert(k.clone(), val.clone());
                }
            }
            let mut p = pod_from(v);
            default_pod(&mut p);
            let spec = p.spec.unwrap();
            assert_eq!(spec.service_account_name.as_deref(), sa, "{name}");
            assert_eq!(spec.service_account.as_deref(), sa, "{name}");
            assert_eq!(spec.priority, Some(prio), "{name}");
            assert_eq!(spec.tolerations.map(|t| t.len()), Some(tols), "{name}");
        }
        // mirror pods get no default service account
        let mut p = pod_from(
            json!({"metadata": {"name": "p", "annotations": {"kubernetes.io/config.mirror": "x"}},
            "spec": {"nodeName": "n", "containers": [{"name": "app", "image": "nginx"}]}}),
        );
        default_pod(&mut p);
        assert_eq!(p.spec.unwrap().service_account_name, None);
    }

    #[test]
    fn host_network_ports_and_existing_status() {
        let mut p = pod_from(
            json!({"metadata": {"name": "p"}, "spec": {"hostNetwork": true,
            "containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 8080}]}]},
            "status": {"phase": "Running"}}),
        );
        default_pod(&mut p);
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(
            spec.containers[0].ports.as_ref().unwrap()[0].host_port,
            Some(8080)
        );
        let status = p.status.unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
    }

    #[test]
    fn replicaset_defaults() {
        let mut rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "echo-rs", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "echo"}},
                     "template": {"metadata": {"labels": {"app": "echo"}},
                                  "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1"}]}}}
        }))
        .unwrap();
        default_replicaset(&mut rs);
        let v = serde_json::to_value(&rs).unwrap();
        assert_eq!(v["spec"]["replicas"], json!(1));
        assert_eq!(
            v["metadata"].get("labels"),
            None,
            "apps/v1 does not copy template labels"
        );
        let t = &v["spec"]["template"]["spec"];
        assert_eq!(t["restartPolicy"], json!("Always"));
        assert_eq!(t["dnsPolicy"], json!("ClusterFirst"));
        assert_eq!(t["terminationGracePeriodSeconds"], json!(30));
        assert_eq!(t["schedulerName"], json!("default-scheduler"));
        assert_eq!(t["containers"][0]["imagePullPolicy"], json!("IfNotPresent"));
        // pod-only defaults do not apply to templates
        assert_eq!(t.get("serviceAccountName"), None);
        assert_eq!(t.get("tolerations"), None);
        assert_eq!(t.get("enableServiceLinks"), None);
        assert_eq!(v["status"], json!({"replicas": 0}));

        let mut rs: ReplicaSet = serde_json::from_value(
            json!({"metadata": {"name": "x"}, "spec": {"replicas": 0, "selector": {}}}),
        )
        .unwrap();
        default_replicaset(&mut rs);
        assert_eq!(rs.spec.as_ref().and_then(|s| s.replicas), Some(0));
        assert!(
            rs.spec
                .and_then(|s| s.template)
                .and_then(|t| t.spec)
                .is_some()
        );
    }

    #[test]
    fn node_namespace_event_defaults() {
        let mut node: Node = serde_json::from_value(json!({"metadata": {"name": "n"},
            "status": {"capacity": {"cpu": "4", "memory": "8192Mi", "pods": "110"}}}))
        .unwrap();
        default_node(&mut node);
        let status = node.status.unwrap();
        assert_eq!(status.allocatable, status.capacity);
        assert_eq!(status.capacity.unwrap()["memory"].0, "8Gi");

        let mut ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
        default_namespace(&mut ns);
        let v = serde_json::to_value(&ns).unwrap();
        assert_eq!(
            v["metadata"]["labels"],
            json!({"kubernetes.io/metadata.name": "team-a"})
        );
        assert_eq!(v["spec"], json!({"finalizers": ["kubernetes"]}));
        assert_eq!(v["status"], json!({"phase": "Active"}));

        let mut ns: Namespace = serde_json::from_value(
            json!({"metadata": {"generateName": "t-"}, "spec": {"finalizers": []},
            "status": {"phase": "Terminating"}}),
        )
        .unwrap();
        default_namespace(&mut ns);
        assert_eq!(ns.metadata.labels, None);
        assert_eq!(ns.spec.and_then(|s| s.finalizers), Some(vec![]));
        assert_eq!(
            ns.status.and_then(|s| s.phase).as_deref(),
            Some("Terminating")
        );

        let ev_json = json!({"metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "echo", "namespace": "default"}, "reason": "Started"});
        let mut ev: Event = serde_json::from_value(ev_json.clone()).unwrap();
        default_event(&mut ev);
        assert_eq!(ev, serde_json::from_value::<Event>(ev_json).unwrap());
    }

    #[test]
    fn defaulted_objects_validate() {
        use super::super::validation::{validate_pod, validate_replicaset};
        let mut p = echo_pod();
        default_pod(&mut p);
        assert_eq!(validate_pod(&p), vec![]);
        let mut rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "echo-rs", "namespace": "default"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "echo"}},
                     "template": {"metadata": {"labels": {"app": "echo"}},
                                  "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1",
                                                           "ports": [{"containerPort": 3000}]}]}}}
        }))
        .unwrap();
        default_replicaset(&mut rs);
        assert_eq!(validate_replicaset(&rs), vec![]);
    }
}
