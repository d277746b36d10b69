//! Watches and lists: a watcher that never reads, resourceVersions beyond the log, forged
//! continue tokens, huge and negative numbers, made-up subresources in the metrics.

use super::health::{assert_status, assert_still_healthy};
use crate::support::app::{Reply, TestApp, spawn_app, spawn_app_with};
use crate::support::wait::eventually;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Namespaces created with a 200 KB annotation each: enough bytes to fill every buffer between
/// the server and a client that does not read (socket buffers, TLS, the watch's own budget).
async fn seed_big_namespaces(app: &TestApp, prefix: &str, count: usize) {
    let filler = "x".repeat(200 * 1024);
    for i in 0..count {
        let created = app
            .post(
                "/api/v1/namespaces",
                &json!({"metadata": {"name": format!("{prefix}-{i}"), "annotations": {"filler": filler}}}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    }
}

/// The `kubetrail_open_watches` gauge.
async fn open_watches(app: &TestApp) -> i64 {
    let metrics = app.get("/metrics").await.text;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("kubetrail_open_watches "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the open watches gauge")
}

/// A client of the test server that speaks HTTP/1.1 only, so a stalled response holds a
/// connection of its own.
fn http1_client(app: &TestApp) -> reqwest::Client {
    let ca = std::fs::read(app.dir.path().join("ca.crt")).expect("ca");
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("ca pem")])
        .http1_only()
        .build()
        .expect("client")
}

/// Open a watch and never read its body: the response is kept, unpolled.
async fn stalled_watch(app: &TestApp, client: &reqwest::Client, path: &str) -> reqwest::Response {
    let response = client
        .get(format!("{}{path}", app.url))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("watch opened");
    assert_eq!(response.status(), StatusCode::OK);
    response
}

/// Read a response to its end (or its connection's end), however that comes: the bytes read.
async fn read_to_end(mut response: reqwest::Response) -> usize {
    let mut read = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += chunk.len();
    }
    read
}

/// The lines of a watch response, read until it ends.
async fn watch_lines(app: &TestApp, path: &str) -> (Vec<Value>, Duration) {
    let started = Instant::now();
    let reply = tokio::time::timeout(Duration::from_secs(30), app.get(path))
        .await
        .expect("the watch ends");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let lines = reply
        .text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON watch event"))
        .collect();
    (lines, started.elapsed())
}

fn assert_too_large(status: &Value, requested: i64) {
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["code"], 504, "{status}");
    assert_eq!(status["reason"], "Timeout", "{status}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "Too large resource version: {requested}, current: "
        )),
        "{status}"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"], "ResourceVersionTooLarge",
        "{status}"
    );
    assert_eq!(
        status["details"]["causes"][0]["message"], "Too large resource version",
        "{status}"
    );
    assert_eq!(status["details"]["retryAfterSeconds"], 1, "{status}");
}

#[tokio::test]
async fn a_watcher_that_never_reads_is_ended_at_its_deadline() {
    let app = spawn_app().await;
    seed_big_namespaces(&app, "deadline", 120).await;
    let idle = open_watches(&app).await;
    let started = Instant::now();
    // One stalled watcher on HTTP/1.1 and one on HTTP/2.
    let http1 = http1_client(&app);
    let path = "/api/v1/namespaces?watch=true&timeoutSeconds=4";
    let stalled = [
        stalled_watch(&app, &http1, path).await,
        stalled_watch(&app, &app.client, path).await,
    ];
    assert!(
        eventually(Duration::from_secs(3), || async {
            open_watches(&app).await == idle + 2
        })
        .await,
        "both watches counted"
    );
    assert!(
        eventually(Duration::from_secs(15), || async {
            open_watches(&app).await == idle
        })
        .await,
        "the stalled watches end at their deadline"
    );
    // Ended near their 4 s deadline (with room for a busy machine), not at some later event.
    assert!(started.elapsed() < Duration::from_secs(20));
    // Their responses end too: the untaken rest is dropped, the HTTP/1 connection shut.
    for response in stalled {
        let _ = tokio::time::timeout(Duration::from_secs(20), read_to_end(response))
            .await
            .expect("the stalled response ends");
    }
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_watcher_whose_buffer_stays_full_is_ended_long_before_its_deadline() {
    let app = spawn_app_with(|settings| settings.watch_heartbeat = Duration::from_secs(1)).await;
    seed_big_namespaces(&app, "stall", 120).await;
    let idle = open_watches(&app).await;
    let started = Instant::now();
    let http1 = http1_client(&app);
    let _stalled = stalled_watch(
        &app,
        &http1,
        "/api/v1/namespaces?watch=true&timeoutSeconds=600",
    )
    .await;
    // More changes keep coming while the client reads nothing.
    seed_big_namespaces(&app, "stall-more", 10).await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            open_watches(&app).await == idle
        })
        .await,
        "the stalled watch is ended"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_stalled_log_entries_watch_is_dropped_after_its_deadline() {
    let app = spawn_app().await;
    let http1 = http1_client(&app);
    let opened = Instant::now();
    let stalled = stalled_watch(
        &app,
        &http1,
        "/apis/kubetrail.dev/v1alpha1/logentries?watch=true&resourceVersion=1&timeoutSeconds=2",
    )
    .await;
    let count = 100;
    seed_big_namespaces(&app, "entries", count).await;
    // Past the deadline and the grace its client had to take the rest.
    tokio::time::sleep(Duration::from_secs(9).saturating_sub(opened.elapsed())).await;
    let read = tokio::time::timeout(Duration::from_secs(30), read_to_end(stalled))
        .await
        .expect("the stalled log entries watch ends");
    // Only what was already on its way arrives: the rest was dropped, not kept for the
    // client, and the connection was shut.
    assert!(
        read < count * 200 * 1024,
        "{read} bytes arrived after the watch was over"
    );
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_watch_list_from_beyond_the_log_fails_after_a_wait() {
    let app = spawn_app().await;
    let beyond = app.latest_rv().await + 1000;
    let (lines, took) = watch_lines(
        &app,
        &format!("/api/v1/namespaces/default/pods?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion={beyond}"),
    )
    .await;
    assert!(took >= Duration::from_millis(2900), "waited {took:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["type"], "ERROR");
    assert_too_large(&lines[0]["object"], beyond);
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_watch_list_from_a_version_reached_within_the_wait_proceeds() {
    let app = spawn_app().await;
    let next = app.latest_rv().await + 1;
    let path = format!(
        "/api/v1/namespaces/default/pods?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersion={next}&timeoutSeconds=3"
    );
    let watch = app.get(&path);
    let write = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        app.create_pod("default", &crate::support::app::pod("soon"))
            .await
    };
    let (reply, created) = tokio::join!(watch, write);
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(reply.status, StatusCode::OK);
    let events: Vec<Value> = reply
        .text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(events[0]["type"], "ADDED", "{events:?}");
    assert_eq!(events[0]["object"]["metadata"]["name"], "soon");
    assert_eq!(
        events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_plain_watch_from_a_version_reached_within_the_wait_sends_only_what_comes_after_it() {
    let app = spawn_app().await;
    let from = app.latest_rv().await + 1;
    let path = format!(
        "/api/v1/namespaces/default/pods?watch=true&resourceVersion={from}&timeoutSeconds=3"
    );
    let watch = app.get(&path);
    let writes = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.create_pod("default", &crate::support::app::pod("at-the-version"))
            .await;
        app.create_pod("default", &crate::support::app::pod("after-it"))
            .await;
    };
    let (reply, ()) = tokio::join!(watch, writes);
    assert_eq!(reply.status, StatusCode::OK);
    let names: Vec<String> = reply
        .text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["object"]["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, ["after-it"]);
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_plain_watch_from_a_version_never_reached_is_a_timeout_after_a_wait() {
    let app = spawn_app().await;
    let beyond = app.latest_rv().await + 1000;
    let started = Instant::now();
    let reply = app
        .get(&format!(
            "/api/v1/namespaces/default/pods?watch=true&resourceVersion={beyond}"
        ))
        .await;
    assert_status(&reply, 504, "Timeout");
    assert!(started.elapsed() >= Duration::from_millis(2900));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_too_large(&reply.body, beyond);
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_get_or_list_beyond_the_log_is_a_timeout_after_a_wait() {
    let app = spawn_app().await;
    let beyond = app.latest_rv().await + 1000;
    for path in [
        format!("/api/v1/namespaces/default/pods?resourceVersion={beyond}"),
        format!("/api/v1/namespaces/default?resourceVersion={beyond}"),
        format!("/api/v1/pods?resourceVersion={}", i64::MAX),
    ] {
        let started = Instant::now();
        let reply = app.get(&path).await;
        assert_status(&reply, 504, "Timeout");
        assert!(started.elapsed() >= Duration::from_millis(2900), "{path}");
        let requested = path.rsplit('=').next().unwrap().parse().unwrap();
        assert_too_large(&reply.body, requested);
    }
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_list_at_a_version_reached_within_the_wait_is_served() {
    let app = spawn_app().await;
    let next = app.latest_rv().await + 1;
    let path = format!("/api/v1/namespaces/default/pods?resourceVersion={next}");
    let list = app.get(&path);
    let write = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        app.create_pod("default", &crate::support::app::pod("arrives"))
            .await
    };
    let (reply, _) = tokio::join!(list, write);
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(crate::support::app::names(&reply.body), ["arrives"]);
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn malformed_resource_versions_are_bad_requests() {
    let app = spawn_app().await;
    app.create_pod("default", &crate::support::app::pod("p"))
        .await;
    for rv in [
        "abc",
        "-1",
        "18446744073709551616",
        "9223372036854775808",
        "1e3",
        "0x10",
        "%20%205",
        "%E2%88%9E",
    ] {
        for path in [
            format!("/api/v1/namespaces/default/pods?resourceVersion={rv}"),
            format!("/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}"),
            format!("/api/v1/namespaces/default/pods/p?resourceVersion={rv}"),
        ] {
            let reply = app.get(&path).await;
            assert_status(&reply, 400, "BadRequest");
        }
    }
    assert_still_healthy(&app).await;
}

fn token(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn list_with_continue(app: &TestApp, path: &str, token: &str) -> Reply {
    app.send(
        app.request(Method::GET, path)
            .query(&[("limit", "1"), ("continue", token)]),
    )
    .await
}

#[tokio::test]
async fn forged_continue_tokens_are_bad_requests() {
    let app = spawn_app().await;
    for name in ["a", "b"] {
        app.create_pod("default", &crate::support::app::pod(name))
            .await;
    }
    let rv = app.latest_rv().await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let cases = [
        ("not base64", "!!!not-base64!!!".to_string()),
        ("base64 of garbage", b64(b"\x00\xff garbage")),
        ("base64 of a JSON string", b64(b"\"a\"")),
        (
            "Kubernetes' own token",
            token(&json!({"v": "meta.k8s.io/v1", "rv": rv, "start": "default/a\u{0}"})),
        ),
        (
            "no version",
            token(&json!({"rv": rv, "ns": "default", "name": "a"})),
        ),
        (
            "resourceVersion 0",
            token(&json!({"v": "kubetrail/v1", "rv": 0, "ns": "default", "name": "a"})),
        ),
        (
            "negative resourceVersion",
            token(&json!({"v": "kubetrail/v1", "rv": -5, "ns": "default", "name": "a"})),
        ),
        (
            "resourceVersion as text",
            token(&json!({"v": "kubetrail/v1", "rv": "5", "ns": "default", "name": "a"})),
        ),
        (
            "resourceVersion beyond 64 bits",
            b64(br#"{"v":"kubetrail/v1","rv":99999999999999999999999,"ns":"default","name":"a"}"#),
        ),
        (
            "empty start key",
            token(&json!({"v": "kubetrail/v1", "rv": rv, "ns": "default", "name": ""})),
        ),
        (
            "path traversal",
            token(
                &json!({"v": "kubetrail/v1", "rv": rv, "ns": "default", "name": "../../kube-system/x"}),
            ),
        ),
        (
            "control characters",
            token(&json!({"v": "kubetrail/v1", "rv": rv, "ns": "default", "name": "a\u{0}b"})),
        ),
        (
            "an overlong key",
            token(
                &json!({"v": "kubetrail/v1", "rv": rv, "ns": "default", "name": "n".repeat(5000)}),
            ),
        ),
        (
            "another namespace",
            token(&json!({"v": "kubetrail/v1", "rv": rv, "ns": "kube-system", "name": "a"})),
        ),
    ];
    for (why, token) in cases {
        let reply = list_with_continue(&app, "/api/v1/namespaces/default/pods", &token).await;
        assert_eq!(reply.status, 400, "{why}: {}", reply.text);
        assert_status(&reply, 400, "BadRequest");
    }
    // A cluster-scoped list refuses a token that names a namespace.
    let namespaced = token(&json!({"v": "kubetrail/v1", "rv": rv, "ns": "default", "name": "a"}));
    let reply = list_with_continue(&app, "/api/v1/namespaces", &namespaced).await;
    assert_status(&reply, 400, "BadRequest");
    // A resourceVersion beside a continue token is refused, as kube-apiserver refuses it.
    let genuine = app
        .get("/api/v1/namespaces/default/pods?limit=1")
        .await
        .body["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();
    let reply = app
        .send(
            app.request(Method::GET, "/api/v1/namespaces/default/pods")
                .query(&[("continue", genuine.as_str()), ("resourceVersion", "1")]),
        )
        .await;
    assert_status(&reply, 400, "BadRequest");
    // The genuine token still works.
    let reply = list_with_continue(&app, "/api/v1/namespaces/default/pods", &genuine).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(crate::support::app::names(&reply.body), ["b"]);
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn forged_log_continue_tokens_are_bad_requests() {
    let app = spawn_app().await;
    app.create_pod("default", &crate::support::app::pod("a"))
        .await;
    for path in [
        "/apis/kubetrail.dev/v1alpha1/logentries",
        "/apis/kubetrail.dev/v1alpha1/namespaces/default/history/pods/a",
    ] {
        for token in [
            "-1",
            "-9223372036854775808",
            "99999999999999999999",
            "abc",
            "%00",
        ] {
            let reply = app.get(&format!("{path}?limit=1&continue={token}")).await;
            assert_status(&reply, 400, "BadRequest");
        }
        // A token beyond the log is an empty page, not an error nor a wait.
        let reply = app
            .get(&format!("{path}?limit=1&continue={}", i64::MAX))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_continue_token_beyond_the_log_is_a_timeout() {
    let app = spawn_app().await;
    app.create_pod("default", &crate::support::app::pod("a"))
        .await;
    let beyond = app.latest_rv().await + 1_000_000;
    for exact in [false, true] {
        let mut forged = json!({"v": "kubetrail/v1", "rv": beyond, "ns": "default", "name": "a"});
        if exact {
            forged["exact"] = json!(true);
        }
        let reply =
            list_with_continue(&app, "/api/v1/namespaces/default/pods", &token(&forged)).await;
        assert_status(&reply, 504, "Timeout");
        assert_too_large(&reply.body, beyond);
    }
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn huge_and_negative_limits_are_clamped_or_refused() {
    let app = spawn_app().await;
    for name in ["a", "b", "c"] {
        app.create_pod("default", &crate::support::app::pod(name))
            .await;
    }
    for limit in [
        "-1",
        "0",
        "-9223372036854775808",
        "9223372036854775807",
        "99999999999",
    ] {
        let reply = app
            .get(&format!("/api/v1/namespaces/default/pods?limit={limit}"))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "limit={limit}: {}",
            reply.text
        );
        assert_eq!(crate::support::app::names(&reply.body), ["a", "b", "c"]);
    }
    for limit in ["99999999999999999999", "1.5", "ten"] {
        let reply = app
            .get(&format!("/api/v1/namespaces/default/pods?limit={limit}"))
            .await;
        assert_status(&reply, 400, "BadRequest");
    }
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn huge_and_negative_watch_timeouts_are_clamped_or_refused() {
    let app = spawn_app_with(|settings| settings.max_watch_timeout = Duration::from_secs(2)).await;
    for timeout in [
        "99999999999",
        "9223372036854775807",
        "-5",
        "-9223372036854775808",
    ] {
        for path in [
            format!("/api/v1/pods?watch=true&timeoutSeconds={timeout}"),
            format!("/apis/kubetrail.dev/v1alpha1/logentries?watch=true&timeoutSeconds={timeout}"),
        ] {
            let (_, took) = watch_lines(&app, &path).await;
            assert!(took < Duration::from_secs(6), "{path} took {took:?}");
        }
    }
    for timeout in ["99999999999999999999", "soon"] {
        let reply = app
            .get(&format!("/api/v1/pods?watch=true&timeoutSeconds={timeout}"))
            .await;
        assert_status(&reply, 400, "BadRequest");
    }
    assert_still_healthy(&app).await;
}

/// The request counter's series in the /metrics text.
fn request_series(metrics: &str) -> usize {
    metrics
        .lines()
        .filter(|l| l.starts_with("kubetrail_apiserver_requests_total{"))
        .count()
}

#[tokio::test]
async fn made_up_subresources_and_paths_add_no_metric_series() {
    let app = spawn_app().await;
    app.create_pod("default", &crate::support::app::pod("p"))
        .await;
    let made_up = |i: usize| {
        [
            format!("/api/v1/namespaces/default/pods/p/made-up-{i}"),
            format!("/api/v1/namespaces/default/pods/made-up-{i}/x-{i}"),
            format!("/apis/apps/v1/namespaces/default/replicasets/r/sub-{i}"),
            format!("/api/v1/made-up-{i}"),
            format!("/apis/made-up-{i}/v1/things"),
            format!("/apis/kubetrail.dev/v1alpha1/made-up-{i}"),
        ]
    };
    // Every shape once, so its series (if any) exists before counting.
    for path in made_up(0) {
        let reply = app.get(&path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
    }
    // /metrics counts itself: its own series exists from here on.
    app.get("/metrics").await;
    let before = app.get("/metrics").await.text;
    for i in 1..=200 {
        for path in made_up(i) {
            let reply = app.get(&path).await;
            assert_status(&reply, 404, "NotFound");
        }
    }
    let after = app.get("/metrics").await.text;
    assert_eq!(request_series(&after), request_series(&before), "{after}");
    assert!(!after.contains("made-up"), "no made-up name became a label");
    assert!(after.len() < before.len() + 4096);
    assert_still_healthy(&app).await;
}
