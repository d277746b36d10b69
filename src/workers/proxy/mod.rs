//! The node's service network, what kube-proxy and CoreDNS do in a cluster: the cluster DNS
//! (`dns`).
pub mod dns;
