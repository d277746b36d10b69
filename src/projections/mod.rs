//! Read models: the current state of every kind in the `objects` table, written only inside the
//! event log's transaction (`apply_many`) or by `rebuild`, and read through `ReadStore`. No Docker, no
//! commands, no HTTP types.

pub mod rebuild;
pub mod snapshot;
pub mod store;
pub mod watch;

pub use store::{ListPage, ListQuery, ReadStore, StoredObject};

use crate::events::StoreError;
use crate::model::ResourceKind;
use crate::model::meta::Lookup as _;
use serde_json::Value;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashMap;

/// An object's identity in the projections: kind, namespace (`""` when cluster-scoped), name.
pub type ObjectKey = (ResourceKind, String, String);

/// Rows per multi-row statement. A batch of the writer reads and writes its rows with a few
/// statements rather than a few per submission: each statement is a round trip to the
/// connection's thread. 128 rows of at most 7 bound values stay far below SQLite's limit of
/// 32,766 variables.
const ROWS_PER_STATEMENT: usize = 128;

/// The current state of each of `keys` that exists, read inside the writer's transaction.
pub async fn load_many(
    conn: &mut SqliteConnection,
    keys: &[ObjectKey],
) -> Result<HashMap<ObjectKey, Value>, StoreError> {
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT kind, namespace, name, object FROM objects WHERE (kind, namespace, name) IN (",
        );
        query.push_values(chunk, |mut row, (kind, namespace, name)| {
            row.push_bind(kind.as_str())
                .push_bind(namespace.as_str())
                .push_bind(name.as_str());
        });
        query.push(")");
        for row in query.build().fetch_all(&mut *conn).await? {
            let kind: &str = row.try_get(0)?;
            let Some(kind) = ResourceKind::from_kind(kind) else {
                continue;
            };
            let object: &str = row.try_get(3)?;
            found.insert(
                (kind, row.try_get(1)?, row.try_get(2)?),
                serde_json::from_str(object).map_err(StoreError::Corrupt)?,
            );
        }
    }
    Ok(found)
}

/// One object's state after a batch: its row, or `None` when the batch deleted it.
pub struct ProjectedRow<'a> {
    pub uid: &'a str,
    pub seq: i64,
    pub node_name: Option<&'a str>,
    pub object_json: &'a str,
}

/// Project a batch's final states: upsert the rows of objects that exist after it and remove
/// those it deleted, with a few multi-row statements. Each key appears once.
pub async fn apply_many(
    conn: &mut SqliteConnection,
    rows: &[(&ObjectKey, Option<ProjectedRow<'_>>)],
) -> Result<(), sqlx::Error> {
    let (upserts, deletes): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, row)| row.is_some());
    for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO objects (kind, namespace, name, uid, seq, node_name, object) ",
        );
        query.push_values(chunk, |mut bind, ((kind, namespace, name), row)| {
            if let Some(row) = row {
                bind.push_bind(kind.as_str())
                    .push_bind(namespace.as_str())
                    .push_bind(name.as_str())
                    .push_bind(row.uid)
                    .push_bind(row.seq)
                    .push_bind(row.node_name)
                    .push_bind(row.object_json);
            }
        });
        query.push(
            " ON CONFLICT (kind, namespace, name) DO UPDATE SET uid = excluded.uid, \
             seq = excluded.seq, node_name = excluded.node_name, object = excluded.object",
        );
        query.build().execute(&mut *conn).await?;
    }
    for chunk in deletes.chunks(ROWS_PER_STATEMENT) {
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new("DELETE FROM objects WHERE (kind, namespace, name) IN (");
        query.push_values(chunk, |mut bind, ((kind, namespace, name), _)| {
            bind.push_bind(kind.as_str())
                .push_bind(namespace.as_str())
                .push_bind(name.as_str());
        });
        query.push(")");
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The node a pod's projection row is indexed under (`spec.nodeName`), `None` for other kinds.
pub fn node_name_of(kind: ResourceKind, object: &Value) -> Option<&str> {
    match kind {
        ResourceKind::Pod => object
            .at("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty()),
        _ => None,
    }
}

/// The current state of one object, read inside the writer's transaction.
pub async fn load(
    conn: &mut SqliteConnection,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
) -> Result<Option<Value>, StoreError> {
    let row: Option<String> = sqlx::query_scalar(
        "SELECT object FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
    )
    .bind(kind.as_str())
    .bind(namespace)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|json| serde_json::from_str(&json).map_err(StoreError::Corrupt))
        .transpose()
}

/// Record that the projections reflect the log up to `seq`.
pub async fn record_applied(conn: &mut SqliteConnection, seq: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projection_state SET applied_seq = ? WHERE id = 1")
        .bind(seq)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
