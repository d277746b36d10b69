//! How the Docker runtime names and labels what it creates. The labels are the contract between
//! the kubelet (which creates, adopts and removes containers), the API server's log and exec
//! streams (which find a pod's containers), and a person running `docker ps`: everything a
//! container belongs to is on its labels, so a restarted kubetrail adopts instead of duplicating.

/// Uid of the pod a container belongs to.
pub const POD_UID: &str = "io.kubernetes.pod.uid";
/// Name of the pod a container belongs to.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
/// Namespace of the pod a container belongs to.
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The container's name in the pod spec (`POD` for the sandbox).
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Which run of the container this is: 0 for the first, the pod's restartCount after that.
pub const ATTEMPT: &str = "io.kubernetes.container.restartCount";
/// `podsandbox` or `container`.
pub const TYPE: &str = "io.kubernetes.docker.type";
/// The node whose kubelet owns the container: kubelets sharing one Docker engine leave each
/// other's containers alone.
pub const NODE: &str = "dev.kubetrail.node";

/// [`TYPE`] of the sandbox that holds a pod's network namespace.
pub const TYPE_SANDBOX: &str = "podsandbox";
/// [`TYPE`] of a container from the pod spec.
pub const TYPE_CONTAINER: &str = "container";
/// [`CONTAINER_NAME`] of the sandbox.
pub const SANDBOX_NAME: &str = "POD";

/// Docker's name for run `attempt` of `container` in a pod, as dockershim named it.
pub fn container_name(
    container: &str,
    pod: &str,
    namespace: &str,
    uid: &str,
    attempt: u32,
) -> String {
    format!("k8s_{container}_{pod}_{namespace}_{uid}_{attempt}")
}

/// Docker's name for a pod's sandbox.
pub fn sandbox_name(pod: &str, namespace: &str, uid: &str) -> String {
    container_name(SANDBOX_NAME, pod, namespace, uid, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockershim() {
        assert_eq!(
            container_name("app", "echo", "default", "u-1", 2),
            "k8s_app_echo_default_u-1_2"
        );
        assert_eq!(
            sandbox_name("echo", "default", "u-1"),
            "k8s_POD_echo_default_u-1_0"
        );
    }
}
