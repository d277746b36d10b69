//! core/v1 Service, Endpoints and discovery/v1 EndpointSlice validation
//! (`pkg/apis/core/validation` `ValidateService`, `ValidateServiceUpdate`, `ValidateEndpoints`;
//! `pkg/apis/discovery/validation`), worded as kube-apiserver words each error.

use std::collections::{BTreeMap, BTreeSet};

use super::field::{
    Errs, FieldError, NameKind, P, duplicate_raw, duplicate_s, forbidden, invalid_i, invalid_raw,
    invalid_s, not_supported, required, too_many,
};
use super::formats::{
    FIELD_IMMUTABLE_ERR, dns_label, dns_subdomain, is_valid_port_name, is_valid_port_num,
    qualified_name, valid_cidr, valid_ip, validate_labels,
};
use super::gofmt::{go_quote, go_strings};
use super::objectmeta::validate_object_meta;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, Endpoints, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const SERVICE_TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

fn is_headless(spec: &ServiceSpec) -> bool {
    spec.cluster_ip.as_deref() == Some("None")
}

/// `%#v` of a `core.ServicePort` key as ValidateService builds it for duplicates.
fn go_port_key(protocol: &str, port: i32) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        go_quote(protocol)
    )
}

fn validate_port_num_or_name(port: Option<&IntOrString>, p: &P, errs: &mut Errs) {
    match port {
        Some(IntOrString::Int(n)) => {
            for m in is_valid_port_num(i64::from(*n)) {
                errs.push(invalid_i(p, i64::from(*n), &m));
            }
        }
        Some(IntOrString::String(s)) => {
            for m in is_valid_port_name(s) {
                errs.push(invalid_s(p, s, &m));
            }
        }
        None => {
            for m in is_valid_port_num(0) {
                errs.push(invalid_i(p, 0, &m));
            }
        }
    }
}

fn validate_protocol(protocol: Option<&str>, p: &P, errs: &mut Errs) {
    match protocol.unwrap_or("") {
        "" => errs.push(required(p, "")),
        v if !PROTOCOLS.contains(&v) => errs.push(not_supported(p, v, &PROTOCOLS)),
        _ => {}
    }
}

fn validate_service_port(
    port: &ServicePort,
    require_name: bool,
    names: &mut BTreeSet<String>,
    p: &P,
    errs: &mut Errs,
) {
    let name = port.name.as_deref().unwrap_or("");
    if require_name && name.is_empty() {
        errs.push(required(&p.child("name"), ""));
    } else if !name.is_empty() {
        dns_label(name, &p.child("name"), errs);
        if !names.insert(name.to_string()) {
            errs.push(duplicate_s(&p.child("name"), name));
        }
    }
    for m in is_valid_port_num(i64::from(port.port)) {
        errs.push(invalid_i(&p.child("port"), i64::from(port.port), &m));
    }
    validate_protocol(port.protocol.as_deref(), &p.child("protocol"), errs);
    validate_port_num_or_name(port.target_port.as_ref(), &p.child("targetPort"), errs);
    if let Some(app_protocol) = &port.app_protocol {
        qualified_name(app_protocol, &p.child("appProtocol"), errs);
    }
}

/// `ValidateServiceClusterIPsRelatedFields`.
fn validate_cluster_ips(spec: &ServiceSpec, errs: &mut Errs) {
    if spec.type_.as_deref() == Some("ExternalName") {
        return;
    }
    let sp = P::new("spec");
    let ips_path = sp.child("clusterIPs");
    let ip = spec.cluster_ip.as_deref().unwrap_or("");
    let ips = spec.cluster_ips.clone().unwrap_or_default();
    if !ip.is_empty() {
        if ips.is_empty() {
            errs.push(required(&ips_path, ""));
        } else if ips[0] != ip {
            errs.push(invalid_raw(
                &ips_path,
                &go_strings(Some(&ips)),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(invalid_raw(
            &ips_path,
            &go_strings(Some(&ips)),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, family) in spec.ip_families.iter().flatten().enumerate() {
        let fp = sp.child("ipFamilies").index(i);
        if family != "IPv4" && family != "IPv6" {
            errs.push(not_supported(&fp, family, &["IPv4", "IPv6"]));
        }
        if !seen.insert(family.clone()) {
            errs.push(duplicate_s(&fp, family));
        }
    }
    if let Some(policy) = &spec.ip_family_policy
        && !["PreferDualStack", "RequireDualStack", "SingleStack"].contains(&policy.as_str())
    {
        errs.push(not_supported(
            &sp.child("ipFamilyPolicy"),
            policy,
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    let mut bad_ips = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                bad_ips = true;
                errs.push(invalid_raw(
                    &ips_path,
                    &go_strings(Some(&ips)),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let before = errs.len();
        valid_ip(ip, &ips_path.index(i), errs);
        bad_ips |= errs.len() != before;
    }
    if ips.len() > 2 {
        errs.push(invalid_raw(
            &ips_path,
            &go_strings(Some(&ips)),
            "may only hold up to 2 values",
        ));
    }
    if bad_ips {
        return;
    }
    if ips.len() > 1 {
        let v6 = ips.iter().filter(|ip| ip.contains(':')).count();
        if v6 != 1 || ips.len() != 2 {
            errs.push(invalid_raw(
                &ips_path,
                &go_strings(Some(&ips)),
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if !is_headless(spec) {
        let families = spec.ip_families.clone().unwrap_or_default();
        for (i, ip) in ips.iter().enumerate() {
            let Some(family) = families.get(i) else {
                break;
            };
            let is_v6 = ip.contains(':');
            if family == "IPv4" && is_v6 {
                errs.push(invalid_s(
                    &ips_path.index(i),
                    ip,
                    &format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if family == "IPv6" && !is_v6 {
                errs.push(invalid_s(
                    &ips_path.index(i),
                    ip,
                    &format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
}

/// Create-time validation of a prepared core/v1 Service (`ValidateService`).
pub fn validate_service(service: &Service) -> Vec<FieldError> {
    let mut errs =
        validate_object_meta(&service.metadata, true, NameKind::Dns1035Label, "metadata");
    let default_spec = ServiceSpec::default();
    let spec = service.spec.as_ref().unwrap_or(&default_spec);
    let sp = P::new("spec");
    let ports = spec.ports.clone().unwrap_or_default();
    let kind = spec.type_.as_deref().unwrap_or("");
    let ips = spec.cluster_ips.clone().unwrap_or_default();
    if ports.is_empty() && !is_headless(spec) && kind != "ExternalName" {
        errs.push(required(&sp.child("ports"), ""));
    }
    match kind {
        "LoadBalancer" | "NodePort" if is_headless(spec) => {
            errs.push(invalid_s(
                &sp.child("clusterIPs").index(0),
                ips.first().map_or("None", String::as_str),
                &format!("may not be set to 'None' for {kind} services"),
            ));
        }
        "ExternalName" => {
            if !ips.is_empty() {
                errs.push(forbidden(
                    &sp.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
                errs.push(forbidden(
                    &sp.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(forbidden(
                    &sp.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let name = spec.external_name.as_deref().unwrap_or("");
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(required(&sp.child("externalName"), ""));
            } else {
                dns_subdomain(cname, &sp.child("externalName"), &mut errs);
            }
        }
        _ => {}
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        validate_service_port(
            port,
            ports.len() > 1,
            &mut names,
            &sp.child("ports").index(i),
            &mut errs,
        );
    }
    if let Some(selector) = &spec.selector {
        validate_labels(Some(selector), &sp.child("selector"), &mut errs);
    }
    match spec.session_affinity.as_deref().unwrap_or("") {
        "" => errs.push(required(&sp.child("sessionAffinity"), "")),
        "ClientIP" => {
            let timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds);
            let tp = sp
                .child("sessionAffinityConfig")
                .child("clientIP")
                .child("timeoutSeconds");
            match timeout {
                None => errs.push(required(&tp, "")),
                Some(t) if !(1..=86400).contains(&t) => errs.push(invalid_i(
                    &tp,
                    i64::from(t),
                    "must be greater than 0 and less than 86400",
                )),
                _ => {}
            }
        }
        "None" => {
            if spec.session_affinity_config.is_some() {
                errs.push(forbidden(
                    &sp.child("sessionAffinityConfig"),
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errs.push(not_supported(
            &sp.child("sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
    validate_cluster_ips(spec, &mut errs);
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        let before = errs.len();
        valid_ip(ip, &sp.child("externalIPs").index(i), &mut errs);
        if errs.len() == before {
            validate_non_special_ip(ip, &sp.child("externalIPs").index(i), &mut errs);
        }
    }
    match kind {
        "" => errs.push(required(&sp.child("type"), "")),
        k if !SERVICE_TYPES.contains(&k) => {
            errs.push(not_supported(&sp.child("type"), k, &SERVICE_TYPES))
        }
        _ => {}
    }
    if kind == "ClusterIP" {
        for (i, port) in ports.iter().enumerate() {
            if port.node_port.unwrap_or(0) != 0 {
                errs.push(forbidden(
                    &sp.child("ports").index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let node_port = port.node_port.unwrap_or(0);
        if node_port == 0 {
            continue;
        }
        let key = (port.protocol.clone().unwrap_or_default(), node_port);
        if !node_ports.insert(key) {
            errs.push(duplicate_raw(
                &sp.child("ports").index(i).child("nodePort"),
                &node_port.to_string(),
                "",
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let protocol = port.protocol.clone().unwrap_or_default();
        if !seen.insert((protocol.clone(), port.port)) {
            errs.push(duplicate_raw(
                &sp.child("ports").index(i),
                &go_port_key(&protocol, port.port),
                "",
            ));
        }
    }
    if let Some(ranges) = spec
        .load_balancer_source_ranges
        .as_ref()
        .filter(|r| !r.is_empty())
    {
        let fp = sp.child("LoadBalancerSourceRanges");
        if kind != "LoadBalancer" {
            errs.push(forbidden(
                &fp,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, value) in ranges.iter().enumerate() {
            valid_cidr(value.trim(), &fp.index(i), &mut errs);
        }
    }
    validate_traffic_policies(spec, kind, &mut errs);
    errs
}

/// `validateServiceExternalTrafficPolicy` and `validateServiceInternalTrafficFieldsValue`.
fn validate_traffic_policies(spec: &ServiceSpec, kind: &str, errs: &mut Errs) {
    let sp = P::new("spec");
    let externally_accessible = matches!(kind, "NodePort" | "LoadBalancer")
        || (kind == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()));
    let etp = spec.external_traffic_policy.as_deref().unwrap_or("");
    if !externally_accessible {
        if !etp.is_empty() {
            errs.push(invalid_s(
                &sp.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(required(&sp.child("externalTrafficPolicy"), ""));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(not_supported(
            &sp.child("externalTrafficPolicy"),
            etp,
            &["Cluster", "Local"],
        ));
    }
    let hc = spec.health_check_node_port.unwrap_or(0);
    if hc != 0 && !(kind == "LoadBalancer" && etp == "Local") {
        errs.push(invalid_i(
            &sp.child("healthCheckNodePort"),
            i64::from(hc),
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    }
    if kind != "ExternalName" {
        match spec.internal_traffic_policy.as_deref() {
            None => {
                if matches!(kind, "NodePort" | "LoadBalancer" | "ClusterIP") {
                    errs.push(required(&sp.child("internalTrafficPolicy"), ""));
                }
            }
            Some(v) if v != "Cluster" && v != "Local" => errs.push(not_supported(
                &sp.child("internalTrafficPolicy"),
                v,
                &["Cluster", "Local"],
            )),
            _ => {}
        }
    }
}

fn validate_non_special_ip(ip: &str, p: &P, errs: &mut Errs) {
    let Ok(parsed) = ip.parse::<std::net::IpAddr>() else {
        return;
    };
    if parsed.is_unspecified() {
        errs.push(invalid_s(p, ip, &format!("may not be unspecified ({ip})")));
    }
    if parsed.is_loopback() {
        errs.push(invalid_s(
            p,
            ip,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let (link_local, link_local_multicast) = match parsed {
        std::net::IpAddr::V4(v4) => (v4.is_link_local(), v4.octets()[..3] == [224, 0, 0]),
        std::net::IpAddr::V6(v6) => (
            (v6.segments()[0] & 0xffc0) == 0xfe80,
            (v6.segments()[0] & 0xff0f) == 0xff02,
        ),
    };
    if link_local {
        errs.push(invalid_s(
            p,
            ip,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        errs.push(invalid_s(
            p,
            ip,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
}

/// Update validation (`ValidateServiceUpdate`): the ClusterIPs and IP families may not change
/// once set (unless to or from ExternalName), then everything [`validate_service`] checks.
pub fn validate_service_update(new: &Service, old: &Service) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let default_spec = ServiceSpec::default();
    let ns = new.spec.as_ref().unwrap_or(&default_spec);
    let os = old.spec.as_ref().unwrap_or(&default_spec);
    let external = |s: &ServiceSpec| s.type_.as_deref() == Some("ExternalName");
    let exempt = external(ns) || external(os) || (is_headless(ns) && is_headless(os));
    if !exempt {
        let new_ips = ns.cluster_ips.clone().unwrap_or_default();
        let old_ips = os.cluster_ips.clone().unwrap_or_default();
        let path = P::new("spec").child("clusterIPs");
        let rendered = go_strings(ns.cluster_ips.as_ref());
        if new_ips.len() == old_ips.len() {
            for (i, ip) in old_ips.iter().enumerate() {
                if *ip != new_ips[i] {
                    errs.push(invalid_raw(
                        &path.index(i),
                        &rendered,
                        "may not change once set",
                    ));
                }
            }
        } else if new_ips.is_empty() {
            errs.push(invalid_raw(
                &path.index(0),
                &rendered,
                "primary clusterIP can not be unset",
            ));
        } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
            errs.push(invalid_raw(
                &path.index(0),
                &rendered,
                "may not change once set",
            ));
        }
        let new_families = ns.ip_families.clone().unwrap_or_default();
        let old_families = os.ip_families.clone().unwrap_or_default();
        if !old_families.is_empty()
            && !new_families.is_empty()
            && old_families[0] != new_families[0]
        {
            let quoted: Vec<String> = new_families.iter().map(|f| go_quote(f)).collect();
            errs.push(invalid_raw(
                &P::new("spec").child("ipFamilies").index(0),
                &format!("[]core.IPFamily{{{}}}", quoted.join(", ")),
                "may not change once set",
            ));
        }
    }
    if os.load_balancer_class.is_some()
        && ns.load_balancer_class != os.load_balancer_class
        && ns.type_.as_deref() == Some("LoadBalancer")
        && os.type_.as_deref() == Some("LoadBalancer")
    {
        errs.push(invalid_raw(
            &P::new("spec").child("loadBalancerClass"),
            &ns.load_balancer_class
                .as_deref()
                .map_or("null".to_string(), go_quote),
            FIELD_IMMUTABLE_ERR,
        ));
    }
    errs.extend(validate_service(new));
    errs
}

/// Status update (`ValidateServiceStatusUpdate`): the load balancer's ingress points.
pub fn validate_service_status_update(new: &Service, _old: &Service) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&new.metadata, true, NameKind::Dns1035Label, "metadata");
    let ingress = new
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    let p = P::new("status").child("loadBalancer").child("ingress");
    for (i, point) in ingress.into_iter().flatten().enumerate() {
        if let Some(ip) = point.ip.as_deref().filter(|ip| !ip.is_empty()) {
            valid_ip(ip, &p.index(i).child("ip"), &mut errs);
        }
        if let Some(host) = point.hostname.as_deref().filter(|h| !h.is_empty()) {
            dns_subdomain(host, &p.index(i).child("hostname"), &mut errs);
            if host.parse::<std::net::IpAddr>().is_ok() {
                errs.push(invalid_s(
                    &p.index(i).child("hostname"),
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

/// `ValidateEndpointIP`: an endpoint may not be unspecified, loopback or link-local.
fn validate_endpoint_ip(ip: &str, p: &P, errs: &mut Errs) {
    if ip.parse::<std::net::IpAddr>().is_err() {
        errs.push(invalid_s(p, ip, "must be a valid IP address"));
        return;
    }
    validate_non_special_ip(ip, p, errs);
}

fn validate_endpoint_address(address: &EndpointAddress, p: &P, errs: &mut Errs) {
    valid_ip(&address.ip, &p.child("ip"), errs);
    if let Some(hostname) = address.hostname.as_deref().filter(|h| !h.is_empty()) {
        dns_label(hostname, &p.child("hostname"), errs);
    }
    if let Some(node) = &address.node_name {
        dns_subdomain(node, &p.child("nodeName"), errs);
    }
    validate_endpoint_ip(&address.ip, &p.child("ip"), errs);
}

fn validate_endpoint_port(port: &EndpointPort, require_name: bool, p: &P, errs: &mut Errs) {
    let name = port.name.as_deref().unwrap_or("");
    if require_name && name.is_empty() {
        errs.push(required(&p.child("name"), ""));
    } else if !name.is_empty() {
        dns_label(name, &p.child("name"), errs);
    }
    for m in is_valid_port_num(i64::from(port.port)) {
        errs.push(invalid_i(&p.child("port"), i64::from(port.port), &m));
    }
    validate_protocol(port.protocol.as_deref(), &p.child("protocol"), errs);
    if let Some(app_protocol) = &port.app_protocol {
        qualified_name(app_protocol, &p.child("appProtocol"), errs);
    }
}

/// `ValidateEndpoints`: every subset has addresses (ready or not), valid IPs and ports.
pub fn validate_endpoints(endpoints: &Endpoints) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&endpoints.metadata, true, NameKind::Subdomain, "metadata");
    let p = P::new("subsets");
    for (i, subset) in endpoints.subsets.iter().flatten().enumerate() {
        let sp = p.index(i);
        let ready = subset.addresses.as_ref().map_or(0, Vec::len);
        let not_ready = subset.not_ready_addresses.as_ref().map_or(0, Vec::len);
        if ready == 0 && not_ready == 0 {
            errs.push(required(
                &sp,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (j, address) in subset.addresses.iter().flatten().enumerate() {
            validate_endpoint_address(address, &sp.child("addresses").index(j), &mut errs);
        }
        for (j, address) in subset.not_ready_addresses.iter().flatten().enumerate() {
            validate_endpoint_address(address, &sp.child("notReadyAddresses").index(j), &mut errs);
        }
        let ports = subset.ports.as_ref().map_or(0, Vec::len);
        for (j, port) in subset.ports.iter().flatten().enumerate() {
            validate_endpoint_port(port, ports > 1, &sp.child("ports").index(j), &mut errs);
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// EndpointSlice
// ---------------------------------------------------------------------------------------------

const MAX_ENDPOINTS: usize = 1000;
const MAX_PORTS: usize = 20000;
const MAX_ADDRESSES: usize = 100;
const ADDRESS_TYPES: [&str; 3] = ["FQDN", "IPv4", "IPv6"];

/// `ValidateEndpointSliceCreate`: the address type, each endpoint's addresses (of that type),
/// hostname, node name and target, and the ports (named uniquely, valid numbers and protocols).
pub fn validate_endpoint_slice(slice: &EndpointSlice) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&slice.metadata, true, NameKind::Subdomain, "metadata");
    let address_type = slice.address_type.as_str();
    if address_type.is_empty() {
        errs.push(required(&P::new("addressType"), ""));
    } else if !ADDRESS_TYPES.contains(&address_type) {
        errs.push(not_supported(
            &P::new("addressType"),
            address_type,
            &ADDRESS_TYPES,
        ));
    }
    let ep = P::new("endpoints");
    if slice.endpoints.len() > MAX_ENDPOINTS {
        errs.push(too_many(&ep, slice.endpoints.len(), MAX_ENDPOINTS));
    }
    for (i, endpoint) in slice.endpoints.iter().enumerate() {
        let p = ep.index(i);
        let ap = p.child("addresses");
        if endpoint.addresses.is_empty() {
            errs.push(required(&ap, "must contain at least 1 address"));
        } else if endpoint.addresses.len() > MAX_ADDRESSES {
            errs.push(too_many(&ap, endpoint.addresses.len(), MAX_ADDRESSES));
        }
        for (j, address) in endpoint.addresses.iter().enumerate() {
            let p = ap.index(j);
            match address_type {
                "IPv4" => {
                    if address.parse::<std::net::Ipv4Addr>().is_err() {
                        errs.push(invalid_s(&p, address, "must be a valid IPv4 address"));
                    } else {
                        validate_endpoint_ip(address, &p, &mut errs);
                    }
                }
                "IPv6" => {
                    if address.parse::<std::net::Ipv6Addr>().is_err() {
                        errs.push(invalid_s(&p, address, "must be a valid IPv6 address"));
                    } else {
                        validate_endpoint_ip(address, &p, &mut errs);
                    }
                }
                "FQDN" => dns_subdomain(address, &p, &mut errs),
                _ => {}
            }
        }
        if let Some(hostname) = endpoint.hostname.as_deref() {
            dns_label(hostname, &p.child("hostname"), &mut errs);
        }
        if let Some(node) = endpoint.node_name.as_deref() {
            dns_subdomain(node, &p.child("nodeName"), &mut errs);
        }
        if let Some(zone) = endpoint.zone.as_deref() {
            validate_labels(
                Some(&BTreeMap::from([(
                    "topology.kubernetes.io/zone".to_string(),
                    zone.to_string(),
                )])),
                &p.child("zone"),
                &mut errs,
            );
        }
    }
    let pp = P::new("ports");
    let ports = slice.ports.clone().unwrap_or_default();
    if ports.len() > MAX_PORTS {
        errs.push(too_many(&pp, ports.len(), MAX_PORTS));
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = pp.index(i);
        let name = port.name.as_deref().unwrap_or("");
        if !name.is_empty() {
            dns_label(name, &p.child("name"), &mut errs);
        }
        if !names.insert(name.to_string()) {
            errs.push(duplicate_s(&p.child("name"), name));
        }
        match port.port {
            None => errs.push(required(&p.child("port"), "")),
            Some(n) => {
                for m in is_valid_port_num(i64::from(n)) {
                    errs.push(invalid_i(&p.child("port"), i64::from(n), &m));
                }
            }
        }
        validate_protocol(port.protocol.as_deref(), &p.child("protocol"), &mut errs);
        if let Some(app_protocol) = &port.app_protocol {
            qualified_name(app_protocol, &p.child("appProtocol"), &mut errs);
        }
    }
    errs
}

/// `ValidateEndpointSliceUpdate`: [`validate_endpoint_slice`], and the address type may not
/// change (unless it was an old `IP` slice).
pub fn validate_endpoint_slice_update(new: &EndpointSlice, old: &EndpointSlice) -> Vec<FieldError> {
    let mut errs = validate_endpoint_slice(new);
    if new.address_type != old.address_type && old.address_type != "IP" {
        errs.push(invalid_s(
            &P::new("addressType"),
            &new.address_type,
            FIELD_IMMUTABLE_ERR,
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::defaults::default_service;
    use crate::model::validation::field::FieldErrorReason::{
        Duplicate, Forbidden, Invalid, NotSupported, Required,
    };
    use crate::model::validation::testing::merge;
    use serde_json::{Value, json};

    fn service(patch: Value) -> Service {
        let mut v = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "echo", "namespace": "default"},
            "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 3000}]}});
        merge(&mut v, patch);
        let mut s: Service = serde_json::from_value(v).unwrap();
        default_service(&mut s);
        crate::model::service::prepare(&mut s, None);
        s
    }

    fn paths(errs: &[FieldError]) -> Vec<(String, crate::model::FieldErrorReason)> {
        errs.iter().map(|e| (e.path.clone(), e.reason)).collect()
    }

    #[test]
    fn service_table() {
        let cases: Vec<super::super::testing::Case> = vec![
            ("valid", json!({}), vec![]),
            (
                "bad name",
                json!({"metadata": {"name": "1echo"}}),
                vec![("metadata.name", Invalid)],
            ),
            (
                "no ports",
                json!({"spec": {"ports": []}}),
                vec![("spec.ports", Required)],
            ),
            (
                "headless without ports",
                json!({"spec": {"ports": [], "clusterIP": "None"}}),
                vec![],
            ),
            (
                "two unnamed ports",
                json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}}),
                vec![
                    ("spec.ports[0].name", Required),
                    ("spec.ports[1].name", Required),
                ],
            ),
            (
                "duplicate names",
                json!({"spec": {"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]}}),
                vec![("spec.ports[1].name", Duplicate)],
            ),
            (
                "duplicate port",
                json!({"spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}}),
                vec![("spec.ports[1]", Duplicate)],
            ),
            (
                "port out of range",
                json!({"spec": {"ports": [{"port": 70000, "targetPort": 80}]}}),
                vec![("spec.ports[0].port", Invalid)],
            ),
            (
                "protocol",
                json!({"spec": {"ports": [{"port": 80, "protocol": "HTTP"}]}}),
                vec![("spec.ports[0].protocol", NotSupported)],
            ),
            (
                "named target port",
                json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}]}}),
                vec![],
            ),
            (
                "bad target port name",
                json!({"spec": {"ports": [{"port": 80, "targetPort": "8080"}]}}),
                vec![("spec.ports[0].targetPort", Invalid)],
            ),
            (
                "nodePort on ClusterIP",
                json!({"spec": {"ports": [{"port": 80, "nodePort": 30001}]}}),
                vec![("spec.ports[0].nodePort", Forbidden)],
            ),
            (
                "headless NodePort",
                json!({"spec": {"type": "NodePort", "clusterIP": "None"}}),
                vec![("spec.clusterIPs[0]", Invalid)],
            ),
            (
                "type",
                json!({"spec": {"type": "Internal"}}),
                vec![("spec.type", NotSupported)],
            ),
            (
                "externalName",
                json!({"spec": {"type": "ExternalName", "externalName": "db.example.com", "ports": []}}),
                vec![],
            ),
            (
                "externalName required",
                json!({"spec": {"type": "ExternalName"}}),
                vec![("spec.externalName", Required)],
            ),
            (
                "bad clusterIP",
                json!({"spec": {"clusterIP": "10.96.0.300"}}),
                vec![("spec.clusterIPs[0]", Invalid)],
            ),
        ];
        for (name, patch, want) in cases {
            let errs = validate_service(&service(patch));
            let want: Vec<(String, _)> =
                want.into_iter().map(|(p, r)| (p.to_string(), r)).collect();
            assert_eq!(paths(&errs), want, "{name}: {errs:?}");
        }
    }

    #[test]
    fn messages_are_kube_apiserver_s() {
        let errs = validate_service(&service(
            json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}}),
        ));
        assert_eq!(errs[0].to_string(), "spec.ports[0].name: Required value");
        let errs = validate_service(&service(
            json!({"spec": {"ports": [{"port": 80, "nodePort": 30001}]}}),
        ));
        assert_eq!(
            errs[0].to_string(),
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
        );
        let errs = validate_service(&service(
            json!({"spec": {"ports": [{"port": 80, "protocol": "HTTP"}]}}),
        ));
        assert_eq!(
            errs[0].to_string(),
            "spec.ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
        );
        let errs = validate_service(&service(json!({"metadata": {"name": "1echo"}})));
        assert_eq!(
            errs[0].to_string(),
            "metadata.name: Invalid value: \"1echo\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        );
    }

    #[test]
    fn the_cluster_ip_may_not_change() {
        let old = service(json!({"spec": {"clusterIP": "10.96.0.10"}}));
        let mut new = service(json!({"spec": {"clusterIP": "10.96.0.11"}}));
        crate::model::service::prepare(&mut new, Some(&old));
        let errs = validate_service_update(&new, &old);
        assert_eq!(
            errs[0].to_string(),
            "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set"
        );
    }

    #[test]
    fn endpoints_and_slices() {
        let endpoints: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": "echo", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "127.0.0.1"}],
                         "ports": [{"port": 80, "protocol": "TCP"}]}, {}]}))
        .unwrap();
        let errs = validate_endpoints(&endpoints);
        assert_eq!(
            paths(&errs),
            vec![
                ("subsets[0].addresses[1].ip".to_string(), Invalid),
                ("subsets[1]".to_string(), Required)
            ]
        );
        let slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "echo-abc", "namespace": "default"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["fd00::1"]}],
            "ports": [{"name": "", "port": 80, "protocol": "TCP"}]}))
        .unwrap();
        let errs = validate_endpoint_slice(&slice);
        assert_eq!(
            errs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "endpoints[1].addresses[0]: Invalid value: \"fd00::1\": must be a valid IPv4 address"
            ]
        );
    }
}
