//! What every hostile case checks after its request: the server is still whole (a normal
//! write, `/readyz`, the test process's resident size), and the `Status` it answered.

use crate::support::app::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The test process (server included) stays below this resident size. A bomb that got
/// through would blow far past it; a healthy server under these tests sits well below.
pub const RSS_BOUND_BYTES: u64 = 1536 * 1024 * 1024;

static WRITES: AtomicUsize = AtomicUsize::new(0);

/// The resident set size of this process, from /proc.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// After a hostile request: a normal write succeeds, `/readyz` answers ok and memory stayed
/// bounded.
pub async fn assert_still_healthy(app: &TestApp) {
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let name = format!("after-hostile-{}-{n}", std::process::id());
    let created = app
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )
        .await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "a normal write after the hostile request: {}",
        created.text
    );
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "readyz: {}", ready.text);
    let rss = rss_bytes();
    assert!(
        rss < RSS_BOUND_BYTES,
        "resident size {} MiB is over the bound",
        rss / (1024 * 1024)
    );
}

/// Assert a Kubernetes `Status` with this code and reason.
#[track_caller]
pub fn assert_status(reply: &crate::support::app::Reply, code: u16, reason: &str) {
    assert_eq!(
        reply.status.as_u16(),
        code,
        "expected {code} {reason}, got: {}",
        reply.text
    );
    assert_eq!(
        reply.body["kind"], "Status",
        "a Status body: {}",
        reply.text
    );
    assert_eq!(reply.body["reason"], reason, "reason: {}", reply.text);
    assert_eq!(reply.body["code"], code, "code in body: {}", reply.text);
}
