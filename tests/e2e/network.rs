//! The service network on this host (as root): Service addresses held on an interface of the
//! server's own, connections and UDP datagrams to them relayed to ready endpoints only (one
//! port number over both protocols), the cluster DNS answering on its address, the whole
//! range refused when not assigned (no packet for it leaves by the default route, counted by
//! a table of this test's own), and every change undone on stop and after a crash.

use crate::support::internals::{Network, cluster_dns, service_host, service_table};
use serde_json::json;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `ip ARGS`' output (its stdout).
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn root() {
    assert!(
        uid() == 0,
        "the service network changes the host: run the tests as root (the test command does)"
    );
}

/// An nftables table of this test's own counting packets for `range` that leave by an
/// interface other than loopback, from this host or forwarded from its containers; removed
/// when dropped.
pub struct Leak {
    table: String,
}

impl Leak {
    pub fn count(range: &str) -> Leak {
        let table = format!("kubetrail_leak_{}", std::process::id());
        let script = format!(
            "table ip {table} {{
                chain leaving {{ type filter hook output priority 0; policy accept; ip daddr {range} oifname != \"lo\" counter; }}
                chain forwarded {{ type filter hook forward priority 0; policy accept; ip daddr {range} counter; }}
            }}"
        );
        let mut child = Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("nft runs (apt-get install nftables)");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("script written");
        assert!(
            child.wait().expect("nft").success(),
            "the counting table is set up"
        );
        Leak { table }
    }

    pub fn packets(&self) -> u64 {
        let out = Command::new("nft")
            .args(["list", "table", "ip", &self.table])
            .output()
            .expect("nft");
        String::from_utf8_lossy(&out.stdout)
            .split("packets ")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }
}

impl Drop for Leak {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.table])
            .status();
    }
}

fn uid() -> u32 {
    String::from_utf8_lossy(&Command::new("id").arg("-u").output().expect("id").stdout)
        .trim()
        .parse()
        .unwrap_or(u32::MAX)
}

/// A TCP server on loopback answering each connection with `reply`.
async fn backend(reply: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    address
}

/// A UDP server on loopback answering each datagram with `reply` and the datagram.
async fn udp_backend(reply: &'static str) -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = socket.local_addr().expect("address");
    tokio::spawn(async move {
        let mut buffer = [0u8; 1024];
        while let Ok((length, from)) = socket.recv_from(&mut buffer).await {
            let mut answer = reply.as_bytes().to_vec();
            answer.extend_from_slice(&buffer[..length]);
            let _ = socket.send_to(&answer, from).await;
        }
    });
    address
}

/// One datagram to `to` and its reply (text, source), within 3 s.
async fn ask_udp(to: SocketAddr, message: &str) -> Option<(String, SocketAddr)> {
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await.expect("udp");
    socket.send_to(message.as_bytes(), to).await.expect("sent");
    let mut reply = [0u8; 1024];
    let (length, from) = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        socket.recv_from(&mut reply),
    )
    .await
    .ok()?
    .ok()?;
    Some((String::from_utf8_lossy(&reply[..length]).into_owned(), from))
}

async fn fetch(to: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(to).await.expect("connect");
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out).await;
    out
}

#[tokio::test]
async fn the_service_network_relays_to_ready_endpoints_answers_dns_and_cleans_up() {
    root();
    let dir = tempfile::tempdir().expect("dir");
    let range = service_table::Range::parse("10.126.0.0/16").expect("range");
    let mut network = Network::start(dir.path(), range).await.expect("started");
    // This network's interface, by the record it keeps (another kubetrail server on this host
    // has one of its own).
    let ours = service_host::read_record(dir.path())
        .expect("the network recorded its host changes")
        .interface;
    assert!(
        ip(&["-o", "link", "show"]).contains(&format!(": {ours}")),
        "{ours} exists"
    );
    assert!(ip(&["route", "show", "type", "prohibit"]).contains("10.126.0.0/16"));

    let ready = backend("ready").await;
    let service = json!({"metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": "NodePort", "clusterIP": "10.126.0.20",
                 "ports": [{"port": 80, "targetPort": ready.port(), "nodePort": 31999}]}});
    let endpoints = json!({"metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "notReadyAddresses": [{"ip": "127.0.0.2"}],
                     "ports": [{"port": ready.port()}]}]});
    let desired = service_table::desired(&[&service], &[&endpoints], range, range.nth(10));
    let problems = network.apply(desired).await;
    assert!(problems.is_empty(), "{problems:?}");
    for _ in 0..20 {
        assert_eq!(fetch("10.126.0.20:80".parse().unwrap()).await, "ready");
    }
    assert_eq!(fetch("127.0.0.1:31999".parse().unwrap()).await, "ready");

    // One port number over UDP and TCP, as DNS' 53: each protocol to its own endpoint port,
    // UDP replies from the Service's address.
    let (over_udp, over_tcp) = (udp_backend("udp:").await, backend("tcp").await);
    let both = json!({"metadata": {"name": "both", "namespace": "default"},
        "spec": {"type": "NodePort", "clusterIP": "10.126.0.21",
                 "ports": [{"name": "u", "port": 53, "protocol": "UDP", "nodePort": 31998},
                           {"name": "t", "port": 53, "protocol": "TCP", "nodePort": 31998}]}});
    let both_endpoints = json!({"metadata": {"name": "both", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                     "ports": [{"name": "u", "port": over_udp.port(), "protocol": "UDP"},
                               {"name": "t", "port": over_tcp.port(), "protocol": "TCP"}]}]});
    let desired = service_table::desired(
        &[&service, &both],
        &[&endpoints, &both_endpoints],
        range,
        range.nth(10),
    );
    let problems = network.apply(desired).await;
    assert!(problems.is_empty(), "{problems:?}");
    for to in ["10.126.0.21:53", "127.0.0.1:31998"] {
        let to: SocketAddr = to.parse().unwrap();
        assert_eq!(
            ask_udp(to, "hello").await,
            Some(("udp:hello".to_string(), to)),
            "{to}/UDP"
        );
        assert_eq!(fetch(to).await, "tcp", "{to}/TCP");
    }

    // DNS over UDP on the range's tenth address.
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await.expect("udp");
    let mut query = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["web", "default", "svc", "cluster", "local"] {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    socket
        .send_to(&query, "10.126.0.10:53")
        .await
        .expect("sent");
    let mut reply = [0u8; 512];
    let (length, _) = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        socket.recv_from(&mut reply),
    )
    .await
    .expect("a DNS reply")
    .expect("received");
    assert_eq!(&reply[length - 4..length], &[10, 126, 0, 20]);
    let _ = cluster_dns::ZONE;

    // An address of the range that is not assigned is refused here, and no packet for the
    // range leaves by any interface but loopback (counted by a table of this test's own).
    let leak = Leak::count("10.126.0.0/16");
    for port in [80, 443, 53] {
        let refused = tokio::net::TcpStream::connect(("10.126.9.9", port)).await;
        assert!(
            refused.is_err(),
            "an unassigned service address does not connect"
        );
    }
    let _ = socket.send_to(&query, "10.126.200.1:53").await;
    let route = Command::new("ip")
        .args(["route", "get", "10.126.9.9"])
        .output()
        .expect("ip");
    assert!(
        String::from_utf8_lossy(&route.stderr).contains("Permission denied"),
        "the range's reject answers a lookup of an unassigned address"
    );
    assert_eq!(fetch("10.126.0.20:80".parse().unwrap()).await, "ready");
    assert_eq!(
        leak.packets(),
        0,
        "packets for the service range left this host"
    );
    drop(leak);

    // A second server on the same range routes nothing and leaves the first's reject alone.
    let other = tempfile::tempdir().expect("dir");
    let refused = Network::start(other.path(), range)
        .await
        .err()
        .expect("refused");
    assert!(refused.contains("already routed on this host"), "{refused}");
    assert!(ip(&["route", "show", "type", "prohibit"]).contains("10.126.0.0/16"));
    assert_eq!(fetch("10.126.0.20:80".parse().unwrap()).await, "ready");

    network.stop();
    assert!(
        !ip(&["-o", "link", "show"]).contains(&format!(": {ours}")),
        "the interface is gone"
    );
    assert!(!ip(&["route", "show", "type", "prohibit"]).contains("10.126.0.0/16"));
    let after: Result<_, _> = tokio::net::TcpStream::connect("127.0.0.1:31999").await;
    assert!(after.is_err(), "the NodePort is closed");
    assert!(
        ask_udp("127.0.0.1:31998".parse().unwrap(), "late")
            .await
            .is_none(),
        "the UDP NodePort is closed"
    );

    // After a crash: the changes and their record left behind, as a killed server leaves
    // them; a new start undoes them first.
    let left = service_host::Record {
        interface: ours.clone(),
        range: "10.126.0.0/16".to_string(),
    };
    service_host::write_record(dir.path(), &left).expect("recorded");
    service_host::run(&service_host::setup(&left)).expect("left behind");
    service_host::run(&[service_host::assign(&left, Ipv4Addr::new(10, 126, 0, 33))])
        .expect("an address left behind");
    assert!(ip(&["route", "show", "type", "prohibit"]).contains("10.126.0.0/16"));
    let mut again = Network::start(dir.path(), range)
        .await
        .expect("restarted over a crash");
    again.stop();
    assert!(!ip(&["route", "show", "type", "prohibit"]).contains("10.126.0.0/16"));
    assert!(!ip(&["-o", "link", "show"]).contains(&format!(": {ours}")));
    assert!(!ip(&["-o", "addr"]).contains("10.126.0.33"));
}
