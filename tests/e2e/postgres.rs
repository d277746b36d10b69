//! A server whose log is in PostgreSQL (`serve --database URL`): the course's ReplicaSet
//! chapter through real kubectl (create, get, a deleted pod replaced, scale with a watch
//! open, delete), the debugging commands on the same log with `--database` (history, why,
//! events, verify, status, replay into a SQLite directory, `--check-workers`), and a restart
//! on the same database that serves the same objects at the same resourceVersions and carries
//! on after them. PostgreSQL comes from `support::postgres`; without it the test fails saying
//! what to install.

use crate::support::binary::{Serve, Server, kubetrail, run, run_command};
use crate::support::kubectl::{Kubectl, echo_pods, echo_running, kubectl_binary, manifest, pairs};
use crate::support::postgres;
use crate::support::wait::until;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// `kubetrail serve` on data directory `dir` with its log in the database at `url`, two
/// simulated nodes, its stderr appended to `log`.
fn start(dir: &Path, url: &str, log: &Path) -> Server {
    Serve::new(dir)
        .args(&[
            "--no-docker-node",
            "--simulated-nodes",
            "2",
            "--database",
            url,
        ])
        .log_to(log)
        .start()
}

/// Run `kubetrail ARGS --data-dir DIR` with the log's URL in `KUBETRAIL_DATABASE` (as an
/// operator keeps it out of the command line): (exit code, stdout, stderr).
async fn debug(dir: &Path, url: &str, args: &[&str]) -> (i32, String, String) {
    let mut command = kubetrail(args);
    command
        .arg("--data-dir")
        .arg(dir)
        .env("KUBETRAIL_DATABASE", url);
    run_command(command).await
}

/// The resourceVersion of every pod and ReplicaSet in `default`: "Kind/name" -> rv.
async fn versions(kubectl: &Kubectl) -> BTreeMap<String, i64> {
    let found = pairs(
        kubectl,
        &["pods,rs"],
        "{.kind}/{.metadata.name}",
        "{.metadata.resourceVersion}",
    )
    .await;
    found
        .into_iter()
        .map(|(what, rv)| (what, rv.parse().expect("a numeric resourceVersion")))
        .collect()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("JSON ({e}): {text}"))
}

#[tokio::test]
async fn a_cluster_on_postgresql_runs_the_replicaset_chapter_is_debugged_and_restarts() {
    let url = postgres::new_database().await;
    let dir = tempfile::tempdir().expect("data dir");
    let scratch = tempfile::tempdir().expect("scratch dir");
    let log = scratch.path().join("server.log");
    let mut server = start(dir.path(), &url, &log);
    let kubectl = Kubectl::new(&server.kubeconfig);
    // The log is in PostgreSQL: the data directory holds the keys and credentials only.
    assert!(!dir.path().join("state.db").exists());

    // A ReplicaSet of 3.
    let rs = scratch.path().join("echo-rs.yaml");
    let text = std::fs::read_to_string(manifest("echo-rs.yaml")).expect("manifest");
    std::fs::write(&rs, text.replace("replicas: 1", "replicas: 3")).expect("manifest written");
    let rs = rs.display().to_string();
    assert_eq!(
        kubectl.ok(&["create", "-f", &rs]).await.trim(),
        "replicaset.apps/echo-rs created"
    );
    let first = echo_running(&kubectl, 3).await;
    let table = kubectl.ok(&["get", "pods"]).await;
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{table}");
    for row in rows {
        assert!(
            row.starts_with("echo-rs-") && row.contains("1/1") && row.contains("Running"),
            "{table}"
        );
    }

    // A deleted pod is replaced.
    let gone = first.iter().next().expect("a pod").clone();
    assert_eq!(
        kubectl.ok(&["delete", "pod", &gone]).await.trim(),
        format!("pod \"{gone}\" deleted")
    );
    let second = echo_running(&kubectl, 3).await;
    assert!(!second.contains(&gone), "{second:?}");
    let replacement = second
        .difference(&first)
        .next()
        .expect("a new pod in place of the deleted one")
        .clone();

    // Scale to 5 with `kubectl get pods -w` open: it sees the new pods come and run.
    let (kubeconfig, cache) = (
        kubectl.kubeconfig.clone(),
        kubectl.cache.path().to_path_buf(),
    );
    let watcher = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .args(["12", &kubectl_binary(), "get", "pods", "-l", "app=echo"])
            .args(["-w", "--output-watch-events"])
            .env("KUBECONFIG", kubeconfig)
            .env("KUBECACHEDIR", cache)
            .output()
            .expect("timeout and kubectl run")
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        kubectl
            .ok(&["scale", "rs", "echo-rs", "--replicas=5"])
            .await
            .trim(),
        "replicaset.apps/echo-rs scaled"
    );
    let scaled = echo_running(&kubectl, 5).await;
    let printed = String::from_utf8_lossy(&watcher.await.expect("watcher").stdout).to_string();
    for new in scaled.difference(&second) {
        let rows: Vec<&str> = printed
            .lines()
            .filter(|l| l.contains(new.as_str()))
            .collect();
        assert!(
            rows.first().is_some_and(|r| r.starts_with("ADDED"))
                && rows
                    .iter()
                    .any(|r| r.starts_with("MODIFIED") && r.contains("Running")),
            "the watch saw {new} added, then running:\n{printed}"
        );
    }

    // The debugging commands read the same log with --database (here KUBETRAIL_DATABASE).
    let (code, text, err) = debug(dir.path(), &url, &["history", "rs/echo-rs"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        text.starts_with("ReplicaSet default/echo-rs\nRV      TIME"),
        "{text}"
    );
    assert!(text.contains("        ~ spec.replicas: 3 -> 5\n"), "{text}");
    let (code, text, err) = debug(dir.path(), &url, &["why", &format!("pod/{replacement}")]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("Pod default/{replacement} at resourceVersion "))
            && lines[0].ends_with(": Created by replicaset-controller"),
        "{text}"
    );
    assert!(
        lines.get(1).is_some_and(|l| l.starts_with("  <- because "))
            && lines.iter().any(|l| l.starts_with("origin: a request by ")),
        "the replacement is explained back to a request:\n{text}"
    );
    let (code, out, err) = debug(
        dir.path(),
        &url,
        &["events", "--kind", "rs", "--name", "echo-rs", "-o", "json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let types: Vec<String> = out
        .lines()
        .map(|l| json(l)["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        types.first().map(String::as_str) == Some("Created") && types.iter().any(|t| t == "Scaled"),
        "{types:?}"
    );
    let (code, out, err) = debug(dir.path(), &url, &["verify"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with("the projections match the log\n"), "{out}");
    let (code, out, err) = debug(dir.path(), &url, &["replay", "--check-workers"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = debug(dir.path(), &url, &["status", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let status = json(&out);
    assert!(
        status["databaseBytes"].as_u64().unwrap_or(0) > 0,
        "{status}"
    );
    assert_eq!(status["walBytes"], Value::Null, "{status}");
    assert!(
        !status["database"].as_str().unwrap_or_default().is_empty(),
        "{status}"
    );
    let newest = status["newestResourceVersion"]
        .as_i64()
        .expect("a newest rv");

    // Replayed into a SQLite data directory: the same log up to that point, as SQLite keeps it.
    let copy = scratch.path().join("replay");
    let (code, out, err) = debug(
        dir.path(),
        &url,
        &[
            "replay",
            "--until",
            &newest.to_string(),
            "--into",
            &copy.display().to_string(),
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let replayed = json(&out);
    assert_eq!(replayed["untilResourceVersion"], newest, "{replayed}");
    assert!(copy.join("state.db").exists());
    let (code, out, err) = kubetrail_sqlite(&copy, &["verify"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kubetrail_sqlite(&copy, &["status", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let copied = json(&out);
    assert_eq!(copied["newestResourceVersion"], newest, "{copied}");
    assert_eq!(copied["events"], replayed["events"], "{copied}");
    let (code, text, err) = kubetrail_sqlite(&copy, &["history", "rs/echo-rs"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("        ~ spec.replicas: 3 -> 5\n"), "{text}");

    // Restarted on the same database: the same objects at the same resourceVersions.
    let before = versions(&kubectl).await;
    assert_eq!(
        before.keys().filter(|k| k.starts_with("Pod/")).count(),
        5,
        "{before:?}"
    );
    server.terminate();
    drop(server);
    let server = start(dir.path(), &url, &log);
    let kubectl = Kubectl::new(&server.kubeconfig);
    assert_eq!(versions(&kubectl).await, before);
    let last_before = *before.values().max().expect("objects");

    // It carries on: a deleted pod's replacement comes after everything before the restart.
    let victim = scaled.iter().next().expect("a pod").clone();
    kubectl.ok(&["delete", "pod", &victim]).await;
    let after = echo_running(&kubectl, 5).await;
    let newcomer = after.difference(&scaled).next().expect("a new pod").clone();
    let now = versions(&kubectl).await;
    let rv = now[&format!("Pod/{newcomer}")];
    assert!(
        rv > last_before && rv > newest,
        "the new pod's resourceVersion {rv} follows the log before the restart ({newest})"
    );

    // Deleting the ReplicaSet takes its pods with it.
    assert!(
        kubectl
            .ok(&["delete", "rs", "echo-rs"])
            .await
            .contains("replicaset.apps \"echo-rs\" deleted")
    );
    until("the pods are gone", Duration::from_secs(60), || async {
        echo_pods(&kubectl).await.is_empty()
    })
    .await;
    let (code, out, err) = debug(dir.path(), &url, &["verify"]).await;
    assert_eq!(code, 0, "{out}{err}");

    // Compacted beside the server (the default selection), then replayed: the copy is
    // compacted at the same point, and both match their projections.
    let (code, out, err) = debug(
        dir.path(),
        &url,
        &[
            "compact",
            "--through-resource-version",
            &newest.to_string(),
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let compacted = json(&out);
    assert_eq!(
        compacted["compactionResourceVersion"], newest,
        "{compacted}"
    );
    assert!(
        compacted["eventsRemoved"].as_i64().unwrap_or(0) > 0,
        "{compacted}"
    );
    let (code, out, err) = debug(dir.path(), &url, &["verify"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = debug(dir.path(), &url, &["status", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let status = json(&out);
    assert_eq!(status["compactionResourceVersion"], newest, "{status}");
    let last = status["newestResourceVersion"]
        .as_i64()
        .expect("a newest rv");
    let again = scratch.path().join("replay-compacted");
    let (code, out, err) = debug(
        dir.path(),
        &url,
        &[
            "replay",
            "--until",
            &last.to_string(),
            "--into",
            &again.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kubetrail_sqlite(&again, &["verify"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kubetrail_sqlite(&again, &["status", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let copied = json(&out);
    assert_eq!(copied["compactionResourceVersion"], newest, "{copied}");
    assert_eq!(copied["newestResourceVersion"], last, "{copied}");
    drop(server);
}

/// `kubetrail ARGS --data-dir DIR` on a SQLite data directory.
async fn kubetrail_sqlite(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<&str> = args.to_vec();
    let dir = dir.display().to_string();
    all.extend(["--data-dir", dir.as_str()]);
    run(&all).await
}

#[tokio::test]
async fn a_database_url_that_is_not_postgresql_or_cannot_be_reached_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("data dir");
    let data = dir.path().display().to_string();
    let (code, _, err) = run(&[
        "verify",
        "--data-dir",
        &data,
        "--database",
        "mysql://kt:hunter2@db.example/kubetrail",
    ])
    .await;
    assert_ne!(code, 0);
    assert!(err.contains("not a PostgreSQL URL"), "{err}");
    assert!(
        !err.contains("hunter2"),
        "the password is never printed: {err}"
    );

    // A server that is not there: the URL without its password, and the driver's reason.
    let missing = scratch_socket_url();
    let (code, _, err) = run(&[
        "history",
        "rs/x",
        "--data-dir",
        &data,
        "--database",
        &missing,
    ])
    .await;
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot connect to the PostgreSQL database postgres://kt@localhost/kubetrail"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2"),
        "the password is never printed: {err}"
    );
    let mut serve = kubetrail(&["serve", "--listen", "127.0.0.1:0", "--no-docker-node"]);
    serve.arg("--no-service-network");
    serve.args(["--data-dir", &data, "--database", &missing]);
    let out = tokio::task::spawn_blocking(move || serve.output().expect("kubetrail runs"))
        .await
        .expect("ran");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("opening the PostgreSQL database postgres://kt@localhost/kubetrail"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2"),
        "the password is never printed: {err}"
    );
}

/// A URL with a password whose socket directory holds no server.
fn scratch_socket_url() -> String {
    let empty = std::env::temp_dir().join(format!("kubetrail-no-pg-{}", std::process::id()));
    format!(
        "postgres://kt:hunter2@localhost/kubetrail?host={}",
        empty.display()
    )
}
