//! Reads of the log: the debugging queries (filtered entries, one entry, an object's recorded
//! history page, positions), the state at a past seq (`resourceVersionMatch=Exact` lists),
//! the rows a watch or the informer replays, and `verify`'s scan of the log beside the
//! projections. Every row comes back as an `EventRow`, read with the one column list.

use super::{COLUMNS, Columns, Readers, event_row};
use crate::model::ResourceKind;
use crate::store::seal::Sealer;
use crate::store::{
    DELETED, DELETION_REQUESTED, EventRow, EventWrite, ListPage, ListQuery, LogFilter,
    ProjectedRow, RecordedPage, StoreError, StoredEvent,
};
use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use std::collections::HashMap;

/// A value bound into a filter's SQL.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::store) enum Bind {
    Text(String),
    Int(i64),
}

/// The WHERE clause of `filter` (empty or starting with " WHERE") and its values, in order.
pub(in crate::store) fn where_clause(filter: &LogFilter) -> (String, Vec<Bind>) {
    let mut terms: Vec<String> = Vec::new();
    let mut binds = Vec::new();
    let text = [
        ("kind", &filter.kind),
        ("namespace", &filter.namespace),
        ("name", &filter.name),
        ("uid", &filter.uid),
        ("actor", &filter.actor),
    ];
    for (column, value) in text {
        if let Some(value) = value {
            terms.push(format!("{column} = ?"));
            binds.push(Bind::Text(value.clone()));
        }
    }
    if !filter.event_types.is_empty() {
        let marks = vec!["?"; filter.event_types.len()].join(", ");
        terms.push(format!("event_type IN ({marks})"));
        binds.extend(filter.event_types.iter().cloned().map(Bind::Text));
    }
    if let Some(from) = filter.from_seq {
        terms.push("seq >= ?".into());
        binds.push(Bind::Int(from));
    }
    if let Some(to) = filter.to_seq {
        terms.push("seq <= ?".into());
        binds.push(Bind::Int(to));
    }
    if let Some(since) = &filter.since {
        terms.push("time >= ?".into());
        binds.push(Bind::Text(since.clone()));
    }
    if let Some(until) = &filter.until {
        terms.push("time <= ?".into());
        binds.push(Bind::Text(until.clone()));
    }
    if terms.is_empty() {
        (String::new(), binds)
    } else {
        (format!(" WHERE {}", terms.join(" AND ")), binds)
    }
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, SqliteArguments>;

fn bind_all<'q>(mut q: Query<'q>, binds: &'q [Bind]) -> Query<'q> {
    for bind in binds {
        q = match bind {
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

/// Event rows as read, each Secret's object opened.
fn rows(sealer: &Sealer, rows: &[SqliteRow]) -> Result<Vec<EventRow>, StoreError> {
    rows.iter()
        .map(|r| opened(sealer, event_row(r, 0)?))
        .collect()
}

/// `row` with its object opened (a Secret's is stored sealed).
fn opened(sealer: &Sealer, mut row: EventRow) -> Result<EventRow, StoreError> {
    row.object = sealer.open(&row.kind, std::mem::take(&mut row.object))?;
    Ok(row)
}

/// Seqs bound in one `IN (...)` list: far below SQLite's limit of 32,766 variables.
const SEQS_PER_STATEMENT: usize = 500;
impl Readers {
    /// The newest seq in the log (0 when empty).
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        Ok(super::last_seq(&self.pool).await?)
    }

    /// What the log and the projections hold, by kind: (kind, events, objects), by kind name;
    /// and the oldest seq the log keeps (0 when empty).
    pub async fn census(&self) -> Result<(Vec<(String, i64, i64)>, i64), StoreError> {
        let rows = sqlx::query(
            "SELECT kind, SUM(events), SUM(objects) FROM ( \
               SELECT kind, COUNT(*) AS events, 0 AS objects FROM events GROUP BY kind \
               UNION ALL \
               SELECT kind, 0, COUNT(*) FROM objects GROUP BY kind) \
             GROUP BY kind ORDER BY kind",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut kinds = Vec::with_capacity(rows.len());
        for row in rows {
            kinds.push((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?));
        }
        let oldest: i64 = sqlx::query_scalar("SELECT COALESCE(MIN(seq), 0) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok((kinds, oldest))
    }

    /// The newest seq at or before `time` (a log time), 0 when none.
    pub async fn seq_at_time(&self, time: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events WHERE time <= ?")
                .bind(time)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Events passing `filter`, oldest first, after seq `after`, at most `limit`. Without
    /// `with_object` the objects are not read (each row's `object` is `{}`).
    pub async fn entries(
        &self,
        filter: &LogFilter,
        after: i64,
        limit: i64,
        with_object: bool,
    ) -> Result<Vec<EventRow>, StoreError> {
        let (clause, binds) = where_clause(filter);
        let connector = if clause.is_empty() { " WHERE" } else { " AND" };
        let columns = if with_object {
            Columns::All
        } else {
            Columns::WithoutObject
        };
        let sql = format!(
            "SELECT {} FROM events{clause}{connector} seq > ? ORDER BY seq LIMIT ?",
            columns.select()
        );
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds)
            .bind(after)
            .bind(limit);
        rows(&self.sealer, &q.fetch_all(&self.pool).await?)
    }

    /// The newest `limit` events passing `filter`, oldest first.
    pub async fn newest_entries(
        &self,
        filter: &LogFilter,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let (clause, binds) = where_clause(filter);
        let sql = format!(
            "SELECT {} FROM events{clause} ORDER BY seq DESC LIMIT ?",
            Columns::All.select()
        );
        let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds).bind(limit);
        let mut out = rows(&self.sealer, &q.fetch_all(&self.pool).await?)?;
        out.reverse();
        Ok(out)
    }

    /// One event by its seq.
    pub async fn entry(&self, seq: i64) -> Result<Option<EventRow>, StoreError> {
        let sql = format!("SELECT {} FROM events WHERE seq = ?", Columns::All.select());
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(|r| opened(&self.sealer, event_row(r, 0)?))
            .transpose()
    }

    /// The entries at `seqs` that exist, without their objects (read as `{}`), by seq: a few
    /// statements for any number of seqs instead of one each.
    pub async fn entries_without_objects_at(
        &self,
        seqs: &[i64],
    ) -> Result<HashMap<i64, EventRow>, StoreError> {
        let mut found = HashMap::with_capacity(seqs.len());
        for chunk in seqs.chunks(SEQS_PER_STATEMENT) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT {} FROM events WHERE seq IN ({placeholders})",
                Columns::WithoutObject.select()
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for seq in chunk {
                query = query.bind(seq);
            }
            for row in query.fetch_all(&self.pool).await? {
                let entry = event_row(&row, 0)?;
                found.insert(entry.seq, entry);
            }
        }
        Ok(found)
    }

    /// One page of an object's history (after seq `after`), assembled inside SQLite from each
    /// event's recorded `changes`, so no object is read or compared; `None` when an event of
    /// the page has no recorded changes (written before they were recorded): the caller then
    /// computes the page from the objects.
    pub async fn recorded_history_page(
        &self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
        after: i64,
        limit: i64,
    ) -> Result<Option<RecordedPage>, StoreError> {
        // The entries are stored as JSON text, clustered by object: the page is one range read,
        // joined as text inside SQLite and returned as one value (a row per entry would cost a
        // hand-off between threads each), with nothing parsed again. The range is read in `seq`
        // order and the subquery yields it so; an ORDER BY inside group_concat would sort it again.
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(MAX(seq), 0), '[' || COALESCE(group_concat(entry, ','), '') || ']' \
             FROM (SELECT seq, entry FROM history_entries \
                   WHERE kind = ? AND namespace = ? AND name = ? AND seq > ? ORDER BY seq LIMIT ?)",
        )
        .bind(kind.as_str())
        .bind(namespace)
        .bind(name)
        .bind(after)
        .bind(limit)
        .fetch_one(&self.pool)
        .await?;
        let count: i64 = row.try_get(0)?;
        let last_seq: i64 = row.try_get(1)?;
        let items: String = row.try_get(2)?;
        // Events written before changes were recorded have no entry: then the page is computed.
        // Counting the object's events in the same range reads only the log's object index.
        let upto = if count == limit { last_seq } else { i64::MAX };
        let events: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events INDEXED BY events_by_object \
             WHERE kind = ? AND namespace = ? AND name = ? AND seq > ? AND seq <= ?",
        )
        .bind(kind.as_str())
        .bind(namespace)
        .bind(name)
        .bind(after)
        .bind(upto)
        .fetch_one(&self.pool)
        .await?;
        if events != count {
            return Ok(None);
        }
        Ok(Some(RecordedPage {
            items,
            count,
            last_seq,
        }))
    }

    /// List `kind` as it was at log position `at` (a `resourceVersionMatch=Exact` list): for
    /// each object its newest event with seq <= `at`, unless that event deleted it. Read from
    /// the log alone (its rows after the compaction point never change), through the
    /// `(kind, namespace, name, seq)` index, in one read transaction with the compaction point:
    /// a position before it is `StoreError::Compacted`.
    pub async fn list_at(
        &self,
        kind: ResourceKind,
        query: &ListQuery,
        keep: Option<&(dyn Fn(&Value) -> bool + Sync)>,
        at: i64,
    ) -> Result<ListPage, StoreError> {
        let mut sql = String::from(
            "SELECT e.namespace, e.name, e.object, e.event_type FROM events e JOIN \
             (SELECT namespace, name, MAX(seq) AS seq FROM events WHERE kind = ? AND seq <= ?",
        );
        if query.namespace.is_some() {
            sql.push_str(" AND namespace = ?");
        }
        if query.name.is_some() {
            sql.push_str(" AND name = ?");
        }
        if query.start_after.is_some() {
            sql.push_str(" AND (namespace, name) > (?, ?)");
        }
        sql.push_str(
            " GROUP BY namespace, name) last ON e.seq = last.seq ORDER BY e.namespace, e.name",
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kind.as_str())
            .bind(at);
        if let Some(ns) = &query.namespace {
            q = q.bind(ns);
        }
        if let Some(name) = &query.name {
            q = q.bind(name);
        }
        if let Some((ns, name)) = &query.start_after {
            q = q.bind(ns).bind(name);
        }
        let mut tx = self.pool.begin().await?;
        let through = super::compact::compaction_point(&mut *tx).await?;
        if at < through {
            return Err(StoreError::Compacted {
                requested: at,
                through,
            });
        }
        let limit = query.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        let mut continue_after = None;
        let mut last_returned: Option<(String, String)> = None;
        let mut rows = q.fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let event_type: &str = row.try_get(3)?;
            if event_type == DELETED {
                continue;
            }
            let json = self.sealer.open(kind.as_str(), row.try_get(2)?)?;
            let wanted = match keep {
                None => true,
                Some(keep) => {
                    let object: Value = serde_json::from_str(&json).map_err(StoreError::Corrupt)?;
                    keep(&object)
                }
            };
            if !wanted {
                continue;
            }
            if limit.is_some_and(|l| items.len() == l) {
                continue_after = last_returned.take();
                break;
            }
            items.push(json);
            last_returned = Some((row.try_get(0)?, row.try_get(1)?));
        }
        Ok(ListPage {
            items,
            resource_version: at,
            continue_after,
        })
    }

    /// Events of `kind` after `seq` (optionally in one namespace), oldest first, each with its
    /// object's previous state (the object of its `prev_seq`), as a watch replays them. Rows
    /// carry what folding needs (`Columns::State`). After a position before the compaction
    /// point (where events are missing) it is `StoreError::Compacted`.
    pub async fn events_after(
        &self,
        kind: ResourceKind,
        namespace: Option<&str>,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(EventRow, Option<String>)>, StoreError> {
        let sql = format!(
            "SELECT {}, (SELECT p.object FROM events p WHERE p.seq = events.prev_seq) \
             FROM events WHERE seq > ? AND kind = ?{} ORDER BY seq LIMIT ?",
            Columns::State.select(),
            if namespace.is_some() {
                " AND namespace = ?"
            } else {
                ""
            }
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seq)
            .bind(kind.as_str());
        if let Some(ns) = namespace {
            q = q.bind(ns);
        }
        let mut tx = self.pool.begin().await?;
        let through = super::compact::compaction_point(&mut *tx).await?;
        if seq < through {
            return Err(StoreError::Compacted {
                requested: seq,
                through,
            });
        }
        let found = q.bind(limit).fetch_all(&mut *tx).await?;
        drop(tx);
        let mut out = Vec::with_capacity(found.len());
        for r in &found {
            let previous: Option<String> = r.try_get(COLUMNS.len())?;
            let previous = previous
                .map(|p| self.sealer.open(kind.as_str(), p))
                .transpose()?;
            out.push((opened(&self.sealer, event_row(r, 0)?)?, previous));
        }
        Ok(out)
    }

    /// Events of every kind after `seq`, oldest first, at most `limit`, with what folding needs
    /// (`Columns::State`).
    pub async fn log_after(&self, seq: i64, limit: i64) -> Result<Vec<EventRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            Columns::State.select()
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows(&self.sealer, &found)
    }

    /// Events after `seq`, oldest first, at most `limit`, exactly as stored: every column,
    /// the object as it is (a Secret still sealed) and the recorded changes.
    pub async fn stored_events_after(
        &self,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {}, changes FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            Columns::All.select()
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        found
            .iter()
            .map(|r| {
                Ok(StoredEvent {
                    row: event_row(r, 0)?,
                    changes: r.try_get(COLUMNS.len())?,
                })
            })
            .collect()
    }

    /// In one read transaction, so both are seen at the same moment: every event in seq order
    /// to `on_event` (with what folding needs, `Columns::State`), then every projection row
    /// with its key (kind, namespace, name) to `on_row`. Returns the seq the projections
    /// record they reflect. Objects come as stored (a Secret sealed, identically in both: a
    /// comparison of the two needs no key).
    pub async fn scan_log_and_projections<E: From<StoreError>>(
        &self,
        mut on_event: impl FnMut(EventRow) -> Result<(), E>,
        mut on_row: impl FnMut((String, String, String), ProjectedRow),
    ) -> Result<i64, E> {
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        {
            let sql = format!(
                "SELECT {} FROM events ORDER BY seq",
                Columns::State.select()
            );
            let mut found = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut *tx);
            while let Some(row) = found.try_next().await.map_err(StoreError::from)? {
                on_event(event_row(&row, 0).map_err(StoreError::from)?)?;
            }
        }
        let applied: i64 =
            sqlx::query_scalar("SELECT applied_seq FROM projection_state WHERE id = 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        {
            let mut found = sqlx::query(
                "SELECT kind, namespace, name, uid, seq, node_name, object FROM objects",
            )
            .fetch(&mut *tx);
            while let Some(row) = found.try_next().await.map_err(StoreError::from)? {
                let read = || -> Result<_, sqlx::Error> {
                    Ok((
                        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?),
                        ProjectedRow {
                            uid: row.try_get(3)?,
                            seq: row.try_get(4)?,
                            node_name: row.try_get(5)?,
                            object: row.try_get(6)?,
                        },
                    ))
                };
                let (key, projected) = read().map_err(StoreError::from)?;
                on_row(key, projected);
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(applied)
    }

    /// The writes of core/v1 Events after seq `after`, oldest first, at most `limit`, each
    /// with whether the Event is still at that version: log order is the order of last
    /// writes, so the Events not written since some time are the current ones among the
    /// oldest writes.
    pub async fn event_writes_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<EventWrite>, StoreError> {
        // Named: the planner would rather scan `events_by_object` for the kind and sort.
        // `kind = 'Event'` spelled out is what lets it use the partial index.
        let found = sqlx::query(
            "SELECT e.seq, e.time, e.namespace, e.name, e.uid, e.event_type, \
               EXISTS (SELECT 1 FROM objects o WHERE o.kind = e.kind \
                 AND o.namespace = e.namespace AND o.name = e.name AND o.seq = e.seq) \
             FROM events e INDEXED BY events_of_core_events \
             WHERE e.kind = 'Event' AND e.seq > ?1 ORDER BY e.seq LIMIT ?2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        found
            .iter()
            .map(|row| {
                let event_type: String = row.try_get(5)?;
                Ok(EventWrite {
                    seq: row.try_get(0)?,
                    time: row.try_get(1)?,
                    namespace: row.try_get(2)?,
                    name: row.try_get(3)?,
                    uid: row.try_get(4)?,
                    current: row.try_get(6)?,
                    deleting: event_type == DELETION_REQUESTED,
                })
            })
            .collect()
    }

    /// Events of every kind after `seq`, oldest first, at most `limit`, whole, each with its
    /// object's previous state: what a server publishes of the events other servers appended.
    pub async fn appended_after(
        &self,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(EventRow, Option<String>)>, StoreError> {
        let sql = format!(
            "SELECT {}, (SELECT p.object FROM events p WHERE p.seq = events.prev_seq) \
             FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            Columns::All.select()
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(found.len());
        for r in &found {
            let row = opened(&self.sealer, event_row(r, 0)?)?;
            let previous: Option<String> = r.try_get(COLUMNS.len())?;
            let previous = previous
                .map(|p| self.sealer.open(&row.kind, p))
                .transpose()?;
            out.push((row, previous));
        }
        Ok(out)
    }
}
