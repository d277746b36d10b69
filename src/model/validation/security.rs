//! Security contexts of pods and containers: user/group ranges, seccomp, AppArmor, sysctls.

use std::collections::BTreeSet;

use super::field::{
    Errs, P, duplicate_s, invalid_i, invalid_raw, invalid_s, not_supported, required, too_long,
};
use super::formats::{MAX_INT32, inclusive_range_error, is_lower_alnum};
use super::gofmt::go_quote;
use super::volumes::validate_local_descending_path;
use k8s_openapi::api::core::v1::{PodSecurityContext, PodSpec, SeccompProfile, SecurityContext};

// --- security contexts -----------------------------------------------------------------------

fn validate_id_range(v: Option<i64>, p: &P, errs: &mut Errs) {
    if let Some(id) = v
        && !(0..=MAX_INT32).contains(&id)
    {
        errs.push(invalid_i(p, id, &inclusive_range_error(0, MAX_INT32)));
    }
}

fn validate_seccomp_profile(sp: Option<&SeccompProfile>, p: &P, errs: &mut Errs) {
    let Some(sp) = sp else { return };
    const TYPES: [&str; 3] = ["Localhost", "RuntimeDefault", "Unconfined"];
    match sp.type_.as_str() {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errs.push(required(
            &p.child("type"),
            "type is required when seccompProfile is set",
        )),
        other => errs.push(not_supported(&p.child("type"), other, &TYPES)),
    }
    if sp.type_ == "Localhost" {
        match &sp.localhost_profile {
            None => errs.push(required(
                &p.child("localhostProfile"),
                "must be set when seccomp type is Localhost",
            )),
            Some(lp) => validate_local_descending_path(lp, &p.child("localhostProfile"), errs),
        }
    } else if let Some(lp) = &sp.localhost_profile {
        errs.push(invalid_raw(
            &p.child("localhostProfile"),
            &format!(
                "core.SeccompProfile{{Type:{}, LocalhostProfile:(*string)({})}}",
                go_quote(&sp.type_),
                go_quote(lp)
            ),
            "can only be set when seccomp type is Localhost",
        ));
    }
}

fn validate_app_armor_profile(
    profile: Option<&k8s_openapi::api::core::v1::AppArmorProfile>,
    p: &P,
    errs: &mut Errs,
) {
    let Some(profile) = profile else { return };
    match profile.type_.as_str() {
        "Localhost" => match &profile.localhost_profile {
            None => errs.push(required(
                &p.child("localhostProfile"),
                "must be set when AppArmor type is Localhost",
            )),
            Some(lp) => {
                if lp.trim() != lp {
                    errs.push(invalid_s(
                        &p.child("localhostProfile"),
                        lp,
                        "must not be padded with whitespace",
                    ));
                } else if lp.is_empty() {
                    errs.push(required(
                        &p.child("localhostProfile"),
                        "must be set when AppArmor type is Localhost",
                    ));
                }
                if lp.len() > 4095 {
                    errs.push(too_long(&p.child("localhostProfile"), 4095));
                }
            }
        },
        "RuntimeDefault" | "Unconfined" => {
            if let Some(lp) = &profile.localhost_profile {
                errs.push(invalid_s(
                    &p.child("localhostProfile"),
                    lp,
                    "can only be set when AppArmor type is Localhost",
                ));
            }
        }
        "" => errs.push(required(
            &p.child("type"),
            "type is required when appArmorProfile is set",
        )),
        other => errs.push(not_supported(
            &p.child("type"),
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
}

pub(super) fn validate_security_context(
    sc: Option<&SecurityContext>,
    host_users: bool,
    p: &P,
    errs: &mut Errs,
) {
    let Some(sc) = sc else { return };
    validate_id_range(sc.run_as_user, &p.child("runAsUser"), errs);
    validate_id_range(sc.run_as_group, &p.child("runAsGroup"), errs);
    if let Some(pm) = &sc.proc_mount {
        if pm != "Default" && pm != "Unmasked" {
            errs.push(not_supported(
                &p.child("procMount"),
                pm,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && pm == "Unmasked" {
            errs.push(invalid_s(
                &p.child("procMount"),
                pm,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    validate_seccomp_profile(
        sc.seccomp_profile.as_ref(),
        &p.child("seccompProfile"),
        errs,
    );
    validate_app_armor_profile(
        sc.app_armor_profile.as_ref(),
        &p.child("appArmorProfile"),
        errs,
    );
}

fn sysctl_namespace(name: &str) -> Option<&'static str> {
    let n = name.replace('/', ".");
    if n == "kernel.sem"
        || n.starts_with("kernel.shm")
        || n.starts_with("kernel.msg")
        || n.starts_with("fs.mqueue.")
    {
        Some("ipc")
    } else if n.starts_with("net.") {
        Some("net")
    } else {
        None
    }
}

fn is_valid_sysctl_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let seg_ok = |s: &str| {
        let b = s.as_bytes();
        !b.is_empty()
            && s.chars().all(|c| is_lower_alnum(c) || c == '-' || c == '_')
            && is_lower_alnum(b[0] as char)
            && is_lower_alnum(b[b.len() - 1] as char)
    };
    name.split(['.', '/']).all(seg_ok)
}

pub(super) fn validate_pod_security_context(spec: &PodSpec, p: &P, errs: &mut Errs) {
    let Some(sc) = spec.security_context.as_ref() else {
        return;
    };
    let sc: &PodSecurityContext = sc;
    validate_id_range(sc.fs_group, &p.child("fsGroup"), errs);
    validate_id_range(sc.run_as_user, &p.child("runAsUser"), errs);
    validate_id_range(sc.run_as_group, &p.child("runAsGroup"), errs);
    for (i, g) in sc.supplemental_groups.iter().flatten().enumerate() {
        validate_id_range(Some(*g), &p.child("supplementalGroups").index(i), errs);
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errs.push(invalid_raw(
            &p.child("shareProcessNamespace"),
            "true",
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let mut names = BTreeSet::new();
    for (i, s) in sc.sysctls.iter().flatten().enumerate() {
        let np = p.child("sysctls").index(i).child("name");
        if s.name.is_empty() {
            errs.push(required(&np, ""));
        } else if !is_valid_sysctl_name(&s.name) {
            errs.push(invalid_s(
                &np,
                &s.name,
                "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        } else if names.contains(&s.name) {
            errs.push(duplicate_s(&np, &s.name));
        }
        match sysctl_namespace(&s.name) {
            Some("net") if spec.host_network == Some(true) => errs.push(invalid_s(
                &np,
                &s.name,
                "may not be specified when 'hostNetwork' is true",
            )),
            Some("ipc") if spec.host_ipc == Some(true) => errs.push(invalid_s(
                &np,
                &s.name,
                "may not be specified when 'hostIPC' is true",
            )),
            _ => {}
        }
        names.insert(s.name.clone());
    }
    if let Some(fgcp) = &sc.fs_group_change_policy
        && fgcp != "Always"
        && fgcp != "OnRootMismatch"
    {
        errs.push(not_supported(
            &p.child("fsGroupChangePolicy"),
            fgcp,
            &["Always", "OnRootMismatch"],
        ));
    }
    validate_seccomp_profile(
        sc.seccomp_profile.as_ref(),
        &p.child("seccompProfile"),
        errs,
    );
    validate_app_armor_profile(
        sc.app_armor_profile.as_ref(),
        &p.child("appArmorProfile"),
        errs,
    );
    if let Some(sgp) = &sc.supplemental_groups_policy
        && sgp != "Merge"
        && sgp != "Strict"
    {
        errs.push(not_supported(
            &p.child("supplementalGroupsPolicy"),
            sgp,
            &["Merge", "Strict"],
        ));
    }
    if let Some(scp) = &sc.se_linux_change_policy
        && scp != "MountOption"
        && scp != "Recursive"
    {
        errs.push(not_supported(
            &p.child("seLinuxChangePolicy"),
            scp,
            &["MountOption", "Recursive"],
        ));
    }
}
