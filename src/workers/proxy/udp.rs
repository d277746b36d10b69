//! The relay of one UDP Service socket, what kube-proxy's DNAT and the kernel's conntrack do
//! for UDP: every client address is a *flow*, a connected socket to one ready endpoint chosen
//! round robin when the flow starts. Datagrams from the client go to that endpoint; its replies
//! are sent back from the Service socket, so the client sees them come from the address it
//! sent to. A flow ends after `Limits::idle` without a datagram either way, and as soon as its
//! endpoint is no longer ready (the next datagram starts a new flow to a ready one). Flows are
//! bounded by a semaphore shared with every other UDP socket: a datagram that would start a
//! flow beyond it is dropped, as is one that finds no ready endpoint.

use super::table::Route;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;

/// The largest datagram relayed (UDP's own limit; a larger one cannot exist).
pub const MAX_DATAGRAM: usize = 64 * 1024;
/// How long a flow lives without traffic: conntrack's timeout for UDP (`nf_conntrack_udp_
/// timeout`, 30 s), which is what kube-proxy's flows live by.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The most UDP flows at once, over every socket. Each holds a socket (a file descriptor),
/// which the TCP relays need too.
pub const MAX_FLOWS: usize = 1024;
/// How long a new flow's socket may take to be writable (at once, unless the host is out of
/// buffers) before the next endpoint is tried.
const WRITABLE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long flows live and how many may exist.
#[derive(Debug, Clone)]
pub struct Limits {
    pub idle: Duration,
    pub flows: Arc<Semaphore>,
}

impl Limits {
    /// The server's limits: conntrack's timeout, `MAX_FLOWS` shared by every socket.
    pub fn new() -> Limits {
        Limits {
            idle: IDLE_TIMEOUT,
            flows: Arc::new(Semaphore::new(MAX_FLOWS)),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new()
    }
}

/// One client's flow. Dropping it stops its reply task and closes its socket.
struct Flow {
    backend: SocketAddr,
    upstream: Arc<UdpSocket>,
    /// Milliseconds since the relay started, at the last datagram either way.
    last: Arc<AtomicU64>,
    replies: AbortHandle,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.replies.abort();
    }
}

fn read(route: &RwLock<Route>) -> std::sync::RwLockReadGuard<'_, Route> {
    route.read().unwrap_or_else(|p| p.into_inner())
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A connected socket to `backend`, from any local address, ready to send: a new socket is
/// writable once the reactor has seen it, and `try_send` only sends on a socket known to be.
async fn connect(backend: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))).await?;
    socket.connect(backend).await?;
    tokio::time::timeout(WRITABLE_TIMEOUT, socket.writable())
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    Ok(socket)
}

/// Relay the datagrams `socket` receives to ready endpoints of `route`, until aborted (every
/// flow ends with it).
pub async fn relay(socket: UdpSocket, route: Arc<RwLock<Route>>, limits: Limits) {
    let socket = Arc::new(socket);
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let mut flows: HashMap<SocketAddr, Flow> = HashMap::new();
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    // Flows are swept a few times per idle period, at least once a second.
    let mut sweep = tokio::time::interval((limits.idle / 4).min(Duration::from_secs(1)));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (length, client) = tokio::select! {
            received = socket.recv_from(&mut buffer) => match received {
                Ok(received) => received,
                // An ICMP error for an earlier reply, or a datagram lost: nothing to relay.
                Err(_) => continue,
            },
            _ = sweep.tick() => {
                let backends = read(&route).backends.clone();
                let now = millis(started);
                let idle = u64::try_from(limits.idle.as_millis()).unwrap_or(u64::MAX);
                flows.retain(|_, flow| {
                    !flow.replies.is_finished()
                        && backends.contains(&flow.backend)
                        && now.saturating_sub(flow.last.load(Ordering::Relaxed)) < idle
                });
                continue;
            }
        };
        // A flow whose endpoint left is over; this datagram starts a new one.
        if flows.get(&client).is_some_and(|flow| {
            flow.replies.is_finished() || !read(&route).backends.contains(&flow.backend)
        }) {
            flows.remove(&client);
        }
        let flow = match flows.entry(client) {
            Entry::Occupied(flow) => flow.into_mut(),
            Entry::Vacant(place) => {
                let backends = read(&route).backends.clone();
                match start_flow(&socket, client, &backends, &next, &limits, started).await {
                    Some(flow) => place.insert(flow),
                    None => continue,
                }
            }
        };
        flow.last.store(millis(started), Ordering::Relaxed);
        // Never waits: a datagram the socket cannot take now is dropped, as UDP may.
        let _ = flow.upstream.try_send(&buffer[..length]);
    }
}

/// A new flow from `client` to the next ready endpoint that a socket connects to; `None`
/// (the datagram is dropped) when none is ready or the flows are at their limit.
async fn start_flow(
    socket: &Arc<UdpSocket>,
    client: SocketAddr,
    backends: &[SocketAddr],
    next: &AtomicUsize,
    limits: &Limits,
    started: Instant,
) -> Option<Flow> {
    if backends.is_empty() {
        return None;
    }
    let permit = limits.flows.clone().try_acquire_owned().ok()?;
    let start = next.fetch_add(1, Ordering::Relaxed);
    for offset in 0..backends.len() {
        let backend = backends[(start + offset) % backends.len()];
        let Ok(upstream) = connect(backend).await else {
            continue;
        };
        let upstream = Arc::new(upstream);
        let last = Arc::new(AtomicU64::new(millis(started)));
        let replies = tokio::spawn(replies(
            upstream.clone(),
            socket.clone(),
            client,
            last.clone(),
            started,
        ))
        .abort_handle();
        return Some(Flow {
            backend,
            upstream,
            last,
            replies,
            _permit: permit,
        });
    }
    None
}

/// Send what the endpoint answers back to `client` from the Service socket.
async fn replies(
    upstream: Arc<UdpSocket>,
    socket: Arc<UdpSocket>,
    client: SocketAddr,
    last: Arc<AtomicU64>,
    started: Instant,
) {
    loop {
        if upstream.readable().await.is_err() {
            return;
        }
        // Taken per datagram, so an idle flow holds no buffer.
        let mut buffer = vec![0u8; MAX_DATAGRAM];
        match upstream.try_recv(&mut buffer) {
            Ok(length) => {
                last.store(millis(started), Ordering::Relaxed);
                // Waits only for the Service socket to take it; other flows go on meanwhile.
                let _ = socket.send_to(&buffer[..length], client).await;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            // The endpoint's port is closed (ICMP unreachable): the flow stays, as conntrack
            // keeps it, until it idles out or the endpoint leaves.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend on loopback answering each datagram with `name:` and the datagram.
    async fn echo(name: &'static str) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; MAX_DATAGRAM];
            while let Ok((length, from)) = socket.recv_from(&mut buffer).await {
                let mut reply = format!("{name}:").into_bytes();
                reply.extend_from_slice(&buffer[..length]);
                let _ = socket.send_to(&reply, from).await;
            }
        });
        address
    }

    fn route(backends: &[SocketAddr]) -> Arc<RwLock<Route>> {
        Arc::new(RwLock::new(Route {
            service: "default/dns".into(),
            port_name: "dns".into(),
            backends: backends.to_vec(),
        }))
    }

    /// A relay on loopback for `route`; returns its address.
    async fn start(route: Arc<RwLock<Route>>, limits: Limits) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        tokio::spawn(relay(socket, route, limits));
        address
    }

    async fn client() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").await.unwrap()
    }

    /// Send `message` to `to` and wait a moment for one reply: its text and where it came
    /// from, or `None`.
    async fn ask(
        client: &UdpSocket,
        to: SocketAddr,
        message: &str,
    ) -> Option<(String, SocketAddr)> {
        client.send_to(message.as_bytes(), to).await.unwrap();
        let mut buffer = vec![0u8; MAX_DATAGRAM];
        let (length, from) =
            tokio::time::timeout(Duration::from_millis(500), client.recv_from(&mut buffer))
                .await
                .ok()?
                .ok()?;
        Some((
            String::from_utf8_lossy(&buffer[..length]).into_owned(),
            from,
        ))
    }

    fn limits(idle: Duration, flows: usize) -> Limits {
        Limits {
            idle,
            flows: Arc::new(Semaphore::new(flows)),
        }
    }

    #[tokio::test]
    async fn a_datagram_goes_to_an_endpoint_and_the_reply_comes_from_the_service() {
        let a = echo("a").await;
        let service = start(route(&[a]), Limits::new()).await;
        let client = client().await;
        let (reply, from) = ask(&client, service, "ping").await.expect("a reply");
        assert_eq!(reply, "a:ping");
        assert_eq!(from, service, "replies come from the Service address");
        // A large datagram crosses whole.
        let big = "x".repeat(60_000);
        let (reply, _) = ask(&client, service, &big).await.expect("a reply");
        assert_eq!(reply.len(), 2 + big.len());
    }

    #[tokio::test]
    async fn each_client_is_its_own_flow_round_robin_and_stays_on_its_endpoint() {
        let (a, b) = (echo("a").await, echo("b").await);
        let service = start(route(&[a, b]), Limits::new()).await;
        let (one, two) = (client().await, client().await);
        let first = ask(&one, service, "1").await.expect("reply").0;
        let second = ask(&two, service, "2").await.expect("reply").0;
        assert_ne!(first[..1], second[..1], "{first} {second}: two endpoints");
        for _ in 0..5 {
            assert_eq!(ask(&one, service, "1").await.expect("reply").0, first);
            assert_eq!(ask(&two, service, "2").await.expect("reply").0, second);
        }
    }

    #[tokio::test]
    async fn without_a_ready_endpoint_datagrams_are_dropped_and_a_left_endpoint_ends_its_flow() {
        let a = echo("a").await;
        let route = route(&[]);
        let service = start(route.clone(), Limits::new()).await;
        let client = client().await;
        assert!(ask(&client, service, "lost").await.is_none());
        route.write().unwrap().backends = vec![a];
        assert_eq!(ask(&client, service, "x").await.expect("reply").0, "a:x");
        // The endpoint is no longer ready: its flow ends and the next one goes to the new one.
        let b = echo("b").await;
        route.write().unwrap().backends = vec![b];
        assert_eq!(ask(&client, service, "y").await.expect("reply").0, "b:y");
        route.write().unwrap().backends = vec![];
        assert!(ask(&client, service, "lost").await.is_none());
    }

    #[tokio::test]
    async fn idle_flows_expire_and_flows_beyond_the_limit_are_dropped() {
        let a = echo("a").await;
        let idle = Duration::from_secs(1);
        let limits = limits(idle, 1);
        let flows = limits.flows.clone();
        let service = start(route(&[a]), limits).await;
        let (one, two) = (client().await, client().await);
        // Traffic keeps a flow: `one` talks for longer than the idle timeout.
        let talking = Instant::now();
        let quiet = loop {
            assert!(ask(&one, service, "1").await.is_some());
            let replied = Instant::now();
            assert_eq!(flows.available_permits(), 0);
            if talking.elapsed() > idle * 3 / 2 {
                break replied;
            }
            tokio::time::sleep(idle / 4).await;
        };
        assert!(
            ask(&two, service, "2").await.is_none(),
            "a second flow is beyond the limit"
        );
        // `one` is quiet now: its flow ends and frees the place.
        while flows.available_permits() == 0 {
            assert!(quiet.elapsed() < idle * 5, "the idle flow expires");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(quiet.elapsed() >= idle, "{:?}", quiet.elapsed());
        assert_eq!(ask(&two, service, "2").await.expect("reply").0, "a:2");
        assert!(
            ask(&one, service, "1").await.is_none(),
            "now `one` is beyond the limit"
        );
    }
}
