//! Admission of an object into storage: decode it into its `k8s-openapi` type (dropping unknown
//! fields), apply Kubernetes defaults, validate, and encode it back. Pure.

use super::validation::{self, FieldError};
use super::{ResourceKind, defaults};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

mod known_fields;

/// Why an object was not admitted.
#[derive(Debug, Clone, PartialEq)]
pub enum AdmitError {
    /// The body does not decode into the kind's type (wrong JSON types): 400 BadRequest.
    Decode(String),
    /// The object decodes but breaks a validation rule: 422 Invalid.
    Invalid(Vec<FieldError>),
}

/// Kind-specific defaulting and validation over the typed object.
trait Admissible: DeserializeOwned + Serialize {
    fn apply_defaults(&mut self);
    fn validate(&self) -> Vec<FieldError>;
    fn validate_update(&self, old: &Self) -> Vec<FieldError>;
    /// What the kind's registry does between defaulting and validation, knowing the version
    /// an update replaces (Services: carried and allocated addresses, IP families).
    fn prepare(&mut self, old: Option<&Self>) {
        let _ = old;
    }
    fn validate_status_update(&self, old: &Self) -> Vec<FieldError> {
        let _ = old;
        self.validate()
    }
}

impl Admissible for Pod {
    fn apply_defaults(&mut self) {
        defaults::default_pod(self);
    }
    /// The ServiceAccount admission's token volume, on create only.
    fn prepare(&mut self, old: Option<&Self>) {
        if old.is_none() {
            defaults::mount_service_account_token(self);
        }
    }
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_pod(self)
    }
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        validation::validate_pod_update(self, old)
    }
    fn validate_status_update(&self, old: &Self) -> Vec<FieldError> {
        validation::validate_pod_status_update(self, old)
    }
}

impl Admissible for ReplicaSet {
    fn apply_defaults(&mut self) {
        defaults::default_replicaset(self);
    }
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_replicaset(self)
    }
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        validation::validate_replicaset_update(self, old)
    }
}

impl Admissible for Deployment {
    fn apply_defaults(&mut self) {
        defaults::default_deployment(self);
    }
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_deployment(self)
    }
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        validation::validate_deployment_update(self, old)
    }
}

impl Admissible for Node {
    fn apply_defaults(&mut self) {
        defaults::default_node(self);
    }
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_node(self)
    }
    fn validate_update(&self, _old: &Self) -> Vec<FieldError> {
        validation::validate_node(self)
    }
}

impl Admissible for Namespace {
    fn apply_defaults(&mut self) {
        defaults::default_namespace(self);
    }
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_namespace(self)
    }
    fn validate_update(&self, _old: &Self) -> Vec<FieldError> {
        validation::validate_namespace(self)
    }
}

impl Admissible for Event {
    fn apply_defaults(&mut self) {
        defaults::default_event(self);
    }
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_event(self)
    }
    fn validate_update(&self, _old: &Self) -> Vec<FieldError> {
        validation::validate_event(self)
    }
}

impl Admissible for Service {
    fn apply_defaults(&mut self) {
        defaults::default_service(self);
    }
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_service(self)
    }
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        validation::validate_service_update(self, old)
    }
    fn prepare(&mut self, old: Option<&Self>) {
        super::service::prepare(self, old);
    }
    fn validate_status_update(&self, old: &Self) -> Vec<FieldError> {
        validation::validate_service_status_update(self, old)
    }
}

impl Admissible for Endpoints {
    fn apply_defaults(&mut self) {
        defaults::default_endpoints(self);
    }
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_endpoints(self)
    }
    fn validate_update(&self, _old: &Self) -> Vec<FieldError> {
        validation::validate_endpoints(self)
    }
}

impl Admissible for EndpointSlice {
    fn apply_defaults(&mut self) {
        defaults::default_endpoint_slice(self);
    }
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_endpoint_slice(self)
    }
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        validation::validate_endpoint_slice_update(self, old)
    }
}

impl Admissible for ConfigMap {
    fn apply_defaults(&mut self) {}
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_config_map(self)
    }
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        validation::validate_config_map_update(self, old)
    }
}

impl Admissible for Secret {
    /// Folds `stringData` into `data` before defaulting the type.
    fn apply_defaults(&mut self) {
        defaults::default_secret(self);
    }
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_secret(self)
    }
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        validation::validate_secret_update(self, old)
    }
}

impl Admissible for ServiceAccount {
    fn apply_defaults(&mut self) {}
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_service_account(self)
    }
    fn validate_update(&self, _old: &Self) -> Vec<FieldError> {
        validation::validate_service_account(self)
    }
}

impl Admissible for Lease {
    fn apply_defaults(&mut self) {}
    fn validate(&self) -> Vec<FieldError> {
        validation::validate_lease(self)
    }
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        validation::validate_lease_update(self, old)
    }
}

/// What is being admitted.
#[derive(Debug, Clone, Copy)]
pub enum Admission<'a> {
    Create,
    Update { old: &'a Value },
    StatusUpdate { old: &'a Value },
}

/// Decode, default, validate and re-encode `object` as `kind`.
pub fn admit(
    kind: ResourceKind,
    object: Value,
    admission: Admission<'_>,
) -> Result<Value, AdmitError> {
    match kind {
        ResourceKind::Pod => admit_typed::<Pod>(kind, object, admission),
        ResourceKind::ReplicaSet => admit_typed::<ReplicaSet>(kind, object, admission),
        ResourceKind::Deployment => admit_typed::<Deployment>(kind, object, admission),
        ResourceKind::Node => admit_typed::<Node>(kind, object, admission),
        ResourceKind::Namespace => admit_typed::<Namespace>(kind, object, admission),
        ResourceKind::Event => admit_typed::<Event>(kind, object, admission),
        ResourceKind::Service => admit_typed::<Service>(kind, object, admission),
        ResourceKind::Endpoints => admit_typed::<Endpoints>(kind, object, admission),
        ResourceKind::EndpointSlice => admit_typed::<EndpointSlice>(kind, object, admission),
        ResourceKind::ConfigMap => admit_typed::<ConfigMap>(kind, object, admission),
        ResourceKind::Secret => admit_typed::<Secret>(kind, object, admission),
        ResourceKind::ServiceAccount => admit_typed::<ServiceAccount>(kind, object, admission),
        ResourceKind::Lease => admit_typed::<Lease>(kind, object, admission),
    }
}

fn admit_typed<T: Admissible>(
    kind: ResourceKind,
    object: Value,
    admission: Admission<'_>,
) -> Result<Value, AdmitError> {
    let mut typed: T = decode(kind, object)?;
    typed.apply_defaults();
    let errors = match admission {
        Admission::Create => {
            typed.prepare(None);
            typed.validate()
        }
        Admission::Update { old } => {
            let old = decode_stored(kind, old)?;
            typed.prepare(Some(&old));
            typed.validate_update(&old)
        }
        Admission::StatusUpdate { old } => typed.validate_status_update(&decode_stored(kind, old)?),
    };
    if !errors.is_empty() {
        return Err(AdmitError::Invalid(errors));
    }
    serde_json::to_value(&typed).map_err(|e| AdmitError::Decode(e.to_string()))
}

fn decode<T: DeserializeOwned>(kind: ResourceKind, object: Value) -> Result<T, AdmitError> {
    serde_json::from_value(object).map_err(|e| {
        AdmitError::Decode(format!(
            "{kind} in version \"{}\" cannot be handled as a {kind}: {e}",
            kind.version()
        ))
    })
}

/// Decode the stored object an update replaces, without copying it first.
fn decode_stored<T: DeserializeOwned>(kind: ResourceKind, object: &Value) -> Result<T, AdmitError> {
    T::deserialize(object).map_err(|e| {
        AdmitError::Decode(format!(
            "{kind} in version \"{}\" cannot be handled as a {kind}: {e}",
            kind.version()
        ))
    })
}

/// Decode a stored object into its typed form (for workers and printers).
pub fn typed<T: DeserializeOwned>(object: &Value) -> Option<T> {
    serde_json::from_value(object.clone()).ok()
}

/// Fields in `raw` that `kind`'s type does not define, as Kubernetes names them in strict
/// decoding errors (`spec.containers[0].imagee`), in document order. Explicit nulls are not
/// unknown. Empty when `raw` does not decode at all (that is reported as a decode error).
///
/// The object is admitted (decoded, defaulted, validated) once, by `decide`; this check does
/// not decode it. It walks `raw` against the kind's schema, which finds every field the type
/// does not define without building the typed object, and only a body that has such fields is
/// decoded here, to name them exactly as the decoder would (and to report none when the body
/// does not decode at all).
pub fn unknown_fields(kind: ResourceKind, raw: &Value) -> Vec<String> {
    if !known_fields::may_have_unknown(kind, raw) {
        return Vec::new();
    }
    unknown_fields_decoded(kind, raw)
}

/// `unknown_fields` by decoding `raw` and comparing it with the typed object's encoding.
fn unknown_fields_decoded(kind: ResourceKind, raw: &Value) -> Vec<String> {
    let known = match kind {
        ResourceKind::Pod => reencode::<Pod>(raw),
        ResourceKind::ReplicaSet => reencode::<ReplicaSet>(raw),
        ResourceKind::Deployment => reencode::<Deployment>(raw),
        ResourceKind::Node => reencode::<Node>(raw),
        ResourceKind::Namespace => reencode::<Namespace>(raw),
        ResourceKind::Event => reencode::<Event>(raw),
        ResourceKind::Service => reencode::<Service>(raw),
        ResourceKind::Endpoints => reencode::<Endpoints>(raw),
        ResourceKind::EndpointSlice => reencode::<EndpointSlice>(raw),
        ResourceKind::ConfigMap => reencode::<ConfigMap>(raw),
        ResourceKind::Secret => reencode::<Secret>(raw),
        ResourceKind::ServiceAccount => reencode::<ServiceAccount>(raw),
        ResourceKind::Lease => reencode::<Lease>(raw),
    };
    let mut unknown = Vec::new();
    if let Some(known) = known {
        collect_unknown(raw, &known, "", &mut unknown);
    }
    unknown
}

fn reencode<T: DeserializeOwned + Serialize>(raw: &Value) -> Option<Value> {
    let typed: T = serde_json::from_value(raw.clone()).ok()?;
    serde_json::to_value(&typed).ok()
}

fn collect_unknown(raw: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (raw, known) {
        (Value::Object(raw), Value::Object(known)) => {
            for (key, value) in raw {
                if value.is_null() {
                    continue;
                }
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match known.get(key) {
                    Some(k) => collect_unknown(value, k, &here, out),
                    None => out.push(here),
                }
            }
        }
        (Value::Array(raw), Value::Array(known)) => {
            for (i, (r, k)) in raw.iter().zip(known).enumerate() {
                collect_unknown(r, k, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_unknown_fields_by_path() {
        let raw = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "x", "creationTimestamp": null, "labelz": {}},
            "spec": {"containers": [{"name": "a", "image": "b", "imagee": "c"}], "foo": 1},
            "status": {}});
        assert_eq!(
            unknown_fields(ResourceKind::Pod, &raw),
            ["metadata.labelz", "spec.containers[0].imagee", "spec.foo"]
        );
        let clean = json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "a", "image": "b",
            "resources": {}, "ports": [{"containerPort": 80}]}]}});
        assert!(unknown_fields(ResourceKind::Pod, &clean).is_empty());
    }
}
