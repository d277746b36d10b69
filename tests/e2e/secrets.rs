//! Secrets at rest: no file of the data directory holds a Secret's value (plain or base64,
//! including what `kubectl apply` keeps in its annotation) while the API, a watch from the
//! start of the log and an Exact list still give it; `history`, `logentries` and the
//! `events` command say which keys changed and their sizes, never the values; `verify`,
//! `rebuild` and `replay --into` (which brings the keys along) keep working.

use crate::support::app::{TestApp, spawn_app};
use crate::support::binary::{Serve, run as kubetrail};
use crate::support::http::answer;
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::Path;

const FIRST: &str = "first-s3cr3t-of-the-at-rest-test";
const SECOND: &str = "second-s3cr3t-of-the-at-rest-test";

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        if let Ok(bytes) = std::fs::read(&entry)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(entry.display().to_string());
        }
    }
    found
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn assert_nowhere_at_rest(dir: &Path) {
    for value in [FIRST, SECOND] {
        for needle in [value.to_string(), b64(value)] {
            assert_eq!(
                files_holding(dir, &needle),
                Vec::<String>::new(),
                "{needle}"
            );
        }
    }
}

async fn write_secret(app: &TestApp) {
    let created = app
        .post(
            "/api/v1/namespaces/default/secrets",
            &json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "db", "labels": {"app": "db"}, "annotations": {
                        "kubectl.kubernetes.io/last-applied-configuration":
                            format!("{{\"stringData\":{{\"password\":\"{FIRST}\"}}}}")}},
                    "stringData": {"password": FIRST, "user": "app"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let patched = app
        .patch(
            "/api/v1/namespaces/default/secrets/db",
            "application/merge-patch+json",
            &json!({"stringData": {"password": SECOND}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
}

#[tokio::test]
async fn no_file_holds_a_secret_value_yet_the_api_gives_it() {
    let app = spawn_app().await;
    write_secret(&app).await;
    let read = app.get("/api/v1/namespaces/default/secrets/db").await;
    assert_eq!(read.body["data"]["password"], b64(SECOND), "{}", read.text);
    let listed = app
        .get("/api/v1/namespaces/default/secrets?labelSelector=app%3Ddb")
        .await;
    assert_eq!(listed.body["items"][0]["data"]["user"], b64("app"));
    // The first version, from the log: an Exact list and a watch from the start.
    let first_rv = {
        let entries = app
            .get("/apis/kubetrail.dev/v1alpha1/logentries?kind=Secret&name=db")
            .await;
        entries.body["items"][0]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let then = app
        .get(&format!(
            "/api/v1/namespaces/default/secrets?resourceVersion={first_rv}&resourceVersionMatch=Exact"
        ))
        .await;
    assert_eq!(
        then.body["items"][0]["data"]["password"],
        b64(FIRST),
        "{}",
        then.text
    );
    let watched = app
        .get("/api/v1/namespaces/default/secrets?watch=true&resourceVersion=1&timeoutSeconds=1")
        .await;
    assert!(watched.text.contains(&b64(FIRST)), "{}", watched.text);
    assert!(watched.text.contains(&b64(SECOND)), "{}", watched.text);

    let dir = app.stop().await;
    assert_nowhere_at_rest(dir.path());
    // A key file exists, private, and the log names it.
    let keys = dir.path().join("encryption-keys.json");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn the_logs_views_say_what_changed_never_the_values() {
    let app = spawn_app().await;
    write_secret(&app).await;
    let history = app
        .get("/apis/kubetrail.dev/v1alpha1/namespaces/default/history/secrets/db")
        .await;
    let entries = app
        .get("/apis/kubetrail.dev/v1alpha1/logentries?kind=Secret&name=db")
        .await;
    for text in [&history.text, &entries.text] {
        assert!(!text.contains(FIRST) && !text.contains(SECOND), "{text}");
        assert!(
            !text.contains(&b64(FIRST)) && !text.contains(&b64(SECOND)),
            "{text}"
        );
    }
    let changes: Vec<Value> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(
        changes.contains(&json!({"op": "change", "path": "data.password",
            "from": format!("(redacted, {} bytes)", FIRST.len()),
            "to": format!("(redacted, {} bytes)", SECOND.len())})),
        "{}",
        history.text
    );
    let object = &entries.body["items"][0]["object"];
    assert_eq!(
        object["data"]["password"],
        format!("(redacted, {} bytes)", FIRST.len())
    );
    assert_eq!(object["metadata"]["labels"]["app"], "db");

    let dir = app.stop().await;
    let data = dir.path().display().to_string();
    let (code, out, err) = kubetrail(&["history", "secret/db", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("data.password: (redacted"), "{out}");
    let (code, out, err) = kubetrail(&["events", "--data-dir", &data, "-o", "json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(FIRST) && !out.contains(&b64(SECOND)), "{out}");
}

#[tokio::test]
async fn verify_rebuild_and_replay_work_on_sealed_secrets() {
    let app = spawn_app().await;
    write_secret(&app).await;
    let entries = app
        .get("/apis/kubetrail.dev/v1alpha1/logentries?kind=Secret&name=db")
        .await;
    let first_rv = entries.body["items"][0]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = app.stop().await;
    let data = dir.path().display().to_string();
    let (code, out, err) = kubetrail(&["verify", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kubetrail(&["rebuild", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kubetrail(&["verify", "--data-dir", &data]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_nowhere_at_rest(dir.path());

    // A replay of the log up to the first version, served read-only: its Secret opens.
    let into = tempfile::tempdir().unwrap();
    let sandbox = into.path().join("sandbox");
    let sandbox_arg = sandbox.display().to_string();
    let (code, out, err) = kubetrail(&[
        "replay",
        "--data-dir",
        &data,
        "--until",
        &first_rv,
        "--into",
        &sandbox_arg,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert_nowhere_at_rest(&sandbox);
    let (code, out, err) = kubetrail(&["verify", "--data-dir", &sandbox_arg]).await;
    assert_eq!(code, 0, "{out}{err}");
    let server = Serve::new(&sandbox)
        .args(&["--read-only", "--no-docker-node"])
        .start();
    let (status, secret) = answer(server.request(
        reqwest::Method::GET,
        "/api/v1/namespaces/default/secrets/db",
    ))
    .await
    .unwrap();
    assert_eq!(status, 200, "{secret}");
    assert_eq!(secret["data"]["password"], b64(FIRST));
}
