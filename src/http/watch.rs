//! `?watch=true`: turns a `projections::watch` stream into a chunked response of JSON watch
//! events, one per line, ending at `timeoutSeconds`.

use super::AppState;
use super::body::{self, ResponseFormat};
use super::error::ApiError;
use super::params::{ListOptions, Query};
use super::target::Target;
use crate::model::printers;
use crate::projections::watch::{self, WatchEvent, WatchRequest};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::stream;
use serde_json::Value;

pub fn serve(
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
    let request = WatchRequest {
        kind: target.kind,
        namespace: target.namespace.clone(),
        filter: options.filter,
        resource_version: options.resource_version,
        bookmarks: options.bookmarks,
        send_initial_events: options.send_initial_events,
        timeout,
        heartbeat: state.watch.heartbeat,
    };
    let kind = target.kind;
    let table = match body::response_format(req) {
        ResponseFormat::Table => Some(
            printers::IncludeObject::parse(query.get("includeObject"))
                .map_err(ApiError::bad_request)?,
        ),
        _ => None,
    };
    let events = watch::start(
        state.store.clone(),
        state.log.clone(),
        state.metrics.clone(),
        request,
    );
    // Only the first Table event carries column definitions, as kube-apiserver sends them.
    let body = stream::unfold(
        (events, false),
        move |(mut events, mut columns_sent)| async move {
            let event = events.recv().await?;
            let line = match event {
                WatchEvent::Object { watch_type, object } => match table {
                    Some(include) => {
                        let parsed: Value =
                            serde_json::from_str(object.as_str()).unwrap_or(Value::Null);
                        let rv = parsed
                            .pointer("/metadata/resourceVersion")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        let with_columns = !columns_sent;
                        columns_sent = true;
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
                WatchEvent::Error { status } => {
                    format!("{{\"type\":\"ERROR\",\"object\":{status}}}\n")
                }
                WatchEvent::Heartbeat => "\n".to_string(),
            };
            Some((
                Ok::<_, actix_web::Error>(web::Bytes::from(line)),
                (events, columns_sent),
            ))
        },
    );
    let content_type = if table.is_some() {
        body::TABLE
    } else {
        "application/json"
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache, private"))
        .streaming(body))
}
