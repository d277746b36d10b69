//! What the service network should be, from the Services and Endpoints alone (pure): the
//! addresses to hold (each Service's ClusterIP in the service range), the sockets to listen on
//! (ClusterIP:port for every TCP and UDP port; 127.0.0.1:nodePort for NodePort and
//! LoadBalancer Services, and 127.0.0.1:port for LoadBalancer ones, their ingress), each with
//! its protocol, and for each the ready endpoints a connection or a UDP flow may go to
//! (`Endpoints` addresses, never `notReadyAddresses`), and the cluster DNS's zone.
//!
//! SCTP ports are not served: relaying SCTP needs the kernel's SCTP sockets (a module often
//! not loaded, and no tokio support), and a relay in user space could not keep its
//! multi-homing and streams anyway; such a port stays in the API with nothing listening.

use super::dns::Zone;
use crate::model::meta::{self, Lookup as _};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// An IPv4 range `a.b.c.d/n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Range {
    pub fn parse(text: &str) -> Option<Range> {
        let (ip, prefix) = text.split_once('/')?;
        let base: Ipv4Addr = ip.parse().ok()?;
        let prefix: u8 = prefix.parse().ok().filter(|p| (8..=30).contains(p))?;
        let mask = u32::MAX << (32 - u32::from(prefix));
        Some(Range {
            base: Ipv4Addr::from(u32::from(base) & mask),
            prefix,
        })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::MAX << (32 - u32::from(self.prefix));
        u32::from(ip) & mask == u32::from(self.base)
    }

    /// The `n`th address of the range (the cluster DNS is the 10th, as kubeadm puts it).
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// Where connections to one socket go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `namespace/name` of the Service, and the port's name.
    pub service: String,
    pub port_name: String,
    /// Ready endpoints, in a stable order.
    pub backends: Vec<SocketAddr>,
}

/// The transport protocols the service network serves (a Service port's `protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// A Service port's `protocol` (TCP when absent); `None` for SCTP or anything else.
    pub fn of_port(port: &Value) -> Option<Protocol> {
        match port["protocol"].as_str().unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            _ => None,
        }
    }
}

/// One socket to listen on: an address and its protocol. Ordered by address first, so a
/// port served over both protocols (DNS' 53) sits together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Listen {
    pub addr: SocketAddr,
    pub protocol: Protocol,
}

impl Listen {
    pub fn tcp(addr: SocketAddr) -> Listen {
        Listen {
            addr,
            protocol: Protocol::Tcp,
        }
    }

    pub fn udp(addr: SocketAddr) -> Listen {
        Listen {
            addr,
            protocol: Protocol::Udp,
        }
    }
}

/// As Kubernetes writes a port with its protocol: `10.96.0.10:53/UDP`.
impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        };
        write!(f, "{}/{protocol}", self.addr)
    }
}

/// The whole desired state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    pub addresses: BTreeSet<Ipv4Addr>,
    pub listens: BTreeMap<Listen, Route>,
    pub zone: Zone,
}

fn key(object: &Value) -> String {
    format!("{}/{}", meta::namespace(object), meta::name(object))
}

/// The ready endpoints of `port_name` in an Endpoints object, and the ready and not-ready
/// pods' (hostname, IP) pairs for DNS.
fn ready_backends(endpoints: Option<&Value>, port_name: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for subset in endpoints
        .and_then(|e| e.get("subsets"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ports = subset["ports"].as_array().cloned().unwrap_or_default();
        let port = ports
            .iter()
            .find(|p| p["name"].as_str().unwrap_or("") == port_name)
            .or_else(|| (ports.len() == 1).then(|| &ports[0]))
            .and_then(|p| p["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok());
        let Some(port) = port else { continue };
        for address in subset["addresses"].as_array().into_iter().flatten() {
            if let Some(ip) = address["ip"]
                .as_str()
                .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
            {
                out.push(SocketAddr::V4(SocketAddrV4::new(ip, port)));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The desired service network for `services` and `endpoints`, with cluster DNS at `dns`.
pub fn desired(services: &[&Value], endpoints: &[&Value], range: Range, dns: Ipv4Addr) -> Desired {
    let by_key: BTreeMap<String, &Value> = endpoints.iter().map(|e| (key(e), *e)).collect();
    let mut out = Desired::default();
    out.addresses.insert(dns);
    for service in services {
        if meta::deletion_timestamp(service).is_some() {
            continue;
        }
        let name = key(service);
        let endpoints = by_key.get(&name).copied();
        let kind = service
            .at("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP");
        let cluster_ip = service
            .at("/spec/clusterIP")
            .and_then(Value::as_str)
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
            .filter(|ip| range.contains(*ip) && *ip != dns);
        // DNS: the ClusterIP, or for a headless Service its ready endpoints' addresses.
        let headless = service.at("/spec/clusterIP").and_then(Value::as_str) == Some("None");
        let (addresses, hostnames) = if headless {
            let mut ips = BTreeSet::new();
            let mut hosts = Vec::new();
            for subset in endpoints
                .and_then(|e| e.get("subsets"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for address in subset["addresses"].as_array().into_iter().flatten() {
                    let Some(ip) = address["ip"].as_str().and_then(|ip| ip.parse().ok()) else {
                        continue;
                    };
                    ips.insert(ip);
                    if let Some(host) = address["hostname"].as_str() {
                        hosts.push((host.to_string(), ip));
                    }
                }
            }
            (ips.into_iter().collect(), hosts)
        } else {
            (cluster_ip.into_iter().collect(), Vec::new())
        };
        if headless || cluster_ip.is_some() {
            out.zone.add_service(
                meta::namespace(service),
                meta::name(service),
                addresses,
                &hostnames,
            );
        }
        if let Some(ip) = cluster_ip {
            out.addresses.insert(ip);
        }
        for port in service
            .at("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(protocol) = Protocol::of_port(port) else {
                continue;
            };
            let listen = |ip: Ipv4Addr, p: u16| Listen {
                addr: SocketAddr::V4(SocketAddrV4::new(ip, p)),
                protocol,
            };
            let port_name = port["name"].as_str().unwrap_or("").to_string();
            let route = Route {
                service: name.clone(),
                port_name: port_name.clone(),
                backends: ready_backends(endpoints, &port_name),
            };
            let number = |field: &str| port[field].as_u64().and_then(|p| u16::try_from(p).ok());
            if let (Some(ip), Some(p)) = (cluster_ip, number("port")) {
                out.listens.insert(listen(ip, p), route.clone());
            }
            if matches!(kind, "NodePort" | "LoadBalancer")
                && let Some(p) = number("nodePort")
            {
                out.listens
                    .insert(listen(Ipv4Addr::LOCALHOST, p), route.clone());
            }
            if kind == "LoadBalancer"
                && let Some(p) = number("port")
            {
                out.listens
                    .entry(listen(Ipv4Addr::LOCALHOST, p))
                    .or_insert(route);
            }
        }
    }
    out
}

/// Route the `kubernetes` Service (`default/kubernetes`) to the API server's own listener
/// `api`, when its Endpoints give it nowhere to go. Kubernetes' Endpoints of that Service name
/// the API server's address, which may not be a loopback one; this server listens on
/// loopback, which the relays (in the host's network namespace) reach and a pod could not:
/// so pods reach the API at the Service's ClusterIP through this route.
pub fn route_api_server(desired: &mut Desired, api: SocketAddr) {
    for route in desired.listens.values_mut() {
        if route.service == "default/kubernetes" && route.backends.is_empty() {
            route.backends = vec![api];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubernetes_service_goes_to_the_api_servers_listener() {
        let svc = serde_json::json!({"metadata": {"name": "kubernetes", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]}});
        let mut d = desired(&[&svc], &[], range(), range().nth(10));
        let api: SocketAddr = "127.0.0.1:40123".parse().unwrap();
        route_api_server(&mut d, api);
        let route = &d.listens[&Listen::tcp("10.96.0.1:443".parse().unwrap())];
        assert_eq!(route.backends, vec![api]);
    }
    use serde_json::json;

    fn range() -> Range {
        Range::parse("10.96.0.0/12").unwrap()
    }

    fn tcp(socket: &str) -> Listen {
        Listen::tcp(socket.parse().unwrap())
    }

    fn udp(socket: &str) -> Listen {
        Listen::udp(socket.parse().unwrap())
    }

    fn service(name: &str, kind: &str, ip: &str, ports: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "default"},
               "spec": {"type": kind, "clusterIP": ip, "ports": ports}})
    }

    fn endpoints(name: &str, ready: &[&str], not_ready: &[&str], port: i64) -> Value {
        let addresses = |ips: &[&str]| ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>();
        json!({"metadata": {"name": name, "namespace": "default"},
               "subsets": [{"addresses": addresses(ready), "notReadyAddresses": addresses(not_ready),
                            "ports": [{"port": port, "protocol": "TCP"}]}]})
    }

    #[test]
    fn ranges_parse_and_hold_their_addresses() {
        let r = Range::parse("10.96.5.7/12").unwrap();
        assert_eq!(r.to_string(), "10.96.0.0/12");
        assert!(r.contains("10.111.255.255".parse().unwrap()));
        assert!(!r.contains("10.112.0.0".parse().unwrap()));
        assert_eq!(r.nth(10), Ipv4Addr::new(10, 96, 0, 10));
        assert!(Range::parse("10.0.0.0/33").is_none());
        assert!(Range::parse("nonsense").is_none());
    }

    #[test]
    fn only_ready_endpoints_take_connections() {
        let svc = service(
            "web",
            "ClusterIP",
            "10.96.0.20",
            json!([{"port": 80, "targetPort": 3000}]),
        );
        let ep = endpoints("web", &["172.17.0.3"], &["172.17.0.4"], 3000);
        let d = desired(&[&svc], &[&ep], range(), range().nth(10));
        let route = &d.listens[&tcp("10.96.0.20:80")];
        assert_eq!(
            route.backends,
            vec!["172.17.0.3:3000".parse::<SocketAddr>().unwrap()]
        );
        assert!(d.addresses.contains(&Ipv4Addr::new(10, 96, 0, 20)));
        assert!(
            d.addresses.contains(&Ipv4Addr::new(10, 96, 0, 10)),
            "the DNS address"
        );
        assert_eq!(
            d.zone.names["web.default.svc.cluster.local"],
            vec![Ipv4Addr::new(10, 96, 0, 20)]
        );
    }

    #[test]
    fn node_ports_and_load_balancers_listen_on_loopback() {
        let np = service(
            "np",
            "NodePort",
            "10.96.0.21",
            json!([{"port": 3000, "nodePort": 31000}]),
        );
        let lb = service(
            "lb",
            "LoadBalancer",
            "10.96.0.22",
            json!([{"port": 8080, "nodePort": 31001}]),
        );
        let d = desired(&[&np, &lb], &[], range(), range().nth(10));
        for socket in [
            "127.0.0.1:31000",
            "127.0.0.1:31001",
            "127.0.0.1:8080",
            "10.96.0.21:3000",
            "10.96.0.22:8080",
        ] {
            assert!(
                d.listens.contains_key(&tcp(socket)),
                "{socket}: {:?}",
                d.listens.keys()
            );
        }
        assert!(
            !d.listens.contains_key(&tcp("127.0.0.1:3000")),
            "NodePort has no ingress"
        );
    }

    #[test]
    fn headless_services_resolve_to_ready_pods_and_take_no_address() {
        let svc = service("db", "ClusterIP", "None", json!([{"port": 5432}]));
        let ep = endpoints("db", &["172.17.0.5", "172.17.0.6"], &["172.17.0.7"], 5432);
        let d = desired(&[&svc], &[&ep], range(), range().nth(10));
        assert_eq!(d.zone.names["db.default.svc.cluster.local"].len(), 2);
        assert_eq!(d.addresses.len(), 1, "only the DNS address");
        assert!(d.listens.is_empty());
    }

    #[test]
    fn addresses_outside_the_range_and_sctp_ports_are_not_served() {
        let outside = service("o", "ClusterIP", "192.168.1.1", json!([{"port": 80}]));
        let sctp = service(
            "s",
            "ClusterIP",
            "10.96.0.30",
            json!([{"port": 9899, "protocol": "SCTP"}]),
        );
        let d = desired(&[&outside, &sctp], &[], range(), range().nth(10));
        assert!(!d.addresses.contains(&Ipv4Addr::new(192, 168, 1, 1)));
        assert!(
            d.addresses.contains(&Ipv4Addr::new(10, 96, 0, 30)),
            "the address is held for DNS and any other port"
        );
        assert!(d.listens.is_empty(), "{:?}", d.listens);
    }

    #[test]
    fn udp_ports_are_served_beside_tcp_ones_of_the_same_number() {
        let dns = service(
            "dns",
            "LoadBalancer",
            "10.96.0.31",
            json!([{"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 31053},
                   {"name": "dns-tcp", "port": 53, "protocol": "TCP", "nodePort": 31053}]),
        );
        let ep = json!({"metadata": {"name": "dns", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "172.17.0.8"}],
                         "ports": [{"name": "dns", "port": 1053, "protocol": "UDP"},
                                   {"name": "dns-tcp", "port": 2053, "protocol": "TCP"}]}]});
        let d = desired(&[&dns], &[&ep], range(), range().nth(10));
        let keys: Vec<String> = d.listens.keys().map(Listen::to_string).collect();
        assert_eq!(
            keys,
            [
                "10.96.0.31:53/TCP",
                "10.96.0.31:53/UDP",
                "127.0.0.1:53/TCP",
                "127.0.0.1:53/UDP",
                "127.0.0.1:31053/TCP",
                "127.0.0.1:31053/UDP",
            ],
            "ordered by address, then protocol"
        );
        let backends = |l: Listen| d.listens[&l].backends.clone();
        assert_eq!(
            backends(udp("10.96.0.31:53")),
            vec!["172.17.0.8:1053".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            backends(tcp("10.96.0.31:53")),
            vec!["172.17.0.8:2053".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(d.listens[&udp("127.0.0.1:31053")].port_name, "dns");
    }
}
