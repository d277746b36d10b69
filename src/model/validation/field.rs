//! apimachinery's `field` package: `FieldError`, the field path it names and the
//! constructors that word each error as Kubernetes does (`Required value`, `Invalid value: ...`).

use std::fmt;

use super::gofmt::go_quote;

// ---------------------------------------------------------------------------------------------
// Field errors
// ---------------------------------------------------------------------------------------------

/// One invalid field, shaped like apimachinery's `field.Error`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Field path, e.g. `spec.containers[0].image`.
    pub path: String,
    /// Machine-readable reason.
    pub reason: FieldErrorReason,
    /// Exactly `field.Error.ErrorBody()`, e.g. `Required value`.
    pub message: String,
}

/// The `field.ErrorType` of a [`FieldError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FieldErrorReason {
    Required,
    Invalid,
    Duplicate,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    NotFound,
}

impl FieldErrorReason {
    /// The `metav1.CauseType` string used in a Status `details.causes[].reason`.
    pub fn as_cause_reason(&self) -> &'static str {
        match self {
            FieldErrorReason::Required => "FieldValueRequired",
            FieldErrorReason::Invalid => "FieldValueInvalid",
            FieldErrorReason::Duplicate => "FieldValueDuplicate",
            FieldErrorReason::NotSupported => "FieldValueNotSupported",
            FieldErrorReason::Forbidden => "FieldValueForbidden",
            FieldErrorReason::TooLong => "FieldValueTooLong",
            FieldErrorReason::TooMany => "FieldValueTooMany",
            FieldErrorReason::NotFound => "FieldValueNotFound",
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Which name rule `metadata.name` / `metadata.generateName` must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// DNS-1123 subdomain (pods, replicasets, nodes, events).
    Subdomain,
    /// DNS-1123 label (namespaces).
    Label,
    /// DNS-1035 label (services).
    Dns1035Label,
}

pub(super) type Errs = Vec<FieldError>;

/// A field path under construction (`field.Path`).
#[derive(Debug, Clone)]
pub(super) struct P(String);

impl P {
    pub(super) fn new(s: &str) -> P {
        P(s.to_string())
    }
    pub(super) fn child(&self, name: &str) -> P {
        if self.0.is_empty() {
            P(name.to_string())
        } else {
            P(format!("{}.{}", self.0, name))
        }
    }
    pub(super) fn index(&self, i: usize) -> P {
        P(format!("{}[{}]", self.0, i))
    }
    pub(super) fn key(&self, k: &str) -> P {
        P(format!("{}[{}]", self.0, k))
    }
}

fn with_detail(base: String, detail: &str) -> String {
    if detail.is_empty() {
        base
    } else {
        format!("{base}: {detail}")
    }
}

fn mk(p: &P, reason: FieldErrorReason, message: String) -> FieldError {
    FieldError {
        path: p.0.clone(),
        reason,
        message,
    }
}

pub(super) fn required(p: &P, detail: &str) -> FieldError {
    mk(
        p,
        FieldErrorReason::Required,
        with_detail("Required value".into(), detail),
    )
}

pub(super) fn forbidden(p: &P, detail: &str) -> FieldError {
    mk(
        p,
        FieldErrorReason::Forbidden,
        with_detail("Forbidden".into(), detail),
    )
}

/// `field.Invalid` with an already rendered bad value.
pub(super) fn invalid_raw(p: &P, rendered: &str, detail: &str) -> FieldError {
    mk(
        p,
        FieldErrorReason::Invalid,
        with_detail(format!("Invalid value: {rendered}"), detail),
    )
}

pub(super) fn invalid_s(p: &P, value: &str, detail: &str) -> FieldError {
    invalid_raw(p, &go_quote(value), detail)
}

pub(super) fn invalid_i(p: &P, value: i64, detail: &str) -> FieldError {
    invalid_raw(p, &value.to_string(), detail)
}

pub(super) fn duplicate_raw(p: &P, rendered: &str, detail: &str) -> FieldError {
    mk(
        p,
        FieldErrorReason::Duplicate,
        with_detail(format!("Duplicate value: {rendered}"), detail),
    )
}

pub(super) fn duplicate_s(p: &P, value: &str) -> FieldError {
    duplicate_raw(p, &go_quote(value), "")
}

pub(super) fn not_found_s(p: &P, value: &str, detail: &str) -> FieldError {
    mk(
        p,
        FieldErrorReason::NotFound,
        with_detail(format!("Not found: {}", go_quote(value)), detail),
    )
}

pub(super) fn not_supported(p: &P, value: &str, valid: &[&str]) -> FieldError {
    let detail = if valid.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
        format!("supported values: {}", quoted.join(", "))
    };
    mk(
        p,
        FieldErrorReason::NotSupported,
        with_detail(format!("Unsupported value: {}", go_quote(value)), &detail),
    )
}

pub(super) fn too_long(p: &P, max: usize) -> FieldError {
    mk(
        p,
        FieldErrorReason::TooLong,
        format!("Too long: may not be more than {max} bytes"),
    )
}

#[allow(dead_code)]
pub(super) fn too_many(p: &P, actual: usize, max: usize) -> FieldError {
    mk(
        p,
        FieldErrorReason::TooMany,
        format!("Too many: {actual}: must have at most {max} items"),
    )
}
