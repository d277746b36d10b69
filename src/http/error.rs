//! `ApiError`: the single `ResponseError`. Every failure a client can see is rendered here as a
//! Kubernetes `Status` object, shaped like apimachinery's `NewNotFound`, `NewConflict`,
//! `NewInvalid`, ...; this is the only place HTTP status codes for errors are chosen.

use crate::events::{CommandError, StoreError, SubmitError};
use crate::model::ResourceKind;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};
use std::fmt;

#[derive(Debug)]
pub enum ApiError {
    /// A client-visible failure with its `Status` fields.
    Status {
        code: u16,
        reason: &'static str,
        message: String,
        details: Option<Value>,
    },
    /// Anything unexpected: an opaque 500; the cause chain is logged, not sent.
    Unexpected(anyhow::Error),
}

impl ApiError {
    fn status(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError::Status {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::status(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::status(401, "Unauthorized", "Unauthorized")
    }

    /// A UI login link whose code is used, expired or unknown.
    pub fn login_refused() -> Self {
        Self::status(
            401,
            "Unauthorized",
            "this login link does not work any more: each link works once, within 60 seconds. \
             Run `kubetrail ui` again and open the new link it prints.",
        )
    }

    /// A request from a browser origin that `--cors-allowed-origins` does not allow.
    pub fn origin_forbidden(origin: &str) -> Self {
        Self::status(
            403,
            "Forbidden",
            format!(
                "forbidden: requests from the origin {origin:?} are not allowed (see --cors-allowed-origins)"
            ),
        )
    }

    /// An unknown path.
    pub fn path_not_found() -> Self {
        ApiError::Status {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".to_string(),
            details: Some(json!({})),
        }
    }

    pub fn not_found(kind: ResourceKind, name: &str) -> Self {
        CommandError::NotFound {
            kind,
            name: name.to_string(),
        }
        .into()
    }

    pub fn method_not_allowed() -> Self {
        Self::status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::status(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 413 with a message of its own (kube-apiserver's `NewRequestEntityTooLargeError`).
    pub fn entity_too_large(message: impl Into<String>) -> Self {
        Self::status(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: {}", message.into()),
        )
    }

    pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Self {
        Self::status(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    /// A protobuf body of a type the server has no protobuf definition of.
    pub fn unsupported_protobuf_kind(media: &str, api_version: &str, kind: &str) -> Self {
        Self::status(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({media}) - no protobuf definition of {kind} in {api_version}; send it as application/json or application/yaml"
            ),
        )
    }

    pub fn not_acceptable(accepted: &[&str]) -> Self {
        Self::status(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: {}",
                accepted.join(", ")
            ),
        )
    }

    /// `NewConflict` for a resource named by its kind (a TokenRequest's bound object).
    pub fn conflict(kind: &str, name: &str, cause: &str) -> Self {
        ApiError::Status {
            code: 409,
            reason: "Conflict",
            message: format!("Operation cannot be fulfilled on {kind} \"{name}\": {cause}"),
            details: Some(json!({"name": name, "kind": kind})),
        }
    }

    pub fn expired(message: impl Into<String>) -> Self {
        Self::status(410, "Expired", message)
    }

    /// A request option that fails validation, as `NewInvalid` renders it for an options kind
    /// (`PodLogOptions`) that has no resource of its own.
    pub fn invalid_option(
        kind: &str,
        name: &str,
        field: &str,
        cause_reason: &str,
        detail: &str,
    ) -> Self {
        ApiError::Status {
            code: 422,
            reason: "Invalid",
            message: format!("{kind} \"{name}\" is invalid: {field}: {detail}"),
            details: Some(json!({
                "name": name, "group": "", "kind": kind,
                "causes": [{"reason": cause_reason, "message": detail, "field": field}],
            })),
        }
    }

    /// The container runtime a log or exec request needs does not answer.
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::status(503, "ServiceUnavailable", message)
    }

    pub fn invalid_patch(message: impl Into<String>) -> Self {
        Self::status(422, "Invalid", message)
    }

    /// A list at a resourceVersion the log has not reached, as kube-apiserver answers it.
    pub fn resource_version_too_large(requested: i64, current: i64) -> Self {
        ApiError::Status {
            code: 504,
            reason: "Timeout",
            message: format!(
                "Timeout: Too large resource version: {requested}, current: {current}"
            ),
            details: Some(json!({
                "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                "retryAfterSeconds": 1,
            })),
        }
    }

    /// ListOptions that kube-apiserver's validation refuses (422, kind ListOptions).
    pub fn invalid_list_options(field: &str, message: &str) -> Self {
        ApiError::Status {
            code: 422,
            reason: "Invalid",
            message: format!(
                "ListOptions.meta.k8s.io \"\" is invalid: {field}: Forbidden: {message}"
            ),
            details: Some(json!({
                "group": "meta.k8s.io", "kind": "ListOptions",
                "causes": [{"reason": "FieldValueForbidden", "message": format!("Forbidden: {message}"), "field": field}],
            })),
        }
    }

    /// A write to a server that serves a past state (`serve --read-only`).
    pub fn read_only(message: &str) -> Self {
        Self::status(405, "MethodNotAllowed", message)
    }

    pub fn code(&self) -> u16 {
        match self {
            ApiError::Status { code, .. } => *code,
            ApiError::Unexpected(_) => 500,
        }
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        match self {
            ApiError::Status {
                code,
                reason,
                message,
                details,
            } => {
                let mut status = json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {},
                    "status": "Failure", "message": message, "reason": reason, "code": code,
                });
                if let Some(details) = details {
                    status["details"] = details.clone();
                }
                status
            }
            ApiError::Unexpected(_) => json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": "Internal error occurred: unexpected server error",
                "reason": "InternalError", "code": 500,
                "details": {"causes": [{"message": "unexpected server error"}]},
            }),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Status { message, .. } => f.write_str(message),
            ApiError::Unexpected(e) => write!(f, "{e:#}"),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Unexpected(e) = self {
            tracing::error!(error = ?e, "request failed unexpectedly");
        }
        let status = self.to_status();
        let mut response = HttpResponse::build(self.status_code());
        // As kube-apiserver: a Status that says when to retry says it in the header too.
        if let Some(seconds) = status["details"]["retryAfterSeconds"].as_u64() {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response
            .content_type("application/json")
            .body(status.to_string())
    }
}

fn resource_details(kind: ResourceKind, name: &str) -> Value {
    json!({"name": name, "group": kind.group(), "kind": kind.plural()})
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let message = e.to_string();
        match e {
            CommandError::NotFound { kind, name } => ApiError::Status {
                code: 404,
                reason: "NotFound",
                message,
                details: Some(resource_details(kind, &name)),
            },
            CommandError::AlreadyExists { kind, name } => ApiError::Status {
                code: 409,
                reason: "AlreadyExists",
                message,
                details: Some(resource_details(kind, &name)),
            },
            CommandError::Conflict { kind, name, .. } => ApiError::Status {
                code: 409,
                reason: "Conflict",
                message,
                details: Some(resource_details(kind, &name)),
            },
            CommandError::TooLarge { kind, name, .. } => ApiError::Status {
                code: 413,
                reason: "RequestEntityTooLarge",
                message,
                details: Some(resource_details(kind, &name)),
            },
            CommandError::Forbidden { kind, name, .. } => ApiError::Status {
                code: 403,
                reason: "Forbidden",
                message,
                details: Some(resource_details(kind, &name)),
            },
            CommandError::ApplyConflict {
                kind,
                name,
                conflicts,
                ..
            } => {
                let causes: Vec<Value> = conflicts
                    .iter()
                    .map(|(manager, field)| {
                        json!({"reason": "FieldManagerConflict",
                               "message": format!("conflict with \"{manager}\""), "field": field})
                    })
                    .collect();
                let mut details = resource_details(kind, &name);
                details["causes"] = json!(causes);
                ApiError::Status {
                    code: 409,
                    reason: "Conflict",
                    message,
                    details: Some(details),
                }
            }
            CommandError::BadRequest(message) => ApiError::bad_request(message),
            CommandError::Internal(cause) => ApiError::Status {
                code: 500,
                reason: "InternalError",
                message,
                details: Some(json!({"causes": [{"message": cause}]})),
            },
            CommandError::Invalid { kind, name, causes } => {
                let listed: Vec<String> = causes.iter().map(ToString::to_string).collect();
                let body = match listed.as_slice() {
                    [one] => one.clone(),
                    many => format!("[{}]", many.join(", ")),
                };
                let causes: Vec<Value> = causes
                    .iter()
                    .map(|c| {
                        json!({"reason": c.reason.as_cause_reason(), "message": c.message, "field": c.path})
                    })
                    .collect();
                // NewInvalid names the kind with its group (`Deployment.apps`).
                let qualified = match kind.group() {
                    "" => kind.as_str().to_string(),
                    group => format!("{kind}.{group}"),
                };
                ApiError::Status {
                    code: 422,
                    reason: "Invalid",
                    message: format!("{qualified} \"{name}\" is invalid: {body}"),
                    details: Some(json!({
                        "name": name, "group": kind.group(), "kind": kind.as_str(), "causes": causes,
                    })),
                }
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // kube-apiserver answers a full etcd with a 500 that quotes etcd; 507 names the
            // cause, and the message says what to do.
            StoreError::DiskFull => ApiError::status(
                507,
                "InsufficientStorage",
                "Insufficient storage: the disk holding the event log is full, so nothing was \
                 written; free space on the disk of the data directory and retry (writes resume \
                 as soon as there is room)",
            ),
            // A list at a resourceVersion before the compaction point, as etcd3's store
            // answers a compacted revision.
            StoreError::Compacted { .. } => {
                ApiError::expired("The resourceVersion for the provided list is too old.")
            }
            // As kube-apiserver's answer when etcd keeps refusing an update: try again.
            // With `Retry-After`, which client-go (kubectl, controllers) honours by retrying.
            StoreError::Contended | StoreError::Behind { .. } => ApiError::Status {
                code: 503,
                reason: "ServiceUnavailable",
                message: "The log is busy with other API servers' writes, so nothing was \
                          written; retry the request"
                    .to_string(),
                details: Some(json!({"retryAfterSeconds": 1})),
            },
            other => ApiError::Unexpected(other.into()),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Command(e) => e.into(),
            SubmitError::Store(e) => e.into(),
            SubmitError::Panicked(message) => ApiError::Status {
                code: 500,
                reason: "InternalError",
                message: format!("Internal error occurred: {message}"),
                details: Some(json!({"causes": [{"message": message}]})),
            },
        }
    }
}

impl From<crate::history::HistoryError> for ApiError {
    fn from(e: crate::history::HistoryError) -> Self {
        use crate::history::HistoryError;
        match e {
            HistoryError::BadRequest(message) => ApiError::bad_request(message),
            HistoryError::NotFound(message) => ApiError::Status {
                code: 404,
                reason: "NotFound",
                message,
                details: Some(json!({})),
            },
            other => ApiError::Unexpected(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_lost_to_other_servers_is_a_503_that_says_when_to_retry() {
        let error = ApiError::from(StoreError::Contended);
        let response = error.error_response();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(
            response
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        assert_eq!(error.to_status()["details"]["retryAfterSeconds"], 1);
        // A Status without a retry time gets no header.
        let plain = ApiError::bad_request("no").error_response();
        assert!(plain.headers().get("Retry-After").is_none());
    }
}
