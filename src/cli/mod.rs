//! The `kubetrail` command line: `serve` runs the API server and its workers; `kubelet` runs a
//! node against a server; `rebuild` replays the log into fresh projections; `events`,
//! `history`, `why`, `replay`, `verify` and `snapshot` debug with the log (`history`);
//! `migrate` copies a log between SQLite and PostgreSQL; `status` says what a data directory holds and what its server costs; `ui`
//! prints a login link for the timeline UI. The top of the layers: it parses arguments and
//! calls into `app` and the library; nothing imports it.

mod compact;
mod history;
mod migrate;
mod status;
mod ui;

use crate::app::config::Settings;
use crate::app::startup::Application;
use crate::model::ResourceKind;
use crate::shutdown::Shutdown;
use crate::workers::kubelet::docker::{default_node_name, run_docker_kubelet_until_stopped};
use crate::workers::kubelet::simulated::run_simulated_kubelets_until_stopped;
use crate::workers::remote::{self, Connection};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "kubetrail",
    version,
    about = "A local, kubectl-compatible Kubernetes control plane on an SQLite event log"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Serve the Kubernetes API (HTTPS with a generated CA and token) and run the workers.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:6443", env = "KUBETRAIL_LISTEN")]
        listen: SocketAddr,
        /// Directory holding state.db, the encryption keys, certificates, token and kubeconfig.
        #[arg(long, default_value = ".kubetrail", env = "KUBETRAIL_DATA_DIR")]
        data_dir: PathBuf,
        /// Keep the log in this PostgreSQL database instead of state.db
        /// (postgres://USER:PASSWORD@HOST:PORT/DATABASE, or postgresql://...). Several servers
        /// may share one database: give each a copy of the first one's data directory.
        // `--help` would otherwise print the password it finds in the environment.
        #[arg(
            long,
            env = "KUBETRAIL_DATABASE",
            hide_env_values = true,
            value_name = "URL"
        )]
        database: Option<String>,
        /// Serve plain HTTP without authentication (kubectl then sends no credentials). Only on
        /// a loopback address, unless the next flag is given too.
        #[arg(long)]
        insecure_http: bool,
        /// Allow --insecure-http on an address other machines can reach: anyone who reaches
        /// it can do anything to the cluster.
        #[arg(long, requires = "insecure_http")]
        insecure_http_allow_non_loopback_without_auth: bool,
        /// Another name (DNS name or IP address) clients reach the server by, added to the
        /// serving certificate; repeat for more.
        #[arg(long = "tls-san", value_name = "NAME")]
        tls_sans: Vec<String>,
        /// Regular expressions of the browser origins (`Origin` header) allowed to call the API,
        /// comma-separated, as kube-apiserver's flag; anchor them (`^https://app\.example$`).
        /// Requests from any other origin are refused.
        #[arg(long, value_delimiter = ',', value_name = "REGEX")]
        cors_allowed_origins: Vec<String>,
        /// Register this many simulated nodes (pods bound to them are marked Running without
        /// containers).
        #[arg(long, default_value_t = 0, env = "KUBETRAIL_SIMULATED_NODES")]
        simulated_nodes: usize,
        /// Name of the Docker-backed node this server runs (default: the hostname).
        #[arg(long, env = "KUBETRAIL_NODE_NAME")]
        node_name: Option<String>,
        /// Run no Docker-backed node (only simulated nodes or separate kubelets).
        #[arg(long)]
        no_docker_node: bool,
        /// The range Services' ClusterIPs come from. On a Docker node run as root the server
        /// also holds the addresses in use on an interface of its own, rejects the rest of
        /// the range, and serves the cluster DNS at the range's tenth address.
        #[arg(long, default_value = crate::model::service::DEFAULT_SERVICE_CIDR, value_name = "CIDR")]
        service_cluster_ip_range: String,
        /// Make no host changes for Services: nothing listens on their addresses, node ports
        /// or ingress, and pods use Docker's resolver.
        #[arg(long)]
        no_service_network: bool,
        /// Serve the data directory as it is (e.g. a `replay`): no workers, writes refused.
        #[arg(long)]
        read_only: bool,
        /// How long a core/v1 Event is kept after its last write (`1h`, `30m`, `2h30m`, `90s`),
        /// then deleted by the event TTL controller, as kube-apiserver's flag.
        #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
        event_ttl: std::time::Duration,
        /// Compact the log now and then (as `kubetrail compact --before DURATION` with its
        /// default kinds): fold the history of Events, Leases and status-only updates older
        /// than this. Off by default: the log keeps everything.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        compact_older_than: Option<std::time::Duration>,
    },
    /// Run a node's kubelet in this process against a kubetrail server (list+watch and writes
    /// over its HTTP API): Docker-backed, or simulated with `--simulated`.
    Kubelet {
        /// Use the current context of this kubeconfig (server, CA, token).
        #[arg(long, env = "KUBECONFIG", conflicts_with = "server")]
        kubeconfig: Option<PathBuf>,
        /// The server URL, when not taken from a kubeconfig.
        #[arg(long)]
        server: Option<String>,
        /// Bearer token for `--server`.
        // `--help` would otherwise print the token it finds in the environment.
        #[arg(long, env = "KUBETRAIL_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// PEM file of the CA that signed the server's certificate, for `--server`.
        #[arg(long)]
        certificate_authority: Option<PathBuf>,
        /// The node this kubelet registers and runs (default: the hostname).
        #[arg(long)]
        node_name: Option<String>,
        /// Run pods without containers (a simulated node).
        #[arg(long)]
        simulated: bool,
        /// How long a simulated pod takes to start, in milliseconds.
        #[arg(long, default_value_t = 200)]
        start_delay_ms: u64,
        /// The cluster DNS the pods of a Docker node resolve through (the server's is the
        /// tenth address of its service range, e.g. 10.96.0.10).
        #[arg(long, value_name = "IP")]
        cluster_dns: Option<std::net::Ipv4Addr>,
        /// Where a Docker node keeps its pods' ConfigMap, Secret and token files (default:
        /// `kubelet-NODE` in the system's temporary directory, made private).
        #[arg(long, value_name = "DIR")]
        root_dir: Option<PathBuf>,
    },
    /// Drop the projections and rebuild them from the event log.
    Rebuild(history::DataDir),
    /// The event log, filtered: who changed what, when, and why.
    Events(history::EventsArgs),
    /// Every event of one object, with what each changed.
    History(history::HistoryArgs),
    /// The causal chain of an object's creation (or of one of its events), back to a request.
    Why(history::WhyArgs),
    /// Copy the log up to a moment into a new data directory (`--until`, `--into`), or check
    /// today's controllers against the decisions they recorded (`--check-workers`).
    Replay(history::ReplayArgs),
    /// Replay the log in memory and compare it with the projections; exits 1 when they differ.
    Verify(history::VerifyArgs),
    /// Snapshot the projections, so a rebuild replays only the events after it.
    Snapshot(history::DataDir),
    /// Fold old history (by default: core/v1 Events, Leases and status-only updates of every
    /// kind) into each object's newest version at a compaction point, and shrink the database.
    /// What people wrote to other kinds stays. Lists and watches at an older resourceVersion
    /// are then answered 410 Expired. Runs beside a running server.
    Compact(compact::CompactArgs),
    /// Copy a stopped cluster's whole log into an empty PostgreSQL database (`--to
    /// postgres://...`) or a new data directory (`--to DIR`), with the encryption keys its
    /// Secrets need; rebuild the copy's projections and verify them. Exits 1 unless clean.
    ///
    /// The source is --data-dir's state.db, or the PostgreSQL log --database names. Stop its
    /// server first: migrate refuses a data directory a server holds (serve.lock) and holds
    /// both data directories while it copies, so that the copy is the whole log at one moment
    /// and no write after it is lost (the source is read a page at a time, not in one
    /// snapshot). A target holding any event is refused and left as it is. Events are copied
    /// 1,000 to a transaction; a copy that fails part-way leaves part of the log in the
    /// target, which the error says how to clear.
    Migrate(migrate::MigrateArgs),
    /// What the data directory holds (sizes, events and objects by kind, the resourceVersions
    /// kept) and the memory of the server serving it.
    Status(status::StatusArgs),
    /// Print a link that logs a browser in to the timeline UI (`/ui/`) of a running server.
    Ui(ui::UiArgs),
}

// A multi-threaded runtime: the event-log writer, the informer and the controllers must not
// share one thread (actix-web runs its HTTP workers on threads of its own either way).
/// Runs the command line: parse the arguments, then run the chosen command to its end.
pub async fn run() -> anyhow::Result<()> {
    // The allocator asks for transparent huge pages for its arenas, which made ~20 MB of the
    // start-up resident set out of a few KB in use; small pages keep it to what is touched.
    // SAFETY: PR_SET_THP_DISABLE only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    // Everything kubetrail creates (data directories, the database and SQLite's files beside
    // it, credentials, replays) is its owner's alone from the moment it exists.
    // SAFETY: umask only sets this process's file creation mask.
    unsafe {
        libc::umask(0o077);
    }
    crate::app::telemetry::init("info");
    match Cli::parse().command {
        Commands::Serve {
            listen,
            data_dir,
            database,
            insecure_http,
            insecure_http_allow_non_loopback_without_auth,
            tls_sans,
            cors_allowed_origins,
            simulated_nodes,
            node_name,
            no_docker_node,
            service_cluster_ip_range,
            no_service_network,
            read_only,
            event_ttl,
            compact_older_than,
        } => {
            let mut settings = Settings::new(listen, data_dir);
            settings.database_url = database;
            settings.tls = !insecure_http;
            settings.insecure_http_non_loopback = insecure_http_allow_non_loopback_without_auth;
            settings.tls_sans = tls_sans;
            settings.cors_allowed_origins = cors_allowed_origins;
            settings.read_only = read_only;
            settings.workers.simulated_nodes = simulated_nodes;
            settings.workers.event_ttl = event_ttl;
            settings.compact_older_than = compact_older_than;
            if !no_docker_node {
                settings.workers.docker_node = Some(node_name.unwrap_or_else(default_node_name));
            }
            settings.workers.routing =
                routing(&settings, &service_cluster_ip_range, no_service_network)?;
            settings.service_cidr = service_cluster_ip_range;
            let app = Application::build(settings).await?;
            // A closed stdout (a parent that stopped reading) must not stop the server.
            let mut out = std::io::stdout();
            let _ = writeln!(
                out,
                "kubetrail is serving the Kubernetes API at {}",
                app.url()
            );
            let _ = writeln!(
                out,
                "export KUBECONFIG={}",
                absolute(app.kubeconfig_path()).display()
            );
            let _ = out.flush();
            app.run_until_stopped().await?;
        }
        Commands::Kubelet {
            kubeconfig,
            server,
            token,
            certificate_authority,
            node_name,
            simulated,
            start_delay_ms,
            cluster_dns,
            root_dir,
        } => {
            let node_name = node_name.unwrap_or_else(default_node_name);
            let connection = match (kubeconfig, server) {
                (_, Some(server)) => {
                    let ca = certificate_authority
                        .map(std::fs::read_to_string)
                        .transpose()?;
                    Connection::new(&server, token, ca.as_deref())?
                }
                (Some(path), None) => Connection::from_kubeconfig(&path)?,
                (None, None) => anyhow::bail!("pass --kubeconfig or --server"),
            };
            let connection = std::sync::Arc::new(connection);
            // What pods draw on comes with them: their ConfigMaps, Secrets, ServiceAccounts and
            // the Services their environment names; the node's Lease is renewed from its copy.
            let informer = remote::informer(
                connection.clone(),
                &[
                    ResourceKind::Node,
                    ResourceKind::Pod,
                    ResourceKind::ConfigMap,
                    ResourceKind::Secret,
                    ResourceKind::ServiceAccount,
                    ResourceKind::Service,
                    ResourceKind::Lease,
                ],
            );
            let heartbeat = crate::workers::kubelet::NodeReporting::from(
                crate::workers::nodes::Timing::default(),
            );
            let shutdown = Shutdown::new();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                stop.trigger();
            });
            if simulated {
                tracing::info!(node = %node_name, "simulated kubelet started");
                run_simulated_kubelets_until_stopped(
                    connection,
                    informer,
                    vec![node_name],
                    std::time::Duration::from_millis(start_delay_ms),
                    heartbeat,
                    shutdown,
                )
                .await;
            } else {
                tracing::info!(node = %node_name, "Docker kubelet started");
                let injection = crate::workers::kubelet::docker::Injection {
                    root_dir: root_dir.unwrap_or_else(|| {
                        std::env::temp_dir().join(format!("kubelet-{node_name}"))
                    }),
                    tokens: Some(connection.clone()),
                    ca_pem: connection.ca_pem().unwrap_or("").to_string(),
                };
                run_docker_kubelet_until_stopped(
                    connection,
                    informer,
                    node_name,
                    heartbeat,
                    cluster_dns,
                    injection,
                    shutdown,
                )
                .await;
            }
        }
        Commands::Rebuild(data) => {
            // Rebuilding under a running server would drop the projections it serves and
            // appends to.
            let _lock = crate::datadir::lock(&data.data_dir)?;
            let (mut writer, _) = history::open_writer(&data.location()?).await?;
            let started = std::time::Instant::now();
            let events = writer.rebuild().await?;
            println!(
                "rebuilt the projections from {events} events in {:.3}s",
                started.elapsed().as_secs_f64()
            );
        }
        Commands::Events(args) => history::events(args).await?,
        Commands::History(args) => history::history(args).await?,
        Commands::Why(args) => history::explain(args).await?,
        Commands::Replay(args) => {
            if !history::replay(args).await? {
                std::process::exit(1);
            }
        }
        Commands::Verify(args) => {
            if !history::verify(args).await? {
                std::process::exit(1);
            }
        }
        Commands::Snapshot(args) => history::snapshot(args).await?,
        Commands::Compact(args) => compact::compact(args).await?,
        Commands::Migrate(args) => {
            if !migrate::migrate(args).await? {
                std::process::exit(1);
            }
        }
        Commands::Status(args) => status::status(args).await?,
        Commands::Ui(args) => ui::ui(args).await?,
    }
    Ok(())
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Where a server's service network runs: on its Docker node when run as root, unless turned
/// off; otherwise why not, in words a Service's Event carries.
fn routing(
    settings: &Settings,
    range: &str,
    off: bool,
) -> anyhow::Result<crate::workers::proxy::worker::Routing> {
    use crate::workers::proxy::{table::Range, worker::Routing};
    let parsed = Range::parse(range).ok_or_else(|| {
        anyhow::anyhow!(
            "--service-cluster-ip-range {range:?} is not an IPv4 CIDR of /8 to /30 (e.g. 10.96.0.0/12)"
        )
    })?;
    Ok(if off {
        Routing::Off {
            why: "Service routing is off (--no-service-network): nothing listens on Service \
                  addresses, node ports or ingress"
                .to_string(),
        }
    } else if settings.workers.docker_node.is_none() {
        Routing::Off {
            why: crate::workers::proxy::worker::NO_DOCKER_NODE.to_string(),
        }
    } else if unsafe { libc::geteuid() } != 0 {
        Routing::Off {
            why: "Service routing needs root: the server holds Service addresses on an \
                  interface of its own and rejects the rest of the range; run it as root, \
                  or use kubectl port-forward"
                .to_string(),
        }
    } else {
        Routing::On {
            data_dir: settings.data_dir.clone(),
            range: parsed,
        }
    })
}

/// A duration as kube-apiserver's flags take it: `1h`, `30m`, `2h30m`, `90s` (whole units).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let mut seconds: u64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("{text:?}: use h, m and s, e.g. 1h or 30m")),
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?}: a number must come before {c}"))?;
        seconds = n
            .checked_mul(unit)
            .and_then(|s| seconds.checked_add(s))
            .ok_or_else(|| format!("{text:?} is too long"))?;
        number.clear();
    }
    if !number.is_empty() || seconds == 0 {
        return Err(format!(
            "{text:?}: give a positive duration with its unit, e.g. 1h, 30m or 90s"
        ));
    }
    Ok(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_as_kube_apiserver_flags() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2h30m"), Ok(Duration::from_secs(9000)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        for bad in ["", "10", "0s", "h", "1d", "-1h", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
