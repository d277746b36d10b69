//! The Docker runtime: runs each pod bound to the node as real containers through bollard, one
//! sandbox container holding the pod's network namespace and the spec's containers joined to it.

pub mod naming;
pub mod observe;
pub mod pause;
pub mod spec;
pub mod sync;
