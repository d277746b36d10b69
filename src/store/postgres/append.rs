//! The writer's commit: a batch's events appended and its objects' final states projected, a
//! few rows per statement, inside one transaction. Full chunks give the same SQL text, so
//! sqlx's statement cache prepares each shape once.
//!
//! Several servers may append to one database. A commit holds the log's advisory lock from
//! its first statement to its end, and appends only right after the log's last event: a
//! batch decided on a log that has grown since is refused whole (`StoreError::Behind`) and
//! decided again by its server. So the seqs are one sequence with no gap, committed in order
//! (a reader that sees an event sees every one before it), and a write decided on an object's
//! old version never lands. Each commit notifies `APPENDED` so the other servers read it.

use super::{Writer, insert_columns};
use crate::store::seal::Sealer;
use crate::store::{NewEvent, ObjectKey, ProjectedRow, StoreError};
use sqlx::{Connection, PgConnection, Postgres, QueryBuilder};
use std::sync::LazyLock;

/// Event rows per statement: 18 bound values a row, 64 rows stay far below PostgreSQL's limit
/// of 65,535 parameters.
const EVENT_ROWS_PER_STATEMENT: usize = 64;

/// Projection rows per statement (at most 7 bound values a row).
pub(super) const ROWS_PER_STATEMENT: usize = 128;

/// The advisory lock every server's commit holds: the log's one order (`kubetrai` in ASCII).
const LOG_LOCK: i64 = 0x6b75_6265_7472_6169;

/// The channel a commit notifies with its last seq (`super::log::AppendNotices` listens).
pub(super) const APPENDED: &str = "kubetrail_appended";

impl Writer {
    /// The seq of the last event in the log (0 when empty).
    pub async fn last_seq(&mut self) -> Result<i64, StoreError> {
        Ok(super::last_seq(&mut self.conn).await?)
    }

    /// One transaction: append `events`, write the projection rows of the objects they
    /// changed (`None`: the object is gone; each key once), and record that the projections
    /// reflect the log up to `applied`. On failure nothing of it stays: the transaction is
    /// rolled back before this returns (a dropped one would be rolled back only with the
    /// connection's next statement, holding the log's lock until then, and every other
    /// server's commits with it).
    pub async fn commit(
        &mut self,
        events: &[NewEvent<'_>],
        rows: &[(&ObjectKey, Option<ProjectedRow<&str>>)],
        applied: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.conn.begin().await?;
        match write(&mut tx, &self.sealer, events, rows, applied).await {
            Ok(()) => Ok(tx.commit().await?),
            Err(e) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "rolling back a failed commit failed");
                }
                Err(e)
            }
        }
    }

    /// Hold the log's lock for this session, past transactions, until `release_log`: the
    /// other servers' commits wait; this server's own take it again (advisory locks are
    /// re-entrant within a session).
    pub async fn hold_log(&mut self) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(LOG_LOCK)
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    /// Release what `hold_log` took.
    pub async fn release_log(&mut self) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(LOG_LOCK)
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    /// Append `events` alone, in one transaction, leaving the projections behind the log
    /// until a `rebuild`: for generating a log outside the server, never for a server's writes.
    pub async fn append_unprojected(&mut self, events: &[NewEvent<'_>]) -> Result<(), StoreError> {
        let mut tx = self.conn.begin().await?;
        insert_events(&mut tx, &self.sealer, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Make every append of an event about an object named `name` fail: how the writer's
    /// tests break a batch.
    #[cfg(test)]
    pub(crate) async fn refuse_appends_named(&mut self, name: &str) -> Result<(), StoreError> {
        self.refuse_appends(
            &format!("refuse_{name}"),
            &format!("NEW.name = '{name}'"),
            "'refused'",
        )
        .await
    }

    /// Make the next append fail as on a full disk. PostgreSQL has no size limit to set: a
    /// trigger answers with the error a full disk gives (SQLSTATE 53100, `disk_full`).
    #[cfg(test)]
    pub(crate) async fn limit_pages_to_current(&mut self) -> Result<(), StoreError> {
        self.refuse_appends(
            "refuse_as_full",
            "TRUE",
            "'could not extend file: No space left on device' USING ERRCODE = 'disk_full'",
        )
        .await
    }

    /// A trigger refusing each append where `condition` holds, raising `raise`.
    #[cfg(test)]
    async fn refuse_appends(
        &mut self,
        trigger: &str,
        condition: &str,
        raise: &str,
    ) -> Result<(), StoreError> {
        let function = format!(
            "CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF {condition} THEN RAISE EXCEPTION {raise}; END IF; RETURN NEW; END $$"
        );
        let trigger = format!(
            "CREATE TRIGGER {trigger} BEFORE INSERT ON events FOR EACH ROW \
             EXECUTE FUNCTION {trigger}()"
        );
        for statement in [function, trigger] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut self.conn)
                .await?;
        }
        Ok(())
    }
}

/// The statements of one commit, inside its transaction.
async fn write(
    tx: &mut PgConnection,
    sealer: &Sealer,
    events: &[NewEvent<'_>],
    rows: &[(&ObjectKey, Option<ProjectedRow<&str>>)],
    applied: i64,
) -> Result<(), StoreError> {
    if let Some(first) = events.first() {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK)
            .execute(&mut *tx)
            .await?;
        // Read committed: this statement sees every commit made before the lock was ours.
        let last = super::last_seq(&mut *tx).await?;
        if last != first.row.seq - 1 {
            return Err(StoreError::Behind { last });
        }
    }
    insert_events(tx, sealer, events).await?;
    project(tx, sealer, rows).await?;
    record_applied(tx, applied).await?;
    if !events.is_empty() {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(APPENDED)
            .bind(applied.to_string())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn insert_events(
    conn: &mut PgConnection,
    sealer: &Sealer,
    events: &[NewEvent<'_>],
) -> Result<(), StoreError> {
    static HEAD: LazyLock<String> =
        LazyLock::new(|| format!("INSERT INTO events ({}) ", insert_columns()));
    for chunk in events.chunks(EVENT_ROWS_PER_STATEMENT) {
        let stored = chunk
            .iter()
            .map(|event| sealer.seal(event.row.kind, event.row.object))
            .collect::<Result<Vec<_>, _>>()?;
        let mut query: QueryBuilder<Postgres> = QueryBuilder::new(HEAD.as_str());
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
    conn: &mut PgConnection,
    sealer: &Sealer,
    rows: &[(&ObjectKey, Option<ProjectedRow<&str>>)],
) -> Result<(), StoreError> {
    let (upserts, deletes): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, row)| row.is_some());
    for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
        let stored = chunk
            .iter()
            .map(|((kind, _, _), row)| {
                sealer.seal(kind.as_str(), row.as_ref().map_or("", |r| r.object))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
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
        let mut query: QueryBuilder<Postgres> =
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
pub(super) async fn record_applied(conn: &mut PgConnection, seq: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projection_state SET applied_seq = $1 WHERE id = 1")
        .bind(seq)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
