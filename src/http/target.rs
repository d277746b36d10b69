//! Resolving a request path into what it addresses (kube-apiserver's RequestInfo): kind,
//! namespace, name and subresource. Pure string work.

use crate::model::ResourceKind;

/// What a resource path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: ResourceKind,
    /// The namespace in the path; `None` for cluster-scoped kinds and all-namespace lists.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Parse the segments after `/api/v1/` (group "") or `/apis/<group>/<version>/`.
pub fn resolve(group: &str, segments: &[&str]) -> Option<Target> {
    match segments {
        ["namespaces", ns, plural, rest @ ..]
            if !rest.is_empty() || ResourceKind::from_plural(group, plural).is_some() =>
        {
            let kind = ResourceKind::from_plural(group, plural)?;
            if !kind.namespaced() {
                // `namespaces/<ns>/status|finalize` are namespace subresources.
                return namespace_subresource(group, ns, plural, rest);
            }
            let (name, subresource) = match rest {
                [] => (None, None),
                [name] => (Some(*name), None),
                [name, sub] => (Some(*name), Some(*sub)),
                _ => return None,
            };
            Some(Target {
                kind,
                namespace: Some((*ns).to_string()),
                name: name.map(str::to_string),
                subresource: subresource.map(str::to_string),
            })
        }
        ["namespaces", ns, sub] => namespace_subresource(group, ns, sub, &[]),
        [plural, rest @ ..] => {
            let kind = ResourceKind::from_plural(group, plural)?;
            let (name, subresource) = match rest {
                [] => (None, None),
                // Namespaced objects are only addressed inside their namespace.
                [name] if !kind.namespaced() => (Some(*name), None),
                [name, sub] if !kind.namespaced() => (Some(*name), Some(*sub)),
                _ => return None,
            };
            Some(Target {
                kind,
                namespace: None,
                name: name.map(str::to_string),
                subresource: subresource.map(str::to_string),
            })
        }
        [] => None,
    }
}

fn namespace_subresource(group: &str, ns: &str, sub: &str, rest: &[&str]) -> Option<Target> {
    if !group.is_empty() || !rest.is_empty() || ResourceKind::from_plural(group, sub).is_some() {
        return None;
    }
    Some(Target {
        kind: ResourceKind::Namespace,
        namespace: None,
        name: Some(ns.to_string()),
        subresource: Some(sub.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: ResourceKind, ns: Option<&str>, name: Option<&str>, sub: Option<&str>) -> Target {
        Target {
            kind,
            namespace: ns.map(Into::into),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
        }
    }

    #[test]
    fn resolves_paths_like_kube_apiserver() {
        use ResourceKind::*;
        let cases: Vec<(&str, &str, Option<Target>)> = vec![
            ("", "pods", Some(t(Pod, None, None, None))),
            (
                "",
                "namespaces/default/pods",
                Some(t(Pod, Some("default"), None, None)),
            ),
            (
                "",
                "namespaces/default/pods/web",
                Some(t(Pod, Some("default"), Some("web"), None)),
            ),
            (
                "",
                "namespaces/default/pods/web/status",
                Some(t(Pod, Some("default"), Some("web"), Some("status"))),
            ),
            ("", "namespaces", Some(t(Namespace, None, None, None))),
            (
                "",
                "namespaces/team",
                Some(t(Namespace, None, Some("team"), None)),
            ),
            (
                "",
                "namespaces/team/finalize",
                Some(t(Namespace, None, Some("team"), Some("finalize"))),
            ),
            ("", "nodes/n1", Some(t(Node, None, Some("n1"), None))),
            (
                "",
                "nodes/n1/status",
                Some(t(Node, None, Some("n1"), Some("status"))),
            ),
            (
                "apps",
                "namespaces/default/replicasets/web/scale",
                Some(t(ReplicaSet, Some("default"), Some("web"), Some("scale"))),
            ),
            ("apps", "replicasets", Some(t(ReplicaSet, None, None, None))),
            ("", "pods/web", None),
            ("", "replicasets", None),
            ("", "widgets", None),
            ("", "namespaces/default/pods/web/status/extra", None),
        ];
        for (group, path, want) in cases {
            let segments: Vec<&str> = path.split('/').collect();
            assert_eq!(resolve(group, &segments), want, "{group} {path}");
        }
    }
}
