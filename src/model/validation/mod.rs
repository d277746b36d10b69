//! Kubernetes v1.33-exact validation (field paths and apimachinery `field.Error` messages) for
//! Pod, apps/v1 ReplicaSet, Node, Namespace and core/v1 Event, on the k8s-openapi types.
//! Pure functions over already-defaulted objects; no I/O.
//!
//! Split as kube splits it: the field-error vocabulary (`field`, `gofmt`), apimachinery's
//! string formats, quantities and object metadata, then one file per kind (the pod's spec spread
//! over `volumes`, `containers`, `resources`, `security`, `probes`, `pod` and `pod_update`).

mod config;
mod containers;
mod deployment;
mod event;
mod field;
mod formats;
mod gofmt;
mod lease;
mod namespace;
mod node;
mod objectmeta;
mod pod;
mod pod_update;
mod probes;
mod quantity;
mod replicaset;
mod resources;
mod security;
mod service;
#[cfg(test)]
mod testing;
mod volumes;

pub use config::{
    MAX_SECRET_SIZE, validate_config_map, validate_config_map_update, validate_secret,
    validate_secret_update, validate_service_account,
};
pub use deployment::{validate_deployment, validate_deployment_update};
pub use event::validate_event;
pub use field::{FieldError, FieldErrorReason, NameKind};
pub use lease::{validate_lease, validate_lease_update};
pub use namespace::validate_namespace;
pub use node::validate_node;
pub use objectmeta::validate_object_meta;
pub use pod::validate_pod;
pub use pod_update::{validate_pod_status_update, validate_pod_update};
pub use quantity::{ParsedQuantity, QuantityFormat, parse_quantity};
pub use replicaset::{validate_replicaset, validate_replicaset_update};
pub use service::{
    validate_endpoint_slice, validate_endpoint_slice_update, validate_endpoints, validate_service,
    validate_service_status_update, validate_service_update,
};

#[cfg(test)]
mod tests {
    use super::field::FieldErrorReason::{
        Duplicate, Forbidden, Invalid, NotFound, NotSupported, Required, TooLong,
    };
    use super::field::{FieldError, FieldErrorReason, P, too_many};
    use super::formats::{mask_trailing_dash, name_is_dns_subdomain};
    use super::gofmt::{go_map, go_quote};
    use std::collections::BTreeMap;

    #[test]
    fn format_helpers() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_map(None), "map[string]string(nil)");
        let m: BTreeMap<String, String> = [
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]
        .into();
        assert_eq!(
            go_map(Some(&m)),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        let e = FieldError {
            path: "spec".into(),
            reason: Forbidden,
            message: "Forbidden: x".into(),
        };
        assert_eq!(e.to_string(), "spec: Forbidden: x");
        let reasons = [
            (Required, "FieldValueRequired"),
            (Invalid, "FieldValueInvalid"),
            (Duplicate, "FieldValueDuplicate"),
            (NotSupported, "FieldValueNotSupported"),
            (Forbidden, "FieldValueForbidden"),
            (TooLong, "FieldValueTooLong"),
            (FieldErrorReason::TooMany, "FieldValueTooMany"),
            (NotFound, "FieldValueNotFound"),
        ];
        for (r, s) in reasons {
            assert_eq!(r.as_cause_reason(), s);
        }
        assert_eq!(
            too_many(&P::new("x"), 5, 3).message,
            "Too many: 5: must have at most 3 items"
        );
        assert_eq!(mask_trailing_dash("echo-"), "echa");
        assert!(name_is_dns_subdomain("echo-", true).is_empty());
    }
}
