//! Read models: the current state of every kind in the `objects` table, written only inside the
//! event log's transaction (`apply`) or by `rebuild`, and read through `ReadStore`. No Docker, no
//! commands, no HTTP types.

pub mod rebuild;
pub mod snapshot;
pub mod store;
pub mod watch;

pub use store::{ListPage, ListQuery, ReadStore, StoredObject};

use crate::events::StoreError;
use crate::model::ResourceKind;
use serde_json::Value;
use sqlx::SqliteConnection;

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

/// Project one event: upsert the object's row, or remove it when the event deleted it.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    conn: &mut SqliteConnection,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
    object: &Value,
    object_json: &str,
    seq: i64,
    deleted: bool,
) -> Result<(), sqlx::Error> {
    if deleted {
        sqlx::query("DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?")
            .bind(kind.as_str())
            .bind(namespace)
            .bind(name)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    let node_name = match kind {
        ResourceKind::Pod => object
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty()),
        _ => None,
    };
    sqlx::query(
        "INSERT INTO objects (kind, namespace, name, uid, seq, node_name, object) \
         VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (kind, namespace, name) DO UPDATE SET \
         uid = excluded.uid, seq = excluded.seq, node_name = excluded.node_name, object = excluded.object",
    )
    .bind(kind.as_str())
    .bind(namespace)
    .bind(name)
    .bind(crate::model::meta::uid(object))
    .bind(seq)
    .bind(node_name)
    .bind(object_json)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Record that the projections reflect the log up to `seq`.
pub async fn record_applied(conn: &mut SqliteConnection, seq: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projection_state SET applied_seq = ? WHERE id = 1")
        .bind(seq)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
