//! The resource kinds kubetrail serves and their static facts (group, version, plural, scope,
//! short names); the single table the router, discovery and storage agree on.

use std::fmt;

/// A kind of object the API serves. Its string form (`as_str`) is the `kind` stored in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Namespace,
    Node,
    Pod,
    ReplicaSet,
    Deployment,
    Event,
    Service,
    Endpoints,
    EndpointSlice,
    ConfigMap,
    Secret,
    ServiceAccount,
    Lease,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 13] = [
        ResourceKind::Namespace,
        ResourceKind::Node,
        ResourceKind::Pod,
        ResourceKind::ReplicaSet,
        ResourceKind::Deployment,
        ResourceKind::Event,
        ResourceKind::Service,
        ResourceKind::Endpoints,
        ResourceKind::EndpointSlice,
        ResourceKind::ConfigMap,
        ResourceKind::Secret,
        ResourceKind::ServiceAccount,
        ResourceKind::Lease,
    ];

    /// The `kind` field value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Namespace => "Namespace",
            ResourceKind::Node => "Node",
            ResourceKind::Pod => "Pod",
            ResourceKind::ReplicaSet => "ReplicaSet",
            ResourceKind::Deployment => "Deployment",
            ResourceKind::Event => "Event",
            ResourceKind::Service => "Service",
            ResourceKind::Endpoints => "Endpoints",
            ResourceKind::EndpointSlice => "EndpointSlice",
            ResourceKind::ConfigMap => "ConfigMap",
            ResourceKind::Secret => "Secret",
            ResourceKind::ServiceAccount => "ServiceAccount",
            ResourceKind::Lease => "Lease",
        }
    }

    pub fn from_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// API group; "" for the core group.
    pub fn group(self) -> &'static str {
        match self {
            ResourceKind::ReplicaSet | ResourceKind::Deployment => "apps",
            ResourceKind::EndpointSlice => "discovery.k8s.io",
            ResourceKind::Lease => "coordination.k8s.io",
            _ => "",
        }
    }

    pub fn version(self) -> &'static str {
        "v1"
    }

    /// `apiVersion` as written in objects: `v1` or `apps/v1`.
    pub fn api_version(self) -> &'static str {
        match self {
            ResourceKind::ReplicaSet | ResourceKind::Deployment => "apps/v1",
            ResourceKind::EndpointSlice => "discovery.k8s.io/v1",
            ResourceKind::Lease => "coordination.k8s.io/v1",
            _ => "v1",
        }
    }

    /// The plural resource name used in URLs.
    pub fn plural(self) -> &'static str {
        match self {
            ResourceKind::Namespace => "namespaces",
            ResourceKind::Node => "nodes",
            ResourceKind::Pod => "pods",
            ResourceKind::ReplicaSet => "replicasets",
            ResourceKind::Deployment => "deployments",
            ResourceKind::Event => "events",
            ResourceKind::Service => "services",
            ResourceKind::Endpoints => "endpoints",
            ResourceKind::EndpointSlice => "endpointslices",
            ResourceKind::ConfigMap => "configmaps",
            ResourceKind::Secret => "secrets",
            ResourceKind::ServiceAccount => "serviceaccounts",
            ResourceKind::Lease => "leases",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            ResourceKind::Namespace => "namespace",
            ResourceKind::Node => "node",
            ResourceKind::Pod => "pod",
            ResourceKind::ReplicaSet => "replicaset",
            ResourceKind::Deployment => "deployment",
            ResourceKind::Event => "event",
            ResourceKind::Service => "service",
            ResourceKind::Endpoints => "endpoints",
            ResourceKind::EndpointSlice => "endpointslice",
            ResourceKind::ConfigMap => "configmap",
            ResourceKind::Secret => "secret",
            ResourceKind::ServiceAccount => "serviceaccount",
            ResourceKind::Lease => "lease",
        }
    }

    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            ResourceKind::Namespace => &["ns"],
            ResourceKind::Node => &["no"],
            ResourceKind::Pod => &["po"],
            ResourceKind::ReplicaSet => &["rs"],
            ResourceKind::Deployment => &["deploy"],
            ResourceKind::Event => &["ev"],
            ResourceKind::Service => &["svc"],
            ResourceKind::Endpoints => &["ep"],
            ResourceKind::EndpointSlice | ResourceKind::Secret | ResourceKind::Lease => &[],
            ResourceKind::ConfigMap => &["cm"],
            ResourceKind::ServiceAccount => &["sa"],
        }
    }

    pub fn categories(self) -> &'static [&'static str] {
        match self {
            ResourceKind::Pod
            | ResourceKind::ReplicaSet
            | ResourceKind::Deployment
            | ResourceKind::Service => &["all"],
            _ => &[],
        }
    }

    pub fn namespaced(self) -> bool {
        matches!(
            self,
            ResourceKind::Pod
                | ResourceKind::ReplicaSet
                | ResourceKind::Deployment
                | ResourceKind::Event
                | ResourceKind::Service
                | ResourceKind::Endpoints
                | ResourceKind::EndpointSlice
                | ResourceKind::ConfigMap
                | ResourceKind::Secret
                | ResourceKind::ServiceAccount
                | ResourceKind::Lease
        )
    }

    /// `<plural>` for the core group, `<plural>.<group>` otherwise, as Status messages name it.
    pub fn qualified_resource(self) -> String {
        match self.group() {
            "" => self.plural().to_string(),
            group => format!("{}.{group}", self.plural()),
        }
    }

    /// Resolve a URL segment under a group/version to a kind.
    pub fn from_plural(group: &str, plural: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.group() == group && k.plural() == plural)
    }

    /// Whether the kind has a spec whose changes bump `metadata.generation`.
    pub fn has_generation(self) -> bool {
        matches!(
            self,
            ResourceKind::Pod | ResourceKind::ReplicaSet | ResourceKind::Deployment
        )
    }

    /// Whether the kind keeps a `status` that only the status subresource may change.
    pub fn has_status(self) -> bool {
        !matches!(
            self,
            ResourceKind::Event
                | ResourceKind::Endpoints
                | ResourceKind::EndpointSlice
                | ResourceKind::ConfigMap
                | ResourceKind::Secret
                | ResourceKind::ServiceAccount
                | ResourceKind::Lease
        )
    }

    /// Subresources served for this kind, with the verbs and response kind (group, version, kind).
    pub fn subresources(self) -> &'static [Subresource] {
        const POD: &[Subresource] = &[
            Subresource::new("attach", "", "", "PodAttachOptions", &["create", "get"]),
            Subresource::new("binding", "", "", "Binding", &["create"]),
            Subresource::new("exec", "", "", "PodExecOptions", &["create", "get"]),
            Subresource::new("log", "", "", "Pod", &["get"]),
            Subresource::new(
                "portforward",
                "",
                "",
                "PodPortForwardOptions",
                &["create", "get"],
            ),
            Subresource::new("status", "", "", "Pod", &["get", "patch", "update"]),
        ];
        const RS: &[Subresource] = &[
            Subresource::new(
                "scale",
                "autoscaling",
                "v1",
                "Scale",
                &["get", "patch", "update"],
            ),
            Subresource::new("status", "", "", "ReplicaSet", &["get", "patch", "update"]),
        ];
        const DEPLOY: &[Subresource] = &[
            Subresource::new(
                "scale",
                "autoscaling",
                "v1",
                "Scale",
                &["get", "patch", "update"],
            ),
            Subresource::new("status", "", "", "Deployment", &["get", "patch", "update"]),
        ];
        const NODE: &[Subresource] = &[Subresource::new(
            "status",
            "",
            "",
            "Node",
            &["get", "patch", "update"],
        )];
        const SVC: &[Subresource] = &[Subresource::new(
            "status",
            "",
            "",
            "Service",
            &["get", "patch", "update"],
        )];
        const SA: &[Subresource] = &[Subresource::new(
            "token",
            "authentication.k8s.io",
            "v1",
            "TokenRequest",
            &["create"],
        )];
        const NS: &[Subresource] = &[
            Subresource::new("finalize", "", "", "Namespace", &["update"]),
            Subresource::new("status", "", "", "Namespace", &["get", "patch", "update"]),
        ];
        match self {
            ResourceKind::Pod => POD,
            ResourceKind::ReplicaSet => RS,
            ResourceKind::Deployment => DEPLOY,
            ResourceKind::Node => NODE,
            ResourceKind::Namespace => NS,
            ResourceKind::Service => SVC,
            ResourceKind::ServiceAccount => SA,
            ResourceKind::Event
            | ResourceKind::Endpoints
            | ResourceKind::EndpointSlice
            | ResourceKind::ConfigMap
            | ResourceKind::Secret
            | ResourceKind::Lease => &[],
        }
    }

    pub fn verbs(self) -> &'static [&'static str] {
        match self {
            // kube-apiserver serves no deletecollection for these two.
            ResourceKind::Namespace | ResourceKind::Service => &[
                "create", "delete", "get", "list", "patch", "update", "watch",
            ],
            _ => &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ],
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subresource served under a kind, for discovery.
#[derive(Debug, Clone, Copy)]
pub struct Subresource {
    pub name: &'static str,
    /// Response kind's group and version; empty means "the parent's".
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

impl Subresource {
    /// Whether the subresource streams (container logs, exec, attach and port-forward sessions) rather than
    /// reading or writing an object.
    pub fn is_stream(&self) -> bool {
        matches!(self.name, "attach" | "exec" | "log" | "portforward")
    }

    const fn new(
        name: &'static str,
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        verbs: &'static [&'static str],
    ) -> Self {
        Subresource {
            name,
            group,
            version,
            kind,
            verbs,
        }
    }
}
