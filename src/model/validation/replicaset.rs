//! apps/v1 ReplicaSet validation (`pkg/apis/apps/validation`): the spec, its selector and
//! pod template, and the selector's immutability on update.

use std::collections::BTreeMap;

use super::field::{
    Errs, FieldError, NameKind, P, forbidden, invalid_raw, not_supported, required,
};
use super::formats::{FIELD_IMMUTABLE_ERR, nonnegative, validate_labels};
use super::gofmt::{go_label_selector, go_map};
use super::objectmeta::{
    selector_matches, validate_annotations, validate_label_selector, validate_object_meta,
};
use super::pod::{PodOpts, validate_pod_spec, validate_pod_specific_annotations};
use super::pod_update::semantic_eq;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

// ---------------------------------------------------------------------------------------------
// ReplicaSet
// ---------------------------------------------------------------------------------------------

fn validate_pod_template_spec(tpl: &PodTemplateSpec, p: &P, errs: &mut Errs) {
    let default_meta = ObjectMeta::default();
    let meta = tpl.metadata.as_ref().unwrap_or(&default_meta);
    let default_spec = PodSpec::default();
    let spec = tpl.spec.as_ref().unwrap_or(&default_spec);
    validate_labels(meta.labels.as_ref(), &p.child("labels"), errs);
    validate_annotations(meta.annotations.as_ref(), &p.child("annotations"), errs);
    validate_pod_specific_annotations(meta, spec, &p.child("annotations"), errs);
    validate_pod_spec(
        spec,
        &p.child("spec"),
        PodOpts {
            resource_is_pod: false,
        },
        errs,
    );
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(forbidden(
            &p.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

fn validate_replicaset_spec(spec: &ReplicaSetSpec, fld: &P, errs: &mut Errs) {
    nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &fld.child("replicas"),
        errs,
    );
    nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &fld.child("minReadySeconds"),
        errs,
    );
    validate_selector_and_template(&spec.selector, spec.template.as_ref(), fld, errs);
}

/// The selector of a workload's `spec` (required, non-empty, convertible), its pod template
/// (its labels matched by the selector, `restartPolicy: Always`, no `activeDeadlineSeconds`),
/// as ReplicaSets and Deployments share them (`ValidatePodTemplateSpecForReplicaSet`).
pub(super) fn validate_selector_and_template(
    sel: &LabelSelector,
    template: Option<&PodTemplateSpec>,
    fld: &P,
    errs: &mut Errs,
) {
    let sel_path = fld.child("selector");
    // None/None stands for an absent (nil) selector: Required, and a Nothing() selector.
    let nil = sel.match_labels.is_none() && sel.match_expressions.is_none();
    let mut everything = false;
    let mut convertible = true;
    if nil {
        errs.push(required(&sel_path, ""));
    } else {
        let mut sel_errs = Vec::new();
        validate_label_selector(sel, &sel_path, &mut sel_errs);
        convertible = sel_errs.is_empty();
        errs.extend(sel_errs);
        let count = sel.match_labels.as_ref().map_or(0, BTreeMap::len)
            + sel.match_expressions.as_ref().map_or(0, Vec::len);
        if count == 0 {
            everything = true;
            errs.push(invalid_raw(
                &sel_path,
                &go_label_selector(sel),
                "empty selector is invalid for deployment",
            ));
        }
    }
    if !convertible {
        errs.push(invalid_raw(
            &sel_path,
            &go_label_selector(sel),
            "invalid label selector",
        ));
        return;
    }
    let default_tpl = PodTemplateSpec::default();
    let tpl = template.unwrap_or(&default_tpl);
    let tp = fld.child("template");
    let labels = tpl.metadata.as_ref().and_then(|m| m.labels.as_ref());
    if !everything {
        let matches = !nil && selector_matches(sel, labels);
        if !matches {
            errs.push(invalid_raw(
                &tp.child("metadata").child("labels"),
                &go_map(labels),
                "`selector` does not match template `labels`",
            ));
        }
    }
    validate_pod_template_spec(tpl, &tp, errs);
    let tspec = tpl.spec.as_ref();
    let rp = tspec
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("");
    if rp != "Always" {
        errs.push(not_supported(
            &tp.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if tspec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errs.push(forbidden(
            &tp.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
}

/// Create-time validation of a defaulted apps/v1 ReplicaSet (`ValidateReplicaSet`).
pub fn validate_replicaset(rs: &ReplicaSet) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&rs.metadata, true, NameKind::Subdomain, "metadata");
    let default_spec = ReplicaSetSpec::default();
    let spec = rs.spec.as_ref().unwrap_or(&default_spec);
    validate_replicaset_spec(spec, &P::new("spec"), &mut errs);
    errs
}

/// Update validation: [`validate_replicaset`] plus the apps/v1 rule that `spec.selector` is
/// immutable.
pub fn validate_replicaset_update(new: &ReplicaSet, old: &ReplicaSet) -> Vec<FieldError> {
    let mut errs = validate_replicaset(new);
    let default_spec = ReplicaSetSpec::default();
    let ns = new.spec.as_ref().unwrap_or(&default_spec);
    let os = old.spec.as_ref().unwrap_or(&default_spec);
    validate_selector_unchanged(&ns.selector, &os.selector, &mut errs);
    errs
}

/// The apps/v1 rule that a workload's `spec.selector` never changes after creation.
pub(super) fn validate_selector_unchanged(
    new: &LabelSelector,
    old: &LabelSelector,
    errs: &mut Errs,
) {
    if !semantic_eq(new, old) {
        errs.push(invalid_raw(
            &P::new("spec").child("selector"),
            &go_label_selector(new),
            FIELD_IMMUTABLE_ERR,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::testing::{Case, expect, message_of, rs};
    use crate::model::validation::field::FieldErrorReason::{
        Forbidden, Invalid, NotSupported, Required,
    };
    use serde_json::json;

    #[test]
    fn replicaset_table() {
        let cases: Vec<Case> = vec![
            ("valid echo-rs", json!({}), vec![]),
            (
                "negative replicas",
                json!({"spec": {"replicas": -1}}),
                vec![("spec.replicas", Invalid)],
            ),
            (
                "negative minReadySeconds",
                json!({"spec": {"minReadySeconds": -1}}),
                vec![("spec.minReadySeconds", Invalid)],
            ),
            (
                "selector mismatch",
                json!({"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}}),
                vec![("spec.template.metadata.labels", Invalid)],
            ),
            (
                "empty selector",
                json!({"spec": {"selector": {"matchLabels": {"app": null}}}}),
                vec![("spec.selector", Invalid)],
            ),
            (
                "missing selector",
                json!({"spec": {"selector": null}}),
                vec![
                    ("spec.selector", Required),
                    ("spec.template.metadata.labels", Invalid),
                ],
            ),
            (
                "template restartPolicy Never",
                json!({"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}),
                vec![("spec.template.spec.restartPolicy", NotSupported)],
            ),
            (
                "template activeDeadlineSeconds",
                json!({"spec": {"template": {"spec": {"activeDeadlineSeconds": 10}}}}),
                vec![("spec.template.spec.activeDeadlineSeconds", Forbidden)],
            ),
            (
                "template image missing",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "app"}]}}}}),
                vec![("spec.template.spec.containers[0].image", Required)],
            ),
            (
                "template label invalid",
                json!({"spec": {"selector": {"matchLabels": {"app": "echo"}}, "template": {"metadata": {"labels": {"app": "echo", "x": "-bad"}}}}}),
                vec![("spec.template.labels", Invalid)],
            ),
            (
                "matchExpressions In",
                json!({"spec": {"selector": {"matchLabels": null, "matchExpressions": [{"key": "app", "operator": "In", "values": ["echo", "x"]}]}}}),
                vec![],
            ),
            (
                "matchExpressions NotIn mismatch",
                json!({"spec": {"selector": {"matchLabels": null, "matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["echo"]}]}}}),
                vec![("spec.template.metadata.labels", Invalid)],
            ),
            (
                "matchExpressions Exists",
                json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}}),
                vec![],
            ),
            (
                "matchExpressions DoesNotExist",
                json!({"spec": {"selector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}}}),
                vec![],
            ),
            (
                "matchExpressions bad operator",
                json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "Has"}]}}}),
                vec![
                    ("spec.selector.matchExpressions[0].operator", Invalid),
                    ("spec.selector", Invalid),
                ],
            ),
            (
                "matchExpressions In without values",
                json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}}}),
                vec![
                    ("spec.selector.matchExpressions[0].values", Required),
                    ("spec.selector", Invalid),
                ],
            ),
            (
                "name invalid",
                json!({"metadata": {"name": "Echo_RS"}}),
                vec![("metadata.name", Invalid)],
            ),
        ];
        for (name, patch, want) in cases {
            expect(name, &validate_replicaset(&rs(patch)), &want);
        }
        let errs = validate_replicaset(&rs(
            json!({"spec": {"template": {"metadata": {"labels": {"app": "x"}}}}}),
        ));
        assert_eq!(
            message_of(&errs, "spec.template.metadata.labels"),
            "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
        );
        let errs = validate_replicaset(&rs(
            json!({"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}),
        ));
        assert_eq!(
            message_of(&errs, "spec.template.spec.restartPolicy"),
            "Unsupported value: \"Never\": supported values: \"Always\""
        );
        let errs = validate_replicaset(&rs(
            json!({"spec": {"selector": {"matchLabels": {"app": null}}}}),
        ));
        assert_eq!(
            message_of(&errs, "spec.selector"),
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
        );
        let errs = validate_replicaset(&rs(json!({"spec": {"replicas": -1}})));
        assert_eq!(
            message_of(&errs, "spec.replicas"),
            "Invalid value: -1: must be greater than or equal to 0"
        );
    }

    #[test]
    fn replicaset_update_selector_immutable() {
        let old = rs(json!({}));
        expect(
            "same",
            &validate_replicaset_update(&rs(json!({"spec": {"replicas": 5}})), &old),
            &[],
        );
        let new = rs(
            json!({"spec": {"selector": {"matchLabels": {"app": "echo", "v": "2"}},
            "template": {"metadata": {"labels": {"app": "echo", "v": "2"}}}}}),
        );
        let errs = validate_replicaset_update(&new, &old);
        expect("selector changed", &errs, &[("spec.selector", Invalid)]);
        assert!(message_of(&errs, "spec.selector").ends_with(": field is immutable"));
    }
}
