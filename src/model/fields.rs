//! Which fields each kind can be selected by (`fieldSelector`) and how their values are read,
//! following the field label conversions kube-apiserver registers per kind.

use super::ResourceKind;
use super::meta::Lookup as _;
use serde_json::Value;

/// The field labels a kind supports in `fieldSelector`.
pub fn supported_fields(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        ResourceKind::Pod => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ResourceKind::Event => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ResourceKind::Node => &["metadata.name", "spec.unschedulable"],
        ResourceKind::Namespace => &["metadata.name", "status.phase"],
        ResourceKind::ReplicaSet => &["metadata.name", "metadata.namespace", "status.replicas"],
        ResourceKind::Deployment
        | ResourceKind::Endpoints
        | ResourceKind::EndpointSlice
        | ResourceKind::ConfigMap
        | ResourceKind::ServiceAccount
        | ResourceKind::Lease => &["metadata.name", "metadata.namespace"],
        // kube-apiserver's SecretToSelectableFields adds `type`.
        ResourceKind::Secret => &["metadata.name", "metadata.namespace", "type"],
        ResourceKind::Service => &[
            "metadata.name",
            "metadata.namespace",
            "spec.clusterIP",
            "spec.type",
        ],
    }
}

pub fn is_supported(kind: ResourceKind, field: &str) -> bool {
    supported_fields(kind).contains(&field)
}

/// The value of a supported field label on an object, rendered as kube-apiserver renders it
/// ("" when absent; booleans and integers as decimal text).
pub fn field_value(kind: ResourceKind, object: &Value, field: &str) -> String {
    if kind == ResourceKind::Event && field == "source" {
        let component = pointer_string(object, "/source/component");
        return if component.is_empty() {
            pointer_string(object, "/reportingComponent")
        } else {
            component
        };
    }
    if kind == ResourceKind::Pod && field == "status.podIPs" {
        return pointer_string(object, "/status/podIPs/0/ip");
    }
    if kind == ResourceKind::Pod && field == "spec.hostNetwork" {
        return object.bool_at("/spec/hostNetwork").to_string();
    }
    if kind == ResourceKind::Node && field == "spec.unschedulable" {
        return object.bool_at("/spec/unschedulable").to_string();
    }
    let pointer = format!("/{}", field.replace('.', "/"));
    pointer_string(object, &pointer)
}

fn pointer_string(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_field_labels_like_kube_apiserver() {
        let pod = json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": "n1"}, "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}]}});
        let cases = [
            ("metadata.name", "web"),
            ("metadata.namespace", "default"),
            ("spec.nodeName", "n1"),
            ("status.phase", "Running"),
            ("status.podIPs", "10.0.0.1"),
            ("spec.hostNetwork", "false"),
            ("status.nominatedNodeName", ""),
        ];
        for (field, want) in cases {
            assert_eq!(field_value(ResourceKind::Pod, &pod, field), want, "{field}");
        }
        let ev = json!({"involvedObject": {"kind": "Pod", "name": "web"}, "source": {"component": "kubelet"}});
        assert_eq!(
            field_value(ResourceKind::Event, &ev, "involvedObject.kind"),
            "Pod"
        );
        assert_eq!(field_value(ResourceKind::Event, &ev, "source"), "kubelet");
        assert_eq!(
            field_value(ResourceKind::Event, &ev, "involvedObject.namespace"),
            ""
        );
        let rs = json!({"status": {"replicas": 3}});
        assert_eq!(
            field_value(ResourceKind::ReplicaSet, &rs, "status.replicas"),
            "3"
        );
    }
}
