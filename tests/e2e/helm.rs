//! Helm 4 against the server: charts installed with Helm's own Go SDK (v4, through
//! `helm-python-sdk`'s C ABI; `tests/helm/install.py`), which renders, validates and creates
//! the chart's objects as `helm install` does. Release records stay in Helm's memory driver
//! until Secrets are served.

use crate::support::app::{TestApp, start_with_workers};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The Python with helm-python-sdk (`$KUBETRAIL_HELM_PYTHON`, set by scripts/test).
fn helm_python() -> String {
    std::env::var("KUBETRAIL_HELM_PYTHON").unwrap_or_else(|_| {
        panic!(
            "KUBETRAIL_HELM_PYTHON is unset: it names a python with helm-python-sdk (Helm 4's Go \
             SDK). scripts/test installs it into a venv; or run `python3 -m venv V && \
             V/bin/pip install helm-python-sdk` and set KUBETRAIL_HELM_PYTHON=V/bin/python"
        )
    })
}

/// Install `chart` (under tests/helm/charts) as `release`: the script's JSON answer.
async fn install(app: &TestApp, chart: &str, release: &str, sets: &[&str]) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm");
    let mut command = std::process::Command::new(helm_python());
    command
        .arg(dir.join("install.py"))
        .arg(&app.kubectl.kubeconfig)
        .arg(dir.join("charts").join(chart))
        .arg(release)
        .args(sets);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("ran")
        .expect("the helm script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("one JSON line")
}

#[tokio::test]
async fn helm_4_installs_a_chart_and_refuses_one_with_an_unknown_field() {
    let app = start_with_workers(tempfile::tempdir().expect("dir"), |s| {
        s.workers.simulated_nodes = 1;
        s.workers.simulated_start_delay = Duration::from_millis(50);
    })
    .await;
    let installed = install(&app, "echo", "web", &["replicas=2"]).await;
    assert_eq!(installed["installed"], "web", "{installed}");
    assert!(
        installed["sdk"]
            .as_str()
            .is_some_and(|v| v.starts_with("v4.")),
        "{installed}"
    );
    let rs = app
        .get("/apis/apps/v1/namespaces/default/replicasets/web-rs")
        .await;
    assert_eq!(rs.status, 200, "{}", rs.text);
    assert_eq!(rs.body["spec"]["replicas"], 2);
    assert_eq!(
        rs.body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm",
        "{}",
        rs.text
    );

    let refused = install(&app, "misspelt", "bad", &[]).await;
    assert_eq!(refused["error"], "HelmReleaseError", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field \"spec.replicaz\"")),
        "{refused}"
    );
    let absent = app
        .get("/apis/apps/v1/namespaces/default/replicasets/bad-rs")
        .await;
    assert_eq!(absent.status, 404, "a refused chart creates nothing");
}
