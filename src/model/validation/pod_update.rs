//! Pod updates (`ValidatePodUpdate`) and status updates (`ValidatePodStatusUpdate`): which
//! fields may change, and how container states may move.

use std::collections::{BTreeMap, BTreeSet};

use super::field::{
    Errs, FieldError, P, duplicate_raw, forbidden, invalid_i, invalid_raw, invalid_s, required,
};
use super::formats::{
    FIELD_IMMUTABLE_ERR, MAX_INT32, inclusive_range_error, name_is_dns_subdomain, qualified_name,
    valid_ip,
};
use super::gofmt::{go_map, go_quote};
use super::pod::{
    MIRROR_POD_ANNOTATION, pod_spec_or_default, validate_pod_metadata_and_spec,
    validate_tolerations,
};
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

// ---------------------------------------------------------------------------------------------
// Pod updates
// ---------------------------------------------------------------------------------------------

const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";
const APPARMOR_BETA_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// Drops nulls, empty arrays and empty objects, approximating Go's semantic equality (nil and
/// empty slices/maps compare equal; value structs are always present).
fn normalize_json(v: serde_json::Value) -> Option<serde_json::Value> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::Array(a) => {
            let items: Vec<serde_json::Value> = a
                .into_iter()
                .map(|x| normalize_json(x).unwrap_or(serde_json::Value::Null))
                .collect();
            if items.is_empty() {
                None
            } else {
                Some(serde_json::Value::Array(items))
            }
        }
        serde_json::Value::Object(o) => {
            let m: serde_json::Map<String, serde_json::Value> = o
                .into_iter()
                .filter_map(|(k, v)| normalize_json(v).map(|v| (k, v)))
                .collect();
            if m.is_empty() {
                None
            } else {
                Some(serde_json::Value::Object(m))
            }
        }
        other => Some(other),
    }
}

pub(super) fn semantic_eq<T: serde::Serialize>(a: &T, b: &T) -> bool {
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(x), Ok(y)) => normalize_json(x) == normalize_json(y),
        _ => false,
    }
}

fn dedup(errs: Vec<FieldError>) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = Vec::with_capacity(errs.len());
    for e in errs {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

fn validate_pod_annotation_updates(new: &ObjectMeta, old: &ObjectMeta, errs: &mut Errs) {
    let p = P::new("metadata").child("annotations");
    let empty = BTreeMap::new();
    let new_a = new.annotations.as_ref().unwrap_or(&empty);
    let old_a = old.annotations.as_ref().unwrap_or(&empty);
    for (k, ov) in old_a {
        if new_a.get(k) == Some(ov) {
            continue;
        }
        if k.starts_with(APPARMOR_BETA_PREFIX) {
            errs.push(forbidden(
                &p.key(k),
                "may not remove or update AppArmor annotations",
            ));
        }
        if k == MIRROR_POD_ANNOTATION {
            errs.push(forbidden(
                &p.key(k),
                "may not remove or update mirror pod annotation",
            ));
        }
    }
    for k in new_a.keys() {
        if old_a.contains_key(k) {
            continue;
        }
        if k.starts_with(APPARMOR_BETA_PREFIX) {
            errs.push(forbidden(&p.key(k), "may not add AppArmor annotations"));
        }
        if k == MIRROR_POD_ANNOTATION {
            errs.push(forbidden(&p.key(k), "may not add mirror pod annotation"));
        }
    }
}

fn validate_container_updates(
    new: &[Container],
    old: &[Container],
    p: &P,
    errs: &mut Errs,
) -> bool {
    if new.len() != old.len() {
        errs.push(forbidden(p, "pod updates may not add or remove containers"));
        return true;
    }
    for (i, c) in new.iter().enumerate() {
        let image = c.image.as_deref().unwrap_or("");
        if image.is_empty() {
            errs.push(required(&p.index(i).child("image"), ""));
        }
        if image.trim().len() != image.len() {
            errs.push(invalid_s(
                &p.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    false
}

/// Update validation: `validate_pod`'s spec/metadata rules (minus create-only ones) plus
/// `ValidatePodUpdate`'s immutability of everything in `spec` except the mutable fields.
/// Metadata immutability (name/namespace/uid/...) is the caller's job.
pub fn validate_pod_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_pod_metadata_and_spec(new, &mut errs);
    validate_pod_annotation_updates(&new.metadata, &old.metadata, &mut errs);
    let spec_path = P::new("spec");
    let new_spec = pod_spec_or_default(new).into_owned();
    let old_spec = pod_spec_or_default(old).into_owned();

    if validate_container_updates(
        &new_spec.containers,
        &old_spec.containers,
        &spec_path.child("containers"),
        &mut errs,
    ) {
        return dedup(errs);
    }
    let new_inits = new_spec.init_containers.clone().unwrap_or_default();
    let old_inits = old_spec.init_containers.clone().unwrap_or_default();
    if validate_container_updates(
        &new_inits,
        &old_inits,
        &spec_path.child("initContainers"),
        &mut errs,
    ) {
        return dedup(errs);
    }
    let ads_path = spec_path.child("activeDeadlineSeconds");
    match (
        new_spec.active_deadline_seconds,
        old_spec.active_deadline_seconds,
    ) {
        (Some(n), old_ads) => {
            if !(0..=MAX_INT32).contains(&n) {
                errs.push(invalid_i(
                    &ads_path,
                    n,
                    &inclusive_range_error(0, MAX_INT32),
                ));
                return dedup(errs);
            }
            if let Some(o) = old_ads
                && o < n
            {
                errs.push(invalid_i(
                    &ads_path,
                    n,
                    "must be less than or equal to previous value",
                ));
                return dedup(errs);
            }
        }
        (None, Some(_)) => errs.push(invalid_raw(
            &ads_path,
            "null",
            "must not update from a positive integer to nil value",
        )),
        (None, None) => {}
    }
    // validateOnlyAddedTolerations
    let new_tols = new_spec.tolerations.clone().unwrap_or_default();
    let old_tols = old_spec.tolerations.clone().unwrap_or_default();
    let tol_path = spec_path.child("tolerations");
    let mut tol_ok = true;
    for o in &old_tols {
        let found = new_tols.iter().any(|n| {
            let mut clone = o.clone();
            clone.toleration_seconds = n.toleration_seconds;
            semantic_eq(&clone, n)
        });
        if !found {
            errs.push(forbidden(
                &tol_path,
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            tol_ok = false;
            break;
        }
    }
    if tol_ok {
        validate_tolerations(&new_tols, &tol_path, &mut errs);
    }
    // validateOnlyDeletedSchedulingGates
    let new_gates = new_spec.scheduling_gates.clone().unwrap_or_default();
    let old_gates = old_spec.scheduling_gates.clone().unwrap_or_default();
    let mut added: BTreeMap<String, usize> = BTreeMap::new();
    for (i, g) in new_gates.iter().enumerate() {
        added.insert(g.name.clone(), i);
    }
    for g in &old_gates {
        added.remove(&g.name);
    }
    for (gate, i) in added {
        errs.push(forbidden(
            &spec_path.child("schedulingGates").index(i).child("name"),
            &format!("only deletion is allowed, but found new scheduling gate '{gate}'"),
        ));
    }

    if semantic_eq(&new_spec, &old_spec) {
        return dedup(errs);
    }
    let mut munged = new_spec.clone();
    for (c, o) in munged.containers.iter_mut().zip(old_spec.containers.iter()) {
        c.image = o.image.clone();
    }
    if let Some(inits) = munged.init_containers.as_mut() {
        for (c, o) in inits.iter_mut().zip(old_inits.iter()) {
            c.image = o.image.clone();
        }
    }
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged.scheduling_gates = old_spec.scheduling_gates.clone();
    munged.tolerations = old_spec.tolerations.clone();
    if old_spec
        .termination_grace_period_seconds
        .is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;
    }
    if !old_gates.is_empty() && !semantic_eq(&munged.node_selector, &old_spec.node_selector) {
        let empty = BTreeMap::new();
        let new_sel = munged.node_selector.as_ref().unwrap_or(&empty);
        let changed = old_spec
            .node_selector
            .iter()
            .flatten()
            .any(|(k, v)| new_sel.get(k) != Some(v));
        if changed {
            errs.push(invalid_raw(
                &spec_path.child("nodeSelector"),
                &go_map(munged.node_selector.as_ref()),
                "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
            ));
        }
        munged.node_selector = old_spec.node_selector.clone();
    }
    if !semantic_eq(&munged, &old_spec) {
        errs.push(forbidden(&spec_path, POD_UPDATE_FORBIDDEN));
    }
    dedup(errs)
}

fn container_state_transitions(
    new: Option<&Vec<ContainerStatus>>,
    old: Option<&Vec<ContainerStatus>>,
    restart_policy: &str,
    restartable: &BTreeSet<String>,
    p: &P,
    errs: &mut Errs,
) {
    if restart_policy == "Always" {
        return;
    }
    for (i, os) in old.into_iter().flatten().enumerate() {
        let Some(term) = os.state.as_ref().and_then(|s| s.terminated.as_ref()) else {
            continue;
        };
        if term.exit_code != 0 && restart_policy == "OnFailure" {
            continue;
        }
        if restartable.contains(&os.name) {
            continue;
        }
        for ns in new.into_iter().flatten() {
            if ns.name == os.name
                && ns
                    .state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .is_none()
            {
                errs.push(forbidden(
                    &p.index(i).child("state"),
                    "may not be transitioned to non-terminated state",
                ));
            }
        }
    }
}

fn validate_ip_list(ips: &[String], kind: &str, p: &P, errs: &mut Errs) {
    for (i, ip) in ips.iter().enumerate() {
        valid_ip(ip, &p.index(i), errs);
    }
    if ips.len() > 1 {
        let v4 = ips
            .iter()
            .filter(|s| matches!(s.parse::<std::net::IpAddr>(), Ok(std::net::IpAddr::V4(_))))
            .count();
        let v6 = ips
            .iter()
            .filter(|s| matches!(s.parse::<std::net::IpAddr>(), Ok(std::net::IpAddr::V6(_))))
            .count();
        let dual = v4 >= 1 && v6 >= 1;
        let render = |ip: &str| format!("core.{kind}{{IP:{}}}", go_quote(ip));
        if !dual || ips.len() > 2 {
            let all: Vec<String> = ips.iter().map(|s| render(s)).collect();
            errs.push(invalid_raw(
                p,
                &format!("[]core.{kind}{{{}}}", all.join(", ")),
                "may specify no more than one IP for each IP family",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, ip) in ips.iter().enumerate() {
            if !seen.insert(ip.clone()) {
                errs.push(duplicate_raw(&p.index(i), &render(ip), ""));
            }
        }
    }
}

/// Status-update validation (`ValidatePodStatusUpdate`): condition types, nodeName, nominated
/// node name, immutable qosClass, terminated-container transitions and pod/host IPs.
pub fn validate_pod_status_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_pod_annotation_updates(&new.metadata, &old.metadata, &mut errs);
    let new_spec = pod_spec_or_default(new);
    let old_spec = pod_spec_or_default(old);
    let default_status = k8s_openapi::api::core::v1::PodStatus::default();
    let ns = new.status.as_ref().unwrap_or(&default_status);
    let os = old.status.as_ref().unwrap_or(&default_status);
    let cond_path = P::new("metadata").child("conditions");
    for (i, c) in ns.conditions.iter().flatten().enumerate() {
        if matches!(c.type_.as_str(), "PodScheduled" | "Ready" | "Initialized") {
            continue;
        }
        qualified_name(&c.type_, &cond_path.index(i).child("Type"), &mut errs);
    }
    let sp = P::new("status");
    if new_spec.node_name.as_deref().unwrap_or("") != old_spec.node_name.as_deref().unwrap_or("") {
        errs.push(forbidden(
            &sp.child("nodeName"),
            "may not be changed directly",
        ));
    }
    let nnn = ns.nominated_node_name.as_deref().unwrap_or("");
    if nnn != os.nominated_node_name.as_deref().unwrap_or("") && !nnn.is_empty() {
        for m in name_is_dns_subdomain(nnn, false) {
            errs.push(invalid_s(&sp.child("nominatedNodeName"), nnn, &m));
        }
    }
    let nq = ns.qos_class.as_deref().unwrap_or("");
    if nq != os.qos_class.as_deref().unwrap_or("") {
        errs.push(invalid_s(&sp.child("qosClass"), nq, FIELD_IMMUTABLE_ERR));
    }
    let old_rp = old_spec.restart_policy.as_deref().unwrap_or("");
    container_state_transitions(
        ns.container_statuses.as_ref(),
        os.container_statuses.as_ref(),
        old_rp,
        &BTreeSet::new(),
        &sp.child("containerStatuses"),
        &mut errs,
    );
    let restartable: BTreeSet<String> = old_spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.clone())
        .collect();
    container_state_transitions(
        ns.init_container_statuses.as_ref(),
        os.init_container_statuses.as_ref(),
        old_rp,
        &restartable,
        &sp.child("initContainerStatuses"),
        &mut errs,
    );
    container_state_transitions(
        ns.ephemeral_container_statuses.as_ref(),
        os.ephemeral_container_statuses.as_ref(),
        "Never",
        &BTreeSet::new(),
        &sp.child("ephemeralContainerStatuses"),
        &mut errs,
    );
    let pod_ips: Vec<String> = ns.pod_ips.iter().flatten().map(|p| p.ip.clone()).collect();
    validate_ip_list(&pod_ips, "PodIP", &sp.child("podIPs"), &mut errs);
    let host_ips: Vec<String> = ns.host_ips.iter().flatten().map(|p| p.ip.clone()).collect();
    if let Some(first) = host_ips.first()
        && ns.host_ip.as_deref().unwrap_or("") != first
    {
        errs.push(invalid_s(
            &sp.child("hostIPs").index(0).child("ip"),
            first,
            "must be equal to `hostIP`",
        ));
    }
    validate_ip_list(&host_ips, "HostIP", &sp.child("hostIPs"), &mut errs);
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Toleration;

    use super::super::testing::{Case, expect, merge, message_of, pod};
    use crate::model::validation::field::FieldErrorReason::{Forbidden, Invalid};
    use serde_json::json;

    #[test]
    fn pod_update_table() {
        let old = pod(json!({}));
        let forbidden_msg = "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";
        let cases: Vec<Case> = vec![
            ("no change", json!({}), vec![]),
            (
                "image change allowed",
                json!({"spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v2", "ports": [{"containerPort": 3000}]}]}}),
                vec![],
            ),
            (
                "port change forbidden",
                json!({"spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1", "ports": [{"containerPort": 3001}]}]}}),
                vec![("spec", Forbidden)],
            ),
            (
                "add container forbidden",
                json!({"spec": {"containers": [
                {"name": "app", "image": "ghcr.io/subicura/echo:v1", "ports": [{"containerPort": 3000}]},
                {"name": "side", "image": "busybox"}]}}),
                vec![("spec.containers", Forbidden)],
            ),
            (
                "activeDeadlineSeconds set allowed",
                json!({"spec": {"activeDeadlineSeconds": 60}}),
                vec![],
            ),
            (
                "restartPolicy change forbidden",
                json!({"spec": {"restartPolicy": "Never"}}),
                vec![("spec", Forbidden)],
            ),
            (
                "labels change allowed",
                json!({"metadata": {"labels": {"app": "echo", "tier": "web"}}}),
                vec![],
            ),
        ];
        for (name, patch, want) in cases {
            let new = pod(patch);
            let errs = validate_pod_update(&new, &old);
            expect(name, &errs, &want);
            if want == [("spec", Forbidden)] {
                assert_eq!(message_of(&errs, "spec"), forbidden_msg);
            }
        }
        // activeDeadlineSeconds may only decrease; tolerations may only be added.
        let old = pod(json!({"spec": {"activeDeadlineSeconds": 60}}));
        let new = pod(json!({"spec": {"activeDeadlineSeconds": 120}}));
        expect(
            "ads increase",
            &validate_pod_update(&new, &old),
            &[("spec.activeDeadlineSeconds", Invalid)],
        );
        let old = pod(json!({"spec": {"tolerations": [{"key": "a", "operator": "Exists"}]}}));
        let mut new = old.clone();
        if let Some(t) = new.spec.as_mut().and_then(|s| s.tolerations.as_mut()) {
            t.push(Toleration {
                key: Some("b".into()),
                operator: Some("Exists".into()),
                ..Default::default()
            });
        }
        expect("toleration added", &validate_pod_update(&new, &old), &[]);
        let mut new = old.clone();
        if let Some(t) = new.spec.as_mut().and_then(|s| s.tolerations.as_mut()) {
            t.remove(0);
        }
        expect(
            "toleration removed",
            &validate_pod_update(&new, &old),
            &[("spec.tolerations", Forbidden)],
        );
        // scheduling gates may only be removed
        let old = pod(json!({"spec": {"schedulingGates": [{"name": "example.com/gate"}]}}));
        let new = pod(json!({}));
        expect("gate removed", &validate_pod_update(&new, &old), &[]);
        let new = pod(
            json!({"spec": {"schedulingGates": [{"name": "example.com/gate"}, {"name": "example.com/other"}]}}),
        );
        expect(
            "gate added",
            &validate_pod_update(&new, &old),
            &[("spec.schedulingGates[1].name", Forbidden)],
        );
    }

    #[test]
    fn pod_status_update_table() {
        let old = pod(json!({}));
        let cases: Vec<Case> = vec![
            (
                "phase and conditions",
                json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}, {"type": "example.com/custom", "status": "True"}]}}),
                vec![],
            ),
            (
                "bad condition type",
                json!({"status": {"conditions": [{"type": "bad type!", "status": "True"}]}}),
                vec![("metadata.conditions[0].Type", Invalid)],
            ),
            (
                "qosClass immutable",
                json!({"status": {"qosClass": "Guaranteed"}}),
                vec![("status.qosClass", Invalid)],
            ),
            (
                "nodeName not via status",
                json!({"spec": {"nodeName": "node-1"}}),
                vec![("status.nodeName", Forbidden)],
            ),
            (
                "bad pod IP",
                json!({"status": {"podIPs": [{"ip": "10.0.0.300"}]}}),
                vec![("status.podIPs[0]", Invalid)],
            ),
            (
                "hostIP mismatch",
                json!({"status": {"hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.2"}]}}),
                vec![("status.hostIPs[0].ip", Invalid)],
            ),
        ];
        for (name, patch, want) in cases {
            let mut v = serde_json::to_value(&old).unwrap();
            merge(&mut v, patch);
            let new: Pod = serde_json::from_value(v).unwrap();
            expect(name, &validate_pod_status_update(&new, &old), &want);
        }
        // terminated containers of a Never pod cannot come back
        let mut old = pod(json!({"spec": {"restartPolicy": "Never"}}));
        let mut v = serde_json::to_value(&old).unwrap();
        merge(
            &mut v,
            json!({"status": {"containerStatuses": [{"name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0}}}]}}),
        );
        old = serde_json::from_value(v.clone()).unwrap();
        merge(
            &mut v,
            json!({"status": {"containerStatuses": [{"name": "app", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
            "state": {"running": {}}}]}}),
        );
        let new: Pod = serde_json::from_value(v).unwrap();
        expect(
            "terminated -> running",
            &validate_pod_status_update(&new, &old),
            &[("status.containerStatuses[0].state", Forbidden)],
        );
    }
}
