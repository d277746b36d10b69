//! The writer and the workers survive what a client can send: numbers past any bound,
//! documents that multiply themselves, objects larger than any body, replica counts in the
//! billions.

use super::health::{assert_status, assert_still_healthy};
use crate::support::app::{TestApp, pod, replicaset, spawn_app, spawn_app_with};
use crate::support::wait::eventually;
use serde_json::{Value, json};
use std::time::Duration;

/// A server with the controllers and one simulated node, with short node timings.
async fn cluster() -> TestApp {
    spawn_app_with(|s| {
        s.workers.controllers = true;
        s.workers.simulated_nodes = 1;
        s.workers.simulated_start_delay = Duration::from_millis(50);
        s.workers.node_lifecycle.heartbeat = Duration::from_millis(300);
        s.workers.node_lifecycle.grace = Duration::from_secs(2);
    })
    .await
}

/// The sum of the `kubetrail_panics` counters in /metrics.
async fn panics(app: &TestApp) -> f64 {
    let text = app.get("/metrics").await.text;
    text.lines()
        .filter(|l| l.starts_with("kubetrail_panics_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn wait_bound(app: &TestApp, name: &str) {
    let path = format!("/api/v1/namespaces/default/pods/{name}");
    let bound = eventually(Duration::from_secs(20), || async {
        !app.get(&path).await.body["spec"]["nodeName"].is_null()
    })
    .await;
    assert!(bound, "pod {name} was never bound");
}

#[tokio::test]
async fn a_fresh_server_is_healthy_and_says_so_verbosely() {
    let app = spawn_app().await;
    assert_still_healthy(&app).await;
    let verbose = app.get("/readyz?verbose").await;
    assert_eq!(verbose.status, 200, "{}", verbose.text);
    assert!(verbose.text.contains("[+]writer ok"), "{}", verbose.text);
    assert!(verbose.text.contains("[+]informer ok"), "{}", verbose.text);
    assert!(
        verbose.text.contains("[+]namespace-controller ok"),
        "{}",
        verbose.text
    );
    assert!(verbose.text.ends_with("readyz check passed"));
}

#[tokio::test]
async fn a_grace_period_beyond_any_timestamp_is_accepted_and_writes_go_on() {
    let app = cluster().await;
    for (name, grace) in [("slow", 300_000_000_000i64), ("slower", i64::MAX)] {
        app.create_pod("default", &pod(name)).await;
        wait_bound(&app, name).await;
        let reply = app
            .delete(
                &format!("/api/v1/namespaces/default/pods/{name}"),
                Some(&json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": grace})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            reply.body["metadata"]["deletionTimestamp"],
            "9999-12-30T22:00:00Z"
        );
        assert_eq!(reply.body["metadata"]["deletionGracePeriodSeconds"], grace);
        assert_still_healthy(&app).await;
    }
    assert_eq!(panics(&app).await, 0.0);
}

#[tokio::test]
async fn grace_periods_that_are_negative_or_not_a_number_get_a_status() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("p")).await;
    for (grace, code, reason) in [
        ("-5", 422, "Invalid"),
        ("99999999999999999999999", 400, "BadRequest"),
        ("soon", 400, "BadRequest"),
    ] {
        let reply = app
            .delete(
                &format!("/api/v1/namespaces/default/pods/p?gracePeriodSeconds={grace}"),
                None,
            )
            .await;
        assert_status(&reply, code, reason);
    }
    assert_still_healthy(&app).await;
}

/// The patch that grew a server by 250 MB/s: a 1 KB array, then copies of it into itself.
fn doubling_patch(copies: usize) -> Value {
    let mut operations = vec![json!({"op": "add", "path": "/metadata/annotations",
                                     "value": {"x": "y".repeat(1024)}})];
    operations.push(json!({"op": "add", "path": "/spec/a", "value": ["z".repeat(1024)]}));
    for _ in 0..copies {
        operations.push(json!({"op": "copy", "from": "/spec/a", "path": "/spec/a/0"}));
    }
    Value::Array(operations)
}

#[tokio::test]
async fn a_json_patch_that_doubles_itself_is_refused_before_it_grows() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("p")).await;
    let reply = app
        .patch(
            "/api/v1/namespaces/default/pods/p",
            "application/json-patch+json",
            &doubling_patch(34),
        )
        .await;
    assert_status(&reply, 422, "Invalid");
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("copy"),
        "{}",
        reply.text
    );
    let unchanged = app.get("/api/v1/namespaces/default/pods/p").await;
    assert!(unchanged.body["spec"]["a"].is_null());
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_json_patch_of_more_than_ten_thousand_operations_is_too_large() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("p")).await;
    let operations: Vec<Value> = (0..10_001)
        .map(|_| json!({"op": "test", "path": "/kind", "value": "Pod"}))
        .collect();
    let reply = app
        .patch(
            "/api/v1/namespaces/default/pods/p",
            "application/json-patch+json",
            &Value::Array(operations),
        )
        .await;
    assert_status(&reply, 413, "RequestEntityTooLarge");
    assert!(reply.text.contains("10000"), "{}", reply.text);
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_json_patch_with_a_bad_pointer_or_a_failed_test_changes_nothing() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("p")).await;
    for operations in [
        json!([{"op": "add", "path": "/metadata/labels/x", "value": "1"},
               {"op": "test", "path": "/kind", "value": "Node"}]),
        json!([{"op": "add", "path": "/metadata/labels/x", "value": "1"},
               {"op": "remove", "path": "/spec/nothing/here"}]),
        json!([{"op": "move", "from": "/spec", "path": "/spec/containers/0"}]),
        json!([{"op": "copy", "from": "/no/such/path", "path": "/spec/x"}]),
    ] {
        let reply = app
            .patch(
                "/api/v1/namespaces/default/pods/p",
                "application/json-patch+json",
                &operations,
            )
            .await;
        assert_status(&reply, 422, "Invalid");
    }
    let unchanged = app.get("/api/v1/namespaces/default/pods/p").await;
    assert!(unchanged.body["metadata"]["labels"]["x"].is_null());
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_malformed_json_patch_is_a_bad_request() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("p")).await;
    for operations in [
        json!({"op": "add"}),
        json!([{"op": "explode", "path": "/x"}]),
        json!([{"op": "add", "path": 7, "value": 1}]),
    ] {
        let reply = app
            .patch(
                "/api/v1/namespaces/default/pods/p",
                "application/json-patch+json",
                &operations,
            )
            .await;
        assert_status(&reply, 400, "BadRequest");
    }
    assert_still_healthy(&app).await;
}

/// Nine levels of ten aliases each: a billion strings from under a kilobyte.
fn yaml_bomb() -> String {
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nlol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let items = [previous.as_str(); 10].join(", ");
        text.push_str(&format!("lol{level}: &a{level} [{items}]\n"));
    }
    text
}

#[tokio::test]
async fn a_yaml_alias_bomb_is_refused_after_bounded_work() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/namespaces/default/pods"),
        (
            reqwest::Method::PATCH,
            "/api/v1/namespaces/default/pods/bomb?fieldManager=test",
        ),
    ] {
        let content_type = if method == reqwest::Method::PATCH {
            "application/apply-patch+yaml"
        } else {
            "application/yaml"
        };
        let reply = app
            .send(
                app.request(method, path)
                    .header("Content-Type", content_type)
                    .body(yaml_bomb()),
            )
            .await;
        assert_status(&reply, 413, "RequestEntityTooLarge");
        assert!(reply.text.contains("aliases"), "{}", reply.text);
    }
    assert_still_healthy(&app).await;
}

/// Arrays nested `depth` deep, sent as a pod of `content_type`: past the decoders' depth limit.
async fn post_nested(
    app: &TestApp,
    content_type: &str,
    depth: usize,
) -> crate::support::app::Reply {
    let body = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    app.send(
        app.request(reqwest::Method::POST, "/api/v1/namespaces/default/pods")
            .header("Content-Type", content_type)
            .body(body),
    )
    .await
}

#[tokio::test]
async fn yaml_nested_past_the_depth_limit_is_a_bad_request() {
    let app = spawn_app().await;
    let reply = post_nested(&app, "application/yaml", 10_000).await;
    assert_status(&reply, 400, "BadRequest");
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn json_nested_past_the_depth_limit_is_a_bad_request() {
    let app = spawn_app().await;
    let reply = post_nested(&app, "application/json", 100_000).await;
    assert_status(&reply, 400, "BadRequest");
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_too_large() {
    let app = spawn_app().await;
    let mut big = pod("big");
    big["metadata"]["annotations"] = json!({"a": "x".repeat(3 * 1024 * 1024)});
    let reply = app.create_pod("default", &big).await;
    assert_status(&reply, 413, "RequestEntityTooLarge");
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn patches_that_grow_an_object_past_the_limit_are_refused() {
    let app = spawn_app().await;
    let mut rs = replicaset("big", 0);
    rs["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["x".repeat(2 << 20)]);
    let path = "/apis/apps/v1/namespaces/default/replicasets/big";
    let created = app
        .post("/apis/apps/v1/namespaces/default/replicasets", &rs)
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    // Each body is under the limit; the object it would make is not.
    let more = json!({"spec": {"template": {"spec": {"initContainers": [
        {"name": "init", "image": "busybox", "command": ["y".repeat(2 << 20)]}]}}}});
    for content_type in [
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ] {
        let reply = app.patch(path, content_type, &more).await;
        assert_status(&reply, 413, "RequestEntityTooLarge");
    }
    let unchanged = app.get(path).await;
    assert!(unchanged.body["spec"]["template"]["spec"]["initContainers"].is_null());
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn numbers_past_their_type_are_refused_with_a_status() {
    let app = spawn_app().await;
    let mut cases = Vec::new();
    for value in [
        json!(18446744073709551616u128 as f64),
        json!(-9223372036854775808i64),
        json!(1e308),
        json!("30"),
    ] {
        let mut p = pod("n");
        p["spec"]["terminationGracePeriodSeconds"] = value.clone();
        p["spec"]["activeDeadlineSeconds"] = value.clone();
        p["spec"]["containers"][0]["ports"] = json!([{"containerPort": value}]);
        cases.push(p);
    }
    for p in cases {
        let reply = app.create_pod("default", &p).await;
        assert!(
            reply.status == 400 || reply.status == 422,
            "a Status for {}: {}",
            p["spec"],
            reply.text
        );
        assert_eq!(reply.body["kind"], "Status", "{}", reply.text);
    }
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_replicaset_scaled_to_the_largest_int32_is_a_long_bounded_job() {
    let app = cluster().await;
    let created = app
        .post(
            "/apis/apps/v1/namespaces/default/replicasets",
            &replicaset("huge", 1),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let scaled = app
        .patch(
            "/apis/apps/v1/namespaces/default/replicasets/huge/scale",
            "application/merge-patch+json",
            &json!({"spec": {"replicas": 2147483647}}),
        )
        .await;
    assert_eq!(scaled.status, 200, "{}", scaled.text);
    // Pods arrive a burst at a time while the server stays responsive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_still_healthy(&app).await;
    let scaled_down = app
        .patch(
            "/apis/apps/v1/namespaces/default/replicasets/huge/scale",
            "application/merge-patch+json",
            &json!({"spec": {"replicas": 0}}),
        )
        .await;
    assert_eq!(scaled_down.status, 200, "{}", scaled_down.text);
    assert_still_healthy(&app).await;
    assert_eq!(panics(&app).await, 0.0);
}

#[tokio::test]
async fn replicas_past_int32_or_negative_are_invalid() {
    let app = spawn_app().await;
    for replicas in [json!(2147483648i64), json!(-1), json!(1.5)] {
        let mut rs = replicaset("r", 1);
        rs["spec"]["replicas"] = replicas;
        let reply = app
            .post("/apis/apps/v1/namespaces/default/replicasets", &rs)
            .await;
        assert!(reply.status == 400 || reply.status == 422, "{}", reply.text);
        assert_eq!(reply.body["kind"], "Status");
    }
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_toleration_longer_than_any_timestamp_does_not_stop_node_lifecycle() {
    let app = cluster().await;
    let mut p = pod("tolerant");
    p["spec"]["tolerations"] = json!([
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": i64::MAX},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": i64::MAX}
    ]);
    let created = app.create_pod("default", &p).await;
    assert_eq!(created.status, 201, "{}", created.text);
    wait_bound(&app, "tolerant").await;
    // The node stops reporting: it becomes unreachable and tainted NoExecute.
    let paused = app
        .patch(
            "/api/v1/nodes/sim-node-000",
            "application/merge-patch+json",
            &json!({"metadata": {"annotations": {"kubetrail.dev/paused": "true"}}}),
        )
        .await;
    assert_eq!(paused.status, 200, "{}", paused.text);
    let tainted = eventually(Duration::from_secs(20), || async {
        app.get("/api/v1/nodes/sim-node-000").await.body["spec"]["taints"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["effect"] == "NoExecute"))
    })
    .await;
    assert!(tainted, "the silent node was never tainted");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still_there = app.get("/api/v1/namespaces/default/pods/tolerant").await;
    assert!(still_there.body["metadata"]["deletionTimestamp"].is_null());
    assert_still_healthy(&app).await;
    assert_eq!(panics(&app).await, 0.0);
}

#[tokio::test]
async fn a_body_with_hundreds_of_unknown_fields_gets_a_bounded_set_of_warnings() {
    let app = spawn_app().await;
    let mut p = pod("fields");
    for i in 0..300 {
        p["spec"][format!("unknown{i}")] = json!(i);
    }
    let response = app
        .request(reqwest::Method::POST, "/api/v1/namespaces/default/pods")
        .json(&p)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let warnings = response.headers().get_all("warning").iter().count();
    assert!((1..=50).contains(&warnings), "{warnings} Warning headers");
    assert_still_healthy(&app).await;
}
