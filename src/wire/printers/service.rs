//! Service, Endpoints and EndpointSlice rows: `printService` (TYPE, CLUSTER-IP, EXTERNAL-IP as
//! `<none>`, `<pending>`, the ingress points or the external name, PORT(S) as `80/TCP` or
//! `80:31000/TCP`; wide: the selector), `printEndpoints` (the first three `ip:port` with
//! `+ N more...`) and `printEndpointSlice` (ADDRESSTYPE, PORTS, ENDPOINTS).

use jiff::Timestamp;
use serde_json::Value;
use std::collections::BTreeSet;

use super::age;
use crate::model::meta::Lookup as _;

pub(super) const TYPE_DESC: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
pub(super) const CLUSTER_IP_DESC: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
pub(super) const EXTERNAL_IPS_DESC: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
pub(super) const PORTS_DESC: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
pub(super) const SELECTOR_DESC: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
pub(super) const SUBSETS_DESC: &str = "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.";
pub(super) const ADDRESS_TYPE_DESC: &str = "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name. (Deprecated) The EndpointSlice controller only generates, and kube-proxy only processes, slices of addressType \"IPv4\" and \"IPv6\". No semantics are defined for the \"FQDN\" type.";
pub(super) const SLICE_PORTS_DESC: &str = "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. Each slice may include a maximum of 100 ports. Services always have at least 1 port, so EndpointSlices generated by the EndpointSlice controller will likewise always have at least 1 port. EndpointSlices used for other purposes may have an empty ports list.";
pub(super) const SLICE_ENDPOINTS_DESC: &str = "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.";

/// How many endpoints and ports a cell lists before `+ N more...`.
const LISTED: usize = 3;

pub(super) fn service_cells(service: &Value, now: Timestamp) -> Vec<Value> {
    let cluster_ip = service
        .array_at("/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let mut ports = port_string(service.array_at("/spec/ports"));
    if ports.is_empty() {
        ports = "<none>".to_string();
    }
    vec![
        Value::from(service.str_at("/metadata/name")),
        Value::from(service.str_at("/spec/type")),
        Value::from(cluster_ip),
        Value::from(external_ip(service)),
        Value::from(ports),
        Value::from(age(service, now)),
        Value::from(format_labels(service.at("/spec/selector"))),
    ]
}

/// `makePortString`: `port/protocol`, with the node port as `port:nodePort/protocol`.
fn port_string(ports: &[Value]) -> String {
    ports
        .iter()
        .map(|p| {
            let port = p["port"].as_i64().unwrap_or(0);
            let protocol = p["protocol"].as_str().unwrap_or("");
            match p["nodePort"].as_i64().unwrap_or(0) {
                n if n > 0 => format!("{port}:{n}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `getServiceExternalIP` (wide, as the server prints it).
fn external_ip(service: &Value) -> String {
    let external: Vec<&str> = service
        .array_at("/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match service.str_at("/spec/type") {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_string(),
        "LoadBalancer" => {
            let ingress: BTreeSet<&str> = service
                .array_at("/status/loadBalancer/ingress")
                .iter()
                .filter_map(|i| {
                    i["ip"]
                        .as_str()
                        .filter(|ip| !ip.is_empty())
                        .or_else(|| i["hostname"].as_str().filter(|h| !h.is_empty()))
                })
                .collect();
            let mut all: Vec<&str> = ingress.into_iter().collect();
            all.extend(external);
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => service.str_at("/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// `labels.FormatLabels`: `k=v` sorted by key, `<none>` when empty.
fn format_labels(labels: Option<&Value>) -> String {
    let Some(map) = labels.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".to_string();
    };
    let mut pairs: Vec<(&String, &str)> = map
        .iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn endpoints_cells(endpoints: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(endpoints.str_at("/metadata/name")),
        Value::from(format_endpoints(endpoints)),
        Value::from(age(endpoints, now)),
    ]
}

/// `formatEndpoints`: every ready address with each port (`ip:port`, IPv6 bracketed), the
/// first three listed and the rest counted.
fn format_endpoints(endpoints: &Value) -> String {
    let subsets = endpoints.array_at("/subsets");
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0;
    for subset in subsets {
        let addresses = subset["addresses"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let ports = subset["ports"].as_array().map_or(&[][..], Vec::as_slice);
        if ports.is_empty() {
            count += addresses.len();
            for address in addresses {
                if list.len() == LISTED {
                    more = true;
                    break;
                }
                list.push(address["ip"].as_str().unwrap_or("").to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            let number = port["port"].as_i64().unwrap_or(0);
            for address in addresses {
                if list.len() == LISTED {
                    more = true;
                    break;
                }
                let ip = address["ip"].as_str().unwrap_or("");
                list.push(if ip.contains(':') {
                    format!("[{ip}]:{number}")
                } else {
                    format!("{ip}:{number}")
                });
            }
        }
    }
    let joined = list.join(",");
    if more {
        return format!("{joined} + {} more...", count - LISTED);
    }
    if joined.is_empty() {
        "<none>".to_string()
    } else {
        joined
    }
}

pub(super) fn endpoint_slice_cells(slice: &Value, now: Timestamp) -> Vec<Value> {
    let ports: Vec<String> = slice
        .array_at("/ports")
        .iter()
        .map(|p| match (p["port"].as_i64(), p["name"].as_str()) {
            (Some(port), _) => port.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    let addresses: Vec<String> = slice
        .array_at("/endpoints")
        .iter()
        .flat_map(|e| e["addresses"].as_array().into_iter().flatten())
        .map(|a| a.as_str().unwrap_or("").to_string())
        .collect();
    vec![
        Value::from(slice.str_at("/metadata/name")),
        Value::from(slice.str_at("/addressType")),
        Value::from(list_with_more(&ports)),
        Value::from(list_with_more(&addresses)),
        Value::from(age(slice, now)),
    ]
}

/// `listWithMoreString`: the first three, `+ N more...`, or `<unset>`.
fn list_with_more(items: &[String]) -> String {
    let shown = items
        .iter()
        .take(LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    if items.len() > LISTED {
        return format!("{shown} + {} more...", items.len() - LISTED);
    }
    if shown.is_empty() {
        "<unset>".to_string()
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::super::cells;
    use super::super::tests::{ago, now, s};
    use serde_json::json;

    #[test]
    fn service_cells_by_type() {
        let cluster = json!({"metadata": {"name": "echo", "creationTimestamp": ago(90)},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                     "ports": [{"port": 80, "protocol": "TCP", "targetPort": 3000}],
                     "selector": {"app": "echo", "tier": "web"}}});
        assert_eq!(
            cells("Service", &cluster, now()),
            vec![
                s("echo"),
                s("ClusterIP"),
                s("10.96.0.10"),
                s("<none>"),
                s("80/TCP"),
                s("90s"),
                s("app=echo,tier=web")
            ]
        );
        let node_port = json!({"metadata": {"name": "np"},
            "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.11"],
                     "ports": [{"port": 80, "protocol": "TCP", "nodePort": 31000},
                               {"port": 53, "protocol": "UDP", "nodePort": 31001}]}});
        let row = cells("Service", &node_port, now());
        assert_eq!(row[4], s("80:31000/TCP,53:31001/UDP"));
        assert_eq!(row[6], s("<none>"));
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer",
            "clusterIPs": ["10.96.0.12"], "ports": []}, "status": {"loadBalancer": {}}});
        let row = cells("Service", &lb, now());
        assert_eq!((&row[3], &row[4]), (&s("<pending>"), &s("<none>")));
        let lb_up = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer",
            "externalIPs": ["1.2.3.4"]}, "status": {"loadBalancer": {"ingress":
            [{"ip": "172.18.0.5"}, {"hostname": "lb.example.com"}]}}});
        assert_eq!(
            cells("Service", &lb_up, now())[3],
            s("172.18.0.5,lb.example.com,1.2.3.4")
        );
        let headless = json!({"metadata": {"name": "h"}, "spec": {"type": "ClusterIP",
            "clusterIP": "None", "clusterIPs": ["None"]}});
        assert_eq!(cells("Service", &headless, now())[2], s("None"));
        let external = json!({"metadata": {"name": "x"}, "spec": {"type": "ExternalName",
            "externalName": "db.example.com"}});
        let row = cells("Service", &external, now());
        assert_eq!((&row[2], &row[3]), (&s("<none>"), &s("db.example.com")));
    }

    #[test]
    fn endpoints_list_three_and_count_the_rest() {
        let ep = json!({"metadata": {"name": "echo"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"},
                           {"ip": "10.0.0.4"}], "ports": [{"port": 80}]}]});
        assert_eq!(
            cells("Endpoints", &ep, now())[1],
            s("10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...")
        );
        let two = json!({"metadata": {"name": "echo"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]}]});
        assert_eq!(
            cells("Endpoints", &two, now())[1],
            s("10.0.0.1:80,10.0.0.2:80")
        );
        let none = json!({"metadata": {"name": "echo"}});
        assert_eq!(cells("Endpoints", &none, now())[1], s("<none>"));
        let unready = json!({"metadata": {"name": "echo"}, "subsets": [
            {"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]});
        assert_eq!(cells("Endpoints", &unready, now())[1], s("<none>"));
    }

    #[test]
    fn endpoint_slice_cells_case() {
        let slice = json!({"metadata": {"name": "echo-x7k2p"}, "addressType": "IPv4",
            "ports": [{"name": "", "port": 3000, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]},
                          {"addresses": ["10.0.0.3"]}, {"addresses": ["10.0.0.4"]},
                          {"addresses": ["10.0.0.5"]}]});
        let row = cells("EndpointSlice", &slice, now());
        assert_eq!(
            row[..4].to_vec(),
            vec![
                s("echo-x7k2p"),
                s("IPv4"),
                s("3000"),
                s("10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...")
            ]
        );
        let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv4", "endpoints": []});
        let row = cells("EndpointSlice", &empty, now());
        assert_eq!((&row[2], &row[3]), (&s("<unset>"), &s("<unset>")));
    }
}
