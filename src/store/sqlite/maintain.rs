//! Work on the database besides the writer's commits:
//!
//! - **rebuild**: drop the projections and rebuild them from the log, from the newest snapshot
//!   (or genesis), applying for each object only its newest event after that point, which is
//!   what replaying every event in order leaves (`kubetrail rebuild`, start-up when the
//!   projections lag the log, tests holding the projections a pure function of the log);
//! - **snapshots**: a copy of every `objects` row as of a log position, so a rebuild replays
//!   only the events after it. Derived data: the log is never touched, old ones are dropped;
//! - **checkpoints** of the write-ahead log, from a connection of their own: SQLite's automatic
//!   checkpoint runs inside the commit that crosses its threshold and makes that batch wait;
//! - the **copy of a log prefix**, seq for seq, into a database just created (`replay`);
//! - the **append of a log as another database stored it** (`migrate`): events with their
//!   sealed objects and recorded changes as they are, and the compactions' records.

use super::append::record_applied;
use super::open::WAL_LIMIT_BYTES;
use super::{Checkpointer, Writer, insert_columns};
use crate::model::ResourceKind;
use crate::store::seal::Sealer;
use crate::store::{Compaction, DELETED, StoreError, StoredEvent};
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};
use std::path::Path;

/// How many snapshots are kept (the newest ones).
const KEEP_SNAPSHOTS: i64 = 2;

/// Stored events appended per statement by `append_stored`: 18 values a row, far below
/// SQLite's limit of 32,766 variables.
const STORED_ROWS_PER_STATEMENT: usize = 64;

/// Run `work` inside `BEGIN IMMEDIATE` … `COMMIT`, rolled back when it fails.
macro_rules! in_write_transaction {
    ($conn:expr, $work:expr) => {{
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *$conn).await?;
        match $work.await {
            Ok(done) => {
                sqlx::query("COMMIT").execute(&mut *$conn).await?;
                Ok(done)
            }
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *$conn).await;
                Err(e)
            }
        }
    }};
}

impl Writer {
    /// Replay the log into empty projections in one transaction. Returns the number of events.
    pub async fn rebuild(&mut self) -> Result<u64, StoreError> {
        let conn = &mut self.conn;
        in_write_transaction!(conn, replay(conn))
    }

    /// Whether the projections reflect the whole log (compared at start-up).
    pub async fn projections_current(&mut self) -> Result<bool, StoreError> {
        let applied: i64 =
            sqlx::query_scalar("SELECT applied_seq FROM projection_state WHERE id = 1")
                .fetch_one(&mut self.conn)
                .await?;
        Ok(applied == self.last_seq().await?)
    }

    /// Take a snapshot of the projections as they are (at their recorded position), in one
    /// write transaction. Returns the snapshot's seq and row count, or `None` when the newest
    /// snapshot is already at that position.
    pub async fn take_snapshot(&mut self) -> Result<Option<(i64, i64)>, StoreError> {
        let conn = &mut self.conn;
        in_write_transaction!(conn, snapshot(conn))
    }

    /// The newest snapshot at or before `seq` (0: none).
    pub async fn newest_snapshot_at_or_before(&mut self, seq: i64) -> Result<i64, StoreError> {
        Ok(newest_snapshot_at_or_before(&mut self.conn, seq).await?)
    }

    /// Events appended since the newest snapshot (all of them when there is none).
    pub async fn events_since_newest_snapshot(&mut self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT (SELECT COALESCE(MAX(seq), 0) FROM events) - (SELECT COALESCE(MAX(seq), 0) FROM snapshots)",
        )
        .fetch_one(&mut self.conn)
        .await?)
    }

    /// Turn off the automatic checkpoint on this connection (a `Checkpointer` does it).
    pub async fn leave_checkpoints_to_checkpointer(&mut self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA wal_autocheckpoint = 0")
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    /// Copy the events of the database file `source` up to and including `until`, as they
    /// are (seq for seq, with their recorded changes), into this database, which must hold no
    /// events yet, in one transaction; the projections are left for `rebuild`. Returns how
    /// many were copied. The source is only read.
    pub async fn copy_log_from(&mut self, source: &Path, until: i64) -> Result<u64, StoreError> {
        // The copied Secrets stay sealed with the source's keys: this directory keeps them.
        Sealer::adopt_keys(&self.database, source)?;
        self.sealer = std::sync::Arc::new(Sealer::load(&self.database)?);
        sqlx::query("ATTACH DATABASE ? AS source")
            .bind(source.display().to_string())
            .execute(&mut self.conn)
            .await?;
        let columns = insert_columns();
        let sql = format!(
            "INSERT INTO main.events ({columns}) SELECT {columns} FROM source.events \
             WHERE seq <= ? ORDER BY seq"
        );
        // A compacted source's record comes along: the copy is compacted at the same point.
        let compacted: bool = sqlx::query_scalar(
            "SELECT COUNT(*) > 0 FROM source.sqlite_master WHERE type = 'table' AND name = 'compactions'",
        )
        .fetch_one(&mut self.conn)
        .await?;
        let conn = &mut self.conn;
        let copied: Result<u64, sqlx::Error> = in_write_transaction!(conn, async {
            if compacted {
                sqlx::query(
                    "INSERT INTO main.compactions SELECT * FROM source.compactions \
                     WHERE seq_through <= ? ORDER BY id",
                )
                .bind(until)
                .execute(&mut *conn)
                .await?;
            }
            Ok::<u64, sqlx::Error>(
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(until)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected(),
            )
        });
        let copied = copied?;
        sqlx::query("DETACH DATABASE source")
            .execute(&mut self.conn)
            .await?;
        Ok(copied)
    }
}

impl Writer {
    /// Append `events` as another database stored them (each object as it is, a Secret still
    /// sealed with the keys this directory was given, `carry_keys`; the recorded changes as
    /// they are), in one transaction, leaving the projections for `rebuild`: `migrate`'s copy
    /// of a log into an empty database, never a server's writes.
    pub async fn append_stored(&mut self, events: &[StoredEvent]) -> Result<(), StoreError> {
        let conn = &mut self.conn;
        in_write_transaction!(conn, insert_stored(conn, events))
    }

    /// Record `compactions` as another database recorded them (ids, points, selections,
    /// counts), in one transaction: `migrate`'s copy of a compacted log, before its events.
    pub async fn record_compactions(
        &mut self,
        compactions: &[Compaction],
    ) -> Result<(), StoreError> {
        let conn = &mut self.conn;
        in_write_transaction!(conn, async {
            for c in compactions {
                sqlx::query(
                    "INSERT INTO compactions \
                     (id, seq_through, time, kinds, status_only, events_removed, actor) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(c.id)
                .bind(c.seq_through)
                .bind(&c.time)
                .bind(c.kinds.join(","))
                .bind(c.status_only)
                .bind(c.events_removed)
                .bind(&c.actor)
                .execute(&mut *conn)
                .await?;
            }
            Ok::<(), StoreError>(())
        })
    }
}

async fn insert_stored(
    conn: &mut SqliteConnection,
    events: &[StoredEvent],
) -> Result<(), StoreError> {
    let head = format!("INSERT INTO events ({}) ", insert_columns());
    for chunk in events.chunks(STORED_ROWS_PER_STATEMENT) {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(head.as_str());
        query.push_values(chunk, |mut bind, event| {
            let e = &event.row;
            bind.push_bind(e.seq)
                .push_bind(e.time.as_str())
                .push_bind(e.api_version.as_str())
                .push_bind(e.kind.as_str())
                .push_bind(e.namespace.as_str())
                .push_bind(e.name.as_str())
                .push_bind(e.uid.as_str())
                .push_bind(e.event_type.as_str())
                .push_bind(e.event_version)
                .push_bind(e.prev_seq)
                .push_bind(e.object.as_str())
                .push_bind(e.actor.as_str())
                .push_bind(e.user_agent.as_deref())
                .push_bind(e.field_manager.as_deref())
                .push_bind(e.request_id.as_str())
                .push_bind(e.caused_by)
                .push_bind(e.causes.as_deref())
                .push_bind(event.changes.as_deref());
        });
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn replay(conn: &mut SqliteConnection) -> Result<u64, StoreError> {
    sqlx::query("DELETE FROM objects")
        .execute(&mut *conn)
        .await?;
    let last = super::last_seq(&mut *conn).await?;
    // Start from the newest snapshot, then only the events after it count.
    let from = newest_snapshot_at_or_before(conn, last).await?;
    // The newest event of each object after `from`. Without a lower bound the grouping reads
    // only the (kind, namespace, name, seq) index.
    let newest = if from > 0 {
        "SELECT MAX(seq) AS seq FROM events WHERE seq > ?1 GROUP BY kind, namespace, name"
    } else {
        "SELECT MAX(seq) AS seq FROM events WHERE ?1 = 0 GROUP BY kind, namespace, name"
    };
    if from > 0 {
        sqlx::query(
            "INSERT INTO objects (kind, namespace, name, uid, seq, node_name, object) \
             SELECT kind, namespace, name, uid, seq, node_name, object FROM snapshot_objects \
             WHERE snapshot_seq = ?",
        )
        .bind(from)
        .execute(&mut *conn)
        .await?;
        // Objects whose newest later event deleted them.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM objects WHERE (kind, namespace, name) IN \
             (SELECT e.kind, e.namespace, e.name FROM events e JOIN ({newest}) n ON e.seq = n.seq \
              WHERE e.event_type = '{DELETED}')"
        )))
        .bind(from)
        .execute(&mut *conn)
        .await?;
    }
    // Applying every event in order leaves, for each object, its newest event unless that
    // deleted it: write those rows, exactly as the writer writes them (uid from the object,
    // `node_name` = a pod's non-empty string `spec.nodeName`, as `store::node_name_of`);
    // the store's tests and tests/e2e/api/rebuild.rs hold the rebuilt rows byte-identical to the
    // ones the writer maintained.
    let kinds: Vec<String> = ResourceKind::ALL
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO objects (kind, namespace, name, uid, seq, node_name, object) \
         SELECT e.kind, e.namespace, e.name, COALESCE(json_extract(e.object, '$.metadata.uid'), ''), \
         e.seq, CASE WHEN e.kind = 'Pod' AND json_type(e.object, '$.spec.nodeName') = 'text' \
         THEN NULLIF(json_extract(e.object, '$.spec.nodeName'), '') END, e.object \
         FROM events e JOIN ({newest}) n ON e.seq = n.seq \
         WHERE e.event_type != '{DELETED}' AND e.kind IN ({kinds}) \
         ON CONFLICT (kind, namespace, name) DO UPDATE SET uid = excluded.uid, seq = excluded.seq, \
         node_name = excluded.node_name, object = excluded.object",
        kinds = kinds.join(", ")
    )))
    .bind(from)
    .execute(&mut *conn)
    .await?;
    record_applied(conn, last).await?;
    // seq has no gaps but the events compactions removed: the log holds the rest, all
    // reflected now.
    let removed: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(events_removed), 0) FROM compactions")
            .fetch_one(&mut *conn)
            .await?;
    Ok((last - removed).max(0) as u64)
}

async fn snapshot(conn: &mut SqliteConnection) -> Result<Option<(i64, i64)>, StoreError> {
    let applied: i64 = sqlx::query_scalar("SELECT applied_seq FROM projection_state WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT seq FROM snapshots WHERE seq = ?")
        .bind(applied)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_some() || applied == 0 {
        return Ok(None);
    }
    let created = crate::model::meta::format_time(jiff::Timestamp::now());
    sqlx::query("INSERT INTO snapshots (seq, created, objects) VALUES (?, ?, 0)")
        .bind(applied)
        .bind(created)
        .execute(&mut *conn)
        .await?;
    let copied = sqlx::query(
        "INSERT INTO snapshot_objects (snapshot_seq, kind, namespace, name, uid, seq, node_name, object) \
         SELECT ?, kind, namespace, name, uid, seq, node_name, object FROM objects",
    )
    .bind(applied)
    .execute(&mut *conn)
    .await?
    .rows_affected() as i64;
    sqlx::query("UPDATE snapshots SET objects = ? WHERE seq = ?")
        .bind(copied)
        .bind(applied)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
    )
    .bind(KEEP_SNAPSHOTS)
    .execute(&mut *conn)
    .await?;
    Ok(Some((applied, copied)))
}

async fn newest_snapshot_at_or_before(
    conn: &mut SqliteConnection,
    seq: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM snapshots WHERE seq <= ?")
        .bind(seq)
        .fetch_one(&mut *conn)
        .await
}

impl Checkpointer {
    /// One `PASSIVE` checkpoint, which never blocks the writer or a reader; then, when the
    /// write-ahead log file has grown past `WAL_LIMIT_BYTES` (readers kept SQLite from
    /// starting it over), one `TRUNCATE` checkpoint that waits at most `TRUNCATE_WAIT` for
    /// them and gives up otherwise, until the next time. Returns the log's size after.
    pub async fn checkpoint(&mut self) -> Result<u64, StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut self.conn)
            .await?;
        let wal = wal_path(&self.database);
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if size <= WAL_LIMIT_BYTES {
            return Ok(size);
        }
        // TRUNCATE holds back new writes while it waits for readers: briefly, then gives up.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA busy_timeout = {}",
            TRUNCATE_WAIT.as_millis()
        )))
        .execute(&mut self.conn)
        .await?;
        let truncated = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut self.conn)
            .await;
        sqlx::query("PRAGMA busy_timeout = 10000")
            .execute(&mut self.conn)
            .await?;
        if let Err(e) = truncated {
            tracing::debug!(error = %e, "the write-ahead log could not be truncated yet");
        }
        Ok(std::fs::metadata(&wal).map_or(0, |m| m.len()))
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// How long a truncating checkpoint waits for readers to leave the write-ahead log.
const TRUNCATE_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// The write-ahead log of database `database`.
pub(super) fn wal_path(database: &Path) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    std::path::PathBuf::from(name)
}
