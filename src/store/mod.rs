//! The storage seam: the only module that speaks to the database (and the only one that names
//! `sqlx`). Everything above it reads and writes through the handles and types here, which say
//! nothing about the engine:
//!
//! - opening a data directory's database ([`Database`]: a SQLite file, or a PostgreSQL URL
//!   with the data directory that keeps the encryption keys): [`open`] (the writer's
//!   connection, migrated, and the read pool), [`open_read_only`] (a server that writes
//!   nothing), [`open_readers`] (the debugging commands beside a running server),
//!   [`connect_writer`] and [`connect_checkpointer`] (more connections to a database `open`
//!   migrated), [`reach`] (a PostgreSQL database connected to once, writing nothing);
//! - [`Writer`]: one batch of the log's writer in one transaction ([`Writer::commit`]: the
//!   events appended with multi-row inserts, the projection rows written, the projections'
//!   position recorded), rebuild, snapshots, checkpoints, the copy of a log prefix (`replay`),
//!   the append of events and compactions as another database stored them (`migrate`),
//!   compaction (`begin_compaction`, `compact_step`, the vacuum);
//! - [`Reader`]: the writer's decider reading current state; [`Readers`]: every other read of
//!   current state and of the log;
//! - the one event row ([`EventRow`], with its one column list in each dialect), the one
//!   projection row ([`ProjectedRow`]), and [`StoreError`], into which the engine's errors are
//!   converted once (`engine`).
//!
//! The handles (`engine`) hold the handle of their database's dialect and forward each call:
//! the SQLite dialect in `sqlite/` (schema: `migrations/`), the PostgreSQL one in `postgres/`
//! (schema: `migrations/postgres/`, the same tables, indexes and rules). Both implement the
//! same methods over these types; nothing above this module names an engine.

mod engine;
mod postgres;
pub mod seal;
mod sqlite;
#[cfg(test)]
mod tests;

pub use engine::{
    AppendNotices, Checkpointer, Database, Reader, Readers, Writer, carry_keys,
    connect_checkpointer, connect_writer, open, open_read_only, open_readers, reach,
};
pub use sqlite::WAL_LIMIT_BYTES;

use crate::model::ResourceKind;
use crate::model::meta::Lookup as _;
use serde_json::Value;

/// An object's identity in the projections: kind, namespace (`""` when cluster-scoped), name.
pub type ObjectKey = (ResourceKind, String, String);

/// The `event_type` of the event that removes an object: the one event type the store itself
/// interprets (a projection row goes, an Exact list leaves the object out). The names are
/// `events::EventType`'s; a unit test holds the two equal.
pub const DELETED: &str = "Deleted";

/// The `event_type` of a deletion request that leaves the object waiting for its finalizers
/// (`EventType::DeletionRequested`'s name).
pub const DELETION_REQUESTED: &str = "DeletionRequested";

/// One event as the log stores it: a row of `events` (everything but `changes`, which only the
/// `history_entries` trigger reads). `S` is how text is held: `String` as read, `&str` for an
/// append, borrowed from the writer's envelope so the commit path copies nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow<S = String> {
    pub seq: i64,
    pub time: S,
    pub api_version: S,
    pub kind: S,
    pub namespace: S,
    pub name: S,
    pub uid: S,
    pub event_type: S,
    pub event_version: i64,
    pub prev_seq: Option<i64>,
    /// The object after the event, as stored (JSON text).
    pub object: S,
    pub actor: S,
    pub user_agent: Option<S>,
    pub field_manager: Option<S>,
    pub request_id: S,
    pub caused_by: Option<i64>,
    /// Every cause the request named, with what about each mattered ([`Cause::list_json`]):
    /// the first is `caused_by`'s. `None` when it named none.
    pub causes: Option<S>,
}

/// One cause of an event: the event (`seq`) whose observation made a worker act, and what
/// about it mattered (`0 of 1 pods`, `liveness probe failed 3/3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub seq: i64,
    pub reason: String,
}

impl Cause {
    /// A cause; a reason longer than `api::MAX_CAUSE_REASON` is cut there.
    pub fn new(seq: i64, reason: impl Into<String>) -> Cause {
        let mut reason = reason.into();
        if reason.len() > crate::api::MAX_CAUSE_REASON {
            let mut end = crate::api::MAX_CAUSE_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Cause { seq, reason }
    }

    /// The list as stored and served: `[{"resourceVersion": "80", "reason": "..."}]`, ASCII
    /// only (anything else escaped), so it also travels in an HTTP header as it is.
    pub fn list_json(causes: &[Cause]) -> String {
        let list: Vec<Value> = causes
            .iter()
            .map(|c| serde_json::json!({"resourceVersion": c.seq.to_string(), "reason": c.reason}))
            .collect();
        let text = Value::Array(list).to_string();
        let mut ascii = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_ascii() {
                ascii.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    ascii.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
        ascii
    }

    /// The list `list_json` wrote; `None` when `text` is not one.
    pub fn parse_list(text: &str) -> Option<Vec<Cause>> {
        let list: Vec<Value> = serde_json::from_str(text).ok()?;
        list.iter()
            .map(|c| {
                Some(Cause {
                    seq: c.get("resourceVersion")?.as_str()?.parse().ok()?,
                    reason: c.get("reason")?.as_str()?.to_string(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
impl EventRow {
    /// A row for unit tests: `actor` wrote `event_type` of `kind` `default/name` at `seq`,
    /// with an empty object and no cause.
    pub fn example(seq: i64, kind: &str, name: &str, event_type: &str, actor: &str) -> EventRow {
        EventRow {
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
            causes: None,
        }
    }
}

/// An event to append: its row and the changes it made (the readable diff from the object's
/// previous version, JSON text), recorded with it.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub row: EventRow<&'a str>,
    pub changes: &'a str,
}

/// One event exactly as its database stores it: every column, the object as stored (a Secret
/// sealed under its data directory's key, never opened) and the changes recorded with it
/// (`None` where none were). What `kubetrail migrate` reads from one database and appends to
/// another, so that the copy is the same log byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub row: EventRow,
    pub changes: Option<String>,
}

/// One object's row in the projections (`objects`, and the snapshots' copies of it). `S` as in
/// [`EventRow`]: borrowed when the writer projects a batch, owned when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectedRow<S = String> {
    pub uid: S,
    /// The seq of the object's last event: its resourceVersion.
    pub seq: i64,
    /// Pods: `spec.nodeName` when it is a non-empty string, for node-scoped reads.
    pub node_name: Option<S>,
    pub object: S,
}

/// The node a pod's projection row is indexed under (`spec.nodeName`), `None` for other kinds.
/// `rebuild` writes the same value from the log's JSON (tests hold the two byte-identical).
pub fn node_name_of(kind: ResourceKind, object: &Value) -> Option<&str> {
    match kind {
        ResourceKind::Pod => object
            .at("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty()),
        _ => None,
    }
}

/// One object as stored: its JSON text (with `resourceVersion`) and its seq.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub json: String,
    pub seq: i64,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub namespace: Option<String>,
    /// Only this name (from a `metadata.name=` field selector).
    pub name: Option<String>,
    /// Resume after this (namespace, name), from a continue token.
    pub start_after: Option<(String, String)>,
    pub limit: Option<usize>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ListPage {
    /// Matching objects' JSON, ordered by namespace then name.
    pub items: Vec<String>,
    /// The log seq this snapshot reflects.
    pub resource_version: i64,
    /// Set when `limit` cut the list short: the key of the last item returned.
    pub continue_after: Option<(String, String)>,
}

/// Which log rows to read. Every field narrows; `Default` is the whole log. The dialect turns
/// it into its query; [`LogFilter::matches`] is the same test in memory.
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

impl LogFilter {
    /// Whether `entry` passes the filter (the same test the query makes).
    pub fn matches(&self, entry: &EventRow) -> bool {
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

/// A page of an object's history as the store assembles it from the recorded changes.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedPage {
    /// The rows as a JSON array, each shaped as `history::render::history_json` shapes it.
    pub items: String,
    pub count: i64,
    pub last_seq: i64,
}

/// What a compaction folds: at or before `through` (the compaction point), every event of
/// `kinds` and, with `status_updates`, every `StatusUpdated` event of any kind, that is not
/// its object's newest event at or before the point; and every event at or before it of an
/// object of `kinds` whose newest event there deleted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionPlan {
    pub through: i64,
    /// Kind names (`Event`, `Lease`).
    pub kinds: Vec<String>,
    pub status_updates: bool,
    /// Who compacts (recorded with it).
    pub actor: String,
}

/// One write of a core/v1 Event as the log recorded it (`Readers::event_writes_after`), with
/// whether it is still the Event's current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventWrite {
    pub seq: i64,
    /// When the server wrote it (the log's time, RFC 3339).
    pub time: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// No later write of the Event and no deletion: the projection is at this seq.
    pub current: bool,
    /// The write asked for the Event's deletion (it waits for finalizers).
    pub deleting: bool,
}

/// One recorded compaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    pub id: i64,
    /// The compaction point: the log holds every event after it.
    pub seq_through: i64,
    /// When it started (RFC 3339, UTC).
    pub time: String,
    pub kinds: Vec<String>,
    pub status_only: bool,
    pub events_removed: i64,
    pub actor: String,
}

impl Compaction {
    /// Whether it folded (some of) the history of `kind`: a kind it names, or a kind with a
    /// status (`has_status`) when it folded status updates.
    pub fn folds(&self, kind: &str, has_status: bool) -> bool {
        (self.status_only && has_status) || self.kinds.iter().any(|k| k == kind)
    }

    /// What it folded, in words: `Event and Lease history and status updates`.
    pub fn selection(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.kinds.is_empty() {
            parts.push(format!("{} history", self.kinds.join(", ")));
        }
        if self.status_only {
            parts.push("status updates".into());
        }
        parts.join(" and ")
    }
}

/// Where a compaction in progress has got to: which pass (the superseded events, then the
/// deletions) and the next seq of that pass. A fresh one starts at the beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactionCursor {
    pub(crate) pass: u8,
    pub(crate) next: i64,
}

impl CompactionCursor {
    /// How far through its two passes it is, 0.0 to 1.0, for a compaction through `through`.
    pub fn fraction(&self, through: i64) -> f64 {
        if through <= 0 {
            return 1.0;
        }
        let pass = (self.next.min(through) as f64) / (through as f64);
        ((self.pass as f64) + pass).min(2.0) / 2.0
    }
}

/// The store failed (I/O, the database). Whatever was being written did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[source] DatabaseError),
    #[error("stored object is not valid JSON")]
    Corrupt(#[source] serde_json::Error),
    #[error("the event log writer has stopped")]
    WriterGone,
    /// The disk holding the log is full. The write did not happen; writes succeed again once
    /// space is freed.
    #[error("the disk holding the event log is full")]
    DiskFull,
    /// A read of the log at a position before its compaction point, where the log no longer
    /// holds every event.
    #[error("resourceVersion {requested} is before the log's compaction point {through}")]
    Compacted { requested: i64, through: i64 },
    /// Another server appended to the shared log after what a batch was decided on: nothing
    /// of the batch was written, and the log now ends at `last`.
    #[error("another server appended to the log first (it now ends at {last})")]
    Behind { last: i64 },
    /// Other servers kept appending first, every time a write was decided again.
    #[error("the log is busy with other servers' writes; nothing was written, retry")]
    Contended,
}

impl StoreError {
    /// A failure described by `message` (a write refused for what happened to another).
    pub fn other(message: impl Into<String>) -> Self {
        StoreError::Database(DatabaseError {
            message: message.into(),
        })
    }

    /// The same failure again, for each submission of a batch it refused.
    pub fn replicate(&self) -> StoreError {
        match self {
            StoreError::Database(e) => StoreError::Database(e.clone()),
            StoreError::Corrupt(e) => StoreError::other(e.to_string()),
            StoreError::WriterGone => StoreError::WriterGone,
            StoreError::DiskFull => StoreError::DiskFull,
            StoreError::Compacted { requested, through } => StoreError::Compacted {
                requested: *requested,
                through: *through,
            },
            StoreError::Behind { last } => StoreError::Behind { last: *last },
            StoreError::Contended => StoreError::Contended,
        }
    }
}

/// What the engine said about a failure, as text: engine-neutral, and cheap to hand to every
/// submission of a refused batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DatabaseError {
    message: String,
}
