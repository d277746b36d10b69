//! Starting the `kubetrail` binary for a benchmark: `serve` on plain HTTP at a free loopback
//! port with a data directory of its own, its URL read from what it prints, stopped when
//! dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Served {
    pub child: Child,
    /// The server's URL. (Not every benchmark reads it: some go through kubectl.)
    #[allow(dead_code)]
    pub url: String,
    /// The data directory, removed after the server stops. (Not every benchmark reads it.)
    #[allow(dead_code)]
    pub dir: tempfile::TempDir,
}

impl Drop for Served {
    /// SIGTERM first, so a server running the service network undoes its host changes; then
    /// SIGKILL if it has not stopped within 15 s.
    fn drop(&mut self) {
        // The server's own pid, which this benchmark started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kubetrail serve --listen 127.0.0.1:0 --insecure-http` plus `args`.
pub fn serve(args: &[&str]) -> Served {
    serve_in(tempfile::tempdir().expect("temp dir"), args)
}

/// `serve`, on the data directory `dir` (which may hold another server's keys already).
#[allow(dead_code)]
pub fn serve_in(dir: tempfile::TempDir, args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubetrail"))
        .args(["serve", "--listen", "127.0.0.1:0", "--insecure-http"])
        .args(args)
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubetrail starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut url = String::new();
    for line in lines.by_ref() {
        if let Some(rest) = line
            .expect("a line")
            .strip_prefix("kubetrail is serving the Kubernetes API at ")
        {
            url = rest.trim().to_string();
            break;
        }
    }
    // Keep reading so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Served { child, url, dir }
}

/// Remove every container the Docker node `node` made (after its server stopped, or its
/// kubelet would start them again).
#[allow(dead_code)]
pub fn remove_containers_of(node: &str) {
    let filter = format!("label=dev.kubetrail.node={node}");
    if let Ok(out) = Command::new("docker")
        .args(["ps", "-aq", "--filter", &filter])
        .output()
    {
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .output();
        }
    }
}
