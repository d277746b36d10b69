//! Work on the database besides the writer's commits:
//!
//! - **rebuild**: drop the projections and rebuild them from the log, from the newest snapshot
//!   (or genesis), applying for each object only its newest event after that point;
//! - **snapshots**: a copy of every `objects` row as of a log position (derived data, the log
//!   is never touched, old ones are dropped);
//! - **checkpoints**: none to take. PostgreSQL checkpoints and recycles its write-ahead log
//!   itself, for all its databases (`checkpoint_timeout`, `max_wal_size`), and a `CHECKPOINT`
//!   needs privileges a database's owner need not have: the checkpointer only keeps its place;
//! - the **copy of a log prefix**, seq for seq, from a SQLite database file into this database
//!   (`replay` of a data directory into PostgreSQL);
//! - the **append of a log as another database stored it** (`migrate`): events with their
//!   sealed objects and recorded changes as they are, and the compactions' records.

use super::append::record_applied;
use super::{Checkpointer, Writer, insert_columns, keys_anchor};
use crate::model::ResourceKind;
use crate::store::seal::Sealer;
use crate::store::{Compaction, DELETED, StoreError, StoredEvent};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, Postgres, QueryBuilder, Row, SqliteConnection};
use std::path::Path;

/// How many snapshots are kept (the newest ones).
const KEEP_SNAPSHOTS: i64 = 2;

/// Events copied per statement by `copy_log_from` (18 values a row).
const COPY_ROWS_PER_STATEMENT: i64 = 500;

/// Stored events appended per statement by `append_stored` (18 values a row, far below
/// PostgreSQL's limit of 65,535 parameters).
const STORED_ROWS_PER_STATEMENT: usize = 500;

impl Writer {
    /// Replay the log into empty projections in one transaction. Returns the number of events.
    pub async fn rebuild(&mut self) -> Result<u64, StoreError> {
        let mut tx = self.conn.begin().await?;
        let replayed = replay(&mut tx).await?;
        tx.commit().await?;
        Ok(replayed)
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
    /// transaction. Returns the snapshot's seq and row count, or `None` when the newest
    /// snapshot is already at that position.
    pub async fn take_snapshot(&mut self) -> Result<Option<(i64, i64)>, StoreError> {
        let mut tx = self.conn.begin().await?;
        let taken = snapshot(&mut tx).await?;
        tx.commit().await?;
        Ok(taken)
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

    /// Nothing to turn off: PostgreSQL's checkpoints never run inside a commit.
    pub async fn leave_checkpoints_to_checkpointer(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Copy the events of the SQLite database file `source` up to and including `until`, as
    /// they are (seq for seq, with their recorded changes, and its compactions), into this
    /// database, which must hold no events yet, in one transaction; the projections are left
    /// for `rebuild`. Returns how many were copied. The source is only read.
    pub async fn copy_log_from(&mut self, source: &Path, until: i64) -> Result<u64, StoreError> {
        // The copied Secrets stay sealed with the source's keys: this data directory keeps them.
        let anchor = keys_anchor(&self.data_dir);
        Sealer::adopt_keys(&anchor, source)?;
        self.sealer = std::sync::Arc::new(Sealer::load(&anchor)?);
        let mut from = SqliteConnection::connect_with(
            &SqliteConnectOptions::new().filename(source).read_only(true),
        )
        .await?;
        let compacted: bool = sqlx::query_scalar(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'compactions'",
        )
        .fetch_one(&mut from)
        .await?;
        let mut tx = self.conn.begin().await?;
        if compacted {
            let rows = sqlx::query(
                "SELECT id, seq_through, time, kinds, status_only, events_removed, actor \
                 FROM compactions WHERE seq_through <= ? ORDER BY id",
            )
            .bind(until)
            .fetch_all(&mut from)
            .await?;
            for row in rows {
                sqlx::query(
                    "INSERT INTO compactions \
                     (id, seq_through, time, kinds, status_only, events_removed, actor) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(row.try_get::<i64, _>(0)?)
                .bind(row.try_get::<i64, _>(1)?)
                .bind(row.try_get::<String, _>(2)?)
                .bind(row.try_get::<String, _>(3)?)
                .bind(row.try_get::<bool, _>(4)?)
                .bind(row.try_get::<i64, _>(5)?)
                .bind(row.try_get::<String, _>(6)?)
                .execute(&mut *tx)
                .await?;
            }
            // The ids were given: the next compaction's comes after them.
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('compactions', 'id'), \
                 (SELECT COALESCE(MAX(id), 0) + 1 FROM compactions), false)",
            )
            .execute(&mut *tx)
            .await?;
        }
        let columns = insert_columns();
        let select =
            format!("SELECT {columns} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?");
        let head = format!("INSERT INTO events ({columns}) ");
        let mut after = 0;
        let mut copied = 0;
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(select.clone()))
                .bind(after)
                .bind(until)
                .bind(COPY_ROWS_PER_STATEMENT)
                .fetch_all(&mut from)
                .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.try_get(0)?;
            let mut query: QueryBuilder<Postgres> = QueryBuilder::new(head.as_str());
            let mut failed = None;
            query.push_values(&rows, |mut bind, row| {
                // Each column as its type: integers, optional integers, text, optional text.
                for (at, (name, _)) in super::COLUMNS.iter().enumerate() {
                    let bound = match *name {
                        "seq" | "event_version" => row.try_get::<i64, _>(at).map(|v| {
                            bind.push_bind(v);
                        }),
                        "prev_seq" | "caused_by" => row.try_get::<Option<i64>, _>(at).map(|v| {
                            bind.push_bind(v);
                        }),
                        "user_agent" | "field_manager" | "causes" => {
                            row.try_get::<Option<String>, _>(at).map(|v| {
                                bind.push_bind(v);
                            })
                        }
                        _ => row.try_get::<String, _>(at).map(|v| {
                            bind.push_bind(v);
                        }),
                    };
                    if let Err(e) = bound {
                        failed.get_or_insert(e);
                    }
                }
                match row.try_get::<Option<String>, _>(super::COLUMNS.len()) {
                    Ok(changes) => {
                        bind.push_bind(changes);
                    }
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            copied += query.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        let _ = from.close().await;
        Ok(copied)
    }
}

impl Writer {
    /// Append `events` as another database stored them (each object as it is, a Secret still
    /// sealed with the keys this data directory was given, `carry_keys`; the recorded changes
    /// as they are), in one transaction, leaving the projections for `rebuild`: `migrate`'s
    /// copy of a log into an empty database, never a server's writes.
    pub async fn append_stored(&mut self, events: &[StoredEvent]) -> Result<(), StoreError> {
        let mut tx = self.conn.begin().await?;
        let head = format!("INSERT INTO events ({}) ", insert_columns());
        for chunk in events.chunks(STORED_ROWS_PER_STATEMENT) {
            let mut query: QueryBuilder<Postgres> = QueryBuilder::new(head.as_str());
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
            query.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Record `compactions` as another database recorded them (ids, points, selections,
    /// counts), in one transaction: `migrate`'s copy of a compacted log, before its events.
    pub async fn record_compactions(
        &mut self,
        compactions: &[Compaction],
    ) -> Result<(), StoreError> {
        let mut tx = self.conn.begin().await?;
        for c in compactions {
            sqlx::query(
                "INSERT INTO compactions \
                 (id, seq_through, time, kinds, status_only, events_removed, actor) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(c.id)
            .bind(c.seq_through)
            .bind(&c.time)
            .bind(c.kinds.join(","))
            .bind(c.status_only)
            .bind(c.events_removed)
            .bind(&c.actor)
            .execute(&mut *tx)
            .await?;
        }
        // The ids were given: the next compaction's comes after them.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('compactions', 'id'), \
             (SELECT COALESCE(MAX(id), 0) + 1 FROM compactions), false)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn replay(conn: &mut PgConnection) -> Result<u64, StoreError> {
    sqlx::query("DELETE FROM objects")
        .execute(&mut *conn)
        .await?;
    let last = super::last_seq(&mut *conn).await?;
    // Start from the newest snapshot, then only the events after it count.
    let from = newest_snapshot_at_or_before(conn, last).await?;
    // The newest event of each object after `from`.
    let newest = if from > 0 {
        "SELECT MAX(seq) AS seq FROM events WHERE seq > $1 GROUP BY kind, namespace, name"
    } else {
        "SELECT MAX(seq) AS seq FROM events WHERE $1 = 0 GROUP BY kind, namespace, name"
    };
    if from > 0 {
        sqlx::query(
            "INSERT INTO objects (kind, namespace, name, uid, seq, node_name, object) \
             SELECT kind, namespace, name, uid, seq, node_name, object FROM snapshot_objects \
             WHERE snapshot_seq = $1",
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
    // deleted it: write those rows exactly as the writer writes them (uid from the object,
    // `node_name` = a pod's non-empty string `spec.nodeName`, as `store::node_name_of`). The
    // object is read as `json` (not `jsonb`, which refuses some strings the log may hold).
    let kinds: Vec<String> = ResourceKind::ALL
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO objects (kind, namespace, name, uid, seq, node_name, object) \
         SELECT e.kind, e.namespace, e.name, COALESCE(e.object::json #>> '{{metadata,uid}}', ''), \
         e.seq, CASE WHEN e.kind = 'Pod' AND json_typeof(e.object::json #> '{{spec,nodeName}}') = 'string' \
         THEN NULLIF(e.object::json #>> '{{spec,nodeName}}', '') END, e.object \
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
        sqlx::query_scalar("SELECT COALESCE(SUM(events_removed), 0)::bigint FROM compactions")
            .fetch_one(&mut *conn)
            .await?;
    Ok((last - removed).max(0) as u64)
}

async fn snapshot(conn: &mut PgConnection) -> Result<Option<(i64, i64)>, StoreError> {
    let applied: i64 = sqlx::query_scalar("SELECT applied_seq FROM projection_state WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT seq FROM snapshots WHERE seq = $1")
        .bind(applied)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_some() || applied == 0 {
        return Ok(None);
    }
    let created = crate::model::meta::format_time(jiff::Timestamp::now());
    sqlx::query("INSERT INTO snapshots (seq, created, objects) VALUES ($1, $2, 0)")
        .bind(applied)
        .bind(created)
        .execute(&mut *conn)
        .await?;
    let copied = sqlx::query(
        "INSERT INTO snapshot_objects (snapshot_seq, kind, namespace, name, uid, seq, node_name, object) \
         SELECT $1, kind, namespace, name, uid, seq, node_name, object FROM objects",
    )
    .bind(applied)
    .execute(&mut *conn)
    .await?
    .rows_affected() as i64;
    sqlx::query("UPDATE snapshots SET objects = $1 WHERE seq = $2")
        .bind(copied)
        .bind(applied)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT $1)",
    )
    .bind(KEEP_SNAPSHOTS)
    .execute(&mut *conn)
    .await?;
    Ok(Some((applied, copied)))
}

async fn newest_snapshot_at_or_before(
    conn: &mut PgConnection,
    seq: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM snapshots WHERE seq <= $1")
        .bind(seq)
        .fetch_one(&mut *conn)
        .await
}

impl Checkpointer {
    /// Nothing to do (see the module's doc): the write-ahead log is the PostgreSQL server's,
    /// none of it this database's to report: 0.
    pub async fn checkpoint(&mut self) -> Result<u64, StoreError> {
        Ok(0)
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}
