//! Every class of client mistake gets its Kubernetes `Status` and changes nothing.

use crate::support::app::*;
use reqwest::Method;
use serde_json::{Value, json};

struct Case {
    why: &'static str,
    method: Method,
    path: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    token: Option<&'static str>,
    code: u16,
    reason: &'static str,
}

fn case(
    why: &'static str,
    method: Method,
    path: &'static str,
    body: Value,
    code: u16,
    reason: &'static str,
) -> Case {
    Case {
        why,
        method,
        path,
        content_type: "application/json",
        body: body.to_string().into_bytes(),
        token: None,
        code,
        reason,
    }
}

fn with_pod(f: impl FnOnce(&mut Value)) -> Value {
    let mut p = pod("bad");
    f(&mut p);
    p
}

#[tokio::test]
async fn bad_inputs_get_a_status_and_change_nothing() {
    let app = spawn_app().await;
    let fixture = app.create_pod("default", &pod("fixture")).await.body;
    let rs = app
        .post(
            "/apis/apps/v1/namespaces/default/replicasets",
            &replicaset("web", 1),
        )
        .await
        .body;
    let pods = "/api/v1/namespaces/default/pods";
    let mut renamed_container = fixture.clone();
    renamed_container["spec"]["containers"][0]["name"] = json!("renamed");
    let mut other_name = fixture.clone();
    other_name["metadata"]["name"] = json!("someone-else");
    let mut rs_selector_change = rs.clone();
    rs_selector_change["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
    let big = format!(
        "{{\"metadata\":{{\"name\":\"big\",\"annotations\":{{\"a\":\"{}\"}}}}}}",
        "x".repeat(3 * 1024 * 1024 + 10)
    );

    let mut cases = vec![
        Case {
            body: b"{not json".to_vec(),
            ..case(
                "malformed JSON",
                Method::POST,
                pods,
                json!({}),
                400,
                "BadRequest",
            )
        },
        case(
            "wrong apiVersion",
            Method::POST,
            pods,
            with_pod(|p| p["apiVersion"] = json!("apps/v1")),
            400,
            "BadRequest",
        ),
        case(
            "wrong kind",
            Method::POST,
            pods,
            with_pod(|p| p["kind"] = json!("Node")),
            400,
            "BadRequest",
        ),
        case(
            "namespace differs from the path",
            Method::POST,
            pods,
            with_pod(|p| p["metadata"]["namespace"] = json!("kube-system")),
            400,
            "BadRequest",
        ),
        case(
            "wrong JSON type",
            Method::POST,
            pods,
            with_pod(|p| p["spec"]["containers"] = json!("app")),
            400,
            "BadRequest",
        ),
        case(
            "name differs from the URL",
            Method::PUT,
            "/api/v1/namespaces/default/pods/fixture",
            other_name,
            400,
            "BadRequest",
        ),
        case(
            "bad label selector",
            Method::GET,
            "/api/v1/pods?labelSelector=app%20in%20(",
            json!(null),
            400,
            "BadRequest",
        ),
        case(
            "bad dryRun",
            Method::POST,
            "/api/v1/namespaces/default/pods?dryRun=Some",
            pod("dry"),
            400,
            "BadRequest",
        ),
        Case {
            token: Some(""),
            ..case(
                "no token",
                Method::GET,
                pods,
                json!(null),
                401,
                "Unauthorized",
            )
        },
        Case {
            token: Some("wrong"),
            ..case(
                "wrong token",
                Method::POST,
                pods,
                pod("x"),
                401,
                "Unauthorized",
            )
        },
        case(
            "namespace may not be deleted",
            Method::DELETE,
            "/api/v1/namespaces/default",
            json!({}),
            403,
            "Forbidden",
        ),
        case(
            "no such pod",
            Method::GET,
            "/api/v1/namespaces/default/pods/nosuch",
            json!(null),
            404,
            "NotFound",
        ),
        case(
            "no such resource",
            Method::GET,
            "/api/v1/widgets",
            json!(null),
            404,
            "NotFound",
        ),
        case(
            "no such namespace",
            Method::POST,
            "/api/v1/namespaces/nowhere/pods",
            pod("x"),
            404,
            "NotFound",
        ),
        case(
            "no such subresource",
            Method::GET,
            "/api/v1/namespaces/default/pods/fixture/bogus",
            json!(null),
            404,
            "NotFound",
        ),
        case(
            "PUT on a collection",
            Method::PUT,
            pods,
            pod("x"),
            405,
            "MethodNotAllowed",
        ),
        case(
            "create outside a namespace",
            Method::POST,
            "/api/v1/pods",
            pod("x"),
            405,
            "MethodNotAllowed",
        ),
        case(
            "already exists",
            Method::POST,
            pods,
            pod("fixture"),
            409,
            "AlreadyExists",
        ),
        Case {
            body: big.into_bytes(),
            ..case(
                "body over 3 MiB",
                Method::POST,
                pods,
                json!({}),
                413,
                "RequestEntityTooLarge",
            )
        },
        Case {
            content_type: "application/vnd.kubernetes.protobuf",
            body: b"k8s\x00\x0a".to_vec(),
            ..case(
                "truncated protobuf body",
                Method::POST,
                pods,
                json!({}),
                400,
                "BadRequest",
            )
        },
        Case {
            content_type: "application/vnd.kubernetes.protobuf",
            body: b"{\"kind\": \"Pod\"}".to_vec(),
            ..case(
                "JSON sent as protobuf",
                Method::POST,
                pods,
                json!({}),
                400,
                "BadRequest",
            )
        },
        Case {
            // runtime.Unknown{typeMeta: {v1, Namespace}, raw: ""}
            content_type: "application/vnd.kubernetes.protobuf",
            body: b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x00".to_vec(),
            ..case(
                "protobuf Namespace to the pods endpoint",
                Method::POST,
                pods,
                json!({}),
                400,
                "BadRequest",
            )
        },
        Case {
            content_type: "application/x-unknown-patch",
            ..case(
                "unknown patch type",
                Method::PATCH,
                "/api/v1/namespaces/default/pods/fixture",
                json!({}),
                415,
                "UnsupportedMediaType",
            )
        },
        case(
            "no containers",
            Method::POST,
            pods,
            with_pod(|p| p["spec"]["containers"] = json!([])),
            422,
            "Invalid",
        ),
        case(
            "invalid name",
            Method::POST,
            pods,
            with_pod(|p| p["metadata"]["name"] = json!("Bad_Name")),
            422,
            "Invalid",
        ),
        case(
            "no name",
            Method::POST,
            pods,
            with_pod(|p| p["metadata"] = json!({})),
            422,
            "Invalid",
        ),
        case(
            "missing image",
            Method::POST,
            pods,
            with_pod(|p| p["spec"]["containers"][0]["image"] = json!("")),
            422,
            "Invalid",
        ),
        case(
            "duplicate container names",
            Method::POST,
            pods,
            with_pod(|p| {
                p["spec"]["containers"] =
                    json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}])
            }),
            422,
            "Invalid",
        ),
        case(
            "port out of range",
            Method::POST,
            pods,
            with_pod(|p| p["spec"]["containers"][0]["ports"] = json!([{"containerPort": 70000}])),
            422,
            "Invalid",
        ),
        case(
            "invalid label value",
            Method::POST,
            pods,
            with_pod(|p| p["metadata"]["labels"] = json!({"app": "has space"})),
            422,
            "Invalid",
        ),
        case(
            "immutable pod field",
            Method::PUT,
            "/api/v1/namespaces/default/pods/fixture",
            renamed_container,
            422,
            "Invalid",
        ),
        case(
            "selector does not match template",
            Method::POST,
            "/apis/apps/v1/namespaces/default/replicasets",
            {
                let mut r = replicaset("mismatch", 1);
                r["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
                r
            },
            422,
            "Invalid",
        ),
        case(
            "immutable selector",
            Method::PUT,
            "/apis/apps/v1/namespaces/default/replicasets/web",
            rs_selector_change,
            422,
            "Invalid",
        ),
        case(
            "negative scale",
            Method::PATCH,
            "/apis/apps/v1/namespaces/default/replicasets/web/scale",
            json!({"spec": {"replicas": -1}}),
            422,
            "Invalid",
        ),
        case(
            "failing JSON patch test",
            Method::PATCH,
            "/api/v1/namespaces/default/pods/fixture",
            json!([{"op": "test", "path": "/metadata/name", "value": "x"}]),
            422,
            "Invalid",
        ),
    ];
    for c in cases.iter_mut() {
        if c.method == Method::PATCH && c.content_type == "application/json" {
            c.content_type = if c.body.first() == Some(&b'[') {
                "application/json-patch+json"
            } else {
                "application/merge-patch+json"
            };
        }
    }

    for c in cases {
        let before = app.latest_rv().await;
        let mut request = app
            .client
            .request(c.method.clone(), format!("{}{}", app.url, c.path))
            .header("Content-Type", c.content_type);
        request = match c.token {
            None => request.bearer_auth(&app.token),
            Some("") => request,
            Some(t) => request.bearer_auth(t),
        };
        if c.method != Method::GET {
            request = request.body(c.body.clone());
        }
        let reply = app.send(request).await;
        assert_eq!(reply.status.as_u16(), c.code, "{}: {}", c.why, reply.text);
        assert_eq!(reply.body["kind"], "Status", "{}: {}", c.why, reply.text);
        assert_eq!(reply.body["status"], "Failure", "{}", c.why);
        assert_eq!(reply.body["reason"], c.reason, "{}: {}", c.why, reply.text);
        assert_eq!(reply.body["code"], c.code, "{}", c.why);
        assert!(
            reply.body["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}",
            c.why
        );
        if c.reason == "Invalid" && c.method != Method::PATCH {
            let causes = reply.body["details"]["causes"].as_array();
            assert!(
                causes.is_some_and(|c| !c.is_empty() && c[0]["field"].is_string()),
                "{}: {}",
                c.why,
                reply.text
            );
        }
        assert_eq!(app.latest_rv().await, before, "{} changed state", c.why);
    }
    let after = app
        .get("/api/v1/namespaces/default/pods/fixture")
        .await
        .body;
    assert_eq!(after, fixture);
}

#[tokio::test]
async fn invalid_reports_field_paths_like_kubernetes() {
    let app = spawn_app().await;
    let mut p = pod("bad");
    p["spec"]["containers"][0]["image"] = json!("");
    let reply = app.create_pod("default", &p).await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.body["message"],
        "Pod \"bad\" is invalid: spec.containers[0].image: Required value"
    );
    assert_eq!(reply.body["details"]["kind"], "Pod");
    assert_eq!(reply.body["details"]["name"], "bad");
    assert_eq!(
        reply.body["details"]["causes"][0],
        json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"})
    );
}

#[tokio::test]
async fn not_found_status_is_shaped_like_kubernetes() {
    let app = spawn_app().await;
    let reply = app
        .get("/apis/apps/v1/namespaces/default/replicasets/web")
        .await;
    assert_eq!(
        reply.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "replicasets.apps \"web\" not found", "reason": "NotFound",
               "details": {"name": "web", "group": "apps", "kind": "replicasets"}, "code": 404})
    );
}
