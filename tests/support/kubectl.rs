//! The kubectl under test, run with one server's kubeconfig and a cache directory of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// The kubectl under test: `$KUBECTL` (the test command sets it to kubectl 1.37 for a second
/// run of the real-kubectl suites), else the one on PATH.
pub fn kubectl_binary() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_string())
}

/// kubectl 1.20 (`$KUBETRAIL_KUBECTL_120`): Debian's `kubernetes-client`, which the test
/// command unpacks beside the others; it reads OpenAPI v2 only (gnostic protobuf).
pub fn kubectl_120_binary() -> String {
    std::env::var("KUBETRAIL_KUBECTL_120").unwrap_or_else(|_| {
        panic!(
            "KUBETRAIL_KUBECTL_120 is unset: it names kubectl 1.20. scripts/test unpacks Debian's \
             kubernetes-client (apt-get download kubernetes-client && dpkg -x) and sets it"
        )
    })
}

/// `tests/manifests/NAME` as a path argument.
pub fn manifest(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/manifests")
        .join(name)
        .display()
        .to_string()
}

/// kubectl bound to a kubeconfig, with its own KUBECACHEDIR (removed when dropped).
pub struct Kubectl {
    pub kubeconfig: PathBuf,
    pub cache: TempDir,
    /// The kubectl binary it runs.
    pub binary: String,
}

impl Kubectl {
    /// The kubectl under test (`kubectl_binary`).
    pub fn new(kubeconfig: impl Into<PathBuf>) -> Kubectl {
        Kubectl::with_binary(kubeconfig, kubectl_binary())
    }

    /// Another kubectl binary (`kubectl_120_binary`) with the same kubeconfig.
    pub fn with_binary(kubeconfig: impl Into<PathBuf>, binary: String) -> Kubectl {
        Kubectl {
            kubeconfig: kubeconfig.into(),
            cache: tempfile::tempdir().expect("cache dir"),
            binary,
        }
    }

    /// A kubectl command with this kubeconfig and cache; the caller adds stdio.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        if self.binary != kubectl_binary() {
            // Older kubectl reads no KUBECACHEDIR.
            command.arg(format!("--cache-dir={}", self.cache.path().display()));
        }
        command
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.cache.path());
        command
    }

    /// Run kubectl to its end (blocking), `input` on its stdin (none: an empty stdin).
    pub fn output_with_input(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        run_command(self.command(args), input.map(<[u8]>::to_vec))
    }

    /// Run kubectl to its end (blocking); its output.
    pub fn output(&self, args: &[&str]) -> Output {
        self.output_with_input(args, None)
    }

    /// Blocking: run kubectl and require success; its stdout.
    pub fn ok_blocking(&self, args: &[&str]) -> String {
        succeeded(args, self.output(args))
    }

    /// Run kubectl off the async runtime's threads, `input` on its stdin; its output.
    pub async fn run_with_input(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        let command = self.command(args);
        let input = input.map(<[u8]>::to_vec);
        tokio::task::spawn_blocking(move || run_command(command, input))
            .await
            .expect("kubectl ran")
    }

    /// Run kubectl off the async runtime's threads; its output.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with_input(args, None).await
    }

    /// Run kubectl and require success; its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.run(args).await)
    }
}

fn run_command(mut command: Command, input: Option<Vec<u8>>) -> Output {
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl is on PATH (the test command installs it)");
    if let Some(input) = input {
        let mut pipe = child.stdin.take().expect("stdin");
        // Written beside the reads, so a large input never waits on a full stdout pipe.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    child.wait_with_output().expect("kubectl ran")
}

/// `out`'s stdout, after asserting that kubectl succeeded.
fn succeeded(args: &[&str], out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Two fields of each object `kubectl get ARGS` lists (jsonpath, e.g. `{.metadata.name}`).
pub async fn pairs(kubectl: &Kubectl, args: &[&str], a: &str, b: &str) -> Vec<(String, String)> {
    let jsonpath = format!(r#"jsonpath={{range .items[*]}}{a} {b}{{"\n"}}{{end}}"#);
    let mut all = vec!["get"];
    all.extend(args);
    all.extend(["-o", jsonpath.as_str()]);
    let out = kubectl.ok(&all).await;
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The pods of the course's ReplicaSet `echo-rs` (`app=echo`): name -> phase.
pub async fn echo_pods(kubectl: &Kubectl) -> BTreeMap<String, String> {
    let args = ["pods", "-l", "app=echo"];
    let found = pairs(kubectl, &args, "{.metadata.name}", "{.status.phase}").await;
    found.into_iter().collect()
}

/// Wait (at most a minute) until exactly `n` pods of `echo-rs` exist and all run; their names.
pub async fn echo_running(kubectl: &Kubectl, n: usize) -> BTreeSet<String> {
    super::wait::until(
        &format!("{n} echo-rs pods running"),
        Duration::from_secs(60),
        || async {
            let pods = echo_pods(kubectl).await;
            pods.len() == n && pods.values().all(|p| p == "Running")
        },
    )
    .await;
    echo_pods(kubectl).await.into_keys().collect()
}
