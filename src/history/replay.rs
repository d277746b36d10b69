//! `kubetrail replay --until <rv|time> --into DIR`: a new data directory holding the log up to
//! that point (the events copied as they are, seq for seq) with its projections rebuilt, and a
//! `replay.json` marker saying what it is a replay of. The one writer of `events` besides
//! `events::log`, and only into a database it has just created. `serve --read-only` serves it.
//! The source is a data directory's `state.db` (copied inside SQLite) or a PostgreSQL log
//! (copied page by page through its readers); the copy is always a new SQLite file.

use super::HistoryError;
use crate::store::{Database, EventRow, LogFilter, NewEvent, Readers, Writer};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;

/// Events read and appended at a time when copying a PostgreSQL log.
const COPY_PAGE: i64 = 1000;

/// The marker file written into a replayed data directory.
pub const MARKER: &str = "replay.json";

/// Where a replay stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Until {
    /// Up to and including this resourceVersion.
    Seq(i64),
    /// Up to and including the last event at or before this time (a log time).
    Time(String),
}

impl Until {
    /// A resourceVersion (digits) or an RFC 3339 time.
    pub fn parse(text: &str) -> Result<Until, HistoryError> {
        match text.parse::<i64>() {
            Ok(seq) if seq > 0 => Ok(Until::Seq(seq)),
            Ok(_) => Err(HistoryError::BadRequest(
                "--until must be a resourceVersion of 1 or more, or a time".into(),
            )),
            Err(_) => Ok(Until::Time(super::query::log_time(text)?)),
        }
    }
}

/// What a replayed directory holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    /// What was replayed: a data directory, or a PostgreSQL URL without its password.
    pub source: String,
    pub until_seq: i64,
    pub until_time: String,
    pub events: i64,
}

impl Replayed {
    pub fn to_json(&self) -> Value {
        json!({"source": self.source, "untilResourceVersion": self.until_seq,
               "untilTime": self.until_time, "events": self.events})
    }

    fn from_json(value: &Value) -> Option<Replayed> {
        Some(Replayed {
            source: value.get("source")?.as_str()?.to_string(),
            until_seq: value.get("untilResourceVersion")?.as_i64()?,
            until_time: value.get("untilTime")?.as_str()?.to_string(),
            events: value.get("events")?.as_i64()?,
        })
    }
}

/// The marker of a replayed data directory, if `dir` is one.
pub fn marker(dir: &Path) -> Option<Replayed> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    Replayed::from_json(&serde_json::from_str(&text).ok()?)
}

/// Why a read-only server refuses writes, naming what it serves.
pub fn read_only_message(dir: &Path) -> String {
    match marker(dir) {
        Some(r) => format!(
            "this server is read-only: a replay of {} up to resourceVersion {} ({})",
            r.source, r.until_seq, r.until_time
        ),
        None => format!(
            "this server is read-only: it serves {} as it is",
            dir.display()
        ),
    }
}

/// Copy the log of `source` (a data directory's `state.db`, or a PostgreSQL database), read
/// through `readers` (opened by the caller, closed here), up to `until` into a new data
/// directory `into`, and rebuild its projections.
pub async fn replay_into(
    source: &Database,
    readers: Readers,
    until: &Until,
    into: &Path,
) -> Result<Replayed, HistoryError> {
    if into.join("state.db").exists() {
        readers.close().await;
        return Err(HistoryError::BadRequest(format!(
            "{} already holds a data directory; replay into a new one",
            into.display()
        )));
    }
    let result = replay_from(source, &readers, until, into).await;
    readers.close().await;
    result
}

/// `replay_into`'s work, with the source's readers left to it.
async fn replay_from(
    source: &Database,
    readers: &Readers,
    until: &Until,
    into: &Path,
) -> Result<Replayed, HistoryError> {
    // The source is only read (it may be a live server's).
    let last = super::query::last_seq(readers).await?;
    let until_seq = match until {
        Until::Seq(seq) if *seq > last => {
            return Err(HistoryError::BadRequest(format!(
                "resourceVersion {seq} is beyond the log, which ends at {last}"
            )));
        }
        Until::Seq(seq) => *seq,
        Until::Time(time) => {
            let seq = super::query::seq_at_time(readers, time).await?;
            if seq == 0 {
                return Err(HistoryError::BadRequest(format!(
                    "the log has no event at or before {time}"
                )));
            }
            seq
        }
    };
    let through = readers.compaction_point().await?;
    if until_seq < through {
        return Err(HistoryError::BadRequest(format!(
            "resourceVersion {until_seq} is before the log's compaction point {through}: the \
             log no longer holds every event before it, so the state then cannot be replayed; \
             replay to {through} or later"
        )));
    }
    let until_time = super::query::entry(readers, until_seq)
        .await?
        .map(|e| e.time)
        .unwrap_or_default();
    std::fs::create_dir_all(into).map_err(|e| HistoryError::Io(e.to_string()))?;
    let (mut conn, pool) = crate::store::open(&into.join("state.db"))
        .await
        .map_err(|e| HistoryError::Io(format!("{e:#}")))?;
    pool.close().await;
    let (copied, source_name) = match source {
        Database::Sqlite(path) => {
            let path = std::fs::canonicalize(path).map_err(|e| HistoryError::Io(e.to_string()))?;
            let copied = conn.copy_log_from(&path, until_seq).await?;
            conn.rebuild().await?;
            let dir = path.parent().unwrap_or(Path::new("/"));
            (copied, dir.display().to_string())
        }
        Database::Postgres { .. } => {
            // Read opened, the copied Secrets are sealed again with the copy's own key.
            let copied = copy_through_readers(readers, &mut conn, until_seq).await?;
            conn.rebuild().await?;
            recompact(readers, &mut conn, until_seq).await?;
            (copied, source.to_string())
        }
    };
    let replayed = Replayed {
        source: source_name,
        until_seq,
        until_time,
        events: copied as i64,
    };
    let marker_text = serde_json::to_string_pretty(&replayed.to_json())
        .map_err(|e| HistoryError::Io(e.to_string()))?;
    std::fs::write(into.join(MARKER), marker_text).map_err(|e| HistoryError::Io(e.to_string()))?;
    Ok(replayed)
}

/// Copy the events up to `until` of a log the copy cannot attach (a PostgreSQL one), read
/// through `readers` a page at a time, into `conn`'s empty log, seq for seq. Each event's
/// recorded changes are computed again from its object's previous version, as the writer
/// computed them; where a compaction removed that version, they are the source's own.
async fn copy_through_readers(
    readers: &Readers,
    conn: &mut Writer,
    until: i64,
) -> Result<u64, HistoryError> {
    let filter = LogFilter {
        to_seq: Some(until),
        ..LogFilter::default()
    };
    // Each object's last event copied: its seq and its object (`None` once deleted).
    let mut previous: HashMap<(String, String, String), (i64, Option<Value>)> = HashMap::new();
    let (mut after, mut copied) = (0, 0u64);
    loop {
        let rows = readers.entries(&filter, after, COPY_PAGE, true).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        let mut changes = Vec::with_capacity(rows.len());
        for row in &rows {
            let object: Value = serde_json::from_str(&row.object).map_err(HistoryError::Corrupt)?;
            let key = (row.kind.clone(), row.namespace.clone(), row.name.clone());
            let deleted = row.event_type == crate::store::DELETED;
            let known = match (row.prev_seq, previous.get(&key)) {
                (None, _) => Some(None),
                (Some(prev), Some((seq, before))) if *seq == prev => Some(before.as_ref()),
                _ => None,
            };
            changes.push(match known {
                Some(before) => crate::model::diff::recorded_changes(before, &object, deleted),
                None => recorded_changes_of(readers, row).await?,
            });
            previous.insert(key, (row.seq, (!deleted).then_some(object)));
        }
        let events: Vec<NewEvent<'_>> = rows
            .iter()
            .zip(&changes)
            .map(|(row, changes)| NewEvent {
                row: borrowed(row),
                changes,
            })
            .collect();
        conn.append_unprojected(&events).await?;
        copied += rows.len() as u64;
    }
    Ok(copied)
}

/// The changes the source recorded with `row` (`[]` when it recorded none).
async fn recorded_changes_of(readers: &Readers, row: &EventRow) -> Result<String, HistoryError> {
    let Some(kind) = crate::model::ResourceKind::from_kind(&row.kind) else {
        return Ok("[]".to_string());
    };
    let page = readers
        .recorded_history_page(kind, &row.namespace, &row.name, row.seq - 1, 1)
        .await?;
    let changes = page
        .and_then(|p| serde_json::from_str::<Value>(&p.items).ok())
        .and_then(|items| items.get(0)?.get("changes").cloned());
    Ok(changes.map_or_else(|| "[]".to_string(), |c| c.to_string()))
}

/// `row` as an append borrows it.
fn borrowed(row: &EventRow) -> EventRow<&str> {
    EventRow {
        seq: row.seq,
        time: &row.time,
        api_version: &row.api_version,
        kind: &row.kind,
        namespace: &row.namespace,
        name: &row.name,
        uid: &row.uid,
        event_type: &row.event_type,
        event_version: row.event_version,
        prev_seq: row.prev_seq,
        object: &row.object,
        actor: &row.actor,
        user_agent: row.user_agent.as_deref(),
        field_manager: row.field_manager.as_deref(),
        request_id: &row.request_id,
        caused_by: row.caused_by,
        causes: row.causes.as_deref(),
    }
}

/// Record the source's compactions (all at or before `until`, which is past the compaction
/// point) in the copy: each one run again with its plan, removing nothing the source did not
/// (the copy holds only what they left), so lists and watches before the point are refused
/// there as in the source.
async fn recompact(readers: &Readers, conn: &mut Writer, until: i64) -> Result<(), HistoryError> {
    for done in readers.compactions().await? {
        if done.seq_through > until {
            continue;
        }
        let plan = crate::store::CompactionPlan {
            through: done.seq_through,
            kinds: done.kinds,
            status_updates: done.status_only,
            actor: done.actor,
        };
        super::compact::compact(conn, &plan, std::time::Duration::ZERO, |_, _| {}).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_is_a_resource_version_or_a_time() {
        assert_eq!(Until::parse("42").unwrap(), Until::Seq(42));
        assert_eq!(
            Until::parse("2026-01-02T03:04:05Z").unwrap(),
            Until::Time("2026-01-02T03:04:05.000000000Z".into())
        );
        assert!(Until::parse("0").is_err());
        assert!(Until::parse("soon").is_err());
    }

    #[test]
    fn the_marker_round_trips_and_names_the_source_in_the_read_only_message() {
        let dir = tempfile::tempdir().unwrap();
        let replayed = Replayed {
            source: "/data/live".into(),
            until_seq: 17,
            until_time: "2026-01-01T00:00:00.000000000Z".into(),
            events: 17,
        };
        std::fs::write(dir.path().join(MARKER), replayed.to_json().to_string()).unwrap();
        assert_eq!(marker(dir.path()), Some(replayed));
        assert_eq!(
            read_only_message(dir.path()),
            "this server is read-only: a replay of /data/live up to resourceVersion 17 (2026-01-01T00:00:00.000000000Z)"
        );
    }
}
