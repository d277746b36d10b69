//! What the log lets go of and what it costs: core/v1 Events expire after `--event-ttl`,
//! deleted by the `event-ttl-controller` (their history says so, with the reason), while an
//! Event written again in the meantime stays; `kubetrail status` reports the sizes, the kinds,
//! the resourceVersions kept and the server's memory; `kubetrail compact` beside a running
//! server folds Events and status updates before a point, keeps what a person wrote, shrinks
//! the database, and lists and watches before the point answer 410 Expired.

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

#[tokio::test]
async fn compact_beside_a_running_server_folds_events_and_status_updates_and_keeps_what_people_wrote()
 {
    use crate::support::binary::{assert_verify_clean, run as kubetrail};
    let app = spawn_app_with(|_| {}).await;
    let data = app.dir.path().display().to_string();
    let pods = "/api/v1/namespaces/default/pods";
    let created = app
        .create_pod("default", &crate::support::app::pod("web"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let configmaps = "/api/v1/namespaces/default/configmaps";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings"}, "data": {"mode": "one"}});
    assert_eq!(app.post(configmaps, &cm).await.status, 201);
    let before_all = app.latest_rv().await;
    // Events written again and again (large enough that their versions fill pages), some
    // deleted; the pod's status updated between them; the ConfigMap changed by a person.
    let events = "/api/v1/namespaces/default/events";
    let now = jiff::Timestamp::now();
    for i in 0..24 {
        let name = format!("ev{i:02}");
        let reply = app.post(events, &event(&name, now)).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        for count in 2..6 {
            let patched = app
                .patch(
                    &format!("{events}/{name}"),
                    "application/merge-patch+json",
                    &json!({"count": count, "message": "x".repeat(8_000 + count as usize)}),
                )
                .await;
            assert_eq!(patched.status, 200, "{}", patched.text);
        }
        if i % 4 == 0 {
            assert_eq!(
                app.delete(&format!("{events}/{name}"), None).await.status,
                200
            );
        }
        let status = app
            .patch(
                &format!("{pods}/web/status"),
                "application/merge-patch+json",
                &json!({"status": {"message": format!("pass {i}")}}),
            )
            .await;
        assert_eq!(status.status, 200, "{}", status.text);
    }
    let changed = app
        .patch(
            &format!("{configmaps}/settings"),
            "application/merge-patch+json",
            &json!({"data": {"mode": "two"}}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let point = app.latest_rv().await;
    let pods_at_point = app
        .get(&format!(
            "{pods}?resourceVersion={point}&resourceVersionMatch=Exact"
        ))
        .await;
    assert_eq!(pods_at_point.status, 200, "{}", pods_at_point.text);
    // After the point: the log goes on.
    let later = app
        .patch(
            &format!("{configmaps}/settings"),
            "application/merge-patch+json",
            &json!({"data": {"mode": "three"}}),
        )
        .await;
    assert_eq!(later.status, 200, "{}", later.text);

    let through = point.to_string();
    let (code, out, err) = kubetrail(&[
        "compact",
        "--data-dir",
        &data,
        "--through-resource-version",
        &through,
        "-o",
        "json",
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(report["compactionResourceVersion"], point, "{report}");
    // 24 Events × 4 superseded versions, the 6 deleted ones' last two events, 23 status updates.
    assert_eq!(report["eventsRemoved"], 24 * 4 + 6 * 2 + 23, "{report}");
    let (before, after) = (
        report["databaseBytesBefore"].as_i64().unwrap_or(0),
        report["databaseBytesAfter"].as_i64().unwrap_or(0),
    );
    assert!(after < before - 500_000, "the database shrinks: {report}");

    // The log is still the projections' source.
    assert_verify_clean(app.dir.path());
    // Lists and watches at a resourceVersion before the point: 410 Expired, as
    // kube-apiserver answers a compacted one; at the point and after: served.
    let expired = app
        .get(&format!(
            "{pods}?resourceVersion={before_all}&resourceVersionMatch=Exact"
        ))
        .await;
    assert_eq!(expired.status, 410, "{}", expired.text);
    assert_eq!(expired.body["reason"], "Expired");
    assert_eq!(
        expired.body["message"],
        "The resourceVersion for the provided list is too old."
    );
    let same = app
        .get(&format!(
            "{pods}?resourceVersion={point}&resourceVersionMatch=Exact"
        ))
        .await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(same.body["items"], pods_at_point.body["items"]);
    let watch = app
        .get(&format!(
            "{pods}?watch=true&resourceVersion={before_all}&timeoutSeconds=5"
        ))
        .await;
    assert_eq!(watch.body["type"], "ERROR", "{}", watch.text);
    assert_eq!(watch.body["object"]["code"], 410, "{}", watch.text);

    // What the person wrote is all there; the pod's history says where it was folded.
    let (code, text, err) = kubetrail(&[
        "history",
        "configmap/settings",
        "--data-dir",
        &data,
        "--color",
        "never",
    ])
    .await;
    assert_eq!(code, 0, "{text}{err}");
    assert!(
        text.contains("data.mode: one -> two") && text.contains("data.mode: two -> three"),
        "{text}"
    );
    assert!(!text.contains("history before resourceVersion"), "{text}");
    let (code, text, err) = kubetrail(&[
        "history",
        "pod/web",
        "--data-dir",
        &data,
        "--color",
        "never",
    ])
    .await;
    assert_eq!(code, 0, "{text}{err}");
    assert!(
        text.contains(&format!("history before resourceVersion {point} compacted")),
        "{text}"
    );
    // The HTTP views say it too.
    let history = app
        .get("/apis/kubetrail.dev/v1alpha1/namespaces/default/history/pods/web")
        .await;
    assert_eq!(history.status, 200, "{}", history.text);
    let mark = &history.body["metadata"]["compaction"];
    assert_eq!(mark["resourceVersion"], through, "{}", history.text);
    assert!(
        mark["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("history before resourceVersion {point}"))),
        "{mark}"
    );
    let entries = app
        .get("/apis/kubetrail.dev/v1alpha1/logentries?kind=ConfigMap&includeObject=false")
        .await;
    assert_eq!(entries.status, 200, "{}", entries.text);
    assert_eq!(entries.body["metadata"]["compaction"], *mark);
    let why = app
        .get("/apis/kubetrail.dev/v1alpha1/namespaces/default/why/pods/web")
        .await;
    assert_eq!(why.status, 200, "{}", why.text);
    assert_eq!(why.body["compaction"], *mark);
    let (code, out, err) = kubetrail(&["status", "--data-dir", &data, "-o", "json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let status: Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(status["compactionResourceVersion"], point, "{status}");
    let metrics = app.get("/metrics").await;
    assert!(
        metrics.text.contains(&format!(
            "kubetrail_event_log_compaction_resource_version {point}"
        )),
        "{}",
        metrics.text
    );
    // A replay to before the point is refused; a rebuild of the stopped server's directory
    // gives the projections it served.
    let into = app.dir.path().join("replayed");
    let early = before_all.to_string();
    let (code, _, err) = kubetrail(&[
        "replay",
        "--data-dir",
        &data,
        "--until",
        &early,
        "--into",
        &into.display().to_string(),
    ])
    .await;
    assert_ne!(code, 0);
    assert!(err.contains("compaction point"), "{err}");
    let dir = app.stop().await;
    let data = dir.path().display().to_string();
    let digests = || async {
        let (code, out, err) = kubetrail(&["verify", "--data-dir", &data, "-o", "json"]).await;
        assert_eq!(code, 0, "{out}{err}");
        serde_json::from_str::<Value>(out.trim()).expect("JSON")
    };
    let served = digests().await;
    let (code, out, err) = kubetrail(&["rebuild", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(digests().await, served);
}
