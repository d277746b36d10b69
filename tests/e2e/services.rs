//! Services through real kubectl on simulated nodes: `expose deployment` and `expose pod`
//! (ClusterIP and NodePort), `create service clusterip|nodeport` (the typed client's protobuf
//! bodies), a taken node port refused with kube-apiserver's words, `get svc,ep,endpointslices`
//! (plain and wide), `describe svc`, `describe ep` and `delete svc`. kubectl's own output is
//! what is asserted. The test command runs this suite with the kubectl on PATH and with 1.37.

use crate::support::app::{TestApp, start_with_workers};
use std::time::Duration;

async fn cluster() -> TestApp {
    start_with_workers(tempfile::tempdir().expect("data dir"), |settings| {
        settings.workers.simulated_nodes = 1;
        settings.workers.simulated_start_delay = Duration::from_millis(100);
    })
    .await
}

/// The whitespace-separated cells of each line of `out` (the header first).
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn field<'a>(describe: &'a str, name: &str) -> &'a str {
    describe
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name}: in\n{describe}"))
}

async fn jsonpath(c: &TestApp, what: &str, path: &str) -> String {
    c.kubectl
        .ok(&["get", what, "-o", &format!("jsonpath={path}")])
        .await
}

fn scratch(c: &TestApp, name: &str, yaml: &str) -> String {
    let path = c.kubectl.cache.path().join(name);
    std::fs::write(&path, yaml).expect("manifest written");
    path.display().to_string()
}

#[tokio::test]
async fn the_course_service_chapter_through_kubectl() {
    let c = cluster().await;
    let out = c
        .kubectl
        .ok(&[
            "create",
            "deployment",
            "echo",
            "--image=ghcr.io/subicura/echo:v1",
            "--port=3000",
        ])
        .await;
    assert_eq!(out.trim(), "deployment.apps/echo created");

    // expose deployment: a ClusterIP Service selecting the deployment's pods.
    let out = c
        .kubectl
        .ok(&[
            "expose",
            "deployment",
            "echo",
            "--port=80",
            "--target-port=3000",
        ])
        .await;
    assert_eq!(out.trim(), "service/echo exposed");
    let ip = jsonpath(&c, "svc/echo", "{.spec.clusterIP}").await;
    assert!(ip.starts_with("10.9") && ip != "10.96.0.1", "{ip}");
    let out = c.kubectl.ok(&["get", "svc", "echo"]).await;
    let table = rows(&out);
    assert_eq!(
        table[0],
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ],
        "{out}"
    );
    assert_eq!(
        table[1][..5],
        ["echo", "ClusterIP", ip.as_str(), "<none>", "80/TCP"],
        "{out}"
    );
    let wide = c.kubectl.ok(&["get", "svc", "-o", "wide"]).await;
    let table = rows(&wide);
    assert_eq!(
        table[0].last().map(String::as_str),
        Some("SELECTOR"),
        "{wide}"
    );
    let echo = table.iter().find(|r| r[0] == "echo").expect("echo row");
    assert_eq!(echo.last().map(String::as_str), Some("app=echo"), "{wide}");
    let kubernetes = table
        .iter()
        .find(|r| r[0] == "kubernetes")
        .expect("kubernetes row");
    assert_eq!(
        kubernetes[1..5],
        ["ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
    );
    assert_eq!(kubernetes.last().map(String::as_str), Some("<none>"));

    // expose --type=NodePort: the node port in PORT(S).
    let out = c
        .kubectl
        .ok(&[
            "expose",
            "deployment",
            "echo",
            "--name=echo-np",
            "--type=NodePort",
            "--port=80",
            "--target-port=3000",
        ])
        .await;
    assert_eq!(out.trim(), "service/echo-np exposed");
    let node_port = jsonpath(&c, "svc/echo-np", "{.spec.ports[0].nodePort}").await;
    let number: u16 = node_port.parse().expect("a node port");
    assert!((30000..=32767).contains(&number), "{node_port}");
    let out = c
        .kubectl
        .ok(&["get", "svc", "echo-np", "--no-headers"])
        .await;
    assert_eq!(
        rows(&out)[0][1..5],
        [
            "NodePort",
            &jsonpath(&c, "svc/echo-np", "{.spec.clusterIP}").await,
            "<none>",
            &format!("80:{node_port}/TCP")
        ],
        "{out}"
    );

    // expose pod: the pod's labels become the selector.
    let out = c
        .kubectl
        .ok(&[
            "run",
            "web",
            "--image=ghcr.io/subicura/echo:v1",
            "--port=3000",
        ])
        .await;
    assert_eq!(out.trim(), "pod/web created");
    let out = c
        .kubectl
        .ok(&["expose", "pod", "web", "--port=8080", "--target-port=3000"])
        .await;
    assert_eq!(out.trim(), "service/web exposed");
    assert_eq!(jsonpath(&c, "svc/web", "{.spec.selector.run}").await, "web");
    assert_eq!(
        jsonpath(&c, "svc/web", "{.spec.ports[0].targetPort}").await,
        "3000"
    );

    // describe svc
    let describe = c.kubectl.ok(&["describe", "svc", "echo"]).await;
    assert_eq!(field(&describe, "Name"), "echo");
    assert_eq!(field(&describe, "Namespace"), "default");
    assert_eq!(field(&describe, "Selector"), "app=echo");
    assert_eq!(field(&describe, "Type"), "ClusterIP");
    assert_eq!(field(&describe, "IP Family Policy"), "SingleStack");
    assert_eq!(field(&describe, "IP Families"), "IPv4");
    assert_eq!(field(&describe, "IP"), ip);
    assert_eq!(field(&describe, "IPs"), ip);
    assert_eq!(
        field(&describe, "Port")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["<unset>", "80/TCP"]
    );
    assert_eq!(field(&describe, "TargetPort"), "3000/TCP");
    assert_eq!(field(&describe, "Session Affinity"), "None");
    assert_eq!(field(&describe, "Internal Traffic Policy"), "Cluster");
    let describe = c.kubectl.ok(&["describe", "svc", "echo-np"]).await;
    assert_eq!(
        field(&describe, "NodePort")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["<unset>", &format!("{node_port}/TCP")]
    );
    assert_eq!(field(&describe, "External Traffic Policy"), "Cluster");

    // delete svc
    let out = c.kubectl.ok(&["delete", "svc", "echo", "web"]).await;
    assert!(out.contains("service \"echo\" deleted"), "{out}");
    assert!(out.contains("service \"web\" deleted"), "{out}");
    let out = c.kubectl.ok(&["get", "svc", "-o", "name"]).await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["service/echo-np", "service/kubernetes"]
    );
}

#[tokio::test]
async fn create_service_and_a_taken_node_port_through_kubectl() {
    let c = cluster().await;
    let out = c
        .kubectl
        .ok(&["create", "service", "clusterip", "redis", "--tcp=6379:6379"])
        .await;
    assert_eq!(out.trim(), "service/redis created");
    assert_eq!(
        jsonpath(&c, "svc/redis", "{.spec.selector.app}").await,
        "redis"
    );
    assert_eq!(
        jsonpath(&c, "svc/redis", "{.spec.ports[0].name}").await,
        "6379-6379"
    );
    let out = c
        .kubectl
        .ok(&[
            "create",
            "service",
            "nodeport",
            "counter",
            "--tcp=3000:3000",
            "--node-port=31000",
        ])
        .await;
    assert_eq!(out.trim(), "service/counter created");
    let out = c
        .kubectl
        .ok(&["get", "svc", "counter", "--no-headers"])
        .await;
    assert_eq!(rows(&out)[0][4], "3000:31000/TCP", "{out}");

    let refused = c
        .kubectl
        .run(&[
            "create",
            "service",
            "nodeport",
            "other",
            "--tcp=80:80",
            "--node-port=31000",
        ])
        .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(
            "error: failed to create NodePort service: Service \"other\" is invalid: spec.ports[0].nodePort: Invalid value: 31000: provided port is already allocated"
        ),
        "{stderr}"
    );
    let refused = c
        .kubectl
        .run(&[
            "create",
            "service",
            "clusterip",
            "pinned",
            "--tcp=80:80",
            "--clusterip=10.96.0.1",
        ])
        .await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(
            "error: failed to create ClusterIP service: Service \"pinned\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.1\"}: failed to allocate IP 10.96.0.1: provided IP is already allocated"
        ),
        "{stderr}"
    );
    let out = c
        .kubectl
        .ok(&[
            "create",
            "service",
            "clusterip",
            "headless",
            "--clusterip=None",
        ])
        .await;
    assert_eq!(out.trim(), "service/headless created");
    let out = c
        .kubectl
        .ok(&["get", "svc", "headless", "--no-headers"])
        .await;
    assert_eq!(
        rows(&out)[0][1..5],
        ["ClusterIP", "None", "<none>", "<none>"],
        "{out}"
    );
}

const ENDPOINTS: &str = "\
apiVersion: v1
kind: Endpoints
metadata:
  name: external
subsets:
- addresses:
  - ip: 10.0.0.1
  - ip: 10.0.0.2
  - ip: 10.0.0.3
  - ip: 10.0.0.4
  ports:
  - port: 80
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: external-1
  labels:
    kubernetes.io/service-name: external
addressType: IPv4
ports:
- name: ''
  port: 80
  protocol: TCP
endpoints:
- addresses: [10.0.0.1]
  conditions: {ready: true}
- addresses: [10.0.0.2]
  conditions: {ready: true}
---
apiVersion: v1
kind: Service
metadata:
  name: external
spec:
  ports:
  - port: 80
";

#[tokio::test]
async fn endpoints_and_slices_through_kubectl() {
    let c = cluster().await;
    let manifest = scratch(&c, "external.yaml", ENDPOINTS);
    let out = c.kubectl.ok(&["apply", "-f", &manifest]).await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "endpoints/external created",
            "endpointslice.discovery.k8s.io/external-1 created",
            "service/external created"
        ]
    );
    let out = c.kubectl.ok(&["get", "svc,ep,endpointslices"]).await;
    let blocks: Vec<&str> = out.split("\n\n").collect();
    assert_eq!(blocks.len(), 3, "{out}");
    let endpoints = rows(blocks[1]);
    assert_eq!(endpoints[0], ["NAME", "ENDPOINTS", "AGE"], "{out}");
    let external = endpoints
        .iter()
        .find(|r| r[0] == "endpoints/external")
        .expect("endpoints/external");
    assert_eq!(
        external[1..5],
        ["10.0.0.1:80,10.0.0.2:80,10.0.0.3:80", "+", "1", "more..."],
        "{out}"
    );
    let slices = rows(blocks[2]);
    assert_eq!(
        slices[0],
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
        "{out}"
    );
    assert_eq!(
        slices[1][..4],
        [
            "endpointslice.discovery.k8s.io/external-1",
            "IPv4",
            "80",
            "10.0.0.1,10.0.0.2"
        ],
        "{out}"
    );
    let out = c
        .kubectl
        .ok(&["get", "ep", "external", "--no-headers"])
        .await;
    assert!(
        out.starts_with("external   10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more..."),
        "{out}"
    );

    let describe = c.kubectl.ok(&["describe", "ep", "external"]).await;
    assert_eq!(field(&describe, "Name"), "external");
    assert!(describe.contains("Subsets:"), "{describe}");
    let addresses = describe
        .lines()
        .find_map(|l| l.trim().strip_prefix("Addresses:"))
        .map(str::trim)
        .unwrap_or_default();
    assert_eq!(
        addresses, "10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4",
        "{describe}"
    );

    // describe svc lists the slices' endpoints.
    let describe = c.kubectl.ok(&["describe", "svc", "external"]).await;
    assert_eq!(field(&describe, "Selector"), "<none>");
    assert_eq!(field(&describe, "Endpoints"), "10.0.0.1:80,10.0.0.2:80");

    let out = c.kubectl.ok(&["delete", "-f", &manifest]).await;
    assert!(out.contains("service \"external\" deleted"), "{out}");
    assert!(out.contains("endpoints \"external\" deleted"), "{out}");
}

#[tokio::test]
async fn endpoints_follow_readiness_and_a_server_without_routing_says_so() {
    let c = cluster().await;
    c.kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=ghcr.io/subicura/echo:v1",
            "--replicas=2",
            "--port=3000",
        ])
        .await;
    c.kubectl
        .ok(&[
            "expose",
            "deployment",
            "web",
            "--port=80",
            "--target-port=3000",
        ])
        .await;
    // Both simulated pods ready: two addresses in the Endpoints and two ready endpoints in the
    // slice, at the target port.
    crate::support::wait::until("two ready endpoints", Duration::from_secs(30), || async {
        jsonpath(&c, "endpoints/web", "{.subsets[0].addresses[*].ip}")
            .await
            .split_whitespace()
            .count()
            == 2
    })
    .await;
    assert_eq!(
        jsonpath(&c, "endpoints/web", "{.subsets[0].ports[0].port}").await,
        "3000"
    );
    let slice = c
        .kubectl
        .ok(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "jsonpath={.items[0].endpoints[*].conditions.ready}",
        ])
        .await;
    assert_eq!(slice, "true true");
    let ep = c.kubectl.ok(&["get", "ep", "web"]).await;
    assert!(ep.contains(":3000"), "{ep}");
    // This server runs no Docker node: the Service says routing is off, and why.
    crate::support::wait::until(
        "the RoutingUnavailable event",
        Duration::from_secs(30),
        || async {
            c.kubectl
                .ok(&[
                    "get",
                    "events",
                    "--field-selector",
                    "involvedObject.kind=Service,involvedObject.name=web",
                ])
                .await
                .contains("RoutingUnavailable")
        },
    )
    .await;
    let described = c.kubectl.ok(&["describe", "svc", "web"]).await;
    assert!(described.contains("Service routing is off"), "{described}");
    // Deleting the Service takes its Endpoints and slices with it.
    c.kubectl.ok(&["delete", "svc", "web"]).await;
    crate::support::wait::until(
        "endpoints and slices gone",
        Duration::from_secs(30),
        || async {
            c.kubectl
                .ok(&[
                    "get",
                    "endpoints,endpointslices",
                    "-l",
                    "app=web",
                    "-o",
                    "name",
                ])
                .await
                .trim()
                .is_empty()
                && c.kubectl
                    .run(&["get", "endpoints", "web"])
                    .await
                    .status
                    .code()
                    == Some(1)
        },
    )
    .await;
    c.stop().await;
}
