//! `ReadStore`: every read of current state and of the log, on a read-only connection pool
//! (WAL lets reads run beside the writer). Lists read one consistent snapshot and report the
//! resourceVersion it reflects.

use crate::events::{EventType, StoreError};
use crate::model::ResourceKind;
use serde_json::Value;
use sqlx::{Row, SqlitePool};

/// How many rows a filtered list reads per round trip.
const SCAN_CHUNK: i64 = 1000;

#[derive(Clone)]
pub struct ReadStore {
    pool: SqlitePool,
}

/// One object as stored: its JSON text (with `resourceVersion`) and its seq.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub json: String,
    pub seq: i64,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub namespace: Option<String>,
    /// Only this name (from a `metadata.name=` field selector).
    pub name: Option<String>,
    /// Resume after this (namespace, name), from a continue token.
    pub start_after: Option<(String, String)>,
    pub limit: Option<usize>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// Matching objects' JSON, ordered by namespace then name.
    pub items: Vec<String>,
    /// The log seq this snapshot reflects.
    pub resource_version: i64,
    /// Set when `limit` cut the list short: the key of the last item returned.
    pub continue_after: Option<(String, String)>,
}

/// One log row as a watch replays it.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub seq: i64,
    pub event_type: EventType,
    pub object_json: String,
    pub prev_json: Option<String>,
}

impl ReadStore {
    pub fn new(pool: SqlitePool) -> Self {
        ReadStore { pool }
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn get(
        &self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<StoredObject>, StoreError> {
        let row = sqlx::query(
            "SELECT object, seq FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
        )
        .bind(kind.as_str())
        .bind(namespace)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(StoredObject {
                json: r.try_get(0)?,
                seq: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// List `kind`, keeping the objects `keep` accepts (all when `None`), in one snapshot.
    pub async fn list(
        &self,
        kind: ResourceKind,
        query: &ListQuery,
        keep: Option<&(dyn Fn(&Value) -> bool + Sync)>,
    ) -> Result<ListPage, StoreError> {
        let mut tx = self.pool.begin().await?;
        let resource_version: i64 =
            sqlx::query_scalar("SELECT applied_seq FROM projection_state WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let mut items = Vec::new();
        let mut after = query.start_after.clone();
        let limit = query.limit.filter(|l| *l > 0);
        let mut continue_after = None;
        let mut last_returned: Option<(String, String)> = None;
        'scan: loop {
            let mut sql =
                String::from("SELECT namespace, name, object FROM objects WHERE kind = ?");
            if query.namespace.is_some() {
                sql.push_str(" AND namespace = ?");
            }
            if query.name.is_some() {
                sql.push_str(" AND name = ?");
            }
            if after.is_some() {
                sql.push_str(" AND (namespace, name) > (?, ?)");
            }
            sql.push_str(" ORDER BY namespace, name LIMIT ?");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kind.as_str());
            if let Some(ns) = &query.namespace {
                q = q.bind(ns);
            }
            if let Some(name) = &query.name {
                q = q.bind(name);
            }
            if let Some((ns, name)) = &after {
                q = q.bind(ns).bind(name);
            }
            let rows = q.bind(SCAN_CHUNK).fetch_all(&mut *tx).await?;
            let scanned = rows.len() as i64;
            for row in rows {
                let namespace: String = row.try_get(0)?;
                let name: String = row.try_get(1)?;
                let json: String = row.try_get(2)?;
                let wanted = match keep {
                    None => true,
                    Some(keep) => {
                        let object: Value =
                            serde_json::from_str(&json).map_err(StoreError::Corrupt)?;
                        keep(&object)
                    }
                };
                let key = (namespace, name);
                if wanted {
                    if limit.is_some_and(|l| items.len() == l) {
                        // One more match exists: the page ends at the last item returned.
                        continue_after = last_returned.take();
                        break 'scan;
                    }
                    items.push(json);
                    last_returned = Some(key.clone());
                }
                after = Some(key);
            }
            if scanned < SCAN_CHUNK {
                break;
            }
        }
        tx.commit().await?;
        Ok(ListPage {
            items,
            resource_version,
            continue_after,
        })
    }

    /// List `kind` as it was at log position `at` (a `resourceVersionMatch=Exact` list): for
    /// each object its newest event with seq <= `at`, unless that event deleted it. Read from the
    /// log alone (its rows never change), through the `(kind, namespace, name, seq)` index.
    pub async fn list_at(
        &self,
        kind: ResourceKind,
        query: &ListQuery,
        keep: Option<&(dyn Fn(&Value) -> bool + Sync)>,
        at: i64,
    ) -> Result<ListPage, StoreError> {
        use futures_util::TryStreamExt;
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
        let limit = query.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        let mut continue_after = None;
        let mut last_returned: Option<(String, String)> = None;
        let mut rows = q.fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let event_type: String = row.try_get(3)?;
            if event_type == EventType::Deleted.as_str() {
                continue;
            }
            let json: String = row.try_get(2)?;
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

    /// Log rows of `kind` after `seq` (optionally in one namespace), oldest first, with the
    /// object's previous state.
    pub async fn events_after(
        &self,
        kind: ResourceKind,
        namespace: Option<&str>,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<LogRow>, StoreError> {
        let sql = if namespace.is_some() {
            "SELECT e.seq, e.event_type, e.object, p.object FROM events e \
             LEFT JOIN events p ON p.seq = e.prev_seq \
             WHERE e.seq > ? AND e.kind = ? AND e.namespace = ? ORDER BY e.seq LIMIT ?"
        } else {
            "SELECT e.seq, e.event_type, e.object, p.object FROM events e \
             LEFT JOIN events p ON p.seq = e.prev_seq \
             WHERE e.seq > ? AND e.kind = ? ORDER BY e.seq LIMIT ?"
        };
        let mut q = sqlx::query(sql).bind(seq).bind(kind.as_str());
        if let Some(ns) = namespace {
            q = q.bind(ns);
        }
        let rows = q.bind(limit).fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|r| {
                let event_type: String = r.try_get(1)?;
                Ok(LogRow {
                    seq: r.try_get(0)?,
                    event_type: EventType::parse(&event_type).unwrap_or(EventType::Updated),
                    object_json: r.try_get(2)?,
                    prev_json: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Log rows of every kind after `seq`, oldest first: (seq, kind, event type, object JSON).
    pub async fn log_after(
        &self,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, ResourceKind, EventType, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, kind, event_type, object FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let kind: String = r.try_get(1)?;
            let event_type: String = r.try_get(2)?;
            if let (Some(kind), Some(event_type)) = (
                ResourceKind::from_kind(&kind),
                EventType::parse(&event_type),
            ) {
                out.push((r.try_get(0)?, kind, event_type, r.try_get(3)?));
            }
        }
        Ok(out)
    }

    /// Highest seq in the log (0 when empty).
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Size of the database file in bytes (page count × page size).
    pub async fn database_size(&self) -> Result<i64, StoreError> {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&self.pool)
            .await?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&self.pool)
            .await?;
        Ok(pages * size)
    }
}
