//! Watches: for one watch request, a task that sends the initial state (when asked), replays
//! the log after the requested resourceVersion, then follows the envelopes the log publishes
//! after each commit — in seq order, without gaps or duplicates. A watcher that falls behind
//! the publish buffer is ended with a 410 `Expired` error it can resume from.

use super::ReadStore;
use crate::events::{EventEnvelope, EventLog, EventType};
use crate::metrics::Metrics;
use crate::model::ResourceKind;
use crate::model::filter::ObjectFilter;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// Log rows read per replay query.
const REPLAY_PAGE: i64 = 500;

/// What a watch sends to its client.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// ADDED, MODIFIED or DELETED with the object's JSON.
    Object {
        watch_type: &'static str,
        object: ObjectJson,
    },
    Bookmark {
        resource_version: i64,
    },
    /// The BOOKMARK that ends the initial state of a `sendInitialEvents` watch (annotated
    /// `k8s.io/initial-events-end: "true"`).
    InitialEventsEnd {
        resource_version: i64,
    },
    /// A `Status` object; the stream ends after it.
    Error {
        status: Value,
    },
    /// Nothing happened; lets the server notice a client that went away.
    Heartbeat,
}

/// An object's JSON text, shared with the published envelope where possible.
#[derive(Debug, Clone)]
pub enum ObjectJson {
    Shared(Arc<EventEnvelope>),
    Owned(String),
}

impl ObjectJson {
    pub fn as_str(&self) -> &str {
        match self {
            ObjectJson::Shared(e) => &e.object_json,
            ObjectJson::Owned(s) => s,
        }
    }
}

/// A watch as the client asked for it.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub kind: ResourceKind,
    pub namespace: Option<String>,
    pub filter: ObjectFilter,
    /// `None` (or 0): start with the current state as ADDED events. Otherwise: changes after it.
    pub resource_version: Option<i64>,
    pub bookmarks: bool,
    /// `sendInitialEvents=true` (WatchList): the current state first, then a bookmark marking
    /// its end, whatever `resource_version` says.
    pub send_initial_events: bool,
    pub timeout: Duration,
    /// How often to send a BOOKMARK (or a heartbeat when bookmarks are off).
    pub heartbeat: Duration,
}

/// Start a watch; events arrive on the returned channel, which closes when the watch ends.
pub fn start(
    store: ReadStore,
    log: EventLog,
    metrics: Arc<Metrics>,
    request: WatchRequest,
) -> mpsc::Receiver<WatchEvent> {
    let (tx, rx) = mpsc::channel(64);
    // Subscribe before reading anything so nothing committed from here on can be missed.
    let live = log.subscribe();
    tokio::spawn(async move {
        metrics.open_watches.inc();
        if let Err(e) = run(&store, live, &request, &tx).await {
            tracing::debug!(error = %e, "watch ended");
        }
        metrics.open_watches.dec();
    });
    rx
}

#[derive(Debug, thiserror::Error)]
enum WatchEnd {
    #[error("client went away")]
    ClientGone,
    #[error(transparent)]
    Store(#[from] crate::events::StoreError),
}

async fn run(
    store: &ReadStore,
    mut live: broadcast::Receiver<Arc<EventEnvelope>>,
    request: &WatchRequest,
    tx: &mpsc::Sender<WatchEvent>,
) -> Result<(), WatchEnd> {
    let send =
        |event: WatchEvent| async move { tx.send(event).await.map_err(|_| WatchEnd::ClientGone) };
    let deadline = tokio::time::Instant::now() + request.timeout;
    let namespace = request.namespace.as_deref();
    let start_from = request
        .resource_version
        .filter(|rv| *rv > 0 && !request.send_initial_events);
    let mut cursor = match start_from {
        Some(rv) => rv,
        None => {
            let query = super::ListQuery {
                namespace: request.namespace.clone(),
                ..Default::default()
            };
            let filter = &request.filter;
            let keep = |o: &Value| filter.matches(o);
            let page = store
                .list(
                    request.kind,
                    &query,
                    (!filter.is_everything()).then_some(&keep as &(dyn Fn(&Value) -> bool + Sync)),
                )
                .await?;
            for json in page.items {
                send(WatchEvent::Object {
                    watch_type: "ADDED",
                    object: ObjectJson::Owned(json),
                })
                .await?;
            }
            if request.send_initial_events {
                send(WatchEvent::InitialEventsEnd {
                    resource_version: page.resource_version,
                })
                .await?;
            }
            page.resource_version
        }
    };
    loop {
        let rows = store
            .events_after(request.kind, namespace, cursor, REPLAY_PAGE)
            .await?;
        let count = rows.len() as i64;
        for row in rows {
            cursor = row.seq;
            let object: Value = serde_json::from_str(&row.object_json)
                .map_err(crate::events::StoreError::Corrupt)?;
            let prev = row
                .prev_json
                .as_deref()
                .and_then(|p| serde_json::from_str::<Value>(p).ok());
            if let Some(watch_type) =
                classify(&request.filter, row.event_type, &object, prev.as_ref())
            {
                send(WatchEvent::Object {
                    watch_type,
                    object: ObjectJson::Owned(row.object_json),
                })
                .await?;
            }
        }
        if count < REPLAY_PAGE {
            break;
        }
    }
    let mut heartbeat = tokio::time::interval_at(
        tokio::time::Instant::now() + request.heartbeat,
        request.heartbeat,
    );
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            _ = heartbeat.tick() => {
                let event = if request.bookmarks {
                    WatchEvent::Bookmark { resource_version: cursor }
                } else {
                    WatchEvent::Heartbeat
                };
                send(event).await?;
            }
            received = live.recv() => match received {
                Ok(envelope) => {
                    if envelope.seq <= cursor {
                        continue;
                    }
                    cursor = envelope.seq;
                    if envelope.kind != request.kind
                        || namespace.is_some_and(|ns| ns != envelope.namespace)
                    {
                        continue;
                    }
                    if let Some(watch_type) = classify(
                        &request.filter,
                        envelope.event_type,
                        &envelope.object,
                        envelope.prev_object.as_deref(),
                    ) {
                        send(WatchEvent::Object { watch_type, object: ObjectJson::Shared(envelope) }).await?;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    send(WatchEvent::Error { status: fell_behind(request.kind, cursor) }).await?;
                    return Ok(());
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

/// The watch event type for a change as a filtered watcher sees it: an object that starts
/// matching is ADDED, one that stops matching is DELETED, one that never matched is skipped.
pub fn classify(
    filter: &ObjectFilter,
    event_type: EventType,
    object: &Value,
    prev: Option<&Value>,
) -> Option<&'static str> {
    if filter.is_everything() {
        return Some(event_type.watch_type());
    }
    let now = filter.matches(object);
    match event_type {
        EventType::Created => now.then_some("ADDED"),
        EventType::Deleted => now.then_some("DELETED"),
        _ => {
            let before = prev.is_some_and(|p| filter.matches(p));
            match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            }
        }
    }
}

fn fell_behind(kind: ResourceKind, cursor: i64) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!(
            "the watch of {} fell behind the event stream; resume from resourceVersion {cursor}",
            kind.qualified_resource()
        ),
        "reason": "Expired", "code": 410
    })
}
