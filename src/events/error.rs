//! Errors of the write side. No HTTP types: `http::error` maps them to `Status` once.
//! `StoreError` is the store's (re-exported here: a write's failure to be stored).

use crate::model::{FieldError, ResourceKind};
pub use crate::store::StoreError;

/// A command refused by `decide` (or by the lookups that feed it). Nothing was written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("{} \"{name}\" not found", kind.qualified_resource())]
    NotFound { kind: ResourceKind, name: String },
    #[error("{} \"{name}\" already exists", kind.qualified_resource())]
    AlreadyExists { kind: ResourceKind, name: String },
    /// Optimistic-concurrency or precondition failure; `reason` follows "Operation cannot be
    /// fulfilled on <resource> \"<name>\": ".
    #[error("Operation cannot be fulfilled on {} \"{name}\": {reason}", kind.qualified_resource())]
    Conflict {
        kind: ResourceKind,
        name: String,
        reason: String,
    },
    #[error("{kind} \"{name}\" is invalid")]
    Invalid {
        kind: ResourceKind,
        name: String,
        causes: Vec<FieldError>,
    },
    /// Server-side apply found fields owned by other managers.
    #[error("{message}")]
    ApplyConflict {
        kind: ResourceKind,
        name: String,
        message: String,
        /// (manager, field path) pairs.
        conflicts: Vec<(String, String)>,
    },
    #[error("{0}")]
    BadRequest(String),
    /// The server cannot do what the command needs (a Service address range is full), as
    /// kube-apiserver's `InternalError`: the message follows "Internal error occurred: ".
    #[error("Internal error occurred: {0}")]
    Internal(String),
    /// The object the command would store is larger than any object may be.
    #[error("Request entity too large: {} \"{name}\" would be {size} bytes; the limit is {limit}", kind.qualified_resource())]
    TooLarge {
        kind: ResourceKind,
        name: String,
        size: usize,
        limit: usize,
    },
    #[error("{} \"{name}\" is forbidden: {reason}", kind.qualified_resource())]
    Forbidden {
        kind: ResourceKind,
        name: String,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Deciding the command panicked: a defect of the server, not of the request alone.
    /// Nothing was written and the writer goes on.
    #[error("deciding the write failed: {0}")]
    Panicked(String),
}
