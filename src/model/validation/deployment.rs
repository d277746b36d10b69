//! apps/v1 Deployment validation (`pkg/apis/apps/validation`): the spec (replicas, selector
//! and pod template as a ReplicaSet's, the strategy and its rolling-update bounds, the history
//! limit and the progress deadline), and the selector's immutability on update.

use super::field::{Errs, FieldError, NameKind, P, forbidden, invalid_raw, not_supported};
use super::formats::nonnegative;
use super::objectmeta::validate_object_meta;
use super::replicaset::{validate_selector_and_template, validate_selector_unchanged};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// `IntOrString` as Kubernetes prints it in an error: its `String()`, quoted (`"25%"`, `"3"`).
fn shown(value: &IntOrString) -> String {
    match value {
        IntOrString::Int(n) => format!("\"{n}\""),
        IntOrString::String(s) => format!("{s:?}"),
    }
}

/// The percentage of a `"N%"` value, `None` when it is not one.
fn percent(value: &str) -> Option<i64> {
    value.strip_suffix('%')?.parse().ok()
}

/// `ValidatePositiveIntOrPercent`: a non-negative integer, or a non-negative percentage.
fn validate_int_or_percent(value: &IntOrString, fld: &P, errs: &mut Errs) {
    match value {
        IntOrString::Int(n) => nonnegative(i64::from(*n), fld, errs),
        IntOrString::String(s) => match percent(s) {
            Some(p) if p >= 0 => {}
            Some(_) => errs.push(invalid_raw(
                fld,
                &format!("{s:?}"),
                "must be greater than or equal to 0",
            )),
            None => errs.push(invalid_raw(
                fld,
                &format!("{s:?}"),
                "a valid percent string must be a numeric string followed by an ending '%' \
                 (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            )),
        },
    }
}

/// Whether an int-or-percent is zero.
fn is_zero(value: &IntOrString) -> bool {
    match value {
        IntOrString::Int(n) => *n == 0,
        IntOrString::String(s) => percent(s) == Some(0),
    }
}

fn validate_strategy(strategy: &DeploymentStrategy, fld: &P, errs: &mut Errs) {
    let kind = strategy.type_.as_deref().unwrap_or("");
    match kind {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errs.push(forbidden(
                    &fld.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            let Some(rolling) = &strategy.rolling_update else {
                return;
            };
            let rp = fld.child("rollingUpdate");
            let zero = IntOrString::Int(0);
            let unavailable = rolling.max_unavailable.as_ref().unwrap_or(&zero);
            let surge = rolling.max_surge.as_ref().unwrap_or(&zero);
            validate_int_or_percent(unavailable, &rp.child("maxUnavailable"), errs);
            validate_int_or_percent(surge, &rp.child("maxSurge"), errs);
            if let IntOrString::String(s) = unavailable
                && percent(s).is_some_and(|p| p > 100)
            {
                errs.push(invalid_raw(
                    &rp.child("maxUnavailable"),
                    &format!("{s:?}"),
                    "must not be greater than 100%",
                ));
            }
            if is_zero(unavailable) && is_zero(surge) {
                errs.push(invalid_raw(
                    &rp.child("maxUnavailable"),
                    &shown(unavailable),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        other => errs.push(not_supported(
            &fld.child("type"),
            other,
            &["Recreate", "RollingUpdate"],
        )),
    }
}

fn validate_deployment_spec(spec: &DeploymentSpec, fld: &P, errs: &mut Errs) {
    nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &fld.child("replicas"),
        errs,
    );
    validate_selector_and_template(&spec.selector, Some(&spec.template), fld, errs);
    validate_strategy(
        spec.strategy
            .as_ref()
            .unwrap_or(&DeploymentStrategy::default()),
        &fld.child("strategy"),
        errs,
    );
    let min_ready = i64::from(spec.min_ready_seconds.unwrap_or(0));
    nonnegative(min_ready, &fld.child("minReadySeconds"), errs);
    if let Some(limit) = spec.revision_history_limit {
        nonnegative(i64::from(limit), &fld.child("revisionHistoryLimit"), errs);
    }
    if let Some(deadline) = spec.progress_deadline_seconds {
        let dp = fld.child("progressDeadlineSeconds");
        nonnegative(i64::from(deadline), &dp, errs);
        if i64::from(deadline) <= min_ready {
            errs.push(invalid_raw(
                &dp,
                &deadline.to_string(),
                "must be greater than minReadySeconds",
            ));
        }
    }
}

/// Create-time validation of a defaulted apps/v1 Deployment (`ValidateDeployment`).
pub fn validate_deployment(deployment: &Deployment) -> Vec<FieldError> {
    let mut errs =
        validate_object_meta(&deployment.metadata, true, NameKind::Subdomain, "metadata");
    let default_spec = DeploymentSpec::default();
    let spec = deployment.spec.as_ref().unwrap_or(&default_spec);
    validate_deployment_spec(spec, &P::new("spec"), &mut errs);
    errs
}

/// Update validation: [`validate_deployment`] plus the apps/v1 rule that `spec.selector` is
/// immutable.
pub fn validate_deployment_update(new: &Deployment, old: &Deployment) -> Vec<FieldError> {
    let mut errs = validate_deployment(new);
    let default_spec = DeploymentSpec::default();
    let ns = new.spec.as_ref().unwrap_or(&default_spec);
    let os = old.spec.as_ref().unwrap_or(&default_spec);
    validate_selector_unchanged(&ns.selector, &os.selector, &mut errs);
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::defaults::default_deployment;
    use crate::model::validation::field::FieldErrorReason as Reason;
    use crate::model::validation::field::FieldErrorReason::{
        Forbidden, Invalid, NotSupported, Required,
    };
    use serde_json::{Value, json};

    /// The course's echo Deployment, with `patch` merged into it, defaulted.
    fn deployment(patch: Value) -> Deployment {
        let mut base = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "echo-deploy", "namespace": "default"},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "echo"}},
                     "template": {"metadata": {"labels": {"app": "echo"}},
                                  "spec": {"containers": [{"name": "echo", "image": "ghcr.io/subicura/echo:v1"}]}}}});
        json_patch_merge(&mut base, &patch);
        let mut d: Deployment = serde_json::from_value(base).expect("decodes");
        default_deployment(&mut d);
        d
    }

    fn json_patch_merge(target: &mut Value, patch: &Value) {
        match (target, patch) {
            (Value::Object(t), Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        json_patch_merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
            (t, p) => *t = p.clone(),
        }
    }

    fn reasons(errors: &[FieldError]) -> Vec<(String, Reason)> {
        errors.iter().map(|e| (e.path.clone(), e.reason)).collect()
    }

    /// A name, a merge patch of the echo Deployment, and the errors expected (path, reason).
    type Case = (&'static str, Value, Vec<(&'static str, Reason)>);

    #[test]
    fn deployment_table() {
        let cases: Vec<Case> = vec![
            ("valid echo-deploy", json!({}), vec![]),
            (
                "negative replicas",
                json!({"spec": {"replicas": -1}}),
                vec![("spec.replicas", Invalid)],
            ),
            (
                "selector mismatch",
                json!({"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}}),
                vec![("spec.template.metadata.labels", Invalid)],
            ),
            (
                "unknown strategy",
                json!({"spec": {"strategy": {"type": "BlueGreen", "rollingUpdate": null}}}),
                vec![("spec.strategy.type", NotSupported)],
            ),
            (
                "Recreate with rollingUpdate",
                json!({"spec": {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}}),
                vec![("spec.strategy.rollingUpdate", Forbidden)],
            ),
            (
                "both bounds zero",
                json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}}}),
                vec![("spec.strategy.rollingUpdate.maxUnavailable", Invalid)],
            ),
            (
                "maxUnavailable over 100%",
                json!({"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": "120%"}}}}),
                vec![("spec.strategy.rollingUpdate.maxUnavailable", Invalid)],
            ),
            (
                "maxSurge not a percent",
                json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": "lots"}}}}),
                vec![("spec.strategy.rollingUpdate.maxSurge", Invalid)],
            ),
            (
                "deadline not after minReadySeconds",
                json!({"spec": {"minReadySeconds": 10, "progressDeadlineSeconds": 10}}),
                vec![("spec.progressDeadlineSeconds", Invalid)],
            ),
            (
                "negative history limit",
                json!({"spec": {"revisionHistoryLimit": -1}}),
                vec![("spec.revisionHistoryLimit", Invalid)],
            ),
            (
                "missing selector",
                json!({"spec": {"selector": {"matchLabels": null}}}),
                vec![
                    ("spec.selector", Required),
                    ("spec.template.metadata.labels", Invalid),
                ],
            ),
        ];
        for (name, patch, expected) in cases {
            let got = reasons(&validate_deployment(&deployment(patch)));
            let expected: Vec<(String, _)> = expected
                .into_iter()
                .map(|(f, r)| (f.to_string(), r))
                .collect();
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn the_selector_is_immutable() {
        let old = deployment(json!({}));
        let new = deployment(
            json!({"spec": {"selector": {"matchLabels": {"app": "echo", "tier": "web"}},
                                             "template": {"metadata": {"labels": {"app": "echo", "tier": "web"}}}}}),
        );
        let errors = validate_deployment_update(&new, &old);
        assert_eq!(reasons(&errors), [("spec.selector".to_string(), Invalid)]);
        assert!(
            errors[0].to_string().contains("field is immutable"),
            "{}",
            errors[0]
        );
    }
}
