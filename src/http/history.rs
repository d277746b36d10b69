//! The log's own API group, `kubetrail.dev/v1alpha1`: `logentries` (the log with filters, and
//! `watch=true` for new entries as JSON lines), `history/<resource>/<name>` and
//! `why/<resource>/<name>` (namespaced under `namespaces/<ns>/`). Handlers parse the request
//! and call `history`; they run no SQL. All of it is read-only.

use super::error::ApiError;
use super::params::Query;
use super::{AppState, RequestVerb};
use crate::api::{GROUP, GROUP_VERSION as API_VERSION, VERSION};
use crate::history::query::{self, LogFilter};
use crate::history::{self as log_history, render, why};
use actix_web::body::SizedStream;
use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::stream;
use serde_json::{Value, json};
use std::time::Duration;

/// Entries per `logentries` page unless `limit` says otherwise.
const DEFAULT_PAGE: i64 = 500;
/// Events per history page unless `limit` says otherwise.
const DEFAULT_HISTORY: i64 = 1000;

/// `GET /apis/kubetrail.dev`
pub async fn group() -> HttpResponse {
    let mut group = group_json();
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    HttpResponse::Ok().json(group)
}

/// The group as `/apis` lists it.
pub fn group_json() -> Value {
    json!({
        "name": GROUP,
        "versions": [{"groupVersion": API_VERSION, "version": VERSION}],
        "preferredVersion": {"groupVersion": API_VERSION, "version": VERSION},
    })
}

/// The group's resources, as aggregated discovery lists them.
pub fn discovery_resources() -> Value {
    json!([{
        "resource": "logentries",
        "responseKind": {"group": GROUP, "version": VERSION, "kind": "LogEntry"},
        "scope": "Cluster",
        "singularResource": "logentry",
        "verbs": ["list", "watch"],
    }])
}

/// `GET /apis/kubetrail.dev/v1alpha1`
pub async fn resources() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": API_VERSION,
        "resources": [{"name": "logentries", "singularName": "logentry", "namespaced": false,
                       "kind": "LogEntry", "verbs": ["list", "watch"]}],
    }))
}

/// `/apis/kubetrail.dev/v1alpha1/{tail}`
pub async fn serve(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tail = req.match_info().get("tail").unwrap_or("").to_string();
    let segments: Vec<&str> = tail.trim_end_matches('/').split('/').collect();
    let query = Query::parse(req.query_string())?;
    let (namespace, rest) = match segments.as_slice() {
        ["namespaces", ns, rest @ ..] => (ns.to_string(), rest),
        rest => (String::new(), rest),
    };
    let (verb, resource) = match rest {
        ["logentries"] if query.flag("watch")? => ("watch", "logentries"),
        ["logentries"] => ("list", "logentries"),
        ["history", _, _] => ("get", "history"),
        ["why", _, _] => ("get", "why"),
        _ => return Err(ApiError::path_not_found()),
    };
    req.extensions_mut().insert(RequestVerb {
        verb,
        resource: resource.to_string(),
    });
    if req.method() != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    if resource == "logentries" && !namespace.is_empty() {
        return Err(ApiError::path_not_found());
    }
    match rest {
        ["logentries"] if verb == "watch" => watch_entries(&req, &state, &query),
        ["logentries"] => list_entries(&state, &query).await,
        ["history", resource, name] => history(&state, &query, &namespace, resource, name).await,
        ["why", resource, name] => explain(&state, &query, &namespace, resource, name).await,
        _ => Err(ApiError::path_not_found()),
    }
}

fn integer(query: &Query, key: &str) -> Result<Option<i64>, ApiError> {
    query
        .get(key)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for {key}: {v:?} (expected an integer)"
                ))
            })
        })
        .transpose()
}

/// The seq a page continues after: this group's continue tokens are the last seq of the page
/// before, never negative.
fn continue_after(query: &Query) -> Result<Option<i64>, ApiError> {
    match integer(query, "continue") {
        Ok(Some(seq)) if seq < 0 => Err(ApiError::bad_request(format!(
            "invalid continue token: {seq} is not a position in the log"
        ))),
        Ok(after) => Ok(after),
        Err(_) => Err(ApiError::bad_request(
            "invalid continue token: expected the resourceVersion the previous page ended at",
        )),
    }
}

fn limit(query: &Query, default: i64) -> Result<i64, ApiError> {
    Ok(integer(query, "limit")?
        .filter(|l| *l > 0)
        .unwrap_or(default)
        .min(log_history::MAX_PAGE))
}

/// The filter a `logentries` request names.
fn log_filter(query: &Query) -> Result<LogFilter, ApiError> {
    let text = |key: &str| query.get(key).filter(|v| !v.is_empty()).map(str::to_string);
    let kind = match text("kind") {
        Some(k) => Some(query::resolve_resource(&k)?.as_str().to_string()),
        None => None,
    };
    let time = |key: &str| text(key).map(|t| query::log_time(&t)).transpose();
    Ok(LogFilter {
        kind,
        namespace: text("namespace"),
        name: text("name"),
        uid: text("uid"),
        actor: text("actor"),
        event_types: text("type")
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        from_seq: integer(query, "fromResourceVersion")?,
        to_seq: integer(query, "toResourceVersion")?,
        since: time("since")?,
        until: time("until")?,
    })
}

async fn list_entries(state: &AppState, query: &Query) -> Result<HttpResponse, ApiError> {
    let filter = log_filter(query)?;
    let limit = limit(query, DEFAULT_PAGE)?;
    let after = continue_after(query)?.unwrap_or(0);
    let include_object = query.get("includeObject") != Some("false");
    let pool = state.store.readers();
    let last = query::last_seq(pool).await?;
    let entries = query::entries_with(pool, &filter, after, limit, include_object).await?;
    let mut metadata = json!({"resourceVersion": last.to_string()});
    mark_compaction(&mut metadata, pool).await?;
    if entries.len() as i64 == limit
        && let Some(end) = entries.last()
    {
        metadata["continue"] = json!(end.seq.to_string());
    }
    let items: Vec<Value> = entries.iter().map(|e| e.to_json(include_object)).collect();
    Ok(HttpResponse::Ok().json(json!({
        "apiVersion": API_VERSION, "kind": "LogEntryList", "metadata": metadata, "items": items,
    })))
}

/// A watch of new log entries: the entries after `resourceVersion` (default: the newest), then
/// each new one as it is committed, as `{"type":"ADDED","object":<LogEntry>}` lines. It wakes
/// on the log's publications and reads the entries from the log itself, so it never skips.
fn watch_entries(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    query: &Query,
) -> Result<HttpResponse, ApiError> {
    let filter = log_filter(query)?;
    let include_object = query.get("includeObject") != Some("false");
    let start = integer(query, "resourceVersion")?.filter(|rv| *rv > 0);
    let timeout = integer(query, "timeoutSeconds")?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64))
        .unwrap_or(state.watch.max_timeout)
        .min(state.watch.max_timeout);
    let deadline = tokio::time::Instant::now() + timeout;
    let heartbeat = state.watch.heartbeat;
    let live = state.log.subscribe();
    let cursor = start.unwrap_or_else(|| state.log.last_seq());
    let pool = state.store.readers().clone();
    struct Watch {
        live: tokio::sync::broadcast::Receiver<std::sync::Arc<crate::events::EventEnvelope>>,
        cursor: i64,
        pending: std::collections::VecDeque<query::LogEntry>,
    }
    let watch = Watch {
        live,
        cursor,
        pending: Default::default(),
    };
    let body = stream::unfold(Some(watch), move |watch| {
        let filter = filter.clone();
        let pool = pool.clone();
        async move {
            let mut watch = watch?;
            loop {
                // Checked before each entry, so a flood of new entries cannot carry a watch
                // past its deadline.
                if tokio::time::Instant::now() >= deadline {
                    return None;
                }
                if let Some(entry) = watch.pending.pop_front() {
                    let line = format!(
                        "{{\"type\":\"ADDED\",\"object\":{}}}\n",
                        entry.to_json(include_object)
                    );
                    return Some((
                        Ok::<_, actix_web::Error>(web::Bytes::from(line)),
                        Some(watch),
                    ));
                }
                match query::entries(&pool, &filter, watch.cursor, 500).await {
                    Ok(entries) if !entries.is_empty() => {
                        watch.cursor = entries.last().map_or(watch.cursor, |e| e.seq);
                        watch.pending.extend(entries);
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let status = ApiError::from(e).to_status();
                        let line = format!("{{\"type\":\"ERROR\",\"object\":{status}}}\n");
                        return Some((Ok(web::Bytes::from(line)), None));
                    }
                }
                // Nothing new in the log: wait for a commit, a heartbeat or the deadline.
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => return None,
                    _ = tokio::time::sleep(heartbeat) => {
                        return Some((Ok(web::Bytes::from_static(b"\n")), Some(watch)));
                    }
                    received = watch.live.recv() => {
                        if matches!(received, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                            return None;
                        }
                    }
                }
            }
        }
    });
    let body = super::watch::drained(req, body, tokio::time::sleep_until(deadline));
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-cache, private"))
        .streaming(body))
}

/// Resolve the object a history or why request names.
fn object(
    namespace: &str,
    resource: &str,
) -> Result<(crate::model::ResourceKind, String), ApiError> {
    let kind = query::resolve_resource(resource)?;
    let namespace = match kind.namespaced() {
        true if namespace.is_empty() => {
            return Err(ApiError::bad_request(format!(
                "{} are namespaced: ask under /apis/{API_VERSION}/namespaces/<namespace>/",
                kind.plural()
            )));
        }
        true => namespace.to_string(),
        false => String::new(),
    };
    Ok((kind, namespace))
}

/// Say where the log's full history begins in a view's `metadata`, when a compaction folded
/// part of it (the command-line views print the same as a line).
async fn mark_compaction(
    metadata: &mut Value,
    pool: &crate::store::Readers,
) -> Result<(), ApiError> {
    if let Some(c) = query::newest_compaction(pool).await? {
        metadata["compaction"] = render::compaction_json(&c);
    }
    Ok(())
}

async fn history(
    state: &AppState,
    query: &Query,
    namespace: &str,
    resource: &str,
    name: &str,
) -> Result<HttpResponse, ApiError> {
    let (kind, namespace) = object(namespace, resource)?;
    let pool = state.store.readers();
    let last = query::last_seq(pool).await?;
    let limit = limit(query, DEFAULT_HISTORY)?;
    let tail = integer(query, "tail")?.filter(|t| *t > 0);
    if tail.is_none() {
        let after = continue_after(query)?.unwrap_or(0);
        let page = query::recorded_history_page(pool, kind, &namespace, name, after, limit).await?;
        if let Some(page) = page
            && (page.count > 0 || after > 0)
        {
            let mut metadata = json!({"resourceVersion": last.to_string()});
            mark_compaction(&mut metadata, pool).await?;
            if page.count == limit {
                metadata["continue"] = json!(page.last_seq.to_string());
            }
            let head = json!({
                "apiVersion": API_VERSION, "kind": "History", "metadata": metadata,
                "involvedObject": {"apiVersion": kind.api_version(), "kind": kind.as_str(), "namespace": namespace, "name": name},
            })
            .to_string();
            // The items arrive as JSON text from SQLite: splice them in rather than parse them.
            let head = format!("{},\"items\":", head.strip_suffix('}').unwrap_or(&head));
            // Sent as three pieces, so the (possibly large) items are never copied again.
            let pieces = [
                Bytes::from(head),
                Bytes::from(page.items),
                Bytes::from_static(b"}"),
            ];
            let size = pieces.iter().map(|p| p.len() as u64).sum();
            let body = stream::iter(pieces.map(Ok::<_, actix_web::Error>));
            return Ok(HttpResponse::Ok()
                .content_type("application/json")
                .body(SizedStream::new(size, body)));
        }
    }
    let rows = match tail {
        Some(tail) => {
            log_history::history_tail(pool, kind, &namespace, name, tail.min(limit)).await?
        }
        None => {
            let after = continue_after(query)?.unwrap_or(0);
            log_history::history_page(pool, kind, &namespace, name, after, limit).await?
        }
    };
    if rows.is_empty() && continue_after(query)?.is_none() {
        return Err(log_history::HistoryError::NotFound(format!(
            "the log has no events of {} \"{name}\"",
            kind.qualified_resource()
        ))
        .into());
    }
    let mut metadata = json!({"resourceVersion": last.to_string()});
    mark_compaction(&mut metadata, pool).await?;
    if rows.len() as i64 == limit
        && let Some(end) = rows.last()
    {
        metadata["continue"] = json!(end.entry.seq.to_string());
    }
    let items: Vec<Value> = rows.iter().map(render::history_json).collect();
    Ok(HttpResponse::Ok().json(json!({
        "apiVersion": API_VERSION, "kind": "History", "metadata": metadata,
        "involvedObject": {"apiVersion": kind.api_version(), "kind": kind.as_str(), "namespace": namespace, "name": name},
        "items": items,
    })))
}

async fn explain(
    state: &AppState,
    query: &Query,
    namespace: &str,
    resource: &str,
    name: &str,
) -> Result<HttpResponse, ApiError> {
    let (kind, namespace) = object(namespace, resource)?;
    let pool = state.store.readers();
    let start = match integer(query, "resourceVersion")? {
        Some(seq) => {
            let entry = query::entry(pool, seq).await?;
            match entry {
                Some(e)
                    if e.kind == kind.as_str() && e.namespace == namespace && e.name == name =>
                {
                    e.seq
                }
                _ => {
                    return Err(log_history::HistoryError::NotFound(format!(
                        "resourceVersion {seq} is not an event of {} \"{name}\"",
                        kind.qualified_resource()
                    ))
                    .into());
                }
            }
        }
        None => {
            log_history::creation_of(pool, kind, &namespace, name)
                .await?
                .seq
        }
    };
    let links = log_history::why_chain(pool, start).await?;
    let mut body = why::to_json(&links);
    body["explanation"] = json!(why::render(&why::collapse(links)));
    // A chain that reaches the compaction point may have lost its older causes.
    if let Some(c) = query::newest_compaction(pool).await? {
        body["compaction"] = render::compaction_json(&c);
    }
    Ok(HttpResponse::Ok().json(body))
}
