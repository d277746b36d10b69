//! `ConnectionWatch`: tells a streaming response that its client's connection has closed.
//! actix drops a response body only when a write to the client fails, so a quiet body (a
//! followed log with nothing new) would otherwise outlive its client until the server stops.

use actix_web::rt::net::TcpStream;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use tokio::io::Interest;

/// A duplicate of the connection's socket descriptor; it is only ever polled for readiness,
/// never read or written, and closing it does not close the connection.
#[derive(Clone)]
pub struct ConnectionWatch(Arc<OwnedFd>);

/// Marks a request that came over TLS (a cookie it sets may be `Secure`).
#[derive(Clone, Copy, Debug)]
pub struct OverTls;

impl ConnectionWatch {
    /// A watch on `socket`, the connection's TCP socket, if its descriptor can be duplicated.
    pub fn of_socket(socket: &TcpStream) -> Option<ConnectionWatch> {
        match socket.as_fd().try_clone_to_owned() {
            Ok(fd) => Some(ConnectionWatch(Arc::new(fd))),
            Err(e) => {
                tracing::debug!(error = %e, "cannot watch the connection");
                None
            }
        }
    }

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
