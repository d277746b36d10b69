//! Node validation (`ValidateNode`): name, taints.

use std::collections::BTreeSet;

use super::field::{
    Errs, FieldError, NameKind, P, duplicate_raw, duplicate_s, invalid_raw, invalid_s,
};
use super::formats::{is_valid_label_value, qualified_name, valid_cidr};
use super::gofmt::{go_strings, go_taint};
use super::objectmeta::validate_object_meta;
use super::pod::validate_taint_effect;
use super::resources::validate_resource_quantity_value;
use k8s_openapi::api::core::v1::{Node, Taint};

// ---------------------------------------------------------------------------------------------
// Node, Namespace, Event
// ---------------------------------------------------------------------------------------------

fn validate_node_taints(taints: &[Taint], p: &P, errs: &mut Errs) {
    let mut unique: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let ip = p.index(i);
        qualified_name(&t.key, &ip.child("key"), errs);
        let value = t.value.as_deref().unwrap_or("");
        let msgs = is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(invalid_s(&ip.child("value"), value, &msgs.join(";")));
        }
        validate_taint_effect(&t.effect, false, &ip.child("effect"), errs);
        if !unique.insert((t.effect.clone(), t.key.clone())) {
            errs.push(duplicate_raw(
                &ip,
                &go_taint(t),
                "taints must be unique by key and effect pair",
            ));
        }
    }
}

/// Create-time validation of a Node (`ValidateNode`). Note that Kubernetes reports taint errors
/// under `metadata.taints[i]` (sic), which is reproduced here.
pub fn validate_node(node: &Node) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&node.metadata, false, NameKind::Subdomain, "metadata");
    if let Some(taints) = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .filter(|t| !t.is_empty())
    {
        validate_node_taints(taints, &P::new("metadata").child("taints"), &mut errs);
    }
    if let Some(status) = &node.status {
        for (field, list) in [
            ("capacity", &status.capacity),
            ("allocatable", &status.allocatable),
        ] {
            for (k, v) in list.iter().flatten() {
                let p = P::new("status").child(field).child(k);
                let _ = validate_resource_quantity_value(k, v, &p, &mut errs);
            }
        }
    }
    if let Some(cidrs) = node.spec.as_ref().and_then(|s| s.pod_cidrs.as_ref()) {
        let p = P::new("spec").child("podCIDRs");
        for (i, c) in cidrs.iter().enumerate() {
            valid_cidr(c, &p.index(i), &mut errs);
        }
        if cidrs.len() > 1 {
            let fam = |c: &String| c.split('/').next().map(|ip| ip.contains(':'));
            let v6 = cidrs.iter().filter(|c| fam(c) == Some(true)).count();
            let v4 = cidrs.iter().filter(|c| fam(c) == Some(false)).count();
            if v4 == 0 || v6 == 0 || cidrs.len() > 2 {
                errs.push(invalid_raw(
                    &p,
                    &go_strings(Some(cidrs)),
                    "may specify no more than one CIDR for each IP family",
                ));
            }
            let mut seen = BTreeSet::new();
            for (i, c) in cidrs.iter().enumerate() {
                if !seen.insert(c.clone()) {
                    errs.push(duplicate_s(&p.index(i), c));
                }
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Case, expect, merge, message_of};
    use super::*;
    use crate::model::defaults::default_node;
    use crate::model::validation::field::FieldErrorReason::{
        Duplicate, Forbidden, Invalid, NotSupported, Required,
    };
    use serde_json::json;

    #[test]
    fn node_table() {
        let base = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}});
        let cases: Vec<Case> = vec![
            ("valid", json!({}), vec![]),
            (
                "valid taints",
                json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]}}),
                vec![],
            ),
            (
                "bad effect",
                json!({"spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}}),
                vec![("metadata.taints[0].effect", NotSupported)],
            ),
            (
                "missing effect",
                json!({"spec": {"taints": [{"key": "k", "effect": ""}]}}),
                vec![("metadata.taints[0].effect", Required)],
            ),
            (
                "bad key",
                json!({"spec": {"taints": [{"key": "bad key", "effect": "NoSchedule"}]}}),
                vec![("metadata.taints[0].key", Invalid)],
            ),
            (
                "duplicate key+effect",
                json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
                vec![("metadata.taints[1]", Duplicate)],
            ),
            (
                "bad name",
                json!({"metadata": {"name": "Node_1"}}),
                vec![("metadata.name", Invalid)],
            ),
            (
                "namespace forbidden",
                json!({"metadata": {"namespace": "default"}}),
                vec![("metadata.namespace", Forbidden)],
            ),
            // allocatable defaults to capacity, so both are reported
            (
                "negative capacity",
                json!({"status": {"capacity": {"cpu": "-1"}}}),
                vec![
                    ("status.capacity.cpu", Invalid),
                    ("status.allocatable.cpu", Invalid),
                ],
            ),
            (
                "bad podCIDR",
                json!({"spec": {"podCIDRs": ["10.0.0.0/33"]}}),
                vec![("spec.podCIDRs[0]", Invalid)],
            ),
        ];
        for (name, patch, want) in cases {
            let mut v = base.clone();
            merge(&mut v, patch);
            let mut n: Node = serde_json::from_value(v).unwrap();
            default_node(&mut n);
            expect(name, &validate_node(&n), &want);
        }
        let n: Node =
            serde_json::from_value(json!({"metadata": {"name": "n"}, "spec": {"taints": [
            {"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"}]}}))
            .unwrap();
        assert_eq!(
            message_of(&validate_node(&n), "metadata.taints[1]"),
            "Duplicate value: core.Taint{Key:\"k\", Value:\"\", Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair"
        );
    }
}
