//! The files of a pod's API-data volumes, as Kubernetes' volume plugins project them
//! (pkg/volume/configmap, secret, downwardapi, projected): for each `configMap`, `secret`,
//! `downwardAPI` and `projected` volume, the relative paths it holds with their bytes and mode
//! (`items` map keys to paths, `mode` over `defaultMode`, 0644 unless said; a missing object or
//! key that is not `optional` fails the mount with the kubelet's message), and which
//! ServiceAccount tokens its `serviceAccountToken` sources need. Pure: the kubelet writes the
//! payloads with `atomic` and bind-mounts the directories (`spec`).

use super::env::{Sources, field_value, resource_value};
use super::pod::Runtime;
use k8s_openapi::api::core::v1::{KeyToPath, Pod, Volume};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The mode a file gets when neither the item nor the volume names one (0644).
pub const DEFAULT_MODE: u32 = 0o644;
/// Where the ServiceAccount admission mounts the token volume.
pub const SERVICE_ACCOUNT_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The ConfigMap holding the cluster's CA certificate, published in every namespace by
/// Kubernetes; this kubelet gives its own CA when the namespace has no such ConfigMap.
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";

/// What a mount failure says while the pod's token is not issued yet.
pub const TOKEN_PENDING: &str = "is not issued yet";

/// One file of a volume.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct File {
    pub data: Vec<u8>,
    pub mode: u32,
}

/// A volume's files by relative path.
pub type Payload = BTreeMap<String, File>;

/// A ServiceAccount token a projected volume asks for: its audience (the API's when none) and
/// lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenWant {
    pub audience: Option<String>,
    pub seconds: i64,
}

/// Whether a volume is one whose files the kubelet writes from the API.
pub fn is_projected(volume: &Volume) -> bool {
    volume.config_map.is_some()
        || volume.secret.is_some()
        || volume.downward_api.is_some()
        || volume.projected.is_some()
}

/// The pod's volumes whose files the kubelet writes.
pub fn projected_volumes(pod: &Pod) -> impl Iterator<Item = &Volume> {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter(|v| is_projected(v))
}

/// Whether the admission's token volume `volume` goes without its token: the pod says nothing
/// and its ServiceAccount says `automountServiceAccountToken: false` (Kubernetes' admission
/// reads the ServiceAccount and adds no volume at all; this one's admission cannot see it).
fn token_refused(pod: &Pod, volume: &Volume, sources: &Sources) -> bool {
    volume.name.starts_with("kube-api-access-")
        && pod
            .spec
            .as_ref()
            .and_then(|s| s.automount_service_account_token)
            .is_none()
        && sources
            .service_account
            .as_ref()
            .and_then(|a| a["automountServiceAccountToken"].as_bool())
            == Some(false)
}

/// Every token the pod's volumes need.
pub fn token_wants(pod: &Pod, sources: &Sources) -> BTreeSet<TokenWant> {
    projected_volumes(pod)
        .filter(|v| !token_refused(pod, v, sources))
        .filter_map(|v| v.projected.as_ref())
        .flat_map(|p| p.sources.iter().flatten())
        .filter_map(|s| s.service_account_token.as_ref())
        .map(|t| TokenWant {
            audience: t.audience.clone().filter(|a| !a.is_empty()),
            seconds: t.expiration_seconds.unwrap_or(3600),
        })
        .collect()
}

/// A relative path that stays inside the volume: no absolute path, no `..` component.
fn safe_path(path: &str) -> Result<&str, String> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.split('/').any(|c| c == ".." || c.starts_with(".."));
    if bad {
        return Err(format!("invalid path {path:?} in volume"));
    }
    Ok(path)
}

fn mode_of(mode: Option<i32>, default: u32) -> u32 {
    mode.and_then(|m| u32::try_from(m).ok())
        .map_or(default, |m| m & 0o777)
}

/// Files of one ConfigMap or Secret's data, as `items` (or every key) say.
/// How the kubelet words a key that `items` names and a ConfigMap or Secret lacks.
const CONFIG_KEY_MISSING: &str = "configmap references non-existent config key";
const SECRET_KEY_MISSING: &str = "references non-existent secret key";

/// The files of a ConfigMap or Secret source looked up as `found`. A missing source that is
/// not optional is returned as `Ok(Some(message))`, for the caller to fail the mount with or
/// to collect among a projected volume's errors; a missing optional one adds nothing.
fn source_files(
    out: &mut Payload,
    found: Result<BTreeMap<String, Vec<u8>>, String>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    optional: bool,
    missing_key: &str,
) -> Result<Option<String>, String> {
    match found {
        Ok(data) => {
            keyed_files(out, &data, items, default_mode, optional, missing_key).map(|()| None)
        }
        Err(_) if optional => Ok(None),
        Err(message) => Ok(Some(message)),
    }
}

fn keyed_files(
    out: &mut Payload,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    optional: bool,
    missing_key: &str,
) -> Result<(), String> {
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (key, value) in data {
                out.insert(
                    safe_path(key)?.to_string(),
                    File {
                        data: value.clone(),
                        mode: default_mode,
                    },
                );
            }
        }
        Some(items) => {
            for item in items {
                let Some(value) = data.get(&item.key) else {
                    if optional {
                        continue;
                    }
                    return Err(format!("{missing_key}: {}", item.key));
                };
                out.insert(
                    safe_path(&item.path)?.to_string(),
                    File {
                        data: value.clone(),
                        mode: mode_of(item.mode, default_mode),
                    },
                );
            }
        }
    }
    Ok(())
}

/// The files of one volume (`Ok(None)` for a volume of another type), given the tokens the
/// kubelet holds. A failure is the mount's error as the kubelet words it.
pub fn payload(
    pod: &Pod,
    volume: &Volume,
    runtime: &Runtime,
    sources: &Sources,
    tokens: &HashMap<TokenWant, String>,
) -> Result<Option<Payload>, String> {
    let mut out = Payload::new();
    if let Some(cm) = &volume.config_map {
        let mode = mode_of(cm.default_mode, DEFAULT_MODE);
        let found = sources.config_map(&cm.name);
        let optional = cm.optional == Some(true);
        if let Some(missing) = source_files(
            &mut out,
            found,
            cm.items.as_ref(),
            mode,
            optional,
            CONFIG_KEY_MISSING,
        )? {
            return Err(missing);
        }
        return Ok(Some(out));
    }
    if let Some(secret) = &volume.secret {
        let mode = mode_of(secret.default_mode, DEFAULT_MODE);
        let found = sources.secret(secret.secret_name.as_deref().unwrap_or_default());
        let optional = secret.optional == Some(true);
        if let Some(missing) = source_files(
            &mut out,
            found,
            secret.items.as_ref(),
            mode,
            optional,
            SECRET_KEY_MISSING,
        )? {
            return Err(missing);
        }
        return Ok(Some(out));
    }
    if let Some(downward) = &volume.downward_api {
        let mode = mode_of(downward.default_mode, DEFAULT_MODE);
        downward_files(&mut out, pod, downward.items.as_deref(), mode, runtime)?;
        return Ok(Some(out));
    }
    let Some(projected) = &volume.projected else {
        return Ok(None);
    };
    let mode = mode_of(projected.default_mode, DEFAULT_MODE);
    let mut errors = Vec::new();
    for source in projected.sources.iter().flatten() {
        if let Some(cm) = &source.config_map {
            let found = sources.config_map(&cm.name);
            let optional = cm.optional == Some(true);
            errors.extend(source_files(
                &mut out,
                found,
                cm.items.as_ref(),
                mode,
                optional,
                CONFIG_KEY_MISSING,
            )?);
        } else if let Some(secret) = &source.secret {
            let found = sources.secret(&secret.name);
            let optional = secret.optional == Some(true);
            errors.extend(source_files(
                &mut out,
                found,
                secret.items.as_ref(),
                mode,
                optional,
                SECRET_KEY_MISSING,
            )?);
        } else if let Some(downward) = &source.downward_api {
            downward_files(&mut out, pod, downward.items.as_deref(), mode, runtime)?;
        } else if let Some(token) = &source.service_account_token {
            if token_refused(pod, volume, sources) {
                continue;
            }
            let want = TokenWant {
                audience: token.audience.clone().filter(|a| !a.is_empty()),
                seconds: token.expiration_seconds.unwrap_or(3600),
            };
            let Some(value) = tokens.get(&want) else {
                errors.push(format!(
                    "failed to fetch token: the token of serviceaccount \"{}\" {TOKEN_PENDING}",
                    pod.spec
                        .as_ref()
                        .and_then(|s| s.service_account_name.as_deref())
                        .unwrap_or("default")
                ));
                continue;
            };
            out.insert(
                safe_path(&token.path)?.to_string(),
                File {
                    data: value.as_bytes().to_vec(),
                    mode,
                },
            );
        }
    }
    if !errors.is_empty() {
        return Err(errors.join(", "));
    }
    Ok(Some(out))
}

fn downward_files(
    out: &mut Payload,
    pod: &Pod,
    items: Option<&[k8s_openapi::api::core::v1::DownwardAPIVolumeFile]>,
    default_mode: u32,
    runtime: &Runtime,
) -> Result<(), String> {
    for item in items.into_iter().flatten() {
        let value = if let Some(field) = &item.field_ref {
            field_value(pod, &field.field_path, runtime).map_err(|e| e.message)?
        } else if let Some(resource) = &item.resource_field_ref {
            let name = resource.container_name.as_deref().unwrap_or("");
            let container = super::pod::all_containers(pod)
                .find(|c| c.name == name)
                .ok_or_else(|| format!("container {name:?} not found in the pod"))?;
            resource_value(
                container,
                &resource.resource,
                resource.divisor.as_ref().map(|d| d.0.as_str()),
            )
            .map_err(|e| e.message)?
        } else {
            continue;
        };
        out.insert(
            safe_path(&item.path)?.to_string(),
            File {
                data: value.into_bytes(),
                mode: mode_of(item.mode, default_mode),
            },
        );
    }
    Ok(())
}

/// The host directory of volume `volume` of the pod whose directory is `pod_dir`.
pub fn volume_dir(pod_dir: &str, volume: &str) -> String {
    format!("{pod_dir}/volumes/{volume}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::sync::Arc;

    fn runtime() -> Runtime<'static> {
        Runtime {
            sandbox_id: "sb",
            pod_ip: "172.17.0.5",
            host_ip: "127.0.0.1",
            node: "n1",
            pod_dir: "/data/pods/u",
        }
    }

    fn sources() -> Sources {
        let cm = json!({"metadata": {"name": "cfg", "namespace": "shop"},
            "data": {"app.conf": "port=80\n", "LEVEL": "debug"}, "binaryData": {"logo.bin": "AAEC"}});
        let secret = json!({"metadata": {"name": "creds", "namespace": "shop"},
            "data": {"password": "c2VjcmV0"}});
        let ca = json!({"metadata": {"name": ROOT_CA_CONFIG_MAP, "namespace": "shop"},
            "data": {"ca.crt": "PEM"}});
        Sources {
            config_maps: HashMap::from([
                ("cfg".to_string(), Arc::new(cm)),
                (ROOT_CA_CONFIG_MAP.to_string(), Arc::new(ca)),
            ]),
            secrets: HashMap::from([("creds".to_string(), Arc::new(secret))]),
            ..Default::default()
        }
    }

    fn pod(volume: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "shop", "uid": "u", "labels": {"app": "web", "tier": "front"}},
            "spec": {"serviceAccountName": "default", "volumes": [volume],
                     "containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}]},
        }))
        .unwrap()
    }

    fn files(
        volume: Value,
        tokens: &HashMap<TokenWant, String>,
    ) -> Result<Vec<(String, String, u32)>, String> {
        let p = pod(volume);
        let v = &p.spec.as_ref().unwrap().volumes.as_ref().unwrap()[0];
        let payload = payload(&p, v, &runtime(), &sources(), tokens)?.expect("a projected volume");
        Ok(payload
            .into_iter()
            .map(|(path, f)| (path, String::from_utf8_lossy(&f.data).into_owned(), f.mode))
            .collect())
    }

    /// The files a row expects (path, contents, mode), or its error message.
    type Expected = Result<Vec<(String, String, u32)>, &'static str>;

    fn row(path: &str, data: &str, mode: u32) -> (String, String, u32) {
        (path.to_string(), data.to_string(), mode)
    }

    #[test]
    fn volume_layouts_follow_items_modes_and_optional() {
        let none = HashMap::new();
        let table: Vec<(Value, Expected)> = vec![
            (
                json!({"name": "v", "configMap": {"name": "cfg"}}),
                Ok(vec![
                    row("LEVEL", "debug", 0o644),
                    row("app.conf", "port=80\n", 0o644),
                    row("logo.bin", "\u{0}\u{1}\u{2}", 0o644),
                ]),
            ),
            (
                json!({"name": "v", "configMap": {"name": "cfg", "defaultMode": 0o400,
                    "items": [{"key": "app.conf", "path": "conf/app.conf"}, {"key": "LEVEL", "path": "level", "mode": 0o600}]}}),
                Ok(vec![
                    row("conf/app.conf", "port=80\n", 0o400),
                    row("level", "debug", 0o600),
                ]),
            ),
            (
                json!({"name": "v", "configMap": {"name": "nope"}}),
                Err("configmap \"nope\" not found"),
            ),
            (
                json!({"name": "v", "configMap": {"name": "nope", "optional": true}}),
                Ok(vec![]),
            ),
            (
                json!({"name": "v", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "k"}]}}),
                Err("configmap references non-existent config key: k"),
            ),
            (
                json!({"name": "v", "secret": {"secretName": "creds"}}),
                Ok(vec![row("password", "secret", 0o644)]),
            ),
            (
                json!({"name": "v", "secret": {"secretName": "nope"}}),
                Err("secret \"nope\" not found"),
            ),
            (
                json!({"name": "v", "downwardAPI": {"items": [
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                    {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}}]}}),
                Ok(vec![
                    row("labels", "app=\"web\"\ntier=\"front\"", 0o644),
                    row("mem", "64", 0o644),
                    row("name", "p", 0o644),
                ]),
            ),
            (
                json!({"name": "v", "configMap": {"name": "cfg", "items": [{"key": "LEVEL", "path": "../escape"}]}}),
                Err("invalid path \"../escape\" in volume"),
            ),
        ];
        for (volume, expected) in table {
            let got = files(volume.clone(), &none);
            match expected {
                Ok(rows) => assert_eq!(got, Ok(rows), "{volume}"),
                Err(message) => assert_eq!(got, Err(message.to_string()), "{volume}"),
            }
        }
    }

    #[test]
    fn the_service_account_volume_holds_token_ca_and_namespace() {
        let volume = json!({"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIG_MAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}});
        let p = pod(volume.clone());
        assert_eq!(
            token_wants(&p, &sources()),
            BTreeSet::from([TokenWant {
                audience: None,
                seconds: 3607
            }])
        );
        // No token yet: the mount waits.
        assert!(
            files(volume.clone(), &HashMap::new())
                .unwrap_err()
                .contains("not issued yet")
        );
        let tokens = HashMap::from([(
            TokenWant {
                audience: None,
                seconds: 3607,
            },
            "jwt".to_string(),
        )]);
        assert_eq!(
            files(volume, &tokens),
            Ok(vec![
                row("ca.crt", "PEM", 0o644),
                row("namespace", "shop", 0o644),
                row("token", "jwt", 0o644),
            ])
        );
    }
}
