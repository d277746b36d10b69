//! `Application::build`: check the exposure asked for, protect and lock the data directory,
//! open the database (migrations, projections check; neither for `--read-only`), start the
//! event log writer, bootstrap the built-in namespaces, prepare credentials, bind the listener
//! and spawn the workers. Wiring only.

use crate::config::Settings;
use crate::events::{Command, EventLog, RequestMeta};
use crate::http::{self, AppState, WatchSettings};
use crate::metrics::Metrics;
use crate::model::ResourceKind;
use crate::projections::{ReadStore, rebuild};
use crate::shutdown::Shutdown;
use crate::{datadir, events, tls, workers};
use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};
use anyhow::Context;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{SqliteConnection, SqlitePool};
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
    database: PathBuf,
    snapshot_every: i64,
    /// Held until the server has stopped (after the shutdown snapshot).
    lock: datadir::DirLock,
}

fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        .pragma("temp_store", "memory")
}

/// Open the writer connection (migrated) and the read-only pool of a database file, creating
/// the file private to its owner if it does not exist.
pub async fn open_database(path: &Path) -> anyhow::Result<(SqliteConnection, SqlitePool)> {
    datadir::create_private(path).with_context(|| format!("creating {}", path.display()))?;
    let options = connect_options(path);
    let mut writer = events::log::connect_writer(&options)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    sqlx::migrate!()
        .run(&mut writer)
        .await
        .context("running migrations")?;
    let readers = SqlitePoolOptions::new()
        .max_connections(4)
        // Readers map the database file instead of copying each page they read (256 MiB).
        .connect_with(options.read_only(true).pragma("mmap_size", "268435456"))
        .await
        .context("opening the read pool")?;
    Ok((writer, readers))
}

/// Open a database to serve as it is, writing nothing: no migration, no rebuild, connections
/// that cannot write. One that needs either is refused, saying what to run.
pub async fn open_database_read_only(
    path: &Path,
) -> anyhow::Result<(SqliteConnection, SqlitePool)> {
    if !path.exists() {
        anyhow::bail!(
            "{} does not exist: there is nothing to serve",
            path.display()
        );
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "memory");
    let mut conn = <SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = 1")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    let dir = path.parent().unwrap_or(path).display();
    if sqlx::migrate!()
        .iter()
        .any(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
    {
        anyhow::bail!(
            "{} was written by another version of kubetrail and needs migrating, which a \
             read-only server does not do: run `kubetrail rebuild --data-dir {dir}` (on a copy, \
             to keep it as it is), then serve it read-only",
            path.display()
        );
    }
    if !rebuild::is_current(&mut conn).await? {
        anyhow::bail!(
            "the projections of {} are not at the log's position and a read-only server does \
             not rebuild them: run `kubetrail rebuild --data-dir {dir}` (on a copy, to keep it \
             as it is), then serve it read-only",
            path.display()
        );
    }
    let readers = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options.pragma("mmap_size", "268435456"))
        .await
        .context("opening the read pool")?;
    Ok((conn, readers))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Some(problem) = settings.exposure_problem() {
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
        let (mut writer, readers) = if settings.read_only {
            open_database_read_only(&settings.database_path()).await?
        } else {
            open_database(&settings.database_path()).await?
        };
        if !settings.read_only && !rebuild::is_current(&mut writer).await? {
            verify_and_rebuild(&mut writer, &readers).await?;
        }
        let read_only = settings
            .read_only
            .then(|| crate::history::replay::read_only_message(&settings.data_dir));
        let checkpoints = match read_only {
            Some(_) => None,
            None => {
                events::checkpoint::leave_to_checkpointer(&mut writer).await?;
                Some(
                    events::log::connect_writer(&connect_options(&settings.database_path()))
                        .await?,
                )
            }
        };
        let metrics = Arc::new(Metrics::new());
        let (log, writer_task) =
            EventLog::start(writer, &readers, metrics.clone(), settings.watch_buffer).await?;
        let store = ReadStore::new(readers);
        if read_only.is_none() {
            bootstrap_namespaces(&log, &store).await?;
        }

        let credentials = if settings.tls {
            Some(tls::load_or_create(
                &settings.data_dir,
                &settings.certificate_names(),
            )?)
        } else {
            None
        };
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
        // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold small responses ~40 ms.
        let server = HttpServer::new(factory)
            .on_connect(http::connection::on_connect)
            .tcp_nodelay(true)
            .shutdown_timeout(5);
        // `[::1]:6443` for IPv6: a bare `::1:6443` would not parse as a URL's host and port.
        let reached_at = std::net::SocketAddr::new(settings.client_ip(), port);
        let (server, url) = match &credentials {
            Some(c) => (
                server.listen_rustls_0_23(listener, tls::server_config(c)?)?,
                format!("https://{reached_at}"),
            ),
            None => (server.listen(listener)?, format!("http://{reached_at}")),
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
                workers::spawn_workers(
                    log.clone(),
                    store.clone(),
                    &settings.workers,
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
        let snapshot_every = match read_only {
            Some(_) => 0,
            None => settings.snapshot_every,
        };
        Ok(Application {
            server: server.run(),
            port,
            url,
            kubeconfig,
            log,
            store,
            shutdown,
            tasks,
            database: settings.database_path(),
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
async fn verify_and_rebuild(
    writer: &mut SqliteConnection,
    readers: &SqlitePool,
) -> anyhow::Result<()> {
    match crate::history::verify::verify(readers).await {
        Ok(report) => {
            for line in report.lines() {
                tracing::warn!("verify: {line}");
            }
        }
        Err(e) => tracing::warn!(error = %e, "verify could not read the store"),
    }
    let started = std::time::Instant::now();
    let replayed = rebuild::rebuild(writer).await?;
    tracing::info!(
        events = replayed,
        seconds = started.elapsed().as_secs_f64(),
        "projections rebuilt from the log"
    );
    Ok(())
}

/// Snapshot the projections when `every` events were appended since the newest snapshot.
async fn snapshot_if_due(database: &Path, every: i64) -> anyhow::Result<()> {
    // One plain connection: the schema is migrated already (and the migrator's future cannot
    // be proven Send, which `run_until_stopped` must be).
    let mut conn = events::log::connect_writer(&connect_options(database)).await?;
    if crate::projections::snapshot::events_since_newest(&mut conn).await? >= every
        && let Some((seq, rows)) = crate::projections::snapshot::take(&mut conn).await?
    {
        tracing::info!(seq, rows, "snapshot of the projections taken");
    }
    Ok(())
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
