//! What the log lets go of and what it costs: core/v1 Events expire after `--event-ttl`,
//! deleted by the `event-ttl-controller` (their history says so, with the reason), while an
//! Event written again in the meantime stays; `kubetrail status` reports the sizes, the kinds,
//! the resourceVersions kept and the server's memory.

use crate::support::app::spawn_app_with;
use crate::support::wait::until;
use serde_json::{Value, json};
use std::time::Duration;

fn event(name: &str, last: jiff::Timestamp) -> Value {
    let time = last.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
        "reason": "Tested", "message": "an event to expire", "type": "Normal",
        "firstTimestamp": time, "lastTimestamp": time, "count": 1,
    })
}

#[tokio::test]
async fn events_expire_after_the_ttl_as_deletions_by_the_event_ttl_controller() {
    let app = spawn_app_with(|s| {
        s.workers.controllers = true;
        s.workers.event_ttl = Duration::from_secs(20);
    })
    .await;
    let events = "/api/v1/namespaces/default/events";
    let now = jiff::Timestamp::now();
    // Its writer's own time is old; the server's write is what counts.
    let old = app
        .post(
            events,
            &event("old", now - jiff::SignedDuration::from_secs(3600)),
        )
        .await;
    assert_eq!(old.status, 201, "{}", old.text);
    let kept = app.post(events, &event("kept", now)).await;
    assert_eq!(kept.status, 201, "{}", kept.text);
    tokio::time::sleep(Duration::from_secs(12)).await;
    // Counted again: written anew, so it lives 20 s from now.
    let counted = app
        .patch(
            &format!("{events}/kept"),
            "application/merge-patch+json",
            &json!({"count": 2}),
        )
        .await;
    assert_eq!(counted.status, 200, "{}", counted.text);
    until(
        "the old Event to expire",
        Duration::from_secs(25),
        || async { app.get(&format!("{events}/old")).await.status == 404 },
    )
    .await;
    let all = app
        .get("/apis/kubetrail.dev/v1alpha1/logentries?kind=Event&includeObject=false")
        .await;
    assert_eq!(
        app.get(&format!("{events}/kept")).await.status,
        200,
        "{}",
        all.text
    );
    let entries = app
        .get("/apis/kubetrail.dev/v1alpha1/logentries?kind=Event&name=old")
        .await;
    let deleted = entries.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "Deleted")
        .cloned()
        .unwrap_or_else(|| panic!("a deletion: {}", entries.text));
    assert_eq!(deleted["actor"], "event-ttl-controller", "{deleted}");
    let reason = deleted["causes"][0]["reason"].as_str().unwrap_or("");
    assert!(
        reason.starts_with("Event old last written ")
            && reason.ends_with(": expired: older than the 20s event TTL"),
        "{reason}"
    );
}

#[tokio::test]
async fn status_reports_sizes_kinds_versions_and_the_servers_memory() {
    use crate::support::app::pod;
    use crate::support::binary::run as kubetrail;
    let app = spawn_app_with(|_| {}).await;
    for name in ["a", "b"] {
        let created = app.create_pod("default", &pod(name)).await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let data = app.dir.path().display().to_string();
    let (code, out, err) = kubetrail(&["status", "--data-dir", &data, "-o", "json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(out.trim()).expect("JSON");
    // This test's process is the server holding the directory.
    assert_eq!(report["server"]["pid"], std::process::id(), "{report}");
    assert!(
        report["server"]["rssAnonBytes"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    assert!(
        report["databaseBytes"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    assert_eq!(report["oldestResourceVersion"], 1, "{report}");
    let pods = report["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "Pod")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (pods["events"].as_i64(), pods["objects"].as_i64()),
        (Some(2), Some(2))
    );
    let (code, text, err) = kubetrail(&["status", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{text}{err}");
    assert!(text.contains("Server:          pid "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Pod", "2", "2"]),
        "{text}"
    );
    let dir = app.stop().await;
    let data = dir.path().display().to_string();
    let (code, text, err) = kubetrail(&["status", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{text}{err}");
    assert!(text.contains("Server:          not running"), "{text}");
}
