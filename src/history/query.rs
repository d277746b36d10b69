//! Reading the log as a debugging record: `LogEntry` (one `events` row with everything it says
//! about who, why and what), `LogFilter` (which rows; its SQL and its in-memory test are built
//! from the same fields) and the queries behind `events`, `history` and `why`. Read-only: these
//! functions never write.

use super::HistoryError;
use crate::model::{ResourceKind, meta};
use serde_json::{Value, json};
use sqlx::{Row, SqlitePool};

/// The apiVersion of the log's own API group.
pub const API_VERSION: &str = "kubetrail.dev/v1alpha1";

/// The columns every log query reads, in `LogEntry::from_row` order.
const COLUMNS: &str = "seq, time, api_version, kind, namespace, name, uid, event_type, \
                       event_version, prev_seq, object, actor, user_agent, field_manager, request_id, caused_by";

/// One event as the log recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub seq: i64,
    pub time: String,
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub event_type: String,
    pub event_version: i64,
    pub prev_seq: Option<i64>,
    /// The object after the event, as stored (JSON text).
    pub object: String,
    pub actor: String,
    pub user_agent: Option<String>,
    pub field_manager: Option<String>,
    pub request_id: String,
    pub caused_by: Option<i64>,
}

impl LogEntry {
    fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(LogEntry {
            seq: row.try_get(0)?,
            time: row.try_get(1)?,
            api_version: row.try_get(2)?,
            kind: row.try_get(3)?,
            namespace: row.try_get(4)?,
            name: row.try_get(5)?,
            uid: row.try_get(6)?,
            event_type: row.try_get(7)?,
            event_version: row.try_get(8)?,
            prev_seq: row.try_get(9)?,
            object: row.try_get(10)?,
            actor: row.try_get(11)?,
            user_agent: row.try_get(12)?,
            field_manager: row.try_get(13)?,
            request_id: row.try_get(14)?,
            caused_by: row.try_get(15)?,
        })
    }

    /// The stored object, parsed.
    pub fn object_value(&self) -> Result<Value, HistoryError> {
        serde_json::from_str(&self.object).map_err(HistoryError::Corrupt)
    }

    /// `Pod default/echo`, `Node sim-node-000`.
    pub fn subject(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }

    /// How the write reached the server besides its actor: the field manager, else the user
    /// agent's program (`kubectl/v1.32.4`); `None` for in-process workers.
    pub fn via(&self) -> Option<String> {
        if let Some(manager) = self.field_manager.as_deref().filter(|m| !m.is_empty()) {
            return Some(manager.to_string());
        }
        self.user_agent
            .as_deref()
            .and_then(|ua| ua.split_whitespace().next())
            .filter(|p| !p.is_empty())
            .map(str::to_string)
    }

    /// The entry as the API serves it: a `LogEntry` object of `kubetrail.dev/v1alpha1`.
    pub fn to_json(&self, include_object: bool) -> Value {
        let mut entry = json!({
            "apiVersion": API_VERSION,
            "kind": "LogEntry",
            "metadata": {"name": self.seq.to_string(), "resourceVersion": self.seq.to_string()},
            "time": self.time,
            "type": self.event_type,
            "eventVersion": self.event_version,
            "involvedObject": {
                "apiVersion": self.api_version, "kind": self.kind, "namespace": self.namespace,
                "name": self.name, "uid": self.uid,
            },
            "actor": self.actor,
            "requestID": self.request_id,
        });
        let optional = [
            (
                "previousResourceVersion",
                self.prev_seq.map(|s| s.to_string()),
            ),
            ("causedBy", self.caused_by.map(|s| s.to_string())),
            ("userAgent", self.user_agent.clone()),
            ("fieldManager", self.field_manager.clone()),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                entry[field] = json!(value);
            }
        }
        if include_object {
            entry["object"] = serde_json::from_str(&self.object).unwrap_or(Value::Null);
        }
        entry
    }
}

/// Which log rows to read. Every field narrows; `Default` is the whole log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub uid: Option<String>,
    pub actor: Option<String>,
    /// Any of these event types (`Created`, `Scaled`, ...).
    pub event_types: Vec<String>,
    /// resourceVersion range, inclusive.
    pub from_seq: Option<i64>,
    pub to_seq: Option<i64>,
    /// Time range, inclusive, as log times (RFC 3339 with nanoseconds, UTC).
    pub since: Option<String>,
    pub until: Option<String>,
}

/// A value bound into a filter's SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

impl LogFilter {
    /// The WHERE clause (empty or starting with " WHERE") and its values, in order.
    pub fn where_clause(&self) -> (String, Vec<Bind>) {
        let mut terms: Vec<String> = Vec::new();
        let mut binds = Vec::new();
        let text = [
            ("kind", &self.kind),
            ("namespace", &self.namespace),
            ("name", &self.name),
            ("uid", &self.uid),
            ("actor", &self.actor),
        ];
        for (column, value) in text {
            if let Some(value) = value {
                terms.push(format!("{column} = ?"));
                binds.push(Bind::Text(value.clone()));
            }
        }
        if !self.event_types.is_empty() {
            let marks = vec!["?"; self.event_types.len()].join(", ");
            terms.push(format!("event_type IN ({marks})"));
            binds.extend(self.event_types.iter().cloned().map(Bind::Text));
        }
        if let Some(from) = self.from_seq {
            terms.push("seq >= ?".into());
            binds.push(Bind::Int(from));
        }
        if let Some(to) = self.to_seq {
            terms.push("seq <= ?".into());
            binds.push(Bind::Int(to));
        }
        if let Some(since) = &self.since {
            terms.push("time >= ?".into());
            binds.push(Bind::Text(since.clone()));
        }
        if let Some(until) = &self.until {
            terms.push("time <= ?".into());
            binds.push(Bind::Text(until.clone()));
        }
        if terms.is_empty() {
            (String::new(), binds)
        } else {
            (format!(" WHERE {}", terms.join(" AND ")), binds)
        }
    }

    /// Whether `entry` passes the filter (the same test the SQL makes).
    pub fn matches(&self, entry: &LogEntry) -> bool {
        let same = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        same(&self.kind, &entry.kind)
            && same(&self.namespace, &entry.namespace)
            && same(&self.name, &entry.name)
            && same(&self.uid, &entry.uid)
            && same(&self.actor, &entry.actor)
            && (self.event_types.is_empty() || self.event_types.contains(&entry.event_type))
            && self.from_seq.is_none_or(|f| entry.seq >= f)
            && self.to_seq.is_none_or(|t| entry.seq <= t)
            && self
                .since
                .as_deref()
                .is_none_or(|s| entry.time.as_str() >= s)
            && self
                .until
                .as_deref()
                .is_none_or(|u| entry.time.as_str() <= u)
    }
}

/// A user-given time (RFC 3339, any offset or precision) as a log time, so it compares with the
/// stored times as text.
pub fn log_time(input: &str) -> Result<String, HistoryError> {
    let t: jiff::Timestamp = input.parse().map_err(|_| {
        HistoryError::BadRequest(format!(
            "invalid time {input:?}: expected RFC 3339, e.g. 2026-01-02T03:04:05Z"
        ))
    })?;
    Ok(meta::format_log_time(t))
}

/// Parse `pod/echo`, `pods/echo`, `po/echo`, `replicaset/echo-rs`, `ns/default` into a kind and
/// a name.
pub fn parse_object_ref(reference: &str) -> Result<(ResourceKind, String), HistoryError> {
    let (resource, name) = reference.split_once('/').ok_or_else(|| {
        HistoryError::BadRequest(format!(
            "expected <resource>/<name> (e.g. pod/echo), got {reference:?}"
        ))
    })?;
    let kind = resolve_resource(resource)?;
    if name.is_empty() {
        return Err(HistoryError::BadRequest(format!(
            "no name in {reference:?}"
        )));
    }
    Ok((kind, name.to_string()))
}

/// A resource as kubectl accepts it: plural, singular, short name or kind, any case, with or
/// without its group (`replicasets.apps`).
pub fn resolve_resource(resource: &str) -> Result<ResourceKind, HistoryError> {
    let lower = resource.to_ascii_lowercase();
    let bare = lower.split('.').next().unwrap_or("");
    ResourceKind::ALL
        .into_iter()
        .find(|k| {
            k.plural() == bare
                || k.singular() == bare
                || k.short_names().contains(&bare)
                || k.as_str().eq_ignore_ascii_case(bare)
        })
        .ok_or_else(|| {
            HistoryError::BadRequest(format!(
                "the server doesn't have a resource type {resource:?}"
            ))
        })
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    for bind in binds {
        q = match bind {
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

/// Log entries passing `filter`, oldest first, after seq `after`, at most `limit`.
pub async fn entries(
    pool: &SqlitePool,
    filter: &LogFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<LogEntry>, HistoryError> {
    entries_with(pool, filter, after, limit, true).await
}

/// As `entries`; without `with_object` the objects are not read (each entry's `object` is
/// `{}`), which is what a listing without objects costs.
pub async fn entries_with(
    pool: &SqlitePool,
    filter: &LogFilter,
    after: i64,
    limit: i64,
    with_object: bool,
) -> Result<Vec<LogEntry>, HistoryError> {
    let (clause, binds) = filter.where_clause();
    let connector = if clause.is_empty() { " WHERE" } else { " AND" };
    let columns = if with_object {
        COLUMNS.to_string()
    } else {
        COLUMNS.replace(" object,", " '{}' AS object,")
    };
    let sql =
        format!("SELECT {columns} FROM events{clause}{connector} seq > ? ORDER BY seq LIMIT ?");
    let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds)
        .bind(after)
        .bind(limit);
    let rows = q.fetch_all(pool).await?;
    rows.iter()
        .map(|r| LogEntry::from_row(r).map_err(HistoryError::from))
        .collect()
}

/// The newest `limit` entries passing `filter`, oldest first (`kubetrail events --tail`).
pub async fn newest_entries(
    pool: &SqlitePool,
    filter: &LogFilter,
    limit: i64,
) -> Result<Vec<LogEntry>, HistoryError> {
    let (clause, binds) = filter.where_clause();
    let sql = format!("SELECT {COLUMNS} FROM events{clause} ORDER BY seq DESC LIMIT ?");
    let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds).bind(limit);
    let rows = q.fetch_all(pool).await?;
    let mut out: Vec<LogEntry> = rows
        .iter()
        .map(|r| LogEntry::from_row(r).map_err(HistoryError::from))
        .collect::<Result<_, _>>()?;
    out.reverse();
    Ok(out)
}

/// One entry by its seq.
pub async fn entry(pool: &SqlitePool, seq: i64) -> Result<Option<LogEntry>, HistoryError> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE seq = ?");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(seq)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(LogEntry::from_row).transpose()?)
}

/// Every event of the object `kind` `namespace`/`name`, oldest first, across deletions and
/// re-creations under the same name (each incarnation has its own uid), after seq `after`.
pub async fn object_history(
    pool: &SqlitePool,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<LogEntry>, HistoryError> {
    let filter = LogFilter {
        kind: Some(kind.as_str().to_string()),
        namespace: Some(namespace.to_string()),
        name: Some(name.to_string()),
        ..Default::default()
    };
    entries(pool, &filter, after, limit).await
}

/// A page of an object's history as SQLite assembles it from the recorded changes.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedPage {
    /// The rows as a JSON array, each shaped as `render::history_json` shapes it.
    pub items: String,
    pub count: i64,
    pub last_seq: i64,
}

/// One page of an object's history (after seq `after`), assembled inside SQLite from each
/// event's recorded `changes`, so no object is read or compared; `None` when an event of the
/// page has no recorded changes (written before they were recorded): the caller then computes
/// the page from the objects.
pub async fn recorded_history_page(
    pool: &SqlitePool,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
    after: i64,
    limit: i64,
) -> Result<Option<RecordedPage>, HistoryError> {
    // The entries are stored as JSON text, clustered by object: the page is one range read,
    // joined as text inside SQLite and returned as one value (a row per entry would cost a
    // hand-off between threads each), with nothing parsed again. The range is read in `seq`
    // order and the subquery yields it so; an ORDER BY inside group_concat would sort it again.
    let row = sqlx::query(
        "SELECT COUNT(*), COALESCE(MAX(seq), 0), '[' || COALESCE(group_concat(entry, ','), '') || ']' \
         FROM (SELECT seq, entry FROM history_entries \
               WHERE kind = ? AND namespace = ? AND name = ? AND seq > ? ORDER BY seq LIMIT ?)",
    )
    .bind(kind.as_str())
    .bind(namespace)
    .bind(name)
    .bind(after)
    .bind(limit)
    .fetch_one(pool)
    .await?;
    let count: i64 = row.try_get(0)?;
    let last_seq: i64 = row.try_get(1)?;
    let items: String = row.try_get(2)?;
    // Events written before changes were recorded have no entry: then the page is computed.
    // Counting the object's events in the same range reads only the log's object index.
    let upto = if count == limit { last_seq } else { i64::MAX };
    let events: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events INDEXED BY events_by_object \
         WHERE kind = ? AND namespace = ? AND name = ? AND seq > ? AND seq <= ?",
    )
    .bind(kind.as_str())
    .bind(namespace)
    .bind(name)
    .bind(after)
    .bind(upto)
    .fetch_one(pool)
    .await?;
    if events != count {
        return Ok(None);
    }
    Ok(Some(RecordedPage {
        items,
        count,
        last_seq,
    }))
}

/// The newest seq in the log (0 when empty).
pub async fn last_seq(pool: &SqlitePool) -> Result<i64, HistoryError> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
            .fetch_one(pool)
            .await?,
    )
}

/// The newest seq at or before `time` (a log time), 0 when none.
pub async fn seq_at_time(pool: &SqlitePool, time: &str) -> Result<i64, HistoryError> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events WHERE time <= ?")
            .bind(time)
            .fetch_one(pool)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn entry(
        seq: i64,
        kind: &str,
        name: &str,
        event_type: &str,
        actor: &str,
    ) -> LogEntry {
        LogEntry {
            seq,
            time: format!("2026-01-01T00:00:{seq:02}.000000000Z"),
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: "default".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            event_type: event_type.into(),
            event_version: 1,
            prev_seq: None,
            object: "{}".into(),
            actor: actor.into(),
            user_agent: None,
            field_manager: None,
            request_id: "r".into(),
            caused_by: None,
        }
    }

    #[test]
    fn the_where_clause_and_matches_agree() {
        let filter = LogFilter {
            kind: Some("Pod".into()),
            actor: Some("alice".into()),
            event_types: vec!["Created".into(), "Deleted".into()],
            from_seq: Some(3),
            until: Some("2026-01-01T00:00:09.000000000Z".into()),
            ..Default::default()
        };
        let (clause, binds) = filter.where_clause();
        assert_eq!(
            clause,
            " WHERE kind = ? AND actor = ? AND event_type IN (?, ?) AND seq >= ? AND time <= ?"
        );
        assert_eq!(binds.len(), 6);
        for (entry, expected, why) in [
            (
                entry(5, "Pod", "a", "Created", "alice"),
                true,
                "everything matches",
            ),
            (
                entry(2, "Pod", "a", "Created", "alice"),
                false,
                "before from_seq",
            ),
            (
                entry(5, "Node", "a", "Created", "alice"),
                false,
                "another kind",
            ),
            (
                entry(5, "Pod", "a", "Updated", "alice"),
                false,
                "another type",
            ),
            (
                entry(5, "Pod", "a", "Deleted", "bob"),
                false,
                "another actor",
            ),
            (
                entry(10, "Pod", "a", "Deleted", "alice"),
                false,
                "after until",
            ),
        ] {
            assert_eq!(filter.matches(&entry), expected, "{why}");
        }
        assert_eq!(LogFilter::default().where_clause().0, "");
    }

    #[test]
    fn object_references_resolve_like_kubectl() {
        for (reference, kind, name) in [
            ("pod/echo", ResourceKind::Pod, "echo"),
            ("pods/echo", ResourceKind::Pod, "echo"),
            ("po/echo", ResourceKind::Pod, "echo"),
            ("rs/echo-rs", ResourceKind::ReplicaSet, "echo-rs"),
            (
                "replicasets.apps/echo-rs",
                ResourceKind::ReplicaSet,
                "echo-rs",
            ),
            ("ReplicaSet/echo-rs", ResourceKind::ReplicaSet, "echo-rs"),
            ("ns/default", ResourceKind::Namespace, "default"),
        ] {
            assert_eq!(
                parse_object_ref(reference).unwrap(),
                (kind, name.to_string()),
                "{reference}"
            );
        }
        for bad in ["echo", "deployment/echo", "pod/"] {
            assert!(parse_object_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_times_become_comparable_log_times() {
        assert_eq!(
            log_time("2026-01-02T04:04:05+01:00").unwrap(),
            "2026-01-02T03:04:05.000000000Z"
        );
        assert!(log_time("yesterday").is_err());
    }

    #[test]
    fn entries_render_as_log_entry_objects() {
        let mut e = entry(7, "Pod", "echo", "Bound", "default-scheduler");
        e.caused_by = Some(5);
        e.prev_seq = Some(5);
        let json = e.to_json(false);
        assert_eq!(json["kind"], "LogEntry");
        assert_eq!(json["metadata"]["resourceVersion"], "7");
        assert_eq!(json["causedBy"], "5");
        assert_eq!(json["previousResourceVersion"], "5");
        assert!(json.get("object").is_none());
        assert!(json.get("fieldManager").is_none());
        assert_eq!(e.to_json(true)["object"], json!({}));
    }
}
