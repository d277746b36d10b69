//! Every actor the server writes as (the `actor` of each event it appends), defined once: the
//! in-process controllers, their election, the server itself, and its kubelets
//! (`kubelet/<node>`). `is_controller`
//! tells these control loops from people; `history::why` follows causes back to a person with
//! it, and `workers::controllers` registers exactly `CONTROLLERS`.

/// Empties and finalizes namespaces being deleted.
pub const NAMESPACE_CONTROLLER: &str = "namespace-controller";
/// Marks silent nodes Unknown, taints them, evicts their pods.
pub const NODE_LIFECYCLE_CONTROLLER: &str = "node-lifecycle-controller";
/// Keeps each ReplicaSet's replicas.
pub const REPLICASET_CONTROLLER: &str = "replicaset-controller";
/// Rolls each Deployment's ReplicaSets from one pod template to the next.
pub const DEPLOYMENT_CONTROLLER: &str = "deployment-controller";
/// Keeps each Service's Endpoints.
pub const ENDPOINT_CONTROLLER: &str = "endpoint-controller";
/// Keeps each Service's EndpointSlices.
pub const ENDPOINTSLICE_CONTROLLER: &str = "endpointslice-controller";
/// Keeps a `default` ServiceAccount in every active namespace.
pub const SERVICEACCOUNT_CONTROLLER: &str = "serviceaccount-controller";
/// Deletes core/v1 Events not written for the event TTL.
pub const EVENT_TTL_CONTROLLER: &str = "event-ttl-controller";
/// Follows ownerReferences (background, foreground and orphan propagation).
pub const GARBAGE_COLLECTOR: &str = "generic-garbage-collector";
/// Binds pending pods to nodes.
pub const SCHEDULER: &str = "default-scheduler";

/// The in-process controllers, in the order the server starts them.
pub const CONTROLLERS: [&str; 10] = [
    NAMESPACE_CONTROLLER,
    SCHEDULER,
    DEPLOYMENT_CONTROLLER,
    REPLICASET_CONTROLLER,
    ENDPOINT_CONTROLLER,
    ENDPOINTSLICE_CONTROLLER,
    SERVICEACCOUNT_CONTROLLER,
    GARBAGE_COLLECTOR,
    NODE_LIFECYCLE_CONTROLLER,
    EVENT_TTL_CONTROLLER,
];

/// The controllers' election: writes the Lease (`kube-system/kubetrail-controllers`) the server
/// whose controllers run holds, as kube-controller-manager writes `kube-controller-manager`'s.
pub const CONTROLLER_MANAGER: &str = "kubetrail-controller-manager";

/// The node's service proxy: the service network, LoadBalancer ingress.
pub const SERVICE_PROXY: &str = "service-proxy";

/// The server itself: what it creates at start (the built-in namespaces).
pub const SYSTEM: &str = "system:kubetrail";

/// A kubelet in the server's process writes as `kubelet/<node>`; one in another process sends
/// the same name as its `User-Agent` (its events are recorded as the user it authenticates as).
pub const KUBELET_PREFIX: &str = "kubelet/";

/// The actor of the kubelet of `node`.
pub fn kubelet(node: &str) -> String {
    format!("{KUBELET_PREFIX}{node}")
}

/// Whether `actor` is one of the server's control loops (a controller, the server itself, a
/// kubelet) rather than a person or a client program.
pub fn is_controller(actor: &str) -> bool {
    CONTROLLERS.contains(&actor)
        || actor == SYSTEM
        || actor == SERVICE_PROXY
        || actor == CONTROLLER_MANAGER
        || actor.starts_with(KUBELET_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_loops_are_told_from_people() {
        for actor in [
            "namespace-controller",
            "node-lifecycle-controller",
            "replicaset-controller",
            "deployment-controller",
            "endpoint-controller",
            "endpointslice-controller",
            "serviceaccount-controller",
            "service-proxy",
            "kubetrail-controller-manager",
            "generic-garbage-collector",
            "default-scheduler",
            "system:kubetrail",
            "kubelet/node-1",
        ] {
            assert!(is_controller(actor), "{actor}");
        }
        for actor in ["kubetrail-admin", "kubectl", "kubelet", "", "system:admin"] {
            assert!(!is_controller(actor), "{actor}");
        }
        assert_eq!(kubelet("node-1"), "kubelet/node-1");
    }
}
