//! Pod create validation (`ValidatePodCreate`): the pod spec as a whole (tolerations, DNS,
//! topology spread) and pod-specific annotations.

use std::collections::BTreeSet;

use super::containers::{SpecCtx, validate_containers, validate_init_containers};
use super::field::{
    Errs, FieldError, NameKind, P, duplicate_s, forbidden, invalid_i, invalid_raw, invalid_s,
    not_supported, required,
};
use super::formats::{
    MAX_INT32, dns_label, dns_subdomain, inclusive_range_error,
    is_dns1123_subdomain_with_underscore, is_valid_label_value, name_is_dns_subdomain,
    qualified_name, valid_ip, validate_labels,
};
use super::gofmt::go_strings;
use super::objectmeta::{validate_label_selector, validate_object_meta};
use super::resources::validate_resource_requirements;
use super::security::validate_pod_security_context;
use super::volumes::validate_volumes;
use k8s_openapi::api::core::v1::{Pod, PodSpec, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

// ---------------------------------------------------------------------------------------------
// Pod spec
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
pub(super) struct PodOpts {
    /// The spec belongs to a Pod (not a template embedded in another resource).
    pub(super) resource_is_pod: bool,
}

pub(super) fn validate_taint_effect(effect: &str, allow_empty: bool, p: &P, errs: &mut Errs) {
    if !allow_empty && effect.is_empty() {
        errs.push(required(p, ""));
        return;
    }
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        errs.push(not_supported(
            p,
            effect,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        ));
    }
}

pub(super) fn validate_tolerations(tols: &[Toleration], p: &P, errs: &mut Errs) {
    for (i, t) in tols.iter().enumerate() {
        let ip = p.index(i);
        let key = t.key.as_deref().unwrap_or("");
        let op = t.operator.as_deref().unwrap_or("");
        let effect = t.effect.as_deref().unwrap_or("");
        let value = t.value.as_deref().unwrap_or("");
        if !key.is_empty() {
            qualified_name(key, &ip.child("key"), errs);
        }
        if key.is_empty() && op != "Exists" {
            errs.push(invalid_s(
                &ip.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(invalid_s(
                &ip.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(invalid_s(&ip.child("operator"), value, &msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(invalid_s(
                        &ip.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(not_supported(
                &ip.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            validate_taint_effect(effect, true, &ip.child("effect"), errs);
        }
    }
}

fn validate_dns_config(spec: &PodSpec, dns_policy: &str, p: &P, errs: &mut Errs) {
    if dns_policy == "None" {
        match &spec.dns_config {
            None => {
                errs.push(required(
                    p,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                ));
                return;
            }
            Some(c) if c.nameservers.as_ref().is_none_or(Vec::is_empty) => {
                errs.push(required(
                    &p.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ));
                return;
            }
            _ => {}
        }
    }
    let Some(c) = &spec.dns_config else { return };
    let ns = c.nameservers.clone().unwrap_or_default();
    if ns.len() > 3 {
        errs.push(invalid_raw(
            &p.child("nameservers"),
            &go_strings(Some(&ns)),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, n) in ns.iter().enumerate() {
        valid_ip(n, &p.child("nameservers").index(i), errs);
    }
    let searches = c.searches.clone().unwrap_or_default();
    if searches.len() > 32 {
        errs.push(invalid_raw(
            &p.child("searches"),
            &go_strings(Some(&searches)),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(invalid_raw(
            &p.child("searches"),
            &go_strings(Some(&searches)),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        if s != "." {
            let s = s.strip_suffix('.').unwrap_or(s);
            for m in is_dns1123_subdomain_with_underscore(s) {
                errs.push(invalid_s(&p.child("searches").index(i), s, &m));
            }
        }
    }
    for (i, o) in c.options.iter().flatten().enumerate() {
        if o.name.as_deref().unwrap_or("").is_empty() {
            errs.push(required(&p.child("options").index(i), "must not be empty"));
        }
    }
}

fn validate_topology_spread(spec: &PodSpec, p: &P, errs: &mut Errs) {
    let list = spec.topology_spread_constraints.clone().unwrap_or_default();
    for (i, c) in list.iter().enumerate() {
        let cp = p.index(i);
        if c.max_skew <= 0 {
            errs.push(invalid_i(
                &cp.child("maxSkew"),
                i64::from(c.max_skew),
                "must be greater than zero",
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(required(&cp.child("topologyKey"), "can not be empty"));
        }
        if c.when_unsatisfiable != "DoNotSchedule" && c.when_unsatisfiable != "ScheduleAnyway" {
            errs.push(not_supported(
                &cp.child("whenUnsatisfiable"),
                &c.when_unsatisfiable,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if list[i + 1..].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        }) {
            errs.push(duplicate_s(
                &cp.child("{topologyKey, whenUnsatisfiable}"),
                &format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        if let Some(md) = c.min_domains {
            if md <= 0 {
                errs.push(invalid_i(
                    &cp.child("minDomains"),
                    i64::from(md),
                    "must be greater than zero",
                ));
            }
            if c.when_unsatisfiable != "DoNotSchedule" {
                errs.push(invalid_i(
                    &cp.child("minDomains"),
                    i64::from(md),
                    &format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                        c.when_unsatisfiable
                    ),
                ));
            }
        }
        for (field, v) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(v) = v
                && v != "Honor"
                && v != "Ignore"
            {
                errs.push(not_supported(&cp.child(field), v, &["Honor", "Ignore"]));
            }
        }
        if let Some(sel) = &c.label_selector {
            validate_label_selector(sel, &cp.child("labelSelector"), errs);
        }
    }
}

/// `ValidatePodSpec`.
pub(super) fn validate_pod_spec(spec: &PodSpec, fld: &P, opts: PodOpts, errs: &mut Errs) {
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(required(&fld.child("terminationGracePeriodSeconds"), ""));
    }
    let restart_policy = spec.restart_policy.as_deref().unwrap_or("");
    let volumes = validate_volumes(spec.volumes.as_ref(), &fld.child("volumes"), errs);
    // validatePodResourceClaims
    let mut pod_claims = BTreeSet::new();
    for (i, c) in spec.resource_claims.iter().flatten().enumerate() {
        let cp = fld.child("resourceClaims").index(i);
        if c.name.is_empty() {
            errs.push(required(&cp.child("name"), ""));
        } else if pod_claims.contains(&c.name) {
            errs.push(duplicate_s(&cp.child("name"), &c.name));
        } else {
            dns_label(&c.name, &cp.child("name"), errs);
            pod_claims.insert(c.name.clone());
        }
    }
    let ctx = SpecCtx {
        volumes,
        pod_claims,
        grace: spec.termination_grace_period_seconds,
        restart_policy,
        host_users: spec.host_users.unwrap_or(true),
    };
    validate_containers(&spec.containers, &ctx, &fld.child("containers"), errs);
    let inits = spec.init_containers.clone().unwrap_or_default();
    validate_init_containers(
        &inits,
        &spec.containers,
        &ctx,
        &fld.child("initContainers"),
        errs,
    );

    // validatePodHostNetworkDeps
    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, port) in c.ports.iter().flatten().enumerate() {
                let hp = port.host_port.unwrap_or(0);
                if (opts.resource_is_pod || hp != 0) && hp != port.container_port {
                    errs.push(invalid_i(
                        &fld.child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                        i64::from(hp),
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    match restart_policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(required(&fld.child("restartPolicy"), "")),
        other => errs.push(not_supported(
            &fld.child("restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns_policy = spec.dns_policy.as_deref().unwrap_or("");
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(required(&fld.child("dnsPolicy"), "")),
        other => errs.push(not_supported(
            &fld.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    validate_labels(
        spec.node_selector.as_ref(),
        &fld.child("nodeSelector"),
        errs,
    );
    validate_pod_security_context(spec, &fld.child("securityContext"), errs);
    validate_dns_config(spec, dns_policy, &fld.child("dnsConfig"), errs);
    for (i, g) in spec.readiness_gates.iter().flatten().enumerate() {
        qualified_name(
            &g.condition_type,
            &fld.child("readinessGates").index(i).child("conditionType"),
            errs,
        );
    }
    let mut gates = BTreeSet::new();
    for (i, g) in spec.scheduling_gates.iter().flatten().enumerate() {
        let gp = fld.child("schedulingGates").index(i);
        qualified_name(&g.name, &gp, errs);
        if !gates.insert(g.name.clone()) {
            errs.push(duplicate_s(&gp, &g.name));
        }
    }
    validate_topology_spread(spec, &fld.child("topologySpreadConstraints"), errs);
    if spec.host_users == Some(false) {
        if spec.host_network == Some(true) {
            errs.push(forbidden(
                &fld.child("hostNetwork"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
        if spec.host_pid == Some(true) {
            errs.push(forbidden(
                &fld.child("HostPID"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
        if spec.host_ipc == Some(true) {
            errs.push(forbidden(
                &fld.child("HostIPC"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
    }
    let sa = spec.service_account_name.as_deref().unwrap_or("");
    if !sa.is_empty() {
        for m in name_is_dns_subdomain(sa, false) {
            errs.push(invalid_s(&fld.child("serviceAccountName"), sa, &m));
        }
    }
    let node_name = spec.node_name.as_deref().unwrap_or("");
    if !node_name.is_empty() {
        for m in name_is_dns_subdomain(node_name, false) {
            errs.push(invalid_s(&fld.child("nodeName"), node_name, &m));
        }
    }
    if let Some(ads) = spec.active_deadline_seconds
        && !(1..=MAX_INT32).contains(&ads)
    {
        errs.push(invalid_i(
            &fld.child("activeDeadlineSeconds"),
            ads,
            &inclusive_range_error(1, MAX_INT32),
        ));
    }
    if let Some(h) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        dns_label(h, &fld.child("hostname"), errs);
    }
    if let Some(s) = spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
        dns_label(s, &fld.child("subdomain"), errs);
    }
    if let Some(t) = spec.tolerations.as_ref().filter(|t| !t.is_empty()) {
        validate_tolerations(t, &fld.child("tolerations"), errs);
    }
    for (i, ha) in spec.host_aliases.iter().flatten().enumerate() {
        let hp = fld.child("hostAliases").index(i);
        valid_ip(&ha.ip, &hp.child("ip"), errs);
        for (j, h) in ha.hostnames.iter().flatten().enumerate() {
            dns_subdomain(h, &hp.child("hostnames").index(j), errs);
        }
    }
    if let Some(pc) = spec
        .priority_class_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        for m in name_is_dns_subdomain(pc, false) {
            errs.push(invalid_s(&fld.child("priorityClassName"), pc, &m));
        }
    }
    if let Some(rc) = &spec.runtime_class_name {
        for m in name_is_dns_subdomain(rc, false) {
            errs.push(invalid_s(&fld.child("runtimeClassName"), rc, &m));
        }
    }
    if let Some(pp) = &spec.preemption_policy {
        match pp.as_str() {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(required(&fld.child("preemptionPolicy"), "")),
            other => errs.push(not_supported(
                &fld.child("preemptionPolicy"),
                other,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    if let Some(overhead) = &spec.overhead {
        let rr = ResourceRequirements {
            limits: Some(overhead.clone()),
            ..Default::default()
        };
        validate_resource_requirements(Some(&rr), &BTreeSet::new(), &fld.child("overhead"), errs);
    }
    if let Some(os) = &spec.os {
        if os.name.is_empty() {
            errs.push(required(&fld.child("os").child("name"), "cannot be empty"));
        } else if os.name != "linux" && os.name != "windows" {
            errs.push(not_supported(
                &fld.child("os"),
                &os.name,
                &["linux", "windows"],
            ));
        }
    }
}

pub(super) fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

pub(super) const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

fn valid_deletion_cost(v: &str) -> bool {
    let first_ok = match v.as_bytes().first() {
        None => false,
        Some(b'-') => true,
        Some(b'0') => v == "0",
        Some(b) => (b'1'..=b'9').contains(b),
    };
    first_ok && v.parse::<i32>().is_ok()
}

/// `ValidatePodSpecificAnnotations`.
pub(super) fn validate_pod_specific_annotations(
    meta: &ObjectMeta,
    spec: &PodSpec,
    p: &P,
    errs: &mut Errs,
) {
    if let Some(v) = annotation(meta, MIRROR_POD_ANNOTATION)
        && spec.node_name.as_deref().unwrap_or("").is_empty()
    {
        errs.push(invalid_s(
            &p.key(MIRROR_POD_ANNOTATION),
            v,
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    if let Some(v) = annotation(meta, POD_DELETION_COST_ANNOTATION)
        && !valid_deletion_cost(v)
    {
        errs.push(invalid_s(
            &p.key(POD_DELETION_COST_ANNOTATION),
            v,
            "must be a 32bit integer",
        ));
    }
}

pub(super) fn pod_spec_or_default(pod: &Pod) -> std::borrow::Cow<'_, PodSpec> {
    match &pod.spec {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(PodSpec::default()),
    }
}

/// `validatePodMetadataAndSpec`.
pub(super) fn validate_pod_metadata_and_spec(pod: &Pod, errs: &mut Errs) {
    let meta_path = P::new("metadata");
    let spec_path = P::new("spec");
    errs.extend(validate_object_meta(
        &pod.metadata,
        true,
        NameKind::Subdomain,
        "metadata",
    ));
    let spec = pod_spec_or_default(pod);
    validate_pod_specific_annotations(&pod.metadata, &spec, &meta_path.child("annotations"), errs);
    validate_pod_spec(
        &spec,
        &spec_path,
        PodOpts {
            resource_is_pod: true,
        },
        errs,
    );
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        for (vi, v) in spec.volumes.iter().flatten().enumerate() {
            let Some(pr) = &v.projected else { continue };
            for (si, src) in pr.sources.iter().flatten().enumerate() {
                if src.service_account_token.is_some() {
                    errs.push(forbidden(
                        &spec_path
                            .child("volumes")
                            .index(vi)
                            .child("projected")
                            .child("sources")
                            .index(si)
                            .child("serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    let inits = spec.init_containers.clone().unwrap_or_default();
    for (field, list) in [("containers", &spec.containers), ("initContainers", &inits)] {
        for (i, c) in list.iter().enumerate() {
            let image = c.image.as_deref().unwrap_or("");
            if image.len() != image.trim().len() {
                errs.push(invalid_s(
                    &spec_path.child(field).index(i).child("image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
}

/// Create-time validation of a defaulted Pod (`ValidatePodCreate`).
pub fn validate_pod(pod: &Pod) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_pod_metadata_and_spec(pod, &mut errs);
    let spec = pod_spec_or_default(pod);
    let spec_path = P::new("spec");
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(forbidden(
            &spec_path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !spec.node_name.as_deref().unwrap_or("").is_empty()
        && spec
            .scheduling_gates
            .as_ref()
            .is_some_and(|g| !g.is_empty())
    {
        errs.push(forbidden(
            &spec_path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::field::FieldErrorReason;
    use super::super::testing::{OwnedCase, echo_pod_json, expect, message_of, pod, raw_pod};
    use crate::model::validation::field::FieldErrorReason::{
        Duplicate, Forbidden, Invalid, NotFound, NotSupported, Required, TooLong,
    };
    use serde_json::{Value, json};

    #[test]
    fn pod_create_table() {
        let c0 = "spec.containers[0]";
        let cases: Vec<OwnedCase> = vec![
            ("valid echo pod", json!({}), vec![]),
            (
                "no containers",
                json!({"spec": {"containers": []}}),
                vec![("spec.containers".into(), Required)],
            ),
            (
                "container name missing",
                json!({"spec": {"containers": [{"name": "", "image": "nginx"}]}}),
                vec![(format!("{c0}.name"), Required)],
            ),
            (
                "container name not a label",
                json!({"spec": {"containers": [{"name": "App_1", "image": "nginx"}]}}),
                vec![(format!("{c0}.name"), Invalid)],
            ),
            (
                "duplicate container names",
                json!({"spec": {"containers": [
                {"name": "web", "image": "nginx"}, {"name": "web", "image": "nginx"}]}}),
                vec![("spec.containers[1].name".into(), Duplicate)],
            ),
            (
                "init container name clashes",
                json!({"spec": {"initContainers": [{"name": "app", "image": "busybox"}]}}),
                vec![("spec.initContainers[0].name".into(), Duplicate)],
            ),
            (
                "image missing",
                json!({"spec": {"containers": [{"name": "app"}]}}),
                vec![(format!("{c0}.image"), Required)],
            ),
            (
                "image whitespace",
                json!({"spec": {"containers": [{"name": "app", "image": " nginx"}]}}),
                vec![(format!("{c0}.image"), Invalid)],
            ),
            (
                "containerPort out of range",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 70000}]}]}}),
                vec![(format!("{c0}.ports[0].containerPort"), Invalid)],
            ),
            (
                "containerPort zero",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 0}]}]}}),
                vec![(format!("{c0}.ports[0].containerPort"), Required)],
            ),
            (
                "hostPort out of range",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": 70000}]}]}}),
                vec![(format!("{c0}.ports[0].hostPort"), Invalid)],
            ),
            (
                "bad protocol",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]}}),
                vec![(format!("{c0}.ports[0].protocol"), NotSupported)],
            ),
            (
                "bad port name",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80, "name": "a--b"}]}]}}),
                vec![(format!("{c0}.ports[0].name"), Invalid)],
            ),
            (
                "duplicate port names",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [
                {"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]}]}}),
                vec![(format!("{c0}.ports[1].name"), Duplicate)],
            ),
            (
                "host port conflict",
                json!({"spec": {"containers": [
                {"name": "a", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                {"name": "b", "image": "nginx", "ports": [{"containerPort": 81, "hostPort": 8080}]}]}}),
                vec![("spec.containers[1].ports[0].hostPort".into(), Duplicate)],
            ),
            (
                "env name with =",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A=B", "value": "x"}]}]}}),
                vec![(format!("{c0}.env[0].name"), Invalid)],
            ),
            (
                "env name relaxed (1.33) ok",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "1-my.VAR", "value": "x"}]}]}}),
                vec![],
            ),
            (
                "env name empty",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "", "value": "x"}]}]}}),
                vec![(format!("{c0}.env[0].name"), Required)],
            ),
            (
                "env valueFrom without source",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "valueFrom": {}}]}]}}),
                vec![(format!("{c0}.env[0].valueFrom"), Invalid)],
            ),
            (
                "env valueFrom two sources",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.name"}, "secretKeyRef": {"name": "s", "key": "k"}}}]}]}}),
                vec![(format!("{c0}.env[0].valueFrom"), Invalid)],
            ),
            (
                "env value and valueFrom",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "value": "x", "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.name"}}}]}]}}),
                vec![(format!("{c0}.env[0].valueFrom"), Invalid)],
            ),
            (
                "env fieldRef unsupported path",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "valueFrom": {
                "fieldRef": {"fieldPath": "spec.restartPolicy"}}}]}]}}),
                vec![(
                    format!("{c0}.env[0].valueFrom.fieldRef.fieldPath"),
                    NotSupported,
                )],
            ),
            (
                "volumeMount to unknown volume",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}),
                vec![(format!("{c0}.volumeMounts[0].name"), NotFound)],
            ),
            (
                "volumeMount without mountPath",
                json!({"spec": {"volumes": [{"name": "data"}], "containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": ""}]}]}}),
                vec![(format!("{c0}.volumeMounts[0].mountPath"), Required)],
            ),
            (
                "valid emptyDir volume mount",
                json!({"spec": {"volumes": [{"name": "data"}], "containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}),
                vec![],
            ),
            (
                "duplicate volume names",
                json!({"spec": {"volumes": [{"name": "data"}, {"name": "data"}]}}),
                vec![("spec.volumes[1].name".into(), Duplicate)],
            ),
            (
                "volume name not a label",
                json!({"spec": {"volumes": [{"name": "Data"}]}}),
                vec![("spec.volumes[0].name".into(), Invalid)],
            ),
            (
                "volume with two sources",
                json!({"spec": {"volumes": [{"name": "data", "emptyDir": {}, "hostPath": {"path": "/tmp"}}]}}),
                vec![("spec.volumes[0].hostPath".into(), Forbidden)],
            ),
            (
                "secret volume without name",
                json!({"spec": {"volumes": [{"name": "s", "secret": {}}]}}),
                vec![("spec.volumes[0].secret.secretName".into(), Required)],
            ),
            (
                "restartPolicy unsupported",
                json!({"spec": {"restartPolicy": "Sometimes"}}),
                vec![("spec.restartPolicy".into(), NotSupported)],
            ),
            (
                "dnsPolicy unsupported",
                json!({"spec": {"dnsPolicy": "Foo"}}),
                vec![("spec.dnsPolicy".into(), NotSupported)],
            ),
            (
                "imagePullPolicy unsupported",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "imagePullPolicy": "Sometimes"}]}}),
                vec![(format!("{c0}.imagePullPolicy"), NotSupported)],
            ),
            (
                "activeDeadlineSeconds zero",
                json!({"spec": {"activeDeadlineSeconds": 0}}),
                vec![("spec.activeDeadlineSeconds".into(), Invalid)],
            ),
            (
                "probe with two handlers",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "livenessProbe": {
                "httpGet": {"port": 80}, "tcpSocket": {"port": 80}}}]}}),
                vec![(format!("{c0}.livenessProbe.tcpSocket"), Forbidden)],
            ),
            (
                "probe without handler",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "readinessProbe": {"periodSeconds": 5}}]}}),
                vec![(format!("{c0}.readinessProbe"), Required)],
            ),
            (
                "liveness successThreshold must be 1",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "livenessProbe": {
                "exec": {"command": ["true"]}, "successThreshold": 2}}]}}),
                vec![(format!("{c0}.livenessProbe.successThreshold"), Invalid)],
            ),
            (
                "startup successThreshold must be 1",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "startupProbe": {
                "exec": {"command": ["true"]}, "successThreshold": 3}}]}}),
                vec![(format!("{c0}.startupProbe.successThreshold"), Invalid)],
            ),
            (
                "negative probe period",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "readinessProbe": {
                "tcpSocket": {"port": "http"}, "periodSeconds": -1}}]}}),
                vec![(format!("{c0}.readinessProbe.periodSeconds"), Invalid)],
            ),
            (
                "probe port out of range",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "readinessProbe": {
                "httpGet": {"port": 0}}}]}}),
                vec![(format!("{c0}.readinessProbe.httpGet.port"), Invalid)],
            ),
            (
                "exec probe without command",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "livenessProbe": {"exec": {}}}]}}),
                vec![(format!("{c0}.livenessProbe.exec.command"), Required)],
            ),
            (
                "requests above limits",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                "limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}]}}),
                vec![(format!("{c0}.resources.requests"), Invalid)],
            ),
            (
                "unparsable quantity",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                "requests": {"memory": "lots"}}}]}}),
                vec![(format!("{c0}.resources.requests[memory]"), Invalid)],
            ),
            (
                "negative quantity",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                "requests": {"memory": "-1Mi"}}}]}}),
                vec![(format!("{c0}.resources.requests[memory]"), Invalid)],
            ),
            (
                "unknown resource name",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                "requests": {"foo": "1"}}}]}}),
                vec![
                    (format!("{c0}.resources.requests[foo]"), Invalid),
                    (format!("{c0}.resources.requests[foo]"), Invalid),
                ],
            ),
            (
                "extended resource needs equal limit",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                "requests": {"example.com/gpu": "1"}}}]}}),
                vec![(format!("{c0}.resources.limits"), Required)],
            ),
            (
                "nodeSelector bad value",
                json!({"spec": {"nodeSelector": {"disk": "-ssd"}}}),
                vec![("spec.nodeSelector".into(), Invalid)],
            ),
            (
                "toleration bad operator",
                json!({"spec": {"tolerations": [{"key": "k", "operator": "Bogus"}]}}),
                vec![("spec.tolerations[0].operator".into(), NotSupported)],
            ),
            (
                "toleration bad effect",
                json!({"spec": {"tolerations": [{"key": "k", "operator": "Exists", "effect": "Sometimes"}]}}),
                vec![("spec.tolerations[0].effect".into(), NotSupported)],
            ),
            (
                "toleration empty key needs Exists",
                json!({"spec": {"tolerations": [{"operator": "Equal", "value": "v"}]}}),
                vec![("spec.tolerations[0].operator".into(), Invalid)],
            ),
            (
                "tolerationSeconds needs NoExecute",
                json!({"spec": {"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]}}),
                vec![("spec.tolerations[0].effect".into(), Invalid)],
            ),
            (
                "ephemeral containers on create",
                json!({"spec": {"ephemeralContainers": [{"name": "dbg", "image": "busybox"}]}}),
                vec![("spec.ephemeralContainers".into(), Forbidden)],
            ),
            (
                "bad hostname",
                json!({"spec": {"hostname": "Host_1"}}),
                vec![("spec.hostname".into(), Invalid)],
            ),
            (
                "regular container restartPolicy",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "restartPolicy": "Always"}]}}),
                vec![(format!("{c0}.restartPolicy"), Forbidden)],
            ),
            (
                "init container probe without Always",
                json!({"spec": {"initContainers": [{"name": "init", "image": "busybox",
                "readinessProbe": {"exec": {"command": ["true"]}}}]}}),
                vec![("spec.initContainers[0].readinessProbe".into(), Forbidden)],
            ),
            (
                "sidecar init container ok",
                json!({"spec": {"initContainers": [{"name": "side", "image": "busybox", "restartPolicy": "Always",
                "readinessProbe": {"exec": {"command": ["true"]}}}]}}),
                vec![],
            ),
            (
                "deletion cost annotation",
                json!({"metadata": {"annotations": {"controller.kubernetes.io/pod-deletion-cost": "abc"}}}),
                vec![(
                    "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]".into(),
                    Invalid,
                )],
            ),
            (
                "name missing",
                json!({"metadata": {"name": null}}),
                vec![("metadata.name".into(), Required)],
            ),
            (
                "name not a subdomain",
                json!({"metadata": {"name": "Echo"}}),
                vec![("metadata.name".into(), Invalid)],
            ),
            (
                "namespace missing",
                json!({"metadata": {"namespace": null}}),
                vec![("metadata.namespace".into(), Required)],
            ),
            (
                "label key invalid",
                json!({"metadata": {"labels": {"-bad": "x"}}}),
                vec![("metadata.labels".into(), Invalid)],
            ),
            (
                "label value too long",
                json!({"metadata": {"labels": {"app": "a".repeat(64)}}}),
                vec![("metadata.labels".into(), Invalid)],
            ),
            (
                "annotations too large",
                json!({"metadata": {"annotations": {"big": "x".repeat(262_145)}}}),
                vec![("metadata.annotations".into(), TooLong)],
            ),
            (
                "annotation key invalid",
                json!({"metadata": {"annotations": {"a/b/c": "x"}}}),
                vec![("metadata.annotations".into(), Invalid)],
            ),
            (
                "finalizer not qualified",
                json!({"metadata": {"finalizers": ["foo"]}}),
                vec![("metadata.finalizers[0]".into(), Invalid)],
            ),
            (
                "owner reference incomplete",
                json!({"metadata": {"ownerReferences": [{"apiVersion": "", "kind": "", "name": "", "uid": ""}]}}),
                vec![
                    ("metadata.ownerReferences.apiVersion".into(), Invalid),
                    ("metadata.ownerReferences.kind".into(), Invalid),
                    ("metadata.ownerReferences.name".into(), Invalid),
                    ("metadata.ownerReferences.uid".into(), Invalid),
                ],
            ),
        ];
        for (name, patch, want) in cases {
            let p = pod(patch);
            let want: Vec<(&str, FieldErrorReason)> =
                want.iter().map(|(p, r)| (p.as_str(), *r)).collect();
            expect(name, &validate_pod(&p), &want);
        }
    }

    #[test]
    fn pod_messages_match_kubernetes() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                json!({"spec": {"containers": []}}),
                "spec.containers",
                "Required value",
            ),
            (
                json!({"metadata": {"name": "Foo"}}),
                "metadata.name",
                "Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ),
            (
                json!({"metadata": {"name": null}}),
                "metadata.name",
                "Required value: name or generateName is required",
            ),
            (
                json!({"spec": {"containers": [{"name": "web", "image": "a"}, {"name": "web", "image": "b"}]}}),
                "spec.containers[1].name",
                "Duplicate value: \"web\"",
            ),
            (
                json!({"spec": {"restartPolicy": "Sometimes"}}),
                "spec.restartPolicy",
                "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 70000}]}]}}),
                "spec.containers[0].ports[0].containerPort",
                "Invalid value: 70000: must be between 1 and 65535, inclusive",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}]}}),
                "spec.containers[0].resources.requests",
                "Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "x", "mountPath": "/x"}]}]}}),
                "spec.containers[0].volumeMounts[0].name",
                "Not found: \"x\"",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "imagePullPolicy": "Sometimes"}]}}),
                "spec.containers[0].imagePullPolicy",
                "Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
            ),
            (
                json!({"spec": {"activeDeadlineSeconds": 0}}),
                "spec.activeDeadlineSeconds",
                "Invalid value: 0: must be between 1 and 2147483647, inclusive",
            ),
            (
                json!({"metadata": {"annotations": {"big": "x".repeat(262_145)}}}),
                "metadata.annotations",
                "Too long: may not be more than 262144 bytes",
            ),
            (
                json!({"metadata": {"labels": {"-bad": "x"}}}),
                "metadata.labels",
                "Invalid value: \"-bad\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "livenessProbe": {"exec": {"command": ["x"]}, "successThreshold": 2}}]}}),
                "spec.containers[0].livenessProbe.successThreshold",
                "Invalid value: 2: must be 1",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A=B"}]}]}}),
                "spec.containers[0].env[0].name",
                "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80, "name": "HTTP"}]}]}}),
                "spec.containers[0].ports[0].name",
                "Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            ),
        ];
        for (patch, path, msg) in cases {
            let errs = validate_pod(&pod(patch));
            assert_eq!(message_of(&errs, path), msg, "{errs:#?}");
        }
    }

    #[test]
    fn undefaulted_pod_reports_required_defaults() {
        let p = raw_pod(echo_pod_json());
        expect(
            "raw pod",
            &validate_pod(&p),
            &[
                ("spec.terminationGracePeriodSeconds", Required),
                ("spec.restartPolicy", Required),
                ("spec.dnsPolicy", Required),
                ("spec.containers[0].terminationMessagePolicy", Required),
                ("spec.containers[0].imagePullPolicy", Required),
                ("spec.containers[0].ports[0].protocol", Required),
            ],
        );
    }
}
