//! core/v1 Services, Endpoints and discovery/v1 EndpointSlices served like the other kinds:
//! Services created with Kubernetes' defaults and addresses (a ClusterIP from 10.96.0.0/12, a
//! NodePort from 30000-32767), refused with kube-apiserver's words when invalid or when they
//! name a held address, their addresses kept on update and freed on delete; the `kubernetes`
//! Service at start-up; Endpoints and EndpointSlices validated and listed; `discovery.k8s.io`
//! in discovery.

use crate::support::app::*;
use reqwest::Method;
use serde_json::{Value, json};

const SERVICES: &str = "/api/v1/namespaces/default/services";
const ENDPOINTS: &str = "/api/v1/namespaces/default/endpoints";
const SLICES: &str = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";

fn service(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
}

fn echo(name: &str) -> Value {
    service(
        name,
        json!({"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 3000}]}),
    )
}

fn message(reply: &Reply) -> &str {
    reply.body["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_service_is_created_with_kubernetes_defaults_and_a_cluster_ip() {
    let app = spawn_app().await;
    let created = app.post(SERVICES, &echo("echo")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let spec = &created.body["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["ports"][0]["protocol"], "TCP");
    assert_eq!(spec["ports"][0]["targetPort"], 3000);
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert!(spec.get("externalTrafficPolicy").is_none());
    let ip = spec["clusterIP"].as_str().unwrap().to_string();
    assert_eq!(spec["clusterIPs"], json!([ip]));
    assert!(ip.starts_with("10.9") && ip != "10.96.0.1", "{ip}");
    assert_eq!(created.body["status"], json!({"loadBalancer": {}}));

    // targetPort defaults to the port; a NodePort Service gets a node port and the external
    // policy; a LoadBalancer allocates node ports too.
    let node_port = app
        .post(
            SERVICES,
            &service("np", json!({"type": "NodePort", "ports": [{"port": 8080}]})),
        )
        .await;
    assert_eq!(node_port.status, 201, "{}", node_port.text);
    let port = &node_port.body["spec"]["ports"][0];
    assert_eq!(port["targetPort"], 8080);
    let allocated = port["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&allocated), "{allocated}");
    assert_eq!(node_port.body["spec"]["externalTrafficPolicy"], "Cluster");
    let lb = app
        .post(
            SERVICES,
            &service(
                "lb",
                json!({"type": "LoadBalancer", "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(lb.status, 201, "{}", lb.text);
    assert_eq!(lb.body["spec"]["allocateLoadBalancerNodePorts"], true);
    assert!(lb.body["spec"]["ports"][0]["nodePort"].as_i64().unwrap() != allocated);

    // Headless: no address, the ClusterIP "None".
    let headless = app
        .post(
            SERVICES,
            &service(
                "db",
                json!({"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}),
            ),
        )
        .await;
    assert_eq!(headless.status, 201, "{}", headless.text);
    assert_eq!(headless.body["spec"]["clusterIPs"], json!(["None"]));

    // The kubernetes Service holds the first address, and the short name and category work.
    let kubernetes = app.get(&format!("{SERVICES}/kubernetes")).await;
    assert_eq!(kubernetes.status, 200, "{}", kubernetes.text);
    assert_eq!(kubernetes.body["spec"]["clusterIP"], "10.96.0.1");
    assert_eq!(kubernetes.body["spec"]["ports"][0]["port"], 443);
}

#[tokio::test]
async fn a_named_address_that_is_taken_or_out_of_range_is_refused_as_kube_apiserver_refuses_it() {
    let app = spawn_app().await;
    let taken_ip = app
        .post(
            SERVICES,
            &service(
                "again",
                json!({"clusterIP": "10.96.0.1", "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(taken_ip.status, 422, "{}", taken_ip.text);
    assert_eq!(taken_ip.body["reason"], "Invalid");
    assert_eq!(
        message(&taken_ip),
        "Service \"again\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.1\"}: failed to allocate IP 10.96.0.1: provided IP is already allocated"
    );
    assert_eq!(
        taken_ip.body["details"]["causes"][0]["field"],
        "spec.clusterIPs"
    );
    let outside = app
        .post(
            SERVICES,
            &service(
                "outside",
                json!({"clusterIP": "192.168.0.10", "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(outside.status, 422, "{}", outside.text);
    assert_eq!(
        message(&outside),
        "Service \"outside\" is invalid: spec.clusterIPs: Invalid value: []string{\"192.168.0.10\"}: failed to allocate IP 192.168.0.10: the provided IP (192.168.0.10) is not in the valid range. The range of valid IPs is 10.96.0.0/12"
    );

    let first = app
        .post(
            SERVICES,
            &service(
                "first",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31000}]}),
            ),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["spec"]["ports"][0]["nodePort"], 31000);
    let second = app
        .post(
            SERVICES,
            &service(
                "second",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31000}]}),
            ),
        )
        .await;
    assert_eq!(second.status, 422, "{}", second.text);
    assert_eq!(
        message(&second),
        "Service \"second\" is invalid: spec.ports[0].nodePort: Invalid value: 31000: provided port is already allocated"
    );
    let low = app
        .post(
            SERVICES,
            &service(
                "low",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 8080}]}),
            ),
        )
        .await;
    assert_eq!(
        message(&low),
        "Service \"low\" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"
    );
    for refused in ["again", "outside", "second", "low"] {
        assert_eq!(app.get(&format!("{SERVICES}/{refused}")).await.status, 404);
    }

    // Deleting frees the node port for the next one that names it.
    let deleted = app.delete(&format!("{SERVICES}/first"), None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let reused = app
        .post(
            SERVICES,
            &service(
                "second",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31000}]}),
            ),
        )
        .await;
    assert_eq!(reused.status, 201, "{}", reused.text);
}

#[tokio::test]
async fn invalid_services_are_refused_with_kube_apiserver_s_errors() {
    let app = spawn_app().await;
    let cases = [
        (
            service("two", json!({"ports": [{"port": 80}, {"port": 81}]})),
            "Service \"two\" is invalid: [spec.ports[0].name: Required value, spec.ports[1].name: Required value]",
        ),
        (
            service("noports", json!({"selector": {"app": "a"}})),
            "Service \"noports\" is invalid: spec.ports: Required value",
        ),
        (
            service("cip", json!({"ports": [{"port": 80, "nodePort": 30080}]})),
            "Service \"cip\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        ),
        (
            service(
                "proto",
                json!({"ports": [{"port": 80, "protocol": "HTTP"}]}),
            ),
            "Service \"proto\" is invalid: spec.ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        ),
        (
            service(
                "tp",
                json!({"ports": [{"port": 80, "targetPort": "my_port"}]}),
            ),
            "Service \"tp\" is invalid: spec.ports[0].targetPort: Invalid value: \"my_port\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        ),
        (
            service(
                "dup",
                json!({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]}),
            ),
            "Service \"dup\" is invalid: spec.ports[1].name: Duplicate value: \"a\"",
        ),
        (
            service("kind", json!({"type": "Internal", "ports": [{"port": 80}]})),
            "Service \"kind\" is invalid: spec.type: Unsupported value: \"Internal\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
        ),
        (
            service(
                "hnp",
                json!({"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]}),
            ),
            "Service \"hnp\" is invalid: spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services",
        ),
        (
            service("Echo", json!({"ports": [{"port": 80}]})),
            "Service \"Echo\" is invalid: metadata.name: Invalid value: \"Echo\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        ),
    ];
    for (body, want) in cases {
        let reply = app.post(SERVICES, &body).await;
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert_eq!(message(&reply), want);
    }
}

#[tokio::test]
async fn an_update_keeps_the_addresses_and_may_not_change_the_cluster_ip() {
    let app = spawn_app().await;
    let created = app
        .post(
            SERVICES,
            &service("web", json!({"type": "NodePort", "ports": [{"port": 80}]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let ip = created.body["spec"]["clusterIP"].clone();
    let node_port = created.body["spec"]["ports"][0]["nodePort"].clone();

    // A replace without the addresses (a manifest applied again) keeps them.
    let mut replaced = service(
        "web",
        json!({"type": "NodePort", "ports": [{"port": 80}], "selector": {"app": "web"}}),
    );
    replaced["metadata"]["resourceVersion"] = created.body["metadata"]["resourceVersion"].clone();
    let updated = app.put(&format!("{SERVICES}/web"), &replaced).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.body["spec"]["clusterIP"], ip);
    assert_eq!(updated.body["spec"]["ports"][0]["nodePort"], node_port);

    let moved = app
        .patch(
            &format!("{SERVICES}/web"),
            "application/merge-patch+json",
            &json!({"spec": {"clusterIP": "10.96.0.99", "clusterIPs": ["10.96.0.99"]}}),
        )
        .await;
    assert_eq!(moved.status, 422, "{}", moved.text);
    assert_eq!(
        message(&moved),
        "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.99\"}: may not change once set"
    );

    // Back to ClusterIP: the node port is dropped and free again.
    let cluster = app
        .patch(
            &format!("{SERVICES}/web"),
            "application/merge-patch+json",
            &json!({"spec": {"type": "ClusterIP", "externalTrafficPolicy": null}}),
        )
        .await;
    assert_eq!(cluster.status, 200, "{}", cluster.text);
    assert!(cluster.body["spec"]["ports"][0].get("nodePort").is_none());
    let reuse = app
        .post(
            SERVICES,
            &service(
                "other",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": node_port}]}),
            ),
        )
        .await;
    assert_eq!(reuse.status, 201, "{}", reuse.text);

    // Services have no deletecollection, as in kube-apiserver.
    let collection = app.delete(SERVICES, None).await;
    assert_eq!(collection.status, 405, "{}", collection.text);
}

#[tokio::test]
async fn endpoints_and_endpoint_slices_are_validated_and_listed() {
    let app = spawn_app().await;
    let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "echo"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                     "ports": [{"port": 3000}]}]});
    let created = app.post(ENDPOINTS, &endpoints).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["subsets"][0]["ports"][0]["protocol"], "TCP");
    let bad = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "bad"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 0}]}]});
    let refused = app.post(ENDPOINTS, &bad).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(
        message(&refused),
        "Endpoints \"bad\" is invalid: [subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128), subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive]"
    );

    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "echo-abcde", "labels": {"kubernetes.io/service-name": "echo"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true}}],
        "ports": [{"port": 3000}]});
    let created = app.post(SLICES, &slice).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.body["ports"][0],
        json!({"name": "", "port": 3000, "protocol": "TCP"})
    );
    let mut bad = slice.clone();
    bad["metadata"]["name"] = json!("bad");
    bad["addressType"] = json!("IP");
    let refused = app.post(SLICES, &bad).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(
        message(&refused),
        "EndpointSlice.discovery.k8s.io \"bad\" is invalid: addressType: Unsupported value: \"IP\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""
    );
    let mut changed = created.body.clone();
    changed["addressType"] = json!("IPv6");
    changed["endpoints"] = json!([{"addresses": ["fd00::1"]}]);
    let refused = app.put(&format!("{SLICES}/echo-abcde"), &changed).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(message(&refused).contains("addressType: Invalid value: \"IPv6\": field is immutable"));

    let listed = app
        .get("/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io/service-name=echo")
        .await;
    assert_eq!(names(&listed.body), ["echo-abcde"]);
    let listed = app.get(ENDPOINTS).await;
    assert_eq!(names(&listed.body), ["echo"]);
}

#[tokio::test]
async fn discovery_serves_services_endpoints_and_the_discovery_group() {
    let app = spawn_app().await;
    let core = app.get("/api/v1").await.body;
    let resources = core["resources"].as_array().unwrap();
    let services = resources.iter().find(|r| r["name"] == "services").unwrap();
    assert_eq!(services["shortNames"], json!(["svc"]));
    assert_eq!(services["categories"], json!(["all"]));
    assert!(resources.iter().any(|r| r["name"] == "services/status"));
    let endpoints = resources.iter().find(|r| r["name"] == "endpoints").unwrap();
    assert_eq!(endpoints["shortNames"], json!(["ep"]));

    let groups = app.get("/apis").await.body;
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert!(names.contains(&"discovery.k8s.io"), "{names:?}");
    let group = app.get("/apis/discovery.k8s.io").await;
    assert_eq!(
        group.body["preferredVersion"]["groupVersion"],
        "discovery.k8s.io/v1"
    );
    let list = app.get("/apis/discovery.k8s.io/v1").await.body;
    assert_eq!(list["resources"][0]["name"], "endpointslices");
    assert_eq!(list["resources"][0]["kind"], "EndpointSlice");

    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let aggregated: Value = app
        .request(Method::GET, "/apis")
        .header("Accept", accept)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let discovery = aggregated["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == "discovery.k8s.io")
        .expect("discovery.k8s.io in aggregated discovery");
    assert_eq!(
        discovery["versions"][0]["resources"][0]["resource"],
        "endpointslices"
    );
}

#[tokio::test]
async fn service_tables_print_as_kube_apiserver_prints_them() {
    let app = spawn_app().await;
    let created = app
        .post(
            SERVICES,
            &service(
                "np",
                json!({"type": "NodePort", "selector": {"app": "np"},
                       "ports": [{"port": 80, "nodePort": 31000}]}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let ip = created.body["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    let table: Value = app
        .request(Method::GET, &format!("{SERVICES}/np"))
        .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let headers: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        headers,
        [
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
            "Selector"
        ]
    );
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[1], "NodePort");
    assert_eq!(cells[2], ip.as_str());
    assert_eq!(cells[3], "<none>");
    assert_eq!(cells[4], "80:31000/TCP");
    assert_eq!(cells[6], "app=np");
}

#[tokio::test]
async fn a_restarted_server_keeps_every_allocation() {
    let app = spawn_app().await;
    let created = app
        .post(
            SERVICES,
            &service("web", json!({"type": "NodePort", "ports": [{"port": 80}]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let ip = created.body["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    let node_port = created.body["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .unwrap();

    let app = start_in(app.stop().await, |_| {}).await;
    let again = app
        .post(
            SERVICES,
            &service(
                "again",
                json!({"type": "NodePort", "clusterIP": ip,
                       "ports": [{"port": 80, "nodePort": node_port}]}),
            ),
        )
        .await;
    assert_eq!(again.status, 422, "{}", again.text);
    assert!(
        message(&again).contains(&format!(
            "failed to allocate IP {ip}: provided IP is already allocated"
        )),
        "{}",
        again.text
    );
    let next = app
        .post(
            SERVICES,
            &service("next", json!({"type": "NodePort", "ports": [{"port": 80}]})),
        )
        .await;
    assert_eq!(next.status, 201, "{}", next.text);
    assert_ne!(next.body["spec"]["clusterIP"], ip.as_str());
    assert_ne!(next.body["spec"]["ports"][0]["nodePort"], node_port);
    // One kubernetes Service, created once.
    let listed = app.get(SERVICES).await;
    assert_eq!(names(&listed.body), ["kubernetes", "next", "web"]);
}
