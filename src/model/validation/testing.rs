//! Fixtures shared by the validation tables: kubectl-shaped objects, defaulted as the server
//! would, and assertions on (path, reason) pairs.

use super::field::{FieldError, FieldErrorReason};
use crate::model::defaults::{default_pod, default_replicaset};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

/// (case name, JSON patch or object, expected (path, reason) list)
pub(super) type Case = (&'static str, Value, Vec<(&'static str, FieldErrorReason)>);
pub(super) type OwnedCase = (&'static str, Value, Vec<(String, FieldErrorReason)>);

pub(super) fn merge(base: &mut Value, patch: Value) {
    match patch {
        Value::Object(map) => {
            if !base.is_object() {
                *base = json!({});
            }
            for (k, v) in map {
                if v.is_null() {
                    if let Some(o) = base.as_object_mut() {
                        o.remove(&k);
                    }
                } else if let Some(o) = base.as_object_mut() {
                    merge(o.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        other => *base = other,
    }
}

pub(super) fn echo_pod_json() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "echo", "namespace": "default", "labels": {"app": "echo"}},
        "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1",
                                 "ports": [{"containerPort": 3000}]}]}
    })
}

pub(super) fn pod(patch: Value) -> Pod {
    let mut v = echo_pod_json();
    merge(&mut v, patch);
    let mut p: Pod = serde_json::from_value(v).unwrap();
    default_pod(&mut p);
    p
}

pub(super) fn raw_pod(v: Value) -> Pod {
    serde_json::from_value(v).unwrap()
}

fn echo_rs_json() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "echo-rs", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "echo"}},
            "template": {
                "metadata": {"labels": {"app": "echo"}},
                "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1"}]}
            }
        }
    })
}

pub(super) fn rs(patch: Value) -> ReplicaSet {
    let mut v = echo_rs_json();
    merge(&mut v, patch);
    let mut r: ReplicaSet = serde_json::from_value(v).unwrap();
    default_replicaset(&mut r);
    r
}

pub(super) fn keys(errs: &[FieldError]) -> Vec<(String, FieldErrorReason)> {
    let mut k: Vec<(String, FieldErrorReason)> =
        errs.iter().map(|e| (e.path.clone(), e.reason)).collect();
    k.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(format!("{:?}", a.1).cmp(&format!("{:?}", b.1)))
    });
    k
}

pub(super) fn expect(name: &str, errs: &[FieldError], want: &[(&str, FieldErrorReason)]) {
    let mut w: Vec<(String, FieldErrorReason)> =
        want.iter().map(|(p, r)| (p.to_string(), *r)).collect();
    w.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(format!("{:?}", a.1).cmp(&format!("{:?}", b.1)))
    });
    assert_eq!(keys(errs), w, "case {name}: got {errs:#?}");
}

pub(super) fn message_of<'a>(errs: &'a [FieldError], path: &str) -> &'a str {
    errs.iter()
        .find(|e| e.path == path)
        .map(|e| e.message.as_str())
        .unwrap_or_else(|| panic!("no error at {path}: {errs:#?}"))
}
