//! `Settings`: what a server instance is told (listen address, data directory, TLS and auth,
//! watch limits). No I/O beyond what clap reads from arguments and the environment.

use crate::workers::WorkerSettings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to serve on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Holds `state.db`, the CA and serving certificate, the token and the kubeconfig.
    pub data_dir: PathBuf,
    /// Serve HTTPS with a bearer token (the default); plain HTTP without auth otherwise.
    pub tls: bool,
    /// Publish buffer per watcher before it is ended as too slow.
    pub watch_buffer: usize,
    /// Longest a watch may stay open when the client sets no `timeoutSeconds`.
    pub max_watch_timeout: Duration,
    /// How often an idle watch sends a bookmark or heartbeat.
    pub watch_heartbeat: Duration,
    /// Which workers run and how.
    pub workers: WorkerSettings,
    /// Serve the data directory as it is (a replay of a past moment): no workers, no
    /// bootstrap writes, every write refused.
    pub read_only: bool,
    /// Take a snapshot of the projections at shutdown when this many events were appended
    /// since the newest one (0: never).
    pub snapshot_every: i64,
}

impl Settings {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Settings {
            listen,
            data_dir,
            tls: true,
            watch_buffer: 2048,
            max_watch_timeout: Duration::from_secs(1800),
            watch_heartbeat: Duration::from_secs(15),
            workers: WorkerSettings::default(),
            read_only: false,
            snapshot_every: 10_000,
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("state.db")
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }
}
