//! Cross-origin requests: which browser origins may call the API (`--cors-allowed-origins`,
//! regular expressions as kube-apiserver takes them), the CORS headers they get, and the
//! refusal of every other origin. Pure: decides from the request's headers, sends nothing.

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use regex::Regex;

// kube-apiserver's defaults for the headers of an allowed origin (`WithCORS` with nil lists).
const ALLOW_METHODS: &str = "POST, GET, OPTIONS, PUT, DELETE, PATCH";
const ALLOW_HEADERS: &str = "Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, \
                             Authorization, X-Requested-With, If-Modified-Since";
const EXPOSE_HEADERS: &str = "Date";

/// The origins allowed to call the API, and the scheme the server itself is reached by.
#[derive(Debug, Clone)]
pub struct Origins {
    allowed: Vec<Regex>,
    scheme: &'static str,
}

/// What to do with a request, by its `Origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No `Origin`, or the server's own: not a cross-origin request.
    SameOrigin,
    /// An allowed origin: answer with the CORS headers for it.
    Allowed(String),
    /// Any other origin: refused before anything else happens. kube-apiserver only leaves the
    /// CORS headers off and lets the request run, which stops a page from reading the answer
    /// but not from causing a write.
    Refused(String),
}

impl Origins {
    /// Compile `patterns`, each a regular expression matched anywhere in the `Origin` header
    /// as kube-apiserver does (anchor it, `^https://app\.example$`, to match one origin).
    pub fn new(patterns: &[String], tls: bool) -> Result<Self, String> {
        let allowed = patterns
            .iter()
            .map(|p| {
                Regex::new(p)
                    .map_err(|e| format!("invalid --cors-allowed-origins entry {p:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Origins {
            allowed,
            scheme: if tls { "https" } else { "http" },
        })
    }

    /// Judge a request carrying these headers; `authority` is the host (and port) it was sent
    /// to, from `Host` or HTTP/2's `:authority`.
    pub fn judge(&self, headers: &HeaderMap, authority: Option<&str>) -> Verdict {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Verdict::SameOrigin;
        };
        let Ok(origin) = origin.to_str() else {
            return Verdict::Refused(String::from_utf8_lossy(origin.as_bytes()).into_owned());
        };
        if let Some(authority) = authority
            && origin.eq_ignore_ascii_case(&format!("{}://{authority}", self.scheme))
        {
            return Verdict::SameOrigin;
        }
        if self.allowed.iter().any(|re| re.is_match(origin)) {
            Verdict::Allowed(origin.to_string())
        } else {
            Verdict::Refused(origin.to_string())
        }
    }
}

/// Add the headers kube-apiserver sends to an allowed origin.
pub fn add_headers(headers: &mut HeaderMap, origin: &str) {
    let Ok(origin) = HeaderValue::from_str(origin) else {
        return;
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    for (name, value) in [
        (header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS),
        (header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS),
        (header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS),
        (header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        headers
    }

    #[test]
    fn origins_are_judged_by_pattern_and_by_the_server_s_own_address() {
        let origins = Origins::new(&[r"^https://app\.example$".to_string()], true).unwrap();
        let host = Some("127.0.0.1:6443");
        assert_eq!(origins.judge(&HeaderMap::new(), host), Verdict::SameOrigin);
        assert_eq!(
            origins.judge(&with_origin("https://127.0.0.1:6443"), host),
            Verdict::SameOrigin
        );
        assert_eq!(
            origins.judge(&with_origin("https://app.example"), host),
            Verdict::Allowed("https://app.example".into())
        );
        for refused in [
            "https://evil.example",
            "https://app.example.evil.example",
            "http://127.0.0.1:6443",
            "null",
        ] {
            assert_eq!(
                origins.judge(&with_origin(refused), host),
                Verdict::Refused(refused.into()),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_bad_pattern_is_an_error_naming_it() {
        let error = Origins::new(&["(".to_string()], true).unwrap_err();
        assert!(error.contains("\"(\""), "{error}");
    }
}
