//! The SQLite dialect of the store: the handles (`Writer`, `Reader`, `Readers`,
//! `Checkpointer`) over sqlx connections, the one column list of `events`, and what a full
//! disk looks like in SQLite's errors (for the one conversion of sqlx's errors, in `engine`).
//!
//! - `open`: opening (pragmas, migrations, read-only checks);
//! - `append`: the writer's commit (multi-row appends and projection rows in one transaction);
//! - `objects`: reads of current state;
//! - `log`: reads of the log (debugging queries, Exact lists, watch replay, `verify`'s scan);
//! - `maintain`: rebuild, snapshots, checkpoints, the copy of a log prefix;
//! - `compact`: compaction (the point recorded, the folded history removed in short
//!   transactions, the freed pages given back).

mod append;
mod compact;
mod log;
mod maintain;
mod objects;
mod open;

#[cfg(test)]
pub(super) use log::where_clause;
pub use open::{
    WAL_LIMIT_BYTES, connect_checkpointer, connect_writer, open, open_read_only, open_readers,
};

use super::StoreError;
use super::seal::Sealer;
use sqlx::{SqliteConnection, SqlitePool};
use std::path::PathBuf;
use std::sync::Arc;

/// The one connection that writes (for a read-only server: one that cannot).
pub struct Writer {
    conn: SqliteConnection,
    sealer: Arc<Sealer>,
    /// The database file (its directory holds the encryption keys).
    database: PathBuf,
}

/// One read-only connection of its own: the writer's decider, which reads what is committed.
pub struct Reader {
    conn: SqliteConnection,
    sealer: Arc<Sealer>,
}

/// The pool every other read goes through (WAL lets them run beside the writer). Cheap to
/// clone.
#[derive(Clone)]
pub struct Readers {
    pool: SqlitePool,
    sealer: Arc<Sealer>,
    /// The database file (for the sizes of it and its write-ahead log).
    database: PathBuf,
}

/// A connection that checkpoints the write-ahead log, off the writer's path.
pub struct Checkpointer {
    conn: SqliteConnection,
    /// The database file: its `-wal` beside it is what a checkpoint keeps small.
    database: PathBuf,
}

impl Readers {
    /// A connection of the pool's, detached from it, for a reader that holds it for good.
    pub async fn detach_one(&self) -> Result<Reader, StoreError> {
        Ok(Reader {
            conn: self.pool.acquire().await?.detach(),
            sealer: self.sealer.clone(),
        })
    }

    /// Close every connection (waiting for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The seq of the last event in the log (0 when empty): on the writer's connection, a
/// reader's, or inside a transaction.
async fn last_seq<'e>(executor: impl sqlx::SqliteExecutor<'e>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
        .fetch_one(executor)
        .await
}

/// The columns of an `events` row, in `EventRow` order, each with what stands in for it in a
/// read that does not need it (`Columns::State`). Every statement on `events` takes its list
/// from here; the append adds `changes`.
const COLUMNS: [(&str, &str); 17] = [
    ("seq", "seq"),
    ("time", "''"),
    ("api_version", "''"),
    ("kind", "kind"),
    ("namespace", "namespace"),
    ("name", "name"),
    ("uid", "uid"),
    ("event_type", "event_type"),
    ("event_version", "0"),
    ("prev_seq", "prev_seq"),
    ("object", "object"),
    ("actor", "''"),
    ("user_agent", "NULL"),
    ("field_manager", "NULL"),
    ("request_id", "''"),
    ("caused_by", "NULL"),
    ("causes", "NULL"),
];

/// Which columns of an event row a read fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Columns {
    /// Every column.
    All,
    /// Every column but the object (read as `{}`): a listing without objects.
    WithoutObject,
    /// What folding the log into state needs (seq, identity, type, previous seq, object); the
    /// rest is left empty, so a long replay does not copy text it drops.
    State,
}

impl Columns {
    /// The select list, in `EventRow` order.
    fn select(self) -> String {
        let columns: Vec<&str> = COLUMNS
            .iter()
            .map(|(name, stand_in)| match (self, *name) {
                (Columns::All, _) => name,
                (Columns::WithoutObject, "object") => "'{}' AS object",
                (Columns::WithoutObject, _) => name,
                (Columns::State, _) => stand_in,
            })
            .collect();
        columns.join(", ")
    }
}

/// The column list of an append: every column of the row, then `changes`.
fn insert_columns() -> String {
    let names: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
    format!("{}, changes", names.join(", "))
}

/// An event row read with `Columns::select`, starting at column `at`.
fn event_row(row: &sqlx::sqlite::SqliteRow, at: usize) -> Result<super::EventRow, sqlx::Error> {
    use sqlx::Row;
    Ok(super::EventRow {
        seq: row.try_get(at)?,
        time: row.try_get(at + 1)?,
        api_version: row.try_get(at + 2)?,
        kind: row.try_get(at + 3)?,
        namespace: row.try_get(at + 4)?,
        name: row.try_get(at + 5)?,
        uid: row.try_get(at + 6)?,
        event_type: row.try_get(at + 7)?,
        event_version: row.try_get(at + 8)?,
        prev_seq: row.try_get(at + 9)?,
        object: row.try_get(at + 10)?,
        actor: row.try_get(at + 11)?,
        user_agent: row.try_get(at + 12)?,
        field_manager: row.try_get(at + 13)?,
        request_id: row.try_get(at + 14)?,
        caused_by: row.try_get(at + 15)?,
        causes: row.try_get(at + 16)?,
    })
}

/// Whether SQLite's error `e` means a full disk: a full disk (or the database's size limit) is
/// SQLite's primary result code `SQLITE_FULL` (13), under any extended code.
pub(super) fn is_disk_full(e: &dyn sqlx::error::DatabaseError) -> bool {
    const SQLITE_FULL: i64 = 13;
    e.try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .and_then(sqlx::error::DatabaseError::code)
        .and_then(|code| code.parse::<i64>().ok())
        .is_some_and(|code| code & 0xff == SQLITE_FULL)
}
