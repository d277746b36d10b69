//! `ObjectFilter`: a label selector and a field selector bound to a kind; what lists and watches
//! keep. Pure.

use super::selector::{FieldSelector, LabelSelector};
use super::{ResourceKind, fields};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct ObjectFilter {
    pub kind: ResourceKind,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl ObjectFilter {
    pub fn everything(kind: ResourceKind) -> Self {
        ObjectFilter {
            kind,
            labels: LabelSelector::default(),
            fields: FieldSelector::default(),
        }
    }

    /// True when the filter keeps every object (no need to decode objects to filter them).
    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        (self.labels.is_empty() || self.labels.matches_object(object))
            && (self.fields.is_empty()
                || self
                    .fields
                    .matches(|field| fields::field_value(self.kind, object, field)))
    }
}

/// What any filter of a kind can read of one object: its labels and the value of each field
/// label the kind supports. A watch keeps these of an object's previous version, instead of the
/// version itself, to tell whether that version matched its filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    labels: BTreeMap<String, String>,
    fields: Vec<(&'static str, String)>,
}

impl Facets {
    pub fn of(kind: ResourceKind, object: &Value) -> Facets {
        let labels = object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let fields = fields::supported_fields(kind)
            .iter()
            .map(|field| (*field, fields::field_value(kind, object, field)))
            .collect();
        Facets { labels, fields }
    }
}

impl ObjectFilter {
    /// `matches` on what `Facets` kept of an object.
    pub fn matches_facets(&self, facets: &Facets) -> bool {
        (self.labels.is_empty() || self.labels.matches(&facets.labels))
            && (self.fields.is_empty()
                || self.fields.matches(|field| {
                    facets
                        .fields
                        .iter()
                        .find(|(name, _)| *name == field)
                        .map(|(_, value)| value.clone())
                        .unwrap_or_default()
                }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::selector::{FieldSelector, LabelSelector};
    use serde_json::json;

    #[test]
    fn facets_match_as_the_object_does() {
        let pod = json!({"metadata": {"name": "p", "namespace": "default",
                                      "labels": {"app": "web", "tier": "1", "odd": 3}},
                         "spec": {"nodeName": "n1", "restartPolicy": "Always"},
                         "status": {"phase": "Running", "podIP": "10.0.0.2"}});
        let facets = Facets::of(ResourceKind::Pod, &pod);
        for (labels, fields) in [
            ("app=web", ""),
            ("app=db", ""),
            ("odd", ""),
            ("!odd", ""),
            ("tier in (1,2),app", "spec.nodeName=n1"),
            ("", "status.phase!=Running"),
            ("", "status.podIP=10.0.0.2,metadata.name=p"),
            ("", "spec.schedulerName="),
        ] {
            let filter = ObjectFilter {
                kind: ResourceKind::Pod,
                labels: LabelSelector::parse(labels).expect("labels"),
                fields: FieldSelector::parse(fields).expect("fields"),
            };
            assert_eq!(
                filter.matches_facets(&facets),
                filter.matches(&pod),
                "{labels} / {fields}"
            );
        }
    }
}
