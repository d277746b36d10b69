//! The service network at run time: the host changes (`host`), the listening sockets of
//! `table::Desired`: each TCP one relaying connections to one of its ready endpoints (round
//! robin, the next one when a connection is refused; none ready: the connection is closed),
//! each UDP one relaying its clients' flows (`udp`), and the cluster DNS on its address, UDP
//! and TCP. `apply` moves it to a new desired state; `stop` undoes every host change.

use super::dns::{self, Zone};
use super::host::{self, Record};
use super::table::{Desired, Listen, Protocol, Range, Route};
use super::udp;
use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// The most connections relayed at once, over every socket.
const MAX_CONNECTIONS: usize = 4096;
/// How long a connection to an endpoint may take before the next one is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a DNS client over TCP may take to send its query.
const DNS_TCP_TIMEOUT: Duration = Duration::from_secs(5);

struct Listening {
    task: JoinHandle<()>,
    route: Arc<RwLock<Route>>,
}

/// The running service network of one server.
pub struct Network {
    data_dir: PathBuf,
    record: Record,
    pub range: Range,
    pub dns: Ipv4Addr,
    held: BTreeSet<Ipv4Addr>,
    listening: HashMap<Listen, Listening>,
    zone: Arc<RwLock<Zone>>,
    dns_tasks: Vec<JoinHandle<()>>,
    connections: Arc<Semaphore>,
    flows: udp::Limits,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>, value: T) {
    *lock.write().unwrap_or_else(|p| p.into_inner()) = value;
}

impl Network {
    /// Undo what a crashed run left, reject the whole range, make the interface, serve DNS.
    pub async fn start(data_dir: &Path, range: Range) -> Result<Network, String> {
        if let Some(left) = host::read_record(data_dir) {
            host::run(&host::clean(&left))?;
            host::remove_record(data_dir);
        }
        let record = Record {
            interface: host::interface_for(data_dir),
            range: range.to_string(),
        };
        // Another server on this host routes the range: its reject and addresses are not
        // touched, and this one routes nothing.
        if host::rejected(&record.range) {
            return Err(format!(
                "{range} is already routed on this host (another kubetrail server?); give this \
                 one another --service-cluster-ip-range"
            ));
        }
        // An interface of this data directory's name that no record names is a leftover.
        let _ = host::run(&[host::Step {
            args: vec!["link".into(), "del".into(), record.interface.clone()],
            may_fail: true,
        }]);
        // Recorded first, so a crash between any two steps leaves a record of them.
        host::write_record(data_dir, &record)?;
        let setup = host::setup(&record);
        for (done, step) in setup.iter().enumerate() {
            if let Err(error) = host::run(std::slice::from_ref(step)) {
                let _ = host::run(&host::undo_setup(&record, done));
                host::remove_record(data_dir);
                return Err(error);
            }
        }
        let dns_ip = range.nth(10);
        let mut network = Network {
            data_dir: data_dir.to_path_buf(),
            record,
            range,
            dns: dns_ip,
            held: BTreeSet::new(),
            listening: HashMap::new(),
            zone: Arc::default(),
            dns_tasks: Vec::new(),
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            flows: udp::Limits::new(),
        };
        if let Err(error) = network.hold(dns_ip).await {
            network.stop();
            return Err(error);
        }
        let address = SocketAddr::from((dns_ip, 53));
        let udp = UdpSocket::bind(address)
            .await
            .map_err(|e| format!("cluster DNS on {address}/UDP: {e}"));
        let tcp = TcpListener::bind(address)
            .await
            .map_err(|e| format!("cluster DNS on {address}/TCP: {e}"));
        match (udp, tcp) {
            (Ok(udp), Ok(tcp)) => {
                network
                    .dns_tasks
                    .push(tokio::spawn(serve_dns_udp(udp, network.zone.clone())));
                network
                    .dns_tasks
                    .push(tokio::spawn(serve_dns_tcp(tcp, network.zone.clone())));
                Ok(network)
            }
            (Err(e), _) | (_, Err(e)) => {
                network.stop();
                Err(e)
            }
        }
    }

    async fn hold(&mut self, ip: Ipv4Addr) -> Result<(), String> {
        if self.held.contains(&ip) {
            return Ok(());
        }
        let step = host::assign(&self.record, ip);
        tokio::task::spawn_blocking(move || host::run(&[step]))
            .await
            .map_err(|e| e.to_string())??;
        self.held.insert(ip);
        Ok(())
    }

    /// Move to `desired`: hold new addresses, listen on new sockets, point every socket at its
    /// ready endpoints now, close and release what is no longer wanted. Returns the sockets
    /// that could not be served, each with why (an address that could not be held, as port 0).
    pub async fn apply(&mut self, desired: Desired) -> Vec<(Listen, String)> {
        let mut problems = Vec::new();
        write(&self.zone, desired.zone.clone());
        for ip in &desired.addresses {
            if let Err(error) = self.hold(*ip).await {
                problems.push((Listen::tcp(SocketAddr::from((*ip, 0))), error));
            }
        }
        let gone: Vec<Listen> = self
            .listening
            .keys()
            .filter(|s| !desired.listens.contains_key(s))
            .copied()
            .collect();
        for socket in gone {
            if let Some(listening) = self.listening.remove(&socket) {
                listening.task.abort();
            }
        }
        for (socket, route) in desired.listens {
            if let Some(listening) = self.listening.get(&socket) {
                write(&listening.route, route);
                continue;
            }
            let route = Arc::new(RwLock::new(route));
            let task = match socket.protocol {
                Protocol::Tcp => TcpListener::bind(socket.addr).await.map(|listener| {
                    tokio::spawn(relay(listener, route.clone(), self.connections.clone()))
                }),
                Protocol::Udp => UdpSocket::bind(socket.addr).await.map(|bound| {
                    tokio::spawn(udp::relay(bound, route.clone(), self.flows.clone()))
                }),
            };
            match task {
                Ok(task) => {
                    self.listening.insert(socket, Listening { task, route });
                }
                Err(error) => {
                    problems.push((socket, format!("cannot listen on {socket}: {error}")))
                }
            }
        }
        let released: Vec<Ipv4Addr> = self
            .held
            .iter()
            .filter(|ip| !desired.addresses.contains(ip) && **ip != self.dns)
            .copied()
            .collect();
        for ip in released {
            let step = host::release(&self.record, ip);
            let _ = tokio::task::spawn_blocking(move || host::run(&[step])).await;
            self.held.remove(&ip);
        }
        problems
    }

    /// Close every socket and undo every host change.
    pub fn stop(&mut self) {
        for (_, listening) in self.listening.drain() {
            listening.task.abort();
        }
        for task in self.dns_tasks.drain(..) {
            task.abort();
        }
        if let Err(error) = host::run(&host::clean(&self.record)) {
            tracing::warn!(%error, "undoing the service network's host changes");
        }
        host::remove_record(&self.data_dir);
        self.held.clear();
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if host::read_record(&self.data_dir).is_some() {
            self.stop();
        }
    }
}

/// Accept connections on `listener` and relay each to a ready endpoint of `route`.
async fn relay(listener: TcpListener, route: Arc<RwLock<Route>>, limit: Arc<Semaphore>) {
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            continue;
        };
        let backends = read(&route).backends.clone();
        let next = next.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut inbound = inbound;
            let start = next.fetch_add(1, Ordering::Relaxed);
            for offset in 0..backends.len() {
                let backend = backends[(start + offset) % backends.len()];
                if let Ok(Ok(mut outbound)) =
                    tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    return;
                }
            }
            // No ready endpoint took it: the client sees the connection closed.
        });
    }
}

async fn serve_dns_udp(socket: UdpSocket, zone: Arc<RwLock<Zone>>) {
    let mut buffer = [0u8; dns::MAX_UDP];
    loop {
        let Ok((length, from)) = socket.recv_from(&mut buffer).await else {
            continue;
        };
        // Answered under the read lock: no copy of the zone per query.
        let reply = dns::answer(&buffer[..length], &read(&zone));
        if let Some(reply) = reply {
            let _ = socket.send_to(&reply, from).await;
        }
    }
}

async fn serve_dns_tcp(listener: TcpListener, zone: Arc<RwLock<Zone>>) {
    let limit = Arc::new(Semaphore::new(256));
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            continue;
        };
        let zone = zone.clone();
        tokio::spawn(async move {
            let _permit = permit;
            loop {
                let mut length = [0u8; 2];
                let read_query = async {
                    stream.read_exact(&mut length).await?;
                    let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
                    stream.read_exact(&mut message).await?;
                    Ok::<_, std::io::Error>(message)
                };
                let Ok(Ok(message)) = tokio::time::timeout(DNS_TCP_TIMEOUT, read_query).await
                else {
                    return;
                };
                let Some(reply) = dns::answer(&message, &read(&zone)) else {
                    return;
                };
                let Ok(size) = u16::try_from(reply.len()) else {
                    return;
                };
                if stream.write_all(&size.to_be_bytes()).await.is_err()
                    || stream.write_all(&reply).await.is_err()
                {
                    return;
                }
            }
        });
    }
}
