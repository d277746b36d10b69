//! Drop every projection and rebuild it from the log: from the newest snapshot (or genesis),
//! applying for each object only its newest event after that point, which is what replaying
//! every event in order leaves. Run by `kubetrail rebuild`, at start-up when the projections
//! lag the log, and by tests that check the projections are a pure function of the log.

use super::record_applied;
use crate::events::{EventType, StoreError};
use crate::model::ResourceKind;
use sqlx::SqliteConnection;

/// Replay the log into empty projections in one transaction. Returns the number of events.
pub async fn rebuild(conn: &mut SqliteConnection) -> Result<u64, StoreError> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    match replay(conn).await {
        Ok(count) => {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok(count)
        }
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

async fn replay(conn: &mut SqliteConnection) -> Result<u64, StoreError> {
    sqlx::query("DELETE FROM objects")
        .execute(&mut *conn)
        .await?;
    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
        .fetch_one(&mut *conn)
        .await?;
    // Start from the newest snapshot, then only the events after it count.
    let from = super::snapshot::newest_at_or_before(conn, last).await?;
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
              WHERE e.event_type = 'Deleted')"
        )))
        .bind(from)
        .execute(&mut *conn)
        .await?;
    }
    // Applying every event in order leaves, for each object, its newest event unless that
    // deleted it: write those rows, exactly as `apply` writes them (uid from the object,
    // `node_name` = a pod's non-empty string `spec.nodeName`); tests/api/rebuild.rs holds the
    // rebuilt rows byte-identical to the ones the writer maintained.
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
         WHERE e.event_type != '{deleted}' AND e.kind IN ({kinds}) \
         ON CONFLICT (kind, namespace, name) DO UPDATE SET uid = excluded.uid, seq = excluded.seq, \
         node_name = excluded.node_name, object = excluded.object",
        deleted = EventType::Deleted.as_str(),
        kinds = kinds.join(", ")
    )))
    .bind(from)
    .execute(&mut *conn)
    .await?;
    record_applied(conn, last).await?;
    // seq has no gaps: the log holds `last` events, all reflected now.
    Ok(last as u64)
}

/// Whether the projections reflect the whole log (compared at start-up).
pub async fn is_current(conn: &mut SqliteConnection) -> Result<bool, StoreError> {
    let applied: i64 = sqlx::query_scalar("SELECT applied_seq FROM projection_state WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
        .fetch_one(&mut *conn)
        .await?;
    Ok(applied == last)
}
