//! The node's service network, what kube-proxy and CoreDNS do in a cluster: the cluster DNS
//! (`dns`), and the host changes that keep Service addresses on this machine (`host`).
pub mod dns;
pub mod host;
pub mod network;
pub mod table;
