//! `?watch=true`: turns a `projections::watch` stream into a chunked response of JSON watch
//! events, one per line, ending at `timeoutSeconds`.

use super::AppState;
use super::error::ApiError;
use super::params::{ListOptions, Query};
use super::target::Target;
use crate::projections::watch::{self, WatchEvent, WatchRequest};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::stream;

pub fn serve(
    _req: &HttpRequest,
    state: &web::Data<AppState>,
    target: &Target,
    query: &Query,
) -> Result<HttpResponse, ApiError> {
    let options = ListOptions::parse(target.kind, query)?;
    let timeout = options
        .timeout
        .unwrap_or(state.watch.max_timeout)
        .min(state.watch.max_timeout);
    let request = WatchRequest {
        kind: target.kind,
        namespace: target.namespace.clone(),
        filter: options.filter,
        resource_version: options.resource_version,
        bookmarks: options.bookmarks,
        timeout,
        heartbeat: state.watch.heartbeat,
    };
    let kind = target.kind;
    let events = watch::start(
        state.store.clone(),
        state.log.clone(),
        state.metrics.clone(),
        request,
    );
    let body = stream::unfold(events, move |mut events| async move {
        let event = events.recv().await?;
        let line = match event {
            WatchEvent::Object { watch_type, object } => {
                format!(
                    "{{\"type\":\"{watch_type}\",\"object\":{}}}\n",
                    object.as_str()
                )
            }
            WatchEvent::Bookmark { resource_version } => format!(
                "{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{resource_version}\"}}}}}}\n",
                kind.as_str(),
                kind.api_version()
            ),
            WatchEvent::Error { status } => format!("{{\"type\":\"ERROR\",\"object\":{status}}}\n"),
            WatchEvent::Heartbeat => "\n".to_string(),
        };
        Some((Ok::<_, actix_web::Error>(web::Bytes::from(line)), events))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-cache, private"))
        .streaming(body))
}
