//! Admission of an object into storage: decode it into its `k8s-openapi` type (dropping unknown
//! fields), apply Kubernetes defaults, validate, and encode it back. Pure.

use super::validation::{self, FieldError};
use super::{ResourceKind, defaults};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

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
    fn validate_status_update(&self, old: &Self) -> Vec<FieldError> {
        let _ = old;
        self.validate()
    }
}

impl Admissible for Pod {
    fn apply_defaults(&mut self) {
        defaults::default_pod(self);
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
        ResourceKind::Node => admit_typed::<Node>(kind, object, admission),
        ResourceKind::Namespace => admit_typed::<Namespace>(kind, object, admission),
        ResourceKind::Event => admit_typed::<Event>(kind, object, admission),
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
        Admission::Create => typed.validate(),
        Admission::Update { old } => typed.validate_update(&decode(kind, old.clone())?),
        Admission::StatusUpdate { old } => {
            typed.validate_status_update(&decode(kind, old.clone())?)
        }
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

/// Decode a stored object into its typed form (for workers and printers).
pub fn typed<T: DeserializeOwned>(object: &Value) -> Option<T> {
    serde_json::from_value(object.clone()).ok()
}
