//! The schema facts apply needs about the in-scope kinds (k8s 1.33 OpenAPI): list types and
//! their keys (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`), atomic maps and
//! structs, each kind's skeleton and the fields a manager never owns.

use serde_json::{Value, json};

use super::STRIPPED_METADATA;
use super::fieldpath::{Set, field};

/// The list semantics of a field (`x-kubernetes-list-type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// Replaced whole; owned as one leaf.
    Atomic,
    /// A set of scalars, merged by value (`v:` in `FieldsV1`).
    Set,
    /// A list of objects merged by these key fields (`k:` in `FieldsV1`).
    Map(&'static [&'static str]),
}

/// The list semantics of a field, by its path of field names from the object root (list
/// elements add no segment), e.g. `["spec","template","spec","containers"]` for a ReplicaSet.
/// Non-list and unknown paths are [`ListType::Atomic`] (the OpenAPI default).
pub fn list_type(kind: &str, path: &[&str]) -> ListType {
    match (kind, path) {
        (_, ["metadata", rest @ ..]) => object_meta_list(rest),
        ("ReplicaSet", ["spec", "template", "metadata", rest @ ..]) => object_meta_list(rest),
        ("Pod", ["spec", rest @ ..]) | ("ReplicaSet", ["spec", "template", "spec", rest @ ..]) => {
            pod_spec_list(rest)
        }
        ("Pod", ["status", rest @ ..]) => pod_status_list(rest),
        ("ReplicaSet" | "Namespace", ["status", "conditions"]) => ListType::Map(TYPE),
        ("Node", ["spec", "podCIDRs"]) => ListType::Set,
        ("Node", ["status", "conditions" | "addresses"]) => ListType::Map(TYPE),
        ("ServiceAccount", ["secrets"]) => ListType::Map(NAME),
        _ => ListType::Atomic,
    }
}

/// Whether the map or struct at `path` is replaced whole (`x-kubernetes-map-type: atomic`,
/// `+structType=atomic`): `nodeSelector`, label selectors, `LocalObjectReference`s,
/// `ObjectReference`s, `OwnerReference`s, env `valueFrom` selectors... For a list path this
/// describes the list's elements.
pub fn map_is_atomic(kind: &str, path: &[&str]) -> bool {
    match (kind, path) {
        (_, ["metadata", "ownerReferences"]) => true,
        ("ReplicaSet", ["spec", "selector"]) => true,
        ("ReplicaSet", ["spec", "template", "metadata", "ownerReferences"]) => true,
        ("Pod", ["spec", rest @ ..]) | ("ReplicaSet", ["spec", "template", "spec", rest @ ..]) => {
            pod_spec_atomic(rest)
        }
        ("Event", ["involvedObject" | "related"]) => true,
        // ObjectReference and LocalObjectReference are atomic structs.
        ("ServiceAccount", ["secrets" | "imagePullSecrets"]) => true,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Schema tables (k8s 1.33 OpenAPI list/map types of the in-scope kinds).

const NAME: &[&str] = &["name"];
const TYPE: &[&str] = &["type"];
const IP: &[&str] = &["ip"];

/// ObjectMeta, relative to `metadata`.
fn object_meta_list(rest: &[&str]) -> ListType {
    match rest {
        ["finalizers"] => ListType::Set,
        ["ownerReferences"] => ListType::Map(&["uid"]),
        _ => ListType::Atomic,
    }
}

/// PodSpec, relative to the spec.
fn pod_spec_list(rest: &[&str]) -> ListType {
    match rest {
        ["containers" | "initContainers" | "ephemeralContainers"] => ListType::Map(NAME),
        [
            "containers" | "initContainers" | "ephemeralContainers",
            field @ ..,
        ] => container_list(field),
        ["volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims"] => {
            ListType::Map(NAME)
        }
        ["hostAliases"] => ListType::Map(IP),
        ["topologySpreadConstraints"] => ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
        ["resources", "claims"] => ListType::Map(NAME),
        _ => ListType::Atomic,
    }
}

/// Container and EphemeralContainer, relative to the container.
fn container_list(field: &[&str]) -> ListType {
    match field {
        ["env"] => ListType::Map(NAME),
        ["ports"] => ListType::Map(&["containerPort", "protocol"]),
        ["volumeMounts"] => ListType::Map(&["mountPath"]),
        ["volumeDevices"] => ListType::Map(&["devicePath"]),
        ["resources", "claims"] => ListType::Map(NAME),
        _ => ListType::Atomic,
    }
}

/// PodStatus, relative to `status`.
fn pod_status_list(rest: &[&str]) -> ListType {
    match rest {
        ["conditions"] => ListType::Map(TYPE),
        ["podIPs" | "hostIPs"] => ListType::Map(IP),
        ["resourceClaimStatuses"] => ListType::Map(NAME),
        _ => ListType::Atomic,
    }
}

/// Atomic structs and maps inside a PodSpec, relative to the spec.
fn pod_spec_atomic(rest: &[&str]) -> bool {
    matches!(
        rest,
        ["nodeSelector"]
            | ["imagePullSecrets"]
            | [
                "affinity",
                "nodeAffinity",
                "requiredDuringSchedulingIgnoredDuringExecution"
            ]
            | ["topologySpreadConstraints", "labelSelector"]
            | [
                "containers" | "initContainers" | "ephemeralContainers",
                "env",
                "valueFrom",
                "configMapKeyRef" | "secretKeyRef" | "fieldRef" | "resourceFieldRef"
            ]
            | [
                "volumes",
                _,
                "secretRef" | "nodePublishSecretRef" | "controllerPublishSecretRef"
            ]
            | [
                "volumes",
                "ephemeral",
                "volumeClaimTemplate",
                "spec",
                "selector" | "dataSource"
            ]
    )
}

/// The schema default of a list-map key field, used when an element omits it.
pub(super) fn key_default(names: &[&str], key: &str) -> Option<Value> {
    match (names.last(), key) {
        (Some(&"ports"), "protocol") => Some(Value::String("TCP".to_owned())),
        _ => None,
    }
}

/// What an empty object of `kind` looks like once the apiserver has round-tripped it through
/// its Go type (non-omitempty fields and value structs): paths present here are never "added".
pub(super) fn skeleton(kind: &str) -> Value {
    let meta = json!({"creationTimestamp": null});
    match kind {
        "Pod" => json!({"metadata": meta, "spec": {"containers": null}, "status": {}}),
        "ReplicaSet" => json!({
            "metadata": meta,
            "spec": {
                "selector": null,
                "template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": null}}
            },
            "status": {"replicas": 0}
        }),
        "Node" | "Namespace" => json!({"metadata": meta, "spec": {}, "status": {}}),
        "Event" => json!({
            "metadata": meta,
            "involvedObject": {},
            "source": {},
            "firstTimestamp": null,
            "lastTimestamp": null,
            "eventTime": null,
            "reportingComponent": "",
            "reportingInstance": ""
        }),
        _ => json!({"metadata": meta}),
    }
}

/// Fields a write cannot change and so never owns (the strategies' reset fields).
pub(super) fn ignored_fields(kind: &str, subresource: Option<&str>) -> Set {
    let mut set = Set::default();
    if subresource == Some("status") {
        set.insert(&[field("spec")]);
        if kind == "Pod" {
            set.insert(&[field("metadata"), field("deletionTimestamp")]);
            set.insert(&[field("metadata"), field("ownerReferences")]);
        }
    } else {
        set.insert(&[field("status")]);
    }
    set
}

pub(super) fn strip_set() -> Set {
    let mut set = Set::default();
    set.insert(&[field("apiVersion")]);
    set.insert(&[field("kind")]);
    set.insert(&[field("metadata")]);
    for name in STRIPPED_METADATA {
        set.insert(&[field("metadata"), field(name)]);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_tables() {
        let lists: Vec<(&str, &[&str], ListType)> = vec![
            ("Pod", &["spec", "containers"], ListType::Map(NAME)),
            (
                "ReplicaSet",
                &["spec", "template", "spec", "containers"],
                ListType::Map(NAME),
            ),
            ("Pod", &["spec", "containers", "env"], ListType::Map(NAME)),
            (
                "ReplicaSet",
                &["spec", "template", "spec", "initContainers", "ports"],
                ListType::Map(&["containerPort", "protocol"]),
            ),
            (
                "Pod",
                &["spec", "containers", "volumeMounts"],
                ListType::Map(&["mountPath"]),
            ),
            ("Pod", &["spec", "volumes"], ListType::Map(NAME)),
            (
                "Pod",
                &["spec", "topologySpreadConstraints"],
                ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
            ),
            ("Pod", &["spec", "tolerations"], ListType::Atomic),
            ("Pod", &["spec", "containers", "command"], ListType::Atomic),
            ("Pod", &["spec", "containers", "args"], ListType::Atomic),
            ("Pod", &["status", "conditions"], ListType::Map(TYPE)),
            ("Pod", &["status", "podIPs"], ListType::Map(IP)),
            ("Pod", &["status", "containerStatuses"], ListType::Atomic),
            ("Node", &["status", "addresses"], ListType::Map(TYPE)),
            ("Node", &["spec", "podCIDRs"], ListType::Set),
            ("Node", &["spec", "taints"], ListType::Atomic),
            ("ServiceAccount", &["secrets"], ListType::Map(NAME)),
            ("ServiceAccount", &["imagePullSecrets"], ListType::Atomic),
            ("Namespace", &["spec", "finalizers"], ListType::Atomic),
            ("Namespace", &["metadata", "finalizers"], ListType::Set),
            (
                "Event",
                &["metadata", "ownerReferences"],
                ListType::Map(&["uid"]),
            ),
            ("ReplicaSet", &["status", "conditions"], ListType::Map(TYPE)),
            ("Pod", &["spec", "nodeSelector"], ListType::Atomic),
            ("Widget", &["spec", "containers"], ListType::Atomic),
        ];
        for (kind, path, want) in lists {
            assert_eq!(list_type(kind, path), want, "{kind} {path:?}");
        }
        let maps: Vec<(&str, &[&str], bool)> = vec![
            ("Pod", &["spec", "nodeSelector"], true),
            (
                "ReplicaSet",
                &["spec", "template", "spec", "nodeSelector"],
                true,
            ),
            ("ReplicaSet", &["spec", "selector"], true),
            ("Pod", &["metadata", "ownerReferences"], true),
            (
                "Pod",
                &["spec", "containers", "env", "valueFrom", "fieldRef"],
                true,
            ),
            ("Event", &["involvedObject"], true),
            ("Pod", &["metadata", "labels"], false),
            ("Pod", &["spec", "containers", "resources"], false),
            ("ReplicaSet", &["spec", "template"], false),
        ];
        for (kind, path, want) in maps {
            assert_eq!(map_is_atomic(kind, path), want, "{kind} {path:?}");
        }
    }
}
