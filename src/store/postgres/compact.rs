//! Compaction: folding the history of chosen kinds (and status-only updates of any kind) at or
//! before a log position, the compaction point, into each object's newest event there, as the
//! SQLite dialect does (see its `compact`): the point recorded first (which lets the `events`
//! DELETE trigger allow the removals at or before it), then the events removed in short
//! transactions over windows of seq, the superseded events first, then the deletions.
//!
//! The space the removed rows held is PostgreSQL's to reuse: autovacuum marks it free as it
//! goes, so a compaction "vacuums incrementally" from the start; a step of it is one plain
//! `VACUUM` of the tables a compaction thins, and the one-off rewrite is `VACUUM FULL`.

use super::{Readers, Writer};
use crate::store::{Compaction, CompactionCursor, CompactionPlan, DELETED, StoreError};
use sqlx::postgres::PgArguments;
use sqlx::{Connection, PgConnection, Row};

/// Seqs in one window: the most events one transaction removes.
const WINDOW: i64 = 2_000;

/// The event type of a status-only update (`events::EventType::StatusUpdated`'s name).
const STATUS_UPDATED: &str = "StatusUpdated";

/// The passes of a compaction (`CompactionCursor::pass`): the superseded events, then the
/// deletions; then it is done.
const SUPERSEDED: u8 = 0;
const DONE: u8 = 2;

/// Which events a statement selects.
#[derive(Clone, Copy)]
enum Select {
    /// Events of the kinds (and status updates) that are not their object's newest at or
    /// before the point.
    Superseded,
    /// Deletions of objects of the kinds that are all their object has left at or before the
    /// point (once the superseded events are gone).
    Deletions,
    /// The deletions that pass will find (for the count before the superseded events go).
    DeletionsToCome,
}

/// The events `select` names in the window `seq BETWEEN $1 AND $2`, with the point as `$3` and
/// the kinds as `$4` on, as a `FROM events e WHERE ...` tail.
fn selection(select: Select, kinds: usize, status_updates: bool) -> String {
    let marks: Vec<String> = (0..kinds).map(|i| format!("${}", i + 4)).collect();
    let marks = marks.join(", ");
    let kinds_term = if kinds == 0 {
        "FALSE".to_string()
    } else {
        format!("e.kind IN ({marks})")
    };
    let window = "FROM events e WHERE e.seq BETWEEN $1 AND $2";
    let same_object = "n.kind = e.kind AND n.namespace = e.namespace AND n.name = e.name";
    match select {
        Select::Superseded => {
            let chosen = if status_updates {
                format!("({kinds_term} OR e.event_type = '{STATUS_UPDATED}')")
            } else {
                kinds_term
            };
            format!(
                "{window} AND {chosen} AND EXISTS \
                 (SELECT 1 FROM events n WHERE {same_object} AND n.seq > e.seq AND n.seq <= $3)"
            )
        }
        Select::Deletions | Select::DeletionsToCome => {
            let others = match select {
                Select::Deletions => "n.seq != e.seq",
                _ => "n.seq > e.seq",
            };
            format!(
                "{window} AND {kinds_term} AND e.event_type = '{DELETED}' AND NOT EXISTS \
                 (SELECT 1 FROM events n WHERE {same_object} AND {others} AND n.seq <= $3)"
            )
        }
    }
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, PgArguments>;

fn bind_plan<'q>(
    mut q: Query<'q>,
    lo: i64,
    hi: i64,
    through: i64,
    kinds: &'q [String],
) -> Query<'q> {
    q = q.bind(lo).bind(hi).bind(through);
    for kind in kinds {
        q = q.bind(kind.as_str());
    }
    q
}

async fn count(
    conn: &mut PgConnection,
    select: Select,
    plan: &CompactionPlan,
) -> Result<i64, sqlx::Error> {
    let tail = selection(select, plan.kinds.len(), plan.status_updates);
    let sql = format!("SELECT COUNT(*) {tail}");
    let row = bind_plan(
        sqlx::query(sqlx::AssertSqlSafe(sql)),
        1,
        plan.through,
        plan.through,
        &plan.kinds,
    )
    .fetch_one(&mut *conn)
    .await?;
    row.try_get(0)
}

impl Writer {
    /// Record a compaction through `plan.through` (from then on the log is append-only only
    /// after it) and drop the snapshots older than it. Returns it and how many events it will
    /// remove.
    pub async fn begin_compaction(
        &mut self,
        plan: &CompactionPlan,
    ) -> Result<(Compaction, i64), StoreError> {
        let last = super::last_seq(&mut self.conn).await?;
        if plan.through < 1 || plan.through > last {
            return Err(StoreError::other(format!(
                "the compaction point {} is not in the log, which holds resourceVersions up to {last}",
                plan.through
            )));
        }
        let time = crate::model::meta::format_time(jiff::Timestamp::now());
        let kinds = plan.kinds.join(",");
        let mut tx = self.conn.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO compactions (seq_through, time, kinds, status_only, actor) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(plan.through)
        .bind(&time)
        .bind(&kinds)
        .bind(plan.status_updates)
        .bind(&plan.actor)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM snapshots WHERE seq < $1")
            .bind(plan.through)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let total = count(&mut self.conn, Select::Superseded, plan).await?
            + count(&mut self.conn, Select::DeletionsToCome, plan).await?;
        Ok((
            Compaction {
                id,
                seq_through: plan.through,
                time,
                kinds: plan.kinds.clone(),
                status_only: plan.status_updates,
                events_removed: 0,
                actor: plan.actor.clone(),
            },
            total,
        ))
    }

    /// One step of `compaction`: remove what it selects in the next window of seq (events and
    /// their history entries) in one short transaction, counted on its record. Returns the
    /// events removed, or `None` once both passes are done.
    pub async fn compact_step(
        &mut self,
        compaction: &Compaction,
        cursor: &mut CompactionCursor,
    ) -> Result<Option<u64>, StoreError> {
        if cursor.pass >= DONE {
            return Ok(None);
        }
        let lo = cursor.next.max(1);
        let hi = (lo + WINDOW - 1).min(compaction.seq_through);
        let select = if cursor.pass == SUPERSEDED {
            Select::Superseded
        } else {
            Select::Deletions
        };
        let tail = selection(select, compaction.kinds.len(), compaction.status_only);
        let mut tx = self.conn.begin().await?;
        let entries = format!(
            "DELETE FROM history_entries WHERE (kind, namespace, name, seq) IN \
             (SELECT e.kind, e.namespace, e.name, e.seq {tail})"
        );
        bind_plan(
            sqlx::query(sqlx::AssertSqlSafe(entries)),
            lo,
            hi,
            compaction.seq_through,
            &compaction.kinds,
        )
        .execute(&mut *tx)
        .await?;
        let events = format!("DELETE FROM events WHERE seq IN (SELECT e.seq {tail})");
        let removed = bind_plan(
            sqlx::query(sqlx::AssertSqlSafe(events)),
            lo,
            hi,
            compaction.seq_through,
            &compaction.kinds,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("UPDATE compactions SET events_removed = events_removed + $1 WHERE id = $2")
            .bind(removed as i64)
            .bind(compaction.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if hi >= compaction.seq_through {
            cursor.pass += 1;
            cursor.next = 1;
        } else {
            cursor.next = hi + 1;
        }
        Ok(Some(removed))
    }

    /// Always: autovacuum makes the space of removed rows reusable without a rewrite.
    pub async fn vacuums_incrementally(&mut self) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// PostgreSQL keeps no count of free pages to give back: 0 (a `VACUUM` step is one pass).
    pub async fn free_pages(&mut self) -> Result<i64, StoreError> {
        Ok(0)
    }

    /// One plain `VACUUM` of the tables a compaction thins (it runs beside reads and writes),
    /// so their space is reused at once. Returns the free pages left: 0, it is done.
    pub async fn incremental_vacuum_step(&mut self) -> Result<i64, StoreError> {
        sqlx::query("VACUUM events, history_entries, snapshot_objects")
            .execute(&mut self.conn)
            .await?;
        self.free_pages().await
    }

    /// Rewrite every table (`VACUUM FULL`), handing the space back to the file system. Holds
    /// each table for as long as it takes (no server may run on it).
    pub async fn vacuum(&mut self) -> Result<(), StoreError> {
        sqlx::query("VACUUM FULL").execute(&mut self.conn).await?;
        Ok(())
    }
}

#[cfg(test)]
impl Writer {
    /// Run one statement as it is (the tests' way past the store's API, to try the triggers).
    pub(crate) async fn execute_raw(&mut self, sql: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut self.conn)
            .await?
            .rows_affected())
    }
}

impl Readers {
    /// The log's compaction point: the newest compaction's `seq_through` (0: never compacted).
    pub async fn compaction_point(&self) -> Result<i64, StoreError> {
        Ok(compaction_point(&self.pool).await?)
    }

    /// Every compaction, oldest first.
    pub async fn compactions(&self) -> Result<Vec<Compaction>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, seq_through, time, kinds, status_only, events_removed, actor \
             FROM compactions ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let kinds: String = row.try_get(3)?;
            out.push(Compaction {
                id: row.try_get(0)?,
                seq_through: row.try_get(1)?,
                time: row.try_get(2)?,
                kinds: kinds
                    .split(',')
                    .filter(|k| !k.is_empty())
                    .map(str::to_string)
                    .collect(),
                status_only: row.try_get(4)?,
                events_removed: row.try_get(5)?,
                actor: row.try_get(6)?,
            });
        }
        Ok(out)
    }
}

/// The compaction point as seen by `executor` (inside a snapshot: the one its reads see).
pub(super) async fn compaction_point<'e>(
    executor: impl sqlx::PgExecutor<'e>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq_through), 0) FROM compactions")
        .fetch_one(executor)
        .await
}
