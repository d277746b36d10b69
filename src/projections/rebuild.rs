//! Drop every projection and rebuild it from the log: from the newest snapshot (or genesis),
//! applying for each object only its newest event after that point, which is what replaying
//! every event in order leaves. Run by `kubetrail rebuild`, at start-up when the projections
//! lag the log, and by tests that check the projections are a pure function of the log.

use super::{apply, record_applied};
use crate::events::{EventType, StoreError};
use crate::model::ResourceKind;
use futures_util::TryStreamExt;
use sqlx::{Row, SqliteConnection};

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
    if from > 0 {
        sqlx::query(
            "INSERT INTO objects (kind, namespace, name, uid, seq, node_name, object) \
             SELECT kind, namespace, name, uid, seq, node_name, object FROM snapshot_objects \
             WHERE snapshot_seq = ?",
        )
        .bind(from)
        .execute(&mut *conn)
        .await?;
    }
    // Applying every event in order leaves, for each object, its newest event (or no row when
    // that event deleted it): apply only those. Read them first: one connection cannot stream
    // and write at once.
    let newest_per_object = if from > 0 {
        "SELECT e.seq, e.kind, e.namespace, e.name, e.event_type, e.object FROM events e JOIN \
         (SELECT MAX(seq) AS seq FROM events WHERE seq > ? GROUP BY kind, namespace, name) n \
         ON e.seq = n.seq ORDER BY e.seq"
    } else {
        // Without a lower bound the grouping reads only the (kind, namespace, name, seq) index.
        "SELECT e.seq, e.kind, e.namespace, e.name, e.event_type, e.object FROM events e JOIN \
         (SELECT MAX(seq) AS seq FROM events GROUP BY kind, namespace, name) n \
         ON e.seq = n.seq ORDER BY e.seq"
    };
    let rows: Vec<(i64, String, String, String, String, String)> = {
        let mut query = sqlx::query(newest_per_object);
        if from > 0 {
            query = query.bind(from);
        }
        let mut stream = query.fetch(&mut *conn);
        let mut rows = Vec::new();
        while let Some(row) = stream.try_next().await? {
            rows.push((
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
                row.try_get(5)?,
            ));
        }
        rows
    };
    for (seq, kind, namespace, name, event_type, object_json) in &rows {
        let Some(kind) = ResourceKind::from_kind(kind) else {
            continue;
        };
        let object = serde_json::from_str(object_json).map_err(StoreError::Corrupt)?;
        let deleted = EventType::parse(event_type) == Some(EventType::Deleted);
        apply(
            conn,
            kind,
            namespace,
            name,
            &object,
            object_json,
            *seq,
            deleted,
        )
        .await?;
    }
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
