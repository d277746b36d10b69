//! The OpenAPI v3 documents and the v2 document: the committed snapshot under `openapi/`, what
//! kubectl looks for in them, how they are served over HTTP, and the real kubectl validating and
//! explaining with them.
//!
//! Refresh the snapshot after a deliberate change with `UPDATE_OPENAPI=1 cargo test --test e2e -- openapi::`.

use crate::support::app::{TestApp, start_with_workers};
use crate::support::internals::KUBERNETES_VERSION;
use crate::support::internals::openapi::{self, GroupVersion};
use crate::support::kubectl::kubectl_binary;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn snapshot_path(gv: GroupVersion) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("openapi")
        .join(gv.file_name())
}

fn pretty(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&openapi::sorted(document)).expect("json");
    text.push('\n');
    text
}

#[test]
fn the_committed_snapshot_is_current() {
    let update = std::env::var_os("UPDATE_OPENAPI").is_some();
    let mut stale = Vec::new();
    let generated = openapi::generate();
    let v2 = (
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("openapi")
            .join("v2.json"),
        pretty(&openapi::v2::swagger(&generated)),
    );
    let snapshots = generated
        .iter()
        .map(|(gv, document)| (snapshot_path(*gv), pretty(document)))
        .chain([v2]);
    for (path, fresh) in snapshots {
        if update {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("openapi/");
            std::fs::write(&path, &fresh).expect("write snapshot");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == fresh => {}
            Ok(_) => stale.push(format!("{} differs", path.display())),
            Err(e) => stale.push(format!("{} unreadable: {e}", path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "the OpenAPI snapshot is stale:\n  {}\nIf the change is intended, refresh it with\n  UPDATE_OPENAPI=1 cargo test --test e2e -- openapi::\nand commit openapi/.",
        stale.join("\n  ")
    );
}

#[test]
fn hashes_are_stable_across_builds() {
    let first: Vec<(String, String)> = openapi::generate()
        .iter()
        .map(|(gv, d)| {
            (
                gv.path.to_string(),
                openapi::hash(&openapi::encode(d).expect("encode")),
            )
        })
        .collect();
    let second: Vec<(String, String)> = openapi::generate()
        .iter()
        .map(|(gv, d)| {
            (
                gv.path.to_string(),
                openapi::hash(&openapi::encode(d).expect("encode")),
            )
        })
        .collect();
    assert_eq!(first, second);
    let served = openapi::documents().expect("documents");
    for (path, hash) in &first {
        let document = served.get(path).expect("served");
        assert_eq!(&document.hash, hash, "{path}");
        assert_eq!(document.hash.len(), 128);
        assert!(
            document
                .hash
                .chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
        );
        assert_eq!(openapi::hash(&document.json), document.hash);
    }
}

fn document(path: &str) -> Value {
    openapi::generate()
        .into_iter()
        .find(|(gv, _)| gv.path == path)
        .map(|(_, d)| d)
        .expect("document")
}

/// What cli-runtime's query-param verifier does: find a PATCH operation whose
/// `x-kubernetes-group-version-kind` is the kind's and see whether it takes `fieldValidation`.
/// It stops at the first such operation in Go's random map order, so every one must have it.
#[test]
fn every_kind_has_a_patch_operation_with_field_validation() {
    for (path, group, kinds) in [
        ("api/v1", "", &["Pod", "Namespace", "Node", "Event"][..]),
        ("apis/apps/v1", "apps", &["ReplicaSet"][..]),
    ] {
        let document = document(path);
        assert_eq!(document["openapi"], "3.0.0");
        for kind in kinds {
            let gvk = json!({"group": group, "version": "v1", "kind": kind});
            let patches: Vec<&Value> = document["paths"]
                .as_object()
                .expect("paths")
                .values()
                .filter_map(|item| item.get("patch"))
                .filter(|op| op["x-kubernetes-group-version-kind"] == gvk)
                .collect();
            assert!(!patches.is_empty(), "no PATCH for {kind} in {path}");
            for op in patches {
                let params = op["parameters"].as_array().expect("parameters");
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == "fieldValidation" && p["in"] == "query"),
                    "{kind}: {op}"
                );
                let content = op["requestBody"]["content"].as_object().expect("content");
                for media in [
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/strategic-merge-patch+json",
                    "application/apply-patch+yaml",
                ] {
                    assert!(content.contains_key(media), "{kind} PATCH takes {media}");
                }
            }
        }
    }
    let apps = document("apis/apps/v1");
    let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale"];
    assert_eq!(
        scale["patch"]["x-kubernetes-group-version-kind"],
        json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
    );
    assert_eq!(
        scale["patch"]["operationId"],
        "patchAppsV1NamespacedReplicaSetScale"
    );
}

#[test]
fn operations_cover_what_the_server_serves() {
    let core = document("api/v1");
    let paths = core["paths"].as_object().expect("paths");
    let pods = &paths["/api/v1/namespaces/{namespace}/pods"];
    assert_eq!(pods["get"]["operationId"], "listCoreV1NamespacedPod");
    assert_eq!(pods["get"]["x-kubernetes-action"], "list");
    let list_params: Vec<&str> = pods["get"]["parameters"]
        .as_array()
        .expect("params")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "labelSelector",
        "fieldSelector",
        "limit",
        "continue",
        "resourceVersion",
        "resourceVersionMatch",
        "watch",
        "allowWatchBookmarks",
        "timeoutSeconds",
    ] {
        assert!(list_params.contains(&name), "{name} in {list_params:?}");
    }
    assert!(
        pods["get"]["responses"]["200"]["content"]
            .get("application/json;stream=watch")
            .is_some()
    );
    assert_eq!(pods["post"]["operationId"], "createCoreV1NamespacedPod");
    assert_eq!(
        pods["delete"]["operationId"],
        "deleteCoreV1CollectionNamespacedPod"
    );
    assert_eq!(
        paths["/api/v1/pods"]["get"]["operationId"],
        "listCoreV1PodForAllNamespaces"
    );
    let pod = &paths["/api/v1/namespaces/{namespace}/pods/{name}"];
    for (method, id, action) in [
        ("get", "readCoreV1NamespacedPod", "get"),
        ("put", "replaceCoreV1NamespacedPod", "put"),
        ("patch", "patchCoreV1NamespacedPod", "patch"),
        ("delete", "deleteCoreV1NamespacedPod", "delete"),
    ] {
        assert_eq!(pod[method]["operationId"], id);
        assert_eq!(pod[method]["x-kubernetes-action"], action);
    }
    let delete_params: Vec<&str> = pod["delete"]["parameters"]
        .as_array()
        .expect("params")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["dryRun", "gracePeriodSeconds", "propagationPolicy"] {
        assert!(delete_params.contains(&name), "{name}");
    }
    let patch_params: Vec<&str> = pod["patch"]["parameters"]
        .as_array()
        .expect("params")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["dryRun", "fieldManager", "fieldValidation", "force"] {
        assert!(patch_params.contains(&name), "{name}");
    }
    assert_eq!(
        paths["/api/v1/namespaces/{namespace}/pods/{name}/binding"]["post"]["x-kubernetes-group-version-kind"],
        json!({"group": "", "version": "v1", "kind": "Binding"})
    );
    assert_eq!(
        paths["/api/v1/namespaces/{name}/finalize"]["put"]["operationId"],
        "replaceCoreV1NamespaceFinalize"
    );
    assert_eq!(
        paths["/api/v1/nodes/{name}/status"]["patch"]["operationId"],
        "patchCoreV1NodeStatus"
    );
    // Namespaces have no deletecollection, like kube-apiserver.
    assert!(paths["/api/v1/namespaces"].get("delete").is_none());
}

#[test]
fn schemas_carry_what_kubectl_explain_and_apply_read() {
    let core = document("api/v1");
    let schemas = &core["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"],
        json!([{"group": "", "version": "v1", "kind": "Pod"}])
    );
    assert_eq!(
        schemas["io.k8s.api.core.v1.PodList"]["x-kubernetes-group-version-kind"],
        json!([{"group": "", "version": "v1", "kind": "PodList"}])
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Status"]["x-kubernetes-group-version-kind"],
        json!([{"group": "", "version": "v1", "kind": "Status"}])
    );
    for meta in ["DeleteOptions", "WatchEvent"] {
        let gvks = &schemas[format!("io.k8s.apimachinery.pkg.apis.meta.v1.{meta}")]["x-kubernetes-group-version-kind"];
        assert!(
            gvks.as_array()
                .expect("gvks")
                .contains(&json!({"group": "", "version": "v1", "kind": meta})),
            "{meta}: {gvks}"
        );
    }
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    let container = &schemas["io.k8s.api.core.v1.Container"]["properties"];
    assert_eq!(container["env"]["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(
        container["volumeMounts"]["x-kubernetes-patch-merge-key"],
        "mountPath"
    );
    assert_eq!(
        schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"]["x-kubernetes-patch-strategy"],
        "merge,retainKeys"
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["ownerReferences"]
            ["x-kubernetes-patch-merge-key"],
        "uid"
    );
    assert!(
        schemas["io.k8s.api.core.v1.Probe"]["properties"]
            .get("initialDelaySeconds")
            .is_some()
    );

    let apps = document("apis/apps/v1");
    let schemas = &apps["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.api.apps.v1.ReplicaSet"]["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "version": "v1", "kind": "ReplicaSet"}])
    );
    // The pod template inside a ReplicaSet has the same patch metadata.
    assert_eq!(
        schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]["x-kubernetes-patch-merge-key"],
        "name"
    );
    let autoscaling = document("apis/autoscaling/v1");
    assert_eq!(
        autoscaling["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"]["x-kubernetes-group-version-kind"],
        json!([{"group": "autoscaling", "version": "v1", "kind": "Scale"}])
    );
}

#[test]
fn the_documents_name_the_kubernetes_version_discovery_reports() {
    assert_eq!(openapi::KUBERNETES_VERSION, KUBERNETES_VERSION);
}

// ---------------------------------------------------------------------------------------------
// Over HTTP

/// A server as `serve` runs it, with a client that does not follow redirects (the Swagger
/// UI's are checked as they are sent).
async fn server() -> TestApp {
    let mut s = start_with_workers(tempfile::tempdir().expect("data dir"), |_| {}).await;
    s.client_with(|client| {
        client
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
    });
    s
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn the_index_and_documents_are_served_with_kube_openapi_caching() {
    let s = server().await;
    let index = s
        .request(reqwest::Method::GET, "/openapi/v3")
        .header("Accept", "application/json, */*")
        .send()
        .await
        .expect("index");
    assert_eq!(index.status(), StatusCode::OK);
    let index: Value = index.json().await.expect("index json");
    let served = openapi::documents().expect("documents");
    for gv in openapi::GROUP_VERSIONS {
        let url = index["paths"][gv.path]["serverRelativeURL"]
            .as_str()
            .expect("serverRelativeURL");
        let hash = &served.get(gv.path).expect("document").hash;
        assert_eq!(url, format!("/openapi/v3/{}?hash={hash}", gv.path));

        // The current hash: immutable for a year.
        let response = s
            .request(reqwest::Method::GET, url)
            .header("Accept", "application/json")
            .send()
            .await
            .expect("document");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), "application/json");
        assert_eq!(header(&response, "etag"), format!("\"{hash}\""));
        assert_eq!(header(&response, "cache-control"), "public, immutable");
        assert!(!header(&response, "expires").is_empty());
        let bytes = response.bytes().await.expect("body");
        assert_eq!(&openapi::hash(&bytes), hash);
        let document: Value = serde_json::from_slice(&bytes).expect("document json");
        assert_eq!(document["openapi"], "3.0.0");

        // No hash: revalidate every time; the ETag answers 304.
        let response = s
            .request(reqwest::Method::GET, gv.url)
            .send()
            .await
            .expect("document");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "cache-control"), "no-cache, private");
        let etag = header(&response, "etag").to_string();
        let response = s
            .request(reqwest::Method::GET, gv.url)
            .header("If-None-Match", &etag)
            .send()
            .await
            .expect("revalidation");
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

        // A stale hash: moved to the current URL.
        let response = s
            .request(reqwest::Method::GET, &format!("{}?hash=0123ABCD", gv.url))
            .send()
            .await
            .expect("stale");
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(header(&response, "location"), url);
    }

    let unknown = s
        .request(reqwest::Method::GET, "/openapi/v3/apis/batch/v1")
        .send()
        .await
        .expect("404");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let status: Value = unknown.json().await.expect("status");
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "NotFound");

    let protobuf = s
        .request(reqwest::Method::GET, "/openapi/v3/api/v1")
        .header(
            "Accept",
            "application/com.github.proto-openapi.spec.v3@v1.0+protobuf",
        )
        .send()
        .await
        .expect("406");
    assert_eq!(protobuf.status(), StatusCode::NOT_ACCEPTABLE);
    let status: Value = protobuf.json().await.expect("status");
    assert_eq!(status["reason"], "NotAcceptable");

    // v2: gnostic's protobuf for a client that asks only for it (kubectl before 1.27), JSON
    // otherwise, each with an ETag the client can revalidate.
    let v2 = s
        .request(reqwest::Method::GET, "/openapi/v2")
        .header(
            "Accept",
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        )
        .send()
        .await
        .expect("v2");
    assert_eq!(v2.status(), StatusCode::OK);
    assert_eq!(
        v2.headers()["content-type"],
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    let etag = v2.headers()["etag"].to_str().expect("etag").to_string();
    let served = openapi::documents().expect("documents");
    assert_eq!(
        v2.bytes().await.expect("body").as_ref(),
        served.v2.protobuf.as_slice()
    );
    let again = s
        .request(reqwest::Method::GET, "/openapi/v2")
        .header(
            "Accept",
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        )
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("v2 again");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let json_v2 = s
        .request(reqwest::Method::GET, "/openapi/v2")
        .header("Accept", "application/json")
        .send()
        .await
        .expect("v2 json");
    assert_eq!(json_v2.status(), StatusCode::OK);
    assert_ne!(json_v2.headers()["etag"].to_str().expect("etag"), etag);
    let document: Value = json_v2.json().await.expect("json");
    assert_eq!(document["swagger"], "2.0");
    assert!(document["definitions"]["io.k8s.api.apps.v1.ReplicaSet"].is_object());

    // Like kube-apiserver, the documents need credentials.
    let anonymous = s
        .client
        .get(format!("{}/openapi/v3", s.url))
        .send()
        .await
        .expect("401");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[tokio::test]
async fn swagger_ui_browses_the_served_documents() {
    let s = server().await;
    let redirect = s
        .request(reqwest::Method::GET, "/swagger-ui")
        .send()
        .await
        .expect("redirect");
    assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&redirect, "location"), "/swagger-ui/");
    let page = s
        .request(reqwest::Method::GET, "/swagger-ui/")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(header(&page, "content-type").starts_with("text/html"));
    let initializer = s
        .request(reqwest::Method::GET, "/swagger-ui/swagger-initializer.js")
        .send()
        .await
        .expect("initializer")
        .text()
        .await
        .expect("js");
    for gv in openapi::GROUP_VERSIONS {
        assert!(initializer.contains(gv.url), "{gv:?} in {initializer}");
    }
    let bundle = s
        .request(reqwest::Method::GET, "/swagger-ui/swagger-ui-bundle.js")
        .send()
        .await
        .expect("bundle");
    assert_eq!(bundle.status(), StatusCode::OK);
    s.stop().await;
}

/// A browser sends no bearer token; `kubectl proxy` adds it, which is how the Swagger UI is
/// meant to be opened (as with kube-apiserver, whose /openapi needs credentials too).
#[tokio::test]
async fn swagger_ui_opens_through_kubectl_proxy() {
    use std::io::{BufRead, BufReader};
    let s = server().await;
    let kubeconfig = s.kubectl.kubeconfig.clone();
    let cache = s.kubectl.cache.path().to_path_buf();
    let (mut proxy, address) = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(kubectl_binary())
            .args(["proxy", "--port=0"])
            .env("KUBECONFIG", &kubeconfig)
            .env("KUBECACHEDIR", &cache)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("kubectl is on PATH (the test command installs it)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("kubectl proxy says where it listens");
        // "Starting to serve on 127.0.0.1:PORT"
        let address = line.trim().rsplit(' ').next().expect("address").to_string();
        (child, address)
    })
    .await
    .expect("proxy started");
    let browser = reqwest::Client::new();
    let page = browser
        .get(format!("http://{address}/swagger-ui/"))
        .send()
        .await
        .expect("page through the proxy");
    let document = browser
        .get(format!("http://{address}/openapi/v3/api/v1"))
        .send()
        .await
        .expect("document through the proxy");
    let (page_status, document_status) = (page.status(), document.status());
    let document: Value = document.json().await.unwrap_or(Value::Null);
    let _ = proxy.kill();
    let _ = tokio::task::spawn_blocking(move || proxy.wait()).await;
    assert_eq!(page_status, StatusCode::OK);
    assert_eq!(document_status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.0.0");
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The real kubectl

const POD: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: validated
  labels:
    app: validated
spec:
  containers:
    - name: web
      image: nginx:1.27
      ports:
        - containerPort: 80
      livenessProbe:
        httpGet:
          path: /
          port: 80
        initialDelaySeconds: 3
"#;

#[tokio::test]
async fn kubectl_validates_and_explains_with_the_documents() {
    let s = server().await;
    let manifests = tempfile::tempdir().expect("manifests");
    let pod = manifests.path().join("pod.yaml");
    std::fs::write(&pod, POD).expect("manifest");
    let pod = pod.display().to_string();

    // Server-side field validation is detected from the documents: no --validate=false.
    let created = s.kubectl.ok(&["create", "-f", &pod]).await;
    assert_eq!(created.trim(), "pod/validated created");
    let applied = s.kubectl.ok(&["apply", "-f", &pod]).await;
    assert!(applied.contains("pod/validated"), "{applied}");

    let probe = s
        .kubectl
        .ok(&["explain", "pod.spec.containers.livenessProbe"])
        .await;
    for expected in [
        "KIND:       Pod",
        "VERSION:    v1",
        "livenessProbe <Probe>",
        "FIELDS:",
        "httpGet\t<HTTPGetAction>",
        "initialDelaySeconds\t<integer>",
    ] {
        assert!(probe.contains(expected), "{expected:?} in\n{probe}");
    }

    let rs = s.kubectl.ok(&["explain", "rs.spec"]).await;
    for expected in [
        "GROUP:      apps",
        "KIND:       ReplicaSet",
        "spec <ReplicaSetSpec>",
        "replicas\t<integer>",
        "template\t<PodTemplateSpec>",
    ] {
        assert!(rs.contains(expected), "{expected:?} in\n{rs}");
    }

    let resources = s.kubectl.ok(&["api-resources"]).await;
    for short in ["po", "rs", "no", "ns", "ev"] {
        assert!(
            resources.split_whitespace().any(|w| w == short),
            "{short} in {resources}"
        );
    }
    s.stop().await;
}

/// A message gnostic's schema decoded, in Swagger 2.0's JSON terms: named lists as maps,
/// vendor extensions merged into their object, `oneof` wrappers as their one value, `Any` as
/// its YAML's value, one-element `type` and `items` lists as their element.
fn gnostic_to_swagger(message: &prost_reflect::DynamicMessage) -> Value {
    use prost_reflect::ReflectMessage as _;
    use prost_reflect::Value as Field;
    let descriptor = message.descriptor();
    let name = descriptor.name();
    let field = |m: &prost_reflect::DynamicMessage, f: &str| -> Option<Field> {
        let fd = m.descriptor().get_field_by_name(f)?;
        m.has_field(&fd).then(|| m.get_field(&fd).into_owned())
    };
    let convert = |value: &Field| -> Value {
        match value {
            Field::String(s) => json!(s),
            Field::Bool(b) => json!(b),
            Field::I64(n) => json!(*n as f64),
            Field::F64(n) => json!(n),
            Field::Message(m) => gnostic_to_swagger(m),
            Field::List(items) => Value::Array(
                items
                    .iter()
                    .map(|i| match i {
                        Field::String(s) => json!(s),
                        Field::Message(m) => gnostic_to_swagger(m),
                        other => json!(format!("{other:?}")),
                    })
                    .collect(),
            ),
            other => json!(format!("{other:?}")),
        }
    };
    // A list of `Named*` messages as a map.
    let named = |value: Option<Field>| -> serde_json::Map<String, Value> {
        let mut map = serde_json::Map::new();
        if let Some(Field::List(items)) = value {
            for item in items {
                if let Field::Message(entry) = item {
                    let key = match field(&entry, "name") {
                        Some(Field::String(s)) => s,
                        _ => String::new(),
                    };
                    let value = field(&entry, "value")
                        .map(|v| convert(&v))
                        .unwrap_or(json!({}));
                    map.insert(key, value);
                }
            }
        }
        map
    };
    match name {
        "Any" => {
            let yaml = match field(message, "yaml") {
                Some(Field::String(s)) => s,
                _ => String::new(),
            };
            return numbers_as_f64(yaml_serde::from_str(&yaml).unwrap_or(Value::Null));
        }
        "TypeItem" | "ItemsItem" | "StringArray" => {
            let list = descriptor
                .fields()
                .next()
                .and_then(|f| field(message, f.name()))
                .map(|v| convert(&v))
                .unwrap_or(json!([]));
            return match (name, list) {
                ("StringArray", list) => list,
                (_, Value::Array(items)) if items.len() == 1 => items[0].clone(),
                (_, other) => other,
            };
        }
        _ => {}
    }
    if descriptor.oneofs().any(|o| o.name() == "oneof") {
        return message
            .fields()
            .next()
            .map(|(_, v)| convert(v))
            .unwrap_or(Value::Null);
    }
    let mut out = serde_json::Map::new();
    for (fd, value) in message.fields() {
        let key = fd.name();
        match key {
            "vendor_extension" => out.extend(named(Some(value.clone()))),
            "additional_properties" | "path" | "response_code"
                if matches!(value, Field::List(_)) =>
            {
                out.extend(named(Some(value.clone())))
            }
            _ => {
                let json_key = if key == "_ref" {
                    "$ref".to_string()
                } else {
                    let mut parts = key.split('_');
                    let mut k = parts.next().unwrap_or("").to_string();
                    for part in parts {
                        let mut chars = part.chars();
                        if let Some(first) = chars.next() {
                            k.push(first.to_ascii_uppercase());
                            k.push_str(chars.as_str());
                        }
                    }
                    k
                };
                out.insert(json_key, convert(value));
            }
        }
    }
    Value::Object(out)
}

/// Every JSON number as an f64 (protobuf keeps integers and doubles apart, JSON does not).
fn numbers_as_f64(value: Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64().unwrap_or(0.0)),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_f64).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, numbers_as_f64(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The JSON document as proto3 keeps it: no false, zero, empty string or empty list outside
/// the values gnostic holds as YAML (defaults, examples, enums, extensions).
fn as_proto3_keeps_it(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| {
                    // Security requirements map names to scope lists, empty ones included.
                    if k == "default"
                        || k == "example"
                        || k == "enum"
                        || k == "security"
                        || k.starts_with("x-")
                    {
                        return Some((k, numbers_as_f64(v)));
                    }
                    let empty = matches!(&v, Value::Bool(false) | Value::Null)
                        || v.as_f64() == Some(0.0)
                        || v.as_str() == Some("")
                        || v.as_array().is_some_and(Vec::is_empty);
                    (!empty).then(|| (k, as_proto3_keeps_it(v)))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(as_proto3_keeps_it).collect()),
        Value::Number(n) => json!(n.as_f64().unwrap_or(0.0)),
        other => other,
    }
}

/// The first place two JSON values differ, as a path.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                match (x.get(key), y.get(key)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = first_difference(u, v, &format!("{at}/{key}")) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{at}/{key}: {u:?} vs {v:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, &format!("{at}/{i}"))),
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

#[test]
fn the_protobuf_v2_document_decodes_with_gnostics_schema_to_the_json_one() {
    // tests/proto/OpenAPIv2.proto is gnostic's schema of the document, as client-go's
    // OpenAPI v2 client and kubectl before 1.27 decode it.
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proto");
    let files = protox::compile(["OpenAPIv2.proto"], [proto]).expect("gnostic's schema compiles");
    let pool = prost_reflect::DescriptorPool::from_file_descriptor_set(files).expect("pool");
    let document = pool
        .get_message_by_name("openapi.v2.Document")
        .expect("openapi.v2.Document");
    let served = openapi::documents().expect("documents");
    let decoded = prost_reflect::DynamicMessage::decode(document, served.v2.protobuf.as_slice())
        .expect("the protobuf answer decodes as openapi.v2.Document");
    let from_protobuf = gnostic_to_swagger(&decoded);
    let json: Value = serde_json::from_slice(&served.v2.json).expect("the JSON answer");
    let expected = as_proto3_keeps_it(json);
    assert!(
        expected["definitions"]
            .as_object()
            .is_some_and(|d| d.len() > 100)
    );
    if let Some(difference) = first_difference(&from_protobuf, &expected, "") {
        panic!("the protobuf and JSON answers differ at {difference}");
    }
}
