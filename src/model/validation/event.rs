//! core/v1 Event validation (`ValidateEventCreate` for `v1` requests).

use super::field::{FieldError, P, invalid_s, required};
use super::formats::{dns_subdomain, name_is_path_segment, qualified_name};
use super::objectmeta::validate_object_meta_generic;
use k8s_openapi::api::core::v1::Event;

/// core/v1 Event validation as kube-apiserver applies it to `v1` requests: the legacy event
/// rules (namespace agreement; reporting fields for events with `eventTime`) and, when those
/// pass, the generic registry's metadata checks (path-segment names, namespace required).
pub fn validate_event(ev: &Event) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = ev.metadata.namespace.as_deref().unwrap_or("");
    let inv_ns = ev.involved_object.namespace.as_deref().unwrap_or("");
    let inv_path = P::new("involvedObject").child("namespace");
    if ev.event_time.is_none() {
        if inv_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(invalid_s(
                    &inv_path,
                    inv_ns,
                    "does not match event.namespace",
                ));
            }
        } else if ns != inv_ns {
            errs.push(invalid_s(
                &inv_path,
                inv_ns,
                "does not match event.namespace",
            ));
        }
    } else {
        if inv_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(invalid_s(
                &inv_path,
                inv_ns,
                "does not match event.namespace",
            ));
        }
        let rc = ev.reporting_component.as_deref().unwrap_or("");
        let rc_path = P::new("reportingController");
        if rc.is_empty() {
            errs.push(required(&rc_path, ""));
        }
        qualified_name(rc, &rc_path, &mut errs);
        let ri = ev.reporting_instance.as_deref().unwrap_or("");
        if ri.is_empty() {
            errs.push(required(&P::new("reportingInstance"), ""));
        }
        if ri.len() > 128 {
            errs.push(invalid_s(
                &P::new("reportingInstance"),
                "",
                "can have at most 128 characters",
            ));
        }
        let action = ev.action.as_deref().unwrap_or("");
        if action.is_empty() {
            errs.push(required(&P::new("action"), ""));
        }
        if action.len() > 128 {
            errs.push(invalid_s(
                &P::new("action"),
                "",
                "can have at most 128 characters",
            ));
        }
        let reason = ev.reason.as_deref().unwrap_or("");
        if reason.is_empty() {
            errs.push(required(&P::new("reason"), ""));
        }
        if reason.len() > 128 {
            errs.push(invalid_s(
                &P::new("reason"),
                "",
                "can have at most 128 characters",
            ));
        }
        if ev.message.as_deref().unwrap_or("").len() > 1024 {
            errs.push(invalid_s(
                &P::new("message"),
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    dns_subdomain(ns, &P::new("namespace"), &mut errs);
    if errs.is_empty() {
        validate_object_meta_generic(
            &ev.metadata,
            true,
            name_is_path_segment,
            &P::new("metadata"),
            &mut errs,
        );
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::testing::{Case, expect, merge};
    use crate::model::validation::field::FieldErrorReason::{Invalid, Required};
    use serde_json::json;

    #[test]
    fn event_table() {
        let base = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "echo.17f3a2b1c0d4e5f6", "namespace": "default"},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "echo", "namespace": "default"},
            "reason": "Scheduled", "message": "Successfully assigned default/echo to node-1",
            "type": "Normal", "count": 1, "source": {"component": "default-scheduler"}
        });
        let cases: Vec<Case> = vec![
            ("valid", json!({}), vec![]),
            (
                "namespace mismatch",
                json!({"involvedObject": {"namespace": "other"}}),
                vec![("involvedObject.namespace", Invalid)],
            ),
            (
                "cluster-scoped object in default ns",
                json!({"involvedObject": {"kind": "Node", "namespace": null}}),
                vec![],
            ),
            (
                "bad name",
                json!({"metadata": {"name": "a/b"}}),
                vec![("metadata.name", Invalid)],
            ),
            (
                "missing name",
                json!({"metadata": {"name": null}}),
                vec![("metadata.name", Required)],
            ),
            (
                "new-style event needs reporting fields",
                json!({"eventTime": "2024-01-01T00:00:00.000000Z", "reason": null}),
                vec![
                    ("reportingController", Required),
                    ("reportingController", Invalid),
                    ("reportingController", Invalid),
                    ("reportingInstance", Required),
                    ("action", Required),
                    ("reason", Required),
                ],
            ),
        ];
        for (name, patch, want) in cases {
            let mut v = base.clone();
            merge(&mut v, patch);
            let mut ev: Event = serde_json::from_value(v).unwrap();
            crate::model::defaults::default_event(&mut ev);
            expect(name, &validate_event(&ev), &want);
        }
    }
}
