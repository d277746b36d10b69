//! The Kubernetes object model the server serves: which kinds exist, how they are named on the
//! wire, and the kind-specific rules (defaulting, validation, field selectors, spec/status split).
//! Pure: no I/O, no SQL, no HTTP types. Object types come from `k8s-openapi`.

pub mod admit;
pub mod apply;
pub mod defaults;
pub mod diff;
pub mod fields;
pub mod filter;
pub mod kinds;
pub mod meta;
pub mod redact;
pub mod schemas;
pub mod selector;
pub mod service;
pub mod strategic;
pub mod validation;

pub use kinds::ResourceKind;
pub use validation::{FieldError, FieldErrorReason};
