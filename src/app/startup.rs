//! `Application::build`: check the exposure and database asked for, protect and lock the data
//! directory, open the database through `store` (the data directory's `state.db`, or a
//! PostgreSQL database; migrations, projections check; neither for `--read-only`), start the
//! event log writer, bootstrap the built-in namespaces, prepare credentials, bind the listener
//! and spawn the workers. Wiring only.

use super::tls;
use crate::app::config::Settings;
use crate::auth::token::Signer;
use crate::events::{Command, EventLog, RequestMeta};
use crate::http::{self, AppState, WatchSettings};
use crate::metrics::Metrics;
use crate::model::ResourceKind;
use crate::projections::ReadStore;
use crate::shutdown::Shutdown;
use crate::store::{self, Database, Readers, Writer};
use crate::{datadir, events, workers};
use actix_web::dev::Server;
use actix_web::{App, middleware, web};
use anyhow::Context;
use serde_json::json;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Namespaces that exist from the start.
pub const BUILTIN_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

pub struct Application {
    server: Server,
    port: u16,
    url: String,
    kubeconfig: PathBuf,
    log: EventLog,
    store: ReadStore,
    shutdown: Shutdown,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    database: Database,
    snapshot_every: i64,
    /// Held until the server has stopped (after the shutdown snapshot).
    lock: datadir::DirLock,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Some(problem) = settings.exposure_problem() {
            anyhow::bail!(problem);
        }
        if let Some(problem) = settings.database_problem() {
            anyhow::bail!(problem);
        }
        if !settings.tls && !settings.listen.ip().is_loopback() {
            tracing::warn!(
                listen = %settings.listen,
                "serving plain HTTP WITHOUT AUTHENTICATION on a non-loopback address: anyone \
                 who can reach it is the cluster's admin"
            );
        }
        let cors = http::cors::Origins::new(&settings.cors_allowed_origins, settings.tls)
            .map_err(anyhow::Error::msg)?;
        datadir::prepare(&settings.data_dir)?;
        let lock = datadir::lock(&settings.data_dir)?;
        let database = settings.database();
        let opened = if settings.read_only {
            store::open_read_only(database.clone()).await
        } else {
            store::open(database.clone()).await
        };
        let (mut writer, readers) = match &database {
            Database::Sqlite(_) => opened?,
            // Named without its password; the driver's reason follows.
            Database::Postgres { .. } => opened.with_context(|| {
                format!(
                    "opening the PostgreSQL database {database}: check that the server runs and \
                     that the URL's user, password and database are right"
                )
            })?,
        };
        if !settings.read_only && !writer.projections_current().await? {
            verify_and_rebuild(&mut writer, &readers).await?;
        }
        let read_only = settings
            .read_only
            .then(|| crate::history::replay::read_only_message(&settings.data_dir));
        let checkpoints = match read_only {
            Some(_) => None,
            None => {
                writer.leave_checkpoints_to_checkpointer().await?;
                Some(store::connect_checkpointer(database.clone()).await?)
            }
        };
        let metrics = Arc::new(Metrics::new());
        let service_ranges = crate::model::service::ServiceRanges::new(
            &settings.service_cidr,
            crate::model::service::DEFAULT_NODE_PORTS,
        )
        .map_err(|e| anyhow::anyhow!("--service-cluster-ip-range: {e}"))?;
        let (log, writer_task) = EventLog::start_with(
            writer,
            &readers,
            metrics.clone(),
            settings.watch_buffer,
            service_ranges,
        )
        .await?;
        let store = ReadStore::new(readers);
        if read_only.is_none() {
            bootstrap_namespaces(&log, &store).await?;
            bootstrap_kubernetes_service(&log, &store, service_ranges).await?;
        }

        // A past moment served read-only keeps the data directory as it is.
        let tokens = match read_only {
            Some(_) => match Signer::load(&settings.data_dir).map_err(anyhow::Error::msg)? {
                Some(signer) => signer,
                None => Signer::ephemeral().map_err(anyhow::Error::msg)?,
            },
            None => Signer::load_or_create(&settings.data_dir).map_err(anyhow::Error::msg)?,
        };
        let credentials = if settings.tls {
            Some(tls::load_or_create(
                &settings.data_dir,
                &settings.certificate_names(),
            )?)
        } else {
            None
        };
        let tokens = Arc::new(tokens);
        let state = web::Data::new(AppState {
            log: log.clone(),
            store: store.clone(),
            metrics,
            watch: WatchSettings {
                max_timeout: settings.max_watch_timeout,
                heartbeat: settings.watch_heartbeat,
            },
            token: credentials.as_ref().map(|c| c.token.clone()),
            docker: match &read_only {
                Some(message) => http::containers::DockerHandle::refusing(message),
                None => http::containers::DockerHandle::local(),
            },
            read_only: read_only.clone(),
            cors,
            ui: http::ui::Sessions::new(),
            tokens: tokens.clone(),
        });
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let factory = move || {
            App::new()
                .app_data(state.clone())
                .wrap(middleware::from_fn(http::authenticate_and_measure))
                .configure(http::routes)
        };
        // `[::1]:6443` for IPv6: a bare `::1:6443` would not parse as a URL's host and port.
        let reached_at = std::net::SocketAddr::new(settings.client_ip(), port);
        let (server, url) = match &credentials {
            Some(c) => (
                super::listener::serve(listener, Some(tls::server_config(c)?), factory)?,
                format!("https://{reached_at}"),
            ),
            None => (
                super::listener::serve(listener, None, factory)?,
                format!("http://{reached_at}"),
            ),
        };
        let kubeconfig = settings.kubeconfig_path();
        datadir::write_private(
            &kubeconfig,
            tls::kubeconfig(&url, credentials.as_ref()).as_bytes(),
        )
        .with_context(|| format!("writing {}", kubeconfig.display()))?;

        let shutdown = Shutdown::new();
        let mut tasks = match read_only {
            // A past moment is served as it was: nothing may act on it.
            Some(_) => vec![],
            None => {
                // The workers learn where the API listens (the `kubernetes` Service's route),
                // its CA and its token signer (what the kubelet gives pods).
                let mut worker_settings = settings.workers.clone();
                // A SQLite log has one server (the data directory's lock): a controllers'
                // Lease it finds held is a dead process's, not to be waited out.
                worker_settings.sole_server = matches!(database, Database::Sqlite(_));
                worker_settings.api = Some(workers::ApiServer {
                    listener: reached_at,
                    ca_pem: credentials
                        .as_ref()
                        .map(|c| c.ca_pem.clone())
                        .unwrap_or_default(),
                    signer: tokens.clone(),
                    kubelet_dir: settings.data_dir.join("kubelet"),
                });
                workers::spawn_workers(
                    log.clone(),
                    store.clone(),
                    &worker_settings,
                    shutdown.clone(),
                )
                .await?
            }
        };
        tasks.push(writer_task);
        if let Some(conn) = checkpoints {
            tasks.push(tokio::spawn(
                events::checkpoint::run_checkpointer_until_stopped(conn, shutdown.clone()),
            ));
        }
        if let (None, Some(older_than)) = (&read_only, settings.compact_older_than) {
            let mut writer = store::connect_writer(database.clone()).await?;
            writer.leave_checkpoints_to_checkpointer().await?;
            let mut stop = shutdown.clone();
            tasks.push(tokio::spawn(crate::history::compact::run_compaction_until(
                writer,
                store.readers().clone(),
                older_than,
                async move { stop.wait().await },
            )));
        }
        let snapshot_every = match read_only {
            Some(_) => 0,
            None => settings.snapshot_every,
        };
        Ok(Application {
            server,
            port,
            url,
            kubeconfig,
            log,
            store,
            shutdown,
            tasks,
            database,
            snapshot_every,
            lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:<port>` (or `http://` without TLS).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Stops the HTTP server; `run_until_stopped` then returns.
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    pub fn store(&self) -> &ReadStore {
        &self.store
    }

    /// Serve until the server stops (signal or handle), then stop the workers.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.shutdown.trigger();
        drop(self.log);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        if self.snapshot_every > 0
            && let Err(e) = snapshot_if_due(&self.database, self.snapshot_every).await
        {
            tracing::warn!(error = %format!("{e:#}"), "no snapshot of the projections at shutdown");
        }
        drop(self.lock);
        result
    }
}

/// Projections that are not at the log's position were changed outside the writer (or a
/// rebuild was interrupted): report what `verify` finds, then rebuild them from the log.
async fn verify_and_rebuild(writer: &mut Writer, readers: &Readers) -> anyhow::Result<()> {
    match crate::history::verify::verify(readers).await {
        Ok(report) => {
            for line in report.lines() {
                tracing::warn!("verify: {line}");
            }
        }
        Err(e) => tracing::warn!(error = %e, "verify could not read the store"),
    }
    let started = std::time::Instant::now();
    let replayed = writer.rebuild().await?;
    tracing::info!(
        events = replayed,
        seconds = started.elapsed().as_secs_f64(),
        "projections rebuilt from the log"
    );
    Ok(())
}

/// Snapshot the projections when `every` events were appended since the newest snapshot.
async fn snapshot_if_due(database: &Database, every: i64) -> anyhow::Result<()> {
    // One plain connection: the schema is migrated already (and the migrator's future cannot
    // be proven Send, which `run_until_stopped` must be).
    let mut conn = store::connect_writer(database.clone()).await?;
    if conn.events_since_newest_snapshot().await? >= every
        && let Some((seq, rows)) = conn.take_snapshot().await?
    {
        tracing::info!(seq, rows, "snapshot of the projections taken");
    }
    Ok(())
}

/// Create the `kubernetes` Service in `default` when it does not exist, as kube-apiserver
/// does: the first address of the service range, port 443 named https.
async fn bootstrap_kubernetes_service(
    log: &EventLog,
    store: &ReadStore,
    ranges: crate::model::service::ServiceRanges,
) -> anyhow::Result<()> {
    use crate::model::service::KUBERNETES_SERVICE;
    if store
        .get(ResourceKind::Service, "default", KUBERNETES_SERVICE)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let ip = ranges.first_ip().to_string();
    let command = Command::Create {
        kind: ResourceKind::Service,
        namespace: "default".to_string(),
        object: json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": KUBERNETES_SERVICE,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": ip, "clusterIPs": [ip], "type": "ClusterIP",
                     "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                "targetPort": 6443}]}}),
    };
    match log
        .submit(command, RequestMeta::worker(crate::api::actors::SYSTEM))
        .await
    {
        Ok(_) => Ok(()),
        // Another Service named its address first: the server runs without this one.
        Err(crate::events::SubmitError::Command(refused)) => {
            tracing::warn!(%refused, "the kubernetes Service was not created");
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context("creating the kubernetes Service")),
    }
}

/// Create the built-in namespaces that do not exist yet, through the log like any write.
async fn bootstrap_namespaces(log: &EventLog, store: &ReadStore) -> anyhow::Result<()> {
    for name in BUILTIN_NAMESPACES {
        if store
            .get(ResourceKind::Namespace, "", name)
            .await?
            .is_some()
        {
            continue;
        }
        let command = Command::Create {
            kind: ResourceKind::Namespace,
            namespace: String::new(),
            object: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        };
        log.submit(command, RequestMeta::worker(crate::api::actors::SYSTEM))
            .await
            .with_context(|| format!("creating namespace {name}"))?;
    }
    Ok(())
}
