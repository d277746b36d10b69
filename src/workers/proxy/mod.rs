//! The node's service network, what kube-proxy and CoreDNS do in a cluster: the cluster DNS
//! (`dns`), the host changes that keep Service addresses on this machine (`host`), the desired
//! state from Services and Endpoints (`table`), the running network (`network`) with its UDP
//! relay (`udp`) and the worker that follows the API (`worker`).
pub mod dns;
pub mod host;
pub mod network;
pub mod table;
pub mod udp;
pub mod worker;
