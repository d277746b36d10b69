//! `ReadStore`: every read of current state and of the log by the server's readers (HTTP,
//! watches, the informer), on the store's read pool (WAL lets reads run beside the writer),
//! with the log's kinds and event types parsed. Lists read one consistent snapshot and report
//! the resourceVersion it reflects.

use crate::events::{EventType, StoreError};
use crate::model::ResourceKind;
use crate::store::{EventRow, EventWrite, ListPage, ListQuery, Readers, StoredObject};
use serde_json::Value;

#[derive(Clone)]
pub struct ReadStore {
    readers: Readers,
}

/// A log row as the read side replays it (watches, the workers' informer): the stored row,
/// its kind and event type parsed.
pub struct Replayed {
    pub row: EventRow,
    pub kind: ResourceKind,
    pub event_type: EventType,
    /// The object's state before this event (JSON), where the read asked for it.
    pub previous: Option<String>,
}

impl ReadStore {
    pub fn new(readers: Readers) -> Self {
        ReadStore { readers }
    }

    /// The store's read pool, for the readers that are not the server's (the log's debugging
    /// queries in `history`).
    pub fn readers(&self) -> &Readers {
        &self.readers
    }

    pub async fn get(
        &self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<StoredObject>, StoreError> {
        self.readers.get(kind, namespace, name).await
    }

    /// List `kind`, keeping the objects `keep` accepts (all when `None`), in one snapshot.
    pub async fn list(
        &self,
        kind: ResourceKind,
        query: &ListQuery,
        keep: Option<&(dyn Fn(&Value) -> bool + Sync)>,
    ) -> Result<ListPage, StoreError> {
        self.readers.list(kind, query, keep).await
    }

    /// List `kind` as it was at log position `at` (a `resourceVersionMatch=Exact` list): for
    /// each object its newest event with seq <= `at`, unless that event deleted it.
    pub async fn list_at(
        &self,
        kind: ResourceKind,
        query: &ListQuery,
        keep: Option<&(dyn Fn(&Value) -> bool + Sync)>,
        at: i64,
    ) -> Result<ListPage, StoreError> {
        self.readers.list_at(kind, query, keep, at).await
    }

    /// Log rows of `kind` after `seq` (optionally in one namespace), oldest first, each with
    /// the object's previous state (JSON), as a watch replays them.
    pub async fn events_after(
        &self,
        kind: ResourceKind,
        namespace: Option<&str>,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<Replayed>, StoreError> {
        let rows = self
            .readers
            .events_after(kind, namespace, seq, limit)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(row, previous)| Replayed {
                kind,
                event_type: EventType::parse(&row.event_type).unwrap_or(EventType::Updated),
                row,
                previous,
            })
            .collect())
    }

    /// The writes of core/v1 Events after `after`, oldest first, at most `limit`, each with
    /// whether it is still the Event's current version.
    pub async fn event_writes_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<EventWrite>, StoreError> {
        self.readers.event_writes_after(after, limit).await
    }

    /// Log rows of every kind after `seq`, oldest first; rows of kinds or event types this
    /// server does not know are skipped.
    pub async fn log_after(&self, seq: i64, limit: i64) -> Result<Vec<Replayed>, StoreError> {
        let rows = self.readers.log_after(seq, limit).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some(Replayed {
                    kind: ResourceKind::from_kind(&row.kind)?,
                    event_type: EventType::parse(&row.event_type)?,
                    row,
                    previous: None,
                })
            })
            .collect())
    }

    /// The log's compaction point: lists and watches before it are refused (0: never
    /// compacted).
    pub async fn compaction_point(&self) -> Result<i64, StoreError> {
        self.readers.compaction_point().await
    }

    /// Highest seq in the log (0 when empty).
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        self.readers.last_seq().await
    }

    /// Size of the database file in bytes.
    pub async fn database_size(&self) -> Result<i64, StoreError> {
        self.readers.database_size().await
    }

    /// Size of the write-ahead log file in bytes.
    pub fn wal_size(&self) -> i64 {
        self.readers.wal_size()
    }
}
