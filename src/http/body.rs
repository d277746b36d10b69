//! Request bodies and response formats: reading a body within the size limit, decoding JSON or
//! YAML by `Content-Type`, recognising patch types, and choosing the response media type from
//! `Accept`.

use super::error::ApiError;
use actix_web::HttpRequest;
use actix_web::web::{self, BytesMut};
use futures_util::StreamExt;
use serde_json::Value;

/// Largest request body accepted, as kube-apiserver's 3 MiB.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

const JSON: &str = "application/json";
const YAML: &str = "application/yaml";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// Read the whole body, refusing more than `MAX_BODY` bytes with 413.
pub async fn read(mut payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::too_large(MAX_BODY));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The media types a POST, PUT or PATCH body may have: objects as JSON, YAML or protobuf, and
/// the four patch types. Any other type is refused before the body is read.
pub const WRITE_MEDIA_TYPES: [&str; 7] = [
    JSON,
    YAML,
    PROTOBUF,
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    APPLY_PATCH,
];

/// Refuse (415) a POST, PUT or PATCH whose body has a type outside `WRITE_MEDIA_TYPES`, and a
/// POST whose body has no type at all unless it carries an `Authorization` header. POST is
/// what a browser page may send to any server without asking first, untyped or as
/// `text/plain`, form data or multipart; never one of these types, and never with an
/// `Authorization` header (that needs a preflight, which another origin does not pass). An
/// untyped POST that authenticates (the Python `kubernetes` client's creates) and an untyped
/// PUT are JSON, as kube-apiserver reads them (client-go's scale client, behind
/// `kubectl scale --current-replicas`, sends such a PUT); an untyped PATCH is refused by the
/// patch handler. DELETE's optional `DeleteOptions` body is left alone.
pub fn check_write_media_type(req: &HttpRequest) -> Result<(), ApiError> {
    use actix_web::http::Method;
    let method = req.method();
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) || !may_have_body(req) {
        return Ok(());
    }
    match media_type(req) {
        Some(media) if WRITE_MEDIA_TYPES.contains(&media.as_str()) => Ok(()),
        Some(media) => Err(ApiError::unsupported_media_type(&media, &WRITE_MEDIA_TYPES)),
        None if *method == Method::POST
            && !req
                .headers()
                .contains_key(actix_web::http::header::AUTHORIZATION) =>
        {
            Err(ApiError::unsupported_media_type(
                "no Content-Type",
                &WRITE_MEDIA_TYPES,
            ))
        }
        None => Ok(()),
    }
}

/// Whether the request may carry a body: a non-zero `Content-Length`, a `Transfer-Encoding`,
/// or HTTP/2 without a length (its body ends with a frame flag, not a header).
fn may_have_body(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if let Some(length) = headers.get(actix_web::http::header::CONTENT_LENGTH) {
        return length.as_bytes() != b"0";
    }
    headers.contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || req.version() == actix_web::http::Version::HTTP_2
}

/// The media type of the request body, without parameters, lower case; `None` when absent.
fn media_type(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty())
}

/// The media type of the request body, without parameters; JSON when absent.
pub fn content_type(req: &HttpRequest) -> String {
    media_type(req).unwrap_or_else(|| JSON.to_string())
}

/// Decode an object body (POST, PUT) as JSON or YAML.
pub fn decode_object(req: &HttpRequest, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type(req);
    let value = match media.as_str() {
        JSON | "*/*" => serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("the body could not be decoded as JSON: {e}"))
        })?,
        YAML | "application/x-yaml" | "text/yaml" => decode_yaml(body)?,
        _ => return Err(ApiError::unsupported_media_type(&media, &[JSON, YAML])),
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON or YAML object",
        ));
    }
    Ok(value)
}

/// The body's `apiVersion` and `kind` against the endpoint's; either may be left out.
pub fn check_type(
    body_api_version: &str,
    body_kind: &str,
    api_version: &str,
    kind: &str,
) -> Result<(), ApiError> {
    if !body_api_version.is_empty() && body_api_version != api_version {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({body_api_version}) does not match the expected API version ({api_version})"
        )));
    }
    if !body_kind.is_empty() && body_kind != kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({body_kind}) does not match the expected kind ({kind})"
        )));
    }
    Ok(())
}

pub fn decode_yaml(body: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the YAML body is not valid UTF-8"))?;
    super::yaml::decode_bounded(text).map_err(|e| match e {
        super::yaml::YamlError::Expansion { .. } => ApiError::entity_too_large(e.to_string()),
        super::yaml::YamlError::Syntax(e) => {
            ApiError::bad_request(format!("the body could not be decoded as YAML: {e}"))
        }
    })
}

pub fn is_protobuf(req: &HttpRequest) -> bool {
    content_type(req) == PROTOBUF
}

/// Server-side apply's media type.
pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// The patch formats the server applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
}

pub fn patch_type(req: &HttpRequest) -> Result<PatchType, ApiError> {
    let media = content_type(req);
    match media.as_str() {
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        _ => Err(ApiError::unsupported_media_type(
            &media,
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ],
        )),
    }
}

/// How to render a successful response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    Json,
    Yaml,
    /// A `meta.k8s.io` Table (server-side printing, as `kubectl get` asks for).
    Table,
}

/// The media type of a Table response.
pub const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Choose the format from `Accept`: a Table when a `as=Table;g=meta.k8s.io` media type is
/// offered, else JSON or YAML; protobuf-first clients also list JSON and get it.
pub fn response_format(req: &HttpRequest) -> ResponseFormat {
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let table = accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table")
            && params.contains(&"g=meta.k8s.io")
            && (params.contains(&"v=v1") || params.contains(&"v=v1beta1"))
    });
    if table {
        return ResponseFormat::Table;
    }
    let first_known = accept
        .split(',')
        .map(|m| m.split(';').next().unwrap_or("").trim())
        .find(|m| matches!(*m, JSON | YAML | "application/*" | "*/*"));
    match first_known {
        Some(YAML) => ResponseFormat::Yaml,
        _ => ResponseFormat::Json,
    }
}

/// A response body in `format` with its content type.
pub fn render(format: ResponseFormat, json_text: String) -> (&'static str, String) {
    match format {
        ResponseFormat::Json | ResponseFormat::Table => (JSON, json_text),
        ResponseFormat::Yaml => {
            let yaml = serde_json::from_str::<Value>(&json_text)
                .ok()
                .and_then(|v| yaml_serde::to_string(&v).ok());
            match yaml {
                Some(yaml) => (YAML, yaml),
                None => (JSON, json_text),
            }
        }
    }
}
