//! Watches: for one watch request, a task that sends the initial state (when asked), replays
//! the log after the requested resourceVersion, then follows the envelopes the log publishes
//! after each commit — in seq order, without gaps or duplicates. A watcher that falls behind
//! the publish buffer is ended with a 410 `Expired` error it can resume from. A watch holds at
//! most `BUFFER_BYTES` of unsent events; one whose client takes nothing for a heartbeat period
//! while that buffer is full is ended, as is every watch at its deadline, read or not.

use super::{ReadStore, Replayed};
use crate::events::{EventEnvelope, EventLog, EventType};
use crate::metrics::Metrics;
use crate::model::ResourceKind;
use crate::model::filter::{Facets, ObjectFilter};
use serde_json::{Value, json};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::time::Instant;

/// Log rows read per replay query.
const REPLAY_PAGE: i64 = 500;

/// Bytes of events a watch holds for its client before it waits for the client to take some
/// (an event larger than this travels alone). This bounds a stalled watcher's memory.
pub const BUFFER_BYTES: usize = 1 << 20;

/// Events queued per watch, whatever their size.
const BUFFER_EVENTS: usize = 256;

/// How long a request naming a resourceVersion the log has not reached waits for it, as
/// kube-apiserver's watch cache does (`blockTimeout`).
pub const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

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

impl WatchEvent {
    /// What holding the event costs, in permits of the watch's byte budget.
    fn cost(&self) -> u32 {
        let bytes = match self {
            WatchEvent::Object { object, .. } => object.as_str().len(),
            WatchEvent::Error { .. } => 512,
            _ => 64,
        };
        bytes.clamp(1, BUFFER_BYTES) as u32
    }
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
    /// How often to send a BOOKMARK (or a heartbeat when bookmarks are off). A client that
    /// takes nothing for this long while the watch's buffer is full is ended as stalled.
    pub heartbeat: Duration,
}

/// A started watch: its events, and the task producing them, which ends at the deadline, when
/// the client stalls or goes away, or after an error event.
pub struct Watch {
    pub events: Events,
    pub producer: tokio::task::JoinHandle<()>,
}

/// The receiving end of a watch. Taking an event gives its bytes back to the watch's budget;
/// dropping it ends the watch.
pub struct Events {
    rx: mpsc::Receiver<(WatchEvent, u32)>,
    budget: Arc<Semaphore>,
}

impl Events {
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        self.rx.poll_recv(cx).map(|received| {
            received.map(|(event, cost)| {
                self.budget.add_permits(cost as usize);
                event
            })
        })
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        // A producer waiting for room learns at once that nobody will make any.
        self.budget.close();
    }
}

/// Start a watch; its events arrive on `Watch::events` until the watch ends.
pub fn start(
    store: ReadStore,
    log: EventLog,
    metrics: Arc<Metrics>,
    request: WatchRequest,
) -> Watch {
    let (tx, rx) = mpsc::channel(BUFFER_EVENTS);
    let budget = Arc::new(Semaphore::new(BUFFER_BYTES));
    // Subscribe before reading anything so nothing committed from here on can be missed.
    let live = log.subscribe();
    let sender = Sender {
        tx,
        budget: budget.clone(),
        deadline: Instant::now() + request.timeout,
        stall: request.heartbeat,
    };
    let producer = tokio::spawn(async move {
        metrics.open_watches.inc();
        match run(&store, live, &request, &sender).await {
            Ok(()) | Err(WatchEnd::Deadline) => {}
            Err(WatchEnd::Stalled(stall)) => tracing::info!(
                kind = %request.kind.as_str(),
                "watch ended: its client took nothing for {stall:?} with a full buffer"
            ),
            Err(e) => tracing::debug!(error = %e, "watch ended"),
        }
        metrics.open_watches.dec();
    });
    Watch {
        events: Events { rx, budget },
        producer,
    }
}

#[derive(Debug, thiserror::Error)]
enum WatchEnd {
    #[error("client went away")]
    ClientGone,
    #[error("the watch reached its deadline")]
    Deadline,
    #[error("the client took nothing for {0:?} with a full buffer")]
    Stalled(Duration),
    #[error(transparent)]
    Store(#[from] crate::events::StoreError),
}

/// The producing end of a watch: every send waits for room in the byte budget and the queue,
/// but never past the deadline, nor for longer than `stall` at a time.
struct Sender {
    tx: mpsc::Sender<(WatchEvent, u32)>,
    budget: Arc<Semaphore>,
    deadline: Instant,
    stall: Duration,
}

impl Sender {
    async fn send(&self, event: WatchEvent) -> Result<(), WatchEnd> {
        let cost = event.cost();
        let limit = self.deadline.min(Instant::now() + self.stall);
        let timed_out = || {
            if Instant::now() >= self.deadline {
                WatchEnd::Deadline
            } else {
                WatchEnd::Stalled(self.stall)
            }
        };
        let permits = tokio::time::timeout_at(limit, self.budget.acquire_many(cost))
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| WatchEnd::ClientGone)?;
        // The receiver gives the permits back when it takes the event.
        permits.forget();
        tokio::time::timeout_at(limit, self.tx.send((event, cost)))
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| WatchEnd::ClientGone)
    }
}

async fn run(
    store: &ReadStore,
    mut live: broadcast::Receiver<Arc<EventEnvelope>>,
    request: &WatchRequest,
    sender: &Sender,
) -> Result<(), WatchEnd> {
    let send = |event: WatchEvent| sender.send(event);
    let deadline = sender.deadline;
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
        if Instant::now() >= deadline {
            return Err(WatchEnd::Deadline);
        }
        let rows = match store
            .events_after(request.kind, namespace, cursor, REPLAY_PAGE)
            .await
        {
            Err(crate::events::StoreError::Compacted { requested, through }) => {
                send(WatchEvent::Error {
                    status: too_old(requested, through),
                })
                .await?;
                return Ok(());
            }
            rows => rows?,
        };
        let count = rows.len() as i64;
        for Replayed {
            row,
            event_type,
            previous: prev_json,
            ..
        } in rows
        {
            cursor = row.seq;
            let object: Value =
                serde_json::from_str(&row.object).map_err(crate::events::StoreError::Corrupt)?;
            let prev = prev_json
                .as_deref()
                .filter(|_| !request.filter.is_everything())
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .map(|p| Facets::of(request.kind, &p));
            if let Some(watch_type) = classify(&request.filter, event_type, &object, prev.as_ref())
            {
                send(WatchEvent::Object {
                    watch_type,
                    object: ObjectJson::Owned(row.object),
                })
                .await?;
            }
        }
        if count < REPLAY_PAGE {
            break;
        }
    }
    let mut heartbeat =
        tokio::time::interval_at(Instant::now() + request.heartbeat, request.heartbeat);
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
                        envelope.prev_facets.as_ref(),
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

/// Wait (up to `FRESHNESS_WAIT`) until the log has committed `resource_version`, as
/// kube-apiserver's watch cache waits before serving a read or a watch-list at a version it
/// has not seen yet. `Err` carries the newest committed version when the wait ran out.
pub async fn wait_until_fresh(log: &EventLog, resource_version: i64) -> Result<(), i64> {
    let deadline = Instant::now() + FRESHNESS_WAIT;
    // Subscribed before the check, so a commit between the two still wakes the wait.
    let mut commits = log.subscribe();
    loop {
        let current = log.last_seq();
        if current >= resource_version {
            return Ok(());
        }
        match tokio::time::timeout_at(deadline, commits.recv()).await {
            Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => {
                let current = log.last_seq();
                return if current >= resource_version {
                    Ok(())
                } else {
                    Err(current)
                };
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
    prev: Option<&Facets>,
) -> Option<&'static str> {
    if filter.is_everything() {
        return Some(event_type.watch_type());
    }
    let now = filter.matches(object);
    match event_type {
        EventType::Created => now.then_some("ADDED"),
        EventType::Deleted => now.then_some("DELETED"),
        _ => {
            let before = prev.is_some_and(|p| filter.matches_facets(p));
            match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            }
        }
    }
}

/// A watch from a resourceVersion before the log's compaction point, as kube-apiserver's watch
/// cache answers one older than it holds.
pub fn too_old(requested: i64, through: i64) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("too old resource version: {requested} ({through})"),
        "reason": "Expired", "code": 410
    })
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
