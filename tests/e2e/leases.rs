//! coordination.k8s.io/v1 Leases and the node heartbeats kept in them: a Lease through real
//! kubectl (create, get with its HOLDER column, `get leases -A` with a field selector,
//! `-o yaml`, a refused spec, a patch a watch sees, delete); a simulated node whose Lease
//! renewals keep it Ready while its Node object is not rewritten for several grace periods,
//! made Unknown (NotReady, tainted unreachable) once its kubelet stops, with `why` naming the
//! Lease, and written Ready again at once when the kubelet comes back; a kubelet in another
//! process killed, its stale Lease the primary cause of the node going Unknown, the decision
//! reproduced by `replay --check-workers`, and the Lease collected with its Node.

use crate::support::app::{TestApp, start_with_workers};
use crate::support::binary::{kubetrail, run};
use crate::support::internals::{DEFAULT_EVENT_TTL, NodeTiming, check, controllers, store};
use crate::support::wait::until;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";

/// The whitespace-separated cells of each line of `out` (the header first).
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn rv(object: &Value) -> i64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ready(node: &Value) -> String {
    node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}

fn tainted_unreachable(node: &Value) -> bool {
    node["spec"]["taints"].as_array().is_some_and(|taints| {
        taints
            .iter()
            .any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["effect"] == "NoExecute")
    })
}

/// What `get` gives, once it gives something (polled by `until`, at most `WAIT`).
async fn found<F, Fut>(what: &str, mut get: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let cell = std::cell::RefCell::new(Value::Null);
    let slot = &cell;
    until(what, WAIT, || {
        let next = get();
        async move {
            match next.await {
                Some(value) => {
                    *slot.borrow_mut() = value;
                    true
                }
                None => false,
            }
        }
    })
    .await;
    cell.into_inner()
}

/// The node's Lease once its kubelet has made it.
async fn lease_of(app: &TestApp, node: &str) -> Value {
    found("the node's Lease", || async {
        let reply = app.get(&format!("{LEASES}/{node}")).await;
        (reply.status == 200).then_some(reply.body)
    })
    .await
}

/// The newest log entry of the node lifecycle controller's `type` about `node`.
async fn lifecycle_entry(app: &TestApp, node: &str, event_type: &str) -> Value {
    found("the node lifecycle controller's write", || async {
        let reply = app
            .get(&format!(
                "/apis/kubetrail.dev/v1alpha1/logentries?includeObject=false&kind=Node&name={node}\
                 &actor=node-lifecycle-controller&type={event_type}"
            ))
            .await;
        reply.body["items"]
            .as_array()
            .and_then(|items| items.last())
            .cloned()
    })
    .await
}

/// `why` of the log entry `entry` (of a Node).
async fn why(app: &TestApp, node: &str, entry: &Value) -> Value {
    let reply = app
        .get(&format!(
            "/apis/kubetrail.dev/v1alpha1/why/nodes/{node}?resourceVersion={}",
            rv(entry)
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

fn explanation(body: &Value) -> String {
    body["explanation"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_lease_through_kubectl() {
    let c = start_with_workers(tempfile::tempdir().expect("data dir"), |_| {}).await;
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "lock", "namespace": "default"},
        "spec": {"holderIdentity": "holder-a", "leaseDurationSeconds": 15,
                 "renewTime": "2026-01-01T00:00:00.123456Z"}});
    let created = c
        .kubectl
        .run_with_input(&["create", "-f", "-"], Some(lease.to_string().as_bytes()))
        .await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let table = rows(&c.kubectl.ok(&["get", "lease", "lock"]).await);
    assert_eq!(table[0], ["NAME", "HOLDER", "AGE"]);
    assert_eq!(table[1][..2], ["lock", "holder-a"]);
    let all = rows(&c.kubectl.ok(&["get", "leases", "-A"]).await);
    assert_eq!(all[0], ["NAMESPACE", "NAME", "HOLDER", "AGE"]);
    assert!(
        all.iter()
            .any(|r| r[..3] == ["default", "lock", "holder-a"]),
        "{all:?}"
    );
    let yaml = c.kubectl.ok(&["get", "lease", "lock", "-o", "yaml"]).await;
    for line in [
        "apiVersion: coordination.k8s.io/v1",
        "kind: Lease",
        "holderIdentity: holder-a",
        "leaseDurationSeconds: 15",
        "renewTime: \"2026-01-01T00:00:00.123456Z\"",
    ] {
        assert!(yaml.contains(line), "{line} in\n{yaml}");
    }
    // kube-apiserver's 422, and nothing written.
    let bad = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"leaseDurationSeconds": 0}});
    let refused = c
        .kubectl
        .run_with_input(&["create", "-f", "-"], Some(bad.to_string().as_bytes()))
        .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"),
        "{stderr}"
    );
    let selected = rows(
        &c.kubectl
            .ok(&[
                "get",
                "leases",
                "-A",
                "--field-selector",
                "metadata.name=lock",
            ])
            .await,
    );
    assert_eq!(selected.len(), 2, "{selected:?}");
    let created_rv = c
        .get("/apis/coordination.k8s.io/v1/namespaces/default/leases/lock")
        .await
        .body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let renewed = c
        .kubectl
        .ok(&[
            "patch",
            "lease",
            "lock",
            "--type=merge",
            "-p",
            r#"{"spec":{"renewTime":"2026-01-01T00:00:10.000000Z"}}"#,
        ])
        .await;
    assert!(renewed.contains("patched"), "{renewed}");
    // A watch from the created version sees the renewal.
    let watched = c
        .send(
            c.request(
                reqwest::Method::GET,
                "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            )
            .query(&[
                ("watch", "true"),
                ("resourceVersion", created_rv.as_str()),
                ("timeoutSeconds", "1"),
            ]),
        )
        .await;
    assert!(
        watched.text.contains(r#""type":"MODIFIED""#)
            && watched.text.contains("2026-01-01T00:00:10.000000Z"),
        "{}",
        watched.text
    );
    let deleted = c.kubectl.ok(&["delete", "lease", "lock"]).await;
    assert!(deleted.contains("deleted"), "{deleted}");
    let gone = c.kubectl.run(&["get", "lease", "lock"]).await;
    assert!(!gone.status.success());
}

#[tokio::test]
async fn renewals_keep_a_node_ready_and_a_silent_kubelet_makes_it_unknown() {
    let grace = Duration::from_secs(2);
    let app = start_with_workers(tempfile::tempdir().expect("data dir"), |s| {
        s.workers.simulated_nodes = 1;
        s.workers.simulated_start_delay = Duration::from_millis(50);
        s.workers.node_lifecycle.heartbeat = Duration::from_millis(300);
        s.workers.node_lifecycle.grace = grace;
    })
    .await;
    let name = "sim-node-000";
    let lease = lease_of(&app, name).await;
    let node = app.get(&format!("/api/v1/nodes/{name}")).await.body;
    assert_eq!(lease["spec"]["holderIdentity"], name);
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 2);
    assert_eq!(
        lease["metadata"]["ownerReferences"],
        json!([{"apiVersion": "v1", "kind": "Node", "name": name,
                "uid": node["metadata"]["uid"]}])
    );
    let yaml = app
        .kubectl
        .ok(&["get", "lease", "-n", "kube-node-lease", name, "-o", "yaml"])
        .await;
    assert!(yaml.contains(&format!("holderIdentity: {name}")), "{yaml}");
    let listed = rows(&app.kubectl.ok(&["get", "leases", "-A"]).await);
    assert!(
        listed
            .iter()
            .any(|r| r[..3] == ["kube-node-lease", name, name]),
        "{listed:?}"
    );

    // Three grace periods: the Lease is renewed, the Node is not rewritten, and stays Ready.
    let before = app.get(&format!("/api/v1/nodes/{name}")).await.body;
    assert_eq!(ready(&before), "True");
    tokio::time::sleep(grace * 3).await;
    let after = app.get(&format!("/api/v1/nodes/{name}")).await.body;
    assert_eq!(rv(&after), rv(&before), "the Node was rewritten: {after:#}");
    assert_eq!(ready(&after), "True");
    let renewed = app.get(&format!("{LEASES}/{name}")).await.body;
    assert!(rv(&renewed) > rv(&lease), "{renewed:#}");
    let renewals = app
        .get(&format!(
            "/apis/kubetrail.dev/v1alpha1/logentries?includeObject=false&kind=Lease&name={name}\
             &fromResourceVersion={}",
            rv(&before)
        ))
        .await
        .body;
    let count = renewals["items"].as_array().map_or(0, Vec::len);
    assert!(count >= 10, "{count} renewals in {grace:?} x 3");

    // Its kubelet stops (the node paused): Ready=Unknown, NotReady, tainted unreachable.
    let paused = app
        .patch(
            &format!("/api/v1/nodes/{name}"),
            "application/merge-patch+json",
            &json!({"metadata": {"annotations": {"kubetrail.dev/paused": "true"}}}),
        )
        .await;
    assert_eq!(paused.status, 200, "{}", paused.text);
    until("the node Unknown and tainted", WAIT, || async {
        let node = app.get(&format!("/api/v1/nodes/{name}")).await.body;
        ready(&node) == "Unknown" && tainted_unreachable(&node)
    })
    .await;
    let table = rows(&app.kubectl.ok(&["get", "node", name]).await);
    assert_eq!(table[1][..2], [name, "NotReady"]);
    let unknown = lifecycle_entry(&app, name, "StatusUpdated").await;
    let body = why(&app, name, &unknown).await;
    let text = explanation(&body);
    assert!(
        text.contains(&format!("node {name}'s lease was last renewed")),
        "{text}"
    );
    assert!(text.contains("(grace 2s)"), "{text}");

    // The kubelet is back: it writes Ready at once (a change), and the taint goes.
    let resumed = app
        .patch(
            &format!("/api/v1/nodes/{name}"),
            "application/merge-patch+json",
            &json!({"metadata": {"annotations": {"kubetrail.dev/paused": "false"}}}),
        )
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    until("the node Ready again, untainted", WAIT, || async {
        let node = app.get(&format!("/api/v1/nodes/{name}")).await.body;
        ready(&node) == "True" && !tainted_unreachable(&node)
    })
    .await;
    let written = app
        .get(&format!(
            "/apis/kubetrail.dev/v1alpha1/logentries?includeObject=false&kind=Node&name={name}\
             &actor=kubelet/{name}&type=StatusUpdated&fromResourceVersion={}",
            rv(&unknown)
        ))
        .await
        .body;
    let first = &written["items"][0];
    assert!(
        first["causes"]
            .to_string()
            .contains("differs from its kubelet's"),
        "{written:#}"
    );
}

#[tokio::test]
async fn a_dead_kubelet_s_stale_lease_is_why_its_node_goes_unknown() {
    // A separate kubelet renews every 10 s (kubelet's period): a grace of 15 s keeps it Ready
    // between renewals and notices it dead soon after.
    let app = start_with_workers(tempfile::tempdir().expect("data dir"), |s| {
        s.workers.node_lifecycle.grace = Duration::from_secs(15);
    })
    .await;
    let name = "remote-lease";
    let mut kubelet = kubetrail(&["kubelet", "--simulated", "--node-name", name])
        .arg("--kubeconfig")
        .arg(&app.kubectl.kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the kubelet starts");
    let first = lease_of(&app, name).await;
    until("a renewal", WAIT, || async {
        rv(&app.get(&format!("{LEASES}/{name}")).await.body) > rv(&first)
    })
    .await;
    let _ = kubelet.kill();
    let _ = kubelet.wait();
    until("the node Unknown", Duration::from_secs(60), || async {
        ready(&app.get(&format!("/api/v1/nodes/{name}")).await.body) == "Unknown"
    })
    .await;
    let unknown = lifecycle_entry(&app, name, "StatusUpdated").await;
    let last_renewal = app.get(&format!("{LEASES}/{name}")).await.body;
    let body = why(&app, name, &unknown).await;
    let primary = body["chain"][0]["causes"][0].clone();
    assert_eq!(
        primary["resourceVersion"].as_str().unwrap_or(""),
        rv(&last_renewal).to_string(),
        "{}",
        explanation(&body)
    );
    let reason = primary["reason"].as_str().unwrap_or("");
    assert!(
        reason.starts_with(&format!("node {name}'s lease was last renewed"))
            && reason.ends_with("(grace 15s): Ready=Unknown"),
        "{reason}"
    );
    assert_eq!(
        body["chain"][1]["involvedObject"]["kind"],
        "Lease",
        "{}",
        explanation(&body)
    );
    // A separate kubelet writes with the kubeconfig's credentials, naming itself as the agent.
    assert_eq!(body["chain"][1]["userAgent"], format!("kubelet/{name}"));

    // The Lease goes with its Node.
    let deleted = app.delete(&format!("/api/v1/nodes/{name}"), None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    until("the Lease collected", WAIT, || async {
        app.get(&format!("{LEASES}/{name}")).await.status == 404
    })
    .await;

    // `replay --check-workers` makes the recorded decisions again: none differs. Run with the
    // grace period the server had, the controllers reproduce every one, Ready=Unknown included.
    let dir = app.stop().await;
    let data = dir.path().display().to_string();
    let (code, out, err) = run(&["replay", "--check-workers", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": 0 differ"), "{out}");
    let pool = store::open_readers(&dir.path().join("state.db"))
        .await
        .expect("readers");
    let timing = NodeTiming {
        grace: Duration::from_secs(15),
        ..NodeTiming::default()
    };
    let report = check::check_workers(&pool, &controllers(timing, DEFAULT_EVENT_TTL))
        .await
        .expect("check");
    assert!(report.differences.is_empty(), "{:#?}", report.lines());
    assert_eq!(report.skipped, 0, "{:#?}", report.lines());
}
