//! `kubetrail migrate --to`: a cluster's log moved from its SQLite data directory into an
//! empty PostgreSQL database and back into a new data directory, through the real binary.
//! Each copy verifies clean, gives the same `events` and `history` as its source, and serves
//! the Secret written before the move; a second migrate into a database that now holds the
//! log is refused and changes nothing; so are a bad `--to`, an unreachable database, a
//! source a server is running on and one whose Secrets its data directory cannot open.

use crate::support::app::{TestApp, pod, start_in};
use crate::support::binary::{kubetrail, run, run_command};
use crate::support::postgres;
use serde_json::{Value, json};
use std::path::Path;

/// `kubetrail ARGS --data-dir DIR [--database URL]`: (exit code, stdout, stderr).
async fn on(dir: &Path, url: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut command = kubetrail(args);
    command.arg("--data-dir").arg(dir);
    if let Some(url) = url {
        command.args(["--database", url]);
    }
    command.env_remove("KUBETRAIL_DATABASE");
    run_command(command).await
}

/// What the debugging commands print of the log in `dir` (or the database at `url`): every
/// event as JSON, and the history of the objects the test wrote.
async fn outputs(dir: &Path, url: Option<&str>) -> Vec<String> {
    let mut all = Vec::new();
    for args in [
        vec!["events", "-o", "json"],
        vec!["history", "pod/a", "-o", "json"],
        vec!["history", "pod/b", "-o", "json"],
        vec!["history", "secret/db", "-o", "json"],
        vec!["history", "configmap/settings", "-o", "json"],
    ] {
        let (code, out, err) = on(dir, url, &args).await;
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(!out.trim().is_empty(), "{args:?} printed nothing");
        all.push(out);
    }
    all
}

/// `verify` on the log is clean.
async fn assert_clean(dir: &Path, url: Option<&str>) {
    let (code, out, err) = on(dir, url, &["verify"]).await;
    assert_eq!(code, 0, "verify: {out}\n{err}");
    assert!(out.contains("the projections match the log"), "{out}");
}

/// The Secret as a server on `dir` (with its log at `url`) serves it; the server stops after.
async fn served_secret(dir: tempfile::TempDir, url: Option<&str>) -> (Value, tempfile::TempDir) {
    let url = url.map(str::to_string);
    let app = start_in(dir, |settings| settings.database_url = url).await;
    let read = app.get("/api/v1/namespaces/default/secrets/db").await;
    assert_eq!(read.status, 200, "{}", read.text);
    (read.body, app.stop().await)
}

/// Pods, a Secret (updated), a ConfigMap, a deleted pod.
async fn write(app: &TestApp) {
    for name in ["a", "b"] {
        let created = app.create_pod("default", &pod(name)).await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let secret = app
        .post(
            "/api/v1/namespaces/default/secrets",
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                    "stringData": {"password": "first-password", "user": "app"}}),
        )
        .await;
    assert_eq!(secret.status, 201, "{}", secret.text);
    let patched = app
        .patch(
            "/api/v1/namespaces/default/secrets/db",
            "application/merge-patch+json",
            &json!({"stringData": {"password": "second-password"}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let configmap = app
        .post(
            "/api/v1/namespaces/default/configmaps",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                    "data": {"mode": "fast"}}),
        )
        .await;
    assert_eq!(configmap.status, 201, "{}", configmap.text);
    let deleted = app
        .delete(
            "/api/v1/namespaces/default/pods/b?gracePeriodSeconds=0",
            None,
        )
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.text);
}

#[tokio::test]
async fn a_log_moves_to_postgresql_and_back_verified_with_its_secrets_and_is_never_mixed() {
    // A cluster on SQLite, written to and stopped, its history compacted once.
    let app = start_in(tempfile::tempdir().expect("data dir"), |_| {}).await;
    write(&app).await;
    let through = app.latest_rv().await - 1;
    let (original, dir) = served_secret(app.stop().await, None).await;
    assert_eq!(original["data"]["password"], "c2Vjb25kLXBhc3N3b3Jk");
    let through = through.to_string();
    let (code, _, err) = on(
        dir.path(),
        None,
        &["compact", "--through-resource-version", &through],
    )
    .await;
    assert_eq!(code, 0, "compact: {err}");
    let sqlite = outputs(dir.path(), None).await;

    // Into an empty PostgreSQL database, its keys staying in the data directory.
    let url = postgres::new_database().await;
    let (code, out, err) = on(dir.path(), None, &["migrate", "--to", &url]).await;
    assert_eq!(code, 0, "migrate: {out}\n{err}");
    assert!(out.contains("; verify: clean"), "{out}");
    assert!(
        out.contains("compactions recorded as the source's: 1"),
        "{out}"
    );
    assert!(out.contains("secrets: 1 open"), "{out}");
    let events: Vec<Value> = sqlite[0]
        .lines()
        .map(|l| serde_json::from_str(l).expect("an event as JSON"))
        .collect();
    let last = events.last().expect("events")["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string();
    assert!(
        out.contains(&format!(
            "migrated {} events (resourceVersions 1..{last}) into postgres://",
            events.len()
        )),
        "{out}"
    );
    assert_clean(dir.path(), Some(&url)).await;
    assert_eq!(outputs(dir.path(), Some(&url)).await, sqlite);

    // A server on the PostgreSQL database serves the Secret written before the move; while it
    // runs, its data directory cannot be migrated.
    let moved_url = url.clone();
    let app = start_in(dir, move |settings| settings.database_url = Some(moved_url)).await;
    let read = app.get("/api/v1/namespaces/default/secrets/db").await;
    assert_eq!(read.body, original, "{}", read.text);
    let elsewhere = tempfile::tempdir().expect("another dir");
    let target = elsewhere.path().join("copy").display().to_string();
    let (code, _, err) = on(app.dir.path(), Some(&url), &["migrate", "--to", &target]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("a server (pid {})", std::process::id())),
        "{err}"
    );
    assert!(!elsewhere.path().join("copy").exists(), "nothing written");
    let dir = app.stop().await;
    let postgresql = outputs(dir.path(), Some(&url)).await;

    // Back into a new data directory: the same log again, and the Secret opens there.
    let back = tempfile::tempdir().expect("new data dir");
    let back_dir = back.path().display().to_string();
    let (code, out, err) = on(
        dir.path(),
        Some(&url),
        &["migrate", "--to", &back_dir, "-o", "json"],
    )
    .await;
    assert_eq!(code, 0, "migrate back: {out}\n{err}");
    let summary: Value = serde_json::from_str(out.trim()).expect("JSON summary");
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["verify"]["ok"], true, "{summary}");
    assert!(back.path().join("encryption-keys.json").exists());
    assert_clean(back.path(), None).await;
    assert_eq!(outputs(back.path(), None).await, postgresql);
    let (secret, _back) = served_secret(back, None).await;
    assert_eq!(secret, read.body);

    // A second migrate into the database, which now holds the log: refused, nothing changed.
    let (code, out, err) = on(dir.path(), None, &["migrate", "--to", &url]).await;
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("already holds a log"), "{err}");
    assert!(err.contains("changed nothing"), "{err}");
    assert_eq!(outputs(dir.path(), Some(&url)).await, postgresql);
    assert_clean(dir.path(), Some(&url)).await;

    // The log read with a data directory that lacks its keys: refused before the copy.
    let keyless = tempfile::tempdir().expect("a directory without keys");
    let target = keyless.path().join("copy").display().to_string();
    let (code, _, err) = on(keyless.path(), Some(&url), &["migrate", "--to", &target]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("the source's Secrets do not open with the keys of its data directory"),
        "{err}"
    );
    assert!(!keyless.path().join("copy").exists(), "nothing written");

    // A --to that is no PostgreSQL URL, or a database that cannot be reached: refused, the
    // password never printed.
    let (code, _, err) = on(
        dir.path(),
        None,
        &["migrate", "--to", "mysql://kt:hunter2@db.example/kubetrail"],
    )
    .await;
    assert_ne!(code, 0);
    assert!(err.contains("not a PostgreSQL URL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let (code, _, err) = run(&[
        "migrate",
        "--data-dir",
        &dir.path().display().to_string(),
        "--to",
        "postgres://kt:hunter2@127.0.0.1:1/kubetrail",
    ])
    .await;
    assert_ne!(code, 0);
    assert!(
        err.contains(
            "cannot connect to the PostgreSQL database postgres://kt@127.0.0.1:1/kubetrail"
        ),
        "{err}"
    );
    assert!(
        err.contains("Connection refused"),
        "the driver's reason: {err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}
