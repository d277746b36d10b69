//! coordination/v1 Lease validation (`ValidateLease`, `ValidateLeaseUpdate`): a DNS subdomain
//! name, a positive `leaseDurationSeconds`, non-negative `leaseTransitions`, a known (or
//! domain-prefixed) `strategy`, and `preferredHolder` only beside a strategy. `renewTime` and
//! `acquireTime` are MicroTimes the decoder has already checked.

use super::field::{FieldError, NameKind, P, forbidden, invalid_i, invalid_s, not_supported};
use super::formats::is_qualified_name;
use super::objectmeta::validate_object_meta;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};

/// The strategies Kubernetes defines (a strategy without a `/` must be one of them).
pub const LEASE_STRATEGIES: [&str; 1] = ["OldestEmulationVersion"];

/// `ValidateLease`.
pub fn validate_lease(lease: &Lease) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&lease.metadata, true, NameKind::Subdomain, "metadata");
    if let Some(spec) = &lease.spec {
        errs.extend(validate_lease_spec(spec, &P::new("spec")));
    }
    errs
}

/// `ValidateLeaseUpdate`: the spec as on create (the metadata's update rules are the writer's).
pub fn validate_lease_update(new: &Lease, _old: &Lease) -> Vec<FieldError> {
    validate_lease(new)
}

fn validate_lease_spec(spec: &LeaseSpec, p: &P) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(seconds) = spec.lease_duration_seconds
        && seconds <= 0
    {
        errs.push(invalid_i(
            &p.child("leaseDurationSeconds"),
            i64::from(seconds),
            "must be greater than 0",
        ));
    }
    if let Some(transitions) = spec.lease_transitions
        && transitions < 0
    {
        errs.push(invalid_i(
            &p.child("leaseTransitions"),
            i64::from(transitions),
            "must be greater than or equal to 0",
        ));
    }
    if let Some(strategy) = &spec.strategy {
        // Kubernetes names the field twice here: `spec.strategy.strategy`.
        let path = p.child("strategy").child("strategy");
        if strategy.contains('/') {
            for message in is_qualified_name(strategy) {
                errs.push(invalid_s(&path, strategy, &message));
            }
        } else if !LEASE_STRATEGIES.contains(&strategy.as_str()) {
            errs.push(not_supported(&path, strategy, &LEASE_STRATEGIES));
        }
    }
    let preferred = spec.preferred_holder.as_deref().unwrap_or("");
    if !preferred.is_empty() && spec.strategy.as_deref().unwrap_or("").is_empty() {
        errs.push(forbidden(
            &p.child("preferredHolder"),
            "may only be specified if `strategy` is defined",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::validation::FieldErrorReason::{Forbidden, Invalid, NotSupported};
    use serde_json::{Value, json};

    fn lease(spec: Value) -> Lease {
        serde_json::from_value(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
            "spec": spec,
        }))
        .expect("a Lease")
    }

    #[test]
    fn a_node_lease_is_valid() {
        let valid = lease(
            json!({"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                                 "renewTime": "2026-01-01T00:00:00.000000Z"}),
        );
        assert_eq!(validate_lease(&valid), []);
        assert_eq!(validate_lease(&lease(json!({}))), []);
    }

    #[test]
    fn bad_specs_are_refused_as_kubernetes_words_them() {
        let cases = [
            (
                "zero duration",
                json!({"leaseDurationSeconds": 0}),
                vec![(
                    "spec.leaseDurationSeconds",
                    Invalid,
                    "Invalid value: 0: must be greater than 0",
                )],
            ),
            (
                "negative transitions",
                json!({"leaseTransitions": -1}),
                vec![(
                    "spec.leaseTransitions",
                    Invalid,
                    "Invalid value: -1: must be greater than or equal to 0",
                )],
            ),
            (
                "unknown strategy",
                json!({"strategy": "Newest"}),
                vec![(
                    "spec.strategy.strategy",
                    NotSupported,
                    "Unsupported value: \"Newest\": supported values: \"OldestEmulationVersion\"",
                )],
            ),
            (
                "a holder preferred without a strategy",
                json!({"preferredHolder": "node-2"}),
                vec![(
                    "spec.preferredHolder",
                    Forbidden,
                    "Forbidden: may only be specified if `strategy` is defined",
                )],
            ),
        ];
        for (name, spec, want) in cases {
            let got: Vec<(String, _, String)> = validate_lease(&lease(spec))
                .into_iter()
                .map(|e| (e.path, e.reason, e.message))
                .collect();
            let want: Vec<(String, _, String)> = want
                .into_iter()
                .map(|(p, r, m)| (p.to_string(), r, m.to_string()))
                .collect();
            assert_eq!(got, want, "{name}");
        }
        let prefixed = lease(json!({"strategy": "example.com/mine", "preferredHolder": "n"}));
        assert_eq!(validate_lease(&prefixed), []);
    }
}
