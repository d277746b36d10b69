//! `ObjectFilter`: a label selector and a field selector bound to a kind; what lists and watches
//! keep. Pure.

use super::selector::{FieldSelector, LabelSelector};
use super::{ResourceKind, fields};
use serde_json::Value;

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
