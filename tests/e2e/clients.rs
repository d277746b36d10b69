//! The client matrix: real Kubernetes client libraries against a fresh server with a simulated
//! node, each through the kubeconfig the server writes (HTTPS, its CA, its token). Each runs a
//! short script (tests/clients/) on a ConfigMap of list, watch resumed from the list's
//! resourceVersion and again from the last one seen, create, patch (merge, strategic, JSON
//! where the client has them), server-side apply where it has it, and delete, asserting what
//! it reads back: the Python `kubernetes` client, lightkube, kr8s, `@kubernetes/client-node`
//! 1.4, kube-rs (`kube` 5 with its runtime's `watcher` and a `Controller`, here in Rust) and
//! kubectl 1.20. kopf runs a tiny operator standalone that reacts to ConfigMaps.
//!
//! The interpreters come from the test command (scripts/test), by environment variable:
//! `KUBETRAIL_KUBERNETES_PYTHON`, `KUBETRAIL_CLIENTS_PYTHON` (lightkube, kr8s, kopf),
//! `KUBETRAIL_CLIENT_NODE_MODULES` and `KUBETRAIL_KUBECTL_120`.

use crate::support::app::{TestApp, start_with_workers};
use crate::support::kubectl::{Kubectl, kubectl_120_binary};
use crate::support::wait::until;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Every step of a client with all of them, in the order the scripts print them.
const ALL_STEPS: [&str; 9] = [
    "list",
    "create",
    "watch from the list's resourceVersion",
    "merge patch",
    "strategic merge patch",
    "json patch",
    "server-side apply",
    "watch resumed from the last resourceVersion seen",
    "delete",
];

/// How long one client's script may take, start to end.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

async fn cluster() -> TestApp {
    start_with_workers(tempfile::tempdir().expect("dir"), |s| {
        s.workers.simulated_nodes = 1;
        s.workers.simulated_start_delay = Duration::from_millis(50);
    })
    .await
}

/// An interpreter or directory the test command names in `var`.
fn from_env(var: &str, what: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is unset: it names {what}. scripts/test installs it and sets {var}")
    })
}

fn clients_python() -> String {
    from_env(
        "KUBETRAIL_CLIENTS_PYTHON",
        "a Python with lightkube, kr8s and kopf (a venv)",
    )
}

/// `tests/clients/NAME` as an argument.
fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

/// Run a client's script to its end: the steps it reported (`ok: STEP` lines), after asserting
/// that it succeeded within `SCRIPT_TIMEOUT`.
async fn steps(program: &str, args: &[String]) -> Vec<String> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} still runs after {SCRIPT_TIMEOUT:?}"))
        .expect("the script ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{program} {args:?}: {}\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("ok: "))
        .map(str::to_string)
        .collect()
}

fn kubeconfig(app: &TestApp) -> String {
    app.kubectl.kubeconfig.display().to_string()
}

#[tokio::test]
async fn the_python_kubernetes_client_lists_watches_patches_applies_and_deletes() {
    let python = from_env(
        "KUBETRAIL_KUBERNETES_PYTHON",
        "a Python with the `kubernetes` package",
    );
    let app = cluster().await;
    let args = [
        script("kubernetes_python.py").display().to_string(),
        kubeconfig(&app),
        "kubernetes-python".to_string(),
    ];
    assert_eq!(steps(&python, &args).await, ALL_STEPS);
}

#[tokio::test]
async fn lightkube_lists_watches_patches_applies_and_deletes() {
    let app = cluster().await;
    let args = [
        script("lightkube_client.py").display().to_string(),
        kubeconfig(&app),
        "lightkube".to_string(),
    ];
    assert_eq!(steps(&clients_python(), &args).await, ALL_STEPS);
}

#[tokio::test]
async fn kr8s_lists_watches_patches_and_deletes() {
    let app = cluster().await;
    let args = [
        script("kr8s_client.py").display().to_string(),
        kubeconfig(&app),
        "kr8s".to_string(),
    ];
    // kr8s sends merge and JSON patches only, and has no server-side apply.
    let expected: Vec<&str> = ALL_STEPS
        .into_iter()
        .filter(|s| !matches!(*s, "strategic merge patch" | "server-side apply"))
        .collect();
    assert_eq!(steps(&clients_python(), &args).await, expected);
}

#[tokio::test]
async fn client_node_lists_watches_patches_applies_and_deletes() {
    let modules = from_env(
        "KUBETRAIL_CLIENT_NODE_MODULES",
        "the node_modules directory holding @kubernetes/client-node 1.4",
    );
    let app = cluster().await;
    let args = [
        script("client_node.mjs").display().to_string(),
        modules,
        kubeconfig(&app),
        "client-node".to_string(),
    ];
    assert_eq!(steps("node", &args).await, ALL_STEPS);
}

/// A ConfigMap's annotation `kubetrail.dev/greeting`, once it equals `want`.
async fn greeting_becomes(app: &TestApp, name: &str, want: &str) {
    let path = format!("/api/v1/namespaces/default/configmaps/{name}");
    until(
        &format!("kopf copies the greeting {want:?} into {name}"),
        Duration::from_secs(60),
        || async {
            app.get(&path).await.body["metadata"]["annotations"]["kubetrail.dev/greeting"] == want
        },
    )
    .await;
}

#[tokio::test]
async fn a_kopf_operator_runs_standalone_and_reacts_to_configmaps() {
    let app = cluster().await;
    let log_path = app.dir.path().join("kopf.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut operator = tokio::process::Command::new(clients_python())
        .args([
            "-m",
            "kopf",
            "run",
            "--standalone",
            "--namespace",
            "default",
        ])
        .arg(script("kopf_operator.py"))
        .env("KUBECONFIG", &app.kubectl.kubeconfig)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("kopf runs");
    let cm = |name: &str, labels: Value, greeting: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "labels": labels},
               "data": {"greeting": greeting}})
    };
    let path = "/api/v1/namespaces/default/configmaps";
    let greeted = app
        .post(
            path,
            &cm("greeted", json!({"kubetrail.dev/greet": "yes"}), "hello"),
        )
        .await;
    assert_eq!(greeted.status, 201, "{}", greeted.text);
    let ignored = app.post(path, &cm("ignored", json!({}), "hi")).await;
    assert_eq!(ignored.status, 201, "{}", ignored.text);

    let reacted = tokio::time::timeout(Duration::from_secs(90), async {
        greeting_becomes(&app, "greeted", "hello").await;
        let changed = app
            .patch(
                &format!("{path}/greeted"),
                "application/merge-patch+json",
                &json!({"data": {"greeting": "bonjour"}}),
            )
            .await;
        assert_eq!(changed.status, 200, "{}", changed.text);
        greeting_becomes(&app, "greeted", "bonjour").await;
    })
    .await;
    let _ = operator.start_kill();
    let _ = operator.wait().await;
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(reacted.is_ok(), "kopf did not react in 90 s:\n{log}");
    assert!(
        log.contains("copied greeting 'hello'") && log.contains("copied greeting 'bonjour'"),
        "{log}"
    );
    let untouched = app.get(&format!("{path}/ignored")).await;
    assert_eq!(
        untouched.body["metadata"]["annotations"]["kubetrail.dev/greeting"],
        Value::Null,
        "a ConfigMap without the label is left alone: {}",
        untouched.text
    );
}

mod kube_rs {
    //! kube-rs (`kube` 5) on a ConfigMap: the client's list, raw watches resumed by
    //! resourceVersion, patches and server-side apply, its runtime's `watcher`, and a
    //! `Controller` that copies the `greeting` data key into an annotation.

    use super::*;
    use futures_util::{StreamExt, TryStreamExt};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{
        Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
    };
    use kube::runtime::controller::{Action, Controller};
    use kube::runtime::watcher;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    const NAME: &str = "kube-rs";
    const GREETING: &str = "kubetrail.dev/greeting";

    async fn client(app: &TestApp) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&app.kubectl.kubeconfig).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("config from the kubeconfig");
        kube::Client::try_from(config).expect("client")
    }

    /// Watch the ConfigMap from `rv` until `done`; every event seen on the way (bookmarks
    /// left out).
    async fn events_until(
        cms: &Api<ConfigMap>,
        rv: &str,
        done: impl Fn(&WatchEvent<ConfigMap>) -> bool,
    ) -> Vec<WatchEvent<ConfigMap>> {
        let params = WatchParams::default()
            .fields(&format!("metadata.name={NAME}"))
            .timeout(20);
        let mut stream = cms.watch(&params, rv).await.expect("watch").boxed();
        let mut seen = Vec::new();
        while let Some(event) = stream.try_next().await.expect("a watch event") {
            if matches!(event, WatchEvent::Bookmark(_)) {
                continue;
            }
            let last = done(&event);
            seen.push(event);
            if last {
                return seen;
            }
        }
        panic!("the watch from {rv} ended before its event: {seen:?}");
    }

    fn object(event: &WatchEvent<ConfigMap>) -> &ConfigMap {
        match event {
            WatchEvent::Added(c) | WatchEvent::Modified(c) | WatchEvent::Deleted(c) => c,
            other => panic!("not an object event: {other:?}"),
        }
    }

    fn event_rv(event: &WatchEvent<ConfigMap>) -> String {
        object(event)
            .metadata
            .resource_version
            .clone()
            .expect("an rv")
    }

    fn label(cm: &ConfigMap, key: &str) -> Option<String> {
        cm.metadata.labels.as_ref()?.get(key).cloned()
    }

    fn data(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Failed(#[from] kube::Error);

    /// The controller's reconciler: the `greeting` data key copied into an annotation.
    async fn reconcile(cm: Arc<ConfigMap>, cms: Arc<Api<ConfigMap>>) -> Result<Action, Failed> {
        let want = cm.data.as_ref().and_then(|d| d.get("greeting").cloned());
        let have = cm
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(GREETING).cloned());
        if cm.metadata.deletion_timestamp.is_none() && want.is_some() && want != have {
            let name = cm.metadata.name.clone().unwrap_or_default();
            let patch = json!({"metadata": {"annotations": {GREETING: want}}});
            cms.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        Ok(Action::await_change())
    }

    fn retry(_: Arc<ConfigMap>, _: &Failed, _: Arc<Api<ConfigMap>>) -> Action {
        Action::requeue(Duration::from_millis(200))
    }

    /// The runtime `watcher`'s stream of the ConfigMap until `done` holds for an event.
    async fn watcher_until(
        stream: &mut (
                 impl futures_util::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>>
                 + Unpin
             ),
        what: &str,
        done: impl Fn(&watcher::Event<ConfigMap>) -> bool,
    ) {
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(event) = stream.try_next().await.expect("a watcher event") {
                if done(&event) {
                    return;
                }
            }
            panic!("the watcher ended before {what}");
        })
        .await;
        assert!(found.is_ok(), "timed out: the watcher saw no {what}");
    }

    fn greeting_is(event: &watcher::Event<ConfigMap>, want: &str) -> bool {
        matches!(event, watcher::Event::Apply(c) | watcher::Event::InitApply(c)
            if c.metadata.annotations.as_ref().and_then(|a| a.get(GREETING)).map(String::as_str) == Some(want))
    }

    #[tokio::test]
    async fn kube_rs_lists_watches_patches_applies_deletes_and_runs_a_controller() {
        let app = cluster().await;
        let cms: Api<ConfigMap> = Api::namespaced(client(&app).await, "default");

        let listed = cms.list(&ListParams::default()).await.expect("list");
        assert!(
            listed
                .items
                .iter()
                .all(|c| c.metadata.name.as_deref() != Some(NAME)),
            "{:?}",
            listed.items
        );
        let rv0 = listed.metadata.resource_version.expect("a list's rv");

        let controller = tokio::spawn(
            Controller::new(
                cms.clone(),
                watcher::Config::default().labels("client=kube-rs"),
            )
            .run(reconcile, retry, Arc::new(cms.clone()))
            .for_each(|_| async {}),
        );
        let mut watched = watcher(
            cms.clone(),
            watcher::Config::default().fields(&format!("metadata.name={NAME}")),
        )
        .boxed();

        let cm: ConfigMap = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": NAME, "labels": {"client": "kube-rs"}},
            "data": {"greeting": "hello"},
        }))
        .expect("a ConfigMap");
        let created = cms
            .create(&PostParams::default(), &cm)
            .await
            .expect("create");
        assert!(created.metadata.uid.is_some());
        assert_eq!(created.data, data(&[("greeting", "hello")]));

        let seen = events_until(&cms, &rv0, |e| matches!(e, WatchEvent::Added(_))).await;
        let mut last_rv = event_rv(seen.last().expect("an event"));

        let patched = cms
            .patch(
                NAME,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"merge": "yes"}},
                                     "data": {"extra": "1"}})),
            )
            .await
            .expect("merge patch");
        assert_eq!(label(&patched, "merge").as_deref(), Some("yes"));
        assert_eq!(patched.data, data(&[("greeting", "hello"), ("extra", "1")]));

        // Strategic merge: `$patch: replace` replaces the whole map.
        let patched = cms
            .patch(
                NAME,
                &PatchParams::default(),
                &Patch::Strategic(json!({"data": {"$patch": "replace", "greeting": "hi"}})),
            )
            .await
            .expect("strategic merge patch");
        assert_eq!(patched.data, data(&[("greeting", "hi")]));

        let json_patch: json_patch_4::Patch = serde_json::from_value(json!([
            {"op": "add", "path": "/metadata/labels/json", "value": "yes"}]))
        .expect("a JSON patch");
        let patched = cms
            .patch(
                NAME,
                &PatchParams::default(),
                &Patch::<()>::Json(json_patch),
            )
            .await
            .expect("json patch");
        assert_eq!(label(&patched, "json").as_deref(), Some("yes"));

        let applied = cms
            .patch(
                NAME,
                &PatchParams::apply("kube-rs").force(),
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": NAME, "labels": {"applied": "yes"}},
                                      "data": {"applied": "yes"}})),
            )
            .await
            .expect("server-side apply");
        assert_eq!(label(&applied, "applied").as_deref(), Some("yes"));
        assert_eq!(label(&applied, "merge").as_deref(), Some("yes"));
        assert_eq!(
            applied.data,
            data(&[("greeting", "hi"), ("applied", "yes")])
        );
        let managers: Vec<_> = applied
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter_map(|m| m.manager.clone())
            .collect();
        assert!(managers.iter().any(|m| m == "kube-rs"), "{managers:?}");

        let seen = events_until(
            &cms,
            &last_rv,
            |e| matches!(e, WatchEvent::Modified(c) if label(c, "applied").is_some()),
        )
        .await;
        assert!(
            seen.iter().all(|e| matches!(e, WatchEvent::Modified(_))),
            "{seen:?}"
        );
        let datas: Vec<_> = seen.iter().map(|e| object(e).data.clone()).collect();
        assert!(
            datas.contains(&data(&[("greeting", "hello"), ("extra", "1")]))
                && datas.contains(&data(&[("greeting", "hi")])),
            "{datas:?}"
        );
        last_rv = event_rv(seen.last().expect("an event"));

        // The controller copied the greeting; a new one follows.
        watcher_until(&mut watched, "the greeting copied", |e| {
            greeting_is(e, "hi")
        })
        .await;
        cms.patch(
            NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"greeting": "bonjour"}})),
        )
        .await
        .expect("a new greeting");
        watcher_until(&mut watched, "the new greeting copied", |e| {
            greeting_is(e, "bonjour")
        })
        .await;

        cms.delete(NAME, &DeleteParams::default())
            .await
            .expect("delete");
        watcher_until(&mut watched, "the deletion", |e| {
            matches!(e, watcher::Event::Delete(_))
        })
        .await;
        events_until(&cms, &last_rv, |e| matches!(e, WatchEvent::Deleted(_))).await;
        assert!(cms.get_opt(NAME).await.expect("get").is_none());
        controller.abort();
    }
}

mod kubectl_120 {
    //! kubectl 1.20 (Debian's kubernetes-client) on a ConfigMap: list, `get -w` (a list, then a
    //! watch from the list's resourceVersion), create, patch of each type, client-side apply,
    //! a raw watch resumed from the last resourceVersion seen, delete.

    use super::*;

    const SELECTOR: &str = "client=kubectl-120";
    const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: old-kubectl
  labels:
    client: kubectl-120
data:
  greeting: hello
";

    /// Lines of `get -w` that name the ConfigMap, until one starts with `event`.
    async fn watch_lines_until(
        lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
        seen: &mut Vec<String>,
        event: &str,
    ) {
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("get -w's output") {
                let ours = line.contains("old-kubectl");
                if ours {
                    seen.push(line.clone());
                }
                if ours && line.starts_with(event) {
                    return;
                }
            }
            panic!("get -w ended before {event}: {seen:?}");
        })
        .await;
        assert!(found.is_ok(), "get -w printed no {event} line: {seen:?}");
    }

    /// `kubectl get configmap old-kubectl -o jsonpath=PATH`.
    async fn jsonpath(k: &Kubectl, path: &str) -> String {
        k.ok(&[
            "get",
            "configmap",
            "old-kubectl",
            "-o",
            &format!("jsonpath={path}"),
        ])
        .await
    }

    #[tokio::test]
    async fn kubectl_1_20_lists_watches_creates_patches_applies_and_deletes() {
        let app = cluster().await;
        let k = Kubectl::with_binary(app.kubectl.kubeconfig.clone(), kubectl_120_binary());

        let out = k.run(&["get", "configmaps", "-l", SELECTOR]).await;
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("No resources found in default namespace."),
            "{out:?}"
        );

        let mut watch = tokio::process::Command::from(k.command(&[
            "get",
            "configmaps",
            "-l",
            SELECTOR,
            "--watch",
            "--output-watch-events",
        ]));
        let mut watch = watch
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl get -w runs");
        let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();

        let out = k
            .run_with_input(
                &["create", "--save-config", "-f", "-"],
                Some(CONFIGMAP.as_bytes()),
            )
            .await;
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "configmap/old-kubectl created",
            "{out:?}"
        );
        let mut seen = Vec::new();
        watch_lines_until(&mut lines, &mut seen, "ADDED").await;

        let patch = |kind: &'static str, body: &'static str| {
            let k = &k;
            async move {
                let out = k
                    .ok(&[
                        "patch",
                        "configmap",
                        "old-kubectl",
                        "--type",
                        kind,
                        "-p",
                        body,
                    ])
                    .await;
                assert_eq!(out.trim(), "configmap/old-kubectl patched", "{kind}");
            }
        };
        patch(
            "merge",
            r#"{"metadata":{"labels":{"merge":"yes"}},"data":{"extra":"1"}}"#,
        )
        .await;
        assert_eq!(
            jsonpath(&k, "{.data}").await,
            r#"{"extra":"1","greeting":"hello"}"#
        );
        // Strategic merge: `$patch: replace` replaces the whole map.
        patch(
            "strategic",
            r#"{"data":{"$patch":"replace","greeting":"hi"}}"#,
        )
        .await;
        assert_eq!(jsonpath(&k, "{.data}").await, r#"{"greeting":"hi"}"#);
        patch(
            "json",
            r#"[{"op":"add","path":"/metadata/labels/json","value":"yes"}]"#,
        )
        .await;
        let rv = jsonpath(&k, "{.metadata.resourceVersion}").await;
        watch_lines_until(&mut lines, &mut seen, "MODIFIED").await;

        // The manifest as created, with a label and a key more: the three-way merge with what
        // `create --save-config` recorded sets what the manifest says (the greeting back to
        // hello) and keeps what others added that it never named (the labels).
        let applied = CONFIGMAP
            .replace(
                "    client: kubectl-120\n",
                "    client: kubectl-120\n    applied: \"yes\"\n",
            )
            .replace(
                "  greeting: hello\n",
                "  greeting: hello\n  applied: \"yes\"\n",
            );
        let out = k
            .run_with_input(&["apply", "-f", "-"], Some(applied.as_bytes()))
            .await;
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "configmap/old-kubectl configured",
            "{out:?}"
        );
        let out = k
            .run_with_input(&["apply", "-f", "-"], Some(applied.as_bytes()))
            .await;
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "configmap/old-kubectl unchanged",
            "{out:?}"
        );
        let labels: Value =
            serde_json::from_str(&jsonpath(&k, "{.metadata.labels}").await).expect("labels");
        assert_eq!(
            labels,
            json!({"client": "kubectl-120", "merge": "yes", "json": "yes", "applied": "yes"})
        );
        assert_eq!(
            jsonpath(&k, "{.data}").await,
            r#"{"applied":"yes","greeting":"hello"}"#
        );

        // A watch resumed from the resourceVersion read before the apply: the apply's change.
        let raw = k
            .ok(&[
                "get",
                "--raw",
                &format!(
                    "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}\
                     &fieldSelector=metadata.name%3Dold-kubectl&timeoutSeconds=2"
                ),
            ])
            .await;
        let events: Vec<Value> = raw
            .lines()
            .map(|l| serde_json::from_str(l).expect("a watch event"))
            .collect();
        assert_eq!(events.len(), 1, "{raw}");
        assert_eq!(events[0]["type"], "MODIFIED", "{raw}");
        assert_eq!(
            events[0]["object"]["data"],
            json!({"applied": "yes", "greeting": "hello"}),
            "{raw}"
        );

        let deleted = k.ok(&["delete", "configmap", "old-kubectl"]).await;
        assert_eq!(deleted.trim(), "configmap \"old-kubectl\" deleted");
        watch_lines_until(&mut lines, &mut seen, "DELETED").await;
        let _ = watch.start_kill();
        let _ = watch.wait().await;
        let out = k.run(&["get", "configmap", "old-kubectl"]).await;
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("Error from server (NotFound): configmaps \"old-kubectl\" not found"),
            "{out:?}"
        );
    }
}
