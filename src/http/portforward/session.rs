//! One SPDY/3.1 port-forward session, as the kubelet serves it: the client opens a pair of
//! streams per local connection (`streamtype: error` and `data`, the same `port` and
//! `requestid`); once both are open the pod's port is dialed and the data stream copied both
//! ways; a failure is written on the error stream, which is closed when forwarding ends.
//! Transport-agnostic: bytes come in as a stream of chunks and go out on a channel, so the
//! same session serves a plain SPDY upgrade and SPDY tunnelled in websocket messages.
//! Bounded: streams per session, a frame's size, the wait for a pair's second stream, idle
//! time; a malformed frame ends the session with GOAWAY, a bad stream is reset.

use super::spdy::{self, DecodeLimits, Decoder, Encoder, Frame, FrameError};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The header naming a stream's role.
pub const STREAM_TYPE: &str = "streamtype";
pub const STREAM_TYPE_DATA: &str = "data";
pub const STREAM_TYPE_ERROR: &str = "error";
/// The pod port a stream forwards to.
pub const PORT: &str = "port";
/// Pairs a data stream with its error stream.
pub const REQUEST_ID: &str = "requestid";

/// Reaches a port of the pod: a connected socket, or the message the error stream carries
/// (`error forwarding port …`, worded as the kubelet words it).
pub trait Dial: Send + Sync + 'static {
    fn dial(
        &self,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = Result<TcpStream, String>> + Send + '_>>;
}

/// What one session may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open streams at once (two per forwarded connection).
    pub max_streams: usize,
    /// How long the first stream of a pair waits for the second (the kubelet's stream
    /// creation timeout).
    pub pair_wait: Duration,
    /// A session that receives nothing for this long is ended. kubectl pings every 5-10 s.
    pub idle: Duration,
    pub frames: DecodeLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_streams: 128,
            pair_wait: Duration::from_secs(30),
            idle: Duration::from_secs(30 * 60),
            frames: DecodeLimits::default(),
        }
    }
}

/// Bytes read from a pod socket at once; kubectl sends data frames of this size too.
const READ_SIZE: usize = 32 * 1024;
/// Frames queued for the client before senders wait.
const FRAME_QUEUE: usize = 64;
/// Client data queued for one pod connection before the session waits.
const DATA_QUEUE: usize = 16;

/// Client data for one pod connection.
enum ClientData {
    Bytes(Bytes),
    /// The client will send no more (FIN): the pod's socket is shut for writing.
    Fin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Error,
}

/// An open stream from the client.
struct StreamEntry {
    request_id: String,
    kind: Kind,
    /// Data streams: where the client's bytes go, until it sends FIN.
    to_pod: Option<mpsc::Sender<ClientData>>,
    /// Data streams: told when the client resets the stream.
    reset: Option<oneshot::Sender<()>>,
}

/// The two streams of one forwarded connection, as they arrive.
struct Pair {
    port: u16,
    data: Option<u32>,
    error: Option<u32>,
    from_client: Option<mpsc::Receiver<ClientData>>,
    reset: Option<oneshot::Receiver<()>>,
    /// When the pair gives up waiting for its second stream.
    deadline: Instant,
    started: bool,
}

/// Serve one session until the client goes, says GOAWAY, sends a malformed frame, or stays
/// idle past `limits.idle`. `incoming` ends when the transport closes; `outgoing` carries
/// the encoded frames (dropping it closes the transport's writing side).
pub async fn run(
    mut incoming: impl Stream<Item = Bytes> + Unpin,
    outgoing: mpsc::Sender<Bytes>,
    dial: Arc<dyn Dial>,
    limits: Limits,
) {
    let (frames, frames_rx) = mpsc::channel(FRAME_QUEUE);
    let writer = tokio::spawn(write_frames(frames_rx, outgoing));
    let mut session = Session {
        limits,
        dial,
        frames,
        streams: HashMap::new(),
        pairs: HashMap::new(),
        last_client_stream: 0,
        tasks: JoinSet::new(),
    };
    let mut decoder = Decoder::new(limits.frames);
    let mut last_read = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let ending = loop {
        tokio::select! {
            chunk = incoming.next() => {
                let Some(chunk) = chunk else { break Ending::Gone };
                last_read = Instant::now();
                decoder.push(&chunk);
                match session.decode_all(&mut decoder).await {
                    Ok(Continue::Yes) => {}
                    Ok(Continue::GoneAway) => break Ending::Gone,
                    Err(e) => break Ending::Malformed(e),
                }
            }
            Some(done) = session.tasks.join_next(), if !session.tasks.is_empty() => {
                if let Ok(request_id) = done {
                    session.remove_pair(&request_id);
                }
            }
            _ = tick.tick() => {
                if last_read.elapsed() >= limits.idle {
                    break Ending::Idle;
                }
                session.expire_pairs().await;
            }
        }
    };
    match ending {
        Ending::Gone => {}
        Ending::Idle => {
            tracing::debug!("port-forward session idle: ending it");
            session.send(session.goaway(spdy::GOAWAY_OK)).await;
        }
        Ending::Malformed(e) => {
            tracing::debug!(error = %e, "malformed SPDY frame: ending the session");
            session
                .send(session.goaway(spdy::GOAWAY_PROTOCOL_ERROR))
                .await;
        }
    }
    // Dropping the session aborts every forward task and closes the frame queue; the writer
    // sends what is queued and then ends, closing `outgoing`.
    drop(session);
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

enum Ending {
    Gone,
    Idle,
    Malformed(FrameError),
}

enum Continue {
    Yes,
    GoneAway,
}

struct Session {
    limits: Limits,
    dial: Arc<dyn Dial>,
    frames: mpsc::Sender<Frame>,
    streams: HashMap<u32, StreamEntry>,
    pairs: HashMap<String, Pair>,
    last_client_stream: u32,
    /// One task per forwarded connection; each returns its request id.
    tasks: JoinSet<String>,
}

impl Session {
    async fn send(&self, frame: Frame) {
        let _ = self.frames.send(frame).await;
    }

    fn goaway(&self, status: u32) -> Frame {
        Frame::GoAway {
            last_good_stream_id: self.last_client_stream,
            status,
        }
    }

    async fn reset(&self, stream_id: u32, status: u32) {
        self.send(Frame::RstStream { stream_id, status }).await;
    }

    async fn decode_all(&mut self, decoder: &mut Decoder) -> Result<Continue, FrameError> {
        while let Some(frame) = decoder.next_frame()? {
            if let Continue::GoneAway = self.handle(frame).await {
                return Ok(Continue::GoneAway);
            }
        }
        Ok(Continue::Yes)
    }

    async fn handle(&mut self, frame: Frame) -> Continue {
        match frame {
            Frame::SynStream {
                stream_id,
                flags,
                headers,
                ..
            } => self.open(stream_id, flags, &headers).await,
            Frame::Data {
                stream_id,
                flags,
                data,
            } => self.data(stream_id, flags, data).await,
            Frame::RstStream { stream_id, .. } => {
                if let Some(mut entry) = self.streams.remove(&stream_id)
                    && let Some(reset) = entry.reset.take()
                {
                    let _ = reset.send(());
                }
            }
            Frame::Ping { id } => {
                // Odd ids are the client's own pings; even ones would answer this side's.
                if !id.is_multiple_of(2) {
                    self.send(Frame::Ping { id }).await;
                }
            }
            Frame::GoAway { .. } => return Continue::GoneAway,
            // No flow control: spdystream (kubectl's side) sends no window updates and
            // ignores them; a HEADERS frame adds nothing port forwarding reads.
            Frame::SynReply { .. }
            | Frame::Headers { .. }
            | Frame::WindowUpdate { .. }
            | Frame::Settings
            | Frame::Unknown { .. } => {}
        }
        Continue::Yes
    }

    /// A new stream from the client: check it, reply, and start forwarding once its pair is
    /// whole.
    async fn open(&mut self, stream_id: u32, flags: u8, headers: &spdy::Headers) {
        // Client streams are odd and increase (SPDY/3 section 2.3.2).
        if stream_id.is_multiple_of(2) || stream_id <= self.last_client_stream {
            self.reset(stream_id, spdy::PROTOCOL_ERROR).await;
            return;
        }
        self.last_client_stream = stream_id;
        let (kind, port) = match stream_role(headers) {
            Ok(role) => role,
            Err(message) => {
                tracing::debug!(stream_id, %message, "port-forward stream rejected");
                self.reset(stream_id, spdy::CANCEL).await;
                return;
            }
        };
        if self.streams.len() >= self.limits.max_streams {
            self.reset(stream_id, spdy::REFUSED_STREAM).await;
            return;
        }
        let request_id = request_id(headers, kind, stream_id);
        let deadline = Instant::now() + self.limits.pair_wait;
        let pair = self.pairs.entry(request_id.clone()).or_insert(Pair {
            port,
            data: None,
            error: None,
            from_client: None,
            reset: None,
            deadline,
            started: false,
        });
        let taken = match kind {
            Kind::Data => pair.data.is_some(),
            Kind::Error => pair.error.is_some(),
        };
        if taken || pair.port != port {
            self.reset(stream_id, spdy::PROTOCOL_ERROR).await;
            return;
        }
        let mut entry = StreamEntry {
            request_id: request_id.clone(),
            kind,
            to_pod: None,
            reset: None,
        };
        match kind {
            Kind::Error => pair.error = Some(stream_id),
            Kind::Data => {
                pair.data = Some(stream_id);
                let (to_pod, from_client) = mpsc::channel(DATA_QUEUE);
                let (reset, on_reset) = oneshot::channel();
                pair.from_client = Some(from_client);
                pair.reset = Some(on_reset);
                entry.reset = Some(reset);
                // A SYN_STREAM with FIN: the client sends nothing on it.
                if flags & spdy::FLAG_FIN == 0 {
                    entry.to_pod = Some(to_pod);
                }
            }
        }
        self.streams.insert(stream_id, entry);
        self.send(Frame::SynReply {
            stream_id,
            flags: 0,
            headers: Vec::new(),
        })
        .await;
        self.start_if_whole(&request_id);
    }

    fn start_if_whole(&mut self, request_id: &str) {
        let Some(pair) = self.pairs.get_mut(request_id) else {
            return;
        };
        let (Some(data), Some(error), false) = (pair.data, pair.error, pair.started) else {
            return;
        };
        let (Some(from_client), Some(reset)) = (pair.from_client.take(), pair.reset.take()) else {
            return;
        };
        pair.started = true;
        let forward = Forward {
            dial: self.dial.clone(),
            port: pair.port,
            data,
            error,
            frames: self.frames.clone(),
        };
        let request_id = request_id.to_string();
        self.tasks.spawn(async move {
            forward.run(from_client, reset).await;
            request_id
        });
    }

    async fn data(&mut self, stream_id: u32, flags: u8, data: Bytes) {
        let Some(entry) = self.streams.get_mut(&stream_id) else {
            // A stream already finished or reset: its late frames are dropped (spdystream).
            return;
        };
        if entry.kind == Kind::Error {
            // The client writes nothing on the error stream; kubectl only closes it.
            return;
        }
        let Some(to_pod) = entry.to_pod.clone() else {
            return;
        };
        let fin = flags & spdy::FLAG_FIN != 0;
        if fin {
            entry.to_pod = None;
        }
        let wait = self.limits.pair_wait;
        let mut delivered = true;
        if !data.is_empty() {
            delivered = matches!(
                tokio::time::timeout(wait, to_pod.send(ClientData::Bytes(data))).await,
                Ok(Ok(()))
            );
        }
        if delivered && fin {
            delivered = matches!(
                tokio::time::timeout(wait, to_pod.send(ClientData::Fin)).await,
                Ok(Ok(()))
            );
        }
        if !delivered {
            // The pod side neither took the data in time nor is gone: the stream cannot go on.
            if let Some(entry) = self.streams.get_mut(&stream_id) {
                entry.to_pod = None;
            }
        }
    }

    /// Pairs whose second stream never came: say so on the error stream, as the kubelet does,
    /// and drop them.
    async fn expire_pairs(&mut self) {
        let now = Instant::now();
        let expired: Vec<String> = self
            .pairs
            .iter()
            .filter(|(_, pair)| !pair.started && pair.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for request_id in expired {
            if let Some(pair) = self.pairs.get(&request_id) {
                if let Some(error) = pair.error {
                    let message = format!("timed out waiting for streams of request {request_id}");
                    self.send(data_frame(error, 0, message.into())).await;
                    self.send(data_frame(error, spdy::FLAG_FIN, Bytes::new()))
                        .await;
                }
                if let Some(data) = pair.data {
                    self.reset(data, spdy::CANCEL).await;
                }
            }
            self.remove_pair(&request_id);
        }
    }

    fn remove_pair(&mut self, request_id: &str) {
        if let Some(pair) = self.pairs.remove(request_id) {
            for id in [pair.data, pair.error].into_iter().flatten() {
                if self
                    .streams
                    .get(&id)
                    .is_some_and(|s| s.request_id == request_id)
                {
                    self.streams.remove(&id);
                }
            }
        }
    }
}

/// The stream's type and port from its headers, checked as the kubelet checks them.
fn stream_role(headers: &spdy::Headers) -> Result<(Kind, u16), String> {
    let port = spdy::header(headers, PORT).unwrap_or_default();
    if port.is_empty() {
        return Err(format!("{PORT:?} header is required"));
    }
    let port: u16 = port
        .parse()
        .map_err(|e| format!("unable to parse {port:?} as a port: {e}"))?;
    if port == 0 {
        return Err("port \"0\" must be > 0".to_string());
    }
    let kind = match spdy::header(headers, STREAM_TYPE).unwrap_or_default() {
        STREAM_TYPE_DATA => Kind::Data,
        STREAM_TYPE_ERROR => Kind::Error,
        "" => return Err(format!("{STREAM_TYPE:?} header is required")),
        other => return Err(format!("invalid stream type {other:?}")),
    };
    Ok((kind, port))
}

/// The stream's request id; clients too old to send one get the kubelet's guess (an error
/// stream and the data stream right after it pair up).
fn request_id(headers: &spdy::Headers, kind: Kind, stream_id: u32) -> String {
    match spdy::header(headers, REQUEST_ID) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => match kind {
            Kind::Error => stream_id.to_string(),
            Kind::Data => stream_id.saturating_sub(2).to_string(),
        },
    }
}

fn data_frame(stream_id: u32, flags: u8, data: Bytes) -> Frame {
    Frame::Data {
        stream_id,
        flags,
        data,
    }
}

/// One forwarded connection: the pod's socket on one side, the data stream on the other.
struct Forward {
    dial: Arc<dyn Dial>,
    port: u16,
    data: u32,
    error: u32,
    frames: mpsc::Sender<Frame>,
}

impl Forward {
    async fn run(self, mut from_client: mpsc::Receiver<ClientData>, reset: oneshot::Receiver<()>) {
        let socket = match self.dial.dial(self.port).await {
            Ok(socket) => socket,
            Err(message) => {
                let _ = self
                    .frames
                    .send(data_frame(self.error, 0, message.into()))
                    .await;
                let _ = self
                    .frames
                    .send(data_frame(self.error, spdy::FLAG_FIN, Bytes::new()))
                    .await;
                let _ = self
                    .frames
                    .send(data_frame(self.data, spdy::FLAG_FIN, Bytes::new()))
                    .await;
                return;
            }
        };
        let (mut from_pod, mut to_pod) = socket.into_split();
        let client_to_pod = async {
            while let Some(item) = from_client.recv().await {
                match item {
                    ClientData::Bytes(bytes) => {
                        if to_pod.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                    ClientData::Fin => break,
                }
            }
            // The pod reads EOF; what it still sends keeps flowing.
            let _ = to_pod.shutdown().await;
        };
        let frames = &self.frames;
        let data = self.data;
        let pod_to_client = async move {
            let mut buffer = vec![0u8; READ_SIZE];
            loop {
                match from_pod.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let bytes = Bytes::copy_from_slice(&buffer[..n]);
                        if frames.send(data_frame(data, 0, bytes)).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = frames
                .send(data_frame(data, spdy::FLAG_FIN, Bytes::new()))
                .await;
        };
        tokio::select! {
            _ = async { tokio::join!(client_to_pod, pod_to_client) } => {}
            // kubectl resets the data stream once the pod's side has ended; other clients may
            // reset it earlier. Either way nothing more is sent on it.
            _ = reset => {}
        }
        let _ = self
            .frames
            .send(data_frame(self.error, spdy::FLAG_FIN, Bytes::new()))
            .await;
    }
}

/// Encode queued frames in order (one header compressor per direction) and hand the bytes to
/// the transport, several frames per write when they are waiting together.
async fn write_frames(mut frames: mpsc::Receiver<Frame>, outgoing: mpsc::Sender<Bytes>) {
    let mut encoder = Encoder::new();
    while let Some(frame) = frames.recv().await {
        let mut out = BytesMut::new();
        encoder.encode(&frame, &mut out);
        while out.len() < READ_SIZE * 2 {
            match frames.try_recv() {
                Ok(frame) => encoder.encode(&frame, &mut out),
                Err(_) => break,
            }
        }
        if outgoing.send(out.freeze()).await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::portforward::spdy::{FLAG_FIN, Headers};
    use tokio::net::TcpListener;

    /// Dials 127.0.0.1:port of this process (no namespace).
    struct Local;

    impl Dial for Local {
        fn dial(
            &self,
            port: u16,
        ) -> Pin<Box<dyn Future<Output = Result<TcpStream, String>> + Send + '_>> {
            Box::pin(async move {
                TcpStream::connect(("127.0.0.1", port))
                    .await
                    .map_err(|e| format!("error forwarding port {port} to pod test, uid u: {e}"))
            })
        }
    }

    /// A client of a session: encodes what it sends, decodes what it gets.
    struct Client {
        to_server: mpsc::Sender<Bytes>,
        from_server: mpsc::Receiver<Bytes>,
        encoder: Encoder,
        decoder: Decoder,
    }

    impl Client {
        fn start(limits: Limits) -> Client {
            let (to_server, incoming) = mpsc::channel(16);
            let (outgoing, from_server) = mpsc::channel(16);
            tokio::spawn(run(
                tokio_stream::wrappers::ReceiverStream::new(incoming),
                outgoing,
                Arc::new(Local),
                limits,
            ));
            Client {
                to_server,
                from_server,
                encoder: Encoder::new(),
                decoder: Decoder::new(DecodeLimits::default()),
            }
        }

        async fn send(&mut self, frame: Frame) {
            let mut out = BytesMut::new();
            self.encoder.encode(&frame, &mut out);
            self.to_server.send(out.freeze()).await.unwrap();
        }

        /// The next frame, or `None` once the session has closed its side.
        async fn next(&mut self) -> Option<Frame> {
            loop {
                if let Some(frame) = self.decoder.next_frame().unwrap() {
                    return Some(frame);
                }
                let bytes = tokio::time::timeout(Duration::from_secs(10), self.from_server.recv())
                    .await
                    .expect("the session answers")?;
                self.decoder.push(&bytes);
            }
        }

        async fn open(&mut self, stream_id: u32, kind: &str, port: u16, request: &str) {
            let headers: Headers = [
                (STREAM_TYPE, kind),
                (PORT, &port.to_string()),
                (REQUEST_ID, request),
            ]
            .iter()
            .map(|(n, v)| (n.to_string(), vec![v.to_string()]))
            .collect();
            self.send(Frame::SynStream {
                stream_id,
                associated_to: 0,
                priority: 0,
                flags: 0,
                headers,
            })
            .await;
        }
    }

    fn reply(stream_id: u32) -> Frame {
        Frame::SynReply {
            stream_id,
            flags: 0,
            headers: vec![],
        }
    }

    #[tokio::test]
    async fn a_stream_pair_forwards_to_the_port_and_closes_as_kubectl_expects() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 5];
            socket.read_exact(&mut request).await.unwrap();
            socket.write_all(b"pong:").await.unwrap();
            socket.write_all(&request).await.unwrap();
        });
        let mut client = Client::start(Limits::default());
        client.send(Frame::Ping { id: 1 }).await;
        assert_eq!(client.next().await, Some(Frame::Ping { id: 1 }));
        client.open(1, STREAM_TYPE_ERROR, port, "0").await;
        assert_eq!(client.next().await, Some(reply(1)));
        client.open(3, STREAM_TYPE_DATA, port, "0").await;
        assert_eq!(client.next().await, Some(reply(3)));
        client
            .send(data_frame(3, 0, Bytes::from_static(b"hello")))
            .await;
        let mut received = Vec::new();
        loop {
            match client.next().await {
                Some(Frame::Data {
                    stream_id: 3,
                    flags,
                    data,
                }) => {
                    received.extend_from_slice(&data);
                    if flags & FLAG_FIN != 0 {
                        break;
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(received, b"pong:hello");
        // kubectl resets the data stream, then reads the error stream to its end.
        client
            .send(Frame::RstStream {
                stream_id: 3,
                status: spdy::CANCEL,
            })
            .await;
        assert_eq!(
            client.next().await,
            Some(data_frame(1, FLAG_FIN, Bytes::new()))
        );
    }

    #[tokio::test]
    async fn a_refused_port_is_written_on_the_error_stream() {
        let port = {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut client = Client::start(Limits::default());
        client.open(1, STREAM_TYPE_ERROR, port, "7").await;
        client.open(3, STREAM_TYPE_DATA, port, "7").await;
        let mut error = Vec::new();
        let mut closed = Vec::new();
        while closed.len() < 2 {
            match client.next().await {
                Some(Frame::SynReply { .. }) => {}
                Some(Frame::Data {
                    stream_id,
                    flags,
                    data,
                }) => {
                    if stream_id == 1 {
                        error.extend_from_slice(&data);
                    }
                    if flags & FLAG_FIN != 0 {
                        closed.push(stream_id);
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        let error = String::from_utf8(error).unwrap();
        assert!(
            error.starts_with(&format!(
                "error forwarding port {port} to pod test, uid u: "
            )),
            "{error}"
        );
        closed.sort();
        assert_eq!(closed, [1, 3]);
    }

    #[tokio::test]
    async fn bad_streams_are_reset_and_the_stream_limit_holds() {
        let limits = Limits {
            max_streams: 2,
            ..Limits::default()
        };
        let mut client = Client::start(limits);
        let rst = |stream_id, status| Frame::RstStream { stream_id, status };
        client.open(2, STREAM_TYPE_DATA, 80, "0").await;
        assert_eq!(
            client.next().await,
            Some(rst(2, spdy::PROTOCOL_ERROR)),
            "even id"
        );
        client.open(1, "stdin", 80, "0").await;
        assert_eq!(
            client.next().await,
            Some(rst(1, spdy::CANCEL)),
            "unknown type"
        );
        client.open(3, STREAM_TYPE_ERROR, 0, "0").await;
        assert_eq!(client.next().await, Some(rst(3, spdy::CANCEL)), "port 0");
        client.open(5, STREAM_TYPE_ERROR, 80, "a").await;
        assert_eq!(client.next().await, Some(reply(5)));
        client.open(7, STREAM_TYPE_ERROR, 80, "b").await;
        assert_eq!(client.next().await, Some(reply(7)));
        client.open(9, STREAM_TYPE_ERROR, 80, "c").await;
        assert_eq!(
            client.next().await,
            Some(rst(9, spdy::REFUSED_STREAM)),
            "limit"
        );
        client.open(9, STREAM_TYPE_ERROR, 80, "d").await;
        assert_eq!(
            client.next().await,
            Some(rst(9, spdy::PROTOCOL_ERROR)),
            "reused id"
        );
    }

    #[tokio::test]
    async fn a_malformed_frame_ends_the_session_with_goaway() {
        let mut client = Client::start(Limits::default());
        client.open(1, STREAM_TYPE_ERROR, 80, "0").await;
        assert_eq!(client.next().await, Some(reply(1)));
        // SPDY/2 is not spoken.
        client
            .to_server
            .send(Bytes::from_static(&[
                0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1,
            ]))
            .await
            .unwrap();
        assert_eq!(
            client.next().await,
            Some(Frame::GoAway {
                last_good_stream_id: 1,
                status: spdy::GOAWAY_PROTOCOL_ERROR
            })
        );
        assert_eq!(client.next().await, None, "the session closes its side");
    }

    #[tokio::test]
    async fn a_pair_missing_its_data_stream_times_out_on_its_error_stream() {
        let limits = Limits {
            pair_wait: Duration::from_millis(100),
            ..Limits::default()
        };
        let mut client = Client::start(limits);
        client.open(1, STREAM_TYPE_ERROR, 80, "0").await;
        assert_eq!(client.next().await, Some(reply(1)));
        assert_eq!(
            client.next().await,
            Some(data_frame(
                1,
                0,
                Bytes::from_static(b"timed out waiting for streams of request 0")
            ))
        );
        assert_eq!(
            client.next().await,
            Some(data_frame(1, FLAG_FIN, Bytes::new()))
        );
    }
}
