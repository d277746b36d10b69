//! Service addresses as kube-apiserver's service registry handles them: the ClusterIP range
//! (10.96.0.0/12 by default, its first address the `kubernetes` Service's) and the NodePort
//! range (30000-32767); what each Service holds; the preparation of a written Service before
//! validation (`NormalizeClusterIPs`, `patchAllocatedValues`, `dropTypeDependentFields`,
//! `initIPFamilyFields`); and the allocation of what it still needs. Pure: the set of held
//! addresses is derived from the Services that exist, by the writer that owns them.

use super::validation::{FieldError, FieldErrorReason};
use k8s_openapi::api::core::v1::Service;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// kube-apiserver's default `--service-cluster-ip-range`.
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";
/// kube-apiserver's default `--service-node-port-range`.
pub const DEFAULT_NODE_PORTS: (u16, u16) = (30000, 32767);
/// The Service in `default` that names the API server; it holds the range's first address.
pub const KUBERNETES_SERVICE: &str = "kubernetes";

/// The ranges Services take their addresses from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceRanges {
    network: u32,
    prefix: u8,
    node_ports: (u16, u16),
}

impl Default for ServiceRanges {
    fn default() -> Self {
        match ServiceRanges::new(DEFAULT_SERVICE_CIDR, DEFAULT_NODE_PORTS) {
            Ok(ranges) => ranges,
            // The constants parse; this arm is never taken.
            Err(_) => ServiceRanges {
                network: u32::from(Ipv4Addr::new(10, 96, 0, 0)),
                prefix: 12,
                node_ports: DEFAULT_NODE_PORTS,
            },
        }
    }
}

impl ServiceRanges {
    /// An IPv4 CIDR of at least four addresses (network and broadcast are never handed out,
    /// and the first usable one is the `kubernetes` Service's) and an inclusive port range.
    pub fn new(cidr: &str, node_ports: (u16, u16)) -> Result<Self, String> {
        let (ip, bits) = cidr
            .split_once('/')
            .ok_or_else(|| format!("{cidr:?} is not a CIDR"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{cidr:?} is not an IPv4 CIDR"))?;
        let prefix: u8 = bits
            .parse()
            .ok()
            .filter(|p| *p <= 30)
            .ok_or_else(|| format!("{cidr:?}: the prefix must be at most /30"))?;
        if node_ports.0 == 0 || node_ports.0 > node_ports.1 {
            return Err(format!(
                "{}-{} is not a port range",
                node_ports.0, node_ports.1
            ));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(ServiceRanges {
            network: u32::from(ip) & mask,
            prefix,
            node_ports,
        })
    }

    /// The range as kube-apiserver names it in errors: `10.96.0.0/12`.
    pub fn cidr(&self) -> String {
        format!("{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }

    /// The first usable address: the `kubernetes` Service's ClusterIP.
    pub fn first_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    fn last_ip(&self) -> u32 {
        let size = 1u64 << (32 - self.prefix);
        (u64::from(self.network) + size - 2) as u32
    }

    fn contains_ip(&self, ip: u32) -> bool {
        ip > self.network && ip <= self.last_ip()
    }

    /// `30000-32767`
    pub fn node_port_range(&self) -> String {
        format!("{}-{}", self.node_ports.0, self.node_ports.1)
    }

    fn contains_port(&self, port: u16) -> bool {
        (self.node_ports.0..=self.node_ports.1).contains(&port)
    }
}

/// The ClusterIPs and NodePorts the existing Services hold, counted (two Services never hold
/// the same one, but a count keeps a release exact whatever the log holds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldAddresses {
    ips: BTreeMap<u32, u32>,
    node_ports: BTreeMap<u16, u32>,
}

impl HeldAddresses {
    /// What `services` hold together.
    pub fn of<'a>(services: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut held = HeldAddresses::default();
        for service in services {
            held.hold(service);
        }
        held
    }

    /// Count what `service` holds.
    pub fn hold(&mut self, service: &Value) {
        let (ips, ports) = addresses_of(service);
        for ip in ips {
            *self.ips.entry(ip).or_default() += 1;
        }
        for port in ports {
            *self.node_ports.entry(port).or_default() += 1;
        }
    }

    /// Forget what `service` held (it is deleted or replaced by a newer version).
    pub fn release(&mut self, service: &Value) {
        let (ips, ports) = addresses_of(service);
        for ip in ips {
            if let Some(count) = self.ips.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    self.ips.remove(&ip);
                }
            }
        }
        for port in ports {
            if let Some(count) = self.node_ports.get_mut(&port) {
                *count -= 1;
                if *count == 0 {
                    self.node_ports.remove(&port);
                }
            }
        }
    }

    pub fn holds_ip(&self, ip: Ipv4Addr) -> bool {
        self.ips.contains_key(&u32::from(ip))
    }

    pub fn holds_node_port(&self, port: u16) -> bool {
        self.node_ports.contains_key(&port)
    }

    /// The lowest free address above the range's first (which only the `kubernetes` Service
    /// takes, by naming it).
    fn next_ip(&self, ranges: &ServiceRanges) -> Option<u32> {
        let mut candidate = u32::from(ranges.first_ip()) + 1;
        for (&ip, _) in self.ips.range(candidate..) {
            if ip != candidate {
                break;
            }
            candidate += 1;
        }
        (candidate <= ranges.last_ip()).then_some(candidate)
    }

    /// The lowest free port of the range that `also_taken` does not hold either.
    fn next_node_port(&self, ranges: &ServiceRanges, also_taken: &BTreeSet<u16>) -> Option<u16> {
        (ranges.node_ports.0..=ranges.node_ports.1)
            .find(|p| !self.node_ports.contains_key(p) && !also_taken.contains(p))
    }
}

/// The ranges and what is held in them: what a Service write is allocated against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAddresses {
    pub ranges: ServiceRanges,
    pub held: HeldAddresses,
}

/// The IPv4 ClusterIPs and the NodePorts (with the health-check one) a stored Service holds.
pub fn addresses_of(service: &Value) -> (Vec<u32>, Vec<u16>) {
    let spec = &service["spec"];
    let mut ips: Vec<u32> = match spec["clusterIPs"].as_array() {
        Some(list) if !list.is_empty() => list
            .iter()
            .filter_map(|ip| ip.as_str()?.parse::<Ipv4Addr>().ok())
            .map(u32::from)
            .collect(),
        _ => spec["clusterIP"]
            .as_str()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
            .map(u32::from)
            .into_iter()
            .collect(),
    };
    ips.dedup();
    let mut ports: Vec<u16> = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["nodePort"].as_u64())
        .chain(spec["healthCheckNodePort"].as_u64())
        .filter_map(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    (ips, ports)
}

// ---------------------------------------------------------------------------------------------
// Preparation (before validation)
// ---------------------------------------------------------------------------------------------

fn service_type(service: &Service) -> &str {
    service
        .spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("ClusterIP")
}

fn needs_cluster_ip(service: &Service) -> bool {
    service_type(service) != "ExternalName"
}

fn needs_node_port(service: &Service) -> bool {
    match service_type(service) {
        "NodePort" => true,
        "LoadBalancer" => service
            .spec
            .as_ref()
            .and_then(|s| s.allocate_load_balancer_node_ports)
            .unwrap_or(true),
        _ => false,
    }
}

/// What the registry does to a written Service before validation: on create, `clusterIPs`
/// from `clusterIP`; on update, the addresses a client left out carried over from `old`
/// (`kubectl replace` of a manifest without them), and those of a type that no longer needs
/// them dropped; then the IP family fields initialized (single-stack IPv4).
pub fn prepare(service: &mut Service, old: Option<&Service>) {
    if let Some(old) = old {
        patch_allocated_values(service, old);
        normalize_cluster_ips_update(service, old);
        drop_type_dependent_fields(service, old);
    } else if let Some(spec) = service.spec.as_mut() {
        let ip = spec.cluster_ip.clone().unwrap_or_default();
        if !ip.is_empty() && spec.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
            spec.cluster_ips = Some(vec![ip]);
        }
    }
    init_ip_families(service);
}

fn patch_allocated_values(service: &mut Service, old: &Service) {
    let (patch_ip, patch_ports) = (
        needs_cluster_ip(old) && needs_cluster_ip(service),
        needs_node_port(old) && needs_node_port(service),
    );
    let (Some(spec), Some(old_spec)) = (service.spec.as_mut(), old.spec.as_ref()) else {
        return;
    };
    if patch_ip {
        if spec.cluster_ip.as_deref().unwrap_or("").is_empty() {
            spec.cluster_ip = old_spec.cluster_ip.clone();
        }
        if spec.cluster_ips.as_ref().is_none_or(Vec::is_empty)
            && old_spec
                .cluster_ips
                .as_ref()
                .is_some_and(|ips| !ips.is_empty())
        {
            spec.cluster_ips = old_spec.cluster_ips.clone();
        }
    }
    if patch_ports {
        let used = |ports: Option<&Vec<k8s_openapi::api::core::v1::ServicePort>>| {
            ports
                .into_iter()
                .flatten()
                .filter_map(|p| p.node_port.filter(|n| *n != 0))
                .collect::<BTreeSet<i32>>()
        };
        let in_both: BTreeSet<i32> = used(old_spec.ports.as_ref())
            .intersection(&used(spec.ports.as_ref()))
            .copied()
            .collect();
        let by_name: BTreeMap<&str, i32> = old_spec
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.as_deref().unwrap_or(""), p.node_port.unwrap_or(0)))
            .collect();
        for port in spec.ports.iter_mut().flatten() {
            if port.node_port.unwrap_or(0) == 0 {
                let old_value = by_name
                    .get(port.name.as_deref().unwrap_or(""))
                    .copied()
                    .unwrap_or(0);
                if old_value != 0 && !in_both.contains(&old_value) {
                    port.node_port = Some(old_value);
                }
            }
        }
        if spec.health_check_node_port.unwrap_or(0) == 0 {
            spec.health_check_node_port = old_spec.health_check_node_port;
        }
    }
}

fn normalize_cluster_ips_update(service: &mut Service, old: &Service) {
    let (Some(spec), Some(old_spec)) = (service.spec.as_mut(), old.spec.as_ref()) else {
        return;
    };
    let old_ip = old_spec.cluster_ip.clone().unwrap_or_default();
    let new_ip = spec.cluster_ip.clone().unwrap_or_default();
    let old_ips = old_spec.cluster_ips.clone().unwrap_or_default();
    let new_ips = spec.cluster_ips.clone().unwrap_or_default();
    if !old_ips.is_empty() && new_ips.is_empty() && old_ip == new_ip {
        spec.cluster_ips = Some(old_ips.clone());
    }
    if old_ip != new_ip {
        let current_ips = spec.cluster_ips.clone().unwrap_or_default();
        if !old_ip.is_empty() && new_ip.is_empty() {
            if current_ips == old_ips {
                spec.cluster_ips = None;
            }
            return;
        }
        if current_ips == old_ips {
            spec.cluster_ips = Some(vec![new_ip]);
        }
    }
}

fn drop_type_dependent_fields(service: &mut Service, old: &Service) {
    let drop_ip = needs_cluster_ip(old) && !needs_cluster_ip(service);
    let drop_ports = needs_node_port(old) && !needs_node_port(service);
    let was_lb = service_type(old) == "LoadBalancer";
    let is_lb = service_type(service) == "LoadBalancer";
    let (Some(spec), Some(old_spec)) = (service.spec.as_mut(), old.spec.as_ref()) else {
        return;
    };
    if drop_ip {
        if spec.cluster_ip == old_spec.cluster_ip && spec.cluster_ips == old_spec.cluster_ips {
            spec.cluster_ip = None;
            spec.cluster_ips = None;
        }
        if spec.ip_families == old_spec.ip_families {
            spec.ip_families = None;
        }
        if spec.ip_family_policy == old_spec.ip_family_policy {
            spec.ip_family_policy = None;
        }
    }
    if drop_ports {
        let node_ports = |ports: Option<&Vec<k8s_openapi::api::core::v1::ServicePort>>| {
            ports
                .into_iter()
                .flatten()
                .map(|p| p.node_port.unwrap_or(0))
                .collect::<Vec<i32>>()
        };
        if node_ports(spec.ports.as_ref()) == node_ports(old_spec.ports.as_ref()) {
            for port in spec.ports.iter_mut().flatten() {
                port.node_port = None;
            }
        }
    }
    if was_lb && !is_lb {
        if spec.allocate_load_balancer_node_ports.is_some()
            && spec.allocate_load_balancer_node_ports == old_spec.allocate_load_balancer_node_ports
        {
            spec.allocate_load_balancer_node_ports = None;
        }
        if spec.health_check_node_port == old_spec.health_check_node_port {
            spec.health_check_node_port = None;
        }
    }
    let externally_accessible = matches!(
        spec.type_.as_deref().unwrap_or("ClusterIP"),
        "NodePort" | "LoadBalancer"
    ) || (spec.type_.as_deref().unwrap_or("ClusterIP") == "ClusterIP"
        && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()));
    if !externally_accessible && spec.external_traffic_policy == old_spec.external_traffic_policy {
        spec.external_traffic_policy = None;
    }
}

/// `initIPFamilyFields` on a single-stack IPv4 cluster: families inferred from the ClusterIPs
/// (else IPv4) and policy SingleStack; a headless Service without a selector asks for both
/// families unless told otherwise, as Kubernetes lets it.
fn init_ip_families(service: &mut Service) {
    if !needs_cluster_ip(service) {
        return;
    }
    let selectorless = service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_none_or(BTreeMap::is_empty);
    let Some(spec) = service.spec.as_mut() else {
        return;
    };
    let ips = spec.cluster_ips.clone().unwrap_or_default();
    let headless = ips.first().is_some_and(|ip| ip == "None");
    if headless && selectorless {
        if spec.ip_family_policy.is_none() && spec.ip_families.as_ref().is_none_or(Vec::is_empty) {
            spec.ip_family_policy = Some("RequireDualStack".to_string());
        }
        let families = spec.ip_families.get_or_insert_with(Vec::new);
        if families.is_empty() {
            families.push("IPv4".to_string());
        }
        if families.len() < 2 && spec.ip_family_policy.as_deref() != Some("SingleStack") {
            let other = if families[0] == "IPv4" {
                "IPv6"
            } else {
                "IPv4"
            };
            families.push(other.to_string());
        }
        return;
    }
    let families = spec.ip_families.get_or_insert_with(Vec::new);
    for (i, ip) in ips.iter().enumerate() {
        if ip == "None" {
            break;
        }
        let family = if ip.contains(':') { "IPv6" } else { "IPv4" };
        if i >= families.len() {
            families.push(family.to_string());
        }
    }
    if families.is_empty() {
        families.push("IPv4".to_string());
    }
    if spec.ip_family_policy.is_none() {
        spec.ip_family_policy = Some("SingleStack".to_string());
    }
}

// ---------------------------------------------------------------------------------------------
// Allocation (after validation)
// ---------------------------------------------------------------------------------------------

/// Why a Service's addresses could not be allocated.
#[derive(Debug, Clone, PartialEq)]
pub enum AllocationError {
    /// A named address is taken or out of range, or a family is not served: 422 Invalid.
    Invalid(Vec<FieldError>),
    /// The range has no free address left: kube-apiserver's 500 InternalError.
    Exhausted(String),
}

fn invalid(path: String, rendered: String, detail: String) -> FieldError {
    FieldError {
        path,
        reason: FieldErrorReason::Invalid,
        message: format!("Invalid value: {rendered}: {detail}"),
    }
}

fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn go_strings(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// Allocate what an admitted Service still needs against `addresses`: a ClusterIP unless it
/// is headless or an ExternalName, a NodePort for each port of a NodePort or LoadBalancer
/// Service (and the health-check port of a LoadBalancer with the Local policy). An address the
/// client names is checked to be in range and free, unless `old` (the version it replaces)
/// holds it already.
pub fn allocate(
    service: &mut Value,
    old: Option<&Value>,
    addresses: &ServiceAddresses,
) -> Result<(), AllocationError> {
    let ranges = &addresses.ranges;
    let held = &addresses.held;
    let (old_ips, old_ports) = old.map(addresses_of).unwrap_or_default();
    let kind = service["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    let mut errors = Vec::new();
    if kind != "ExternalName" {
        let ip = service["spec"]["clusterIP"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if ip != "None" {
            check_families(service, &mut errors);
            if !errors.is_empty() {
                return Err(AllocationError::Invalid(errors));
            }
        }
        if ip.is_empty() {
            let next = held.next_ip(ranges).ok_or_else(|| {
                AllocationError::Exhausted("failed to allocate a serviceIP: range is full".into())
            })?;
            let next = Ipv4Addr::from(next).to_string();
            service["spec"]["clusterIP"] = json!(next);
            service["spec"]["clusterIPs"] = json!([next]);
        } else if ip != "None" {
            let cluster_ips: Vec<String> = service["spec"]["clusterIPs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if let Ok(parsed) = ip.parse::<Ipv4Addr>()
                && !old_ips.contains(&u32::from(parsed))
            {
                let failure = if !ranges.contains_ip(u32::from(parsed)) {
                    Some(format!(
                        "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}",
                        ranges.cidr()
                    ))
                } else if held.holds_ip(parsed) {
                    Some("provided IP is already allocated".to_string())
                } else {
                    None
                };
                if let Some(failure) = failure {
                    errors.push(invalid(
                        "spec.clusterIPs".into(),
                        go_strings(&cluster_ips),
                        format!("failed to allocate IP {ip}: {failure}"),
                    ));
                    return Err(AllocationError::Invalid(errors));
                }
            }
        }
    }
    let needs_node_ports = kind == "NodePort"
        || (kind == "LoadBalancer"
            && service["spec"]["allocateLoadBalancerNodePorts"]
                .as_bool()
                .unwrap_or(true));
    let mut claimed: BTreeSet<u16> = BTreeSet::new();
    let count = service["spec"]["ports"].as_array().map_or(0, Vec::len);
    for i in 0..count {
        let node_port = service["spec"]["ports"][i]["nodePort"]
            .as_i64()
            .unwrap_or(0);
        if node_port == 0 {
            if !needs_node_ports {
                continue;
            }
            let next = held.next_node_port(ranges, &claimed).ok_or_else(|| {
                AllocationError::Exhausted("failed to allocate a nodePort: range is full".into())
            })?;
            claimed.insert(next);
            service["spec"]["ports"][i]["nodePort"] = json!(next);
            continue;
        }
        let port = u16::try_from(node_port).ok();
        if let Some(port) = port
            && (old_ports.contains(&port) || claimed.contains(&port))
        {
            continue;
        }
        let failure = match port {
            Some(port) if ranges.contains_port(port) => held
                .holds_node_port(port)
                .then(|| "provided port is already allocated".to_string()),
            _ => Some(format!(
                "provided port is not in the valid range. The range of valid ports is {}",
                ranges.node_port_range()
            )),
        };
        match failure {
            Some(failure) => errors.push(invalid(
                format!("spec.ports[{i}].nodePort"),
                node_port.to_string(),
                failure,
            )),
            None => {
                if let Some(port) = port {
                    claimed.insert(port);
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(AllocationError::Invalid(errors));
    }
    let wants_health_check = kind == "LoadBalancer"
        && service["spec"]["externalTrafficPolicy"].as_str() == Some("Local");
    if wants_health_check && service["spec"]["healthCheckNodePort"].as_i64().unwrap_or(0) == 0 {
        let next = held.next_node_port(ranges, &claimed).ok_or_else(|| {
            AllocationError::Exhausted(
                "failed to allocate a healthCheck nodePort: range is full".into(),
            )
        })?;
        service["spec"]["healthCheckNodePort"] = json!(next);
    }
    Ok(())
}

/// A single-stack IPv4 cluster serves neither dual-stack nor IPv6 Services.
fn check_families(service: &Value, errors: &mut Vec<FieldError>) {
    if service["spec"]["ipFamilyPolicy"].as_str() == Some("RequireDualStack") {
        errors.push(invalid(
            "spec.ipFamilyPolicy".into(),
            go_quote("RequireDualStack"),
            "this cluster is not configured for dual-stack services".into(),
        ));
    }
    let families: Vec<String> = service["spec"]["ipFamilies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    for (i, family) in families.iter().enumerate() {
        if family != "IPv4" {
            let quoted: Vec<String> = families.iter().map(|f| go_quote(f)).collect();
            errors.push(invalid(
                format!("spec.ipFamilies[{i}]"),
                format!("[]core.IPFamily{{{}}}", quoted.join(", ")),
                format!("ipfamily {family} is not configured on cluster"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "s", "namespace": "default"}, "spec": spec})
    }

    fn small() -> ServiceAddresses {
        ServiceAddresses {
            // 10.0.0.1 (the kubernetes Service's) and 10.0.0.2..=10.0.0.6 for the others.
            ranges: ServiceRanges::new("10.0.0.0/29", (30000, 30002)).unwrap(),
            held: HeldAddresses::default(),
        }
    }

    #[test]
    fn the_lowest_free_address_after_the_reserved_one_and_then_exhaustion() {
        let mut addresses = small();
        let mut given = Vec::new();
        for _ in 0..5 {
            let mut s = service(json!({"type": "ClusterIP", "ports": [{"port": 80}]}));
            allocate(&mut s, None, &addresses).unwrap();
            given.push(s["spec"]["clusterIP"].as_str().unwrap().to_string());
            assert_eq!(s["spec"]["clusterIPs"], json!([given.last().unwrap()]));
            addresses.held.hold(&s);
        }
        assert_eq!(
            given,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
        let mut s = service(json!({"type": "ClusterIP"}));
        assert_eq!(
            allocate(&mut s, None, &addresses),
            Err(AllocationError::Exhausted(
                "failed to allocate a serviceIP: range is full".into()
            ))
        );
        // A release makes its address the next one handed out.
        addresses.held.release(&service(
            json!({"clusterIP": "10.0.0.4", "clusterIPs": ["10.0.0.4"]}),
        ));
        let mut s = service(json!({"type": "ClusterIP"}));
        allocate(&mut s, None, &addresses).unwrap();
        assert_eq!(s["spec"]["clusterIP"], "10.0.0.4");
    }

    #[test]
    fn named_addresses_collide_or_fall_out_of_range_as_kube_apiserver_says() {
        let mut addresses = ServiceAddresses::default();
        addresses
            .held
            .hold(&service(json!({"clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"], "type": "NodePort",
            "ports": [{"port": 80, "nodePort": 30080}]})));
        let message = |s: &mut Value| match allocate(s, None, &addresses) {
            Err(AllocationError::Invalid(errors)) => {
                errors.iter().map(ToString::to_string).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        };
        let mut taken = service(json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]}));
        assert_eq!(
            message(&mut taken),
            [
                "spec.clusterIPs: Invalid value: []string{\"10.96.0.10\"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"
            ]
        );
        let mut outside = service(json!({"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"]}));
        assert_eq!(
            message(&mut outside),
            [
                "spec.clusterIPs: Invalid value: []string{\"10.0.0.1\"}: failed to allocate IP 10.0.0.1: the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12"
            ]
        );
        let mut port =
            service(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}));
        assert_eq!(
            message(&mut port),
            ["spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"]
        );
        let mut port =
            service(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}));
        assert_eq!(
            message(&mut port),
            [
                "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"
            ]
        );
        // The version a write replaces keeps what it holds.
        let old = service(
            json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
            "type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
        );
        let mut same = old.clone();
        assert_eq!(allocate(&mut same, Some(&old), &addresses), Ok(()));
    }

    #[test]
    fn node_ports_for_each_port_until_the_range_is_full() {
        let mut addresses = small();
        let mut s = service(json!({"type": "NodePort",
            "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}));
        allocate(&mut s, None, &addresses).unwrap();
        assert_eq!(s["spec"]["ports"][0]["nodePort"], 30000);
        assert_eq!(s["spec"]["ports"][1]["nodePort"], 30001);
        addresses.held.hold(&s);
        let mut s = service(json!({"type": "NodePort",
            "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}));
        assert_eq!(
            allocate(&mut s, None, &addresses),
            Err(AllocationError::Exhausted(
                "failed to allocate a nodePort: range is full".into()
            ))
        );
        // Headless and ExternalName Services take no address.
        let mut headless = service(json!({"clusterIP": "None", "clusterIPs": ["None"]}));
        allocate(&mut headless, None, &addresses).unwrap();
        assert_eq!(headless["spec"]["clusterIP"], "None");
        let mut external = service(json!({"type": "ExternalName", "externalName": "a.b"}));
        allocate(&mut external, None, &addresses).unwrap();
        assert!(external["spec"].get("clusterIP").is_none());
    }

    #[test]
    fn an_update_keeps_what_the_client_left_out_and_a_type_change_drops_node_ports() {
        let typed = |v: Value| -> Service { serde_json::from_value(v).unwrap() };
        let old = typed(service(
            json!({"type": "NodePort", "clusterIP": "10.96.0.5",
            "clusterIPs": ["10.96.0.5"], "ports": [{"port": 80, "nodePort": 30005}]}),
        ));
        let mut new = typed(service(
            json!({"type": "NodePort", "ports": [{"port": 80}]}),
        ));
        prepare(&mut new, Some(&old));
        let spec = new.spec.as_ref().unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.5"));
        assert_eq!(spec.ports.as_ref().unwrap()[0].node_port, Some(30005));
        let mut cluster = typed(service(
            json!({"type": "ClusterIP", "clusterIP": "10.96.0.5",
            "clusterIPs": ["10.96.0.5"], "ports": [{"port": 80, "nodePort": 30005}]}),
        ));
        prepare(&mut cluster, Some(&old));
        assert_eq!(
            cluster.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].node_port,
            None
        );
        assert_eq!(
            cluster.spec.as_ref().unwrap().ip_families.as_deref(),
            Some(&["IPv4".to_string()][..])
        );
    }
}
