//! Debugging with the log, end to end: a scripted scenario driven with the real kubectl against
//! a server with simulated nodes (apply a ReplicaSet, scale it up, delete a pod, relabel one,
//! scale it down, delete the ReplicaSet), then the `kubetrail` binary's `history`, `why`,
//! `events`, `replay`, `verify` and `replay --check-workers` on its data directory, the
//! `kubetrail.dev/v1alpha1` endpoints, Exact lists, and a replayed sandbox served read-only to
//! kubectl.

use crate::support::app::{TestApp, start_with_workers};
use crate::support::binary::{Serve, kubetrail as command, run as kubetrail};
use crate::support::http::answer;
use crate::support::internals::check;
use crate::support::internals::{
    Command, Controller, Pass, ResourceKind, Snapshot, Stored, Wake, store,
};
use crate::support::kubectl::Kubectl;
use crate::support::wait::until;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

const ADMIN: &str = "kubetrail-admin";
/// How long a step of the scenario may take to settle.
const SETTLE: Duration = Duration::from_secs(30);

/// A server with every worker and `nodes` simulated nodes on data directory `dir`.
async fn start_live(dir: TempDir, nodes: usize) -> TestApp {
    start_with_workers(dir, |settings| {
        settings.workers.simulated_nodes = nodes;
        settings.workers.simulated_start_delay = Duration::from_millis(100);
    })
    .await
}

/// GET `path` with `accept` (if any): the status and the JSON body (a string when not JSON).
async fn get_as(live: &TestApp, path: &str, accept: Option<&str>) -> (u16, Value) {
    let mut request = live.request(reqwest::Method::GET, path);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    answer(request).await.expect("request")
}

async fn get(live: &TestApp, path: &str) -> (u16, Value) {
    get_as(live, path, None).await
}

/// JSON lines of a `-o json` output.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Pods of the ReplicaSet `echo-rs` (by controller reference) that are Running and not going.
async fn running_owned(live: &TestApp) -> Vec<String> {
    let (_, list) = get(live, "/api/v1/namespaces/default/pods").await;
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            p["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["name"] == "echo-rs"))
                && p["status"]["phase"] == "Running"
                && p["metadata"]["deletionTimestamp"].is_null()
        })
        .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn wait_for_owned(live: &TestApp, count: usize) {
    until(
        &format!("{count} running pods of echo-rs"),
        SETTLE,
        || async { running_owned(live).await.len() == count },
    )
    .await;
}

/// The pods and ReplicaSets of `default` as one comparable value.
fn state_of(pods: &Value, sets: &Value) -> Value {
    json!({"pods": pods["items"], "replicasets": sets["items"]})
}

/// Today's ReplicaSet controller with one rule changed: a surplus pod is chosen among those
/// today's code would keep (the deletion preference flipped).
struct FlippedSurplus(Box<dyn Controller>);

impl Controller for FlippedSurplus {
    fn actor(&self) -> &'static str {
        self.0.actor()
    }

    fn wake(&self) -> Wake {
        self.0.wake()
    }

    fn reconcile(&self, snapshot: &Snapshot, stored: &Stored, now: jiff::Timestamp) -> Pass {
        let mut pass = self.0.reconcile(snapshot, stored, now);
        for rs in snapshot.list(ResourceKind::ReplicaSet) {
            let namespace = rs["metadata"]["namespace"].as_str().unwrap_or("");
            let held: Vec<Arc<Value>> = snapshot
                .in_namespace(ResourceKind::Pod, namespace)
                .collect();
            let pods: Vec<&Value> = held.iter().map(|p| p.as_ref()).collect();
            // This ReplicaSet's deletions: of the pods it controls.
            let owned = |name: &str| {
                pods.iter().any(|p| {
                    p["metadata"]["name"] == name
                        && p["metadata"]["ownerReferences"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|r| r["controller"] == true && r["uid"] == rs["metadata"]["uid"])
                })
            };
            let commands: Vec<&mut Command> = pass
                .commands
                .iter_mut()
                .filter(|(c, _)| matches!(c, Command::Delete { name, .. } if owned(name)))
                .map(|(command, _)| command)
                .collect();
            flip_surplus(rs, &pods, commands);
        }
        pass
    }
}

/// Swap the names of the pods `commands` (one ReplicaSet's) delete for those it keeps.
fn flip_surplus(rs: &Value, pods: &[&Value], commands: Vec<&mut Command>) {
    let deleted: Vec<String> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Delete { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    if deleted.is_empty() {
        return;
    }
    let uid = rs["metadata"]["uid"].clone();
    let mut kept: Vec<String> = pods
        .iter()
        .filter(|p| {
            p["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["uid"] == uid))
                && p["metadata"]["deletionTimestamp"].is_null()
        })
        .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string())
        .filter(|n| !deleted.contains(n))
        .collect();
    kept.sort();
    let mut flipped = kept.into_iter();
    for command in commands {
        if let Command::Delete { name, .. } = command
            && let Some(other) = flipped.next()
        {
            *name = other;
        }
    }
}

/// A child process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `kubectl get pods` without its AGE column (ages differ with the time of the call).
fn without_age(table: &str) -> String {
    let header = table.lines().next().unwrap_or("");
    let Some(start) = header.find("AGE") else {
        return table.to_string();
    };
    table
        .lines()
        .map(|l| {
            let (head, tail) = l.split_at(start.min(l.len()));
            let rest = tail.split_once(char::is_whitespace).map_or("", |(_, r)| r);
            format!("{head}{}", rest.trim_start())
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_scenario_is_explained_replayed_and_checked() {
    let live = start_live(tempfile::tempdir().expect("dir"), 2).await;
    let data_dir = live.dir.path().to_path_buf();
    let data = data_dir.display().to_string();
    let manifest = live.dir.path().join("echo-rs.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: echo-rs\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: echo\n  template:\n    metadata:\n      labels:\n        app: echo\n    spec:\n      containers:\n        - name: echo\n          image: ghcr.io/subicura/echo:v1\n",
    )
    .expect("manifest");

    // 1. Apply, scale to 3.
    live.kubectl
        .ok(&["apply", "-f", &manifest.display().to_string()])
        .await;
    wait_for_owned(&live, 2).await;
    live.kubectl
        .ok(&["scale", "rs", "echo-rs", "--replicas=3"])
        .await;
    wait_for_owned(&live, 3).await;

    // The moment to look back at: what kubectl shows now, and the resourceVersion of that state.
    let custom = "custom-columns=NAME:.metadata.name,RV:.metadata.resourceVersion,NODE:.spec.nodeName,PHASE:.status.phase,OWNER:.metadata.ownerReferences[0].name";
    let (moment, live_json, live_columns, live_table) = loop {
        let (_, pods_before) = get(&live, "/api/v1/namespaces/default/pods").await;
        let (_, sets_before) = get(&live, "/apis/apps/v1/namespaces/default/replicasets").await;
        let json_out = live.kubectl.ok(&["get", "pods,rs", "-o", "json"]).await;
        let columns = live.kubectl.ok(&["get", "pods", "-o", custom]).await;
        let table = live.kubectl.ok(&["get", "pods"]).await;
        let (_, pods_after) = get(&live, "/api/v1/namespaces/default/pods").await;
        let (_, sets_after) = get(&live, "/apis/apps/v1/namespaces/default/replicasets").await;
        if state_of(&pods_before, &sets_before) == state_of(&pods_after, &sets_after) {
            // The later of the two lists: a ReplicaSet change between them is in both
            // ReplicaSet lists (so the comparison cannot see it) but not at the pods list's
            // version; a pod change between them shows in the second pods list.
            let rv: i64 = sets_before["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .expect("list rv");
            break (
                (rv, state_of(&pods_before, &sets_before)),
                json_out,
                columns,
                table,
            );
        }
    };
    let (rv_a, state_a) = moment;

    // 2. Delete a pod, relabel another, scale down, delete the set.
    let mut names = running_owned(&live).await;
    names.sort();
    let (deleted, relabelled) = (names[0].clone(), names[1].clone());
    live.kubectl.ok(&["delete", "pod", &deleted]).await;
    until("the deleted pod is replaced", SETTLE, || async {
        let owned = running_owned(&live).await;
        owned.len() == 3 && !owned.contains(&deleted)
    })
    .await;
    live.kubectl
        .ok(&["label", "pod", &relabelled, "app=other", "--overwrite"])
        .await;
    until(
        "the relabelled pod is released and replaced",
        SETTLE,
        || async {
            let owned = running_owned(&live).await;
            owned.len() == 3 && !owned.contains(&relabelled)
        },
    )
    .await;
    live.kubectl
        .ok(&["scale", "rs", "echo-rs", "--replicas=2"])
        .await;
    wait_for_owned(&live, 2).await;
    live.kubectl.ok(&["delete", "rs", "echo-rs"]).await;
    until("the set's pods are gone", SETTLE, || async {
        running_owned(&live).await.is_empty()
    })
    .await;
    // A pod re-created under the same name.
    live.kubectl
        .ok(&["run", "solo", "--image=ghcr.io/subicura/echo:v1"])
        .await;
    live.kubectl
        .ok(&["delete", "pod", "solo", "--wait=false"])
        .await;
    until("solo is gone", SETTLE, || async {
        get(&live, "/api/v1/namespaces/default/pods/solo").await.0 == 404
    })
    .await;
    live.kubectl
        .ok(&["run", "solo", "--image=ghcr.io/subicura/echo:v1"])
        .await;

    // 3. History of the ReplicaSet: the person's events exactly, the controller's as status.
    let (code, out, err) =
        kubetrail(&["history", "rs/echo-rs", "--data-dir", &data, "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let rows = json_lines(&out);
    // The API serves the same rows, assembled by SQLite from the changes recorded with each
    // event, as the CLI computes from the objects; pages continue where they stopped.
    let path = "/apis/kubetrail.dev/v1alpha1/namespaces/default/history/replicasets/echo-rs";
    let (status, page) = get(&live, path).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().cloned().unwrap_or_default(), rows);
    let (_, first) = get(&live, &format!("{path}?limit=2")).await;
    assert_eq!(first["items"].as_array().unwrap()[..], rows[..2]);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    let (_, second) = get(&live, &format!("{path}?limit=2&continue={token}")).await;
    assert_eq!(second["items"].as_array().unwrap()[..], rows[2..4]);
    let people: Vec<(String, String, String)> = rows
        .iter()
        .filter(|r| r["actor"] != "replicaset-controller")
        .map(|r| {
            (
                r["type"].as_str().unwrap_or("").to_string(),
                r["actor"].as_str().unwrap_or("").to_string(),
                r["fieldManager"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let person = |t: &str, m: &str| (t.to_string(), ADMIN.to_string(), m.to_string());
    assert_eq!(
        people,
        [
            person("Created", "kubectl-client-side-apply"),
            person("Scaled", "-"),
            person("Scaled", "-"),
            person("Deleted", "-"),
        ],
        "{out}"
    );
    let seqs: Vec<i64> = rows
        .iter()
        .map(|r| {
            r["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    for row in rows
        .iter()
        .filter(|r| r["actor"] == "replicaset-controller")
    {
        assert_eq!(row["type"], "StatusUpdated", "{row}");
        // Caused by what changed its counts: a pod of the set or the set itself, earlier, with
        // what about it mattered.
        let cause: i64 = row["causedBy"].as_str().unwrap().parse().unwrap();
        let seq: i64 = row["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(cause < seq, "caused by an earlier event: {row}");
        assert_eq!(
            row["causes"][0]["resourceVersion"], row["causedBy"],
            "{row}"
        );
        let reason = row["causes"][0]["reason"].as_str().unwrap_or("");
        assert!(
            reason.contains("pod echo-rs-") || reason.starts_with("spec of ReplicaSet echo-rs"),
            "{row}"
        );
        assert!(
            reason.contains(" active, ") && reason.ends_with(" ready"),
            "{row}"
        );
    }
    let scaled: Vec<&Value> = rows.iter().filter(|r| r["type"] == "Scaled").collect();
    assert_eq!(
        scaled[0]["changes"],
        json!([{"op": "change", "path": "metadata.generation", "from": 1, "to": 2},
               {"op": "change", "path": "spec.replicas", "from": 2, "to": 3}])
    );
    let scaled_up: i64 = scaled[0]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (code, text, _) = kubetrail(&["history", "rs/echo-rs", "--data-dir", &data]).await;
    assert_eq!(code, 0);
    assert!(
        text.starts_with("ReplicaSet default/echo-rs\nRV      TIME"),
        "{text}"
    );
    assert!(text.contains("        ~ spec.replicas: 2 -> 3\n"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when piped");

    // History of the relabelled pod: created by the controller, bound, run, relabelled by the
    // person, released by the controller.
    let (code, out, err) = kubetrail(&[
        "history",
        &format!("pod/{relabelled}"),
        "--data-dir",
        &data,
        "-o",
        "json",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let rows = json_lines(&out);
    let summary: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let actor = r["actor"].as_str().unwrap_or("");
            let actor = if actor.starts_with("kubelet/") {
                "kubelet"
            } else {
                actor
            };
            (
                r["type"].as_str().unwrap_or("").to_string(),
                actor.to_string(),
            )
        })
        .collect();
    let at = |t: &str, a: &str| (t.to_string(), a.to_string());
    assert_eq!(
        summary,
        [
            at("Created", "replicaset-controller"),
            at("Bound", "default-scheduler"),
            at("StatusUpdated", "kubelet"),
            at("Updated", ADMIN),
            at("Updated", "replicaset-controller"),
        ],
        "{out}"
    );
    assert_eq!(rows[3]["fieldManager"], "kubectl-label");
    assert!(
        rows[3]["changes"].as_array().unwrap().contains(
            &json!({"op": "change", "path": "metadata.labels.app", "from": "echo", "to": "other"})
        ),
        "{}",
        rows[3]
    );
    assert!(
        rows[4]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["op"] == "remove"
                && c["path"]
                    .as_str()
                    .unwrap()
                    .starts_with("metadata.ownerReferences")),
        "{}",
        rows[4]
    );
    assert_eq!(rows[1]["causedBy"], rows[0]["metadata"]["resourceVersion"]);

    // A deleted pod keeps its history; a re-created name shows both uids.
    let (code, out, _) = kubetrail(&[
        "history",
        &format!("pod/{deleted}"),
        "--data-dir",
        &data,
        "-o",
        "json",
    ])
    .await;
    assert_eq!(code, 0);
    let rows = json_lines(&out);
    let last_two: Vec<(&str, &str)> = rows[rows.len() - 2..]
        .iter()
        .map(|r| (r["type"].as_str().unwrap(), r["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(last_two[0], ("DeletionRequested", ADMIN));
    assert_eq!(last_two[1].0, "Deleted");
    let (_, out, _) = kubetrail(&["history", "pod/solo", "--data-dir", &data, "-o", "json"]).await;
    let created: Vec<Value> = json_lines(&out)
        .into_iter()
        .filter(|r| r["type"] == "Created")
        .collect();
    assert_eq!(created.len(), 2);
    assert_ne!(
        created[0]["involvedObject"]["uid"],
        created[1]["involvedObject"]["uid"]
    );

    // 4. Why: a pod created by the scale-up leads back to the person who scaled.
    let (_, entries) = get(&live, "/apis/kubetrail.dev/v1alpha1/logentries?kind=Pod&type=Created&actor=replicaset-controller&includeObject=false")
        .await;
    let third = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["causedBy"] == json!(scaled_up.to_string()))
        .expect("a pod created because of the scale-up")["involvedObject"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, text, err) = kubetrail(&["why", &format!("pod/{third}"), "--data-dir", &data]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("Pod default/{third} at resourceVersion "))
            && lines[0].ends_with(": Created by replicaset-controller"),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "  <- because ReplicaSet default/echo-rs at resourceVersion {scaled_up}: Scaled by {ADMIN} (kubectl/"
        )) && lines[1].ends_with("): metadata.generation: 1 -> 2; spec.replicas: 2 -> 3"),
        "{text}"
    );
    assert_eq!(
        lines[2], "     what mattered: ReplicaSet echo-rs wants 3 pods: 2 of 3 pods",
        "{text}"
    );
    assert!(
        lines[3].starts_with(&format!("origin: a request by {ADMIN} with kubectl/"))
            && lines[3].contains(&format!(" at resourceVersion {scaled_up} (")),
        "{text}"
    );
    let (status, why) = get(
        &live,
        &format!("/apis/kubetrail.dev/v1alpha1/namespaces/default/why/pods/{third}"),
    )
    .await;
    assert_eq!(status, 200, "{why}");
    assert_eq!(
        why["origin"],
        json!({"resourceVersion": scaled_up.to_string(), "actor": ADMIN, "person": true})
    );
    assert_eq!(why["chain"].as_array().unwrap().len(), 2);

    // 5. The log itself: the CLI and the API agree.
    let (code, out, _) = kubetrail(&[
        "events",
        "--data-dir",
        &data,
        "--kind",
        "rs",
        "--actor",
        ADMIN,
        "-o",
        "json",
    ])
    .await;
    assert_eq!(code, 0);
    let cli: Vec<Value> = json_lines(&out)
        .iter()
        .map(|e| e["metadata"]["resourceVersion"].clone())
        .collect();
    let (_, api) = get(
        &live,
        &format!("/apis/kubetrail.dev/v1alpha1/logentries?kind=ReplicaSet&actor={ADMIN}"),
    )
    .await;
    let api: Vec<Value> = api["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metadata"]["resourceVersion"].clone())
        .collect();
    assert_eq!(cli, api);
    assert_eq!(cli.len(), 4);
    let (_, page) = get(&live, "/apis/kubetrail.dev/v1alpha1/logentries?limit=3").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["metadata"]["continue"], "3");
    let watch = live
        .client
        .get(format!(
            "{}/apis/kubetrail.dev/v1alpha1/logentries?watch=true&resourceVersion={}&kind=ReplicaSet&timeoutSeconds=1",
            live.url,
            scaled_up - 1
        ))
        .bearer_auth(&live.token)
        .send()
        .await
        .expect("watch")
        .text()
        .await
        .expect("lines");
    let first = json_lines(&watch)[0].clone();
    assert_eq!(first["type"], "ADDED");
    assert_eq!(
        first["object"]["metadata"]["resourceVersion"],
        scaled_up.to_string()
    );

    // 6. Past state through the normal API.
    let (status, pods_then) = get(
        &live,
        &format!(
            "/api/v1/namespaces/default/pods?resourceVersion={rv_a}&resourceVersionMatch=Exact"
        ),
    )
    .await;
    assert_eq!(status, 200, "{pods_then}");
    let (_, sets_then) = get(&live, &format!("/apis/apps/v1/namespaces/default/replicasets?resourceVersion={rv_a}&resourceVersionMatch=Exact"))
        .await;
    assert_eq!(state_of(&pods_then, &sets_then), state_a);
    assert_eq!(pods_then["metadata"]["resourceVersion"], rv_a.to_string());
    let (_, before_scale) = get(
        &live,
        &format!(
            "/apis/apps/v1/replicasets?resourceVersion={}&resourceVersionMatch=Exact",
            scaled_up - 1
        ),
    )
    .await;
    assert_eq!(before_scale["items"][0]["spec"]["replicas"], 2);
    let raw = live.kubectl.ok(&["get", "--raw", &format!("/api/v1/namespaces/default/pods?resourceVersion={rv_a}&resourceVersionMatch=Exact&labelSelector=app%3Decho")])
        .await;
    let raw: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(raw["items"].as_array().unwrap().len(), 3);

    // 7. Replay up to that moment and serve it read-only: kubectl sees what it saw then.
    let sandbox_dir = tempfile::tempdir().expect("sandbox");
    let sandbox_path = sandbox_dir.path().join("then");
    let (code, out, err) = kubetrail(&[
        "replay",
        "--data-dir",
        &data,
        "--until",
        &rv_a.to_string(),
        "--into",
        &sandbox_path.display().to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "replayed {rv_a} events (up to resourceVersion {rv_a}, "
        )),
        "{out}"
    );
    let sandbox = Serve::new(&sandbox_path).args(&["--read-only"]).start();
    let then = Kubectl::new(&sandbox.kubeconfig);
    assert_eq!(then.ok(&["get", "pods,rs", "-o", "json"]).await, live_json);
    let columns = then.ok(&["get", "pods", "-o", custom]).await;
    assert_eq!(columns, live_columns);
    assert_eq!(
        without_age(&then.ok(&["get", "pods"]).await),
        without_age(&live_table)
    );
    let refused = then.run(&["delete", "pod", &deleted]).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("Error from server (MethodNotAllowed)")
            && stderr.contains(&format!(
                "this server is read-only: a replay of {} up to resourceVersion {rv_a}",
                std::fs::canonicalize(&data_dir).unwrap().display()
            )),
        "{stderr}"
    );
    drop(sandbox);

    // 8. Today's controllers make the recorded decisions; a flipped surplus rule does not.
    let (code, out, err) = kubetrail(&["replay", "--check-workers", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": 0 differ"), "{out}");
    let pool = store::open_readers(&data_dir.join("state.db"))
        .await
        .expect("readers");
    let flipped: Vec<Box<dyn Controller>> = check::today()
        .into_iter()
        .map(|c| match c.actor() {
            "replicaset-controller" => Box::new(FlippedSurplus(c)),
            _ => c,
        })
        .collect();
    let report = check::check_workers(&pool, &flipped).await.expect("check");
    assert_eq!(report.differences.len(), 1, "{:#?}", report.lines());
    let difference = &report.differences[0];
    assert_eq!(difference.actor, "replicaset-controller");
    assert!(
        difference
            .recorded
            .iter()
            .any(|d| d.to_string().starts_with("delete pod default/echo-rs-")),
        "{:?}",
        report.lines()
    );
    assert_ne!(difference.recorded, difference.now);
    pool.close().await;

    // 9. Verify: the projections match; a row altered behind the server's back is found.
    let (code, out, _) = kubetrail(&["verify", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("the projections match the log\n"), "{out}");
    let dir = live.stop().await;
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .expect("db");
    sqlx::query("UPDATE objects SET object = replace(object, '\"run\":\"solo\"', '\"run\":\"forged\"') WHERE kind = 'Pod' AND name = 'solo'")
        .execute(&mut conn)
        .await
        .expect("alter a row");
    let (code, out, _) = kubetrail(&["verify", "--data-dir", &data]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Pod") && out.contains("DIFFERS")
            && out.contains("first difference: Pod default/solo: the projection row differs from the log's object at resourceVersion"),
        "{out}"
    );
    // The projections' version no longer the log's: start-up verifies and rebuilds.
    sqlx::query("UPDATE projection_state SET applied_seq = applied_seq - 1")
        .execute(&mut conn)
        .await
        .expect("move the projections' version");
    drop(conn);
    let live = start_live(dir, 0).await;
    let (_, solo) = get(&live, "/api/v1/namespaces/default/pods/solo").await;
    assert_eq!(solo["metadata"]["labels"]["run"], "solo");
    let dir = live.stop().await;
    let (code, out, _) =
        kubetrail(&["verify", "--data-dir", &dir.path().display().to_string()]).await;
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn exact_lists_refuse_what_kubernetes_refuses() {
    let live = start_live(tempfile::tempdir().expect("dir"), 0).await;
    // The log stands still once each built-in namespace has its `default` ServiceAccount.
    until(
        "the default ServiceAccounts",
        Duration::from_secs(20),
        || async {
            let (_, accounts) = get(&live, "/api/v1/serviceaccounts").await;
            accounts["items"].as_array().map_or(0, Vec::len) == 4
        },
    )
    .await;
    let last: i64 = get(&live, "/api/v1/namespaces").await.1["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (status, body) = get(
        &live,
        &format!(
            "/api/v1/pods?resourceVersion={}&resourceVersionMatch=Exact",
            last + 100
        ),
    )
    .await;
    assert_eq!(status, 504);
    assert_eq!(body["reason"], "Timeout");
    assert_eq!(
        body["details"]["causes"][0]["reason"],
        "ResourceVersionTooLarge"
    );
    assert_eq!(
        body["message"],
        format!(
            "Timeout: Too large resource version: {}, current: {last}",
            last + 100
        )
    );
    let (status, body) = get(&live, "/api/v1/pods?resourceVersionMatch=Exact").await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("Invalid")));
    let (status, _) = get(
        &live,
        "/api/v1/pods?resourceVersion=0&resourceVersionMatch=Exact",
    )
    .await;
    assert_eq!(status, 422);
    // The namespaces as of the first event: one namespace, `default`.
    let (status, first) = get(
        &live,
        "/api/v1/namespaces?resourceVersion=1&resourceVersionMatch=Exact",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    // Pages of an Exact list stay at its resourceVersion.
    let (_, page) = get(
        &live,
        "/api/v1/namespaces?resourceVersion=2&resourceVersionMatch=Exact&limit=1",
    )
    .await;
    let token = page["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();
    let (_, next) = get(
        &live,
        &format!("/api/v1/namespaces?limit=5&continue={token}"),
    )
    .await;
    assert_eq!(next["items"].as_array().unwrap().len(), 1, "{next}");
    assert_eq!(next["metadata"]["resourceVersion"], "2");
    // A Table of a past list.
    let (status, table) = get_as(
        &live,
        "/api/v1/namespaces?resourceVersion=1&resourceVersionMatch=Exact",
        Some("application/json;as=Table;v=v1;g=meta.k8s.io"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["rows"].as_array().unwrap().len(), 1);
    let (status, discovery) = get(&live, "/apis").await;
    assert_eq!(status, 200);
    assert!(
        discovery["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "kubetrail.dev")
    );
    live.stop().await;
}

#[tokio::test]
async fn events_and_history_follow_new_writes() {
    let live = start_live(tempfile::tempdir().expect("dir"), 0).await;
    let data = live.dir.path().display().to_string();
    let spawn = |args: &[&str]| {
        let mut child = command(args)
            .args(["--data-dir", &data, "--follow", "-o", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubetrail runs");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel::<Value>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str(&line)
                    && tx.send(value).is_err()
                {
                    return;
                }
            }
        });
        (Process(child), rx)
    };
    let (_events, events) = spawn(&["events", "--kind", "pod", "--actor", ADMIN, "--tail", "0"]);
    live.kubectl
        .ok(&["run", "follow-me", "--image=ghcr.io/subicura/echo:v1"])
        .await;
    let (_history, history) = spawn(&["history", "pod/follow-me"]);
    live.kubectl
        .ok(&["label", "pod", "follow-me", "seen=yes"])
        .await;
    let next = |rx: &std::sync::mpsc::Receiver<Value>, what: &str| {
        rx.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{what} within 20 s"))
    };
    let created = next(&events, "the creation");
    assert_eq!(
        (
            created["type"].as_str(),
            created["involvedObject"]["name"].as_str()
        ),
        (Some("Created"), Some("follow-me"))
    );
    let updated = next(&events, "the label");
    assert_eq!(updated["type"], "Updated");
    assert_eq!(next(&history, "the history")["type"], "Created");
    // Without nodes the scheduler also reports the pod unschedulable; the label comes after.
    let labelled = (0..5)
        .map(|_| next(&history, "the followed label"))
        .find(|row| row["actor"] == ADMIN)
        .expect("the label in the followed history");
    assert_eq!(labelled["fieldManager"], "kubectl-label");
    assert!(
        labelled["changes"]
            .as_array()
            .unwrap()
            .contains(&json!({"op": "add", "path": "metadata.labels.seen", "value": "yes"}))
    );
    live.stop().await;
}
