//! Namespace validation (`ValidateNamespace`): name and finalizers.

use super::field::{FieldError, NameKind, P};
use super::formats::qualified_name;
use super::objectmeta::{validate_kube_finalizer_name, validate_object_meta};
use k8s_openapi::api::core::v1::Namespace;

/// Create-time validation of a Namespace: DNS-1123 label name and finalizer names.
pub fn validate_namespace(ns: &Namespace) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&ns.metadata, false, NameKind::Label, "metadata");
    let p = P::new("spec").child("finalizers");
    for f in ns.spec.iter().flat_map(|s| s.finalizers.iter().flatten()) {
        qualified_name(f, &p, &mut errs);
        validate_kube_finalizer_name(f, &p, &mut errs);
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Case, expect, message_of};
    use super::*;
    use crate::model::defaults::default_namespace;
    use crate::model::validation::field::FieldErrorReason::Invalid;
    use serde_json::json;

    #[test]
    fn namespace_table() {
        let cases: Vec<Case> = vec![
            ("valid", json!({"metadata": {"name": "team-a"}}), vec![]),
            (
                "uppercase",
                json!({"metadata": {"name": "Team"}}),
                vec![("metadata.name", Invalid)],
            ),
            (
                "dots",
                json!({"metadata": {"name": "team.a"}}),
                vec![("metadata.name", Invalid)],
            ),
            // the defaulted kubernetes.io/metadata.name label is then too long as well
            (
                "too long",
                json!({"metadata": {"name": "a".repeat(64)}}),
                vec![("metadata.name", Invalid), ("metadata.labels", Invalid)],
            ),
            (
                "bad finalizer",
                json!({"metadata": {"name": "ns"}, "spec": {"finalizers": ["foo"]}}),
                vec![("spec.finalizers", Invalid)],
            ),
            (
                "qualified finalizer",
                json!({"metadata": {"name": "ns"}, "spec": {"finalizers": ["example.com/x"]}}),
                vec![],
            ),
        ];
        for (name, v, want) in cases {
            let mut ns: Namespace = serde_json::from_value(v).unwrap();
            default_namespace(&mut ns);
            expect(name, &validate_namespace(&ns), &want);
        }
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": "team.a"}})).unwrap();
        assert_eq!(
            message_of(&validate_namespace(&ns), "metadata.name"),
            "Invalid value: \"team.a\": must not contain dots"
        );
    }
}
