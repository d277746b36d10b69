//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`, what client-go's typed
//! clients send: `kubectl create namespace|deployment|…`, drain's DeleteOptions) decoded by
//! `wire::protobuf` into the JSON the handlers speak, with the errors kube-apiserver gives.

use super::body;
use super::error::ApiError;
use crate::wire::protobuf::{self as wire, DecodeError};
use serde_json::Value;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn refused(error: DecodeError) -> ApiError {
    match error {
        // A type with no vendored definition: the body's format, not its content, is what the
        // server cannot read.
        DecodeError::UnknownKind { api_version, kind } => {
            ApiError::unsupported_protobuf_kind(PROTOBUF, &api_version, &kind)
        }
        other => ApiError::bad_request(other.to_string()),
    }
}

/// Decode a protobuf body that must hold `kind` of `api_version`: the envelope's type is
/// checked first, with the messages a JSON body's `apiVersion` and `kind` get.
pub fn decode_object(body: &[u8], api_version: &str, kind: &str) -> Result<Value, ApiError> {
    let envelope = wire::envelope(body).map_err(refused)?;
    body::check_type(&envelope.api_version, &envelope.kind, api_version, kind)?;
    wire::object(&envelope).map_err(refused)
}

/// A protobuf DeleteOptions body (any group version names meta/v1's).
pub fn decode_delete_options(body: &[u8]) -> Result<Value, ApiError> {
    let envelope = wire::envelope(body).map_err(refused)?;
    if envelope.kind != "DeleteOptions" {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({}) does not match the expected kind (DeleteOptions)",
            envelope.kind
        )));
    }
    wire::object(&envelope).map_err(refused)
}
