//! Deployments through real kubectl on simulated nodes: the course's Deployment chapter
//! (apply, get, describe, scale, set image, rollout status/history/undo/pause/resume/restart,
//! edit, cascading delete), a rollout that misses its progress deadline, and a watch over a
//! whole rollout checking its bounds at every resourceVersion. kubectl's own output is what
//! is asserted. The test command runs this suite with the kubectl on PATH and with 1.37.

use crate::support::app::{TestApp, start_with_workers};
use crate::support::binary::run;
use crate::support::kubectl::manifest;
use crate::support::wait::until;
use std::time::Duration;

async fn cluster(nodes: usize) -> TestApp {
    start_with_workers(tempfile::tempdir().expect("data dir"), |settings| {
        settings.workers.simulated_nodes = nodes;
        settings.workers.simulated_start_delay = Duration::from_millis(100);
    })
    .await
}

fn scratch(c: &TestApp, name: &str, yaml: &str) -> String {
    let path = c.kubectl.cache.path().join(name);
    std::fs::write(&path, yaml).expect("manifest written");
    path.display().to_string()
}

/// `kubectl rollout status`, which returns once the rollout is done.
async fn rolled_out(c: &TestApp, deployment: &str) {
    let out = c
        .kubectl
        .ok(&["rollout", "status", deployment, "--timeout=60s"])
        .await;
    let name = deployment.trim_start_matches("deploy/");
    assert!(
        out.trim_end()
            .ends_with(&format!("deployment \"{name}\" successfully rolled out")),
        "{out}"
    );
}

/// The rows of `kubectl rollout history` (revision, change cause).
async fn history(c: &TestApp, deployment: &str) -> Vec<(String, String)> {
    let out = c.kubectl.ok(&["rollout", "history", deployment]).await;
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let name = deployment.trim_start_matches("deploy/");
    assert_eq!(
        lines.next().map(str::trim_end),
        Some(format!("deployment.apps/{name}").as_str()),
        "{out}"
    );
    let header = lines.next().unwrap_or_default();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["REVISION", "CHANGE-CAUSE"],
        "{out}"
    );
    lines
        .map(|l| {
            let mut cells = l.split_whitespace();
            (
                cells.next().unwrap_or_default().to_string(),
                cells.collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

async fn jsonpath(c: &TestApp, what: &str, path: &str) -> String {
    c.kubectl
        .ok(&["get", what, "-o", &format!("jsonpath={path}")])
        .await
}

async fn replica_sets(c: &TestApp) -> Vec<String> {
    let out = c.kubectl.ok(&["get", "rs", "-o", "name"]).await;
    out.lines().map(str::to_string).collect()
}

#[tokio::test]
async fn the_course_deployment_chapter_through_kubectl() {
    let c = cluster(2).await;
    let deploy = manifest("echo-deployment.yaml");
    assert_eq!(
        c.kubectl.ok(&["apply", "-f", &deploy]).await.trim(),
        "deployment.apps/echo-deploy created"
    );
    rolled_out(&c, "deploy/echo-deploy").await;

    // get deploy,rs,po: one ReplicaSet named by its template hash, four pods named after it.
    let out = c.kubectl.ok(&["get", "deploy,rs,po"]).await;
    let blocks: Vec<&str> = out.split("\n\n").collect();
    assert_eq!(blocks.len(), 3, "{out}");
    let deploy_rows: Vec<&str> = blocks[0].lines().collect();
    assert_eq!(
        deploy_rows[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    assert_eq!(
        deploy_rows[1]
            .split_whitespace()
            .take(4)
            .collect::<Vec<_>>(),
        ["deployment.apps/echo-deploy", "4/4", "4", "4"],
        "{out}"
    );
    let rs_rows: Vec<&str> = blocks[1].lines().skip(1).collect();
    assert_eq!(rs_rows.len(), 1, "{out}");
    let rs_name = rs_rows[0]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_start_matches("replicaset.apps/")
        .to_string();
    let hash = rs_name.trim_start_matches("echo-deploy-");
    assert!(
        !hash.is_empty() && hash.len() <= 10 && hash.bytes().all(|b| b"456789bcdf".contains(&b)),
        "{rs_name}"
    );
    assert_eq!(
        rs_rows[0]
            .split_whitespace()
            .skip(1)
            .take(3)
            .collect::<Vec<_>>(),
        ["4", "4", "4"],
        "{out}"
    );
    let pod_rows: Vec<&str> = blocks[2].lines().skip(1).collect();
    assert_eq!(pod_rows.len(), 4, "{out}");
    for row in &pod_rows {
        assert!(row.starts_with(&format!("pod/{rs_name}-")), "{row}");
        assert!(row.contains("1/1") && row.contains("Running"), "{row}");
    }
    assert_eq!(
        jsonpath(&c, "rs", "{.items[0].metadata.labels.pod-template-hash}").await,
        hash
    );
    let wide = c.kubectl.ok(&["get", "deploy", "-o", "wide"]).await;
    assert!(
        wide.lines().next().is_some_and(|h| h.contains("CONTAINERS")
            && h.contains("IMAGES")
            && h.contains("SELECTOR")),
        "{wide}"
    );
    assert!(
        wide.contains("ghcr.io/subicura/echo:v1") && wide.contains("app=echo,tier=app"),
        "{wide}"
    );

    // set image: a second revision, rolled out.
    assert_eq!(
        c.kubectl
            .ok(&[
                "set",
                "image",
                "deploy/echo-deploy",
                "echo=ghcr.io/subicura/echo:v2"
            ])
            .await
            .trim(),
        "deployment.apps/echo-deploy image updated"
    );
    rolled_out(&c, "deploy/echo-deploy").await;
    assert_eq!(replica_sets(&c).await.len(), 2);
    // A change cause annotated on the Deployment reaches its current revision's ReplicaSet.
    c.kubectl
        .ok(&[
            "annotate",
            "deploy/echo-deploy",
            "kubernetes.io/change-cause=echo v2",
        ])
        .await;
    until(
        "the change cause on revision 2",
        Duration::from_secs(30),
        || async {
            history(&c, "deploy/echo-deploy").await
                == [
                    ("1".to_string(), "<none>".to_string()),
                    ("2".to_string(), "echo v2".to_string()),
                ]
        },
    )
    .await;
    let second = c
        .kubectl
        .ok(&["rollout", "history", "deploy/echo-deploy", "--revision=2"])
        .await;
    assert!(
        second.contains("with revision #2") && second.contains("ghcr.io/subicura/echo:v2"),
        "{second}"
    );
    let first = c
        .kubectl
        .ok(&["rollout", "history", "deploy/echo-deploy", "--revision=1"])
        .await;
    assert!(first.contains("ghcr.io/subicura/echo:v1"), "{first}");

    // history: the rollout step by step, each step with its reason; why: a new pod back to
    // the `set image`.
    let data = c.dir.path().display().to_string();
    let (code, out, err) = run(&[
        "history",
        "deploy/echo-deploy",
        "--data-dir",
        &data,
        "--color",
        "never",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let rollout: Vec<&str> = out.lines().skip_while(|l| *l != "Rollout").collect();
    let step = |what: &[&str]| rollout.iter().any(|l| what.iter().all(|w| l.contains(w)));
    assert!(step(&[&rs_name, "created with 4"]), "{out}");
    assert!(
        step(&[
            "spec changed",
            "echo=ghcr.io/subicura/echo:v2",
            "kubectl-set"
        ]),
        "{out}"
    );
    assert!(
        step(&[&rs_name, "4 -> 3", "at least 3 must stay available"]),
        "{out}"
    );
    assert!(
        step(&["created with 1", "revision 2 in new ReplicaSet"]),
        "{out}"
    );
    assert!(step(&["room within 5 pods (replicas + maxSurge)"]), "{out}");
    let new_pods = c.kubectl.ok(&["get", "pods", "-o", "name"]).await;
    let mut origins = Vec::new();
    for pod in new_pods.lines() {
        let (code, out, err) = run(&["why", pod, "--data-dir", &data]).await;
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("deployment-controller"), "{out}");
        origins.push(out);
    }
    assert!(
        origins
            .iter()
            .any(|o| o.contains("origin: a request by") && o.contains("kubectl-set")),
        "{origins:?}"
    );

    // describe: the Kubernetes layout, with both ReplicaSets and the scaling events.
    let described = c.kubectl.ok(&["describe", "deploy", "echo-deploy"]).await;
    for line in [
        "Replicas:               4 desired | 4 updated | 4 total | 4 available | 0 unavailable",
        "StrategyType:           RollingUpdate",
        "RollingUpdateStrategy:  25% max unavailable, 25% max surge",
        "Available      True    MinimumReplicasAvailable",
        "Progressing    True    NewReplicaSetAvailable",
        &format!("OldReplicaSets:  {rs_name} (0/0 replicas created)"),
        "ScalingReplicaSet",
        "deployment-controller",
        &format!("Scaled up replica set {rs_name} from 0 to 4"),
    ] {
        assert!(described.contains(line), "{line:?} in\n{described}");
    }

    // undo: back to v1, as revision 3; then to revision 2 by number.
    assert_eq!(
        c.kubectl
            .ok(&["rollout", "undo", "deploy/echo-deploy"])
            .await
            .trim(),
        "deployment.apps/echo-deploy rolled back"
    );
    rolled_out(&c, "deploy/echo-deploy").await;
    assert_eq!(
        jsonpath(
            &c,
            "deploy/echo-deploy",
            "{.spec.template.spec.containers[0].image}"
        )
        .await,
        "ghcr.io/subicura/echo:v1"
    );
    let numbers: Vec<String> = history(&c, "deploy/echo-deploy")
        .await
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(numbers, ["2", "3"]);
    assert_eq!(
        jsonpath(
            &c,
            &format!("rs/{rs_name}"),
            "{.metadata.annotations.deployment\\.kubernetes\\.io/revision-history}"
        )
        .await,
        "1"
    );
    c.kubectl
        .ok(&["rollout", "undo", "deploy/echo-deploy", "--to-revision=2"])
        .await;
    rolled_out(&c, "deploy/echo-deploy").await;
    assert_eq!(
        jsonpath(
            &c,
            "deploy/echo-deploy",
            "{.spec.template.spec.containers[0].image}"
        )
        .await,
        "ghcr.io/subicura/echo:v2"
    );
    assert_eq!(
        jsonpath(
            &c,
            "deploy/echo-deploy",
            "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"
        )
        .await,
        "4"
    );
    let missing = c
        .kubectl
        .run(&["rollout", "undo", "deploy/echo-deploy", "--to-revision=9"])
        .await;
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("unable to find specified revision 9 in history"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );

    // scale.
    assert_eq!(
        c.kubectl
            .ok(&["scale", "deploy", "echo-deploy", "--replicas=2"])
            .await
            .trim(),
        "deployment.apps/echo-deploy scaled"
    );
    rolled_out(&c, "deploy/echo-deploy").await;
    until("two pods", Duration::from_secs(30), || async {
        c.kubectl
            .ok(&["get", "pods", "-o", "name"])
            .await
            .lines()
            .count()
            == 2
    })
    .await;

    // pause: a new template waits; undo is refused; resume rolls it out.
    assert_eq!(
        c.kubectl
            .ok(&["rollout", "pause", "deploy/echo-deploy"])
            .await
            .trim(),
        "deployment.apps/echo-deploy paused"
    );
    let sets_before = replica_sets(&c).await;
    c.kubectl
        .ok(&[
            "set",
            "image",
            "deploy/echo-deploy",
            "echo=ghcr.io/subicura/echo:v1",
        ])
        .await;
    until("the pause observed", Duration::from_secs(30), || async {
        jsonpath(
            &c,
            "deploy/echo-deploy",
            "{.status.conditions[?(@.type==\"Progressing\")].reason}",
        )
        .await
            == "DeploymentPaused"
    })
    .await;
    assert_eq!(
        replica_sets(&c).await,
        sets_before,
        "no new ReplicaSet while paused"
    );
    let refused = c
        .kubectl
        .run(&["rollout", "undo", "deploy/echo-deploy"])
        .await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(
        c.kubectl
            .ok(&["rollout", "resume", "deploy/echo-deploy"])
            .await
            .trim(),
        "deployment.apps/echo-deploy resumed"
    );
    rolled_out(&c, "deploy/echo-deploy").await;

    // restart: a new revision with the restartedAt annotation on the template.
    assert_eq!(
        c.kubectl
            .ok(&["rollout", "restart", "deploy/echo-deploy"])
            .await
            .trim(),
        "deployment.apps/echo-deploy restarted"
    );
    rolled_out(&c, "deploy/echo-deploy").await;
    let restarted = jsonpath(
        &c,
        "deploy/echo-deploy",
        "{.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
    )
    .await;
    assert!(restarted.starts_with("20"), "{restarted}");

    // edit: replicas 2 -> 3.
    let mut edit = c.kubectl.command(&["edit", "deploy/echo-deploy"]);
    edit.env("KUBE_EDITOR", "sed -i s/replicas:\\ 2/replicas:\\ 3/");
    let edit = tokio::task::spawn_blocking(move || edit.output().expect("kubectl edit"))
        .await
        .expect("joined");
    assert!(
        String::from_utf8_lossy(&edit.stdout).contains("deployment.apps/echo-deploy edited"),
        "{}{}",
        String::from_utf8_lossy(&edit.stdout),
        String::from_utf8_lossy(&edit.stderr)
    );
    rolled_out(&c, "deploy/echo-deploy").await;
    assert_eq!(
        jsonpath(&c, "deploy/echo-deploy", "{.status.availableReplicas}").await,
        "3"
    );

    // delete: the ReplicaSets and pods go with it.
    // kubectl 1.37 adds " from default namespace".
    let deleted = c.kubectl.ok(&["delete", "deploy", "echo-deploy"]).await;
    assert!(
        deleted.starts_with("deployment.apps \"echo-deploy\" deleted"),
        "{deleted}"
    );
    until(
        "ReplicaSets and pods gone",
        Duration::from_secs(60),
        || async {
            c.kubectl
                .ok(&["get", "rs,pods", "-o", "name"])
                .await
                .trim()
                .is_empty()
        },
    )
    .await;
    c.stop().await;
}

const STUCK: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: stuck
spec:
  replicas: 2
  progressDeadlineSeconds: 2
  selector:
    matchLabels: {app: stuck}
  template:
    metadata:
      labels: {app: stuck}
    spec:
      nodeSelector: {kubernetes.io/hostname: no-such-node}
      containers:
        - name: app
          image: ghcr.io/subicura/echo:v1
";

#[tokio::test]
async fn rollout_status_fails_when_the_progress_deadline_passes() {
    let c = cluster(1).await;
    let path = scratch(&c, "stuck.yaml", STUCK);
    c.kubectl.ok(&["apply", "-f", &path]).await;
    let out = c
        .kubectl
        .run(&["rollout", "status", "deploy/stuck", "--timeout=60s"])
        .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("error: deployment \"stuck\" exceeded its progress deadline"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let described = c.kubectl.ok(&["describe", "deploy", "stuck"]).await;
    assert!(
        described.contains("Progressing    False   ProgressDeadlineExceeded"),
        "{described}"
    );
    assert!(
        described.contains("Available      False   MinimumReplicasUnavailable"),
        "{described}"
    );
    c.stop().await;
}

/// A Deployment of `replicas` with the given strategy amounts, in the API's JSON.
fn web(
    name: &str,
    replicas: i64,
    surge: serde_json::Value,
    unavailable: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1"}]}},
        },
    })
}

/// Every event of `resource` after `from`, through a watch that ends after a second of quiet.
async fn watched(c: &TestApp, resource: &str, from: &str) -> Vec<serde_json::Value> {
    let reply = c
        .get(&format!(
            "{resource}?watch=true&resourceVersion={from}&timeoutSeconds=2&allowWatchBookmarks=false"
        ))
        .await;
    reply
        .text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a watch event"))
        .collect()
}

fn rv_of(object: &serde_json::Value) -> i64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A rollout of the Deployment `name` (pods labelled `app=NAME`, container `app`) to echo:v2,
/// watched: its pods as listed before, the list's resourceVersion, and every pod event after
/// it until the rollout finished, in resourceVersion order.
struct Watched {
    from: String,
    before: std::collections::BTreeMap<String, serde_json::Value>,
    events: Vec<serde_json::Value>,
}

async fn roll_to_v2_watched(c: &TestApp, name: &str) -> Watched {
    let pods = "/api/v1/namespaces/default/pods";
    let listed = c.get(&format!("{pods}?labelSelector=app%3D{name}")).await;
    let from = listed.body["metadata"]["resourceVersion"]
        .as_str()
        .expect("list resourceVersion")
        .to_string();
    let before = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                p.clone(),
            )
        })
        .collect();
    let patched = c
        .patch(
            &format!("/apis/apps/v1/namespaces/default/deployments/{name}"),
            "application/strategic-merge-patch+json",
            &serde_json::json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "ghcr.io/subicura/echo:v2"}]}}}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    rolled_out(c, &format!("deploy/{name}")).await;
    let mut events = watched(c, pods, &from).await;
    events.retain(|e| e["object"]["metadata"]["labels"]["app"] == name);
    events.sort_by_key(|e| rv_of(&e["object"]));
    Watched {
        from,
        before,
        events,
    }
}

#[tokio::test]
async fn a_watched_rollout_keeps_its_surge_and_availability_bounds_at_every_resource_version() {
    let c = cluster(3).await;
    // (replicas, maxSurge, maxUnavailable) and the bounds Kubernetes resolves them to.
    let table = [
        (10, serde_json::json!("25%"), serde_json::json!("25%"), 3, 2),
        (5, serde_json::json!(0), serde_json::json!(1), 0, 1),
        (4, serde_json::json!(3), serde_json::json!(3), 3, 3),
        (3, serde_json::json!("50%"), serde_json::json!(0), 2, 0),
    ];
    for (index, (replicas, surge, unavailable, max_surge, max_unavailable)) in
        table.into_iter().enumerate()
    {
        let name = format!("web{index}");
        let created = c
            .post(
                "/apis/apps/v1/namespaces/default/deployments",
                &web(&name, replicas, surge, unavailable),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        rolled_out(&c, &format!("deploy/{name}")).await;
        let Watched {
            from,
            before: mut state,
            events,
        } = roll_to_v2_watched(&c, &name).await;
        let sets = watched(&c, "/apis/apps/v1/namespaces/default/replicasets", &from).await;
        let scaled = sets
            .iter()
            .filter(|e| e["object"]["metadata"]["labels"]["app"] == name.as_str())
            .count();
        assert!(scaled >= 2, "ReplicaSet events of {name}: {scaled}");
        let active = |p: &serde_json::Value| {
            p["metadata"]["deletionTimestamp"].is_null()
                && !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
        };
        let ready = |p: &serde_json::Value| {
            p["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        };
        let (mut most, mut fewest) = (0, i64::MAX);
        for event in &events {
            let pod = &event["object"];
            let rv = rv_of(pod);
            let key = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
            match event["type"].as_str() {
                Some("DELETED") => {
                    state.remove(&key);
                }
                _ => {
                    state.insert(key, pod.clone());
                }
            }
            let up = state.values().filter(|p| active(p)).count() as i64;
            let available = state.values().filter(|p| active(p) && ready(p)).count() as i64;
            most = most.max(up);
            fewest = fewest.min(available);
            assert!(
                up <= replicas + max_surge,
                "{name}: {up} pods at resourceVersion {rv}, more than {replicas} + {max_surge}"
            );
            assert!(
                available >= replicas - max_unavailable,
                "{name}: {available} available at resourceVersion {rv}, fewer than {replicas} - {max_unavailable}"
            );
        }
        assert!(
            events.len() > replicas as usize * 3,
            "{name}: {} pod events",
            events.len()
        );
        // The rollout happened: every pod left runs the new image.
        let left: Vec<&serde_json::Value> = state.values().filter(|p| active(p)).collect();
        assert_eq!(left.len() as i64, replicas, "{name}");
        for pod in left {
            assert_eq!(
                pod["spec"]["containers"][0]["image"],
                "ghcr.io/subicura/echo:v2"
            );
        }
        eprintln!(
            "{name}: at most {most} pods, at least {fewest} available over {} events",
            events.len()
        );
    }
    c.stop().await;
}

#[tokio::test]
async fn a_watched_recreate_starts_no_new_pod_while_an_old_one_is_left() {
    let c = cluster(2).await;
    let mut deployment = web("re", 3, serde_json::json!(1), serde_json::json!(1));
    deployment["spec"]["strategy"] = serde_json::json!({"type": "Recreate"});
    let created = c
        .post("/apis/apps/v1/namespaces/default/deployments", &deployment)
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    rolled_out(&c, "deploy/re").await;
    let Watched {
        before: mut state,
        events,
        ..
    } = roll_to_v2_watched(&c, "re").await;
    let image = |p: &serde_json::Value| {
        p["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let mut saw_new = false;
    for event in &events {
        let pod = &event["object"];
        let key = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
        if event["type"] == "DELETED" {
            state.remove(&key);
        } else {
            state.insert(key, pod.clone());
        }
        let old_left = state
            .values()
            .filter(|p| image(p).ends_with(":v1"))
            .filter(|p| !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
            .count();
        let new = state.values().filter(|p| image(p).ends_with(":v2")).count();
        saw_new |= new > 0;
        assert!(
            new == 0 || old_left == 0,
            "at resourceVersion {}: {new} new pods while {old_left} old ones are left",
            rv_of(pod)
        );
    }
    assert!(saw_new, "the new revision's pods came");
    let left: Vec<String> = state.values().map(image).collect();
    assert_eq!(left, vec!["ghcr.io/subicura/echo:v2".to_string(); 3]);
    c.stop().await;
}
