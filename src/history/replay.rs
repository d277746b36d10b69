//! `kubetrail replay --until <rv|time> --into DIR`: a new data directory holding the log up to
//! that point (the events copied as they are, seq for seq) with its projections rebuilt, and a
//! `replay.json` marker saying what it is a replay of. The one writer of `events` besides
//! `events::log`, and only into a database it has just created. `serve --read-only` serves it.

use super::HistoryError;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

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
    pub source: PathBuf,
    pub until_seq: i64,
    pub until_time: String,
    pub events: i64,
}

impl Replayed {
    pub fn to_json(&self) -> Value {
        json!({"source": self.source.display().to_string(), "untilResourceVersion": self.until_seq,
               "untilTime": self.until_time, "events": self.events})
    }

    fn from_json(value: &Value) -> Option<Replayed> {
        Some(Replayed {
            source: PathBuf::from(value.get("source")?.as_str()?),
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
            r.source.display(),
            r.until_seq,
            r.until_time
        ),
        None => format!(
            "this server is read-only: it serves {} as it is",
            dir.display()
        ),
    }
}

/// Copy the log of the data directory `source` up to `until` into a new data directory
/// `into`, and rebuild its projections.
pub async fn replay_into(
    source: &Path,
    until: &Until,
    into: &Path,
) -> Result<Replayed, HistoryError> {
    let source_db = source.join("state.db");
    if !source_db.exists() {
        return Err(HistoryError::NotFound(format!(
            "{} holds no state.db",
            source.display()
        )));
    }
    if into.join("state.db").exists() {
        return Err(HistoryError::BadRequest(format!(
            "{} already holds a data directory; replay into a new one",
            into.display()
        )));
    }
    let source_db =
        std::fs::canonicalize(&source_db).map_err(|e| HistoryError::Io(e.to_string()))?;
    // The source is only read (it may be a live server's).
    let readers = crate::store::open_readers(&source_db).await?;
    let last = super::query::last_seq(&readers).await?;
    let until_seq = match until {
        Until::Seq(seq) if *seq > last => {
            return Err(HistoryError::BadRequest(format!(
                "resourceVersion {seq} is beyond the log, which ends at {last}"
            )));
        }
        Until::Seq(seq) => *seq,
        Until::Time(time) => {
            let seq = super::query::seq_at_time(&readers, time).await?;
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
    let until_time = super::query::entry(&readers, until_seq)
        .await?
        .map(|e| e.time)
        .unwrap_or_default();
    readers.close().await;
    std::fs::create_dir_all(into).map_err(|e| HistoryError::Io(e.to_string()))?;
    let (mut conn, pool) = crate::store::open(&into.join("state.db"))
        .await
        .map_err(|e| HistoryError::Io(format!("{e:#}")))?;
    pool.close().await;
    let copied = conn.copy_log_from(&source_db, until_seq).await?;
    conn.rebuild().await?;
    let replayed = Replayed {
        source: source
            .canonicalize()
            .unwrap_or_else(|_| source.to_path_buf()),
        until_seq,
        until_time,
        events: copied as i64,
    };
    let marker_text = serde_json::to_string_pretty(&replayed.to_json())
        .map_err(|e| HistoryError::Io(e.to_string()))?;
    std::fs::write(into.join(MARKER), marker_text).map_err(|e| HistoryError::Io(e.to_string()))?;
    Ok(replayed)
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
