//! The store's handles as the rest of the server sees them: each one holds the handle of the
//! dialect its database speaks and forwards every call to it, so nothing above the store
//! names an engine. Where a database lives is a [`Database`]: a SQLite file or a PostgreSQL
//! URL.

use super::{
    Compaction, CompactionCursor, CompactionPlan, EventRow, EventWrite, ListPage, ListQuery,
    LogFilter, NewEvent, ObjectKey, ProjectedRow, RecordedPage, StoreError, StoredEvent,
    StoredObject,
};
use super::{postgres, sqlite};
use crate::model::ResourceKind;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where a server's database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite database file; its directory (the data directory) holds the encryption keys.
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://` or `postgresql://` URL). It has no file: the
    /// encryption keys stay in the data directory `data_dir`, as beside a SQLite file.
    Postgres { url: String, data_dir: PathBuf },
}

impl Database {
    /// `location` as given (a `--database` value): a `postgres://` or `postgresql://` URL is
    /// a PostgreSQL database whose keys live in `data_dir`; anything else is the path of a
    /// SQLite file.
    pub fn parse(location: &str, data_dir: &Path) -> Database {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            Database::Postgres {
                url: location.to_string(),
                data_dir: data_dir.to_path_buf(),
            }
        } else {
            Database::Sqlite(PathBuf::from(location))
        }
    }
}

/// The URL without its password, for messages.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres { url, .. } => f.write_str(&without_password(url)),
        }
    }
}

/// A PostgreSQL URL without its password, in the user part or as a `password` parameter.
fn without_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => format!("{}@{host}", user.split(':').next().unwrap_or_default()),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| {
                    !p.split('=')
                        .next()
                        .is_some_and(|k| k.eq_ignore_ascii_case("password"))
                })
                .collect();
            match kept.is_empty() {
                true => path.to_string(),
                false => format!("{path}?{}", kept.join("&")),
            }
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

impl Database {
    /// The path the encryption keys of this database are found beside (`seal::Sealer`'s):
    /// the SQLite file, or a name in the PostgreSQL database's data directory.
    fn keys_anchor(&self) -> PathBuf {
        match self {
            Database::Sqlite(path) => path.clone(),
            Database::Postgres { data_dir, .. } => postgres::keys_anchor(data_dir),
        }
    }
}

/// Give the data directory of `to` the encryption keys of `from`'s, so that objects copied
/// as stored (Secrets sealed under `from`'s keys) open there: a directory without a key file
/// gets `from`'s as it is (the same key seals from then on); one with keys adds those it
/// lacks after its own. The same directory for both changes nothing. Call it before `open`
/// of `to`, which would otherwise make a key of its own.
pub fn carry_keys(from: &Database, to: &Database) -> Result<(), StoreError> {
    super::seal::Sealer::carry_keys(&to.keys_anchor(), &from.keys_anchor())
}

impl From<&Path> for Database {
    fn from(path: &Path) -> Database {
        Database::Sqlite(path.to_path_buf())
    }
}

impl From<&PathBuf> for Database {
    fn from(path: &PathBuf) -> Database {
        Database::Sqlite(path.clone())
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Database {
        Database::Sqlite(path)
    }
}

/// The one connection that writes (for a read-only server: one that cannot).
pub enum Writer {
    Sqlite(sqlite::Writer),
    Postgres(postgres::Writer),
}

/// One read-only connection of its own: the writer's decider, which reads what is committed.
pub enum Reader {
    Sqlite(sqlite::Reader),
    Postgres(postgres::Reader),
}

/// The pool every other read goes through. Cheap to clone.
#[derive(Clone)]
pub enum Readers {
    Sqlite(sqlite::Readers),
    Postgres(postgres::Readers),
}

/// A connection that keeps the database's write-ahead log small, off the writer's path.
pub enum Checkpointer {
    Sqlite(sqlite::Checkpointer),
    Postgres(postgres::Checkpointer),
}

/// The same call on whichever dialect's handle `$handle` holds.
macro_rules! dispatch {
    ($handle:expr, $h:ident => $call:expr) => {
        match $handle {
            Self::Sqlite($h) => $call,
            Self::Postgres($h) => $call,
        }
    };
}

/// Open the writer connection (migrated) and the read pool of `database`, creating a SQLite
/// file private to its owner if it does not exist.
pub async fn open(database: impl Into<Database>) -> anyhow::Result<(Writer, Readers)> {
    Ok(match database.into() {
        Database::Sqlite(path) => {
            let (writer, readers) = sqlite::open(&path).await?;
            (Writer::Sqlite(writer), Readers::Sqlite(readers))
        }
        Database::Postgres { url, data_dir } => {
            let (writer, readers) = postgres::open(&url, &data_dir).await?;
            (Writer::Postgres(writer), Readers::Postgres(readers))
        }
    })
}

/// Open a database to serve as it is, writing nothing (no migration, no rebuild); one that
/// needs either is refused, saying what to run.
pub async fn open_read_only(database: impl Into<Database>) -> anyhow::Result<(Writer, Readers)> {
    Ok(match database.into() {
        Database::Sqlite(path) => {
            let (writer, readers) = sqlite::open_read_only(&path).await?;
            (Writer::Sqlite(writer), Readers::Sqlite(readers))
        }
        Database::Postgres { url, data_dir } => {
            let (writer, readers) = postgres::open_read_only(&url, &data_dir).await?;
            (Writer::Postgres(writer), Readers::Postgres(readers))
        }
    })
}

/// Open `database` for reading only, beside a running server (the debugging commands).
pub async fn open_readers(database: impl Into<Database>) -> Result<Readers, StoreError> {
    Ok(match database.into() {
        Database::Sqlite(path) => Readers::Sqlite(sqlite::open_readers(&path).await?),
        Database::Postgres { url, data_dir } => {
            Readers::Postgres(postgres::open_readers(&url, &data_dir).await?)
        }
    })
}

/// Whether `database` can be reached, writing nothing: a PostgreSQL database is connected to
/// once (the driver's reason when it cannot be); a SQLite file is opened by the other calls.
pub async fn reach(database: &Database) -> Result<(), StoreError> {
    match database {
        Database::Sqlite(_) => Ok(()),
        Database::Postgres { url, .. } => postgres::reach(url).await,
    }
}

/// Another writing connection to a database `open` has migrated.
pub async fn connect_writer(database: impl Into<Database>) -> Result<Writer, StoreError> {
    Ok(match database.into() {
        Database::Sqlite(path) => Writer::Sqlite(sqlite::connect_writer(&path).await?),
        Database::Postgres { url, data_dir } => {
            Writer::Postgres(postgres::connect_writer(&url, &data_dir).await?)
        }
    })
}

/// The checkpointer's connection to a database `open` has migrated.
pub async fn connect_checkpointer(
    database: impl Into<Database>,
) -> Result<Checkpointer, StoreError> {
    Ok(match database.into() {
        Database::Sqlite(path) => Checkpointer::Sqlite(sqlite::connect_checkpointer(&path).await?),
        Database::Postgres { url, .. } => {
            Checkpointer::Postgres(postgres::connect_checkpointer(&url).await?)
        }
    })
}

impl Writer {
    /// The seq of the last event in the log (0 when empty).
    pub async fn last_seq(&mut self) -> Result<i64, StoreError> {
        dispatch!(self, w => w.last_seq().await)
    }

    /// Keep every other server from appending until `release_log`: taken by a server whose
    /// batch lost the race to another's append, so that deciding it again cannot lose again
    /// (a log only this server writes needs nothing).
    pub async fn hold_log(&mut self) -> Result<(), StoreError> {
        match self {
            Writer::Sqlite(_) => Ok(()),
            Writer::Postgres(w) => w.hold_log().await,
        }
    }

    /// Let the other servers append again (after `hold_log`).
    pub async fn release_log(&mut self) -> Result<(), StoreError> {
        match self {
            Writer::Sqlite(_) => Ok(()),
            Writer::Postgres(w) => w.release_log().await,
        }
    }

    /// One transaction: append `events`, write the projection rows of the objects they
    /// changed (`None`: the object is gone; each key once), and record that the projections
    /// reflect the log up to `applied`. On failure nothing of it stays.
    pub async fn commit(
        &mut self,
        events: &[NewEvent<'_>],
        rows: &[(&ObjectKey, Option<ProjectedRow<&str>>)],
        applied: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self, w => w.commit(events, rows, applied).await)
    }

    /// Append `events` alone, leaving the projections behind the log until a `rebuild`: for
    /// generating a log outside the server, never for a server's writes.
    pub async fn append_unprojected(&mut self, events: &[NewEvent<'_>]) -> Result<(), StoreError> {
        dispatch!(self, w => w.append_unprojected(events).await)
    }

    /// Append `events` exactly as another database stored them (objects sealed as they were,
    /// recorded changes as they were), in one transaction, leaving the projections for
    /// `rebuild`: `migrate`'s copy into an empty database, never a server's writes.
    pub async fn append_stored(&mut self, events: &[StoredEvent]) -> Result<(), StoreError> {
        dispatch!(self, w => w.append_stored(events).await)
    }

    /// Record another database's `compactions` as they were (ids, points, counts), in one
    /// transaction: `migrate`'s copy of a compacted log.
    pub async fn record_compactions(
        &mut self,
        compactions: &[Compaction],
    ) -> Result<(), StoreError> {
        dispatch!(self, w => w.record_compactions(compactions).await)
    }

    /// Replay the log into empty projections in one transaction. Returns the number of events.
    pub async fn rebuild(&mut self) -> Result<u64, StoreError> {
        dispatch!(self, w => w.rebuild().await)
    }

    /// Whether the projections reflect the whole log (compared at start-up).
    pub async fn projections_current(&mut self) -> Result<bool, StoreError> {
        dispatch!(self, w => w.projections_current().await)
    }

    /// Take a snapshot of the projections as they are. Returns the snapshot's seq and row
    /// count, or `None` when the newest snapshot is already at that position.
    pub async fn take_snapshot(&mut self) -> Result<Option<(i64, i64)>, StoreError> {
        dispatch!(self, w => w.take_snapshot().await)
    }

    /// The newest snapshot at or before `seq` (0: none).
    pub async fn newest_snapshot_at_or_before(&mut self, seq: i64) -> Result<i64, StoreError> {
        dispatch!(self, w => w.newest_snapshot_at_or_before(seq).await)
    }

    /// Events appended since the newest snapshot (all of them when there is none).
    pub async fn events_since_newest_snapshot(&mut self) -> Result<i64, StoreError> {
        dispatch!(self, w => w.events_since_newest_snapshot().await)
    }

    /// Leave checkpoints of the write-ahead log to a `Checkpointer`.
    pub async fn leave_checkpoints_to_checkpointer(&mut self) -> Result<(), StoreError> {
        dispatch!(self, w => w.leave_checkpoints_to_checkpointer().await)
    }

    /// Copy the events of the SQLite database file `source` up to and including `until`, as
    /// they are, into this database, which must hold no events yet; the projections are left
    /// for `rebuild`. Returns how many were copied.
    pub async fn copy_log_from(&mut self, source: &Path, until: i64) -> Result<u64, StoreError> {
        dispatch!(self, w => w.copy_log_from(source, until).await)
    }

    /// Record a compaction through `plan.through`. Returns it and how many events it will
    /// remove.
    pub async fn begin_compaction(
        &mut self,
        plan: &CompactionPlan,
    ) -> Result<(Compaction, i64), StoreError> {
        dispatch!(self, w => w.begin_compaction(plan).await)
    }

    /// One step of `compaction`. Returns the events removed, or `None` once it is done.
    pub async fn compact_step(
        &mut self,
        compaction: &Compaction,
        cursor: &mut CompactionCursor,
    ) -> Result<Option<u64>, StoreError> {
        dispatch!(self, w => w.compact_step(compaction, cursor).await)
    }

    /// Whether the database hands the space a compaction frees back as it goes.
    pub async fn vacuums_incrementally(&mut self) -> Result<bool, StoreError> {
        dispatch!(self, w => w.vacuums_incrementally().await)
    }

    /// Free pages of the database (space it no longer uses, not yet given back).
    pub async fn free_pages(&mut self) -> Result<i64, StoreError> {
        dispatch!(self, w => w.free_pages().await)
    }

    /// Give some free pages back. Returns the free pages left.
    pub async fn incremental_vacuum_step(&mut self) -> Result<i64, StoreError> {
        dispatch!(self, w => w.incremental_vacuum_step().await)
    }

    /// Rewrite the whole database, so that compactions shrink it from then on.
    pub async fn vacuum(&mut self) -> Result<(), StoreError> {
        dispatch!(self, w => w.vacuum().await)
    }

    /// Make every append of an event about an object named `name` fail: how the writer's
    /// tests break a batch.
    #[cfg(test)]
    pub(crate) async fn refuse_appends_named(&mut self, name: &str) -> Result<(), StoreError> {
        dispatch!(self, w => w.refuse_appends_named(name).await)
    }

    /// Make the next write that needs room fail as on a full disk.
    #[cfg(test)]
    pub(crate) async fn limit_pages_to_current(&mut self) -> Result<(), StoreError> {
        dispatch!(self, w => w.limit_pages_to_current().await)
    }

    /// Run one statement as it is (the tests' way past the store's API, to try the triggers).
    #[cfg(test)]
    pub(crate) async fn execute_raw(&mut self, sql: &str) -> Result<u64, StoreError> {
        dispatch!(self, w => w.execute_raw(sql).await)
    }
}

/// Wakes a server when another may have appended to the log they share: a PostgreSQL log
/// (every commit notifies); never for a SQLite log, which one server alone writes.
pub enum AppendNotices {
    Alone,
    Shared(Box<sqlx::postgres::PgListener>),
}

impl AppendNotices {
    /// Whether other servers may append to this log.
    pub fn shared(&self) -> bool {
        matches!(self, AppendNotices::Shared(_))
    }

    /// Wait for the next commit by any server (this one's too): the seq the log reached with
    /// it, when the notice says. A lost connection is made again on the next call, and what
    /// was committed meanwhile is not announced.
    pub async fn next(&mut self) -> Result<Option<i64>, StoreError> {
        match self {
            AppendNotices::Alone => std::future::pending().await,
            AppendNotices::Shared(listener) => {
                let notice = listener.recv().await?;
                Ok(notice.payload().parse().ok())
            }
        }
    }
}

impl Reader {
    /// The current state of each of `keys` that exists.
    pub async fn load_many(
        &mut self,
        keys: &[ObjectKey],
    ) -> Result<HashMap<ObjectKey, Value>, StoreError> {
        dispatch!(self, r => r.load_many(keys).await)
    }

    /// The current state of every object of `kind`.
    pub async fn load_kind(
        &mut self,
        kind: ResourceKind,
    ) -> Result<Vec<(ObjectKey, Value)>, StoreError> {
        dispatch!(self, r => r.load_kind(kind).await)
    }

    /// The current state of one object.
    pub async fn load(
        &mut self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, StoreError> {
        dispatch!(self, r => r.load(kind, namespace, name).await)
    }
}

impl Readers {
    /// A connection of the pool's, detached from it, for a reader that holds it for good.
    pub async fn detach_one(&self) -> Result<Reader, StoreError> {
        Ok(match self {
            Readers::Sqlite(r) => Reader::Sqlite(r.detach_one().await?),
            Readers::Postgres(r) => Reader::Postgres(r.detach_one().await?),
        })
    }

    /// Close every connection (waiting for those in use).
    pub async fn close(&self) {
        dispatch!(self, r => r.close().await)
    }

    /// One object as stored, when it exists.
    pub async fn get(
        &self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<StoredObject>, StoreError> {
        dispatch!(self, r => r.get(kind, namespace, name).await)
    }

    /// List `kind`, keeping the objects `keep` accepts (all when `None`), in one snapshot.
    pub async fn list(
        &self,
        kind: ResourceKind,
        query: &ListQuery,
        keep: Option<&(dyn Fn(&Value) -> bool + Sync)>,
    ) -> Result<ListPage, StoreError> {
        dispatch!(self, r => r.list(kind, query, keep).await)
    }

    /// Size of the write-ahead log in bytes (0 when there is none to speak of).
    pub fn wal_size(&self) -> i64 {
        dispatch!(self, r => r.wal_size())
    }

    /// Size of the database in bytes.
    pub async fn database_size(&self) -> Result<i64, StoreError> {
        dispatch!(self, r => r.database_size().await)
    }

    /// The newest seq in the log (0 when empty).
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        dispatch!(self, r => r.last_seq().await)
    }

    /// What the log and the projections hold, by kind: (kind, events, objects); and the
    /// oldest seq the log keeps (0 when empty).
    pub async fn census(&self) -> Result<(Vec<(String, i64, i64)>, i64), StoreError> {
        dispatch!(self, r => r.census().await)
    }

    /// The newest seq at or before `time` (a log time), 0 when none.
    pub async fn seq_at_time(&self, time: &str) -> Result<i64, StoreError> {
        dispatch!(self, r => r.seq_at_time(time).await)
    }

    /// Events passing `filter`, oldest first, after seq `after`, at most `limit`; without
    /// `with_object` each row's `object` is `{}`.
    pub async fn entries(
        &self,
        filter: &LogFilter,
        after: i64,
        limit: i64,
        with_object: bool,
    ) -> Result<Vec<EventRow>, StoreError> {
        dispatch!(self, r => r.entries(filter, after, limit, with_object).await)
    }

    /// The newest `limit` events passing `filter`, oldest first.
    pub async fn newest_entries(
        &self,
        filter: &LogFilter,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        dispatch!(self, r => r.newest_entries(filter, limit).await)
    }

    /// One event by its seq.
    pub async fn entry(&self, seq: i64) -> Result<Option<EventRow>, StoreError> {
        dispatch!(self, r => r.entry(seq).await)
    }

    /// The entries at `seqs` that exist, without their objects (read as `{}`), by seq.
    pub async fn entries_without_objects_at(
        &self,
        seqs: &[i64],
    ) -> Result<HashMap<i64, EventRow>, StoreError> {
        dispatch!(self, r => r.entries_without_objects_at(seqs).await)
    }

    /// One page of an object's history (after seq `after`) from the recorded changes; `None`
    /// when an event of the page has none (the caller computes the page).
    pub async fn recorded_history_page(
        &self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
        after: i64,
        limit: i64,
    ) -> Result<Option<RecordedPage>, StoreError> {
        dispatch!(self, r => r.recorded_history_page(kind, namespace, name, after, limit).await)
    }

    /// List `kind` as it was at log position `at` (a `resourceVersionMatch=Exact` list).
    pub async fn list_at(
        &self,
        kind: ResourceKind,
        query: &ListQuery,
        keep: Option<&(dyn Fn(&Value) -> bool + Sync)>,
        at: i64,
    ) -> Result<ListPage, StoreError> {
        dispatch!(self, r => r.list_at(kind, query, keep, at).await)
    }

    /// Events of `kind` after `seq`, oldest first, each with its object's previous state, as
    /// a watch replays them.
    pub async fn events_after(
        &self,
        kind: ResourceKind,
        namespace: Option<&str>,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(EventRow, Option<String>)>, StoreError> {
        dispatch!(self, r => r.events_after(kind, namespace, seq, limit).await)
    }

    /// Events of every kind after `seq`, oldest first, at most `limit`, with what folding needs.
    pub async fn log_after(&self, seq: i64, limit: i64) -> Result<Vec<EventRow>, StoreError> {
        dispatch!(self, r => r.log_after(seq, limit).await)
    }

    /// Events of every kind after `seq`, oldest first, at most `limit`, whole, each with its
    /// object's previous state.
    pub async fn appended_after(
        &self,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(EventRow, Option<String>)>, StoreError> {
        dispatch!(self, r => r.appended_after(seq, limit).await)
    }

    /// What wakes this server when another appends to the log they share.
    pub async fn append_notices(&self) -> Result<AppendNotices, StoreError> {
        Ok(match self {
            Readers::Sqlite(_) => AppendNotices::Alone,
            Readers::Postgres(r) => AppendNotices::Shared(Box::new(r.append_notices().await?)),
        })
    }

    /// The writes of core/v1 Events after `after`, oldest first, at most `limit`, each with
    /// whether it is still the Event's current version.
    pub async fn event_writes_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<EventWrite>, StoreError> {
        dispatch!(self, r => r.event_writes_after(after, limit).await)
    }

    /// Events after `seq`, oldest first, at most `limit`, exactly as stored: every column,
    /// the object as it is (a Secret still sealed), the recorded changes (`migrate`).
    pub async fn stored_events_after(
        &self,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        dispatch!(self, r => r.stored_events_after(seq, limit).await)
    }

    /// In one read transaction: every event to `on_event`, then every projection row to
    /// `on_row`. Returns the seq the projections record they reflect.
    pub async fn scan_log_and_projections<E: From<StoreError>>(
        &self,
        on_event: impl FnMut(EventRow) -> Result<(), E>,
        on_row: impl FnMut((String, String, String), ProjectedRow),
    ) -> Result<i64, E> {
        dispatch!(self, r => r.scan_log_and_projections(on_event, on_row).await)
    }

    /// The log's compaction point (0: never compacted).
    pub async fn compaction_point(&self) -> Result<i64, StoreError> {
        dispatch!(self, r => r.compaction_point().await)
    }

    /// Every compaction, oldest first.
    pub async fn compactions(&self) -> Result<Vec<Compaction>, StoreError> {
        dispatch!(self, r => r.compactions().await)
    }
}

impl Checkpointer {
    /// One checkpoint. Returns the write-ahead log's size after it.
    pub async fn checkpoint(&mut self) -> Result<u64, StoreError> {
        dispatch!(self, c => c.checkpoint().await)
    }

    pub async fn close(self) {
        dispatch!(self, c => c.close().await)
    }
}

/// The one conversion of sqlx's errors into the store's: each dialect says whether its
/// engine's error means a full disk (writes are refused for it with what to do, and succeed
/// again once there is room).
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let full = e
            .as_database_error()
            .is_some_and(|d| sqlite::is_disk_full(d) || postgres::is_disk_full(d));
        if full {
            StoreError::DiskFull
        } else {
            StoreError::other(e.to_string())
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::other(e.to_string())
    }
}
