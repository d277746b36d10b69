//! `/openapi/v3` (the index kubectl reads before validating or explaining), the per
//! group-version documents with kube-openapi's caching rules, and a Swagger UI over them.
//! The documents themselves come from `wire::openapi`; this module only serves them.

use super::error::ApiError;
use crate::wire::openapi::{self, Documents};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective, HttpDate};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use std::time::{Duration, SystemTime};
use utoipa_swagger_ui::{Config, SwaggerUi, Url};

const JSON: &str = "application/json";

/// How long a hashed document may be cached: kube-openapi says a year.
const IMMUTABLE_FOR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Register `/openapi/v3`, `/openapi/v3/<group-version>`, `/openapi/v2` (JSON, or gnostic's
/// protobuf) and the Swagger UI at `/swagger-ui/`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi/v3", web::get().to(index))
        .route("/openapi/v3/", web::get().to(index))
        .route("/openapi/v3/{path:.+}", web::get().to(group_version))
        .route("/openapi/v2", web::get().to(swagger))
        .route("/swagger-ui", web::get().to(swagger_ui_redirect))
        .service(SwaggerUi::new("/swagger-ui/{_:.*}").config(swagger_ui_config()));
}

fn swagger_ui_config() -> Config<'static> {
    Config::new(openapi::GROUP_VERSIONS.map(|gv| Url::new(gv.path, gv.url)))
        .display_operation_id(true)
        .show_extensions(true)
}

fn documents() -> Result<&'static Documents, ApiError> {
    openapi::documents()
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("OpenAPI documents: {e}")))
}

/// `GET /openapi/v3`: where each group-version's document is, with its current hash.
async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let docs = documents()?;
    accept_json(&req)?;
    let mut response = HttpResponse::Ok();
    response.insert_header(CacheControl(vec![
        CacheDirective::NoCache,
        CacheDirective::Private,
    ]));
    Ok(respond(&req, response, &docs.index_hash, &docs.index))
}

/// `GET /openapi/v3/<group-version>[?hash=H]`, as kube-openapi's handler3 answers it: with the
/// current hash the document is immutable for a year; with an old one, a 301 to the current
/// URL; without one, it must be revalidated (ETag).
async fn group_version(
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let docs = documents()?;
    let document = docs
        .get(path.trim_end_matches('/'))
        .ok_or_else(ApiError::path_not_found)?;
    accept_json(&req)?;
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let hash = query.iter().find(|(k, _)| k == "hash").map(|(_, v)| v);
    let mut response = HttpResponse::Ok();
    match hash {
        Some(hash) if *hash == document.hash => {
            response
                .insert_header(CacheControl(vec![
                    CacheDirective::Public,
                    CacheDirective::Extension("immutable".into(), None),
                ]))
                .insert_header(header::Expires(HttpDate::from(
                    SystemTime::now() + IMMUTABLE_FOR,
                )));
        }
        Some(_) => {
            return Ok(HttpResponse::MovedPermanently()
                .insert_header((header::LOCATION, document.server_relative_url()))
                .finish());
        }
        None => {
            response.insert_header(CacheControl(vec![
                CacheDirective::NoCache,
                CacheDirective::Private,
            ]));
        }
    }
    Ok(respond(&req, response, &document.hash, &document.json))
}

/// The body with its ETag, or a 304 when the client already holds this version.
fn respond(
    req: &HttpRequest,
    mut response: HttpResponseBuilder,
    hash: &str,
    body: &'static [u8],
) -> HttpResponse {
    let etag = format!("\"{hash}\"");
    response
        .insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::VARY, "Accept"));
    let cached = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == etag || tag == "*" || tag.strip_prefix("W/") == Some(etag.as_str())
        });
    if cached {
        return response.status(StatusCode::NOT_MODIFIED).finish();
    }
    response.content_type(JSON).body(body)
}

/// Only JSON is served; a client asking for nothing else (e.g. only the protobuf OpenAPI
/// encoding) gets a 406.
fn accept_json(req: &HttpRequest) -> Result<(), ApiError> {
    let accept: Vec<&str> = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if accept.is_empty() || accept.iter().any(|media| accepts_json(media)) {
        Ok(())
    } else {
        Err(ApiError::not_acceptable(&[JSON]))
    }
}

/// The media type of one `Accept` entry, lowercased, unless the entry refuses it (`q=0`).
fn wanted(media: &str) -> Option<String> {
    let mut parts = media.split(';').map(str::trim);
    let media_type = parts.next().unwrap_or("").to_ascii_lowercase();
    let refused = parts.any(|p| {
        p.strip_prefix("q=")
            .and_then(|q| q.parse::<f32>().ok())
            .is_some_and(|q| q <= 0.0)
    });
    (!refused).then_some(media_type)
}

fn accepts_json(media: &str) -> bool {
    wanted(media).is_some_and(|m| matches!(m.as_str(), JSON | "application/*" | "*/*"))
}

fn accepts_v2_protobuf(media: &str) -> bool {
    wanted(media).is_some_and(|m| m == V2_PROTOBUF || m == V2_PROTOBUF_OLD)
}

/// The media type of gnostic's protobuf form of the v2 document (and the older spelling
/// client-go also sends).
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
const V2_PROTOBUF_OLD: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// `GET /openapi/v2`: the Swagger 2.0 document of every group, as JSON or, for a client that
/// prefers it (kubectl before 1.27 asks for nothing else), as gnostic's protobuf; an ETag per
/// encoding, revalidated on each use.
async fn swagger(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let docs = documents()?;
    let accept: Vec<String> = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    let mut response = HttpResponse::Ok();
    response.insert_header(CacheControl(vec![
        CacheDirective::NoCache,
        CacheDirective::Private,
    ]));
    // The first acceptable form in the client's order: protobuf when it comes before JSON.
    let json_first = accept.iter().position(|m| accepts_json(m));
    let protobuf_first = accept.iter().position(|m| accepts_v2_protobuf(m));
    match (protobuf_first, json_first) {
        (Some(p), j) if j.is_none_or(|j| p < j) => {
            let mut answer = respond(&req, response, &docs.v2.protobuf_hash, &docs.v2.protobuf);
            if answer.status() == StatusCode::OK {
                // The spelling without `@`, which `mime` parsers accept (kube-openapi's too).
                answer.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(V2_PROTOBUF_OLD),
                );
            }
            Ok(answer)
        }
        _ => {
            accept_json(&req)?;
            Ok(respond(&req, response, &docs.v2.json_hash, &docs.v2.json))
        }
    }
}

async fn swagger_ui_redirect() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/swagger-ui/"))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_accepted_unless_only_something_else_is_asked_for() {
        for (accept, ok) in [
            ("application/json, */*", true),
            ("application/json", true),
            (
                "application/com.github.proto-openapi.spec.v3@v1.0+protobuf",
                false,
            ),
            (
                "application/com.github.proto-openapi.spec.v3.v1.0+protobuf",
                false,
            ),
            (
                "application/com.github.proto-openapi.spec.v3@v1.0+protobuf, */*",
                true,
            ),
            ("application/json;q=0", false),
            ("text/html,application/xhtml+xml,*/*;q=0.8", true),
        ] {
            let any = accept.split(',').any(|m| accepts_json(m.trim()));
            assert_eq!(any, ok, "{accept}");
        }
    }
}
