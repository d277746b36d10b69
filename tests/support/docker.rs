//! Docker for the suites that run real containers: the engine and the local test images
//! (`scripts/images` builds them; no registry is reachable), the `docker` CLI, and the
//! removal of everything a test made, found by a label of that test's own.

use bollard::Docker;
use std::process::{Command, Stdio};

/// The local busybox image (`scripts/images`).
pub const BUSYBOX: &str = "kubetrail.dev/busybox:1";
/// The echo server the README's pod chapter runs.
pub const ECHO: &str = "ghcr.io/subicura/echo:v1";

/// A client of the local engine, after checking that it answers and holds `image`.
pub async fn engine_with(image: &str) -> Docker {
    let docker = Docker::connect_with_local_defaults()
        .expect("a Docker client (the test command starts dockerd)");
    let docker = docker
        .negotiate_version()
        .await
        .expect("the Docker engine answers (scripts/test starts it)");
    docker
        .inspect_image(image)
        .await
        .unwrap_or_else(|_| panic!("image {image} is missing: run scripts/images"));
    docker
}

/// Run the `docker` CLI and require success; its stdout.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A name no other test (of this run or another) uses: `prefix-test-<hex>`.
pub fn unique(prefix: &str, test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{test}-{:x}", nanos ^ std::process::id())
}

/// Removes, when dropped (pass or fail), every container and volume carrying `label`
/// (`key=value`): the label marks what one test made, so tests side by side keep theirs.
pub struct Cleanup {
    pub label: String,
}

impl Cleanup {
    pub fn new(key: &str, value: &str) -> Cleanup {
        Cleanup {
            label: format!("{key}={value}"),
        }
    }

    /// Ids of the containers with this label (with `all`, stopped ones too), filtered by
    /// more labels.
    pub fn containers(&self, all: bool, labels: &[&str]) -> Vec<String> {
        let label = format!("label={}", self.label);
        let mut args = vec!["ps", "-q", "--no-trunc", "--filter", label.as_str()];
        if all {
            args.push("-a");
        }
        let filters: Vec<String> = labels.iter().map(|l| format!("label={l}")).collect();
        for filter in &filters {
            args.extend_from_slice(&["--filter", filter]);
        }
        docker(&args).lines().map(str::to_string).collect()
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let label = format!("label={}", self.label);
        let listed = |args: &[&str]| -> Vec<String> {
            Command::new("docker")
                .args(args)
                .stderr(Stdio::null())
                .output()
                .map(|out| {
                    String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let ids = listed(&["ps", "-aq", "--no-trunc", "--filter", &label]);
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .output();
        }
        let volumes = listed(&["volume", "ls", "-q", "--filter", &label]);
        if !volumes.is_empty() {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f"])
                .args(&volumes)
                .output();
        }
    }
}
