//! Text and JSON renderings of log entries for `kubetrail events` and `kubetrail history`: one
//! row per event (resourceVersion, time, what happened, who, how, cause) and, for a history, the
//! diff from the object's previous version under each row. Colour only when asked (a terminal).
//! Pure.

use super::query::LogEntry;
use crate::model::diff::{self, Change};
use serde_json::Value;

/// One history row: an entry and what it changed since the object's previous version.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub entry: LogEntry,
    pub changes: Vec<Change>,
    /// The version before this one (its `prev_seq`) is not in the log: a compaction folded
    /// it, so `changes` are since the version before it that is (none for the first row).
    pub compacted_before: bool,
}

/// Pair each entry of one object's history with its diff from the entry before it (the
/// previous event of the same uid). `before_first` is the version before `entries[0]` when the
/// page starts mid-history (`None` also when a compaction folded it).
pub fn history_rows(entries: Vec<LogEntry>, before_first: Option<Value>) -> Vec<HistoryRow> {
    // `before_first` is the version at the first entry's `prev_seq`.
    let first_prev = entries.first().and_then(|e| e.prev_seq).unwrap_or(0);
    let mut previous: Option<(String, i64, Value)> =
        before_first.map(|v| (crate::model::meta::uid(&v).to_string(), first_prev, v));
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let object: Value = serde_json::from_str(&entry.object).unwrap_or(Value::Null);
        let changes = match (&previous, entry.event_type.as_str()) {
            (_, "Deleted") => vec![],
            (Some((uid, _, before)), _) if *uid == entry.uid && entry.prev_seq.is_some() => {
                diff::diff(before, &object)
            }
            _ => vec![],
        };
        let compacted_before = entry
            .prev_seq
            .is_some_and(|prev| previous.as_ref().is_none_or(|(_, seq, _)| *seq != prev));
        previous = Some((entry.uid.clone(), entry.seq, object));
        rows.push(HistoryRow {
            entry,
            changes,
            compacted_before,
        });
    }
    rows
}

/// The line saying where a compaction left an object's or the log's history.
pub fn compaction_line(compaction: &crate::store::Compaction) -> String {
    format!(
        "history before resourceVersion {} compacted: {} folded into each object's newest \
         version ({} events removed, {} by {})",
        compaction.seq_through,
        compaction.selection(),
        compaction.events_removed,
        compaction.time,
        compaction.actor
    )
}

/// A compaction as the log's HTTP views report it (`metadata.compaction`, `compaction` of a
/// why): the point (the log holds every event after it), what it folded, and the line the
/// command-line views print.
pub fn compaction_json(compaction: &crate::store::Compaction) -> serde_json::Value {
    serde_json::json!({
        "resourceVersion": compaction.seq_through.to_string(),
        "time": compaction.time,
        "selection": compaction.selection(),
        "eventsRemoved": compaction.events_removed,
        "actor": compaction.actor,
        "message": compaction_line(compaction),
    })
}

/// ANSI colours for a terminal, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn change(self, change: &Change) -> String {
        let code = match change {
            Change::Added { .. } => "32",
            Change::Removed { .. } => "31",
            Change::Changed { .. } => "33",
        };
        self.paint(code, &change.line())
    }
}

/// Log time to the millisecond: `2026-11-28T03:00:01.123Z`.
pub fn short_time(time: &str) -> String {
    match time.len() {
        30 if time.ends_with('Z') => format!("{}Z", &time[..23]),
        _ => time.to_string(),
    }
}

/// `text` padded to `width`, and always followed by a space so a long value never runs into
/// the next column.
fn cell(text: &str, width: usize) -> String {
    if text.chars().count() >= width {
        format!("{text} ")
    } else {
        format!("{text:<width$}")
    }
}

/// The header of `events` (with an OBJECT column) or `history` (without).
pub fn header(with_object: bool, style: Style) -> String {
    let text = columns(
        "RV",
        "TIME",
        "EVENT",
        with_object.then_some("OBJECT"),
        "ACTOR",
        "VIA",
        "CAUSE",
    );
    style.paint("1", &text)
}

fn columns(
    rv: &str,
    time: &str,
    event: &str,
    object: Option<&str>,
    actor: &str,
    via: &str,
    cause: &str,
) -> String {
    let mut line = format!("{}{}{}", cell(rv, 8), cell(time, 26), cell(event, 19));
    if let Some(object) = object {
        line.push_str(&cell(object, 40));
    }
    line.push_str(&format!("{}{}{cause}", cell(actor, 27), cell(via, 28)));
    line.trim_end().to_string()
}

/// One entry as a row.
pub fn row(entry: &LogEntry, with_object: bool) -> String {
    let cause = entry
        .caused_by
        .map(|c| format!("rv {c}"))
        .unwrap_or_else(|| "-".to_string());
    let via = entry.via().unwrap_or_else(|| "-".to_string());
    let object = entry.subject();
    columns(
        &entry.seq.to_string(),
        &short_time(&entry.time),
        &entry.event_type,
        with_object.then_some(object.as_str()),
        &entry.actor,
        &via,
        &cause,
    )
}

/// A history row and its diff lines (a creation shows the new uid instead).
pub fn history_lines(row_: &HistoryRow, style: Style) -> Vec<String> {
    let mut lines = vec![row(&row_.entry, false)];
    if row_.entry.event_type == "Created" {
        lines.push(format!("        uid {}", row_.entry.uid));
    }
    if row_.compacted_before
        && let Some(prev) = row_.entry.prev_seq
    {
        let since = if row_.changes.is_empty() {
            String::new()
        } else {
            " (changes since the version before it that the log keeps)".to_string()
        };
        lines.push(format!(
            "        history before compacted: the version at resourceVersion {prev} is folded{since}"
        ));
    }
    for change in &row_.changes {
        lines.push(format!("        {}", style.change(change)));
    }
    lines
}

/// A history row as JSON: the entry (without its object) and its changes.
pub fn history_json(row_: &HistoryRow) -> Value {
    let mut entry = row_.entry.to_json(false);
    entry["changes"] = Value::Array(row_.changes.iter().map(Change::to_json).collect());
    if row_.compacted_before {
        entry["previousCompacted"] = Value::Bool(true);
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(seq: i64, event_type: &str, uid: &str, prev: Option<i64>, object: Value) -> LogEntry {
        LogEntry {
            seq,
            time: "2026-11-28T03:00:01.123456789Z".into(),
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "default".into(),
            name: "echo".into(),
            uid: uid.into(),
            event_type: event_type.into(),
            event_version: 1,
            prev_seq: prev,
            object: object.to_string(),
            actor: "kubetrail-admin".into(),
            user_agent: Some("kubectl/v1.32.4 (linux/amd64) kubernetes/abc".into()),
            field_manager: None,
            request_id: "r".into(),
            caused_by: None,
            causes: None,
        }
    }

    #[test]
    fn history_rows_diff_consecutive_versions_of_one_uid() {
        let rows = history_rows(
            vec![
                entry(
                    5,
                    "Created",
                    "u1",
                    None,
                    json!({"metadata": {"uid": "u1", "labels": {"a": "1"}}}),
                ),
                entry(
                    7,
                    "Updated",
                    "u1",
                    Some(5),
                    json!({"metadata": {"uid": "u1", "labels": {"a": "2"}}}),
                ),
                entry(
                    9,
                    "Deleted",
                    "u1",
                    Some(7),
                    json!({"metadata": {"uid": "u1", "labels": {"a": "2"}}}),
                ),
                entry(
                    11,
                    "Created",
                    "u2",
                    None,
                    json!({"metadata": {"uid": "u2"}}),
                ),
            ],
            None,
        );
        let lines: Vec<String> = rows
            .iter()
            .flat_map(|r| history_lines(r, Style { color: false }))
            .collect();
        assert_eq!(
            lines,
            [
                "5       2026-11-28T03:00:01.123Z  Created            kubetrail-admin            kubectl/v1.32.4             -",
                "        uid u1",
                "7       2026-11-28T03:00:01.123Z  Updated            kubetrail-admin            kubectl/v1.32.4             -",
                "        ~ metadata.labels.a: \"1\" -> \"2\"",
                "9       2026-11-28T03:00:01.123Z  Deleted            kubetrail-admin            kubectl/v1.32.4             -",
                "11      2026-11-28T03:00:01.123Z  Created            kubetrail-admin            kubectl/v1.32.4             -",
                "        uid u2",
            ]
        );
        let painted = history_lines(&rows[1], Style { color: true });
        assert_eq!(
            painted[1],
            "        \x1b[33m~ metadata.labels.a: \"1\" -> \"2\"\x1b[0m"
        );
    }

    #[test]
    fn a_page_starting_mid_history_diffs_against_the_version_before_it() {
        let rows = history_rows(
            vec![entry(
                7,
                "Updated",
                "u1",
                Some(5),
                json!({"metadata": {"uid": "u1"}, "spec": {"x": 2}}),
            )],
            Some(json!({"metadata": {"uid": "u1"}, "spec": {"x": 1}})),
        );
        assert_eq!(rows[0].changes.len(), 1);
        assert_eq!(history_json(&rows[0])["changes"][0]["op"], "change");
        assert!(!rows[0].compacted_before);
    }

    #[test]
    fn a_version_whose_predecessor_was_compacted_says_so() {
        let rows = history_rows(
            vec![
                entry(
                    7,
                    "StatusUpdated",
                    "u1",
                    Some(6),
                    json!({"metadata": {"uid": "u1"}, "status": {"x": 2}}),
                ),
                entry(
                    9,
                    "Updated",
                    "u1",
                    Some(7),
                    json!({"metadata": {"uid": "u1"}, "status": {"x": 2}, "spec": {"y": 1}}),
                ),
            ],
            None,
        );
        assert!(rows[0].compacted_before && !rows[1].compacted_before);
        let lines = history_lines(&rows[0], Style { color: false });
        assert_eq!(
            lines[1],
            "        history before compacted: the version at resourceVersion 6 is folded"
        );
        assert_eq!(history_json(&rows[0])["previousCompacted"], true);
        assert_eq!(rows[1].changes.len(), 1);
    }
}
