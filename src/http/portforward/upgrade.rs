//! Plain SPDY/3.1 upgrades made streamable. actix-http hands a handler the bytes that follow a
//! request head only when the head asks for `Upgrade: websocket`; after any other upgrade it
//! would parse the client's SPDY frames as the next request. `MarkedUpgrade` wraps a
//! connection and reads its first request head before the HTTP parser does: a port-forward
//! request (`…/portforward`) asking `Upgrade: SPDY/3.1` is passed on as a websocket upgrade
//! carrying `X-Kubetrail-Upgrade: SPDY/3.1`, so its bytes stream to the handler, which answers
//! in SPDY (`negotiate` reads the mark). Every other head, and everything after the first
//! head, passes unchanged. kubectl dials a new connection for each SPDY upgrade, so the first
//! head is the only one that can be one.

use super::session::{self, Dial, Limits};
use super::{PROTOCOL, SPDY_UPGRADE, STREAM_PROTOCOL_HEADER};
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The header the marked head carries; a client's own copies are removed from a head that is
/// marked, and ignored on a head that is not streamed.
pub const MARK_HEADER: &str = "X-Kubetrail-Upgrade";
/// Longest first head looked at; a longer one passes unchanged (the parser refuses it).
pub const MAX_HEAD: usize = 64 * 1024;
/// Bytes read from the connection at once while the head is incomplete.
const READ_CHUNK: usize = 8 * 1024;
/// Chunks queued each way between the connection and the SPDY session.
const QUEUE: usize = 16;

/// Answer a marked SPDY/3.1 upgrade: `101 Switching Protocols`, then a SPDY session over the
/// request's streamed bytes and the response's body.
pub fn serve_spdy(mut payload: web::Payload, dial: Arc<dyn Dial>, limits: Limits) -> HttpResponse {
    let (incoming, incoming_rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
    let (outgoing, outgoing_rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
    actix_web::rt::spawn(session::run(
        tokio_stream::wrappers::ReceiverStream::new(incoming_rx),
        outgoing,
        dial,
        limits,
    ));
    // The payload is the connection's reading side; it ends when the client closes it.
    actix_web::rt::spawn(async move {
        while let Some(Ok(chunk)) = payload.next().await {
            if incoming.send(chunk).await.is_err() {
                return;
            }
        }
    });
    HttpResponse::SwitchingProtocols()
        .upgrade(SPDY_UPGRADE)
        .insert_header((STREAM_PROTOCOL_HEADER, PROTOCOL))
        .streaming(
            tokio_stream::wrappers::ReceiverStream::new(outgoing_rx)
                .map(Ok::<Bytes, std::convert::Infallible>),
        )
}

/// The head `head` (request line and headers, ending `\r\n\r\n`) rewritten when it is a plain
/// SPDY/3.1 upgrade of a port-forward request; `None` when it passes unchanged.
pub fn mark_spdy_upgrade(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let body = text.strip_suffix("\r\n\r\n")?;
    let mut lines = body.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    let (_method, target) = (parts.next()?, parts.next()?);
    let path = target.split('?').next().unwrap_or(target);
    if !path.ends_with("/portforward") {
        return None;
    }
    let mut kept = Vec::new();
    let mut spdy = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.trim().eq_ignore_ascii_case(MARK_HEADER) {
            continue;
        }
        if name.trim().eq_ignore_ascii_case("upgrade") {
            let tokens: Vec<&str> = value.split(',').map(str::trim).collect();
            if tokens.iter().any(|t| t.eq_ignore_ascii_case("websocket")) {
                return None;
            }
            if tokens.iter().any(|t| t.eq_ignore_ascii_case("SPDY/3.1")) {
                spdy = true;
                continue;
            }
        }
        kept.push(line);
    }
    if !spdy {
        return None;
    }
    let mut out = String::with_capacity(head.len() + 64);
    out.push_str(request_line);
    out.push_str("\r\n");
    for line in kept {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Upgrade: websocket\r\n");
    out.push_str(MARK_HEADER);
    out.push_str(": SPDY/3.1\r\n\r\n");
    Some(out.into_bytes())
}

enum Reading {
    /// The first head is still being read: the bytes so far.
    Head(Vec<u8>),
    /// The (possibly rewritten) head and what followed it, handed out before the connection.
    Replay(Vec<u8>, usize),
    Through,
}

/// A connection whose first request head is passed through `mark_spdy_upgrade`.
pub struct MarkedUpgrade<T> {
    inner: T,
    reading: Reading,
}

impl<T> MarkedUpgrade<T> {
    pub fn new(inner: T) -> MarkedUpgrade<T> {
        MarkedUpgrade {
            inner,
            reading: Reading::Head(Vec::new()),
        }
    }

    /// A connection passed unchanged (HTTP/2 has no upgrades).
    pub fn through(inner: T) -> MarkedUpgrade<T> {
        MarkedUpgrade {
            inner,
            reading: Reading::Through,
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

/// Where the head of `bytes` ends, if it does.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// What to replay once `seen` holds a whole head, or more than any head may be.
fn replay_of(mut seen: Vec<u8>) -> Vec<u8> {
    if let Some(end) = head_end(&seen)
        && let Some(mut marked) = mark_spdy_upgrade(&seen[..end])
    {
        marked.extend_from_slice(&seen[end..]);
        return marked;
    }
    seen.shrink_to_fit();
    seen
}

impl<T: AsyncRead + Unpin> AsyncRead for MarkedUpgrade<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.reading {
                Reading::Through => return Pin::new(&mut this.inner).poll_read(cx, buf),
                Reading::Replay(bytes, at) => {
                    let n = buf.remaining().min(bytes.len() - *at);
                    buf.put_slice(&bytes[*at..*at + n]);
                    *at += n;
                    if *at == bytes.len() {
                        this.reading = Reading::Through;
                    }
                    return Poll::Ready(Ok(()));
                }
                Reading::Head(seen) => {
                    let mut chunk = [0u8; READ_CHUNK];
                    let mut chunk_buf = ReadBuf::new(&mut chunk);
                    match Pin::new(&mut this.inner).poll_read(cx, &mut chunk_buf) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(())) => {}
                    }
                    let read = chunk_buf.filled();
                    let closed = read.is_empty();
                    // Only the new bytes and the three before them can complete the head.
                    let from = seen.len().saturating_sub(3);
                    seen.extend_from_slice(read);
                    let complete = head_end(&seen[from..]).is_some();
                    if closed || complete || seen.len() > MAX_HEAD {
                        let seen = std::mem::take(seen);
                        if seen.is_empty() {
                            this.reading = Reading::Through;
                            return Poll::Ready(Ok(()));
                        }
                        this.reading = Reading::Replay(replay_of(seen), 0);
                    }
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for MarkedUpgrade<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const SPDY: &str = "POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\n\
        Host: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
        X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn a_port_forward_spdy_upgrade_is_marked_as_a_streamed_upgrade() {
        let marked = String::from_utf8(mark_spdy_upgrade(SPDY.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            marked,
            "POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\n\
             Host: 127.0.0.1\r\nConnection: Upgrade\r\n\
             X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\
             Upgrade: websocket\r\nX-Kubetrail-Upgrade: SPDY/3.1\r\n\r\n"
        );
    }

    #[test]
    fn other_heads_pass_unchanged() {
        for head in [
            // exec's SPDY upgrade is not port forwarding
            SPDY.replace("/portforward", "/exec?command=sh"),
            // a websocket upgrade is streamed already
            SPDY.replace("Upgrade: SPDY/3.1", "Upgrade: websocket"),
            SPDY.replace("Upgrade: SPDY/3.1", "Upgrade: SPDY/3.1, websocket"),
            // no upgrade, and a client's own mark
            SPDY.replace("Upgrade: SPDY/3.1\r\n", "X-Kubetrail-Upgrade: SPDY/3.1\r\n"),
            "GET /api HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            "not http at all\r\n\r\n".to_string(),
        ] {
            assert_eq!(mark_spdy_upgrade(head.as_bytes()), None, "{head}");
        }
    }

    #[test]
    fn a_clients_own_mark_is_replaced() {
        let head = SPDY.replace("Host:", "x-kubetrail-upgrade: forged\r\nHost:");
        let marked = String::from_utf8(mark_spdy_upgrade(head.as_bytes()).unwrap()).unwrap();
        assert!(!marked.contains("forged"), "{marked}");
        assert_eq!(marked.matches("X-Kubetrail-Upgrade").count(), 1, "{marked}");
    }

    /// What reading the marked connection gives, when the client writes `pieces` one by one.
    async fn read_through(pieces: Vec<Vec<u8>>) -> Vec<u8> {
        let (client, server) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(async move {
            let mut client = client;
            for piece in pieces {
                client.write_all(&piece).await.unwrap();
                tokio::task::yield_now().await;
            }
            client.shutdown().await.unwrap();
        });
        let mut marked = MarkedUpgrade::new(server);
        let mut out = Vec::new();
        marked.read_to_end(&mut out).await.unwrap();
        writer.await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_frames_after_a_head_split_anywhere_follow_the_marked_head() {
        let frames = b"\x80\x03\x00\x01frames".to_vec();
        let whole = [SPDY.as_bytes(), &frames].concat();
        let expected = [mark_spdy_upgrade(SPDY.as_bytes()).unwrap(), frames].concat();
        for split in [1, 10, SPDY.len() - 2, SPDY.len(), SPDY.len() + 3] {
            let pieces = vec![whole[..split].to_vec(), whole[split..].to_vec()];
            assert_eq!(read_through(pieces).await, expected, "split at {split}");
        }
    }

    #[tokio::test]
    async fn unmarked_connections_and_early_closes_read_as_sent() {
        let plain = b"GET /api HTTP/1.1\r\nHost: x\r\n\r\nGET /apis HTTP/1.1\r\n\r\n".to_vec();
        assert_eq!(read_through(vec![plain.clone()]).await, plain);
        let cut = b"POST /x/portforward HTTP/1.1\r\nUpgrade: SPDY/3.1".to_vec();
        assert_eq!(read_through(vec![cut.clone()]).await, cut);
        assert_eq!(read_through(vec![]).await, Vec::<u8>::new());
        let long = vec![b'a'; MAX_HEAD + 10];
        assert_eq!(read_through(vec![long.clone()]).await, long);
    }
}
