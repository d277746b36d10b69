//! Snapshots of the projections: a copy of every `objects` row as of a log position, so that a
//! rebuild starts from the newest snapshot and replays only the events after it (its cost grows
//! with the current state and the events since the snapshot, not with the whole history).
//! Snapshots are derived data: the log is never touched, and old snapshots are dropped.

use crate::events::StoreError;
use sqlx::SqliteConnection;

/// How many snapshots are kept (the newest ones).
pub const KEEP: i64 = 2;

/// Take a snapshot of the projections as they are (at their recorded position), in one write
/// transaction. Returns the snapshot's seq and row count, or `None` when the newest snapshot is
/// already at that position.
pub async fn take(conn: &mut SqliteConnection) -> Result<Option<(i64, i64)>, StoreError> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    match take_in_transaction(conn).await {
        Ok(taken) => {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok(taken)
        }
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

async fn take_in_transaction(
    conn: &mut SqliteConnection,
) -> Result<Option<(i64, i64)>, StoreError> {
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
    .bind(KEEP)
    .execute(&mut *conn)
    .await?;
    Ok(Some((applied, copied)))
}

/// The newest snapshot at or before `seq` (0: none).
pub async fn newest_at_or_before(conn: &mut SqliteConnection, seq: i64) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM snapshots WHERE seq <= ?")
            .bind(seq)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Events appended since the newest snapshot (all of them when there is none).
pub async fn events_since_newest(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT (SELECT COALESCE(MAX(seq), 0) FROM events) - (SELECT COALESCE(MAX(seq), 0) FROM snapshots)",
    )
    .fetch_one(&mut *conn)
    .await?)
}
