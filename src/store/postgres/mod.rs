//! The PostgreSQL dialect of the store: the same handles as the SQLite dialect (`Writer`,
//! `Reader`, `Readers`, `Checkpointer`) over sqlx's PostgreSQL connections, the one column
//! list of `events` with PostgreSQL's typed stand-ins, and what a full disk looks like in
//! PostgreSQL's errors (for the one conversion of sqlx's errors, in `engine`). The schema is
//! `migrations/postgres/`.
//!
//! - `open`: connecting (read-only sessions for the readers), migrations, read-only checks;
//! - `append`: the writer's commit (multi-row appends and projection rows in one transaction);
//! - `objects`: reads of current state;
//! - `log`: reads of the log;
//! - `maintain`: rebuild, snapshots, the copy of a SQLite log prefix, and the checkpointer
//!   (PostgreSQL keeps its write-ahead log itself: a no-op);
//! - `compact`: compaction (VACUUM in place of SQLite's incremental vacuum).
//!
//! Reads that must see one moment (a list's pages, an Exact list with the compaction point,
//! `verify`'s scan) run in a `REPEATABLE READ` transaction: PostgreSQL's default isolation
//! would give each statement a snapshot of its own.
//!
//! The encryption keys of a PostgreSQL database stay in the data directory, as for a SQLite
//! file: `seal::Sealer` finds them beside a database path, so it is given `keys_anchor`, a
//! path in the data directory that stands for the database.

mod append;
mod compact;
mod log;
mod maintain;
mod objects;
mod open;

#[cfg(test)]
pub(super) use log::where_clause;
pub use open::{connect_checkpointer, connect_writer, open, open_read_only, open_readers, reach};

use super::StoreError;
use super::seal::Sealer;
use sqlx::{PgConnection, PgPool};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The one connection that writes (for a read-only server: one that cannot).
pub struct Writer {
    conn: PgConnection,
    sealer: Arc<Sealer>,
    /// The data directory (it holds the encryption keys).
    data_dir: PathBuf,
}

/// One connection of its own, in read-only sessions: the writer's decider.
pub struct Reader {
    conn: PgConnection,
    sealer: Arc<Sealer>,
}

/// The pool every other read goes through, in read-only sessions. Cheap to clone.
#[derive(Clone)]
pub struct Readers {
    pool: PgPool,
    sealer: Arc<Sealer>,
}

/// The checkpointer's connection: PostgreSQL checkpoints its write-ahead log itself
/// (`checkpoint_timeout`, `max_wal_size`), so it only keeps the place of SQLite's.
pub struct Checkpointer {
    conn: PgConnection,
}

/// The path `seal::Sealer` is given for a PostgreSQL database: a name in the data directory,
/// so the key file is the data directory's, as beside a SQLite file there.
pub(in crate::store) fn keys_anchor(data_dir: &Path) -> PathBuf {
    data_dir.join("postgres")
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

/// The seq of the last event in the log (0 when empty).
async fn last_seq<'e>(executor: impl sqlx::PgExecutor<'e>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
        .fetch_one(executor)
        .await
}

/// A read transaction that sees one moment throughout (read-only by the session's default).
const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ";

/// The columns of an `events` row, in `EventRow` order, each with what stands in for it in a
/// read that does not need it (`Columns::State`), typed as the column is (PostgreSQL types a
/// bare `0` as `integer`, which an `i64` does not decode).
const COLUMNS: [(&str, &str); 17] = [
    ("seq", "seq"),
    ("time", "''::text"),
    ("api_version", "''::text"),
    ("kind", "kind"),
    ("namespace", "namespace"),
    ("name", "name"),
    ("uid", "uid"),
    ("event_type", "event_type"),
    ("event_version", "0::bigint"),
    ("prev_seq", "prev_seq"),
    ("object", "object"),
    ("actor", "''::text"),
    ("user_agent", "NULL::text"),
    ("field_manager", "NULL::text"),
    ("request_id", "''::text"),
    ("caused_by", "NULL::bigint"),
    ("causes", "NULL::text"),
];

/// Which columns of an event row a read fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Columns {
    /// Every column.
    All,
    /// Every column but the object (read as `{}`).
    WithoutObject,
    /// What folding the log into state needs; the rest is left empty.
    State,
}

impl Columns {
    /// The select list, in `EventRow` order.
    fn select(self) -> String {
        let columns: Vec<&str> = COLUMNS
            .iter()
            .map(|(name, stand_in)| match (self, *name) {
                (Columns::All, _) => name,
                (Columns::WithoutObject, "object") => "'{}'::text AS object",
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
fn event_row(row: &sqlx::postgres::PgRow, at: usize) -> Result<super::EventRow, sqlx::Error> {
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

/// Placeholders numbered as a statement is assembled (`$1`, `$2`, ...).
#[derive(Debug, Default)]
pub(in crate::store) struct Marks(usize);

impl Marks {
    pub(in crate::store) fn next(&mut self) -> String {
        self.0 += 1;
        format!("${}", self.0)
    }
}

/// Whether PostgreSQL's error `e` means a full disk: SQLSTATE `53100` (`disk_full`).
pub(super) fn is_disk_full(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some_and(|e| e.code() == "53100")
}
