//! The HTTP API: routes, authentication, request metrics, health and metrics endpoints. Handlers
//! turn requests into commands for `events::EventLog` or queries on `projections::ReadStore`;
//! nothing here runs SQL or builds events, and `error::ApiError` is the only error response.

pub mod body;
pub mod connection;
pub mod containers;
pub mod cors;
pub mod discovery;
pub mod error;
pub mod exec;
pub mod history;
pub mod logs;
pub mod netns;
pub mod objects;
pub mod openapi;
pub mod params;
pub mod portforward;
pub mod protobuf;
pub mod target;
pub mod tokens;
pub mod ui;
pub mod watch;
pub mod yaml;

use crate::api::{GROUP, GROUP_VERSION};
use crate::events::EventLog;
use crate::metrics::Metrics;
use crate::projections::ReadStore;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use error::ApiError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Watch limits the server applies.
#[derive(Debug, Clone, Copy)]
pub struct WatchSettings {
    pub max_timeout: Duration,
    pub heartbeat: Duration,
}

/// Shared state of every handler.
pub struct AppState {
    pub log: EventLog,
    pub store: ReadStore,
    pub metrics: Arc<Metrics>,
    pub watch: WatchSettings,
    /// The bearer token every request must carry; `None` serves without authentication.
    pub token: Option<String>,
    /// The Docker engine the kubelets run containers in; pod logs, exec and attach talk to it.
    pub docker: containers::DockerHandle,
    /// Set when the server serves a past state (`serve --read-only`): why every write is
    /// refused.
    pub read_only: Option<String>,
    /// The browser origins allowed to call the API.
    pub cors: cors::Origins,
    /// The timeline UI's login codes and browser sessions.
    pub ui: ui::Sessions,
    /// Signs and verifies ServiceAccount tokens.
    pub tokens: std::sync::Arc<crate::auth::token::Signer>,
}

/// Who is calling, set by the authentication middleware.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    pub request_id: String,
}

/// Verb and resource of a request, set by the handler for the metrics middleware.
#[derive(Debug, Clone)]
pub struct RequestVerb {
    pub verb: &'static str,
    pub resource: String,
}

/// Characters of warning text one response carries in all, as kube-apiserver's warning
/// recorder: past it, each warning is cut to `WARNING_ITEM_CHARS` and the rest are dropped.
const WARNING_TOTAL_CHARS: usize = 4 * 1024;
const WARNING_ITEM_CHARS: usize = 256;
/// Most `Warning` headers in one response: short warnings could otherwise come to more headers
/// than HTTP clients read (Python's stop at 100).
const WARNING_HEADERS: usize = 50;

/// The warnings a response carries: each once, in order; all of them while their text fits
/// `WARNING_TOTAL_CHARS`, otherwise each cut to `WARNING_ITEM_CHARS` and only as many as fit
/// (kube-apiserver's rule), and never more than `WARNING_HEADERS`.
fn bounded_warnings(warnings: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<String> = warnings
        .into_iter()
        .filter(|w| seen.insert(w.clone()))
        .collect();
    let total: usize = unique.iter().map(|w| w.chars().count()).sum();
    if total <= WARNING_TOTAL_CHARS && unique.len() <= WARNING_HEADERS {
        return unique;
    }
    let mut written = 0;
    let mut kept = Vec::new();
    for warning in unique {
        if written >= WARNING_TOTAL_CHARS || kept.len() >= WARNING_HEADERS {
            break;
        }
        let cut: String = warning.chars().take(WARNING_ITEM_CHARS).collect();
        written += cut.chars().count();
        kept.push(cut);
    }
    kept
}

/// Warnings for the client, sent as `Warning: 299 - "<text>"` headers.
#[derive(Debug, Clone, Default)]
pub struct Warnings(pub Vec<String>);

/// The user a valid bearer token authenticates as.
pub const ADMIN_USER: &str = "kubetrail-admin";

pub fn routes(cfg: &mut web::ServiceConfig) {
    openapi::configure(cfg);
    ui::configure(cfg);
    cfg.route("/healthz", web::get().to(health))
        .route("/livez", web::get().to(health))
        .route("/readyz", web::get().to(ready))
        .route("/metrics", web::get().to(metrics))
        .route("/version", web::get().to(version))
        // kube-apiserver answers with a trailing slash too; kr8s asks for `/version/`.
        .route("/version/", web::get().to(version))
        .route("/api", web::get().to(api_root))
        .route("/api/", web::get().to(api_root))
        .route("/apis", web::get().to(apis_root))
        .route("/apis/", web::get().to(apis_root))
        .route("/api/v1", web::get().to(core_resources))
        .route("/api/v1/", web::get().to(core_resources))
        .route("/apis/apps", web::get().to(apps_group))
        .route("/apis/apps/v1", web::get().to(apps_resources))
        .route("/apis/apps/v1/", web::get().to(apps_resources))
        .route(
            "/apis/coordination.k8s.io",
            web::get().to(coordination_group),
        )
        .route(
            "/apis/coordination.k8s.io/v1",
            web::get().to(coordination_resources),
        )
        .route(
            "/apis/coordination.k8s.io/v1/",
            web::get().to(coordination_resources),
        )
        .route("/apis/discovery.k8s.io", web::get().to(discovery_group))
        .route(
            "/apis/discovery.k8s.io/v1",
            web::get().to(discovery_resources),
        )
        .route(
            "/apis/discovery.k8s.io/v1/",
            web::get().to(discovery_resources),
        )
        .route(&format!("/apis/{GROUP}"), web::get().to(history::group))
        .route(
            &format!("/apis/{GROUP_VERSION}"),
            web::get().to(history::resources),
        )
        .route(
            &format!("/apis/{GROUP_VERSION}/"),
            web::get().to(history::resources),
        )
        .route(
            &format!("/apis/{GROUP_VERSION}/{{tail:.+}}"),
            web::route().to(history::serve),
        )
        .route("/api/v1/{tail:.+}", web::route().to(objects::core_api))
        .route(
            "/apis/{group}/{version}/{tail:.+}",
            web::route().to(objects::group_api),
        )
        .default_service(web::route().to(not_found));
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Ready when the store answers and the writer, the informer and every controller run.
/// Shaped like kube-apiserver's: `ok`, or with `?verbose` (or on failure) one `[+]`/`[-]`
/// line per check; a failed check's reason shows with `?verbose`.
async fn ready(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let verbose = req
        .query_string()
        .split('&')
        .any(|pair| pair == "verbose" || pair.starts_with("verbose="));
    let mut checks = vec![("ping".to_string(), None)];
    let store = match state.store.last_seq().await {
        Ok(_) => None,
        Err(e) => Some(format!("the store is not readable: {e}")),
    };
    checks.push(("store".to_string(), store));
    for (component, health) in state.log.health().report() {
        let failure = match health {
            crate::health::ComponentState::Up => None,
            crate::health::ComponentState::Down(reason) => Some(reason),
        };
        checks.push((component, failure));
    }
    let failed = checks.iter().any(|(_, failure)| failure.is_some());
    if !failed && !verbose {
        return HttpResponse::Ok().content_type("text/plain").body("ok");
    }
    let mut body = String::new();
    for (name, failure) in &checks {
        match failure {
            None => body.push_str(&format!("[+]{name} ok\n")),
            Some(reason) if verbose => body.push_str(&format!("[-]{name} failed: {reason}\n")),
            Some(_) => body.push_str(&format!("[-]{name} failed: reason withheld\n")),
        }
    }
    if failed {
        body.push_str("readyz check failed");
        HttpResponse::InternalServerError()
            .content_type("text/plain")
            .body(body)
    } else {
        body.push_str("readyz check passed");
        HttpResponse::Ok().content_type("text/plain").body(body)
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Ok(size) = state.store.database_size().await {
        state.metrics.database_bytes.set(size);
    }
    state.metrics.wal_bytes.set(state.store.wal_size());
    if let Ok(point) = state.store.compaction_point().await {
        state.metrics.compaction_point.set(point);
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.encode())
}

async fn version() -> HttpResponse {
    HttpResponse::Ok().json(discovery::version())
}

async fn api_root(req: HttpRequest) -> HttpResponse {
    discovery::core_root(&req)
}

async fn apis_root(req: HttpRequest) -> HttpResponse {
    discovery::groups_root(&req)
}

async fn core_resources() -> HttpResponse {
    discovery::resource_list("")
}

async fn apps_group() -> HttpResponse {
    discovery::group_root("apps")
}

async fn apps_resources() -> HttpResponse {
    discovery::resource_list("apps")
}

async fn coordination_group() -> HttpResponse {
    discovery::group_root("coordination.k8s.io")
}

async fn coordination_resources() -> HttpResponse {
    discovery::resource_list("coordination.k8s.io")
}

async fn discovery_group() -> HttpResponse {
    discovery::group_root("discovery.k8s.io")
}

async fn discovery_resources() -> HttpResponse {
    discovery::resource_list("discovery.k8s.io")
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::path_not_found())
}

fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/livez" | "/readyz") || ui::is_public(path)
}

/// The host (and port) a request was sent to: HTTP/2's `:authority`, else `Host`. Never the
/// `Forwarded` headers, which a client writes as it likes.
fn authority(req: &ServiceRequest) -> Option<String> {
    req.uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(actix_web::http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
}

/// The user the request's bearer token names: the admin when it is the server's token
/// (compared in constant time), a ServiceAccount when it is a valid token of one. Neither the
/// header nor a token is ever logged.
async fn bearer_user(req: &ServiceRequest, state: &AppState) -> Option<String> {
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))?;
    if let Some(admin) = &state.token
        && token_matches(presented, admin.as_bytes())
    {
        return Some(ADMIN_USER.to_string());
    }
    let presented = std::str::from_utf8(presented).ok()?.trim();
    tokens::identify(state, presented).await
}

/// Refuse a request from another origin, answer an allowed origin's preflight, authenticate
/// the bearer token (or, for a GET, the UI's session cookie), refuse a write body of an unknown media type, tag the request with its
/// caller and an audit id, and record the request's count and latency.
pub async fn authenticate_and_measure(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut allowed_origin = None;
    let mut identified = None;
    if let Some(state) = &state {
        let refused = |req: ServiceRequest, error: ApiError, origin: Option<&str>| {
            let mut response = error.error_response();
            if let Some(origin) = origin {
                cors::add_headers(response.headers_mut(), origin);
            }
            Ok(req.into_response(response).map_into_right_body())
        };
        match state.cors.judge(req.headers(), authority(&req).as_deref()) {
            cors::Verdict::SameOrigin => {}
            cors::Verdict::Allowed(origin) => {
                // A preflight is answered here, before authentication: browsers send it
                // without credentials.
                if req.method() == actix_web::http::Method::OPTIONS {
                    let mut response = HttpResponse::NoContent().finish();
                    cors::add_headers(response.headers_mut(), &origin);
                    return Ok(req.into_response(response).map_into_right_body());
                }
                allowed_origin = Some(origin);
            }
            cors::Verdict::Refused(origin) => {
                return refused(req, ApiError::origin_forbidden(&origin), None);
            }
        }
        identified = bearer_user(&req, state).await;
        if state.token.is_some()
            && identified.is_none()
            && !is_public(req.path())
            && !ui::session_reads(&req, &state.ui)
        {
            return refused(req, ApiError::unauthorized(), allowed_origin.as_deref());
        }
        if let Err(error) = body::check_write_media_type(req.request()) {
            return refused(req, error, allowed_origin.as_deref());
        }
    }
    let user = match (identified, state.as_ref().and_then(|s| s.token.as_ref())) {
        (Some(user), _) => user,
        (None, Some(_)) => ADMIN_USER.to_string(),
        (None, None) => "system:anonymous".to_string(),
    };
    req.extensions_mut().insert(Caller {
        user,
        request_id: request_id.clone(),
    });
    let mut response = next.call(req).await?;
    if let Some(origin) = &allowed_origin {
        cors::add_headers(response.headers_mut(), origin);
    }
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("audit-id"),
            value,
        );
    }
    let warnings = response.request().extensions().get::<Warnings>().cloned();
    for warning in bounded_warnings(warnings.unwrap_or_default().0) {
        let text = format!("299 - \"{}\"", warning.replace('"', "\\\""));
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&text) {
            response
                .headers_mut()
                .append(actix_web::http::header::WARNING, value);
        }
    }
    if let Some(state) = state {
        let verb = response
            .request()
            .extensions()
            .get::<RequestVerb>()
            .cloned();
        let (verb, resource) = match verb {
            Some(v) => (v.verb, v.resource),
            None => ("get", String::new()),
        };
        state.metrics.observe_request(
            verb,
            &resource,
            response.status().as_u16(),
            started.elapsed(),
        );
    }
    Ok(response.map_into_left_body())
}

/// Whether `presented` is `token`, in time that depends only on their lengths: comparing byte
/// by byte and stopping at the first difference would tell a client how much of a guess is
/// right.
pub fn token_matches(presented: &[u8], token: &[u8]) -> bool {
    if presented.len() != token.len() {
        return false;
    }
    let difference = presented
        .iter()
        .zip(token)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_matches_only_itself() {
        assert!(token_matches(b"abcdef", b"abcdef"));
        assert!(!token_matches(b"abcdeg", b"abcdef"));
        assert!(!token_matches(b"abcdef ", b"abcdef"));
        assert!(!token_matches(b"abcde", b"abcdef"));
        assert!(!token_matches(b"", b"abcdef"));
    }

    #[test]
    fn warnings_are_sent_once_each_and_bounded_in_number_and_size() {
        let few = vec!["a".to_string(), "b".to_string(), "a".to_string()];
        assert_eq!(bounded_warnings(few), ["a", "b"]);
        let many: Vec<String> = (0..500)
            .map(|i| format!("unknown field \"f{i}\""))
            .collect();
        let kept = bounded_warnings(many);
        assert_eq!(kept.len(), WARNING_HEADERS);
        let long: Vec<String> = (0..40)
            .map(|i| format!("{i}{}", "x".repeat(1000)))
            .collect();
        let kept = bounded_warnings(long);
        assert!(kept.iter().all(|w| w.chars().count() == WARNING_ITEM_CHARS));
        assert_eq!(kept.len(), WARNING_TOTAL_CHARS / WARNING_ITEM_CHARS);
    }
}
