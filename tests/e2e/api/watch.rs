//! Watch: initial state, resume from any resourceVersion, filtering, timeouts, bookmarks, and
//! a slow watcher ended with a resumable error.

use crate::support::app::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;

struct WatchStream {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: Vec<u8>,
}

impl WatchStream {
    async fn open(app: &TestApp, path: &str) -> WatchStream {
        let response = app
            .client
            .get(format!("{}{path}", app.url))
            .bearer_auth(&app.token)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .expect("watch opens");
        assert_eq!(response.status(), 200);
        WatchStream {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
        }
    }

    /// The next watch event, skipping blank heartbeat lines; `None` when the stream ends.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        tokio::time::timeout(wait, async {
            loop {
                if let Some(pos) = self.buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.buffer.drain(..=pos).collect();
                    if line.iter().all(|b| b.is_ascii_whitespace()) {
                        continue;
                    }
                    return Some(serde_json::from_slice(&line).expect("a JSON watch event"));
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                    _ => return None,
                }
            }
        })
        .await
        .expect("watch event within the wait")
    }

    async fn expect(&mut self, kind: &str, name: &str) -> Value {
        let event = self.next(Duration::from_secs(10)).await.expect("an event");
        assert_eq!(event["type"], kind, "{event}");
        assert_eq!(event["object"]["metadata"]["name"], name, "{event}");
        event
    }
}

fn rv(v: &Value) -> i64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn watch_from_zero_sends_current_state_then_changes() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("a")).await;
    let mut watch = WatchStream::open(
        &app,
        "/api/v1/namespaces/default/pods?watch=true&resourceVersion=0",
    )
    .await;
    watch.expect("ADDED", "a").await;
    app.create_pod("default", &pod("b")).await;
    watch.expect("ADDED", "b").await;
    app.patch(
        "/api/v1/namespaces/default/pods/a",
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"x": "1"}}}),
    )
    .await;
    let modified = watch.expect("MODIFIED", "a").await;
    assert_eq!(modified["object"]["metadata"]["labels"]["x"], "1");
    let deleted = app.delete("/api/v1/namespaces/default/pods/b", None).await;
    assert_eq!(deleted.status, 200);
    let event = watch.expect("DELETED", "b").await;
    assert!(rv(&event["object"]) > rv(&modified["object"]));
}

#[tokio::test]
async fn watch_from_a_list_resource_version_sends_only_later_changes() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("a")).await;
    let list = app.get("/api/v1/namespaces/default/pods").await.body;
    let list_rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let mut watch = WatchStream::open(
        &app,
        &format!("/api/v1/namespaces/default/pods?watch=true&resourceVersion={list_rv}"),
    )
    .await;
    app.create_pod("default", &pod("b")).await;
    watch.expect("ADDED", "b").await;
}

#[tokio::test]
async fn resume_from_any_past_resource_version_replays_in_order_without_gaps() {
    let app = spawn_app().await;
    let mut versions = Vec::new();
    for i in 0..30 {
        versions.push(rv(&app
            .create_pod("default", &pod(&format!("p{i:02}")))
            .await
            .body));
    }
    for i in 0..10 {
        let r = app
            .patch(
                &format!("/api/v1/namespaces/default/pods/p{i:02}"),
                "application/merge-patch+json",
                &json!({"metadata": {"labels": {"round": "2"}}}),
            )
            .await;
        versions.push(rv(&r.body));
    }
    let from = versions[4];
    let mut watch = WatchStream::open(
        &app,
        &format!("/api/v1/namespaces/default/pods?watch=true&resourceVersion={from}"),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..35 {
        let event = watch
            .next(Duration::from_secs(10))
            .await
            .expect("replayed event");
        seen.push(rv(&event["object"]));
    }
    assert_eq!(seen, versions[5..].to_vec());
    // Live events follow the replay with nothing in between lost or repeated.
    let live = rv(&app.create_pod("default", &pod("live")).await.body);
    let event = watch.expect("ADDED", "live").await;
    assert_eq!(rv(&event["object"]), live);
}

#[tokio::test]
async fn filtered_watch_turns_relabelling_into_added_and_deleted() {
    let app = spawn_app().await;
    app.create_pod("default", &pod_labelled("a", json!({"app": "web"})))
        .await;
    let mut watch = WatchStream::open(
        &app,
        "/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dweb",
    )
    .await;
    watch.expect("ADDED", "a").await;
    app.create_pod("default", &pod_labelled("other", json!({"app": "db"})))
        .await;
    let path = "/api/v1/namespaces/default/pods/a";
    app.patch(
        path,
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"app": "db"}}}),
    )
    .await;
    watch.expect("DELETED", "a").await;
    app.patch(
        path,
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"app": "web"}}}),
    )
    .await;
    watch.expect("ADDED", "a").await;
}

#[tokio::test]
async fn field_selector_watch_like_kubectl_delete_waits() {
    let app = spawn_app().await;
    let mut bound = pod("target");
    bound["spec"]["nodeName"] = json!("node-1");
    let created = app.create_pod("default", &bound).await.body;
    app.create_pod("default", &pod("noise")).await;
    let mut watch = WatchStream::open(
        &app,
        &format!("/api/v1/namespaces/default/pods?watch=true&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dtarget&resourceVersion={}&timeoutSeconds=30", rv(&created)),
    )
    .await;
    app.delete("/api/v1/namespaces/default/pods/target", None)
        .await;
    let pending = watch.expect("MODIFIED", "target").await;
    assert!(pending["object"]["metadata"]["deletionTimestamp"].is_string());
    app.delete("/api/v1/namespaces/default/pods/noise", None)
        .await;
    app.delete(
        "/api/v1/namespaces/default/pods/target",
        Some(&json!({"gracePeriodSeconds": 0})),
    )
    .await;
    watch.expect("DELETED", "target").await;
}

#[tokio::test]
async fn timeout_seconds_ends_the_stream() {
    let app = spawn_app().await;
    let mut watch = WatchStream::open(
        &app,
        "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1",
    )
    .await;
    let started = std::time::Instant::now();
    assert!(watch.next(Duration::from_secs(10)).await.is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn bookmarks_carry_the_current_resource_version() {
    let app = spawn_app_with(|s| s.watch_heartbeat = Duration::from_millis(200)).await;
    let latest = app.latest_rv().await;
    let mut watch = WatchStream::open(
        &app,
        &format!("/api/v1/pods?watch=true&allowWatchBookmarks=true&resourceVersion={latest}"),
    )
    .await;
    let event = watch.next(Duration::from_secs(5)).await.expect("bookmark");
    assert_eq!(event["type"], "BOOKMARK");
    assert_eq!(event["object"]["kind"], "Pod");
    assert_eq!(event["object"]["apiVersion"], "v1");
    assert_eq!(rv(&event["object"]), latest);
}

#[tokio::test]
async fn a_watcher_that_falls_behind_is_ended_with_a_resumable_error() {
    let app = spawn_app_with(|s| s.watch_buffer = 16).await;
    let from = app.latest_rv().await;
    let mut watch = WatchStream::open(
        &app,
        &format!("/api/v1/pods?watch=true&resourceVersion={from}"),
    )
    .await;
    // The client reads nothing while thousands of events are committed.
    let big = "x".repeat(4000);
    let creates = futures_util::stream::iter(0..1500)
        .map(|i| {
            let mut p = pod(&format!("p{i:04}"));
            p["metadata"]["annotations"] = json!({"pad": big});
            let app = &app;
            async move { app.create_pod("default", &p).await.status }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(creates.iter().all(|s| *s == 201));
    let mut last = from;
    let mut ended_with = None;
    while let Some(event) = watch.next(Duration::from_secs(30)).await {
        if event["type"] == "ERROR" {
            ended_with = Some(event);
            break;
        }
        let seq = rv(&event["object"]);
        assert_eq!(seq, last + 1, "delivered in order without gaps");
        last = seq;
    }
    let error = ended_with.expect("the slow watch ends with an ERROR event");
    assert_eq!(error["object"]["code"], 410);
    assert_eq!(error["object"]["reason"], "Expired");
    // Resuming from the last delivered version replays exactly what was missed.
    let mut resumed = WatchStream::open(
        &app,
        &format!("/api/v1/pods?watch=true&resourceVersion={last}"),
    )
    .await;
    let next = resumed
        .next(Duration::from_secs(10))
        .await
        .expect("the next event");
    assert_eq!(rv(&next["object"]), last + 1);
}

#[tokio::test]
async fn watch_list_sends_initial_state_then_an_end_bookmark() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("a")).await;
    app.create_pod("default", &pod("b")).await;
    let mut watch = WatchStream::open(
        &app,
        "/api/v1/namespaces/default/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
    )
    .await;
    watch.expect("ADDED", "a").await;
    watch.expect("ADDED", "b").await;
    let end = watch.next(Duration::from_secs(5)).await.expect("bookmark");
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(rv(&end["object"]), app.latest_rv().await);
    app.create_pod("default", &pod("c")).await;
    watch.expect("ADDED", "c").await;
}
