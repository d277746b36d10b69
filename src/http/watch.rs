//! `?watch=true`: turns a `projections::watch` stream into a chunked response of JSON watch
//! events, one per line, ending at `timeoutSeconds`. `drained` bounds what a streaming watch
//! response keeps once it is over: a body its client has not taken soon after its end is
//! dropped, and the HTTP/1 connection under it shut down, so a client that never reads holds
//! nothing for long.

use super::AppState;
use super::body::{self, ResponseFormat};
use super::connection::ConnectionWatch;
use super::error::ApiError;
use super::params::{ListOptions, Query};
use super::target::Target;
use crate::model::ResourceKind;
use crate::projections::watch::{self, WatchEvent, WatchRequest};
use crate::wire::printers;
use actix_web::http::Version;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::{Stream, stream};
use serde_json::Value;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a client has to take the rest of a watch response once the watch is over (its
/// deadline passed, or it was ended) before the response is dropped untaken.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

pub async fn serve(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    target: &Target,
    query: &Query,
) -> Result<HttpResponse, ApiError> {
    let options = ListOptions::parse(target.kind, query)?;
    let timeout = options
        .timeout
        .unwrap_or(state.watch.max_timeout)
        .min(state.watch.max_timeout);
    let kind = target.kind;
    let table = match body::response_format(req) {
        ResponseFormat::Table => Some(
            printers::IncludeObject::parse(query.get("includeObject"))
                .map_err(ApiError::bad_request)?,
        ),
        _ => None,
    };
    let content_type = if table.is_some() {
        body::TABLE
    } else {
        "application/json"
    };
    // A watch from a version the log has not reached waits a moment for it (as a read at such
    // a version does) and then fails as "Too large resource version": a watch-list
    // (`sendInitialEvents`) with an ERROR event, as kube-apiserver's cacher does; a plain
    // watch with a 504 `Status`, so a client whose version came from another server (a
    // replayed sandbox, a restored data directory) is told at once and lists again, instead of
    // a stream that stays silent until its timeout.
    if let Some(rv) = options.resource_version.filter(|rv| *rv > 0)
        && let Err(current) = watch::wait_until_fresh(&state.log, rv).await
    {
        if !options.send_initial_events {
            return Err(ApiError::resource_version_too_large(rv, current));
        }
        let status = ApiError::resource_version_too_large(rv, current).to_status();
        let line = format!("{{\"type\":\"ERROR\",\"object\":{status}}}\n");
        let body = stream::iter([Ok::<_, actix_web::Error>(Bytes::from(line))]);
        return Ok(respond(content_type, body));
    }
    // A watch from before the log's compaction point cannot be replayed: an ERROR event
    // (410 Expired), as kube-apiserver's watch cache sends for a version older than it holds,
    // and the client lists again.
    if let Some(rv) = options
        .resource_version
        .filter(|rv| *rv > 0 && !options.send_initial_events)
    {
        let through = state.store.compaction_point().await?;
        if rv < through {
            let status = watch::too_old(rv, through);
            let line = format!("{{\"type\":\"ERROR\",\"object\":{status}}}\n");
            let body = stream::iter([Ok::<_, actix_web::Error>(Bytes::from(line))]);
            return Ok(respond(content_type, body));
        }
    }
    let request = WatchRequest {
        kind,
        namespace: target.namespace.clone(),
        filter: options.filter,
        resource_version: options.resource_version,
        bookmarks: options.bookmarks,
        send_initial_events: options.send_initial_events,
        timeout,
        heartbeat: state.watch.heartbeat,
    };
    let watch = watch::start(
        state.store.clone(),
        state.log.clone(),
        state.metrics.clone(),
        request,
    );
    let mut events = watch.events;
    // Only the first Table event carries column definitions, as kube-apiserver sends them.
    let mut columns_sent = false;
    let lines = stream::poll_fn(move |cx| {
        events.poll_recv(cx).map(|event| {
            event.map(|event| {
                Ok::<_, actix_web::Error>(Bytes::from(line(kind, table, &mut columns_sent, event)))
            })
        })
    });
    let producer = watch.producer;
    let body = drained(req, lines, async move {
        let _ = producer.await;
    });
    Ok(respond(content_type, body))
}

fn respond<S>(content_type: &'static str, body: S) -> HttpResponse
where
    S: Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
{
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache, private"))
        .streaming(body)
}

/// One watch event as the JSON line the client reads.
fn line(
    kind: ResourceKind,
    table: Option<printers::IncludeObject>,
    columns_sent: &mut bool,
    event: WatchEvent,
) -> String {
    match event {
        WatchEvent::Object { watch_type, object } => match table {
            Some(include) => {
                let parsed: Value = serde_json::from_str(object.as_str()).unwrap_or(Value::Null);
                let rv = parsed
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let with_columns = !*columns_sent;
                *columns_sent = true;
                let table = printers::table(
                    kind.as_str(),
                    kind.api_version(),
                    std::slice::from_ref(&parsed),
                    jiff::Timestamp::now(),
                    include,
                    &rv,
                    None,
                    with_columns,
                );
                format!("{{\"type\":\"{watch_type}\",\"object\":{table}}}\n")
            }
            None => format!(
                "{{\"type\":\"{watch_type}\",\"object\":{}}}\n",
                object.as_str()
            ),
        },
        WatchEvent::Bookmark { resource_version } => format!(
            "{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{resource_version}\"}}}}}}\n",
            kind.as_str(),
            kind.api_version()
        ),
        WatchEvent::InitialEventsEnd { resource_version } => format!(
            "{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{resource_version}\",\"annotations\":{{\"k8s.io/initial-events-end\":\"true\"}}}}}}}}\n",
            kind.as_str(),
            kind.api_version()
        ),
        WatchEvent::Error { status } => format!("{{\"type\":\"ERROR\",\"object\":{status}}}\n"),
        WatchEvent::Heartbeat => "\n".to_string(),
    }
}

/// A streaming body that cannot outlive its end by more than `DRAIN_GRACE`: once `ended`
/// resolves, its client has that long to take the rest. After that the body (and whatever it
/// still holds) is dropped and, on HTTP/1, the connection shut down; actix itself would keep
/// both for as long as the client keeps its connection open without reading. (An HTTP/2
/// connection carries other streams, so only the body goes.)
pub fn drained<S>(
    req: &HttpRequest,
    body: S,
    ended: impl Future<Output = ()> + Send + 'static,
) -> Drained<S>
where
    S: Stream + Send + 'static,
{
    let slot: Slot<S> = Arc::new(Mutex::new(Some(Box::pin(body))));
    let connection = if req.version() < Version::HTTP_2 {
        ConnectionWatch::of(req)
    } else {
        None
    };
    let (dropped_tx, mut dropped) = oneshot::channel::<()>();
    let weak = Arc::downgrade(&slot);
    tokio::spawn(async move {
        tokio::select! {
            _ = ended => {}
            _ = &mut dropped => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(DRAIN_GRACE) => {}
            _ = &mut dropped => return,
        }
        let Some(slot) = weak.upgrade() else {
            return;
        };
        let untaken = take(&slot);
        if untaken.is_some() {
            drop(untaken);
            tracing::debug!("a watch response its client did not take was dropped");
            if let Some(connection) = connection {
                connection.shut_down();
            }
        }
    });
    Drained {
        slot,
        _dropped: dropped_tx,
    }
}

type Slot<S> = Arc<Mutex<Option<Pin<Box<S>>>>>;

fn take<S>(slot: &Slot<S>) -> Option<Pin<Box<S>>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// See `drained`.
pub struct Drained<S> {
    slot: Slot<S>,
    /// Dropped with the body: tells the task that would drop it that there is nothing to do.
    _dropped: oneshot::Sender<()>,
}

impl<S: Stream> Stream for Drained<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(body) = slot.as_mut() else {
            return Poll::Ready(None);
        };
        let next = body.as_mut().poll_next(cx);
        if let Poll::Ready(None) = next {
            *slot = None;
        }
        next
    }
}

impl<S> Drop for Drained<S> {
    fn drop(&mut self) {
        drop(take(&self.slot));
    }
}
