//! `why` names the true cause: a table of scenarios, each run through the API on simulated
//! nodes, each asserting the whole chain from the change asked about back to the person's
//! request that started it, with the intermediate steps and what about the first cause
//! mattered. The scenarios share one cluster, each in a namespace of its own; the one that
//! pauses a node runs last. (Liveness and exit restarts, which need containers, are in
//! `docker::`.)

use crate::support::app::*;
use crate::support::binary::run as kubetrail;
use crate::support::http::why_links;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// The person: the test client sends the server's token, which authenticates this user.
const PERSON: &str = "kubetrail-admin";
const RS: &str = "replicaset-controller";

fn with_workers(s: &mut crate::support::internals::Settings) {
    s.workers.controllers = true;
    s.workers.simulated_nodes = 2;
    s.workers.simulated_start_delay = Duration::from_millis(50);
    s.workers.node_lifecycle.heartbeat = Duration::from_millis(300);
    s.workers.node_lifecycle.grace = Duration::from_secs(2);
}

async fn cluster() -> TestApp {
    spawn_app_with(with_workers).await
}

/// A ReplicaSet `name` of `replicas` pods labelled `app=<name>`, tolerating an unreachable
/// node for 1 s.
fn rs_of(name: &str, replicas: i64) -> Value {
    let mut rs = replicaset(name, replicas);
    rs["spec"]["template"]["spec"]["tolerations"] = json!([
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1},
    ]);
    rs
}

async fn namespace(app: &TestApp, name: &str) {
    let reply = app
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

/// A namespace `ns` with a ReplicaSet `name` of `replicas` running pods: their names.
async fn replicaset_in(app: &TestApp, ns: &str, name: &str, replicas: usize) -> Vec<String> {
    namespace(app, ns).await;
    let created = app
        .post(
            &format!("/apis/apps/v1/namespaces/{ns}/replicasets"),
            &rs_of(name, replicas as i64),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    running(app, ns, &format!("app={name}"), replicas).await
}

async fn pods(app: &TestApp, ns: &str, selector: &str) -> Vec<Value> {
    let reply = app
        .send(
            app.request(
                reqwest::Method::GET,
                &format!("/api/v1/namespaces/{ns}/pods"),
            )
            .query(&[("labelSelector", selector)]),
        )
        .await;
    reply.body["items"].as_array().cloned().unwrap_or_default()
}

fn active(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
}

fn name_of(object: &Value) -> String {
    object["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The names of the active pods of `selector` once there are `count`, all running.
async fn running(app: &TestApp, ns: &str, selector: &str, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let all: Vec<Value> = pods(app, ns, selector)
            .await
            .into_iter()
            .filter(active)
            .collect();
        if all.len() == count && all.iter().all(|p| p["status"]["phase"] == "Running") {
            let mut names: Vec<String> = all.iter().map(name_of).collect();
            names.sort();
            return names;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} running pods {selector} in {ns}: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first log entry matching `query` after seq `after`, once there is one.
async fn first_after(app: &TestApp, query: &str, after: i64) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = entries(app, query)
            .await
            .into_iter()
            .find(|e| rv(e) > after)
        {
            return found;
        }
        if tokio::time::Instant::now() > deadline {
            let namespace = query
                .split('&')
                .find(|p| p.starts_with("namespace="))
                .unwrap_or("");
            let recent: Vec<String> = entries(app, namespace)
                .await
                .iter()
                .rev()
                .take(30)
                .map(|e| {
                    format!(
                        "{} {} {}/{} {} by {}",
                        rv(e),
                        e["involvedObject"]["kind"],
                        e["involvedObject"]["namespace"],
                        e["involvedObject"]["name"],
                        e["type"],
                        e["actor"]
                    )
                })
                .collect();
            panic!(
                "no log entry {query} after {after}; the newest:\n{}",
                recent.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The log's entries matching `query` (`kind=Pod&name=x&type=Created`), oldest first.
async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let reply = app
        .get(&format!(
            "/apis/kubetrail.dev/v1alpha1/logentries?includeObject=false&{query}"
        ))
        .await;
    reply.body["items"].as_array().cloned().unwrap_or_default()
}

fn rv(entry: &Value) -> i64 {
    entry["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The `why` of the event `seq` of `resource/name` in `ns`: each link as
/// `Kind name: Type by actor`, and the reason its effect recorded for the first cause.
async fn why(
    app: &TestApp,
    ns: &str,
    resource: &str,
    name: &str,
    seq: i64,
) -> (Vec<String>, Value) {
    let reply = app
        .get(&format!(
            "/apis/kubetrail.dev/v1alpha1/namespaces/{ns}/why/{resource}/{name}?resourceVersion={seq}"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let links = why_links(&reply.body);
    (links, reply.body)
}

/// The reason the chain's first link recorded for its primary cause.
fn first_reason(body: &Value) -> String {
    body["chain"][0]["causes"][0]["reason"]
        .as_str()
        .unwrap_or("")
        .to_string()
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

/// Assert the chain is `expected` and ends at the person's request.
fn assert_chain(scenario: &str, (links, body): &(Vec<String>, Value), expected: &[String]) {
    assert_eq!(
        links,
        expected,
        "{scenario}: the chain\n{}",
        explanation(body)
    );
    assert_eq!(
        body["origin"]["person"],
        true,
        "{scenario}: {}",
        explanation(body)
    );
    assert_eq!(body["origin"]["actor"], PERSON, "{scenario}");
}

/// The one pod created by the ReplicaSet controller in `ns` after `after`.
async fn created_after(app: &TestApp, ns: &str, after: i64) -> (String, i64) {
    let query = format!("kind=Pod&namespace={ns}&type=Created&actor={RS}");
    let created = first_after(app, &query, after).await;
    (
        created["involvedObject"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        rv(&created),
    )
}

async fn scale_up(app: &TestApp) {
    let ns = "scale-up";
    replicaset_in(app, ns, "web", 1).await;
    let scaled = app
        .patch(
            &format!("/apis/apps/v1/namespaces/{ns}/replicasets/web/scale"),
            "application/merge-patch+json",
            &json!({"spec": {"replicas": 2}}),
        )
        .await;
    assert_eq!(scaled.status, 200, "{}", scaled.text);
    let at = entries(
        app,
        &format!("kind=ReplicaSet&namespace={ns}&name=web&type=Scaled"),
    )
    .await
    .last()
    .map(rv)
    .unwrap_or(0);
    let (pod, seq) = created_after(app, ns, at).await;
    let chain = why(app, ns, "pods", &pod, seq).await;
    assert_chain(
        "scale up",
        &chain,
        &[
            format!("Pod {pod}: Created by {RS}"),
            format!("ReplicaSet web: Scaled by {PERSON}"),
        ],
    );
    assert_eq!(
        first_reason(&chain.1),
        "ReplicaSet web wants 2 pods: 1 of 2 pods"
    );
}

async fn scale_down(app: &TestApp) {
    let ns = "scale-down";
    replicaset_in(app, ns, "web", 2).await;
    app.patch(
        &format!("/apis/apps/v1/namespaces/{ns}/replicasets/web"),
        "application/merge-patch+json",
        &json!({"spec": {"replicas": 1}}),
    )
    .await;
    let deletion = first_after(
        app,
        &format!("kind=Pod&namespace={ns}&type=DeletionRequested&actor={RS}"),
        0,
    )
    .await;
    let pod = deletion["involvedObject"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let chain = why(app, ns, "pods", &pod, rv(&deletion)).await;
    assert_chain(
        "scale down",
        &chain,
        &[
            format!("Pod {pod}: DeletionRequested by {RS}"),
            format!("ReplicaSet web: Updated by {PERSON}"),
        ],
    );
    assert_eq!(
        first_reason(&chain.1),
        "ReplicaSet web wants 1 pod: 2 pods where 1 is wanted"
    );
}

async fn delete_a_pod(app: &TestApp) {
    let ns = "heal";
    let victim = replicaset_in(app, ns, "echo-rs", 1).await.remove(0);
    let deleted = app
        .delete(&format!("/api/v1/namespaces/{ns}/pods/{victim}"), None)
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.text);
    let asked = entries(
        app,
        &format!("kind=Pod&namespace={ns}&name={victim}&actor={PERSON}"),
    )
    .await
    .last()
    .cloned()
    .unwrap_or(Value::Null);
    let asked_type = asked["type"].as_str().unwrap_or("").to_string();
    let (pod, seq) = created_after(app, ns, rv(&asked) - 1).await;
    let chain = why(app, ns, "pods", &pod, seq).await;
    assert_chain(
        "delete a pod of a ReplicaSet",
        &chain,
        &[
            format!("Pod {pod}: Created by {RS}"),
            format!("Pod {victim}: {asked_type} by {PERSON}"),
        ],
    );
    let reason = first_reason(&chain.1);
    assert!(
        reason.starts_with(&format!("pod {victim} ")) && reason.ends_with(": 0 of 1 pod"),
        "{reason}"
    );
    let text = explanation(&chain.1);
    assert!(text.contains("what mattered: pod"), "{text}");
}

async fn relabel_out_and_back(app: &TestApp) {
    let ns = "relabel";
    let pod = replicaset_in(app, ns, "web", 1).await.remove(0);
    let out = app
        .patch(
            &format!("/api/v1/namespaces/{ns}/pods/{pod}"),
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"app": "debug"}}}),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    let relabelled = rv(&out.body);
    let (replacement, seq) = created_after(app, ns, relabelled).await;
    let chain = why(app, ns, "pods", &replacement, seq).await;
    assert_chain(
        "relabel out",
        &chain,
        &[
            format!("Pod {replacement}: Created by {RS}"),
            format!("Pod {pod}: Updated by {PERSON}"),
        ],
    );
    assert_eq!(
        first_reason(&chain.1),
        format!("labels of pod {pod} no longer match: 0 of 1 pod")
    );
    running(app, ns, "app=web", 1).await;
    // Back: adopted, and one of the two is surplus, in the same pass.
    let back = app
        .patch(
            &format!("/api/v1/namespaces/{ns}/pods/{pod}"),
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"app": "web"}}}),
        )
        .await;
    assert_eq!(back.status, 200, "{}", back.text);
    let relabelled_back = rv(&back.body);
    let deletion = first_after(
        app,
        &format!("kind=Pod&namespace={ns}&type=DeletionRequested&actor={RS}"),
        relabelled_back,
    )
    .await;
    let surplus = deletion["involvedObject"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let chain = why(app, ns, "pods", &surplus, rv(&deletion)).await;
    assert_chain(
        "relabel back",
        &chain,
        &[
            format!("Pod {surplus}: DeletionRequested by {RS}"),
            format!("Pod {pod}: Updated by {PERSON}"),
        ],
    );
    assert_eq!(
        first_reason(&chain.1),
        format!("pod {pod} matches and has no controller: 2 pods where 1 is wanted")
    );
}

async fn gc_cascade(app: &TestApp) {
    let ns = "cascade";
    let names = replicaset_in(app, ns, "web", 2).await;
    let deleted = app
        .delete(
            &format!("/apis/apps/v1/namespaces/{ns}/replicasets/web"),
            None,
        )
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.text);
    let deletion = first_after(
        app,
        &format!(
            "kind=Pod&namespace={ns}&name={}&actor=generic-garbage-collector",
            names[0]
        ),
        0,
    )
    .await;
    let kind = deletion["type"].as_str().unwrap_or("").to_string();
    let chain = why(app, ns, "pods", &names[0], rv(&deletion)).await;
    assert_chain(
        "GC cascade",
        &chain,
        &[
            format!("Pod {}: {kind} by generic-garbage-collector", names[0]),
            format!("ReplicaSet web: Deleted by {PERSON}"),
        ],
    );
    assert_eq!(
        first_reason(&chain.1),
        format!("ReplicaSet web deleted: Pod {} has no owner left", names[0])
    );
}

async fn namespace_deletion(app: &TestApp) {
    let ns = "gone";
    replicaset_in(app, ns, "web", 1).await;
    let deleted = app.delete(&format!("/api/v1/namespaces/{ns}"), None).await;
    assert!(deleted.status.is_success(), "{}", deleted.text);
    let deletion = first_after(
        app,
        &format!("kind=ReplicaSet&namespace={ns}&name=web&actor=namespace-controller"),
        0,
    )
    .await;
    let kind = deletion["type"].as_str().unwrap_or("").to_string();
    let chain = why(app, ns, "replicasets", "web", rv(&deletion)).await;
    assert_chain(
        "namespace deletion",
        &chain,
        &[
            format!("ReplicaSet web: {kind} by namespace-controller"),
            format!("Namespace {ns}: DeletionRequested by {PERSON}"),
        ],
    );
    let reason = first_reason(&chain.1);
    assert!(
        reason.starts_with(&format!("namespace {ns} is being deleted"))
            && reason.ends_with("ReplicaSet web is in it"),
        "{reason}"
    );
}

async fn node_paused(app: &TestApp) {
    let ns = "node-down";
    replicaset_in(app, ns, "web", 2).await;
    let placed = pods(app, ns, "app=web").await;
    let dead = placed[0]["spec"]["nodeName"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let victim = name_of(&placed[0]);
    let paused = app
        .patch(
            &format!("/api/v1/nodes/{dead}"),
            "application/merge-patch+json",
            &json!({"metadata": {"annotations": {"kubetrail.dev/paused": "true"}}}),
        )
        .await;
    assert_eq!(paused.status, 200, "{}", paused.text);
    let eviction = first_after(
        app,
        &format!("kind=Pod&namespace={ns}&name={victim}&actor=node-lifecycle-controller"),
        0,
    )
    .await;
    let (pod, seq) = created_after(app, ns, rv(&eviction) - 1).await;
    let chain = why(app, ns, "pods", &pod, seq).await;
    // The controller's primary cause is the newer of the node and its Lease: the pause, unless
    // a renewal already under way committed after it (then the chain ends at that renewal).
    let (links, body) = &chain;
    let renewal_last = links.last() == Some(&format!("Lease {dead}: Updated by kubelet/{dead}"));
    let mut expected = vec![
        format!("Pod {pod}: Created by {RS}"),
        format!("Pod {victim}: DeletionRequested by node-lifecycle-controller"),
        format!("Node {dead}: Updated by node-lifecycle-controller"),
        format!("Node {dead}: StatusUpdated by node-lifecycle-controller"),
    ];
    if renewal_last {
        expected.push(format!("Lease {dead}: Updated by kubelet/{dead}"));
        assert_eq!(links, &expected, "{}", explanation(body));
    } else {
        expected.push(format!("Node {dead}: Updated by {PERSON}"));
        assert_chain("node paused -> eviction -> replacement", &chain, &expected);
    }
    let text = explanation(&chain.1);
    assert!(
        text.contains(&format!("node {dead}'s lease was last renewed")),
        "{text}"
    );
    // Back: the node's kubelet resumes.
    app.patch(
        &format!("/api/v1/nodes/{dead}"),
        "application/merge-patch+json",
        &json!({"metadata": {"annotations": {"kubetrail.dev/paused": "false"}}}),
    )
    .await;
}

#[tokio::test]
async fn why_names_the_true_cause_in_every_scenario() {
    let app = cluster().await;
    scale_up(&app).await;
    scale_down(&app).await;
    delete_a_pod(&app).await;
    relabel_out_and_back(&app).await;
    gc_cascade(&app).await;
    namespace_deletion(&app).await;
    node_paused(&app).await;
    // Today's controllers make every recorded decision, for the causes they recorded.
    let dir = app.stop().await;
    let data = dir.path().display().to_string();
    let (code, out, err) = kubetrail(&["replay", "--check-workers", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": 0 differ"), "{out}");
    println!("{out}");
}

#[tokio::test]
async fn a_remote_worker_names_its_causes_in_a_header_and_a_bad_one_is_refused() {
    let app = spawn_app().await;
    let created = app.create_pod("default", &pod("first")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let cause = rv(&created.body);
    let causes = json!([{"resourceVersion": cause.to_string(), "reason": "pod first created: 1 of 2 pods \u{2713}"}]);
    // The header is ASCII: what is not is escaped in the JSON.
    let header = causes.to_string().replace('\u{2713}', "\\u2713");
    let reply = app
        .send(
            app.request(reqwest::Method::POST, "/api/v1/namespaces/default/pods")
                .header("Kubetrail-Caused-By", cause.to_string())
                .header("Kubetrail-Causes", header)
                .json(&pod("second")),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let recorded = entries(&app, "kind=Pod&name=second").await;
    assert_eq!(recorded[0]["causedBy"], cause.to_string());
    assert_eq!(recorded[0]["causes"], causes);

    for (bad, why) in [
        ("not json", "must be a JSON array"),
        ("[]", "must be a JSON array"),
        (
            r#"[{"resourceVersion": "x", "reason": "r"}]"#,
            "must be a JSON array",
        ),
        (
            r#"[{"resourceVersion": "1", "reason": "r"}]"#,
            "must name the first",
        ),
    ] {
        let reply = app
            .send(
                app.request(reqwest::Method::POST, "/api/v1/namespaces/default/pods")
                    .header("Kubetrail-Caused-By", cause.to_string())
                    .header("Kubetrail-Causes", bad)
                    .json(&pod("third")),
            )
            .await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text);
        assert_eq!(reply.body["kind"], "Status", "{}", reply.text);
        assert!(
            reply.body["message"].as_str().unwrap_or("").contains(why),
            "{bad}: {}",
            reply.text
        );
    }
    let too_many: Vec<Value> = (1..=17)
        .map(|i| json!({"resourceVersion": i.to_string(), "reason": "r"}))
        .collect();
    let reply = app
        .send(
            app.request(reqwest::Method::POST, "/api/v1/namespaces/default/pods")
                .header("Kubetrail-Causes", Value::Array(too_many).to_string())
                .json(&pod("third")),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let third = app.get("/api/v1/namespaces/default/pods/third").await;
    assert_eq!(third.status, 404, "a refused request changes nothing");
}

#[tokio::test]
async fn after_a_restart_the_causes_are_the_ones_a_fold_of_the_whole_log_gives() {
    let app = cluster().await;
    let ns = "restart";
    let victim = replicaset_in(&app, ns, "web", 1).await.remove(0);
    let app = start_in(app.stop().await, with_workers).await;
    running(&app, ns, "app=web", 1).await;
    let deleted = app
        .delete(&format!("/api/v1/namespaces/{ns}/pods/{victim}"), None)
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.text);
    let (pod, seq) = created_after(&app, ns, rv(&deleted.body) - 1).await;
    let chain = why(&app, ns, "pods", &pod, seq).await;
    let text = explanation(&chain.1);
    assert_eq!(
        chain.0[1].split(':').next(),
        Some(format!("Pod {victim}").as_str()),
        "{text}"
    );
    // The ReplicaSet's spec is marked at its creation, not at the version the restarted server
    // listed.
    let also = &chain.1["chain"][0]["causes"][1];
    assert_eq!(also["reason"], "ReplicaSet web wants 1 pod", "{text}");
    assert_eq!(also["type"], "Created", "{text}");
    let dir = app.stop().await;
    let data = dir.path().display().to_string();
    let (code, out, err) = kubetrail(&["replay", "--check-workers", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": 0 differ"), "{out}");
}
