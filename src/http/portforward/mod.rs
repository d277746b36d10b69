//! `pods/{name}/portforward`: connections to ports inside the pod's network namespace, in the
//! three ways clients ask. kubectl (1.31+) tunnels SPDY/3.1 in websocket messages
//! (`SPDY/3.1+portforward.k8s.io`), falling back to a plain SPDY/3.1 upgrade (`POST`,
//! `Upgrade: SPDY/3.1`, `X-Stream-Protocol-Version: portforward.k8s.io`; made streamable by
//! `upgrade::MarkedUpgrade` before the request is parsed); the Python client speaks the
//! websocket channel protocol (`v4.channel.k8s.io`, ports in the `ports` query).
//! The pod, its sandbox and the privilege to enter its namespace are checked before any
//! upgrade, so kubectl prints the `Status` of a refusal. Never writes the store.

pub mod dictionary;
pub mod session;
pub mod spdy;
pub mod upgrade;
pub mod websocket;

use super::AppState;
use super::error::ApiError;
use super::netns::PodNetwork;
use super::params::Query;
use super::target::Target;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use session::{Dial, Limits};
use std::sync::Arc;

/// The port-forward protocol version negotiated over SPDY.
pub const PROTOCOL: &str = "portforward.k8s.io";
/// SPDY tunnelled in websocket messages.
pub const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The websocket channel protocol.
pub const CHANNEL_PROTOCOL: &str = "v4.channel.k8s.io";
/// The `Upgrade` token of a plain SPDY upgrade.
pub const SPDY_UPGRADE: &str = "SPDY/3.1";
/// Request and response header naming SPDY stream protocols.
pub const STREAM_PROTOCOL_HEADER: &str = "X-Stream-Protocol-Version";

/// How a client asked to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// kubectl's: SPDY in websocket messages.
    Tunnel,
    /// The channel protocol, with the ports to forward.
    Channels(Vec<u16>),
    /// A plain SPDY/3.1 upgrade.
    Spdy,
}

/// The refusal of a plain SPDY/3.1 upgrade that `MarkedUpgrade` did not mark: it was not the
/// first request of its HTTP/1.1 connection (or came over HTTP/2, which has no upgrades), so
/// the bytes after it would be parsed as the next request.
fn spdy_not_streamed() -> ApiError {
    ApiError::bad_request(
        "unable to upgrade: a SPDY/3.1 upgrade must be the first request of a new HTTP/1.1 \
         connection",
    )
}

/// Whether `req` is a SPDY/3.1 upgrade `MarkedUpgrade` made streamable.
fn marked_spdy(req: &HttpRequest) -> bool {
    req.headers()
        .get(upgrade::MARK_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(SPDY_UPGRADE))
}

/// The protocol of a request from its headers (and, for channels, its `ports`), or the
/// `Status` refusing it.
pub fn negotiate(req: &HttpRequest, query: &Query) -> Result<Protocol, ApiError> {
    let upgrade: Vec<String> = req
        .headers()
        .get_all(header::UPGRADE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    let marked = marked_spdy(req);
    if upgrade.iter().any(|u| u == "websocket") && !marked {
        let offered: Vec<&str> = req
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if offered.contains(&TUNNEL_PROTOCOL) {
            return Ok(Protocol::Tunnel);
        }
        if offered.is_empty() || offered.contains(&CHANNEL_PROTOCOL) {
            return Ok(Protocol::Channels(ports(query)?));
        }
        return Err(ApiError::bad_request(format!(
            "unable to upgrade: none of the offered subprotocols is served; offer one of: \
             {TUNNEL_PROTOCOL}, {CHANNEL_PROTOCOL}"
        )));
    }
    if marked
        || upgrade
            .iter()
            .any(|u| u == &SPDY_UPGRADE.to_ascii_lowercase())
    {
        let offered: Vec<&str> = req
            .headers()
            .get_all(STREAM_PROTOCOL_HEADER)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        if offered.is_empty() {
            return Err(ApiError::bad_request(format!(
                "unable to upgrade: {STREAM_PROTOCOL_HEADER} is required"
            )));
        }
        if !offered.contains(&PROTOCOL) {
            return Err(ApiError::bad_request(format!(
                "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, \
                 server accepts [\"{PROTOCOL}\"]"
            )));
        }
        return match marked {
            true => Ok(Protocol::Spdy),
            false => Err(spdy_not_streamed()),
        };
    }
    Err(ApiError::bad_request("Upgrade request required"))
}

/// `ports=80,81` (or repeated): the channel protocol's ports, checked as the kubelet does.
pub fn ports(query: &Query) -> Result<Vec<u16>, ApiError> {
    let given = query.all("ports");
    if given.is_empty() {
        return Err(ApiError::bad_request(
            "query parameter \"ports\" is required",
        ));
    }
    let mut ports = Vec::new();
    for value in given {
        if value.is_empty() {
            return Err(ApiError::bad_request(
                "query parameter \"ports\" cannot be empty",
            ));
        }
        for part in value.split(',') {
            let port: u16 = part.trim().parse().map_err(|e| {
                ApiError::bad_request(format!("unable to parse {value:?} as a port: {e}"))
            })?;
            if port == 0 {
                return Err(ApiError::bad_request(format!("port {value:?} must be > 0")));
            }
            ports.push(port);
        }
    }
    // Two channels a port, numbered in one byte.
    if ports.len() > 127 {
        return Err(ApiError::bad_request(
            "at most 127 ports can be forwarded at once",
        ));
    }
    Ok(ports)
}

pub async fn serve(
    req: HttpRequest,
    payload: web::Payload,
    state: &AppState,
    target: &Target,
    query: &Query,
) -> Result<HttpResponse, ApiError> {
    state.docker.check_allowed()?;
    let name = target.name.as_deref().unwrap_or("");
    let namespace = target.namespace.as_deref().unwrap_or("");
    let protocol = negotiate(&req, query)?;
    // The pod is checked first: kubectl falls back to SPDY when the websocket is refused, and
    // prints what the SPDY request is told.
    let network: Arc<dyn Dial> =
        Arc::new(PodNetwork::find(&state.store, &state.docker, namespace, name).await?);
    let limits = Limits::default();
    match protocol {
        Protocol::Tunnel => {
            websocket::serve_tunnel(&req, payload, &[TUNNEL_PROTOCOL], network, limits)
        }
        Protocol::Channels(ports) => {
            websocket::serve_channels(&req, payload, &[CHANNEL_PROTOCOL], network, ports, limits)
        }
        Protocol::Spdy => Ok(upgrade::serve_spdy(payload, network, limits)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn negotiated(headers: &[(&str, &str)], query: &str) -> Result<Protocol, (u16, String)> {
        let mut req = TestRequest::get();
        for (name, value) in headers {
            req = req.append_header((*name, *value));
        }
        negotiate(&req.to_http_request(), &Query::parse(query).unwrap())
            .map_err(|e| (e.code(), e.to_string()))
    }

    #[test]
    fn each_client_gets_its_protocol() {
        let ws = ("Upgrade", "websocket");
        assert_eq!(
            negotiated(&[ws, ("Sec-WebSocket-Protocol", TUNNEL_PROTOCOL)], ""),
            Ok(Protocol::Tunnel)
        );
        assert_eq!(
            negotiated(
                &[ws, ("Sec-WebSocket-Protocol", "v4.channel.k8s.io")],
                "ports=80,81"
            ),
            Ok(Protocol::Channels(vec![80, 81]))
        );
        assert_eq!(
            negotiated(&[ws], "ports=80&ports=8080"),
            Ok(Protocol::Channels(vec![80, 8080]))
        );
        assert_eq!(
            negotiated(
                &[
                    ws,
                    ("X-Kubetrail-Upgrade", "SPDY/3.1"),
                    ("X-Stream-Protocol-Version", "portforward.k8s.io")
                ],
                ""
            ),
            Ok(Protocol::Spdy)
        );
    }

    #[test]
    fn refusals_are_statuses() {
        let ws = ("Upgrade", "websocket");
        for (reason, headers, query, message) in [
            ("no upgrade", vec![], "", "Upgrade request required"),
            (
                "channels without ports",
                vec![ws, ("Sec-WebSocket-Protocol", "v4.channel.k8s.io")],
                "",
                "query parameter \"ports\" is required",
            ),
            ("port 0", vec![ws], "ports=0", "port \"0\" must be > 0"),
            (
                "not a port",
                vec![ws],
                "ports=http",
                "unable to parse \"http\" as a port: invalid digit found in string",
            ),
            (
                "another websocket protocol",
                vec![ws, ("Sec-WebSocket-Protocol", "v5.channel.k8s.io")],
                "ports=80",
                "unable to upgrade: none of the offered subprotocols is served; offer one of: SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io",
            ),
            (
                "SPDY without a protocol",
                vec![("Upgrade", "SPDY/3.1")],
                "",
                "unable to upgrade: X-Stream-Protocol-Version is required",
            ),
            (
                "SPDY after another request on its connection",
                vec![
                    ("Upgrade", "SPDY/3.1"),
                    ("X-Stream-Protocol-Version", "portforward.k8s.io"),
                ],
                "",
                "unable to upgrade: a SPDY/3.1 upgrade must be the first request of a new HTTP/1.1 connection",
            ),
            (
                "SPDY with exec's protocols",
                vec![
                    ("Upgrade", "SPDY/3.1"),
                    ("X-Stream-Protocol-Version", "v4.channel.k8s.io"),
                ],
                "",
                "unable to upgrade: unable to negotiate protocol: client supports [\"v4.channel.k8s.io\"], server accepts [\"portforward.k8s.io\"]",
            ),
        ] {
            assert_eq!(
                negotiated(&headers, query),
                Err((400, message.to_string())),
                "{reason}"
            );
        }
    }
}
