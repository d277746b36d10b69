//! Containers and init containers: ports, environment, volume mounts and devices, pull
//! policy, and the checks common to every container of a pod spec.

use std::collections::{BTreeMap, BTreeSet};

use super::field::{
    Errs, P, duplicate_s, forbidden, invalid_i, invalid_s, not_found_s, not_supported, required,
};
use super::formats::{
    dns_label, is_config_map_key, is_relaxed_env_var_name, is_valid_port_name, is_valid_port_num,
    name_is_dns_subdomain,
};
use super::probes::validate_lifecycle_and_probes;
use super::resources::{validate_resize_policy, validate_resource_requirements};
use super::security::validate_security_context;
use super::volumes::{
    ENV_DOWNWARD_API_PATHS, validate_container_resource_field_selector,
    validate_local_descending_path, validate_object_field_selector,
};
use k8s_openapi::api::core::v1::{Container, ContainerPort, EnvFromSource, EnvVar, VolumeMount};

fn validate_container_ports(ports: Option<&Vec<ContainerPort>>, p: &P, errs: &mut Errs) {
    let mut names = BTreeSet::new();
    for (i, port) in ports.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(invalid_s(&ip.child("name"), name, &m));
                }
            } else if !names.insert(name.to_string()) {
                errs.push(duplicate_s(&ip.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(required(&ip.child("containerPort"), ""));
        } else {
            for m in is_valid_port_num(i64::from(port.container_port)) {
                errs.push(invalid_i(
                    &ip.child("containerPort"),
                    i64::from(port.container_port),
                    &m,
                ));
            }
        }
        let hp = port.host_port.unwrap_or(0);
        if hp != 0 {
            for m in is_valid_port_num(i64::from(hp)) {
                errs.push(invalid_i(&ip.child("hostPort"), i64::from(hp), &m));
            }
        }
        let proto = port.protocol.as_deref().unwrap_or("");
        if proto.is_empty() {
            errs.push(required(&ip.child("protocol"), ""));
        } else if !["SCTP", "TCP", "UDP"].contains(&proto) {
            errs.push(not_supported(
                &ip.child("protocol"),
                proto,
                &["SCTP", "TCP", "UDP"],
            ));
        }
    }
}

fn validate_env(env: Option<&Vec<EnvVar>>, p: &P, errs: &mut Errs) {
    for (i, ev) in env.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if ev.name.is_empty() {
            errs.push(required(&ip.child("name"), ""));
        } else {
            for m in is_relaxed_env_var_name(&ev.name) {
                errs.push(invalid_s(&ip.child("name"), &ev.name, &m));
            }
        }
        let Some(vf) = &ev.value_from else { continue };
        let vp = ip.child("valueFrom");
        let mut n = 0;
        if let Some(fr) = &vf.field_ref {
            n += 1;
            validate_object_field_selector(
                fr,
                &ENV_DOWNWARD_API_PATHS,
                &vp.child("fieldRef"),
                errs,
            );
        }
        if let Some(rf) = &vf.resource_field_ref {
            n += 1;
            validate_container_resource_field_selector(
                rf,
                &vp.child("resourceFieldRef"),
                false,
                errs,
            );
        }
        if let Some(c) = &vf.config_map_key_ref {
            n += 1;
            validate_key_selector(&c.name, &c.key, &vp.child("configMapKeyRef"), errs);
        }
        if let Some(s) = &vf.secret_key_ref {
            n += 1;
            validate_key_selector(&s.name, &s.key, &vp.child("secretKeyRef"), errs);
        }
        if n == 0 {
            errs.push(invalid_s(
                &vp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !ev.value.as_deref().unwrap_or("").is_empty() {
            errs.push(invalid_s(
                &vp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if n > 1 {
            errs.push(invalid_s(
                &vp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn validate_key_selector(name: &str, key: &str, p: &P, errs: &mut Errs) {
    for m in name_is_dns_subdomain(name, false) {
        errs.push(invalid_s(&p.child("name"), name, &m));
    }
    if key.is_empty() {
        errs.push(required(&p.child("key"), ""));
    } else {
        for m in is_config_map_key(key) {
            errs.push(invalid_s(&p.child("key"), key, &m));
        }
    }
}

fn validate_env_from(env_from: Option<&Vec<EnvFromSource>>, p: &P, errs: &mut Errs) {
    for (i, ef) in env_from.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if let Some(prefix) = ef.prefix.as_deref().filter(|s| !s.is_empty()) {
            for m in is_relaxed_env_var_name(prefix) {
                errs.push(invalid_s(&ip.child("prefix"), prefix, &m));
            }
        }
        let mut n = 0;
        let refs = [
            (
                "configMapRef",
                ef.config_map_ref.as_ref().map(|r| r.name.as_str()),
            ),
            ("secretRef", ef.secret_ref.as_ref().map(|r| r.name.as_str())),
        ];
        for (field, name) in refs {
            let Some(name) = name else { continue };
            n += 1;
            let np = ip.child(field).child("name");
            if name.is_empty() {
                errs.push(required(&np, ""));
            } else {
                for m in name_is_dns_subdomain(name, true) {
                    errs.push(invalid_s(&np, name, &m));
                }
            }
        }
        if n == 0 {
            errs.push(invalid_s(
                p,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(invalid_s(
                p,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn validate_volume_mounts(
    mounts: Option<&Vec<VolumeMount>>,
    devices: &BTreeMap<String, String>,
    volumes: &BTreeMap<String, bool>,
    privileged: bool,
    p: &P,
    errs: &mut Errs,
) {
    let mut mountpoints = BTreeSet::new();
    for (i, m) in mounts.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if m.name.is_empty() {
            errs.push(required(&ip.child("name"), ""));
        }
        if !volumes.contains_key(&m.name) {
            errs.push(not_found_s(&ip.child("name"), &m.name, ""));
        }
        if m.mount_path.is_empty() {
            errs.push(required(&ip.child("mountPath"), ""));
        }
        if !mountpoints.insert(m.mount_path.clone()) {
            errs.push(invalid_s(
                &ip.child("mountPath"),
                &m.mount_path,
                "must be unique",
            ));
        }
        if devices.contains_key(&m.name) {
            errs.push(invalid_s(
                &ip.child("name"),
                &m.name,
                "must not already exist in volumeDevices",
            ));
        }
        if devices.values().any(|d| *d == m.mount_path) {
            errs.push(invalid_s(
                &ip.child("mountPath"),
                &m.mount_path,
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = m.sub_path.as_deref().unwrap_or("");
        let sub_path_expr = m.sub_path_expr.as_deref().unwrap_or("");
        if !sub_path.is_empty() {
            validate_local_descending_path(sub_path, &p.child("subPath"), errs);
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(invalid_s(
                    &ip.child("subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            validate_local_descending_path(sub_path_expr, &p.child("subPathExpr"), errs);
        }
        if let Some(mp) = &m.mount_propagation {
            let pp = p.child("mountPropagation");
            const MP: [&str; 3] = ["Bidirectional", "HostToContainer", "None"];
            if !MP.contains(&mp.as_str()) {
                errs.push(not_supported(&pp, mp, &MP));
            } else if mp == "Bidirectional" && !privileged {
                errs.push(forbidden(
                    &pp,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        if let Some(rro) = &m.recursive_read_only {
            let rp = p.child("recursiveReadOnly");
            match rro.as_str() {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if !m.read_only.unwrap_or(false) {
                        errs.push(forbidden(
                            &rp,
                            "may only be specified when readOnly is true",
                        ));
                    }
                    if m.mount_propagation.as_deref().is_some_and(|x| x != "None") {
                        errs.push(forbidden(
                            &rp,
                            "may only be specified when mountPropagation is None or not specified",
                        ));
                    }
                }
                other => errs.push(not_supported(
                    &rp,
                    other,
                    &["Disabled", "Enabled", "IfPossible"],
                )),
            }
        }
    }
}

fn validate_volume_devices(
    devices: Option<&Vec<k8s_openapi::api::core::v1::VolumeDevice>>,
    mounts: &BTreeMap<String, String>,
    volumes: &BTreeMap<String, bool>,
    p: &P,
    errs: &mut Errs,
) {
    let mut paths = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (i, d) in devices.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if d.name.is_empty() {
            errs.push(required(&ip.child("name"), ""));
        }
        if names.contains(&d.name) {
            errs.push(invalid_s(&ip.child("name"), &d.name, "must be unique"));
        }
        match volumes.get(&d.name) {
            Some(false) => errs.push(invalid_s(
                &ip.child("name"),
                &d.name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )),
            Some(true) => {}
            None => errs.push(not_found_s(&ip.child("name"), &d.name, "")),
        }
        if d.device_path.is_empty() {
            errs.push(required(&ip.child("devicePath"), ""));
        }
        if paths.contains(&d.device_path) {
            errs.push(invalid_s(
                &ip.child("devicePath"),
                &d.device_path,
                "must be unique",
            ));
        }
        if !d.device_path.is_empty() && d.device_path.split('/').any(|s| s == "..") {
            errs.push(invalid_s(
                &ip.child("devicePath"),
                &d.device_path,
                "can not contain backsteps ('..')",
            ));
        } else {
            paths.insert(d.device_path.clone());
        }
        if mounts.contains_key(&d.name) {
            errs.push(invalid_s(
                &ip.child("name"),
                &d.name,
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.values().any(|m| *m == d.device_path) {
            errs.push(invalid_s(
                &ip.child("devicePath"),
                &d.device_path,
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !d.name.is_empty() {
            names.insert(d.name.clone());
        }
    }
}

fn validate_pull_policy(policy: Option<&str>, p: &P, errs: &mut Errs) {
    match policy.unwrap_or("") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(required(p, "")),
        other => errs.push(not_supported(
            p,
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
}

// --- containers ------------------------------------------------------------------------------

pub(super) struct SpecCtx<'a> {
    pub(super) volumes: BTreeMap<String, bool>,
    pub(super) pod_claims: BTreeSet<String>,
    pub(super) grace: Option<i64>,
    pub(super) restart_policy: &'a str,
    pub(super) host_users: bool,
}

fn validate_container_common(c: &Container, ctx: &SpecCtx<'_>, p: &P, errs: &mut Errs) {
    let np = p.child("name");
    if c.name.is_empty() {
        errs.push(required(&np, ""));
    } else {
        dns_label(&c.name, &np, errs);
    }
    if c.image.as_deref().unwrap_or("").is_empty() {
        errs.push(required(&p.child("image"), ""));
    }
    match c.termination_message_policy.as_deref().unwrap_or("") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(required(&p.child("terminationMessagePolicy"), "")),
        other => errs.push(not_supported(
            &p.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    let mounts: BTreeMap<String, String> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.clone(), m.mount_path.clone()))
        .collect();
    let devices: BTreeMap<String, String> = c
        .volume_devices
        .iter()
        .flatten()
        .map(|d| (d.name.clone(), d.device_path.clone()))
        .collect();
    validate_container_ports(c.ports.as_ref(), &p.child("ports"), errs);
    validate_env(c.env.as_ref(), &p.child("env"), errs);
    validate_env_from(c.env_from.as_ref(), &p.child("envFrom"), errs);
    let privileged = c
        .security_context
        .as_ref()
        .and_then(|s| s.privileged)
        .unwrap_or(false);
    validate_volume_mounts(
        c.volume_mounts.as_ref(),
        &devices,
        &ctx.volumes,
        privileged,
        &p.child("volumeMounts"),
        errs,
    );
    validate_volume_devices(
        c.volume_devices.as_ref(),
        &mounts,
        &ctx.volumes,
        &p.child("volumeDevices"),
        errs,
    );
    validate_pull_policy(
        c.image_pull_policy.as_deref(),
        &p.child("imagePullPolicy"),
        errs,
    );
    validate_resource_requirements(
        c.resources.as_ref(),
        &ctx.pod_claims,
        &p.child("resources"),
        errs,
    );
    validate_resize_policy(
        c.resize_policy.as_ref(),
        ctx.restart_policy,
        &p.child("resizePolicy"),
        errs,
    );
    validate_security_context(
        c.security_context.as_ref(),
        ctx.host_users,
        &p.child("securityContext"),
        errs,
    );
}

fn host_port_conflicts(containers: &[&Container], p: &P, errs: &mut Errs) {
    let mut seen = BTreeSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in c.ports.iter().flatten().enumerate() {
            let hp = port.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                port.protocol.as_deref().unwrap_or(""),
                port.host_ip.as_deref().unwrap_or(""),
                hp
            );
            if !seen.insert(key.clone()) {
                errs.push(duplicate_s(
                    &p.index(ci).child("ports").index(pi).child("hostPort"),
                    &key,
                ));
            }
        }
    }
}

pub(super) fn validate_containers(
    containers: &[Container],
    ctx: &SpecCtx<'_>,
    p: &P,
    errs: &mut Errs,
) {
    if containers.is_empty() {
        errs.push(required(p, ""));
        return;
    }
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let cp = p.index(i);
        validate_container_common(c, ctx, &cp, errs);
        if !names.insert(c.name.clone()) {
            errs.push(duplicate_s(&cp.child("name"), &c.name));
        }
        validate_lifecycle_and_probes(c, ctx.grace, &cp, errs);
        if c.restart_policy.is_some() {
            errs.push(forbidden(
                &cp.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    let refs: Vec<&Container> = containers.iter().collect();
    host_port_conflicts(&refs, p, errs);
}

pub(super) fn validate_init_containers(
    inits: &[Container],
    regular: &[Container],
    ctx: &SpecCtx<'_>,
    p: &P,
    errs: &mut Errs,
) {
    let mut names: BTreeSet<String> = regular.iter().map(|c| c.name.clone()).collect();
    for (i, c) in inits.iter().enumerate() {
        let cp = p.index(i);
        validate_container_common(c, ctx, &cp, errs);
        let mut restart_always = false;
        if let Some(rp) = &c.restart_policy {
            if rp != "Always" {
                errs.push(not_supported(&cp.child("restartPolicy"), rp, &["Always"]));
            }
            restart_always = rp == "Always";
        }
        if names.contains(&c.name) {
            errs.push(duplicate_s(&cp.child("name"), &c.name));
        } else if !c.name.is_empty() {
            names.insert(c.name.clone());
        }
        host_port_conflicts(&[c], p, errs);
        if restart_always {
            validate_lifecycle_and_probes(c, ctx.grace, &cp, errs);
        } else {
            let msg = "may not be set for init containers without restartPolicy=Always";
            if c.lifecycle.is_some() {
                errs.push(forbidden(&cp.child("lifecycle"), msg));
            }
            if c.liveness_probe.is_some() {
                errs.push(forbidden(&cp.child("livenessProbe"), msg));
            }
            if c.readiness_probe.is_some() {
                errs.push(forbidden(&cp.child("readinessProbe"), msg));
            }
            if c.startup_probe.is_some() {
                errs.push(forbidden(&cp.child("startupProbe"), msg));
            }
        }
    }
}
