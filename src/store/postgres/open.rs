//! Connecting to a PostgreSQL database in the one place that knows how: the writer's
//! connection (migrated with `migrations/postgres/`), the readers' pool in read-only
//! sessions, and the checks a read-only server makes instead of migrating or rebuilding.

use super::{Checkpointer, Readers, Writer, keys_anchor};
use crate::store::StoreError;
use crate::store::seal::Sealer;
use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use std::path::Path;
use std::sync::Arc;

/// The options of `url`, naming the server in PostgreSQL's views. The server's notices (a
/// migration's "already exists, skipping") stay out of the logs: warnings and errors come.
fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(url
        .parse::<PgConnectOptions>()?
        .application_name("kubetrail")
        .options([("client_min_messages", "warning")]))
}

/// Sessions whose transactions cannot write: the readers', as SQLite's read-only connections.
fn read_only(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("default_transaction_read_only", "on")])
}

/// The readers' pool.
async fn reader_pool(options: PgConnectOptions, size: u32) -> Result<sqlx::PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(size)
        .connect_with(read_only(options))
        .await
}

/// Connect the writer (migrated) and the read pool of the database at `url`, whose encryption
/// keys live in `data_dir` (made there when it has none).
pub async fn open(url: &str, data_dir: &Path) -> anyhow::Result<(Writer, Readers)> {
    let options = connect_options(url).context("reading the PostgreSQL URL")?;
    let mut writer = PgConnection::connect_with(&options)
        .await
        .context("connecting to PostgreSQL")?;
    sqlx::migrate!("./migrations/postgres")
        .run(&mut writer)
        .await
        .context("running migrations")?;
    let readers = reader_pool(options, 4)
        .await
        .context("opening the read pool")?;
    let sealer = Arc::new(Sealer::load_or_create(&keys_anchor(data_dir))?);
    Ok((
        Writer {
            conn: writer,
            sealer: sealer.clone(),
            data_dir: data_dir.to_path_buf(),
        },
        Readers {
            pool: readers,
            sealer,
        },
    ))
}

/// Serve the database at `url` as it is, writing nothing: no migration, no rebuild, sessions
/// that cannot write. One that needs either is refused, saying what to run.
pub async fn open_read_only(url: &str, data_dir: &Path) -> anyhow::Result<(Writer, Readers)> {
    let options = connect_options(url).context("reading the PostgreSQL URL")?;
    let conn = PgConnection::connect_with(&read_only(options.clone()))
        .await
        .context("connecting to PostgreSQL")?;
    let sealer = Arc::new(Sealer::load(&keys_anchor(data_dir))?);
    let mut conn = Writer {
        conn,
        sealer: sealer.clone(),
        data_dir: data_dir.to_path_buf(),
    };
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut conn.conn)
            .await
            .unwrap_or_default();
    if sqlx::migrate!("./migrations/postgres")
        .iter()
        .any(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
    {
        anyhow::bail!(
            "the PostgreSQL database was written by another version of kubetrail (or is empty) \
             and needs migrating, which a read-only server does not do: run `kubetrail rebuild` \
             on it (or on a copy, to keep it as it is), then serve it read-only"
        );
    }
    if !conn.projections_current().await? {
        anyhow::bail!(
            "the projections of the PostgreSQL database are not at the log's position and a \
             read-only server does not rebuild them: run `kubetrail rebuild` on it (or on a \
             copy, to keep it as it is), then serve it read-only"
        );
    }
    let readers = reader_pool(options, 4)
        .await
        .context("opening the read pool")?;
    Ok((
        conn,
        Readers {
            pool: readers,
            sealer,
        },
    ))
}

/// Read the database at `url` beside a running server (the debugging commands): no
/// migration, a small pool.
pub async fn open_readers(url: &str, data_dir: &Path) -> Result<Readers, StoreError> {
    Ok(Readers {
        pool: reader_pool(connect_options(url)?, 2).await?,
        sealer: Arc::new(Sealer::load(&keys_anchor(data_dir))?),
    })
}

/// Connect to the database at `url` once and leave: the driver's reason at once when it
/// cannot be reached (a pool retries until its timeout and then says only that).
pub async fn reach(url: &str) -> Result<(), StoreError> {
    let conn = PgConnection::connect_with(&connect_options(url)?).await?;
    let _ = conn.close().await;
    Ok(())
}

/// Another writing connection to a database `open` has migrated, without the migrator
/// (whose future cannot be proven `Send`).
pub async fn connect_writer(url: &str, data_dir: &Path) -> Result<Writer, StoreError> {
    Ok(Writer {
        conn: PgConnection::connect_with(&connect_options(url)?).await?,
        sealer: Arc::new(Sealer::load_or_create(&keys_anchor(data_dir))?),
        data_dir: data_dir.to_path_buf(),
    })
}

/// The checkpointer's connection to a database `open` has migrated.
pub async fn connect_checkpointer(url: &str) -> Result<Checkpointer, StoreError> {
    Ok(Checkpointer {
        conn: PgConnection::connect_with(&connect_options(url)?).await?,
    })
}
