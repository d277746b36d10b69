//! Schemathesis against the OpenAPI v3 documents a real `kubetrail serve` serves: for each
//! group-version document with operations, a fixed number of generated requests per operation
//! (fixed seed), sent with the token over TLS. No answer may be a 5xx, and the server must be
//! alive, ready and writable at the end.
//!
//! Schemathesis comes from PyPI: `scripts/test` installs it into a venv and sets
//! `KUBETRAIL_SCHEMATHESIS` to its `st`. `KUBETRAIL_SCHEMATHESIS_EXAMPLES` changes the number
//! of cases per operation and `KUBETRAIL_SCHEMATHESIS_PHASES` the phases (docs/hostile-input.md
//! has a longer run with the coverage phase).

use crate::support::binary::{Server, tail};
use crate::support::http::answer;
use crate::support::turn;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// Generated cases per operation in the default run: about two minutes on two cores.
const EXAMPLES: u32 = 50;
const SEED: &str = "20261202";

/// Objects the hooks (`scripts/schemathesis-hooks.py`) point half of the cases at, so bodies
/// and updates get past "namespace not found".
fn fixtures() -> Vec<(&'static str, Value)> {
    let containers = json!([{"name": "c", "image": "busybox:1.36"}]);
    vec![
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fixture"}}),
        ),
        (
            "/api/v1/nodes",
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fixture"}}),
        ),
        (
            "/api/v1/namespaces/default/pods",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fixture"},
                   "spec": {"containers": containers}}),
        ),
        (
            "/apis/apps/v1/namespaces/default/replicasets",
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "fixture"},
                   "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "fixture"}},
                            "template": {"metadata": {"labels": {"app": "fixture"}},
                                         "spec": {"containers": containers}}}}),
        ),
        (
            "/api/v1/namespaces/default/events",
            json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "fixture"},
                   "involvedObject": {"kind": "Pod", "namespace": "default", "name": "fixture"},
                   "reason": "Fixture", "message": "made for the schemathesis run"}),
        ),
    ]
}

/// Run `st` on one document from `work` (where it keeps its example database); its exit
/// status and output.
fn run_schemathesis(
    st: &str,
    server: &Server,
    dir: &Path,
    work: &Path,
    group_version: &str,
) -> (bool, String) {
    let examples = std::env::var("KUBETRAIL_SCHEMATHESIS_EXAMPLES")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(EXAMPLES);
    let phases = std::env::var("KUBETRAIL_SCHEMATHESIS_PHASES")
        .unwrap_or_else(|_| "examples,fuzzing".to_string());
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/schemathesis-hooks.py");
    let out = Command::new(st)
        .arg("run")
        .arg(format!("{}/openapi/v3/{group_version}", server.url))
        .args(["--url", &server.url])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", server.token),
        ])
        .arg("--tls-verify")
        .arg(dir.join("ca.crt"))
        .args(["--checks", "not_a_server_error"])
        .args(["--phases", &phases])
        .args(["--max-examples", &examples.to_string()])
        .args(["--seed", SEED])
        .args(["--workers", "2"])
        .args(["--request-timeout", "20"])
        .arg("--continue-on-failure")
        .arg("--no-color")
        .current_dir(work)
        .env("SCHEMATHESIS_HOOKS", hooks)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("running {st}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_from_the_served_openapi_never_get_a_server_error() {
    let st = std::env::var("KUBETRAIL_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!(
            "KUBETRAIL_SCHEMATHESIS is unset: it names schemathesis's `st` command. \
             scripts/test installs schemathesis from PyPI into a venv and sets it; or run \
             `python3 -m venv V && V/bin/pip install schemathesis` and set \
             KUBETRAIL_SCHEMATHESIS=V/bin/st"
        )
    });
    // About two minutes of generated requests on two cores: nothing else runs beside them.
    turn::alone();
    let dir = tempfile::tempdir().expect("data dir");
    let logs = tempfile::tempdir().expect("log dir");
    let log = logs.path().join("server.log");
    let mut server = Server::start(dir.path(), &log);
    for (path, object) in fixtures() {
        let (code, body) = answer(server.request(reqwest::Method::POST, path).json(&object))
            .await
            .expect("fixture created");
        assert_eq!(code, 201, "fixture at {path}: {body}");
    }

    let (code, index) = server.get("/openapi/v3").await;
    assert_eq!(code, 200, "/openapi/v3: {index}");
    let group_versions: Vec<String> = index["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    assert!(
        group_versions.iter().any(|gv| gv == "api/v1"),
        "the core group is served: {group_versions:?}"
    );
    let mut failures = Vec::new();
    let mut tested = Vec::new();
    for group_version in &group_versions {
        let (_, document) = server.get(&format!("/openapi/v3/{group_version}")).await;
        if document["paths"].as_object().is_none_or(|p| p.is_empty()) {
            // A document of schemas only (autoscaling/v1's Scale): nothing to call.
            continue;
        }
        let (passed, output) =
            run_schemathesis(&st, &server, dir.path(), logs.path(), group_version);
        let summary: Vec<&str> = output
            .lines()
            .filter(|l| l.contains(" generated, "))
            .collect();
        eprintln!("{group_version}: {}", summary.join(" ").trim());
        tested.push(group_version.clone());
        if !passed {
            failures.push(format!("--- {group_version} ---\n{output}"));
        }
    }
    assert!(
        tested.len() >= 3,
        "core, apps and kubetrail.dev were tested: {tested:?}"
    );
    assert!(
        failures.is_empty(),
        "schemathesis found answers with 5xx (or could not run):\n{}\nserver log:\n{}",
        failures.join("\n"),
        tail(&log)
    );

    // Alive, ready and writable after every generated request.
    assert!(
        matches!(server.child.try_wait(), Ok(None)),
        "the server is still running; its log:\n{}",
        tail(&log)
    );
    let (code, body) = server.get("/readyz").await;
    assert_eq!(code, 200, "/readyz: {body}");
    let (code, body) = answer(
        server
            .request(reqwest::Method::POST, "/api/v1/namespaces")
            .json(&json!({"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": "after-schemathesis"}})),
    )
    .await
    .expect("answered");
    assert_eq!(code, 201, "a normal write after the run: {body}");
}
