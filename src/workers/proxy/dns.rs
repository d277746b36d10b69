//! The cluster's DNS, as CoreDNS' kubernetes plugin answers it: `SERVICE.NAMESPACE.svc.ZONE`
//! is the Service's ClusterIP (a headless Service's ready endpoint IPs instead),
//! `HOSTNAME.SERVICE.NAMESPACE.svc.ZONE` a headless Service's pod, `A-B-C-D.NAMESPACE.pod.ZONE`
//! the address it spells. A name in the zone that is not there is NXDOMAIN, a name that is
//! there but asked for another type has no answer (NOERROR), and a name outside the zone is
//! REFUSED: nothing is forwarded off this machine. The message codec and `answer` are pure.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The cluster domain.
pub const ZONE: &str = "cluster.local";
/// Seconds a client may keep an answer (CoreDNS' default for the kubernetes plugin).
const TTL: u32 = 5;
/// The longest message read or written over UDP.
pub const MAX_UDP: usize = 512;

const TYPE_A: u16 = 1;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;

/// What the zone holds: names (lower case, without the trailing dot) and their addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zone {
    pub names: BTreeMap<String, Vec<Ipv4Addr>>,
}

impl Zone {
    /// A Service's name: its ClusterIP, or for a headless one the IPs of its ready endpoints
    /// (`hostnames` are the pods' own names under it).
    pub fn add_service(
        &mut self,
        namespace: &str,
        name: &str,
        addresses: Vec<Ipv4Addr>,
        hostnames: &[(String, Ipv4Addr)],
    ) {
        let service = format!("{name}.{namespace}.svc.{ZONE}");
        for (host, ip) in hostnames {
            self.names
                .entry(format!("{host}.{service}"))
                .or_default()
                .push(*ip);
        }
        self.names.entry(service).or_default().extend(addresses);
    }
}

/// A query's one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    pub recursion_desired: bool,
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// The question's bytes as sent (name, type, class), echoed in the answer.
    question: Vec<u8>,
}

/// Read a query: one question, no compression in it; `None` for anything else (answered
/// with FORMERR when at least the header could be read).
pub fn parse_query(message: &[u8]) -> Result<Query, Option<u16>> {
    if message.len() < 12 {
        return Err(None);
    }
    let id = u16::from_be_bytes([message[0], message[1]]);
    let flags = u16::from_be_bytes([message[2], message[3]]);
    let questions = u16::from_be_bytes([message[4], message[5]]);
    // A response, or an opcode other than QUERY, or not exactly one question.
    if flags & 0x8000 != 0 || (flags >> 11) & 0xf != 0 || questions != 1 {
        return Err(Some(id));
    }
    let mut labels = Vec::new();
    let mut pos = 12;
    loop {
        let length = usize::from(*message.get(pos).ok_or(Some(id))?);
        pos += 1;
        if length == 0 {
            break;
        }
        if length > 63 {
            return Err(Some(id));
        }
        let label = message.get(pos..pos + length).ok_or(Some(id))?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += length;
        if pos > 12 + 255 {
            return Err(Some(id));
        }
    }
    let fixed = message.get(pos..pos + 4).ok_or(Some(id))?;
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
    Ok(Query {
        id,
        recursion_desired: flags & 0x0100 != 0,
        name: labels.join("."),
        qtype,
        qclass,
        question: message[12..pos + 4].to_vec(),
    })
}

/// Response codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError = 0,
    FormErr = 1,
    NxDomain = 3,
    Refused = 5,
}

/// What the zone says to a query: the response code and the addresses.
pub fn resolve(query: &Query, zone: &Zone) -> (Rcode, Vec<Ipv4Addr>) {
    let name = query.name.trim_end_matches('.');
    let in_zone = name == ZONE || name.ends_with(&format!(".{ZONE}"));
    if !in_zone || query.qclass != CLASS_IN {
        return (Rcode::Refused, Vec::new());
    }
    if let Some(addresses) = zone.names.get(name) {
        return match query.qtype {
            TYPE_A | TYPE_ANY => (Rcode::NoError, addresses.clone()),
            _ => (Rcode::NoError, Vec::new()),
        };
    }
    // A-B-C-D.NAMESPACE.pod.ZONE spells an address.
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() == 5 && labels[2] == "pod" {
        let spelled: Option<Vec<u8>> = labels[0].split('-').map(|o| o.parse().ok()).collect();
        if let Some([a, b, c, d]) = spelled.as_deref() {
            let ip = Ipv4Addr::new(*a, *b, *c, *d);
            return match query.qtype {
                TYPE_A | TYPE_ANY => (Rcode::NoError, vec![ip]),
                _ => (Rcode::NoError, Vec::new()),
            };
        }
    }
    // Names that hold others (`svc.ZONE`, `NAMESPACE.svc.ZONE`) exist without addresses.
    let suffix = format!(".{name}");
    if zone.names.keys().any(|n| n.ends_with(&suffix)) {
        return (Rcode::NoError, Vec::new());
    }
    (Rcode::NxDomain, Vec::new())
}

/// The response to `query`: its question echoed, and one A record per address (shuffled by
/// the caller if it wants spreading), authoritative for the zone.
pub fn response(query: &Query, rcode: Rcode, addresses: &[Ipv4Addr]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + addresses.len() * 16);
    out.extend_from_slice(&query.id.to_be_bytes());
    let mut flags: u16 = 0x8000 | (rcode as u16);
    if rcode != Rcode::Refused {
        flags |= 0x0400; // authoritative
    }
    if query.recursion_desired {
        flags |= 0x0100;
    }
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    // As many answers as fit in a UDP message; a client that needs all asks over TCP.
    let fit = (MAX_UDP - 12 - query.question.len()) / 16;
    let answers = addresses.len().min(fit);
    out.extend_from_slice(&(answers as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query.question);
    for ip in &addresses[..answers] {
        out.extend_from_slice(&[0xc0, 0x0c]); // the name: a pointer to the question's
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// The answer to a message read off the wire, `None` when not even its header could be read.
pub fn answer(message: &[u8], zone: &Zone) -> Option<Vec<u8>> {
    match parse_query(message) {
        Ok(query) => {
            let (rcode, addresses) = resolve(&query, zone);
            Some(response(&query, rcode, &addresses))
        }
        Err(Some(id)) => {
            let mut out = id.to_be_bytes().to_vec();
            out.extend_from_slice(&(0x8000u16 | Rcode::FormErr as u16).to_be_bytes());
            out.extend_from_slice(&[0; 8]);
            Some(out)
        }
        Err(None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut out = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out
    }

    fn zone() -> Zone {
        let mut zone = Zone::default();
        zone.add_service("default", "redis", vec![Ipv4Addr::new(10, 96, 0, 20)], &[]);
        zone.add_service(
            "default",
            "db",
            vec![Ipv4Addr::new(172, 17, 0, 5), Ipv4Addr::new(172, 17, 0, 6)],
            &[("db-0".to_string(), Ipv4Addr::new(172, 17, 0, 5))],
        );
        zone
    }

    fn addresses(response: &[u8]) -> (u16, Vec<Ipv4Addr>) {
        let rcode = u16::from_be_bytes([response[2], response[3]]) & 0xf;
        let count = usize::from(u16::from_be_bytes([response[6], response[7]]));
        let ips = (0..count)
            .map(|i| {
                let at = response.len() - (count - i) * 16 + 12;
                Ipv4Addr::new(
                    response[at],
                    response[at + 1],
                    response[at + 2],
                    response[at + 3],
                )
            })
            .collect();
        (rcode, ips)
    }

    #[test]
    fn services_resolve_by_their_full_names() {
        let z = zone();
        let (rcode, ips) =
            addresses(&answer(&query("redis.default.svc.cluster.local", TYPE_A), &z).unwrap());
        assert_eq!((rcode, ips), (0, vec![Ipv4Addr::new(10, 96, 0, 20)]));
        let (_, ips) =
            addresses(&answer(&query("REDIS.Default.svc.cluster.local", TYPE_A), &z).unwrap());
        assert_eq!(ips.len(), 1, "names are case-insensitive");
        let (_, ips) =
            addresses(&answer(&query("db.default.svc.cluster.local", TYPE_A), &z).unwrap());
        assert_eq!(ips.len(), 2, "a headless Service answers its endpoints");
        let (_, ips) =
            addresses(&answer(&query("db-0.db.default.svc.cluster.local", TYPE_A), &z).unwrap());
        assert_eq!(ips, vec![Ipv4Addr::new(172, 17, 0, 5)]);
        let (_, ips) =
            addresses(&answer(&query("172-17-0-9.default.pod.cluster.local", TYPE_A), &z).unwrap());
        assert_eq!(ips, vec![Ipv4Addr::new(172, 17, 0, 9)]);
    }

    #[test]
    fn missing_names_other_types_and_foreign_names() {
        let z = zone();
        // The search path's first tries: NXDOMAIN.
        let (rcode, _) = addresses(
            &answer(
                &query(
                    "redis.default.svc.cluster.local.default.svc.cluster.local",
                    TYPE_A,
                ),
                &z,
            )
            .unwrap(),
        );
        assert_eq!(rcode, Rcode::NxDomain as u16);
        // AAAA of a Service that exists: no answer, no error.
        let (rcode, ips) =
            addresses(&answer(&query("redis.default.svc.cluster.local", 28), &z).unwrap());
        assert_eq!((rcode, ips.len()), (0, 0));
        // A namespace is a name that holds others.
        let (rcode, _) =
            addresses(&answer(&query("default.svc.cluster.local", TYPE_A), &z).unwrap());
        assert_eq!(rcode, 0);
        let (rcode, _) = addresses(&answer(&query("example.com", TYPE_A), &z).unwrap());
        assert_eq!(rcode, Rcode::Refused as u16);
    }

    #[test]
    fn malformed_messages_get_formerr_or_nothing() {
        let z = zone();
        assert!(answer(&[1, 2, 3], &z).is_none());
        let mut bad = query("redis.default.svc.cluster.local", TYPE_A);
        bad.truncate(20);
        let reply = answer(&bad, &z).unwrap();
        assert_eq!(
            u16::from_be_bytes([reply[2], reply[3]]) & 0xf,
            Rcode::FormErr as u16
        );
        let mut two = query("redis.default.svc.cluster.local", TYPE_A);
        two[5] = 2;
        let reply = answer(&two, &z).unwrap();
        assert_eq!(
            u16::from_be_bytes([reply[2], reply[3]]) & 0xf,
            Rcode::FormErr as u16
        );
    }

    #[test]
    fn a_long_answer_is_cut_to_fit_a_udp_message() {
        let mut z = Zone::default();
        let many: Vec<Ipv4Addr> = (0..200).map(|i| Ipv4Addr::new(172, 17, 1, i)).collect();
        z.add_service("default", "big", many, &[]);
        let reply = answer(&query("big.default.svc.cluster.local", TYPE_A), &z).unwrap();
        assert!(reply.len() <= MAX_UDP, "{}", reply.len());
    }
}
