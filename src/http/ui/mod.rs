//! The timeline web UI at `/ui/`: the page, its script and style sheet (embedded in the binary,
//! nothing fetched from elsewhere) and the browser's login. `kubetrail ui` asks for a one-time
//! code with the bearer token (`POST /ui/login-codes`); `/ui/login?code=` trades it for an
//! HttpOnly, SameSite=Strict session cookie, which authenticates GET requests only, so the page
//! can read the API and a cookie can never write. The page itself carries no secret.

use super::AppState;
use super::error::ApiError;
use actix_web::dev::ServiceRequest;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// The session cookie's name.
pub const COOKIE: &str = "kubetrail-ui";
/// How long a login code works: long enough to open the printed link, short enough that a
/// link found later in a terminal's scrollback is useless.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// How long a browser stays logged in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Live codes and sessions held at most: past it the one nearest its end is dropped, so no
/// number of requests grows the server's memory.
pub const MAX_CODES: usize = 32;
pub const MAX_SESSIONS: usize = 64;

/// The policy of every UI response: the page's own script and style sheet, API calls to its
/// own origin, no framing, no plugins, no inline script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A secret's SHA-256: codes and sessions are stored and looked up by it, so a lookup compares
/// digests, never the secret a client presents, and the table holds nothing a memory dump
/// could replay.
type Digest = [u8; 32];

fn digest(secret: &str) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()).as_ref());
    out
}

/// 256 random bits as 64 hex digits.
fn new_secret() -> String {
    use rand::RngExt;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Secrets with their expiry, at most `cap` of them.
struct Expiring {
    entries: HashMap<Digest, Instant>,
    cap: usize,
}

impl Expiring {
    fn new(cap: usize) -> Self {
        Expiring {
            entries: HashMap::new(),
            cap,
        }
    }

    fn insert(&mut self, secret: &str, expires: Instant, now: Instant) {
        self.entries.retain(|_, end| *end > now);
        while self.entries.len() >= self.cap {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, end)| **end)
                .map(|(key, _)| *key)
            else {
                break;
            };
            self.entries.remove(&oldest);
        }
        self.entries.insert(digest(secret), expires);
    }

    fn live(&self, secret: &str, now: Instant) -> bool {
        self.entries
            .get(&digest(secret))
            .is_some_and(|end| *end > now)
    }

    /// Remove `secret`; whether it was live.
    fn take(&mut self, secret: &str, now: Instant) -> bool {
        self.entries
            .remove(&digest(secret))
            .is_some_and(|end| end > now)
    }
}

struct Tables {
    codes: Expiring,
    sessions: Expiring,
}

/// The UI's login codes and browser sessions, in memory: a restart logs every browser out.
pub struct Sessions {
    // A std mutex: each use is a few map operations, never held across an await.
    tables: Mutex<Tables>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new()
    }
}

impl Sessions {
    pub fn new() -> Self {
        Sessions {
            tables: Mutex::new(Tables {
                codes: Expiring::new(MAX_CODES),
                sessions: Expiring::new(MAX_SESSIONS),
            }),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // The tables stay consistent even if a holder panicked: each change is one map call.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh one-time login code, good for `CODE_LIFETIME` from `now`.
    pub fn issue_code(&self, now: Instant) -> String {
        let code = new_secret();
        self.tables().codes.insert(&code, now + CODE_LIFETIME, now);
        code
    }

    /// Trade a live code for a new session id; the code works once.
    pub fn redeem(&self, code: &str, now: Instant) -> Option<String> {
        let mut tables = self.tables();
        if !tables.codes.take(code, now) {
            return None;
        }
        let session = new_secret();
        tables
            .sessions
            .insert(&session, now + SESSION_LIFETIME, now);
        Some(session)
    }

    /// Whether `session` is a live session id.
    pub fn is_live(&self, session: &str, now: Instant) -> bool {
        self.tables().sessions.live(session, now)
    }
}

/// Paths served without credentials: the page and its assets (they hold no data and no
/// secret; the page asks the API, which wants a session or a token) and the login itself.
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/ui" | "/ui/" | "/ui/app.js" | "/ui/app.css" | "/ui/actors.json" | "/ui/login"
    )
}

/// The session cookie's value among the request's `Cookie` headers.
fn session_cookie(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            pair.trim()
                .strip_prefix(COOKIE)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_string)
        })
}

/// Whether a live session cookie authenticates this request: only a plain GET (no protocol
/// upgrade, so never an exec or attach stream), because the page only reads. A cookie rides
/// along with requests a browser makes on its own; limiting it to reads means no forged
/// request can change anything with it.
pub fn session_reads(req: &ServiceRequest, sessions: &Sessions) -> bool {
    req.method() == Method::GET
        && !req.headers().contains_key(header::UPGRADE)
        && session_cookie(req).is_some_and(|id| sessions.is_live(&id, Instant::now()))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui", web::get().to(to_page))
        .route("/ui/", web::get().to(page))
        .route("/ui/app.js", web::get().to(script))
        .route("/ui/app.css", web::get().to(style))
        .route("/ui/actors.json", web::get().to(actors))
        .route("/ui/login", web::get().to(login))
        .route("/ui/login-codes", web::post().to(create_login_code));
}

/// A UI response: never cached (the page is small and changes with the binary), never sniffed
/// as another type, never framed, and no `Referer` sent from it.
fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(body)
}

/// `GET /ui`: the page lives at `/ui/`, so its relative URLs resolve beside it.
async fn to_page() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}

async fn page() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// `GET /ui/actors.json`: the actor names the page sorts into lanes (scheduler, controllers,
/// kubelets, the server; anyone else is a person), from `api::actors`, where they are defined
/// once.
async fn actors() -> HttpResponse {
    use crate::api::actors;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .json(serde_json::json!({
            "scheduler": actors::SCHEDULER,
            "controllers": actors::CONTROLLERS,
            "system": actors::SYSTEM,
            "kubeletPrefix": actors::KUBELET_PREFIX,
        }))
}

/// `POST /ui/login-codes` (authenticated by the bearer token, as every write): a one-time code
/// for `GET /ui/login?code=`.
async fn create_login_code(state: web::Data<AppState>) -> HttpResponse {
    let code = state.ui.issue_code(Instant::now());
    HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "apiVersion": crate::api::GROUP_VERSION,
            "kind": "LoginCode",
            "code": code,
            "path": format!("/ui/login?code={code}"),
            "expiresInSeconds": CODE_LIFETIME.as_secs(),
        }))
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    code: Option<String>,
}

/// `GET /ui/login?code=`: a live code becomes a session cookie and a redirect to the page, so
/// the address bar keeps no code; anything else is a 401 saying how to get a new link.
async fn login(
    req: HttpRequest,
    query: web::Query<LoginQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let code = query.code.as_deref().unwrap_or("");
    let Some(session) = state.ui.redeem(code, Instant::now()) else {
        return Err(ApiError::login_refused());
    };
    // `Secure` whenever the browser reached the server over TLS; a plain-HTTP server (only
    // on loopback) could not set a cookie the browser would send back otherwise.
    let secure = if req
        .conn_data::<crate::http::connection::OverTls>()
        .is_some()
    {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_LIFETIME.as_secs()
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/ui/"))
        .insert_header((header::SET_COOKIE, cookie))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_once_and_only_while_it_lives() {
        let sessions = Sessions::new();
        let now = Instant::now();
        let code = sessions.issue_code(now);
        assert_eq!(code.len(), 64);
        let session = sessions.redeem(&code, now).expect("a fresh code");
        assert!(sessions.is_live(&session, now));
        assert!(sessions.redeem(&code, now).is_none(), "a code works once");

        let late = sessions.issue_code(now);
        assert!(sessions.redeem(&late, now + CODE_LIFETIME).is_none());
        assert!(sessions.redeem("", now).is_none());
        assert!(
            sessions.redeem(&session, now).is_none(),
            "a session is no code"
        );
    }

    #[test]
    fn a_session_ends_after_its_lifetime() {
        let sessions = Sessions::new();
        let now = Instant::now();
        let code = sessions.issue_code(now);
        let session = sessions.redeem(&code, now).expect("a fresh code");
        assert!(sessions.is_live(&session, now + SESSION_LIFETIME / 2));
        assert!(!sessions.is_live(&session, now + SESSION_LIFETIME));
        assert!(!sessions.is_live(&code, now), "a code is no session");
    }

    #[test]
    fn codes_and_sessions_are_bounded_dropping_the_oldest() {
        let sessions = Sessions::new();
        let start = Instant::now();
        let codes: Vec<String> = (0..MAX_CODES + 10)
            .map(|i| sessions.issue_code(start + Duration::from_millis(i as u64)))
            .collect();
        assert_eq!(sessions.tables().codes.entries.len(), MAX_CODES);
        let now = start + Duration::from_secs(1);
        assert!(sessions.redeem(&codes[0], now).is_none(), "the oldest went");
        let mut ids = Vec::new();
        for i in 0..MAX_SESSIONS + 5 {
            let at = now + Duration::from_millis(i as u64);
            let code = sessions.issue_code(at);
            ids.push(sessions.redeem(&code, at).expect("a fresh code"));
        }
        assert_eq!(sessions.tables().sessions.entries.len(), MAX_SESSIONS);
        let later = now + Duration::from_secs(1);
        assert!(!sessions.is_live(&ids[0], later));
        assert!(
            ids[ids.len() - 1..]
                .iter()
                .all(|id| sessions.is_live(id, later))
        );
    }

    #[test]
    fn only_the_page_its_assets_and_the_login_are_public() {
        for path in [
            "/ui",
            "/ui/",
            "/ui/app.js",
            "/ui/app.css",
            "/ui/actors.json",
            "/ui/login",
        ] {
            assert!(is_public(path), "{path}");
        }
        for path in ["/ui/login-codes", "/ui/other", "/api/v1/pods", "/uix"] {
            assert!(!is_public(path), "{path}");
        }
    }

    #[test]
    fn the_assets_load_nothing_from_outside_the_server() {
        for (name, text) in [
            ("index.html", INDEX_HTML),
            ("app.js", APP_JS),
            ("app.css", APP_CSS),
        ] {
            for marker in [
                "src=\"http",
                "href=\"http",
                "src=\"//",
                "href=\"//",
                "fetch(\"http",
                "fetch('http",
                "@import",
                "url(",
            ] {
                assert!(!text.contains(marker), "{name} contains {marker}");
            }
        }
    }
}
