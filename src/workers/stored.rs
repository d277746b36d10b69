//! What a controller's pass reads from the store besides the informer's snapshot: the kinds
//! the informer keeps nothing of (`cache::Holding::InStore`: core/v1 Events, thousands an hour,
//! kept an hour). A controller names what it reads (`StoreReads`); its loop reads that just
//! before each pass (`StoreReader`), so the pass stays a pure function of the snapshot, the rows
//! read (`Stored`) and the time.
//!
//! Events not written for a while are found by walking the log's writes of Events oldest
//! first: the log's order is the order of last writes, so the Events whose current version is
//! among the writes older than a bound are exactly those not written since. The walk keeps one
//! position between passes (and starts again from the log's first Event write when its server
//! starts), nothing per Event.

use super::cache::Informer;
use crate::events::StoreError;
use crate::model::{ResourceKind, meta};
use crate::projections::ListQuery;
use serde_json::Value;
use std::time::Duration;

/// What a pass reads from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreReads {
    /// Nothing: the snapshot is all it reads (most controllers).
    Nothing,
    /// The Events in each namespace being deleted, at most `EVENTS_PER_NAMESPACE` of each.
    EventsInTerminatingNamespaces,
    /// The Events last written more than `ttl` ago, oldest first, at most `limit`.
    EventsNotWrittenFor { ttl: Duration, limit: usize },
}

/// How many of a terminating namespace's Events one pass reads (and so deletes): a namespace
/// with more is emptied over several passes.
pub const EVENTS_PER_NAMESPACE: usize = 500;

/// Log rows one read of the walk fetches.
const WALK_PAGE: i64 = 1_000;

/// The most Event writes one pass walks over: bounded work however far behind the walk is (a
/// server started on a long log catches up over several passes).
const WALK_MOST: usize = 100_000;

/// A core/v1 Event as a pass reads it from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Its resourceVersion.
    pub version: i64,
    /// When the server last wrote it (the log's time of its current version), when read from
    /// the log.
    pub written: Option<jiff::Timestamp>,
    /// Its deletion has been asked for (it waits for finalizers).
    pub deleting: bool,
}

/// What was read from the store for one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub events: Vec<StoredEvent>,
}

impl Stored {
    /// The Events read in `namespace`.
    pub fn events_in<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a StoredEvent> {
        self.events.iter().filter(move |e| e.namespace == namespace)
    }
}

/// Reads what one controller names, pass after pass; keeps where its walk of the log's Event
/// writes stands.
#[derive(Debug, Default)]
pub struct StoreReader {
    /// Every Event write at or before this seq is known not to need looking at again.
    walked: i64,
}

impl StoreReader {
    /// What `reads` names, as of `now`, from the store `informer` follows (nothing from an
    /// informer someone else feeds).
    pub async fn read(
        &mut self,
        reads: StoreReads,
        informer: &Informer,
        now: jiff::Timestamp,
    ) -> Result<Stored, StoreError> {
        let Some(store) = informer.store() else {
            return Ok(Stored::default());
        };
        let events = match reads {
            StoreReads::Nothing => Vec::new(),
            StoreReads::EventsInTerminatingNamespaces => {
                let namespaces: Vec<String> = informer
                    .read()
                    .list(ResourceKind::Namespace)
                    .filter(|ns| meta::deletion_timestamp(ns).is_some())
                    .map(|ns| meta::name(ns).to_string())
                    .collect();
                let mut events = Vec::new();
                for namespace in namespaces {
                    let query = ListQuery {
                        namespace: Some(namespace),
                        limit: Some(EVENTS_PER_NAMESPACE),
                        ..ListQuery::default()
                    };
                    let page = store.list(ResourceKind::Event, &query, None).await?;
                    for json in page.items {
                        let event: Value =
                            serde_json::from_str(&json).map_err(StoreError::Corrupt)?;
                        events.push(StoredEvent {
                            namespace: meta::namespace(&event).to_string(),
                            name: meta::name(&event).to_string(),
                            uid: meta::uid(&event).to_string(),
                            version: meta::resource_version(&event).parse().unwrap_or(0),
                            written: None,
                            deleting: meta::deletion_timestamp(&event).is_some(),
                        });
                    }
                }
                events
            }
            StoreReads::EventsNotWrittenFor { ttl, limit } => {
                let ttl = jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX);
                let Ok(before) = now.checked_sub(ttl) else {
                    return Ok(Stored::default());
                };
                self.walk(store, before, limit).await?
            }
        };
        Ok(Stored { events })
    }

    /// The Events whose current version was written before `before`, oldest first, at most
    /// `limit`, walking on from where the last walk stopped.
    async fn walk(
        &mut self,
        store: &crate::projections::ReadStore,
        before: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut found = Vec::new();
        let mut at = self.walked;
        let mut walked = 0;
        'pages: loop {
            let page = store.event_writes_after(at, WALK_PAGE).await?;
            let full = page.len() as i64 == WALK_PAGE;
            for write in page {
                let written = write.time.parse::<jiff::Timestamp>().ok();
                if written.is_some_and(|w| w >= before) {
                    // The log's times follow its order: every later write is newer still.
                    break 'pages;
                }
                if write.current && !write.deleting {
                    found.push(StoredEvent {
                        namespace: write.namespace,
                        name: write.name,
                        uid: write.uid,
                        version: write.seq,
                        written,
                        deleting: false,
                    });
                }
                at = write.seq;
                walked += 1;
                if found.len() >= limit || walked >= WALK_MOST {
                    break 'pages;
                }
            }
            if !full {
                break;
            }
        }
        // The Events found stay ahead of the walk until they are gone: a deletion that did not
        // happen is found again next pass.
        self.walked = found.first().map_or(at, |e| e.version - 1);
        Ok(found)
    }
}
