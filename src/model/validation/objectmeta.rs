//! `ObjectMeta` validation (apimachinery's `api/validation/objectmeta.go`: names, labels,
//! annotations, owner references, finalizers) and label selectors (`metav1/validation`).

use std::collections::BTreeMap;

use super::field::{
    Errs, FieldError, NameKind, P, forbidden, invalid_raw, invalid_s, required, too_long,
};
use super::formats::{
    TOTAL_ANNOTATION_SIZE_LIMIT, is_qualified_name, is_valid_label_value, name_is_dns_label,
    name_is_dns_subdomain, name_is_dns1035_label, nonnegative, qualified_name, validate_labels,
};
use super::gofmt::{go_owner_ref, go_strings};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

// ---------------------------------------------------------------------------------------------
// Object metadata
// ---------------------------------------------------------------------------------------------

type NameFn = fn(&str, bool) -> Vec<String>;

pub(super) fn validate_annotations(ann: Option<&BTreeMap<String, String>>, p: &P, errs: &mut Errs) {
    let mut total = 0usize;
    for (k, v) in ann.into_iter().flatten() {
        for m in is_qualified_name(&k.to_lowercase()) {
            errs.push(invalid_s(p, k, &m));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(too_long(p, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
}

fn parse_group_version(api_version: &str) -> Option<(String, String)> {
    if api_version.is_empty() || api_version == "/" {
        return Some((String::new(), String::new()));
    }
    match api_version.matches('/').count() {
        0 => Some((String::new(), api_version.to_string())),
        1 => api_version
            .split_once('/')
            .map(|(g, v)| (g.to_string(), v.to_string())),
        _ => None,
    }
}

fn validate_owner_references(refs: Option<&Vec<OwnerReference>>, p: &P, errs: &mut Errs) {
    let Some(refs) = refs else { return };
    let mut first_controller: Option<String> = None;
    for r in refs {
        let (group, version) = parse_group_version(&r.api_version).unwrap_or_default();
        if version.is_empty() {
            errs.push(invalid_s(
                &p.child("apiVersion"),
                &r.api_version,
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(invalid_s(
                &p.child("kind"),
                &r.kind,
                "kind must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(invalid_s(
                &p.child("name"),
                &r.name,
                "name must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(invalid_s(&p.child("uid"), &r.uid, "uid must not be empty"));
        }
        if group.is_empty() && version == "v1" && r.kind == "Event" {
            errs.push(invalid_raw(
                p,
                &go_owner_ref(r),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let cur = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => {
                    let rendered: Vec<String> = refs.iter().map(go_owner_ref).collect();
                    errs.push(invalid_raw(
                        p,
                        &format!("[]v1.OwnerReference{{{}}}", rendered.join(", ")),
                        &format!(
                            "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {cur}"
                        ),
                    ));
                }
                None => first_controller = Some(cur),
            }
        }
    }
}

fn validate_finalizers_generic(finalizers: Option<&Vec<String>>, p: &P, errs: &mut Errs) {
    let Some(list) = finalizers else { return };
    for f in list {
        qualified_name(f, p, errs);
    }
    if list.iter().any(|f| f == "orphan") && list.iter().any(|f| f == "foregroundDeletion") {
        errs.push(invalid_raw(
            p,
            &go_strings(Some(list)),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

pub(super) fn validate_kube_finalizer_name(v: &str, p: &P, errs: &mut Errs) {
    if !v.contains('/') && !matches!(v, "kubernetes" | "orphan" | "foregroundDeletion") {
        errs.push(invalid_s(
            p,
            v,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
}

/// apimachinery `ValidateObjectMetaAccessor`.
pub(super) fn validate_object_meta_generic(
    meta: &ObjectMeta,
    namespaced: bool,
    name_fn: NameFn,
    p: &P,
    errs: &mut Errs,
) {
    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        for m in name_fn(generate_name, true) {
            errs.push(invalid_s(&p.child("generateName"), generate_name, &m));
        }
    }
    let name = meta.name.as_deref().unwrap_or("");
    if name.is_empty() {
        errs.push(required(
            &p.child("name"),
            "name or generateName is required",
        ));
    } else {
        for m in name_fn(name, false) {
            errs.push(invalid_s(&p.child("name"), name, &m));
        }
    }
    let ns = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if ns.is_empty() {
            errs.push(required(&p.child("namespace"), ""));
        } else {
            for m in name_is_dns_label(ns, false) {
                errs.push(invalid_s(&p.child("namespace"), ns, &m));
            }
        }
    } else if !ns.is_empty() {
        errs.push(forbidden(&p.child("namespace"), "not allowed on this type"));
    }
    nonnegative(meta.generation.unwrap_or(0), &p.child("generation"), errs);
    validate_labels(meta.labels.as_ref(), &p.child("labels"), errs);
    validate_annotations(meta.annotations.as_ref(), &p.child("annotations"), errs);
    validate_owner_references(
        meta.owner_references.as_ref(),
        &p.child("ownerReferences"),
        errs,
    );
    validate_finalizers_generic(meta.finalizers.as_ref(), &p.child("finalizers"), errs);
}

/// Shared `metadata` validation (core `ValidateObjectMeta`): name/generateName, namespace
/// presence, labels, annotations (keys and total size), ownerReferences and finalizers.
pub fn validate_object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    name_fn: NameKind,
    path_prefix: &str,
) -> Vec<FieldError> {
    let p = P::new(path_prefix);
    let f: NameFn = match name_fn {
        NameKind::Subdomain => name_is_dns_subdomain,
        NameKind::Label => name_is_dns_label,
        NameKind::Dns1035Label => name_is_dns1035_label,
    };
    let mut errs = Vec::new();
    validate_object_meta_generic(meta, namespaced, f, &p, &mut errs);
    for (i, fin) in meta.finalizers.iter().flatten().enumerate() {
        validate_kube_finalizer_name(fin, &p.child("finalizers").index(i), &mut errs);
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

pub(super) fn validate_label_selector(sel: &LabelSelector, p: &P, errs: &mut Errs) {
    validate_labels(sel.match_labels.as_ref(), &p.child("matchLabels"), errs);
    for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
        let ep = p.child("matchExpressions").index(i);
        let n_values = e.values.as_ref().map_or(0, Vec::len);
        match e.operator.as_str() {
            "In" | "NotIn" => {
                if n_values == 0 {
                    errs.push(required(
                        &ep.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if n_values > 0 {
                    errs.push(forbidden(
                        &ep.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(invalid_s(
                &ep.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        qualified_name(&e.key, &ep.child("key"), errs);
        for (j, v) in e.values.iter().flatten().enumerate() {
            for m in is_valid_label_value(v) {
                errs.push(invalid_s(&ep.child("values").index(j), v, &m));
            }
        }
    }
}

/// `labels.Selector.Matches` for a selector that converted without error.
pub(super) fn selector_matches(
    sel: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    for (k, v) in sel.match_labels.iter().flatten() {
        if labels.get(k) != Some(v) {
            return false;
        }
    }
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default();
        let got = labels.get(&e.key);
        let ok = match e.operator.as_str() {
            "In" => got.is_some_and(|v| values.contains(v)),
            "NotIn" => got.is_none_or(|v| !values.contains(v)),
            "Exists" => got.is_some(),
            "DoesNotExist" => got.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::field::NameKind;
    use super::super::testing::expect;
    use crate::model::validation::field::FieldErrorReason::{Invalid, Required};
    use serde_json::json;

    #[test]
    fn validate_object_meta_generate_name() {
        let meta: ObjectMeta =
            serde_json::from_value(json!({"generateName": "echo-", "namespace": "default"}))
                .unwrap();
        expect(
            "generateName only",
            &validate_object_meta(&meta, true, NameKind::Subdomain, "metadata"),
            &[("metadata.name", Required)],
        );
        let meta: ObjectMeta = serde_json::from_value(
            json!({"name": "x", "generateName": "Bad_", "namespace": "default"}),
        )
        .unwrap();
        expect(
            "bad generateName",
            &validate_object_meta(&meta, true, NameKind::Subdomain, "metadata"),
            &[("metadata.generateName", Invalid)],
        );
        let meta: ObjectMeta = serde_json::from_value(json!({"name": "x", "ownerReferences": [
            {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": true},
            {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": true}]}))
        .unwrap();
        expect(
            "two controllers",
            &validate_object_meta(&meta, false, NameKind::Label, "metadata"),
            &[("metadata.ownerReferences", Invalid)],
        );
    }
}
