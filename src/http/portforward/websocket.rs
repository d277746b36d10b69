//! Port forwarding over the websocket channel protocol (`v4.channel.k8s.io`, what the Python
//! client speaks): the ports come in the `ports` query; port i has data channel 2i and error
//! channel 2i+1, and the first message on each is the port number (2 bytes, little endian).
//! Each port is one connection to the pod, dialed when the session opens; the session closes
//! once every port's connection has ended. Also the carrier of SPDY tunnelled in websocket
//! messages (`SPDY/3.1+portforward.k8s.io`, kubectl's): binary messages in, binary out.

use super::session::{self, Dial, Limits};
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Largest websocket message taken from a client: the Python client sends up to 1 MiB of a
/// socket's data at once.
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;
/// Bytes read from a pod socket at once.
const READ_SIZE: usize = 32 * 1024;
/// Client messages queued for one port before the session waits.
const DATA_QUEUE: usize = 16;

/// Upgrade `req` to a websocket speaking `protocols` (the first the client offers).
fn upgrade(
    req: &HttpRequest,
    payload: web::Payload,
    protocols: &[&str],
) -> Result<(HttpResponse, Session, AggregatedMessageStream), super::ApiError> {
    let (response, session, messages) = actix_ws::handle_with_protocols(req, payload, protocols)
        .map_err(|e| super::ApiError::bad_request(e.to_string()))?;
    let messages = messages
        .max_frame_size(MAX_MESSAGE)
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE);
    Ok((response, session, messages))
}

/// The channel protocol: forward `ports` of the pod `dial` reaches.
pub fn serve_channels(
    req: &HttpRequest,
    payload: web::Payload,
    protocols: &[&str],
    dial: Arc<dyn Dial>,
    ports: Vec<u16>,
    limits: Limits,
) -> Result<HttpResponse, super::ApiError> {
    let (response, session, messages) = upgrade(req, payload, protocols)?;
    actix_web::rt::spawn(run_channels(session, messages, dial, ports, limits.idle));
    Ok(response)
}

/// SPDY tunnelled in binary websocket messages: a SPDY session whose bytes are the messages'
/// payloads, in order (message boundaries mean nothing).
pub fn serve_tunnel(
    req: &HttpRequest,
    payload: web::Payload,
    protocols: &[&str],
    dial: Arc<dyn Dial>,
    limits: Limits,
) -> Result<HttpResponse, super::ApiError> {
    let (response, session, messages) = upgrade(req, payload, protocols)?;
    actix_web::rt::spawn(run_tunnel(session, messages, dial, limits));
    Ok(response)
}

async fn run_tunnel(
    mut session: Session,
    mut messages: AggregatedMessageStream,
    dial: Arc<dyn Dial>,
    limits: Limits,
) {
    let (incoming, incoming_rx) = mpsc::channel::<Bytes>(DATA_QUEUE);
    let (outgoing, mut outgoing_rx) = mpsc::channel::<Bytes>(DATA_QUEUE);
    let spdy = actix_web::rt::spawn(session::run(
        tokio_stream::wrappers::ReceiverStream::new(incoming_rx),
        outgoing,
        dial,
        limits,
    ));
    let mut writer = session.clone();
    let write = actix_web::rt::spawn(async move {
        while let Some(bytes) = outgoing_rx.recv().await {
            if writer.binary(bytes).await.is_err() {
                return;
            }
        }
        let _ = writer.close(Some(normal_close())).await;
    });
    // Client messages -> the SPDY session; pings answered here (kubectl's websocket pings
    // every few seconds and drops a connection whose pongs stop).
    while let Some(Ok(message)) = messages.recv().await {
        match message {
            AggregatedMessage::Binary(bytes) => {
                if incoming.send(bytes).await.is_err() {
                    break;
                }
            }
            AggregatedMessage::Ping(data) => {
                if session.pong(&data).await.is_err() {
                    break;
                }
            }
            // A text message is not part of the tunnel: kubectl never sends one.
            AggregatedMessage::Text(_) | AggregatedMessage::Close(_) => break,
            AggregatedMessage::Pong(_) => {}
        }
    }
    drop(incoming);
    let _ = spdy.await;
    let _ = tokio::time::timeout(Duration::from_secs(5), write).await;
}

/// The first message of a port's channels: its number, little endian.
pub fn port_prefix(channel: u8, port: u16) -> Bytes {
    let [low, high] = port.to_le_bytes();
    Bytes::from(vec![channel, low, high])
}

fn frame(channel: u8, payload: &[u8]) -> Bytes {
    let mut framed = Vec::with_capacity(payload.len() + 1);
    framed.push(channel);
    framed.extend_from_slice(payload);
    Bytes::from(framed)
}

fn normal_close() -> CloseReason {
    CloseReason {
        code: CloseCode::Normal,
        description: None,
    }
}

async fn run_channels(
    mut session: Session,
    mut messages: AggregatedMessageStream,
    dial: Arc<dyn Dial>,
    ports: Vec<u16>,
    idle: Duration,
) {
    for (index, port) in ports.iter().enumerate() {
        let data = (index * 2) as u8;
        for channel in [data, data + 1] {
            if session.binary(port_prefix(channel, *port)).await.is_err() {
                return;
            }
        }
    }
    let mut to_pod = Vec::with_capacity(ports.len());
    let mut tasks = JoinSet::new();
    for (index, port) in ports.iter().enumerate() {
        let (tx, rx) = mpsc::channel(DATA_QUEUE);
        to_pod.push(Some(tx));
        tasks.spawn(forward_port(
            session.clone(),
            dial.clone(),
            *port,
            (index * 2) as u8,
            rx,
        ));
    }
    let mut last_read = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            message = messages.recv() => {
                let Some(Ok(message)) = message else { break };
                last_read = Instant::now();
                match message {
                    AggregatedMessage::Binary(bytes) => {
                        let Some((&channel, data)) = bytes.split_first() else { continue };
                        // Clients write only on data channels; anything else is dropped.
                        let Some(Some(sender)) = channel.is_multiple_of(2)
                            .then(|| to_pod.get(usize::from(channel / 2)))
                            .flatten()
                        else {
                            continue;
                        };
                        if !data.is_empty()
                            && sender.send(Bytes::copy_from_slice(data)).await.is_err()
                        {
                            to_pod[usize::from(channel / 2)] = None;
                        }
                    }
                    AggregatedMessage::Ping(data) => {
                        if session.pong(&data).await.is_err() {
                            break;
                        }
                    }
                    AggregatedMessage::Text(_) | AggregatedMessage::Close(_) => break,
                    AggregatedMessage::Pong(_) => {}
                }
            }
            done = tasks.join_next() => {
                if done.is_none() {
                    // Every port's connection has ended: so does the session.
                    break;
                }
            }
            _ = tick.tick() => {
                if last_read.elapsed() >= idle {
                    break;
                }
            }
        }
    }
    tasks.abort_all();
    let _ = session.close(Some(normal_close())).await;
}

/// One port: dial it, then copy both ways until the pod's side ends. A failure is written on
/// the port's error channel, worded as the kubelet words it.
async fn forward_port(
    mut session: Session,
    dial: Arc<dyn Dial>,
    port: u16,
    data_channel: u8,
    mut from_client: mpsc::Receiver<Bytes>,
) {
    let socket = match dial.dial(port).await {
        Ok(socket) => socket,
        Err(message) => {
            let _ = session
                .binary(frame(data_channel + 1, message.as_bytes()))
                .await;
            return;
        }
    };
    let (mut from_pod, mut to_pod) = socket.into_split();
    let client_to_pod = async move {
        while let Some(bytes) = from_client.recv().await {
            if to_pod.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = to_pod.shutdown().await;
        // The pod's side decides when this port is done.
        std::future::pending::<()>().await;
    };
    let pod_to_client = async {
        let mut buffer = vec![0u8; READ_SIZE];
        loop {
            match from_pod.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if session
                        .binary(frame(data_channel, &buffer[..n]))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = client_to_pod => {}
        _ = pod_to_client => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_opens_with_its_port_little_endian() {
        assert_eq!(&port_prefix(0, 80)[..], &[0, 80, 0]);
        assert_eq!(&port_prefix(3, 8080)[..], &[3, 0x90, 0x1f]);
        assert_eq!(&frame(2, b"hi")[..], b"\x02hi");
    }
}
