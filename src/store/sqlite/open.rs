//! Opening a data directory's database, in the one place that knows how: the pragmas of the
//! writer (durability, cache), of the readers (read-only, mapped), the migrations, and the
//! checks a read-only server makes instead of migrating or rebuilding.

use super::{Checkpointer, Readers, Writer};
use crate::datadir;
use crate::store::StoreError;
use crate::store::seal::Sealer;
use anyhow::Context;
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, SqliteConnection};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The write-ahead log is kept to about this size (bytes): `journal_size_limit`, and a
/// truncating checkpoint once it has grown past it.
pub const WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Readers map the database file instead of copying each page they read (256 MiB).
const MMAP_SIZE: &str = "268435456";

fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        .pragma("temp_store", "memory")
}

/// How much memory a connection's page cache may keep (SQLite's `cache_size`, in KiB when
/// negative): memory the server holds for good, one cache per connection. Pages a reader
/// finds in the database file come from the mapped file, not the cache; the cache holds the
/// pages still in the write-ahead log and a writer's dirty pages.
#[derive(Debug, Clone, Copy)]
enum PageCache {
    /// A few batches' dirty pages: the writer's.
    Writer,
    /// The pages still in the write-ahead log a reader comes across; the checkpointer's too
    /// (it copies frames without caching them).
    Small,
}

impl PageCache {
    fn pragma(self) -> &'static str {
        match self {
            PageCache::Writer => "-4096",
            PageCache::Small => "-1024",
        }
    }
}

/// A connection with the durability settings the log promises.
async fn connect_durable(
    options: &SqliteConnectOptions,
    cache: PageCache,
) -> Result<SqliteConnection, sqlx::Error> {
    // A batch's dirty pages (events, history entries, projection rows and their indexes) run
    // to a few MB: with SQLite's default 2 MB page cache they spill to the WAL mid-transaction
    // and are read back. Pages it only reads come from the mapped file. The cache is memory
    // the server keeps for good, so it holds a few batches' pages and no more.
    let options = options
        .clone()
        // Before the first table of a new database (sqlx sets it before the journal mode), so
        // that the pages a compaction frees can be given back; an older database keeps its
        // mode until `compact --vacuum`. Only on writing connections: a read-only one may not
        // set it.
        .auto_vacuum(SqliteAutoVacuum::Incremental)
        .synchronous(SqliteSynchronous::Full)
        .pragma("cache_size", cache.pragma())
        // A write-ahead log that grew under a burst is cut back to this size when SQLite next
        // starts it over (after a checkpoint that copied all of it, with no reader in it).
        .pragma("journal_size_limit", WAL_LIMIT_BYTES.to_string())
        .pragma("mmap_size", MMAP_SIZE);
    SqliteConnection::connect_with(&options).await
}

/// Open the writer connection (migrated) and the read pool of a database file, creating the
/// file private to its owner if it does not exist.
pub async fn open(path: &Path) -> anyhow::Result<(Writer, Readers)> {
    datadir::create_private(path).with_context(|| format!("creating {}", path.display()))?;
    let options = connect_options(path);
    let mut writer = connect_durable(&options, PageCache::Writer)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    sqlx::migrate!()
        .run(&mut writer)
        .await
        .context("running migrations")?;
    let readers = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(
            options
                .read_only(true)
                .pragma("mmap_size", MMAP_SIZE)
                .pragma("cache_size", PageCache::Small.pragma()),
        )
        .await
        .context("opening the read pool")?;
    let sealer = Arc::new(Sealer::load_or_create(path)?);
    Ok((
        Writer {
            conn: writer,
            sealer: sealer.clone(),
            database: path.to_path_buf(),
        },
        Readers {
            pool: readers,
            sealer,
            database: path.to_path_buf(),
        },
    ))
}

/// Open a database to serve as it is, writing nothing: no migration, no rebuild, connections
/// that cannot write. One that needs either is refused, saying what to run.
pub async fn open_read_only(path: &Path) -> anyhow::Result<(Writer, Readers)> {
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
    let conn = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let sealer = Arc::new(Sealer::load(path)?);
    let mut conn = Writer {
        conn,
        sealer: sealer.clone(),
        database: path.to_path_buf(),
    };
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = 1")
            .fetch_all(&mut conn.conn)
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
    if !conn.projections_current().await? {
        anyhow::bail!(
            "the projections of {} are not at the log's position and a read-only server does \
             not rebuild them: run `kubetrail rebuild --data-dir {dir}` (on a copy, to keep it \
             as it is), then serve it read-only",
            path.display()
        );
    }
    let readers = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(
            options
                .pragma("mmap_size", MMAP_SIZE)
                .pragma("cache_size", PageCache::Small.pragma()),
        )
        .await
        .context("opening the read pool")?;
    Ok((
        conn,
        Readers {
            pool: readers,
            sealer,
            database: path.to_path_buf(),
        },
    ))
}

/// Open the database at `path` for reading only, beside a running server (the debugging
/// commands): no migration, a small pool.
pub async fn open_readers(path: &Path) -> Result<Readers, StoreError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(Duration::from_secs(10));
    Ok(Readers {
        pool: SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?,
        sealer: Arc::new(Sealer::load(path)?),
        database: path.to_path_buf(),
    })
}

/// Another writing connection to a database `open` has migrated, with the writer's settings
/// and without the migrator (whose future cannot be proven `Send`).
pub async fn connect_writer(path: &Path) -> Result<Writer, StoreError> {
    Ok(Writer {
        conn: connect_durable(&connect_options(path), PageCache::Writer).await?,
        sealer: Arc::new(Sealer::load_or_create(path)?),
        database: path.to_path_buf(),
    })
}

/// The checkpointer's connection to a database `open` has migrated.
pub async fn connect_checkpointer(path: &Path) -> Result<Checkpointer, StoreError> {
    Ok(Checkpointer {
        conn: connect_durable(&connect_options(path), PageCache::Small).await?,
        database: path.to_path_buf(),
    })
}
