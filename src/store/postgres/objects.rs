//! Reads of current state from the projections (`objects`): the decider's loads on its own
//! connection, and gets and lists on the read pool. Lists read one snapshot (a `REPEATABLE
//! READ` transaction) and report the resourceVersion it reflects.

use super::append::ROWS_PER_STATEMENT;
use super::{BEGIN_SNAPSHOT, Marks, Reader, Readers};
use crate::model::ResourceKind;
use crate::store::{ListPage, ListQuery, ObjectKey, StoreError, StoredObject};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder, Row};
use std::collections::HashMap;

/// How many rows a filtered list reads per round trip.
const SCAN_CHUNK: i64 = 1000;

impl Reader {
    /// The current state of each of `keys` that exists, read with one statement per 128 keys.
    pub async fn load_many(
        &mut self,
        keys: &[ObjectKey],
    ) -> Result<HashMap<ObjectKey, Value>, StoreError> {
        let mut found = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
                "SELECT kind, namespace, name, object FROM objects WHERE (kind, namespace, name) IN (",
            );
            query.push_values(chunk, |mut row, (kind, namespace, name)| {
                row.push_bind(kind.as_str())
                    .push_bind(namespace.as_str())
                    .push_bind(name.as_str());
            });
            query.push(")");
            for row in query.build().fetch_all(&mut self.conn).await? {
                let kind: &str = row.try_get(0)?;
                let Some(kind) = ResourceKind::from_kind(kind) else {
                    continue;
                };
                let object = self.sealer.open(kind.as_str(), row.try_get(3)?)?;
                found.insert(
                    (kind, row.try_get(1)?, row.try_get(2)?),
                    serde_json::from_str(&object).map_err(StoreError::Corrupt)?,
                );
            }
        }
        Ok(found)
    }

    /// The current state of every object of `kind`.
    pub async fn load_kind(
        &mut self,
        kind: ResourceKind,
    ) -> Result<Vec<(ObjectKey, Value)>, StoreError> {
        let rows = sqlx::query("SELECT namespace, name, object FROM objects WHERE kind = $1")
            .bind(kind.as_str())
            .fetch_all(&mut self.conn)
            .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            let object = self.sealer.open(kind.as_str(), row.try_get(2)?)?;
            found.push((
                (kind, row.try_get(0)?, row.try_get(1)?),
                serde_json::from_str(&object).map_err(StoreError::Corrupt)?,
            ));
        }
        Ok(found)
    }

    /// The current state of one object.
    pub async fn load(
        &mut self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, StoreError> {
        let row: Option<String> = sqlx::query_scalar(
            "SELECT object FROM objects WHERE kind = $1 AND namespace = $2 AND name = $3",
        )
        .bind(kind.as_str())
        .bind(namespace)
        .bind(name)
        .fetch_optional(&mut self.conn)
        .await?;
        row.map(|json| {
            let json = self.sealer.open(kind.as_str(), json)?;
            serde_json::from_str(&json).map_err(StoreError::Corrupt)
        })
        .transpose()
    }
}

impl Readers {
    /// One object as stored, when it exists.
    pub async fn get(
        &self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<StoredObject>, StoreError> {
        let row = sqlx::query(
            "SELECT object, seq FROM objects WHERE kind = $1 AND namespace = $2 AND name = $3",
        )
        .bind(kind.as_str())
        .bind(namespace)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(StoredObject {
                json: self.sealer.open(kind.as_str(), r.try_get(0)?)?,
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
        let mut tx = self.pool.begin_with(BEGIN_SNAPSHOT).await?;
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
            let mut marks = Marks::default();
            let mut sql = format!(
                "SELECT namespace, name, object FROM objects WHERE kind = {}",
                marks.next()
            );
            if query.namespace.is_some() {
                sql.push_str(&format!(" AND namespace = {}", marks.next()));
            }
            if query.name.is_some() {
                sql.push_str(&format!(" AND name = {}", marks.next()));
            }
            if after.is_some() {
                sql.push_str(&format!(
                    " AND (namespace, name) > ({}, {})",
                    marks.next(),
                    marks.next()
                ));
            }
            sql.push_str(&format!(" ORDER BY namespace, name LIMIT {}", marks.next()));
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
                let json = self.sealer.open(kind.as_str(), row.try_get(2)?)?;
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

    /// The write-ahead log is the PostgreSQL server's, shared by all its databases and kept by
    /// it: none of this database's to report (0).
    pub fn wal_size(&self) -> i64 {
        0
    }

    /// Size of the database in bytes (`pg_database_size`).
    pub async fn database_size(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
