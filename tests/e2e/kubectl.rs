//! The real `kubectl` on PATH against a real server over HTTPS with the generated kubeconfig.
//! Each test gets its own server, data directory and KUBECACHEDIR. Validation is off until the
//! OpenAPI documents are served.

use crate::support::app::{TestApp, start_with_workers};
use crate::support::internals::format_time;
use crate::support::kubectl::{kubectl_binary, manifest};
use std::path::Path;

/// A server with every worker and `nodes` simulated nodes (pods bound to them run without
/// containers), as `serve --simulated-nodes` runs them.
async fn cluster(nodes: usize) -> TestApp {
    start_with_workers(tempfile::tempdir().expect("data dir"), |settings| {
        settings.workers.simulated_nodes = nodes;
        settings.workers.simulated_start_delay = std::time::Duration::from_millis(100);
    })
    .await
}

#[tokio::test]
async fn kubectl_talks_to_the_server_as_kubernetes() {
    let c = cluster(0).await;
    let version = c.kubectl.ok(&["version"]).await;
    assert!(version.contains("Server Version: v1.32.4"), "{version}");
    let ns = c.kubectl.ok(&["get", "namespaces", "-o", "name"]).await;
    for expected in [
        "namespace/default",
        "namespace/kube-system",
        "namespace/kube-public",
    ] {
        assert!(ns.contains(expected), "{ns}");
    }
    let resources = c.kubectl.ok(&["api-resources"]).await;
    for short in ["po", "rs", "no", "ns", "ev"] {
        assert!(
            resources.split_whitespace().any(|w| w == short),
            "{short} in {resources}"
        );
    }
    c.stop().await;
}

#[tokio::test]
async fn create_get_label_annotate_delete_a_pod() {
    let c = cluster(0).await;
    let pod = manifest("echo-pod.yaml");
    assert_eq!(
        c.kubectl.ok(&["create", "-f", &pod]).await.trim(),
        "pod/echo created"
    );

    let again = c.kubectl.run(&["create", "-f", &pod]).await;
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("Error from server (AlreadyExists)")
            && stderr.contains("pods \"echo\" already exists"),
        "{stderr}"
    );

    let table = c.kubectl.ok(&["get", "pods"]).await;
    assert!(table.lines().any(|l| l.starts_with("echo ")), "{table}");
    let yaml = c.kubectl.ok(&["get", "pod", "echo", "-o", "yaml"]).await;
    assert!(
        yaml.contains("name: echo") && yaml.contains("restartPolicy: Always"),
        "{yaml}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&c.kubectl.ok(&["get", "pod", "echo", "-o", "json"]).await).unwrap();
    assert_eq!(json["metadata"]["labels"]["app"], "echo");
    assert_eq!(
        c.kubectl
            .ok(&["get", "pods", "-l", "app=echo", "-o", "name"])
            .await
            .trim(),
        "pod/echo"
    );
    assert_eq!(
        c.kubectl
            .ok(&["get", "pods", "-l", "app!=echo", "-o", "name"])
            .await
            .trim(),
        ""
    );
    let all = c.kubectl.ok(&["get", "pods", "-A"]).await;
    assert!(
        all.contains("NAMESPACE") && all.contains("default") && all.contains("echo"),
        "{all}"
    );
    let by_field = c
        .kubectl
        .ok(&[
            "get",
            "pods",
            "--field-selector",
            "metadata.name=echo",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(by_field.trim(), "pod/echo");

    assert_eq!(
        c.kubectl
            .ok(&["label", "pod", "echo", "release=stable"])
            .await
            .trim(),
        "pod/echo labeled"
    );
    assert_eq!(
        c.kubectl
            .ok(&["label", "pod", "echo", "release=canary", "--overwrite"])
            .await
            .trim(),
        "pod/echo labeled"
    );
    assert_eq!(
        c.kubectl
            .ok(&[
                "get",
                "pod",
                "echo",
                "-o",
                "jsonpath={.metadata.labels.release}"
            ])
            .await,
        "canary"
    );
    assert_eq!(
        c.kubectl
            .ok(&["label", "pod", "echo", "release-"])
            .await
            .trim(),
        "pod/echo unlabeled"
    );
    assert_eq!(
        c.kubectl
            .ok(&[
                "get",
                "pod",
                "echo",
                "-o",
                "jsonpath={.metadata.labels.release}"
            ])
            .await,
        ""
    );
    assert_eq!(
        c.kubectl
            .ok(&["annotate", "pod", "echo", "note=hello"])
            .await
            .trim(),
        "pod/echo annotated"
    );
    assert_eq!(
        c.kubectl
            .ok(&[
                "get",
                "pod",
                "echo",
                "-o",
                "jsonpath={.metadata.annotations.note}"
            ])
            .await,
        "hello"
    );

    let raw = c
        .kubectl
        .ok(&["get", "--raw", "/api/v1/namespaces/default/pods/echo"])
        .await;
    let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(raw["kind"], "Pod");

    // kubectl 1.37 adds " from default namespace".
    assert!(
        c.kubectl
            .ok(&["delete", "pod", "echo"])
            .await
            .starts_with("pod \"echo\" deleted")
    );
    let missing = c.kubectl.run(&["get", "pod", "echo"]).await;
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("Error from server (NotFound): pods \"echo\" not found"),
        "{stderr}"
    );
    c.stop().await;
}

#[tokio::test]
async fn replicaset_scale_and_delete_by_label() {
    let c = cluster(0).await;
    let rs = manifest("echo-rs.yaml");
    assert_eq!(
        c.kubectl.ok(&["create", "-f", &rs]).await.trim(),
        "replicaset.apps/echo-rs created"
    );
    assert_eq!(
        c.kubectl
            .ok(&["scale", "rs", "echo-rs", "--replicas=3"])
            .await
            .trim(),
        "replicaset.apps/echo-rs scaled"
    );
    assert_eq!(
        c.kubectl
            .ok(&["get", "rs", "echo-rs", "-o", "jsonpath={.spec.replicas}"])
            .await,
        "3"
    );
    assert_eq!(
        c.kubectl
            .ok(&[
                "scale",
                "rs",
                "echo-rs",
                "--current-replicas=3",
                "--replicas=1"
            ])
            .await
            .trim(),
        "replicaset.apps/echo-rs scaled"
    );
    assert_eq!(
        c.kubectl
            .ok(&["get", "replicasets.apps", "-o", "name"])
            .await
            .trim(),
        "replicaset.apps/echo-rs"
    );
    let stale = c
        .kubectl
        .run(&[
            "scale",
            "rs",
            "echo-rs",
            "--current-replicas=3",
            "--replicas=2",
        ])
        .await;
    assert!(!stale.status.success(), "a stale precondition fails");

    c.kubectl
        .ok(&[
            "create",
            "-f",
            &manifest("echo-pod.yaml"),
            "--validate=false",
        ])
        .await;
    let deleted = c.kubectl.ok(&["delete", "pods", "-l", "app=echo"]).await;
    assert!(deleted.contains("pod \"echo\" deleted"), "{deleted}");
    let deleted = c.kubectl.ok(&["delete", "-f", &rs]).await;
    assert!(
        deleted.contains("replicaset.apps \"echo-rs\" deleted"),
        "{deleted}"
    );
    assert_eq!(c.kubectl.ok(&["get", "rs", "-o", "name"]).await.trim(), "");
    c.stop().await;
}

#[tokio::test]
async fn wrong_token_is_refused_like_kubernetes() {
    let c = cluster(0).await;
    let config = std::fs::read_to_string(&c.kubectl.kubeconfig).unwrap();
    let token_line = config
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .unwrap()
        .to_string();
    let bad = config.replace(&token_line, "    token: wrong");
    let bad_path = c.kubectl.cache.path().join("bad-kubeconfig");
    std::fs::write(&bad_path, bad).unwrap();
    let out = c
        .kubectl
        .run(&["get", "pods", "--kubeconfig", bad_path.to_str().unwrap()])
        .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("You must be logged in to the server"),
        "{stderr}"
    );
    c.stop().await;
}

fn header(table: &str) -> Vec<String> {
    table
        .lines()
        .next()
        .unwrap_or("")
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn get_prints_kubernetes_tables() {
    let c = cluster(0).await;
    c.kubectl
        .ok(&[
            "create",
            "-f",
            &manifest("echo-pod.yaml"),
            "--validate=false",
        ])
        .await;
    c.kubectl
        .ok(&[
            "create",
            "-f",
            &manifest("echo-rs.yaml"),
            "--validate=false",
        ])
        .await;

    let pods = c.kubectl.ok(&["get", "pods"]).await;
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pods}"
    );
    let row: Vec<&str> = pods.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["echo", "0/1", "Pending", "0"], "{pods}");

    let wide = c.kubectl.ok(&["get", "pods", "-o", "wide"]).await;
    assert_eq!(
        header(&wide),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ],
        "{wide}"
    );
    let labels = c.kubectl.ok(&["get", "pods", "--show-labels"]).await;
    assert!(labels.contains("app=echo,tier=web"), "{labels}");
    let column = c.kubectl.ok(&["get", "pods", "-L", "tier"]).await;
    assert_eq!(header(&column).last().unwrap(), "TIER", "{column}");
    let all_ns = c.kubectl.ok(&["get", "pods", "-A"]).await;
    assert_eq!(header(&all_ns)[0], "NAMESPACE", "{all_ns}");

    let rs = c.kubectl.ok(&["get", "rs", "-o", "wide"]).await;
    assert_eq!(
        header(&rs),
        [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "{rs}"
    );
    assert!(rs.contains("app=echo,tier=app"), "{rs}");
    let all = c.kubectl.ok(&["get", "all"]).await;
    assert!(
        all.contains("pod/echo") && all.contains("replicaset.apps/echo-rs"),
        "{all}"
    );
    let both = c.kubectl.ok(&["get", "po,rs", "-o", "name"]).await;
    let lines: Vec<&str> = both.lines().collect();
    assert!(
        lines.contains(&"pod/echo") && lines.contains(&"replicaset.apps/echo-rs"),
        "{both}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("pod/echo-rs-")),
        "the ReplicaSet made its pod: {both}"
    );
    let ns = c.kubectl.ok(&["get", "ns"]).await;
    assert_eq!(header(&ns), ["NAME", "STATUS", "AGE"], "{ns}");

    assert_eq!(
        c.kubectl.ok(&["create", "namespace", "demo"]).await.trim(),
        "namespace/demo created"
    );
    c.kubectl
        .ok(&["run", "web", "--image=nginx", "-n", "demo"])
        .await;
    assert_eq!(
        c.kubectl.ok(&["delete", "namespace", "demo"]).await.trim(),
        "namespace \"demo\" deleted"
    );
    assert_eq!(
        c.kubectl
            .ok(&["get", "pods", "-n", "demo", "-o", "name"])
            .await
            .trim(),
        ""
    );
    c.stop().await;
}

/// Write a manifest into the cluster's scratch directory and return its path.
fn scratch(c: &TestApp, name: &str, yaml: &str) -> String {
    let path = c.kubectl.cache.path().join(name);
    std::fs::write(&path, yaml).expect("manifest written");
    path.display().to_string()
}

const RS_V1: &str = "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
  labels:
    app: web
    stage: one
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: ghcr.io/subicura/echo:v1
        env:
        - name: A
          value: \"1\"
        - name: B
          value: \"2\"
      - name: side
        image: busybox:1.36
";

#[tokio::test]
async fn apply_patch_edit_replace_keep_the_objects_right() {
    let c = cluster(0).await;
    let file = scratch(&c, "web.yaml", RS_V1);
    assert_eq!(
        c.kubectl.ok(&["apply", "-f", &file]).await.trim(),
        "replicaset.apps/web created"
    );
    assert_eq!(
        c.kubectl.ok(&["apply", "-f", &file]).await.trim(),
        "replicaset.apps/web unchanged"
    );

    // Someone else labels the live object; the next apply must keep that label.
    c.kubectl.ok(&["label", "rs", "web", "owner=ops"]).await;
    let edited = RS_V1
        .replace("    stage: one\n", "")
        .replace("replicas: 2", "replicas: 3")
        .replace("echo:v1", "echo:v2")
        .replace("        - name: A\n          value: \"1\"\n", "")
        .replace("      - name: side\n        image: busybox:1.36\n", "");
    let file = scratch(&c, "web.yaml", &edited);
    assert_eq!(
        c.kubectl.ok(&["apply", "-f", &file]).await.trim(),
        "replicaset.apps/web configured"
    );
    let live: serde_json::Value =
        serde_json::from_str(&c.kubectl.ok(&["get", "rs", "web", "-o", "json"]).await).unwrap();
    assert_eq!(live["spec"]["replicas"], 3);
    assert!(
        live["metadata"]["labels"].get("stage").is_none(),
        "removed from the file"
    );
    assert_eq!(
        live["metadata"]["labels"]["owner"], "ops",
        "edits elsewhere survive"
    );
    let containers = live["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["image"], "ghcr.io/subicura/echo:v2");
    assert_eq!(
        containers[0]["env"],
        serde_json::json!([{"name": "B", "value": "2"}])
    );

    // kubectl patch with each type.
    c.kubectl
        .ok(&[
            "patch",
            "rs",
            "web",
            "-p",
            r#"{"metadata":{"labels":{"smp":"yes"}}}"#,
        ])
        .await;
    c.kubectl
        .ok(&[
            "patch",
            "rs",
            "web",
            "--type=merge",
            "-p",
            r#"{"metadata":{"labels":{"merge":"yes"}}}"#,
        ])
        .await;
    c.kubectl
        .ok(&[
            "patch",
            "rs",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/metadata/labels/json","value":"yes"}]"#,
        ])
        .await;
    let labels = c
        .kubectl
        .ok(&["get", "rs", "web", "-o", "jsonpath={.metadata.labels}"])
        .await;
    for key in ["smp", "merge", "json"] {
        assert!(labels.contains(&format!("\"{key}\":\"yes\"")), "{labels}");
    }
    let failed = c
        .kubectl
        .run(&[
            "patch",
            "rs",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
        ])
        .await;
    assert!(!failed.status.success());

    // kubectl edit through a scripted editor.
    let mut edit = c.kubectl.command(&["edit", "rs", "web"]);
    edit.env("KUBE_EDITOR", "sed -i s/replicas:\\ 3/replicas:\\ 5/");
    let edit = tokio::task::spawn_blocking(move || edit.output().unwrap())
        .await
        .unwrap();
    assert!(
        edit.status.success(),
        "{}",
        String::from_utf8_lossy(&edit.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&edit.stdout).trim(),
        "replicaset.apps/web edited"
    );
    assert_eq!(
        c.kubectl
            .ok(&["get", "rs", "web", "-o", "jsonpath={.spec.replicas}"])
            .await,
        "5"
    );

    // kubectl replace with the file, and a stale replace conflicts.
    let stale = c.kubectl.ok(&["get", "rs", "web", "-o", "yaml"]).await;
    let file = scratch(
        &c,
        "web.yaml",
        &edited.replace("replicas: 3", "replicas: 1"),
    );
    assert_eq!(
        c.kubectl.ok(&["replace", "-f", &file]).await.trim(),
        "replicaset.apps/web replaced"
    );
    assert_eq!(
        c.kubectl
            .ok(&["get", "rs", "web", "-o", "jsonpath={.spec.replicas}"])
            .await,
        "1"
    );
    let stale_file = scratch(
        &c,
        "stale.yaml",
        &stale.replace("replicas: 5", "replicas: 4"),
    );
    let conflict = c.kubectl.run(&["replace", "-f", &stale_file]).await;
    assert!(!conflict.status.success());
    let stderr = String::from_utf8_lossy(&conflict.stderr);
    assert!(
        stderr.contains("Error from server (Conflict)")
            && stderr.contains("the object has been modified"),
        "{stderr}"
    );

    let set = c
        .kubectl
        .ok(&["set", "image", "rs/web", "app=ghcr.io/subicura/echo:v3"])
        .await;
    assert_eq!(set.trim(), "replicaset.apps/web image updated");
    c.stop().await;
}

#[tokio::test]
async fn workloads_run_on_simulated_nodes_through_kubectl() {
    let c = cluster(2).await;
    let nodes = c.kubectl.ok(&["get", "nodes"]).await;
    assert_eq!(
        header(&nodes),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "{nodes}"
    );
    assert!(
        nodes.contains("sim-node-000") && nodes.contains("Ready") && nodes.contains("v1.32.4"),
        "{nodes}"
    );

    let rs = manifest("echo-rs.yaml");
    c.kubectl.ok(&["apply", "-f", &rs]).await;
    c.kubectl
        .ok(&["scale", "rs", "echo-rs", "--replicas=3"])
        .await;
    // `kubectl wait -l` waits for the pods that exist when it lists them: the three first.
    crate::support::wait::until(
        "three echo pods",
        std::time::Duration::from_secs(30),
        || async {
            c.kubectl
                .ok(&["get", "pods", "-l", "app=echo", "-o", "name"])
                .await
                .lines()
                .count()
                == 3
        },
    )
    .await;
    c.kubectl
        .ok(&[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            "app=echo",
            "--timeout=30s",
        ])
        .await;
    let wide = c.kubectl.ok(&["get", "pods", "-o", "wide"]).await;
    assert_eq!(
        wide.lines()
            .filter(|l| l.contains("Running") && l.contains("sim-node-"))
            .count(),
        3,
        "{wide}"
    );
    let rs_table = c.kubectl.ok(&["get", "rs", "echo-rs"]).await;
    let cells: Vec<&str> = rs_table
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(&cells[..4], ["echo-rs", "3", "3", "3"], "{rs_table}");

    let pod = c
        .kubectl
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=echo",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .await;
    let described = c.kubectl.ok(&["describe", "pod", &pod]).await;
    for expected in [
        "Node:",
        "sim-node-",
        "ReplicaSet/echo-rs",
        "Scheduled",
        "Successfully assigned default/",
    ] {
        assert!(described.contains(expected), "{expected} in {described}");
    }
    let field = |name: &str| {
        described
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(field("Status:"), "Running", "{described}");
    assert_eq!(field("Controlled By:"), "ReplicaSet/echo-rs", "{described}");
    let described = c.kubectl.ok(&["describe", "rs", "echo-rs"]).await;
    let pods_status = described
        .lines()
        .find(|l| l.starts_with("Pods Status:"))
        .unwrap_or("");
    assert!(
        pods_status.ends_with("3 Running / 0 Waiting / 0 Succeeded / 0 Failed"),
        "{described}"
    );
    assert!(described.contains("SuccessfulCreate"), "{described}");
    let node = c.kubectl.ok(&["describe", "node", "sim-node-000"]).await;
    assert!(
        node.contains("Capacity:")
            && node.contains("Allocatable:")
            && node.contains("Non-terminated Pods:"),
        "{node}"
    );

    // Cordon, drain, uncordon.
    assert_eq!(
        c.kubectl.ok(&["cordon", "sim-node-000"]).await.trim(),
        "node/sim-node-000 cordoned"
    );
    assert!(
        c.kubectl
            .ok(&["get", "node", "sim-node-000"])
            .await
            .contains("Ready,SchedulingDisabled")
    );
    c.kubectl
        .ok(&[
            "drain",
            "sim-node-000",
            "--ignore-daemonsets",
            "--timeout=30s",
        ])
        .await;
    c.kubectl
        .ok(&[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            "app=echo",
            "--timeout=30s",
        ])
        .await;
    let placed = c
        .kubectl
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=echo",
            "-o",
            "jsonpath={.items[*].spec.nodeName}",
        ])
        .await;
    assert!(
        placed.split_whitespace().all(|n| n == "sim-node-001"),
        "{placed}"
    );
    assert_eq!(
        c.kubectl.ok(&["uncordon", "sim-node-000"]).await.trim(),
        "node/sim-node-000 uncordoned"
    );

    // Delete forms.
    let one = c
        .kubectl
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=echo",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .await;
    let forced = c
        .kubectl
        .run(&["delete", "pod", &one, "--grace-period=0", "--force"])
        .await;
    assert!(forced.status.success());
    assert!(String::from_utf8_lossy(&forced.stdout).contains("force deleted"));
    let other = c
        .kubectl
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=echo",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .await;
    c.kubectl
        .ok(&["delete", "pod", &other, "--wait=false"])
        .await;
    c.kubectl
        .ok(&[
            "wait",
            "--for=delete",
            &format!("pod/{other}"),
            "--timeout=30s",
        ])
        .await;
    assert!(
        c.kubectl
            .ok(&["delete", "rs", "echo-rs", "--cascade=foreground"])
            .await
            .starts_with("replicaset.apps \"echo-rs\" deleted")
    );
    let left = c
        .kubectl
        .ok(&["get", "pods", "-l", "app=echo", "-o", "name"])
        .await;
    assert_eq!(
        left.trim(),
        "",
        "foreground deletion removed the pods first"
    );
    c.stop().await;
}

#[tokio::test]
async fn server_side_apply_strict_validation_and_explain() {
    let c = cluster(0).await;
    let file = scratch(&c, "web.yaml", RS_V1);
    assert_eq!(
        c.kubectl
            .ok(&["apply", "--server-side", "-f", &file])
            .await
            .trim(),
        "replicaset.apps/web serverside-applied"
    );
    let managers = c
        .kubectl
        .ok(&[
            "get",
            "rs",
            "web",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert!(managers.contains("kubectl"), "{managers}");
    // Another manager takes .spec.replicas; re-applying a different value conflicts.
    c.kubectl.ok(&["scale", "rs", "web", "--replicas=5"]).await;
    let file = scratch(&c, "web.yaml", &RS_V1.replace("replicas: 2", "replicas: 3"));
    let conflict = c
        .kubectl
        .run(&["apply", "--server-side", "-f", &file])
        .await;
    assert!(!conflict.status.success());
    let stderr = String::from_utf8_lossy(&conflict.stderr);
    assert!(
        stderr.contains("Apply failed with 1 conflict") && stderr.contains(".spec.replicas"),
        "{stderr}"
    );
    c.kubectl
        .ok(&["apply", "--server-side", "--force-conflicts", "-f", &file])
        .await;
    assert_eq!(
        c.kubectl
            .ok(&["get", "rs", "web", "-o", "jsonpath={.spec.replicas}"])
            .await,
        "3"
    );
    // Fields the manifest no longer has are removed; fields others own stay.
    c.kubectl.ok(&["label", "rs", "web", "owner=ops"]).await;
    let file = scratch(
        &c,
        "web.yaml",
        &RS_V1
            .replace("replicas: 2", "replicas: 3")
            .replace("    stage: one\n", ""),
    );
    c.kubectl.ok(&["apply", "--server-side", "-f", &file]).await;
    let labels = c
        .kubectl
        .ok(&["get", "rs", "web", "-o", "jsonpath={.metadata.labels}"])
        .await;
    assert!(
        !labels.contains("stage") && labels.contains("owner"),
        "{labels}"
    );

    // Strict validation (the default) names the unknown field.
    let bad = scratch(
        &c,
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: a\n    image: b\n    imagee: c\n",
    );
    let refused = c.kubectl.run(&["create", "-f", &bad]).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("unknown field \"spec.containers[0].imagee\""),
        "{stderr}"
    );
    let warned = c
        .kubectl
        .run(&["create", "-f", &bad, "--validate=warn"])
        .await;
    assert!(warned.status.success());
    assert!(
        String::from_utf8_lossy(&warned.stderr)
            .contains("Warning: unknown field \"spec.containers[0].imagee\"")
    );

    let explained = c
        .kubectl
        .ok(&["explain", "pod.spec.containers.livenessProbe"])
        .await;
    assert!(
        explained.contains("FIELD: livenessProbe <Probe>")
            && explained.contains("initialDelaySeconds"),
        "{explained}"
    );
    c.stop().await;
}

#[tokio::test]
async fn watch_api_versions_and_more_delete_forms() {
    let c = cluster(1).await;
    let versions = c.kubectl.ok(&["api-versions"]).await;
    assert!(
        versions.lines().any(|l| l == "v1") && versions.lines().any(|l| l == "apps/v1"),
        "{versions}"
    );

    // `kubectl get pods -w` prints the table, then a row per change, until it is stopped.
    let kubeconfig = c.kubectl.kubeconfig.clone();
    let cache = c.kubectl.cache.path().to_path_buf();
    let watcher = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .args(["6", &kubectl_binary(), "get", "pods", "-w"])
            .env("KUBECONFIG", kubeconfig)
            .env("KUBECACHEDIR", cache)
            .output()
            .expect("timeout and kubectl run")
    });
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    c.kubectl
        .ok(&["run", "watched", "--image=busybox:1.36"])
        .await;
    let out = watcher.await.expect("watcher");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed
            .lines()
            .next()
            .is_some_and(|h| h.starts_with("NAME")),
        "{printed}"
    );
    let rows: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("watched "))
        .collect();
    assert!(rows.len() >= 2, "ADDED and MODIFIED rows: {printed}");
    assert!(rows.iter().any(|r| r.contains("Running")), "{printed}");

    // --now, and --cascade=orphan keeping the pods.
    c.kubectl.ok(&["delete", "pod", "watched", "--now"]).await;
    c.kubectl
        .ok(&["apply", "-f", &manifest("echo-rs.yaml")])
        .await;
    c.kubectl
        .ok(&[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            "app=echo",
            "--timeout=30s",
        ])
        .await;
    c.kubectl
        .ok(&["delete", "rs", "echo-rs", "--cascade=orphan"])
        .await;
    let left = c
        .kubectl
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=echo",
            "-o",
            "jsonpath={.items[*].metadata.ownerReferences}",
        ])
        .await;
    assert_eq!(left.trim(), "", "orphaned pods lost their owner");
    assert!(
        !c.kubectl
            .ok(&["get", "pods", "-l", "app=echo", "-o", "name"])
            .await
            .trim()
            .is_empty()
    );
    c.stop().await;
}

/// A pod named `name` with the given status, written through the status subresource.
async fn pod_with_status(
    c: &TestApp,
    name: &str,
    status: serde_json::Value,
    extra: serde_json::Value,
) {
    let mut pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}});
    json_patch::merge(&mut pod, &extra);
    let file = scratch(c, &format!("{name}.json"), &pod.to_string());
    c.kubectl.ok(&["create", "-f", &file]).await;
    let patch = serde_json::json!({"status": status}).to_string();
    c.kubectl
        .ok(&[
            "patch",
            "pod",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ])
        .await;
}

#[tokio::test]
async fn get_pods_matches_kubernetes_golden_output() {
    let c = cluster(0).await;
    let ago = |minutes: i64| {
        format_time(jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes))
    };
    let waiting = |reason: &str| serde_json::json!({"waiting": {"reason": reason}});
    let container = |state: serde_json::Value,
                     ready: bool,
                     restarts: i64,
                     last: serde_json::Value| {
        serde_json::json!([{"name": "app", "image": "busybox:1.36", "imageID": "", "ready": ready,
            "restartCount": restarts, "state": state, "lastState": last}])
    };
    let ready = serde_json::json!([{"type": "Ready", "status": "True"}]);
    let cases: Vec<(&str, serde_json::Value, serde_json::Value)> = vec![
        (
            "a-pending",
            serde_json::json!({"phase": "Pending"}),
            serde_json::json!({}),
        ),
        (
            "b-creating",
            serde_json::json!({"phase": "Pending", "containerStatuses": container(waiting("ContainerCreating"), false, 0, serde_json::json!({}))}),
            serde_json::json!({}),
        ),
        (
            "c-running",
            serde_json::json!({"phase": "Running", "conditions": ready, "containerStatuses": container(serde_json::json!({"running": {"startedAt": ago(3)}}), true, 0, serde_json::json!({}))}),
            serde_json::json!({}),
        ),
        (
            "d-crashloop",
            serde_json::json!({"phase": "Running", "containerStatuses": container(waiting("CrashLoopBackOff"), false, 4,
            serde_json::json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(20)}}))}),
            serde_json::json!({}),
        ),
        (
            "e-pullbackoff",
            serde_json::json!({"phase": "Pending", "containerStatuses": container(waiting("ImagePullBackOff"), false, 0, serde_json::json!({}))}),
            serde_json::json!({}),
        ),
        (
            "f-completed",
            serde_json::json!({"phase": "Succeeded", "containerStatuses": container(serde_json::json!({"terminated": {"exitCode": 0, "reason": "Completed"}}), false, 0, serde_json::json!({}))}),
            serde_json::json!({}),
        ),
        (
            "g-error",
            serde_json::json!({"phase": "Failed", "containerStatuses": container(serde_json::json!({"terminated": {"exitCode": 2, "reason": "Error"}}), false, 0, serde_json::json!({}))}),
            serde_json::json!({}),
        ),
        (
            "h-oomkilled",
            serde_json::json!({"phase": "Running", "containerStatuses": container(serde_json::json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}), false, 1,
            serde_json::json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": ago(30)}}))}),
            serde_json::json!({}),
        ),
        (
            "i-init",
            serde_json::json!({"phase": "Pending", "initContainerStatuses": [{"name": "init", "image": "busybox:1.36", "imageID": "", "ready": false, "restartCount": 0, "state": {"running": {}}}]}),
            serde_json::json!({"spec": {"initContainers": [{"name": "init", "image": "busybox:1.36"}]}}),
        ),
        (
            "j-terminating",
            serde_json::json!({"phase": "Running", "conditions": ready, "containerStatuses": container(serde_json::json!({"running": {"startedAt": ago(3)}}), true, 0, serde_json::json!({}))}),
            serde_json::json!({"metadata": {"finalizers": ["example.com/hold"]}}),
        ),
    ];
    for (name, status, extra) in &cases {
        pod_with_status(&c, name, status.clone(), extra.clone()).await;
    }
    c.kubectl
        .ok(&["delete", "pod", "j-terminating", "--wait=false"])
        .await;
    let printed = c.kubectl.ok(&["get", "pods"]).await;
    // AGE is the last column; it depends on the clock, so it is masked.
    let masked: Vec<String> = printed
        .lines()
        .map(|l| {
            let trimmed = l.trim_end();
            match trimmed.rfind(' ') {
                Some(i) => format!("{}<age>", &trimmed[..=i]),
                None => trimmed.to_string(),
            }
        })
        .collect();
    let golden = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/get-pods.txt"),
    )
    .expect("golden file");
    assert_eq!(
        masked.join("\n"),
        golden.trim_end(),
        "kubectl get pods printed:\n{printed}"
    );
    c.kubectl
        .ok(&[
            "patch",
            "pod",
            "j-terminating",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ])
        .await;
    c.stop().await;
}

/// `kubectl get KIND NAME -o json` as JSON.
async fn get_json(c: &TestApp, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&c.kubectl.ok(&all).await).expect("kubectl printed JSON")
}

#[tokio::test]
async fn typed_creates_send_protobuf_and_store_what_json_stores() {
    // `kubectl create namespace|deployment` send protobuf bodies (client-go's typed clients);
    // `create -f` of the same object sends JSON. Both must store the same object.
    let c = cluster(0).await;
    assert_eq!(
        c.kubectl.ok(&["create", "namespace", "typed"]).await.trim(),
        "namespace/typed created"
    );
    let ns = get_json(&c, &["namespace", "typed"]).await;
    assert_eq!(ns["status"]["phase"], "Active", "{ns}");
    let again = c.kubectl.run(&["create", "namespace", "typed"]).await;
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains(r#"Error from server (AlreadyExists): namespaces "typed" already exists"#),
        "{stderr}"
    );

    // Gate: the rest needs apps/v1 Deployments served.
    let resources = c.kubectl.ok(&["api-resources", "--api-group=apps"]).await;
    if !resources.split_whitespace().any(|w| w == "deployments") {
        eprintln!("deployments are not served: only the namespace was created with protobuf");
        c.stop().await;
        return;
    }
    let args = [
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=3",
        "--port=80",
        "-n",
        "typed",
    ];
    let mut verbose = args.to_vec();
    verbose.push("-v=8");
    let created = c.kubectl.run(&verbose).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&created.stdout),
        String::from_utf8_lossy(&created.stderr),
    );
    assert_eq!(stdout.trim(), "deployment.apps/web created", "{stderr}");
    // The point of the test: the body was protobuf.
    assert!(
        stderr.contains("Content-Type: application/vnd.kubernetes.protobuf"),
        "{stderr}"
    );
    // The same object through JSON, renamed.
    let mut dry_run = args.to_vec();
    dry_run.extend_from_slice(&["--dry-run=client", "-o", "json"]);
    let mut object: serde_json::Value =
        serde_json::from_str(&c.kubectl.ok(&dry_run).await).expect("dry-run JSON");
    object["metadata"]["name"] = "web-json".into();
    let created = c
        .kubectl
        .run_with_input(&["create", "-f", "-"], Some(object.to_string().as_bytes()))
        .await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let typed = get_json(&c, &["deployment", "web", "-n", "typed"]).await;
    let json = get_json(&c, &["deployment", "web-json", "-n", "typed"]).await;
    assert_eq!(typed["spec"], json["spec"]);
    assert_eq!(typed["metadata"]["labels"], json["metadata"]["labels"]);
    assert_eq!(typed["spec"]["replicas"], 3, "{typed}");
    assert_eq!(
        typed["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 80,
        "{typed}"
    );

    // kubectl's own error text around the server's Status.
    let duplicate = c
        .kubectl
        .run(&[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "-n",
            "typed",
        ])
        .await;
    let stderr = String::from_utf8_lossy(&duplicate.stderr);
    assert!(
        !duplicate.status.success()
            && stderr.contains(
                r#"error: failed to create deployment: deployments.apps "web" already exists"#
            ),
        "{stderr}"
    );
    // kubectl names the container after the image: "Nginx" is no DNS label.
    let bad = c
        .kubectl
        .run(&[
            "create",
            "deployment",
            "bad",
            "--image=Nginx:1.27",
            "-n",
            "typed",
        ])
        .await;
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success()
            && stderr.contains(
                r#"error: failed to create deployment: Deployment.apps "bad" is invalid"#
            )
            && stderr.contains(
                r#"spec.template.spec.containers[0].name: Invalid value: "Nginx": a lowercase RFC 1123 label must consist of"#
            ),
        "{stderr}"
    );
    c.stop().await;
}
