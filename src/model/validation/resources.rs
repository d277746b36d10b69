//! Container resources: resource names, requests and limits, hugepages, resize policy.

use std::collections::{BTreeMap, BTreeSet};

use super::field::{
    Errs, P, duplicate_s, forbidden, invalid_s, not_found_s, not_supported, required,
};
use super::formats::{IS_NEGATIVE_ERR, dns_label, is_qualified_name, qualified_name};
use super::quantity::{NANO, ParsedQuantity, parse_quantity};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

// --- resources -------------------------------------------------------------------------------

fn is_hugepage_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_extended_resource(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}")).is_empty()
}

fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_hugepage_resource(name)
}

fn is_integer_resource(name: &str) -> bool {
    matches!(
        name,
        "pods"
            | "resourcequotas"
            | "services"
            | "replicationcontrollers"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || is_extended_resource(name)
}

fn is_standard_resource_name(name: &str) -> bool {
    matches!(
        name,
        "cpu"
            | "memory"
            | "ephemeral-storage"
            | "requests.cpu"
            | "requests.memory"
            | "requests.ephemeral-storage"
            | "limits.cpu"
            | "limits.memory"
            | "limits.ephemeral-storage"
            | "pods"
            | "resourcequotas"
            | "services"
            | "replicationcontrollers"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "storage"
            | "requests.storage"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
}

fn validate_container_resource_name(name: &str, p: &P, errs: &mut Errs) {
    let before = errs.len();
    qualified_name(name, p, errs);
    if errs.len() == before && !name.contains('/') && !is_standard_resource_name(name) {
        errs.push(invalid_s(
            p,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    if !name.contains('/') {
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !is_hugepage_resource(name) {
            errs.push(invalid_s(
                p,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(invalid_s(
            p,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

/// `ValidateResourceQuantityValue`; returns the parsed quantity when it parses.
pub(super) fn validate_resource_quantity_value(
    name: &str,
    q: &K8sQuantity,
    p: &P,
    errs: &mut Errs,
) -> Option<ParsedQuantity> {
    let parsed = match parse_quantity(&q.0) {
        Ok(v) => v,
        Err(e) => {
            errs.push(invalid_s(p, &q.0, &e));
            return None;
        }
    };
    if parsed.nanos < 0 {
        errs.push(invalid_s(p, &parsed.canonical(), IS_NEGATIVE_ERR));
    }
    if is_integer_resource(name) && parsed.nanos % NANO != 0 {
        errs.push(invalid_s(p, &parsed.canonical(), "must be an integer"));
    }
    Some(parsed)
}

fn hugepage_divisible(name: &str, q: &ParsedQuantity) -> bool {
    let Some(size) = name.strip_prefix("hugepages-") else {
        return true;
    };
    match parse_quantity(size) {
        Ok(ps) if ps.nanos > 0 && ps.nanos % NANO == 0 => (q.nanos / NANO) % (ps.nanos / NANO) == 0,
        _ => false,
    }
}

pub(super) fn validate_resource_requirements(
    res: Option<&ResourceRequirements>,
    pod_claims: &BTreeSet<String>,
    p: &P,
    errs: &mut Errs,
) {
    let empty = BTreeMap::new();
    let limits = res.and_then(|r| r.limits.as_ref()).unwrap_or(&empty);
    let requests = res.and_then(|r| r.requests.as_ref()).unwrap_or(&empty);
    let lim_path = p.child("limits");
    let req_path = p.child("requests");
    let (mut lim_cm, mut req_cm, mut lim_hp, mut req_hp) = (false, false, false, false);
    for (name, q) in limits {
        let fp = lim_path.key(name);
        validate_container_resource_name(name, &fp, errs);
        let parsed = validate_resource_quantity_value(name, q, &fp, errs);
        if is_hugepage_resource(name) {
            lim_hp = true;
            if let Some(v) = parsed
                && !hugepage_divisible(name, &v)
            {
                errs.push(invalid_s(
                    &fp,
                    &v.canonical(),
                    &format!(
                        "{} is not positive integer multiple of {name}",
                        v.canonical()
                    ),
                ));
            }
        }
        if name == "cpu" || name == "memory" {
            lim_cm = true;
        }
    }
    for (name, q) in requests {
        let fp = req_path.key(name);
        validate_container_resource_name(name, &fp, errs);
        let parsed = validate_resource_quantity_value(name, q, &fp, errs);
        if let Some(lq) = limits.get(name) {
            if let (Some(rv), Ok(lv)) = (parsed, parse_quantity(&lq.0)) {
                if rv.nanos != lv.nanos && !is_overcommit_allowed(name) {
                    errs.push(invalid_s(
                        &req_path,
                        &rv.canonical(),
                        &format!("must be equal to {name} limit of {}", lv.canonical()),
                    ));
                } else if rv.nanos > lv.nanos {
                    errs.push(invalid_s(
                        &req_path,
                        &rv.canonical(),
                        &format!(
                            "must be less than or equal to {name} limit of {}",
                            lv.canonical()
                        ),
                    ));
                }
            }
        } else if !is_overcommit_allowed(name) {
            errs.push(required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            ));
        }
        if is_hugepage_resource(name) {
            req_hp = true;
            if let Some(v) = parsed
                && !hugepage_divisible(name, &v)
            {
                errs.push(invalid_s(
                    &fp,
                    &v.canonical(),
                    &format!(
                        "{} is not positive integer multiple of {name}",
                        v.canonical()
                    ),
                ));
            }
        }
        if name == "cpu" || name == "memory" {
            req_cm = true;
        }
    }
    if !lim_cm && !req_cm && (req_hp || lim_hp) {
        errs.push(forbidden(p, "HugePages require cpu or memory"));
    }
    // validateResourceClaimNames
    let claims_path = p.child("claims");
    let mut names: BTreeSet<String> = BTreeSet::new();
    for (i, c) in res
        .and_then(|r| r.claims.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let cp = claims_path.index(i);
        if c.name.is_empty() {
            errs.push(required(&cp, ""));
            continue;
        }
        if names.contains(&c.name) {
            errs.push(duplicate_s(&cp, &c.name));
        } else {
            let mut key = c.name.clone();
            let request = c.request.as_deref().unwrap_or("");
            if !request.is_empty() {
                dns_label(request, &cp.child("request"), errs);
                key = format!("{key}/{request}");
            }
            if names.contains(&key) {
                errs.push(duplicate_s(&cp, &key));
            } else if request.is_empty() {
                for existing in &names {
                    if existing.split_once('/').is_some_and(|(n, _)| n == c.name) {
                        errs.push(duplicate_s(&cp, &c.name));
                    }
                }
            }
            names.insert(key);
        }
        if !pod_claims.contains(&c.name) {
            let detail = if pod_claims.is_empty() {
                "must be one of the names in pod.spec.resourceClaims which is empty".to_string()
            } else {
                let list: Vec<&str> = pod_claims.iter().map(String::as_str).collect();
                format!(
                    "must be one of the names in pod.spec.resourceClaims: {}",
                    list.join(", ")
                )
            };
            errs.push(not_found_s(&cp, &c.name, &detail));
        }
    }
}

pub(super) fn validate_resize_policy(
    list: Option<&Vec<k8s_openapi::api::core::v1::ContainerResizePolicy>>,
    restart_policy: &str,
    p: &P,
    errs: &mut Errs,
) {
    let mut seen = BTreeSet::new();
    for (i, rp) in list.into_iter().flatten().enumerate() {
        if !seen.insert(rp.resource_name.clone()) {
            errs.push(duplicate_s(&p.index(i), &rp.resource_name));
        }
        match rp.resource_name.as_str() {
            "cpu" | "memory" => {}
            "" => errs.push(required(p, "")),
            other => errs.push(not_supported(p, other, &["cpu", "memory"])),
        }
        match rp.restart_policy.as_str() {
            "NotRequired" | "RestartContainer" => {}
            "" => errs.push(required(p, "")),
            other => errs.push(not_supported(
                p,
                other,
                &["NotRequired", "RestartContainer"],
            )),
        }
        if restart_policy == "Never" && rp.restart_policy != "NotRequired" {
            errs.push(invalid_s(
                p,
                &rp.restart_policy,
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
}
