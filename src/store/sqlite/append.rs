//! The writer's commit: a batch's events appended and its objects' final states projected, a
//! few rows per statement, inside one `BEGIN IMMEDIATE` transaction. Each statement is a round
//! trip to the connection's thread, so a batch is written with a few multi-row statements, not
//! a few per event; full chunks give the same SQL text, so sqlx's statement cache prepares each
//! shape once.

use super::{Writer, insert_columns};
use crate::store::seal::Sealer;
use crate::store::{NewEvent, ObjectKey, ProjectedRow, StoreError};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::sync::LazyLock;

/// Event rows per statement: 18 bound values a row, 64 rows stay far below SQLite's limit of
/// 32,766 variables.
const EVENT_ROWS_PER_STATEMENT: usize = 64;

/// Projection rows per statement (at most 7 bound values a row).
pub(super) const ROWS_PER_STATEMENT: usize = 128;

impl Writer {
    /// The seq of the last event in the log (0 when empty).
    pub async fn last_seq(&mut self) -> Result<i64, StoreError> {
        Ok(super::last_seq(&mut self.conn).await?)
    }

    /// One transaction: append `events`, write the projection rows of the objects they
    /// changed (`None`: the object is gone; each key once), and record that the projections
    /// reflect the log up to `applied`. On failure nothing of it stays.
    pub async fn commit(
        &mut self,
        events: &[NewEvent<'_>],
        rows: &[(&ObjectKey, Option<ProjectedRow<&str>>)],
        applied: i64,
    ) -> Result<(), StoreError> {
        let written = async {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut self.conn)
                .await?;
            insert_events(&mut self.conn, &self.sealer, events).await?;
            project(&mut self.conn, &self.sealer, rows).await?;
            record_applied(&mut self.conn, applied).await?;
            sqlx::query("COMMIT").execute(&mut self.conn).await?;
            Ok::<(), sqlx::Error>(())
        }
        .await;
        rolled_back_on_error(&mut self.conn, written).await
    }

    /// Append `events` alone, in one transaction, leaving the projections behind the log
    /// until a `rebuild` (or a start-up, which rebuilds them): for generating a log outside
    /// the server (the history benchmark), never for a server's writes.
    pub async fn append_unprojected(&mut self, events: &[NewEvent<'_>]) -> Result<(), StoreError> {
        let written = async {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut self.conn)
                .await?;
            insert_events(&mut self.conn, &self.sealer, events).await?;
            sqlx::query("COMMIT").execute(&mut self.conn).await?;
            Ok::<(), sqlx::Error>(())
        }
        .await;
        rolled_back_on_error(&mut self.conn, written).await
    }

    /// Make every append of an event about an object named `name` fail, as a full disk
    /// would: how the writer's tests break a batch.
    #[cfg(test)]
    pub(crate) async fn refuse_appends_named(&mut self, name: &str) -> Result<(), StoreError> {
        let trigger = format!(
            "CREATE TRIGGER refuse_{name} BEFORE INSERT ON events WHEN NEW.name = '{name}' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END"
        );
        sqlx::query(sqlx::AssertSqlSafe(trigger))
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    /// Hold the database at its current size, so the next write that needs a page fails as
    /// on a full disk (SQLite answers both with `SQLITE_FULL`).
    #[cfg(test)]
    pub(crate) async fn limit_pages_to_current(&mut self) -> Result<(), StoreError> {
        // max_page_count is never set below the pages in use.
        sqlx::query("PRAGMA max_page_count = 1")
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }
}

async fn insert_events(
    conn: &mut SqliteConnection,
    sealer: &Sealer,
    events: &[NewEvent<'_>],
) -> Result<(), sqlx::Error> {
    static HEAD: LazyLock<String> =
        LazyLock::new(|| format!("INSERT INTO events ({}) ", insert_columns()));
    for chunk in events.chunks(EVENT_ROWS_PER_STATEMENT) {
        let stored = chunk
            .iter()
            .map(|event| sealer.seal(event.row.kind, event.row.object))
            .collect::<Result<Vec<_>, _>>()
            .map_err(sealing_failed)?;
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(HEAD.as_str());
        query.push_values(chunk.iter().zip(&stored), |mut bind, (event, object)| {
            let e = &event.row;
            bind.push_bind(e.seq)
                .push_bind(e.time)
                .push_bind(e.api_version)
                .push_bind(e.kind)
                .push_bind(e.namespace)
                .push_bind(e.name)
                .push_bind(e.uid)
                .push_bind(e.event_type)
                .push_bind(e.event_version)
                .push_bind(e.prev_seq)
                .push_bind(object.as_ref())
                .push_bind(e.actor)
                .push_bind(e.user_agent)
                .push_bind(e.field_manager)
                .push_bind(e.request_id)
                .push_bind(e.caused_by)
                .push_bind(e.causes)
                .push_bind(event.changes);
        });
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Upsert the rows of objects that exist after the batch and remove those it deleted.
async fn project(
    conn: &mut SqliteConnection,
    sealer: &Sealer,
    rows: &[(&ObjectKey, Option<ProjectedRow<&str>>)],
) -> Result<(), sqlx::Error> {
    let (upserts, deletes): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, row)| row.is_some());
    for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
        let stored = chunk
            .iter()
            .map(|((kind, _, _), row)| {
                sealer.seal(kind.as_str(), row.as_ref().map_or("", |r| r.object))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(sealing_failed)?;
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO objects (kind, namespace, name, uid, seq, node_name, object) ",
        );
        query.push_values(
            chunk.iter().zip(&stored),
            |mut bind, (((kind, namespace, name), row), object)| {
                if let Some(row) = row {
                    bind.push_bind(kind.as_str())
                        .push_bind(namespace.as_str())
                        .push_bind(name.as_str())
                        .push_bind(row.uid)
                        .push_bind(row.seq)
                        .push_bind(row.node_name)
                        .push_bind(object.as_ref());
                }
            },
        );
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

/// Record that the projections reflect the log up to `seq`.
pub(super) async fn record_applied(
    conn: &mut SqliteConnection,
    seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projection_state SET applied_seq = ? WHERE id = 1")
        .bind(seq)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A transaction's outcome: when it failed part-way, roll it back so the connection is ready
/// for the next one, and give the error.
async fn rolled_back_on_error(
    conn: &mut SqliteConnection,
    written: Result<(), sqlx::Error>,
) -> Result<(), StoreError> {
    if let Err(e) = written {
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return Err(e.into());
    }
    Ok(())
}

/// A Secret that could not be sealed fails its batch as a database error would.
fn sealing_failed(error: StoreError) -> sqlx::Error {
    sqlx::Error::Encode(Box::new(error))
}
