//! Pod volumes (`validateVolumes` and each volume source), with the downward API and
//! resource field selectors they share with container environment variables.

use std::collections::{BTreeMap, BTreeSet};

use super::field::{
    Errs, P, duplicate_s, forbidden, invalid_i, invalid_s, not_supported, required,
};
use super::formats::{FILE_MODE_ERR, QUANTITY_ERR, dns_label, qualified_name};
use super::quantity::parse_quantity;
use k8s_openapi::api::core::v1::{ObjectFieldSelector, Volume};

/// Volume sources in Kubernetes' checking order: (json field name, path used in errors, set).
fn volume_sources(v: &Volume) -> [(&'static str, bool); 30] {
    [
        ("emptyDir", v.empty_dir.is_some()),
        ("hostPath", v.host_path.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("secret", v.secret.is_some()),
        ("nfs", v.nfs.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("flocker", v.flocker.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("rbd", v.rbd.is_some()),
        ("cinder", v.cinder.is_some()),
        ("cephFS", v.cephfs.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("downwarAPI", v.downward_api.is_some()),
        ("fc", v.fc.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("configMap", v.config_map.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("storageos", v.storageos.is_some()),
        ("projected", v.projected.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("csi", v.csi.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("image", v.image.is_some()),
    ]
}

fn validate_path_no_backsteps(target: &str, p: &P, errs: &mut Errs) {
    if target.split('/').any(|s| s == "..") {
        errs.push(invalid_s(p, target, "must not contain '..'"));
    }
}

pub(super) fn validate_local_descending_path(target: &str, p: &P, errs: &mut Errs) {
    if target.starts_with('/') {
        errs.push(invalid_s(p, target, "must be a relative path"));
    }
    validate_path_no_backsteps(target, p, errs);
}

fn validate_local_non_reserved_path(target: &str, p: &P, errs: &mut Errs) {
    validate_local_descending_path(target, p, errs);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(invalid_s(p, target, "must not start with '..'"));
    }
}

fn validate_file_mode(mode: Option<i32>, p: &P, errs: &mut Errs) {
    if let Some(m) = mode
        && !(0..=0o777).contains(&m)
    {
        errs.push(invalid_i(p, i64::from(m), FILE_MODE_ERR));
    }
}

fn validate_key_to_paths(
    items: Option<&Vec<k8s_openapi::api::core::v1::KeyToPath>>,
    p: &P,
    errs: &mut Errs,
) {
    for (i, kp) in items.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if kp.key.is_empty() {
            errs.push(required(&ip.child("key"), ""));
        }
        if kp.path.is_empty() {
            errs.push(required(&ip.child("path"), ""));
        }
        validate_local_non_reserved_path(&kp.path, &ip.child("path"), errs);
        validate_file_mode(kp.mode, &ip.child("mode"), errs);
    }
}

const VOLUME_DOWNWARD_API_PATHS: [&str; 5] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

pub(super) const ENV_DOWNWARD_API_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const CONTAINER_RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

fn split_subscripted_path(path: &str) -> Option<(&str, &str)> {
    let s = path.strip_suffix("']")?;
    let (a, b) = s.split_once("['")?;
    if a.is_empty() {
        return None;
    }
    Some((a, b))
}

pub(super) fn validate_object_field_selector(
    fs: &ObjectFieldSelector,
    expressions: &[&str],
    p: &P,
    errs: &mut Errs,
) {
    let api_version = fs.api_version.as_deref().unwrap_or("");
    if api_version.is_empty() {
        errs.push(required(&p.child("apiVersion"), ""));
        return;
    }
    if fs.field_path.is_empty() {
        errs.push(required(&p.child("fieldPath"), ""));
        return;
    }
    // podshelper.ConvertDownwardAPIFieldLabel
    let converted: Result<String, String> = if api_version != "v1" {
        Err(format!("unsupported pod version: {api_version}"))
    } else if let Some((path, _)) = split_subscripted_path(&fs.field_path) {
        match path {
            "metadata.annotations" | "metadata.labels" => Ok(fs.field_path.clone()),
            _ => Err(format!(
                "field label does not support subscript: {}",
                fs.field_path
            )),
        }
    } else {
        match fs.field_path.as_str() {
            "metadata.annotations"
            | "metadata.labels"
            | "metadata.name"
            | "metadata.namespace"
            | "metadata.uid"
            | "spec.nodeName"
            | "spec.restartPolicy"
            | "spec.serviceAccountName"
            | "spec.schedulerName"
            | "status.phase"
            | "status.hostIP"
            | "status.hostIPs"
            | "status.podIP"
            | "status.podIPs" => Ok(fs.field_path.clone()),
            "spec.host" => Ok("spec.nodeName".to_string()),
            other => Err(format!("field label not supported: {other}")),
        }
    };
    let internal = match converted {
        Ok(v) => v,
        Err(e) => {
            errs.push(invalid_s(
                &p.child("fieldPath"),
                &fs.field_path,
                &format!("error converting fieldPath: {e}"),
            ));
            return;
        }
    };
    if let Some((path, subscript)) = split_subscripted_path(&internal) {
        match path {
            "metadata.annotations" => qualified_name(&subscript.to_lowercase(), p, errs),
            "metadata.labels" => qualified_name(subscript, p, errs),
            _ => errs.push(invalid_s(p, path, "does not support subscript")),
        }
    } else if !expressions.contains(&internal.as_str()) {
        errs.push(not_supported(&p.child("fieldPath"), &internal, expressions));
    }
}

pub(super) fn validate_container_resource_field_selector(
    fs: &k8s_openapi::api::core::v1::ResourceFieldSelector,
    p: &P,
    volume: bool,
    errs: &mut Errs,
) {
    if volume && fs.container_name.as_deref().unwrap_or("").is_empty() {
        errs.push(required(&p.child("containerName"), ""));
    } else if fs.resource.is_empty() {
        errs.push(required(&p.child("resource"), ""));
    } else if !CONTAINER_RESOURCE_FIELD_PATHS.contains(&fs.resource.as_str())
        && !fs.resource.starts_with("requests.hugepages-")
        && !fs.resource.starts_with("limits.hugepages-")
    {
        errs.push(not_supported(
            &p.child("resource"),
            &fs.resource,
            &CONTAINER_RESOURCE_FIELD_PATHS,
        ));
    }
    // validateContainerResourceDivisor
    let Some(divisor) = &fs.divisor else { return };
    let Ok(d) = parse_quantity(&divisor.0) else {
        errs.push(invalid_s(&p.child("divisor"), &divisor.0, QUANTITY_ERR));
        return;
    };
    if d.nanos == 0 {
        return;
    }
    let canon = d.canonical();
    const MEM: [&str; 13] = [
        "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
    ];
    let r = fs.resource.as_str();
    let dp = p.child("divisor");
    match r {
        "limits.cpu" | "requests.cpu" if !["1m", "1"].contains(&canon.as_str()) => {
            errs.push(invalid_s(
                &dp,
                r,
                "only divisor's values 1m and 1 are supported with the cpu resource",
            ))
        }
        "limits.memory" | "requests.memory" if !MEM.contains(&canon.as_str()) => errs.push(invalid_s(
            &dp,
            r,
            "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
        )),
        "limits.ephemeral-storage" | "requests.ephemeral-storage"
            if !MEM.contains(&canon.as_str()) =>
        {
            errs.push(invalid_s(
                &dp,
                r,
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource",
            ))
        }
        _ => {}
    }
    if (r.starts_with("requests.hugepages-") || r.starts_with("limits.hugepages-"))
        && !MEM.contains(&canon.as_str())
    {
        errs.push(invalid_s(
            &dp,
            r,
            "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource",
        ));
    }
}

fn validate_volume_source(v: &Volume, p: &P, errs: &mut Errs) {
    let mut n = 0;
    for (name, set) in volume_sources(v) {
        if !set {
            continue;
        }
        if n > 0 {
            errs.push(forbidden(
                &p.child(name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        n += 1;
        match name {
            "emptyDir" => {
                let size = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref());
                if let Some(q) = size
                    && parse_quantity(&q.0).map(|q| q.nanos < 0).unwrap_or(true)
                {
                    errs.push(forbidden(
                        &p.child("emptyDir").child("sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            "hostPath" => {
                if let Some(hp) = &v.host_path {
                    let pp = p.child("hostPath");
                    if hp.path.is_empty() {
                        errs.push(required(&pp.child("path"), ""));
                    } else {
                        validate_path_no_backsteps(&hp.path, &pp.child("path"), errs);
                        if let Some(t) = &hp.type_ {
                            const TYPES: [&str; 8] = [
                                "",
                                "BlockDevice",
                                "CharDevice",
                                "Directory",
                                "DirectoryOrCreate",
                                "File",
                                "FileOrCreate",
                                "Socket",
                            ];
                            if !TYPES.contains(&t.as_str()) {
                                errs.push(not_supported(&pp.child("type"), t, &TYPES));
                            }
                        }
                    }
                }
            }
            "gitRepo" => {
                if let Some(g) = &v.git_repo {
                    let gp = p.child("gitRepo");
                    if g.repository.is_empty() {
                        errs.push(required(&gp.child("repository"), ""));
                    }
                    validate_local_descending_path(
                        g.directory.as_deref().unwrap_or(""),
                        &gp.child("directory"),
                        errs,
                    );
                }
            }
            "secret" => {
                if let Some(s) = &v.secret {
                    let sp = p.child("secret");
                    if s.secret_name.as_deref().unwrap_or("").is_empty() {
                        errs.push(required(&sp.child("secretName"), ""));
                    }
                    validate_file_mode(s.default_mode, &sp.child("defaultMode"), errs);
                    validate_key_to_paths(s.items.as_ref(), &sp.child("items"), errs);
                }
            }
            "configMap" => {
                if let Some(c) = &v.config_map {
                    let cp = p.child("configMap");
                    if c.name.is_empty() {
                        errs.push(required(&cp.child("name"), ""));
                    }
                    validate_file_mode(c.default_mode, &cp.child("defaultMode"), errs);
                    validate_key_to_paths(c.items.as_ref(), &cp.child("items"), errs);
                }
            }
            "nfs" => {
                if let Some(nfs) = &v.nfs {
                    let np = p.child("nfs");
                    if nfs.server.is_empty() {
                        errs.push(required(&np.child("server"), ""));
                    }
                    if nfs.path.is_empty() {
                        errs.push(required(&np.child("path"), ""));
                    }
                    if !nfs.path.starts_with('/') {
                        errs.push(invalid_s(
                            &np.child("path"),
                            &nfs.path,
                            "must be an absolute path",
                        ));
                    }
                }
            }
            "persistentVolumeClaim" => {
                if let Some(c) = &v.persistent_volume_claim
                    && c.claim_name.is_empty()
                {
                    errs.push(required(
                        &p.child("persistentVolumeClaim").child("claimName"),
                        "",
                    ));
                }
            }
            "downwarAPI" => {
                if let Some(d) = &v.downward_api {
                    let dp = p.child("downwardAPI");
                    validate_file_mode(d.default_mode, &dp.child("defaultMode"), errs);
                    for file in d.items.iter().flatten() {
                        validate_downward_api_file(file, &dp, errs);
                    }
                }
            }
            "projected" => {
                if let Some(pr) = &v.projected {
                    validate_projected(pr, &p.child("projected"), errs);
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(required(p, "must specify a volume type"));
    }
}

fn validate_downward_api_file(
    file: &k8s_openapi::api::core::v1::DownwardAPIVolumeFile,
    p: &P,
    errs: &mut Errs,
) {
    if file.path.is_empty() {
        errs.push(required(&p.child("path"), ""));
    }
    validate_local_non_reserved_path(&file.path, &p.child("path"), errs);
    if let Some(fr) = &file.field_ref {
        validate_object_field_selector(fr, &VOLUME_DOWNWARD_API_PATHS, &p.child("fieldRef"), errs);
        if file.resource_field_ref.is_some() {
            errs.push(invalid_s(
                p,
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ));
        }
    } else if let Some(rf) = &file.resource_field_ref {
        validate_container_resource_field_selector(rf, &p.child("resourceFieldRef"), true, errs);
    } else {
        errs.push(required(
            p,
            "one of fieldRef and resourceFieldRef is required",
        ));
    }
    validate_file_mode(file.mode, &p.child("mode"), errs);
}

fn validate_projected(
    pr: &k8s_openapi::api::core::v1::ProjectedVolumeSource,
    p: &P,
    errs: &mut Errs,
) {
    validate_file_mode(pr.default_mode, &p.child("defaultMode"), errs);
    let mut all_paths: BTreeSet<String> = BTreeSet::new();
    for (i, src) in pr.sources.iter().flatten().enumerate() {
        let sp = p.child("sources").index(i);
        let mut n = 0;
        if let Some(s) = &src.secret {
            n += 1;
            let pp = sp.child("secret");
            if s.name.is_empty() {
                errs.push(required(&pp.child("name"), ""));
            }
            validate_key_to_paths(s.items.as_ref(), &pp.child("items"), errs);
            for kp in s.items.iter().flatten() {
                if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                    errs.push(invalid_s(p, &s.name, "conflicting duplicate paths"));
                }
            }
        }
        if let Some(c) = &src.config_map {
            n += 1;
            let pp = sp.child("configMap");
            if c.name.is_empty() {
                errs.push(required(&pp.child("name"), ""));
            }
            validate_key_to_paths(c.items.as_ref(), &pp.child("items"), errs);
            for kp in c.items.iter().flatten() {
                if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                    errs.push(invalid_s(p, &c.name, "conflicting duplicate paths"));
                }
            }
        }
        if let Some(d) = &src.downward_api {
            n += 1;
            let pp = sp.child("downwardAPI");
            for (j, file) in d.items.iter().flatten().enumerate() {
                validate_downward_api_file(file, &pp.child("items").index(j), errs);
                if !file.path.is_empty() && !all_paths.insert(file.path.clone()) {
                    errs.push(invalid_s(p, "downwardAPI", "conflicting duplicate paths"));
                }
            }
        }
        if let Some(t) = &src.service_account_token {
            n += 1;
            let pp = sp.child("serviceAccountToken");
            let exp = t.expiration_seconds.unwrap_or(0);
            if exp < 600 {
                errs.push(invalid_i(
                    &pp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if exp > 1i64 << 32 {
                errs.push(invalid_i(
                    &pp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            if t.path.is_empty() {
                errs.push(required(&p.child("path"), ""));
            } else {
                validate_local_non_reserved_path(&t.path, &p.child("path"), errs);
            }
        }
        if src.cluster_trust_bundle.is_some() {
            n += 1;
        }
        if n > 1 {
            errs.push(forbidden(
                &sp,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
}

/// `ValidateVolumes`: returns the names of the volumes that validated cleanly.
pub(super) fn validate_volumes(
    vols: Option<&Vec<Volume>>,
    p: &P,
    errs: &mut Errs,
) -> BTreeMap<String, bool> {
    // name -> is PVC/ephemeral backed
    let mut ok: BTreeMap<String, bool> = BTreeMap::new();
    for (i, v) in vols.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        let np = ip.child("name");
        let mut el = Vec::new();
        validate_volume_source(v, &ip, &mut el);
        if v.name.is_empty() {
            el.push(required(&np, ""));
        } else {
            dns_label(&v.name, &np, &mut el);
        }
        if ok.contains_key(&v.name) {
            el.push(duplicate_s(&np, &v.name));
        }
        if el.is_empty() {
            ok.insert(
                v.name.clone(),
                v.persistent_volume_claim.is_some() || v.ephemeral.is_some(),
            );
        } else {
            errs.extend(el);
        }
    }
    ok
}
