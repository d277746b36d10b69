//! The real `kubectl` on PATH against a real server over HTTPS with the generated kubeconfig.
//! Each test gets its own server, data directory and KUBECACHEDIR. Validation is off until the
//! OpenAPI documents are served.

use kubetrail::config::Settings;
use kubetrail::startup::Application;
use std::path::{Path, PathBuf};
use std::process::Output;
use tempfile::TempDir;

struct Cluster {
    _dir: TempDir,
    cache: TempDir,
    kubeconfig: PathBuf,
    handle: actix_web::dev::ServerHandle,
}

impl Cluster {
    async fn start() -> Cluster {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("data dir");
        let settings = Settings::new(
            "127.0.0.1:0".parse().expect("addr"),
            dir.path().to_path_buf(),
        );
        let app = Application::build(settings).await.expect("server builds");
        let kubeconfig = app.kubeconfig_path().to_path_buf();
        let handle = app.server_handle();
        tokio::spawn(app.run_until_stopped());
        Cluster {
            _dir: dir,
            cache: tempfile::tempdir().expect("cache dir"),
            kubeconfig,
            handle,
        }
    }

    /// Run kubectl with this cluster's kubeconfig and cache; returns its output.
    async fn kubectl(&self, args: &[&str]) -> Output {
        let kubeconfig = self.kubeconfig.clone();
        let cache = self.cache.path().to_path_buf();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("kubectl")
                .args(&args)
                .env("KUBECONFIG", &kubeconfig)
                .env("KUBECACHEDIR", &cache)
                .output()
                .expect("kubectl is on PATH (the test command installs it)")
        })
        .await
        .expect("kubectl ran")
    }

    /// Run kubectl and require success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {stderr}\n{stdout}"
        );
        stdout
    }

    async fn stop(self) {
        self.handle.stop(true).await;
    }
}

fn manifest(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/manifests")
        .join(name)
        .display()
        .to_string()
}

#[tokio::test]
async fn kubectl_talks_to_the_server_as_kubernetes() {
    let c = Cluster::start().await;
    let version = c.ok(&["version"]).await;
    assert!(version.contains("Server Version: v1.32.4"), "{version}");
    let ns = c.ok(&["get", "namespaces", "-o", "name"]).await;
    for expected in [
        "namespace/default",
        "namespace/kube-system",
        "namespace/kube-public",
    ] {
        assert!(ns.contains(expected), "{ns}");
    }
    let resources = c.ok(&["api-resources"]).await;
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
    let c = Cluster::start().await;
    let pod = manifest("echo-pod.yaml");
    assert_eq!(
        c.ok(&["create", "-f", &pod, "--validate=false"])
            .await
            .trim(),
        "pod/echo created"
    );

    let again = c.kubectl(&["create", "-f", &pod, "--validate=false"]).await;
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("Error from server (AlreadyExists)")
            && stderr.contains("pods \"echo\" already exists"),
        "{stderr}"
    );

    let table = c.ok(&["get", "pods"]).await;
    assert!(table.lines().any(|l| l.starts_with("echo ")), "{table}");
    let yaml = c.ok(&["get", "pod", "echo", "-o", "yaml"]).await;
    assert!(
        yaml.contains("name: echo") && yaml.contains("restartPolicy: Always"),
        "{yaml}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "pod", "echo", "-o", "json"]).await).unwrap();
    assert_eq!(json["metadata"]["labels"]["app"], "echo");
    assert_eq!(
        c.ok(&["get", "pods", "-l", "app=echo", "-o", "name"])
            .await
            .trim(),
        "pod/echo"
    );
    assert_eq!(
        c.ok(&["get", "pods", "-l", "app!=echo", "-o", "name"])
            .await
            .trim(),
        ""
    );
    let all = c.ok(&["get", "pods", "-A"]).await;
    assert!(
        all.contains("NAMESPACE") && all.contains("default") && all.contains("echo"),
        "{all}"
    );
    let by_field = c
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
        c.ok(&["label", "pod", "echo", "release=stable"])
            .await
            .trim(),
        "pod/echo labeled"
    );
    assert_eq!(
        c.ok(&["label", "pod", "echo", "release=canary", "--overwrite"])
            .await
            .trim(),
        "pod/echo labeled"
    );
    assert_eq!(
        c.ok(&[
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
        c.ok(&["label", "pod", "echo", "release-"]).await.trim(),
        "pod/echo unlabeled"
    );
    assert_eq!(
        c.ok(&[
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
        c.ok(&["annotate", "pod", "echo", "note=hello"])
            .await
            .trim(),
        "pod/echo annotated"
    );
    assert_eq!(
        c.ok(&[
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
        .ok(&["get", "--raw", "/api/v1/namespaces/default/pods/echo"])
        .await;
    let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(raw["kind"], "Pod");

    assert_eq!(
        c.ok(&["delete", "pod", "echo"]).await.trim(),
        "pod \"echo\" deleted"
    );
    let missing = c.kubectl(&["get", "pod", "echo"]).await;
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
    let c = Cluster::start().await;
    let rs = manifest("echo-rs.yaml");
    assert_eq!(
        c.ok(&["create", "-f", &rs, "--validate=false"])
            .await
            .trim(),
        "replicaset.apps/echo-rs created"
    );
    assert_eq!(
        c.ok(&["scale", "rs", "echo-rs", "--replicas=3"])
            .await
            .trim(),
        "replicaset.apps/echo-rs scaled"
    );
    assert_eq!(
        c.ok(&["get", "rs", "echo-rs", "-o", "jsonpath={.spec.replicas}"])
            .await,
        "3"
    );
    assert_eq!(
        c.ok(&[
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
        c.ok(&["get", "replicasets.apps", "-o", "name"])
            .await
            .trim(),
        "replicaset.apps/echo-rs"
    );
    let stale = c
        .kubectl(&[
            "scale",
            "rs",
            "echo-rs",
            "--current-replicas=3",
            "--replicas=2",
        ])
        .await;
    assert!(!stale.status.success(), "a stale precondition fails");

    c.ok(&[
        "create",
        "-f",
        &manifest("echo-pod.yaml"),
        "--validate=false",
    ])
    .await;
    let deleted = c.ok(&["delete", "pods", "-l", "app=echo"]).await;
    assert!(deleted.contains("pod \"echo\" deleted"), "{deleted}");
    let deleted = c.ok(&["delete", "-f", &rs]).await;
    assert!(
        deleted.contains("replicaset.apps \"echo-rs\" deleted"),
        "{deleted}"
    );
    assert_eq!(c.ok(&["get", "rs", "-o", "name"]).await.trim(), "");
    c.stop().await;
}

#[tokio::test]
async fn wrong_token_is_refused_like_kubernetes() {
    let c = Cluster::start().await;
    let config = std::fs::read_to_string(&c.kubeconfig).unwrap();
    let token_line = config
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .unwrap()
        .to_string();
    let bad = config.replace(&token_line, "    token: wrong");
    let bad_path = c.cache.path().join("bad-kubeconfig");
    std::fs::write(&bad_path, bad).unwrap();
    let out = c
        .kubectl(&["get", "pods", "--kubeconfig", bad_path.to_str().unwrap()])
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
    let c = Cluster::start().await;
    c.ok(&[
        "create",
        "-f",
        &manifest("echo-pod.yaml"),
        "--validate=false",
    ])
    .await;
    c.ok(&[
        "create",
        "-f",
        &manifest("echo-rs.yaml"),
        "--validate=false",
    ])
    .await;

    let pods = c.ok(&["get", "pods"]).await;
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pods}"
    );
    let row: Vec<&str> = pods.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["echo", "0/1", "Pending", "0"], "{pods}");

    let wide = c.ok(&["get", "pods", "-o", "wide"]).await;
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
    let labels = c.ok(&["get", "pods", "--show-labels"]).await;
    assert!(labels.contains("app=echo,tier=web"), "{labels}");
    let column = c.ok(&["get", "pods", "-L", "tier"]).await;
    assert_eq!(header(&column).last().unwrap(), "TIER", "{column}");
    let all_ns = c.ok(&["get", "pods", "-A"]).await;
    assert_eq!(header(&all_ns)[0], "NAMESPACE", "{all_ns}");

    let rs = c.ok(&["get", "rs", "-o", "wide"]).await;
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
    let all = c.ok(&["get", "all"]).await;
    assert!(
        all.contains("pod/echo") && all.contains("replicaset.apps/echo-rs"),
        "{all}"
    );
    let both = c.ok(&["get", "po,rs", "-o", "name"]).await;
    assert_eq!(both.trim(), "pod/echo\nreplicaset.apps/echo-rs");
    let ns = c.ok(&["get", "ns"]).await;
    assert_eq!(header(&ns), ["NAME", "STATUS", "AGE"], "{ns}");

    assert_eq!(
        c.ok(&["create", "namespace", "demo"]).await.trim(),
        "namespace/demo created"
    );
    c.ok(&["run", "web", "--image=nginx", "-n", "demo"]).await;
    assert_eq!(
        c.ok(&["delete", "namespace", "demo"]).await.trim(),
        "namespace \"demo\" deleted"
    );
    assert_eq!(
        c.ok(&["get", "pods", "-n", "demo", "-o", "name"])
            .await
            .trim(),
        ""
    );
    c.stop().await;
}
