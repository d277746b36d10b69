//! Debugging with the log: what happened to an object and why, the log itself with filters,
//! past states, a replay of the log into a read-only sandbox, a check of today's controllers
//! against the decisions they recorded, and a verification of the projections. Reads the log;
//! writes only into new data directories (`replay`) and the derived snapshot tables, except
//! `compact`, which folds history at or before a compaction point through the store.
//!
//! Pure parts: `diff`, `why`, `render`, the folds and comparisons in `verify` and `check`.
//! I/O parts: `query`, `replay`, `cli`, which call the store (`store::Readers`); no SQL here.

pub mod check;
pub mod compact;
pub mod migrate;
pub mod query;
pub mod render;
pub mod replay;
pub mod rollout;
pub mod verify;
pub mod why;

use crate::model::ResourceKind;
use crate::store::{Readers, StoreError};
use query::LogEntry;

/// Errors of the debugging layer. `http::error` maps them to a `Status` once.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The request itself is wrong (bad reference, bad time, bad range).
    #[error("{0}")]
    BadRequest(String),
    /// Nothing in the log matches.
    #[error("{0}")]
    NotFound(String),
    #[error("database error")]
    Database(#[source] crate::store::DatabaseError),
    #[error("stored object is not valid JSON")]
    Corrupt(#[source] serde_json::Error),
    #[error("{0}")]
    Io(String),
}

impl HistoryError {
    /// The log holds nothing about the object `kind` `namespace`/`name`.
    pub fn no_events_of(kind: ResourceKind, namespace: &str, name: &str) -> Self {
        let scope = if namespace.is_empty() {
            String::new()
        } else {
            format!(" in namespace \"{namespace}\"")
        };
        HistoryError::NotFound(format!(
            "the log has no events of {} \"{name}\"{scope}",
            kind.qualified_resource()
        ))
    }
}

impl From<StoreError> for HistoryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Database(e) => HistoryError::Database(e),
            StoreError::Corrupt(e) => HistoryError::Corrupt(e),
            other => HistoryError::Io(other.to_string()),
        }
    }
}

/// Most entries one history or events page returns.
pub const MAX_PAGE: i64 = 10_000;

/// One page of an object's history (after seq `after`), each row with its diff.
pub async fn history_page(
    pool: &Readers,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<render::HistoryRow>, HistoryError> {
    let entries = query::object_history(pool, kind, namespace, name, after, limit).await?;
    let before_first = match entries.first().and_then(|e| e.prev_seq) {
        Some(prev) => query::entry(pool, prev)
            .await?
            .map(|e| e.object_value())
            .transpose()?,
        None => None,
    };
    Ok(render::history_rows(entries, before_first))
}

/// The newest `limit` rows of an object's history (for `--tail`), oldest first.
pub async fn history_tail(
    pool: &Readers,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
    limit: i64,
) -> Result<Vec<render::HistoryRow>, HistoryError> {
    let filter = query::LogFilter {
        kind: Some(kind.as_str().to_string()),
        namespace: Some(namespace.to_string()),
        name: Some(name.to_string()),
        ..Default::default()
    };
    let newest = query::newest_entries(pool, &filter, limit).await?;
    let Some(first) = newest.first() else {
        return Ok(vec![]);
    };
    history_page(pool, kind, namespace, name, first.seq - 1, limit).await
}

/// The event `why` explains when none is named: the creation of the object's newest
/// incarnation (its first event with its current uid).
pub async fn creation_of(
    pool: &Readers,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
) -> Result<LogEntry, HistoryError> {
    let filter = query::LogFilter {
        kind: Some(kind.as_str().to_string()),
        namespace: Some(namespace.to_string()),
        name: Some(name.to_string()),
        ..Default::default()
    };
    let newest = query::newest_entries(pool, &filter, 1).await?;
    let Some(newest) = newest.into_iter().next() else {
        return Err(HistoryError::no_events_of(kind, namespace, name));
    };
    let by_uid = query::LogFilter {
        uid: Some(newest.uid.clone()),
        ..Default::default()
    };
    let first = query::entries(pool, &by_uid, 0, 1).await?;
    Ok(first.into_iter().next().unwrap_or(newest))
}

/// Follow `caused_by` from event `seq` back to its origin: each link with its changes.
pub async fn why_chain(pool: &Readers, seq: i64) -> Result<Vec<why::Link>, HistoryError> {
    /// A bound on the walk; causes always point to smaller seqs, so it ends anyway.
    const MAX_LINKS: usize = 10_000;
    let mut links = Vec::new();
    let mut next = Some(seq);
    while let Some(at) = next {
        if links.len() >= MAX_LINKS {
            break;
        }
        let Some(entry) = query::entry(pool, at).await? else {
            if links.is_empty() {
                let through = pool.compaction_point().await?;
                return Err(HistoryError::NotFound(if at <= through {
                    format!(
                        "the log has no event at resourceVersion {at}: history before \
                         resourceVersion {through} is compacted"
                    )
                } else {
                    format!("the log has no event at resourceVersion {at}")
                }));
            }
            // The cause is gone (compacted): `why::origin` says so.
            break;
        };
        let before = match entry.prev_seq {
            Some(prev) => query::entry(pool, prev)
                .await?
                .map(|e| e.object_value())
                .transpose()?,
            None => None,
        };
        next = entry.caused_by.filter(|c| *c < entry.seq);
        links.push(why::Link::new(entry, before.as_ref()));
    }
    // Name the other causes each link recorded (their events, without objects).
    let named: Vec<i64> = links
        .iter()
        .flat_map(|l| l.causes.iter().map(|(c, _)| c.seq))
        .collect::<std::collections::BTreeSet<i64>>()
        .into_iter()
        .collect();
    if !named.is_empty() {
        let found = query::entries_without_objects_at(pool, &named).await?;
        for link in &mut links {
            for (cause, entry) in &mut link.causes {
                *entry = found.get(&cause.seq).cloned();
            }
        }
    }
    Ok(links)
}
