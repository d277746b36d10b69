//! The API's listener: actix-http's connection pipeline (TLS handshake, protocol from ALPN,
//! HTTP/1 or HTTP/2) assembled here rather than by `HttpServer`, so that every HTTP/1
//! connection reaches the parser through `MarkedUpgrade` (plain SPDY upgrades made streamable)
//! and carries its `ConnectionWatch` and, over TLS, `OverTls`. The settings are
//! `HttpServer`'s defaults, with TCP_NODELAY on and a 5 s shutdown grace. Wiring only.

use crate::http::connection::{ConnectionWatch, OverTls};
use crate::http::portforward::upgrade::MarkedUpgrade;
use actix_http::{HttpService, Protocol};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, ServiceFactory, ServiceFactoryExt, fn_service, map_config,
};
use actix_tls::accept::TlsError;
use actix_tls::accept::rustls_0_23::{Acceptor, TlsStream};
use actix_web::App;
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Extensions, ServiceRequest, ServiceResponse};
use actix_web::rt::net::TcpStream;
use std::net::TcpListener;
use std::time::Duration;

/// How long a client may take to send its first request head.
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection may take to drain.
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Seconds in-flight requests get to finish once the server is told to stop.
const SHUTDOWN_GRACE_SECS: u64 = 5;

/// A connection's TCP socket, under whatever carries the HTTP.
trait Socket {
    fn tcp(&self) -> &TcpStream;
}

impl Socket for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Socket for TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// What every connection carries for the handlers.
fn on_connect<T: Socket>(io: &MarkedUpgrade<T>, data: &mut Extensions, tls: bool) {
    if let Some(watch) = ConnectionWatch::of_socket(io.get_ref().tcp()) {
        data.insert(watch);
    }
    if tls {
        data.insert(OverTls);
    }
}

/// Serve the app `factory` builds on `listener`, over TLS with `tls`, until stopped.
pub fn serve<F, T, B>(
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    factory: F,
) -> std::io::Result<Server>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let builder = Server::build().shutdown_timeout(SHUTDOWN_GRACE_SECS);
    let shutdown = builder.graceful_shutdown_signal();
    let addr = listener.local_addr()?;
    let builder = match tls {
        None => builder.listen("kubetrail-api", listener, move || {
            let shutdown = shutdown.clone();
            let http = HttpService::<MarkedUpgrade<TcpStream>, _, _, _, _>::build()
                .graceful_shutdown_signal(move || {
                    let signal = shutdown.clone();
                    async move { signal.notified().await }
                })
                .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
                .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
                .h1_allow_half_closed(true)
                .local_addr(addr)
                .on_connect_ext(|io: &_, data: &mut Extensions| on_connect(io, data, false))
                .finish(map_config(app_service(factory()), |_| AppConfig::default()));
            fn_service(|tcp: TcpStream| async move {
                let _ = tcp.set_nodelay(true);
                let peer = tcp.peer_addr().ok();
                Ok::<_, actix_http::error::DispatchError>((
                    MarkedUpgrade::new(tcp),
                    Protocol::Http1,
                    peer,
                ))
            })
            .and_then(http)
        })?,
        // The config offers h2 and http/1.1 by ALPN (`tls::server_config`).
        Some(config) => {
            builder.listen("kubetrail-api", listener, move || {
                let shutdown = shutdown.clone();
                let http = HttpService::<MarkedUpgrade<TlsStream<TcpStream>>, _, _, _, _>::build()
                    .graceful_shutdown_signal(move || {
                        let signal = shutdown.clone();
                        async move { signal.notified().await }
                    })
                    .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
                    .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
                    .h1_allow_half_closed(true)
                    .local_addr(addr)
                    .on_connect_ext(|io: &_, data: &mut Extensions| on_connect(io, data, true))
                    .finish(map_config(app_service(factory()), |_| AppConfig::default()));
                Acceptor::new(config.clone())
                    .map_init_err(|_| ())
                    .map_err(|e: TlsError<std::io::Error, std::convert::Infallible>| {
                        tracing::debug!(error = ?e, "TLS handshake failed");
                    })
                    .and_then(fn_service(|tls: TlsStream<TcpStream>| async move {
                        let _ = tls.get_ref().0.set_nodelay(true);
                        let peer = tls.get_ref().0.peer_addr().ok();
                        // HTTP/2 has no upgrades: its bytes go straight to the parser.
                        let h2 = tls.get_ref().1.alpn_protocol().is_some_and(|p| p == b"h2");
                        Ok::<_, ()>(match h2 {
                            true => (MarkedUpgrade::through(tls), Protocol::Http2, peer),
                            false => (MarkedUpgrade::new(tls), Protocol::Http1, peer),
                        })
                    }))
                    .and_then(http.map_err(|e| {
                        tracing::debug!(error = ?e, "connection ended with an error");
                    }))
            })?
        }
    };
    Ok(builder.run())
}

/// The app as actix-http serves it: errors become their responses.
fn app_service<T, B>(
    app: App<T>,
) -> impl ServiceFactory<
    actix_http::Request,
    Config = AppConfig,
    Response = ServiceResponse<B>,
    Error = actix_http::Response<actix_web::body::BoxBody>,
    InitError = (),
>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    app.into_factory()
        .map_err(|err: actix_web::Error| err.error_response().into())
}
