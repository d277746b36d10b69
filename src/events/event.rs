//! Events: what happened, in the past tense, with the full resulting object. `EventType` strings
//! are a persisted format and are never renamed.

use crate::model::ResourceKind;
use crate::model::filter::Facets;
use serde_json::Value;
use std::sync::Arc;

/// The version of the event shape this server writes (`events.event_version`): every event
/// so far is version 1.
pub const EVENT_VERSION: i64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Created,
    Updated,
    StatusUpdated,
    Scaled,
    Bound,
    DeletionRequested,
    Deleted,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::Created,
        EventType::Updated,
        EventType::StatusUpdated,
        EventType::Scaled,
        EventType::Bound,
        EventType::DeletionRequested,
        EventType::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "Created",
            EventType::Updated => "Updated",
            EventType::StatusUpdated => "StatusUpdated",
            EventType::Scaled => "Scaled",
            EventType::Bound => "Bound",
            EventType::DeletionRequested => "DeletionRequested",
            EventType::Deleted => "Deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The watch event type a client sees for this log event.
    pub fn watch_type(self) -> &'static str {
        match self {
            EventType::Created => "ADDED",
            EventType::Deleted => "DELETED",
            _ => "MODIFIED",
        }
    }
}

/// One appended event as published after commit.
#[derive(Debug, Clone)]
pub struct EventEnvelope {
    pub seq: i64,
    pub time: String,
    pub kind: ResourceKind,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub event_type: EventType,
    /// The resulting object (for `Deleted`, its last state), `resourceVersion` = `seq`.
    pub object: Arc<Value>,
    /// `object` serialized exactly as stored, shared with the informer and the watches.
    pub object_json: Arc<str>,
    /// What a watch's filter reads of the object's state before this event, when it existed
    /// (its labels and field labels; the whole earlier version is not kept).
    pub prev_facets: Option<Facets>,
    pub actor: String,
    pub user_agent: Option<String>,
    pub field_manager: Option<String>,
    pub request_id: String,
    pub caused_by: Option<i64>,
    /// `Cause::list_json` of the request's causes, when it named any.
    pub causes: Option<Arc<str>>,
}

impl EventEnvelope {
    /// The envelope of an event as the log stores it (`previous`: its object's previous state,
    /// as stored), for an event another server appended; `None` for a kind or event type this
    /// server does not know.
    pub fn of_row(
        row: crate::store::EventRow,
        previous: Option<&str>,
    ) -> Result<Option<EventEnvelope>, serde_json::Error> {
        let (Some(kind), Some(event_type)) = (
            ResourceKind::from_kind(&row.kind),
            EventType::parse(&row.event_type),
        ) else {
            return Ok(None);
        };
        let object: Value = serde_json::from_str(&row.object)?;
        let prev_facets = match previous {
            Some(text) => Some(Facets::of(kind, &serde_json::from_str(text)?)),
            None => None,
        };
        Ok(Some(EventEnvelope {
            seq: row.seq,
            time: row.time,
            kind,
            namespace: row.namespace,
            name: row.name,
            uid: row.uid,
            event_type,
            object: Arc::new(object),
            object_json: row.object.into(),
            prev_facets,
            actor: row.actor,
            user_agent: row.user_agent,
            field_manager: row.field_manager,
            request_id: row.request_id,
            caused_by: row.caused_by,
            causes: row.causes.map(Into::into),
        }))
    }
}
