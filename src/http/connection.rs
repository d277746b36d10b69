//! `ConnectionWatch`: tells a streaming response that its client's connection has closed.
//! actix drops a response body only when a write to the client fails, so a quiet body (a
//! followed log with nothing new) would otherwise outlive its client until the server stops.

use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use std::any::Any;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use tokio::io::Interest;

type TlsStream = actix_tls::accept::rustls_0_23::TlsStream<TcpStream>;

/// A duplicate of the connection's socket descriptor; it is only ever polled for readiness,
/// never read or written, and closing it does not close the connection.
#[derive(Clone)]
pub struct ConnectionWatch(Arc<OwnedFd>);

/// `HttpServer::on_connect` hook: attach a watch to every TCP or TLS connection.
pub fn on_connect(connection: &dyn Any, data: &mut Extensions) {
    let socket = if let Some(tcp) = connection.downcast_ref::<TcpStream>() {
        tcp.as_fd().try_clone_to_owned()
    } else if let Some(tls) = connection.downcast_ref::<TlsStream>() {
        tls.get_ref().0.as_fd().try_clone_to_owned()
    } else {
        return;
    };
    match socket {
        Ok(fd) => {
            data.insert(ConnectionWatch(Arc::new(fd)));
        }
        Err(e) => tracing::debug!(error = %e, "cannot watch the connection"),
    }
}

impl ConnectionWatch {
    /// The watch of the connection `req` came on, if there is one.
    pub fn of(req: &actix_web::HttpRequest) -> Option<ConnectionWatch> {
        req.conn_data::<ConnectionWatch>().cloned()
    }

    /// Resolves once the client has closed (or reset) the connection; never when that cannot
    /// be watched.
    pub async fn closed(self) {
        let watched = self
            .0
            .try_clone()
            .map(std::net::TcpStream::from)
            .and_then(TcpStream::from_std);
        let Ok(socket) = watched else {
            return std::future::pending().await;
        };
        loop {
            let Ok(ready) = socket.ready(Interest::READABLE).await else {
                return std::future::pending().await;
            };
            if ready.is_read_closed() {
                return;
            }
            // Data from the client is the server's to read: forget this readiness without
            // reading, and wait for the next event.
            let _ = socket.try_io(Interest::READABLE, || {
                Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
            });
        }
    }
}

impl ConnectionWatch {
    /// Shut the connection down in both directions, so the server's pending writes fail and
    /// actix drops the connection with whatever it was sending. For a client that stopped
    /// reading: nothing else would ever end its connection.
    pub fn shut_down(&self) {
        let shut = self
            .0
            .try_clone()
            .map(std::net::TcpStream::from)
            .and_then(|socket| socket.shutdown(std::net::Shutdown::Both));
        if let Err(e) = shut {
            tracing::debug!(error = %e, "cannot shut the connection down");
        }
    }
}

/// Resolves when the client of a request goes away (never if that cannot be known).
pub async fn client_gone(watch: Option<ConnectionWatch>) {
    match watch {
        Some(watch) => watch.closed().await,
        None => std::future::pending().await,
    }
}
