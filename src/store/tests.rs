//! The store against real databases, migrated as a server's, each case on both engines: a
//! SQLite file in a temporary directory, and a fresh database of a PostgreSQL server. Commits
//! keep the log and the projections together, reads at a past seq see the state then, and a
//! rebuild (from genesis or from a snapshot) gives the rows the writer maintained.
//!
//! The PostgreSQL server is the one `KUBETRAIL_TEST_POSTGRES` names (a URL whose user may
//! create databases), or else one the tests start (`server`, the end-to-end tests' starter in
//! `tests/support/postgres.rs`): Debian's PostgreSQL 15 in a temporary directory, on a Unix
//! socket there only, stopped when the test process exits.

use super::*;
use crate::model::meta;
use serde_json::json;
use std::collections::BTreeMap;

/// Which engine a case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

/// Each case, once per engine: `on_sqlite::NAME` and `on_postgres::NAME` run `NAME(engine)`.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Engine::Sqlite).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Engine::Postgres).await
                }
            )*
        }
    };
}

on_both_engines!(
    an_append_projects_its_objects_in_the_same_transaction,
    a_delete_removes_the_projection_row_and_the_log_keeps_the_event,
    a_list_at_a_past_seq_returns_the_state_then,
    a_rebuild_gives_the_rows_the_writer_maintained_from_genesis_and_from_a_snapshot,
    last_seq_follows_the_appends,
    the_watch_replay_carries_each_events_previous_object,
    a_full_database_is_a_full_disk,
    entries_at_many_seqs_are_read_together_without_their_objects,
    the_log_is_append_only_after_its_compaction_point_and_never_updated,
    a_compaction_folds_the_chosen_history_and_keeps_every_fold_after_its_point,
    a_sqlite_log_prefix_is_copied_seq_for_seq,
    a_secret_is_sealed_at_rest_with_the_data_directorys_key,
    the_writes_of_core_events_come_in_log_order_marked_current_or_not,
    a_log_is_moved_as_stored_into_either_engine_with_its_compactions_and_keys,
);

/// A database and the writer's bookkeeping for hand-made events.
struct Log {
    /// The data directory (the SQLite file, the encryption keys).
    dir: tempfile::TempDir,
    database: Database,
    writer: Writer,
    readers: Readers,
    /// Each object's last event seq (for `prev_seq`).
    last: BTreeMap<ObjectKey, i64>,
    seq: i64,
}

/// One event to commit: (kind, namespace, name, event type, object).
type Change<'a> = (ResourceKind, &'a str, &'a str, &'a str, Value);

/// Where a case's database lives, in the data directory `dir`: a new SQLite file, or a new
/// database of the test PostgreSQL server.
async fn database(engine: Engine, dir: &std::path::Path) -> Database {
    match engine {
        Engine::Sqlite => Database::Sqlite(dir.join("state.db")),
        Engine::Postgres => Database::Postgres {
            url: server::new_database().await,
            data_dir: dir.to_path_buf(),
        },
    }
}

impl Log {
    async fn new(engine: Engine) -> Log {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = database(engine, dir.path()).await;
        Log::open(dir, database).await
    }

    /// A log in `database`, whose data directory is `dir`.
    async fn open(dir: tempfile::TempDir, database: Database) -> Log {
        let (writer, readers) = open(database.clone()).await.expect("database");
        Log {
            dir,
            database,
            writer,
            readers,
            last: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Commit `changes` as one batch, as the writer does: each event appended, each object's
    /// last state projected (or its row removed), the position recorded.
    async fn commit(&mut self, changes: Vec<Change<'_>>) -> Result<(), StoreError> {
        let mut staged = Vec::new();
        let (seq_before, last_before) = (self.seq, self.last.clone());
        for (kind, namespace, name, event_type, mut object) in changes {
            self.seq += 1;
            meta::set_meta(&mut object, "resourceVersion", json!(self.seq.to_string()));
            let key = (kind, namespace.to_string(), name.to_string());
            // A deleted object's next event starts a new incarnation: no previous one.
            let prev_seq = if event_type == DELETED {
                self.last.remove(&key)
            } else {
                self.last.insert(key.clone(), self.seq)
            };
            let json = object.to_string();
            staged.push((key, self.seq, prev_seq, event_type, object, json));
        }
        let events: Vec<NewEvent<'_>> = staged
            .iter()
            .map(
                |((kind, namespace, name), seq, prev_seq, event_type, object, json)| NewEvent {
                    row: EventRow {
                        seq: *seq,
                        time: "2026-01-01T00:00:00.000000000Z",
                        api_version: kind.api_version(),
                        kind: kind.as_str(),
                        namespace,
                        name,
                        uid: meta::uid(object),
                        event_type,
                        event_version: 1,
                        prev_seq: *prev_seq,
                        object: json,
                        actor: "tester",
                        user_agent: None,
                        field_manager: None,
                        request_id: "r",
                        caused_by: None,
                        causes: None,
                    },
                    changes: "[]",
                },
            )
            .collect();
        // Each object once, with its last state in the batch.
        let mut last: BTreeMap<&ObjectKey, usize> = BTreeMap::new();
        for (index, (key, ..)) in staged.iter().enumerate() {
            last.insert(key, index);
        }
        let rows: Vec<(&ObjectKey, Option<ProjectedRow<&str>>)> = last
            .into_iter()
            .map(|(key, index)| {
                let (_, seq, _, event_type, object, json) = &staged[index];
                let row = (*event_type != DELETED).then(|| ProjectedRow {
                    uid: meta::uid(object),
                    seq: *seq,
                    node_name: node_name_of(key.0, object),
                    object: json.as_str(),
                });
                (key, row)
            })
            .collect();
        let result = self.writer.commit(&events, &rows, self.seq).await;
        if result.is_err() {
            // Nothing of the batch is in the log: its seqs are free again.
            self.seq = seq_before;
            self.last = last_before;
        }
        result
    }

    /// Every projection row, and the position the projections record.
    async fn projections(&self) -> (BTreeMap<(String, String, String), ProjectedRow>, i64) {
        let mut rows = BTreeMap::new();
        let applied = self
            .readers
            .scan_log_and_projections::<StoreError>(
                |_| Ok(()),
                |key, row| {
                    rows.insert(key, row);
                },
            )
            .await
            .expect("scan");
        (rows, applied)
    }
}

fn pod(name: &str, uid: &str, node: Option<&str>, label: &str) -> Value {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": uid, "labels": {"v": label}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    if let Some(node) = node {
        pod["spec"]["nodeName"] = json!(node);
    }
    pod
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "uid": format!("ns-{name}")}})
}

fn key(kind: &str, namespace: &str, name: &str) -> (String, String, String) {
    (kind.to_string(), namespace.to_string(), name.to_string())
}

/// A history with every kind of change: creates, updates, a bind, a delete, a re-creation
/// under the same name, a cluster-scoped kind.
async fn busy(log: &mut Log) {
    log.commit(vec![
        (
            ResourceKind::Namespace,
            "",
            "default",
            "Created",
            namespace("default"),
        ),
        (
            ResourceKind::Pod,
            "default",
            "a",
            "Created",
            pod("a", "ua", None, "1"),
        ),
        (
            ResourceKind::Pod,
            "default",
            "b",
            "Created",
            pod("b", "ub", None, "1"),
        ),
    ])
    .await
    .expect("first batch");
    log.commit(vec![
        (
            ResourceKind::Pod,
            "default",
            "a",
            "Bound",
            pod("a", "ua", Some("n1"), "1"),
        ),
        (
            ResourceKind::Pod,
            "default",
            "b",
            "Updated",
            pod("b", "ub", None, "2"),
        ),
        (
            ResourceKind::Pod,
            "default",
            "b",
            "Deleted",
            pod("b", "ub", None, "2"),
        ),
    ])
    .await
    .expect("second batch");
    log.commit(vec![
        (
            ResourceKind::Pod,
            "default",
            "b",
            "Created",
            pod("b", "ub2", Some(""), "3"),
        ),
        (
            ResourceKind::Pod,
            "default",
            "c",
            "Created",
            pod("c", "uc", None, "1"),
        ),
    ])
    .await
    .expect("third batch");
}

async fn an_append_projects_its_objects_in_the_same_transaction(engine: Engine) {
    let mut log = Log::new(engine).await;
    log.commit(vec![(
        ResourceKind::Pod,
        "default",
        "a",
        "Created",
        pod("a", "ua", Some("n1"), "1"),
    )])
    .await
    .expect("commit");
    let (rows, applied) = log.projections().await;
    assert_eq!(applied, 1);
    let row = &rows[&key("Pod", "default", "a")];
    assert_eq!((row.uid.as_str(), row.seq), ("ua", 1));
    assert_eq!(row.node_name.as_deref(), Some("n1"));
    let stored = log
        .readers
        .get(ResourceKind::Pod, "default", "a")
        .await
        .expect("get")
        .expect("the pod is projected");
    assert_eq!(stored.seq, 1);
    assert_eq!(stored.json, row.object);
    let logged = log.readers.entry(1).await.expect("entry").expect("event 1");
    assert_eq!(logged.object, row.object);

    // A batch whose append fails leaves no projection row either: one transaction.
    log.writer.refuse_appends_named("z").await.expect("trigger");
    let refused = log
        .commit(vec![
            (
                ResourceKind::Pod,
                "default",
                "y",
                "Created",
                pod("y", "uy", None, "1"),
            ),
            (
                ResourceKind::Pod,
                "default",
                "z",
                "Created",
                pod("z", "uz", None, "1"),
            ),
        ])
        .await;
    assert!(
        matches!(refused, Err(StoreError::Database(_))),
        "{refused:?}"
    );
    let (after, applied) = log.projections().await;
    assert_eq!(after, rows);
    assert_eq!(applied, 1);
    assert_eq!(log.readers.last_seq().await.expect("last seq"), 1);
}

async fn a_delete_removes_the_projection_row_and_the_log_keeps_the_event(engine: Engine) {
    let mut log = Log::new(engine).await;
    busy(&mut log).await;
    let (rows, _) = log.projections().await;
    // `b` was deleted in the second batch and created again (another uid) in the third.
    assert_eq!(rows[&key("Pod", "default", "b")].uid, "ub2");
    log.commit(vec![(
        ResourceKind::Pod,
        "default",
        "c",
        "Deleted",
        pod("c", "uc", None, "1"),
    )])
    .await
    .expect("delete");
    let (rows, applied) = log.projections().await;
    assert!(!rows.contains_key(&key("Pod", "default", "c")));
    assert_eq!(applied, log.seq);
    assert!(
        log.readers
            .get(ResourceKind::Pod, "default", "c")
            .await
            .expect("get")
            .is_none()
    );
    let deleted = log
        .readers
        .entry(log.seq)
        .await
        .expect("entry")
        .expect("the delete is in the log");
    assert_eq!(
        (deleted.event_type.as_str(), deleted.name.as_str()),
        (DELETED, "c")
    );
}

async fn the_writes_of_core_events_come_in_log_order_marked_current_or_not(engine: Engine) {
    let mut log = Log::new(engine).await;
    let event = |name: &str, count: i64| {
        json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "default", "uid": format!("u{name}")},
            "count": count})
    };
    let e = ResourceKind::Event;
    log.commit(vec![
        (e, "default", "a", "Created", event("a", 1)),
        (
            ResourceKind::Pod,
            "default",
            "p",
            "Created",
            pod("p", "up", None, "1"),
        ),
        (e, "default", "b", "Created", event("b", 1)),
        (e, "default", "c", "Created", event("c", 1)),
    ])
    .await
    .expect("first");
    log.commit(vec![
        (e, "default", "a", "Updated", event("a", 2)),
        (e, "default", "c", "Deleted", event("c", 1)),
    ])
    .await
    .expect("second");
    let writes = log
        .readers
        .event_writes_after(0, 100)
        .await
        .expect("writes");
    let seen: Vec<(i64, &str, bool)> = writes
        .iter()
        .map(|w| (w.seq, w.name.as_str(), w.current))
        .collect();
    // The pod's write is not among them; `a` was written again and `c` deleted.
    assert_eq!(
        seen,
        [
            (1, "a", false),
            (3, "b", true),
            (4, "c", false),
            (5, "a", true),
            (6, "c", false)
        ]
    );
    assert_eq!(
        (writes[1].uid.as_str(), writes[1].namespace.as_str()),
        ("ub", "default")
    );
    assert!(writes.iter().all(|w| !w.deleting && !w.time.is_empty()));
    let page: Vec<i64> = log
        .readers
        .event_writes_after(3, 2)
        .await
        .expect("a page")
        .iter()
        .map(|w| w.seq)
        .collect();
    assert_eq!(page, [4, 5]);
}

/// Two servers' writers on one PostgreSQL log: a batch decided before the other's append is
/// refused whole, and appends after the log's end; the other's events are read with their
/// objects' previous states, and every commit is announced.
#[tokio::test]
async fn a_commit_behind_a_shared_log_is_refused_whole() {
    let mut first = Log::new(Engine::Postgres).await;
    let other_dir = tempfile::tempdir().expect("temp dir");
    let Database::Postgres { url, .. } = first.database.clone() else {
        unreachable!("a PostgreSQL log")
    };
    let mut notices = first.readers.append_notices().await.expect("listen");
    assert!(notices.shared());
    let mut second = Log::open(
        other_dir,
        Database::Postgres {
            url,
            data_dir: first.dir.path().to_path_buf(),
        },
    )
    .await;
    let p = ResourceKind::Pod;
    first
        .commit(vec![(
            p,
            "default",
            "a",
            "Created",
            pod("a", "ua", None, "1"),
        )])
        .await
        .expect("first server");
    let reached = tokio::time::timeout(std::time::Duration::from_secs(5), notices.next())
        .await
        .expect("a notice")
        .expect("listening");
    assert_eq!(reached, Some(1));
    // The second server had not seen seq 1: its batch is refused, nothing of it written.
    let refused = second
        .commit(vec![(
            p,
            "default",
            "b",
            "Created",
            pod("b", "ub", None, "1"),
        )])
        .await;
    assert!(
        matches!(refused, Err(StoreError::Behind { last: 1 })),
        "{refused:?}"
    );
    assert_eq!(first.readers.last_seq().await.expect("last"), 1);
    // Having read the log, it appends after its end.
    second.seq = 1;
    second.last.insert((p, "default".into(), "a".into()), 1);
    second
        .commit(vec![(
            p,
            "default",
            "a",
            "Updated",
            pod("a", "ua", None, "2"),
        )])
        .await
        .expect("after the end");
    let read = first.readers.appended_after(0, 10).await.expect("read");
    let seen: Vec<(i64, &str, bool)> = read
        .iter()
        .map(|(row, previous)| (row.seq, row.event_type.as_str(), previous.is_some()))
        .collect();
    assert_eq!(seen, [(1, "Created", false), (2, "Updated", true)]);
    assert!(read[1].1.as_deref().unwrap_or("").contains(r#""v":"1""#));
}

async fn a_list_at_a_past_seq_returns_the_state_then(engine: Engine) {
    let mut log = Log::new(engine).await;
    busy(&mut log).await;
    let names = |page: &ListPage| -> Vec<(String, String)> {
        page.items
            .iter()
            .map(|json| {
                let object: Value = serde_json::from_str(json).expect("json");
                (
                    meta::name(&object).to_string(),
                    meta::resource_version(&object).to_string(),
                )
            })
            .collect()
    };
    let query = ListQuery {
        namespace: Some("default".into()),
        ..Default::default()
    };
    let at = |seq| log.readers.list_at(ResourceKind::Pod, &query, None, seq);
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(n, rv)| (n.to_string(), rv.to_string()))
            .collect()
    };
    // After the first batch: a and b as created.
    let first = at(3).await.expect("list at 3");
    assert_eq!(first.resource_version, 3);
    assert_eq!(names(&first), pairs(&[("a", "2"), ("b", "3")]));
    // Mid second batch: b updated, not yet deleted.
    assert_eq!(
        names(&at(5).await.expect("list at 5")),
        pairs(&[("a", "4"), ("b", "5")])
    );
    // After it: b deleted.
    assert_eq!(
        names(&at(6).await.expect("list at 6")),
        pairs(&[("a", "4")])
    );
    // Now: the same as the projections.
    let now = at(log.seq).await.expect("list now");
    let current = log
        .readers
        .list(ResourceKind::Pod, &query, None)
        .await
        .expect("list");
    assert_eq!(now.items, current.items);
    assert_eq!(current.resource_version, log.seq);
    // A page of one, continued.
    let paged = ListQuery {
        limit: Some(1),
        ..query.clone()
    };
    let page = log
        .readers
        .list_at(ResourceKind::Pod, &paged, None, 3)
        .await
        .expect("page");
    assert_eq!(names(&page), pairs(&[("a", "2")]));
    assert_eq!(
        page.continue_after,
        Some(("default".to_string(), "a".to_string()))
    );
}

async fn a_rebuild_gives_the_rows_the_writer_maintained_from_genesis_and_from_a_snapshot(
    engine: Engine,
) {
    let mut log = Log::new(engine).await;
    busy(&mut log).await;
    let (live, applied) = log.projections().await;
    assert_eq!(log.writer.rebuild().await.expect("rebuild"), log.seq as u64);
    assert_eq!(log.projections().await, (live, applied));

    let (at, copied) = log
        .writer
        .take_snapshot()
        .await
        .expect("snapshot")
        .expect("a new snapshot");
    assert_eq!((at, copied), (log.seq, 4));
    assert_eq!(log.writer.take_snapshot().await.expect("again"), None);
    // After the snapshot: an update, a delete, a re-creation, a new object.
    log.commit(vec![
        (
            ResourceKind::Pod,
            "default",
            "a",
            "Updated",
            pod("a", "ua", Some("n2"), "2"),
        ),
        (
            ResourceKind::Pod,
            "default",
            "c",
            "Deleted",
            pod("c", "uc", None, "1"),
        ),
    ])
    .await
    .expect("after the snapshot");
    log.commit(vec![
        (
            ResourceKind::Pod,
            "default",
            "c",
            "Created",
            pod("c", "uc2", None, "9"),
        ),
        (
            ResourceKind::Namespace,
            "",
            "other",
            "Created",
            namespace("other"),
        ),
        (
            ResourceKind::Pod,
            "default",
            "b",
            "Deleted",
            pod("b", "ub2", None, "3"),
        ),
    ])
    .await
    .expect("more");
    assert_eq!(
        log.writer
            .events_since_newest_snapshot()
            .await
            .expect("since"),
        5
    );
    let (live, applied) = log.projections().await;
    assert_eq!(
        log.writer
            .newest_snapshot_at_or_before(i64::MAX)
            .await
            .expect("newest"),
        at
    );
    log.writer
        .rebuild()
        .await
        .expect("rebuild from the snapshot");
    assert_eq!(log.projections().await, (live.clone(), applied));
    assert!(!live.contains_key(&key("Pod", "default", "b")));
    assert_eq!(live[&key("Pod", "default", "c")].uid, "uc2");
    assert_eq!(
        live[&key("Pod", "default", "a")].node_name.as_deref(),
        Some("n2")
    );
}

async fn last_seq_follows_the_appends(engine: Engine) {
    let mut log = Log::new(engine).await;
    assert_eq!(log.readers.last_seq().await.expect("empty"), 0);
    assert_eq!(log.writer.last_seq().await.expect("empty"), 0);
    busy(&mut log).await;
    assert_eq!(log.seq, 8);
    assert_eq!(log.readers.last_seq().await.expect("last seq"), 8);
    assert_eq!(log.writer.last_seq().await.expect("last seq"), 8);
    assert!(log.writer.projections_current().await.expect("current"));
    // Events appended without their projections leave the projections behind.
    let object = pod("d", "ud", None, "1").to_string();
    let event = NewEvent {
        row: EventRow {
            seq: 9,
            time: "2026-01-01T00:00:01.000000000Z",
            api_version: "v1",
            kind: "Pod",
            namespace: "default",
            name: "d",
            uid: "ud",
            event_type: "Created",
            event_version: 1,
            prev_seq: None,
            object: &object,
            actor: "tester",
            user_agent: Some("bench"),
            field_manager: None,
            request_id: "r",
            caused_by: Some(2),
            causes: None,
        },
        changes: "[]",
    };
    log.writer
        .append_unprojected(std::slice::from_ref(&event))
        .await
        .expect("append");
    assert_eq!(log.readers.last_seq().await.expect("last seq"), 9);
    assert!(!log.writer.projections_current().await.expect("behind"));
    let read = log.readers.entry(9).await.expect("entry").expect("event 9");
    assert_eq!(
        read,
        EventRow {
            seq: 9,
            time: event.row.time.to_string(),
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "default".into(),
            name: "d".into(),
            uid: "ud".into(),
            event_type: "Created".into(),
            event_version: 1,
            prev_seq: None,
            object,
            actor: "tester".into(),
            user_agent: Some("bench".into()),
            field_manager: None,
            request_id: "r".into(),
            caused_by: Some(2),
            causes: None,
        }
    );
    log.writer.rebuild().await.expect("rebuild");
    assert!(log.writer.projections_current().await.expect("current"));
}

async fn the_watch_replay_carries_each_events_previous_object(engine: Engine) {
    let mut log = Log::new(engine).await;
    busy(&mut log).await;
    let replayed = log
        .readers
        .events_after(ResourceKind::Pod, Some("default"), 3, 100)
        .await
        .expect("replay");
    let seen: Vec<(i64, &str, Option<i64>, bool)> = replayed
        .iter()
        .map(|(row, prev)| {
            (
                row.seq,
                row.event_type.as_str(),
                row.prev_seq,
                prev.is_some(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (4, "Bound", Some(2), true),
            (5, "Updated", Some(3), true),
            (6, "Deleted", Some(5), true),
            (7, "Created", None, false),
            (8, "Created", None, false),
        ]
    );
    let (bound, prev) = &replayed[0];
    let before = log.readers.entry(2).await.expect("entry").expect("event 2");
    assert_eq!(prev.as_deref(), Some(before.object.as_str()));
    assert_ne!(bound.object, before.object);
    let everything = log.readers.log_after(0, 100).await.expect("log");
    assert_eq!(everything.len(), 8);
    assert_eq!(everything[0].kind, "Namespace");
}

async fn a_full_database_is_a_full_disk(engine: Engine) {
    let mut log = Log::new(engine).await;
    busy(&mut log).await;
    // SQLite answers a database at its page limit as it answers a full disk (SQLITE_FULL);
    // on PostgreSQL a trigger raises what a full disk does (SQLSTATE 53100).
    log.writer.limit_pages_to_current().await.expect("limit");
    let big = "x".repeat(1 << 16);
    let refused = log
        .commit(vec![(
            ResourceKind::Pod,
            "default",
            "big",
            "Created",
            pod("big", "ubig", None, &big),
        )])
        .await;
    assert!(matches!(refused, Err(StoreError::DiskFull)), "{refused:?}");
}

#[test]
fn the_deleted_event_type_is_the_events_one() {
    assert_eq!(crate::events::EventType::Deleted.as_str(), DELETED);
    assert_eq!(
        crate::events::EventType::DeletionRequested.as_str(),
        DELETION_REQUESTED
    );
}

fn entry(seq: i64, kind: &str, name: &str, event_type: &str, actor: &str) -> EventRow {
    EventRow::example(seq, kind, name, event_type, actor)
}

#[test]
fn the_where_clause_and_matches_agree() {
    let filter = LogFilter {
        kind: Some("Pod".into()),
        actor: Some("alice".into()),
        event_types: vec!["Created".into(), "Deleted".into()],
        from_seq: Some(3),
        until: Some("2026-01-01T00:00:09.000000000Z".into()),
        ..Default::default()
    };
    let (clause, binds) = sqlite::where_clause(&filter);
    assert_eq!(
        clause,
        " WHERE kind = ? AND actor = ? AND event_type IN (?, ?) AND seq >= ? AND time <= ?"
    );
    assert_eq!(binds.len(), 6);
    for (entry, expected, why) in [
        (
            entry(5, "Pod", "a", "Created", "alice"),
            true,
            "everything matches",
        ),
        (
            entry(2, "Pod", "a", "Created", "alice"),
            false,
            "before from_seq",
        ),
        (
            entry(5, "Node", "a", "Created", "alice"),
            false,
            "another kind",
        ),
        (
            entry(5, "Pod", "a", "Updated", "alice"),
            false,
            "another type",
        ),
        (
            entry(5, "Pod", "a", "Deleted", "bob"),
            false,
            "another actor",
        ),
        (
            entry(10, "Pod", "a", "Deleted", "alice"),
            false,
            "after until",
        ),
    ] {
        assert_eq!(filter.matches(&entry), expected, "{why}");
    }
    assert_eq!(sqlite::where_clause(&LogFilter::default()).0, "");
    let (clause, binds) = postgres::where_clause(&filter, &mut Default::default());
    assert_eq!(
        clause,
        " WHERE kind = $1 AND actor = $2 AND event_type IN ($3, $4) AND seq >= $5 AND time <= $6"
    );
    assert_eq!(binds.len(), 6);
}

async fn entries_at_many_seqs_are_read_together_without_their_objects(engine: Engine) {
    let mut log = Log::new(engine).await;
    busy(&mut log).await;
    let seqs: Vec<i64> = (1..=8).chain([42]).collect();
    let found = log
        .readers
        .entries_without_objects_at(&seqs)
        .await
        .expect("entries");
    assert_eq!(found.len(), 8, "seq 42 is not in the log");
    for seq in 1..=8 {
        let one = log
            .readers
            .entry(seq)
            .await
            .expect("entry")
            .expect("exists");
        let many = &found[&seq];
        assert_eq!(many.object, "{}");
        assert_eq!(
            (
                &many.kind,
                &many.namespace,
                &many.name,
                &many.event_type,
                &many.actor
            ),
            (
                &one.kind,
                &one.namespace,
                &one.name,
                &one.event_type,
                &one.actor
            )
        );
    }
}

#[tokio::test]
async fn a_grown_write_ahead_log_is_cut_back_once_readers_let_go() {
    use sqlx::Connection as _;
    let mut log = Log::new(Engine::Sqlite).await;
    log.writer
        .leave_checkpoints_to_checkpointer()
        .await
        .expect("no automatic checkpoints");
    let database = log.dir.path().join("state.db");
    let mut checkpointer = connect_checkpointer(&database).await.expect("checkpointer");
    // A reader inside a transaction keeps SQLite from starting the log over.
    let mut reader = sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
        .await
        .expect("reader");
    sqlx::query("BEGIN")
        .execute(&mut reader)
        .await
        .expect("begin");
    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&mut reader)
        .await
        .expect("read");
    let big = "x".repeat(1 << 20);
    for i in 0..40 {
        let name = format!("big-{i}");
        log.commit(vec![(
            ResourceKind::Pod,
            "default",
            &name,
            "Created",
            pod(&name, &format!("u{i}"), None, &big),
        )])
        .await
        .expect("commit");
        checkpointer.checkpoint().await.expect("checkpoint");
    }
    let held = checkpointer.checkpoint().await.expect("checkpoint");
    assert!(held > WAL_LIMIT_BYTES, "the reader holds the log: {held}");
    assert_eq!(log.readers.wal_size() as u64, held);
    sqlx::query("COMMIT")
        .execute(&mut reader)
        .await
        .expect("end");
    let after = checkpointer.checkpoint().await.expect("checkpoint");
    assert!(after <= WAL_LIMIT_BYTES, "{after}");
    // Nothing was lost on the way.
    let page = log
        .readers
        .list(ResourceKind::Pod, &ListQuery::default(), None)
        .await
        .expect("list");
    assert_eq!(page.items.len(), 40);
}

fn event(name: &str, count: i64) -> Value {
    json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": "default", "uid": format!("ev-{name}")},
        "involvedObject": {"kind": "Pod", "name": "a"}, "count": count})
}

/// A log with what a compaction folds and what it keeps: Events written again and deleted, a
/// pod's status updates around a person's update, a ConfigMap a person changed.
async fn retained(log: &mut Log) {
    let status = |phase: &str| {
        let mut p = pod("a", "ua", Some("n1"), "1");
        p["status"] = json!({"phase": phase});
        p
    };
    let configmap = |v: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "default", "uid": "ucm"}, "data": {"v": v}})
    };
    let batches: Vec<Vec<Change<'_>>> = vec![
        vec![(
            ResourceKind::Pod,
            "default",
            "a",
            "Created",
            pod("a", "ua", None, "1"),
        )],
        vec![(
            ResourceKind::Event,
            "default",
            "e1",
            "Created",
            event("e1", 1),
        )],
        vec![(
            ResourceKind::Pod,
            "default",
            "a",
            "StatusUpdated",
            status("Pending"),
        )],
        vec![(
            ResourceKind::Event,
            "default",
            "e1",
            "Updated",
            event("e1", 2),
        )],
        vec![(
            ResourceKind::ConfigMap,
            "default",
            "cm",
            "Created",
            configmap("1"),
        )],
        vec![(
            ResourceKind::Pod,
            "default",
            "a",
            "StatusUpdated",
            status("Running"),
        )],
        vec![(
            ResourceKind::Event,
            "default",
            "e2",
            "Created",
            event("e2", 1),
        )],
        vec![(
            ResourceKind::ConfigMap,
            "default",
            "cm",
            "Updated",
            configmap("2"),
        )],
        vec![(
            ResourceKind::Event,
            "default",
            "e2",
            "Deleted",
            event("e2", 1),
        )],
        // 10: the compaction point in the test.
        vec![(
            ResourceKind::Pod,
            "default",
            "a",
            "StatusUpdated",
            status("Succeeded"),
        )],
        vec![(
            ResourceKind::Event,
            "default",
            "e1",
            "Updated",
            event("e1", 3),
        )],
        vec![(
            ResourceKind::Pod,
            "default",
            "a",
            "StatusUpdated",
            status("Failed"),
        )],
    ];
    for batch in batches {
        log.commit(batch).await.expect("commit");
    }
}

async fn the_log_is_append_only_after_its_compaction_point_and_never_updated(engine: Engine) {
    let mut log = Log::new(engine).await;
    retained(&mut log).await;
    let delete = |seq: i64| format!("DELETE FROM events WHERE seq = {seq}");
    assert!(
        log.writer.execute_raw(&delete(1)).await.is_err(),
        "before any compaction"
    );
    let plan = CompactionPlan {
        through: 5,
        kinds: vec![],
        status_updates: true,
        actor: "tester".into(),
    };
    log.writer.begin_compaction(&plan).await.expect("recorded");
    assert!(
        log.writer.execute_raw(&delete(6)).await.is_err(),
        "after the point"
    );
    assert!(
        log.writer
            .execute_raw("UPDATE events SET actor = 'x' WHERE seq = 1")
            .await
            .is_err(),
        "an update"
    );
    assert!(
        log.writer
            .execute_raw("UPDATE compactions SET seq_through = 12")
            .await
            .is_err(),
        "moving the point"
    );
    assert!(
        log.writer
            .execute_raw("DELETE FROM compactions")
            .await
            .is_err()
    );
    assert_eq!(
        log.writer
            .execute_raw(&delete(3))
            .await
            .expect("at or before it"),
        1
    );
}

async fn a_compaction_folds_the_chosen_history_and_keeps_every_fold_after_its_point(
    engine: Engine,
) {
    let mut log = Log::new(engine).await;
    retained(&mut log).await;
    let query = ListQuery::default();
    let mut before = Vec::new();
    for kind in [
        ResourceKind::Pod,
        ResourceKind::Event,
        ResourceKind::ConfigMap,
    ] {
        for at in 10..=log.seq {
            before.push(
                log.readers
                    .list_at(kind, &query, None, at)
                    .await
                    .expect("list")
                    .items,
            );
        }
    }
    let (projections, _) = log.projections().await;
    log.writer.take_snapshot().await.expect("snapshot");
    let plan = CompactionPlan {
        through: 10,
        kinds: vec!["Event".into()],
        status_updates: true,
        actor: "tester".into(),
    };
    let (compaction, total) = log.writer.begin_compaction(&plan).await.expect("begin");
    // Events: e1's 2 and 4 (its newest by 10 is 4: only 2 goes), e2's 7 and 9 (deleted).
    // Pod a's status updates 3 and 6 (superseded by 10); 10 itself stays.
    assert_eq!(total, 5);
    let mut cursor = CompactionCursor::default();
    let mut removed = 0;
    while let Some(step) = log
        .writer
        .compact_step(&compaction, &mut cursor)
        .await
        .expect("step")
    {
        removed += step;
    }
    assert_eq!(removed, 5);
    let kept: Vec<i64> = log
        .readers
        .entries(&LogFilter::default(), 0, 100, false)
        .await
        .expect("entries")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(kept, [1, 4, 5, 8, 10, 11, 12]);
    let recorded = log.readers.compactions().await.expect("compactions");
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (recorded[0].seq_through, recorded[0].events_removed),
        (10, 5)
    );
    assert_eq!(log.readers.compaction_point().await.expect("point"), 10);
    // Every list at or after the point is what it was; before it, refused.
    let mut after = Vec::new();
    for kind in [
        ResourceKind::Pod,
        ResourceKind::Event,
        ResourceKind::ConfigMap,
    ] {
        for at in 10..=log.seq {
            after.push(
                log.readers
                    .list_at(kind, &query, None, at)
                    .await
                    .expect("list")
                    .items,
            );
        }
    }
    assert_eq!(after, before);
    assert!(matches!(
        log.readers
            .list_at(ResourceKind::Pod, &query, None, 9)
            .await,
        Err(StoreError::Compacted {
            requested: 9,
            through: 10
        })
    ));
    assert!(matches!(
        log.readers
            .events_after(ResourceKind::Pod, None, 9, 10)
            .await,
        Err(StoreError::Compacted { .. })
    ));
    assert_eq!(
        log.readers
            .events_after(ResourceKind::Pod, None, 10, 10)
            .await
            .expect("after the point")
            .len(),
        1
    );
    // The history entries went with their events.
    let page = log
        .readers
        .recorded_history_page(ResourceKind::Pod, "default", "a", 0, 100)
        .await
        .expect("page")
        .expect("every event has its entry");
    assert_eq!(page.count, 3);
    // The projections are still the fold of the log, from genesis (the older snapshot went).
    assert_eq!(
        log.writer
            .newest_snapshot_at_or_before(i64::MAX)
            .await
            .expect("newest"),
        12,
        "a snapshot at or after the point stays"
    );
    log.writer.rebuild().await.expect("rebuild");
    assert_eq!(log.projections().await.0, projections);
    // Nothing more to do: a second compaction at the same point removes nothing.
    let (again, total) = log.writer.begin_compaction(&plan).await.expect("again");
    assert_eq!(total, 0);
    let mut cursor = CompactionCursor::default();
    while let Some(step) = log
        .writer
        .compact_step(&again, &mut cursor)
        .await
        .expect("step")
    {
        assert_eq!(step, 0);
    }
}

/// One event with every optional field set, and strings JSON must escape, appended alone.
async fn append_odd_event(log: &mut Log, seq: i64) {
    let object = pod("d", "ud", None, "é\"\\\u{1}\t☃").to_string();
    let causes = Cause::list_json(&[Cause::new(2, "0 of 1 \"pods\" ☃"), Cause::new(3, "x")]);
    let event = NewEvent {
        row: EventRow {
            seq,
            time: "2026-01-01T00:00:09.000000000Z",
            api_version: "v1",
            kind: "Pod",
            namespace: "default",
            name: "d",
            uid: "ud",
            event_type: "Created",
            event_version: 2,
            prev_seq: None,
            object: &object,
            actor: "system:serviceaccount:kube-system:\"x\"",
            user_agent: Some("kubectl/v1.37 \"quoted\" \\ é ☃ \u{1}\u{1f}\n\t\r\u{8}\u{c}/"),
            field_manager: Some("manager ☃ \"m\""),
            request_id: "r-\u{7f}",
            caused_by: Some(2),
            causes: Some(&causes),
        },
        changes: "[{\"path\":\"/spec\",\"op\":\"add\"}]",
    };
    log.writer
        .append_unprojected(std::slice::from_ref(&event))
        .await
        .expect("append");
}

/// The log's events up to `to`, with their objects.
async fn read(log: &Log, to: i64) -> Vec<EventRow> {
    let filter = LogFilter {
        to_seq: Some(to),
        ..Default::default()
    };
    log.readers
        .entries(&filter, 0, 100, true)
        .await
        .expect("entries")
}

/// A pod's recorded history.
async fn pod_history(log: &Log, name: &str) -> RecordedPage {
    log.readers
        .recorded_history_page(ResourceKind::Pod, "default", name, 0, 100)
        .await
        .expect("page")
        .expect("recorded")
}

async fn a_sqlite_log_prefix_is_copied_seq_for_seq(engine: Engine) {
    let mut source = Log::new(Engine::Sqlite).await;
    busy(&mut source).await;
    append_odd_event(&mut source, 9).await;
    let file = source.dir.path().join("state.db");
    let everything = LogFilter::default();

    let mut prefix = Log::new(engine).await;
    let copied = prefix.writer.copy_log_from(&file, 6).await.expect("copy");
    assert_eq!(copied, 6);
    assert_eq!(read(&prefix, 100).await, read(&source, 6).await);
    prefix.writer.rebuild().await.expect("rebuild");
    let query = ListQuery::default();
    assert_eq!(
        prefix
            .readers
            .list(ResourceKind::Pod, &query, None)
            .await
            .expect("list")
            .items,
        source
            .readers
            .list_at(ResourceKind::Pod, &query, None, 6)
            .await
            .expect("list at 6")
            .items
    );

    let mut whole = Log::new(engine).await;
    let copied = whole.writer.copy_log_from(&file, 100).await.expect("copy");
    assert_eq!(copied, 9);
    assert_eq!(
        whole
            .readers
            .entries(&everything, 0, 100, true)
            .await
            .expect("entries"),
        read(&source, 100).await
    );
    // The history entries are made from the copied rows by each engine's trigger: the same
    // text, byte for byte, escapes and all.
    for name in ["a", "b", "d"] {
        let copied = pod_history(&whole, name).await;
        assert_eq!(copied, pod_history(&source, name).await);
        let _: Value = serde_json::from_str(&copied.items).expect("the page is JSON");
    }
    whole.writer.rebuild().await.expect("rebuild");
    assert!(whole.writer.projections_current().await.expect("current"));
    assert_eq!(
        whole
            .readers
            .get(ResourceKind::Pod, "default", "d")
            .await
            .expect("get")
            .expect("d")
            .json,
        read(&source, 100).await[8].object
    );
}

async fn a_secret_is_sealed_at_rest_with_the_data_directorys_key(engine: Engine) {
    let value = "c2VjcmV0LXZhbHVl";
    let secret = || {
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "default", "uid": "us"}, "data": {"k": value}})
    };
    let created = || vec![(ResourceKind::Secret, "default", "s", "Created", secret())];
    let mut log = Log::new(engine).await;
    log.commit(created()).await.expect("commit");
    assert!(log.dir.path().join(seal::KEY_FILE).exists());
    let served = log
        .readers
        .get(ResourceKind::Secret, "default", "s")
        .await
        .expect("get")
        .expect("the secret");
    assert!(served.json.contains(value));
    let (rows, applied) = log.projections().await;
    let at_rest = &rows[&key("Secret", "default", "s")];
    assert!(!at_rest.object.contains(value), "{}", at_rest.object);
    assert_eq!(at_rest.uid, "us");
    // A rebuild copies the sealed text and reads the uid it carries in the clear.
    log.writer.rebuild().await.expect("rebuild");
    assert_eq!(log.projections().await, (rows, applied));

    // A copied log brings its keys into the data directory.
    let mut source = Log::new(Engine::Sqlite).await;
    source.commit(created()).await.expect("commit");
    let mut copy = Log::new(engine).await;
    copy.writer
        .copy_log_from(&source.dir.path().join("state.db"), 1)
        .await
        .expect("copy");
    copy.writer.rebuild().await.expect("rebuild");
    // Readers opened after the copy (as `replay` serves it) hold the adopted key.
    let copied = open_readers(copy.database.clone())
        .await
        .expect("readers")
        .get(ResourceKind::Secret, "default", "s")
        .await
        .expect("get")
        .expect("the secret");
    let original = source
        .readers
        .get(ResourceKind::Secret, "default", "s")
        .await
        .expect("get")
        .expect("the secret");
    assert_eq!(copied.json, original.json);
    assert!(copied.json.contains(value));
}

/// A compacted log with a Secret, an event with every optional field, and one that recorded
/// no changes, on `engine`.
async fn compacted_log_with_a_secret(engine: Engine) -> Log {
    let mut log = Log::new(engine).await;
    retained(&mut log).await;
    let plan = CompactionPlan {
        through: 10,
        kinds: vec!["Event".into()],
        status_updates: true,
        actor: "tester".into(),
    };
    let (compaction, _) = log.writer.begin_compaction(&plan).await.expect("begin");
    let mut cursor = CompactionCursor::default();
    while log
        .writer
        .compact_step(&compaction, &mut cursor)
        .await
        .expect("step")
        .is_some()
    {}
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default", "uid": "us"}, "data": {"k": "c2VjcmV0"}});
    log.commit(vec![(
        ResourceKind::Secret,
        "default",
        "s",
        "Created",
        secret,
    )])
    .await
    .expect("secret");
    append_odd_event(&mut log, 14).await;
    log.writer
        .execute_raw(
            "INSERT INTO events (seq, time, api_version, kind, namespace, name, uid, event_type, \
             event_version, prev_seq, object, actor, user_agent, field_manager, request_id, \
             caused_by, changes, causes) VALUES (15, '2026-01-01T00:00:15.000000000Z', 'v1', \
             'ConfigMap', 'default', 'old', 'uo', 'Created', 1, NULL, \
             '{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"old\",\"namespace\":\"default\",\"uid\":\"uo\"}}', \
             'tester', NULL, NULL, 'r', NULL, NULL, NULL)",
        )
        .await
        .expect("an event without recorded changes");
    log.writer.rebuild().await.expect("rebuild");
    log
}

/// Every event of `log` as stored, read a page of `page` at a time.
async fn stored(log: &Log, page: i64) -> Vec<StoredEvent> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &StoredEvent| e.row.seq);
        let next = log
            .readers
            .stored_events_after(after, page)
            .await
            .expect("stored events");
        if next.is_empty() {
            return all;
        }
        all.extend(next);
    }
}

async fn a_log_is_moved_as_stored_into_either_engine_with_its_compactions_and_keys(engine: Engine) {
    let source = compacted_log_with_a_secret(engine).await;
    let events = stored(&source, 3).await;
    assert_eq!(
        events.iter().map(|e| e.row.seq).collect::<Vec<_>>(),
        [1, 4, 5, 8, 10, 11, 12, 13, 14, 15]
    );
    assert!(
        events[7].row.object.contains("k8s:enc:aesgcm:v1:"),
        "sealed as stored"
    );
    assert_eq!(events[9].changes, None);
    for target_engine in [Engine::Sqlite, Engine::Postgres] {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = database(target_engine, dir.path()).await;
        // The keys first: the target's directory gets the source's key file as it is.
        carry_keys(&source.database, &database).expect("keys");
        assert_eq!(
            std::fs::read(dir.path().join(seal::KEY_FILE)).expect("copied key file"),
            std::fs::read(source.dir.path().join(seal::KEY_FILE)).expect("key file")
        );
        let mut target = Log::open(dir, database).await;
        let compactions = source.readers.compactions().await.expect("compactions");
        target
            .writer
            .record_compactions(&compactions)
            .await
            .expect("compactions");
        for page in events.chunks(4) {
            target.writer.append_stored(page).await.expect("append");
        }
        target.writer.rebuild().await.expect("rebuild");
        // The same log byte for byte, the same history entries, compactions, projections.
        assert_eq!(stored(&target, 100).await, events, "{target_engine:?}");
        assert_eq!(read(&target, 100).await, read(&source, 100).await);
        for name in ["a", "d"] {
            assert_eq!(
                pod_history(&target, name).await,
                pod_history(&source, name).await
            );
        }
        assert_eq!(
            target.readers.compactions().await.expect("compactions"),
            compactions
        );
        assert_eq!(target.readers.compaction_point().await.expect("point"), 10);
        assert_eq!(target.projections().await, source.projections().await);
        let secret = |log: &Log| {
            let readers = log.readers.clone();
            async move {
                readers
                    .get(ResourceKind::Secret, "default", "s")
                    .await
                    .expect("get")
                    .expect("the secret")
                    .json
            }
        };
        let opened = secret(&target).await;
        assert!(opened.contains("c2VjcmV0"), "{opened}");
        assert_eq!(opened, secret(&source).await);
        // A later compaction in the target gets an id after the copied ones.
        let plan = CompactionPlan {
            through: 13,
            kinds: vec![],
            status_updates: true,
            actor: "tester".into(),
        };
        let (next, _) = target.writer.begin_compaction(&plan).await.expect("begin");
        assert_eq!(next.id, compactions[0].id + 1);
    }
}

#[tokio::test]
async fn postgres_keeps_its_write_ahead_log_itself_and_serves_read_only() {
    let mut log = Log::new(Engine::Postgres).await;
    busy(&mut log).await;
    let mut checkpointer = connect_checkpointer(log.database.clone())
        .await
        .expect("checkpointer");
    assert_eq!(checkpointer.checkpoint().await.expect("checkpoint"), 0);
    checkpointer.close().await;
    assert_eq!(log.readers.wal_size(), 0);
    assert!(log.readers.database_size().await.expect("size") > 0);
    log.writer
        .leave_checkpoints_to_checkpointer()
        .await
        .expect("nothing to turn off");
    assert!(
        log.writer
            .vacuums_incrementally()
            .await
            .expect("autovacuum")
    );
    assert_eq!(
        log.writer.incremental_vacuum_step().await.expect("vacuum"),
        0
    );
    log.writer.vacuum().await.expect("vacuum full");
    assert_eq!(log.readers.last_seq().await.expect("last seq"), 8);

    let (mut writer, readers) = open_read_only(log.database.clone())
        .await
        .expect("read-only");
    assert_eq!(readers.last_seq().await.expect("last seq"), 8);
    assert!(writer.execute_raw("DELETE FROM objects").await.is_err());
    let debugging = open_readers(log.database.clone()).await.expect("readers");
    let (census, oldest) = debugging.census().await.expect("census");
    assert_eq!(oldest, 1);
    assert_eq!(
        census,
        [("Namespace".to_string(), 1, 1), ("Pod".to_string(), 7, 3)]
    );
    // A database nothing migrated is refused, saying what to run.
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = database(Engine::Postgres, dir.path()).await;
    let refused = open_read_only(empty).await.err().expect("refused");
    assert!(refused.to_string().contains("needs migrating"), "{refused}");
}

/// The names of the pods a list gives, whole and a page of two at a time, now and at the
/// log's position.
async fn listed_names(log: &Log) -> Vec<Vec<String>> {
    let names = |page: &ListPage| -> Vec<String> {
        page.items
            .iter()
            .map(|json| {
                let object: Value = serde_json::from_str(json).expect("json");
                meta::name(&object).to_string()
            })
            .collect()
    };
    let all = ListQuery::default();
    let whole = log
        .readers
        .list(ResourceKind::Pod, &all, None)
        .await
        .expect("list");
    let at = log
        .readers
        .list_at(ResourceKind::Pod, &all, None, log.seq)
        .await
        .expect("list at");
    let mut paged = Vec::new();
    let mut query = ListQuery {
        limit: Some(2),
        ..Default::default()
    };
    loop {
        let page = log
            .readers
            .list(ResourceKind::Pod, &query, None)
            .await
            .expect("page");
        paged.extend(names(&page));
        match page.continue_after {
            Some(after) => query.start_after = Some(after),
            None => break,
        }
    }
    vec![names(&whole), names(&at), paged]
}

#[tokio::test]
async fn names_are_ordered_bytewise_on_both_engines_whatever_the_databases_locale() {
    let names = ["a", "B", "_x", "b-1", "b.1", "Z", "é", "e"];
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.sort();
    let created = || {
        names
            .iter()
            .map(|n| {
                (
                    ResourceKind::Pod,
                    "default",
                    *n,
                    "Created",
                    pod(n, &format!("u{n}"), None, "1"),
                )
            })
            .collect::<Vec<Change<'_>>>()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let english = Database::Postgres {
        url: new_database_in_english().await,
        data_dir: dir.path().to_path_buf(),
    };
    let mut logs = vec![
        Log::new(Engine::Sqlite).await,
        Log::new(Engine::Postgres).await,
        Log::open(dir, english).await,
    ];
    for log in &mut logs {
        log.commit(created()).await.expect("commit");
        assert_eq!(listed_names(log).await, vec![expected.clone(); 3]);
    }
}

#[test]
fn a_database_is_a_postgres_url_or_a_path() {
    let dir = std::path::Path::new("/data");
    let url = "postgresql://kt:secret@db.example:5432/kubetrail";
    let database = Database::parse(url, dir);
    assert_eq!(
        database,
        Database::Postgres {
            url: url.into(),
            data_dir: dir.into()
        }
    );
    assert_eq!(
        database.to_string(),
        "postgresql://kt@db.example:5432/kubetrail"
    );
    let in_query = "postgres://kt@/kubetrail?host=/run/pg&password=secret&sslmode=disable";
    assert_eq!(
        Database::parse(in_query, dir).to_string(),
        "postgres://kt@/kubetrail?host=/run/pg&sslmode=disable"
    );
    assert!(matches!(
        Database::parse("postgres://localhost/k", dir),
        Database::Postgres { .. }
    ));
    assert_eq!(
        Database::parse("/data/state.db", dir),
        Database::Sqlite("/data/state.db".into())
    );
    assert_eq!(
        Database::from(std::path::Path::new("x.db")),
        Database::Sqlite("x.db".into())
    );
}

/// The PostgreSQL server of the test process, and a fresh database of it for each case: the
/// end-to-end tests' starter, shared with them.
#[path = "../../tests/support/postgres.rs"]
mod server;

/// A new database of the test server whose own collation is English (ICU), not bytewise: the
/// schema's columns must keep SQLite's order in it.
async fn new_database_in_english() -> String {
    server::new_database_with(
        "TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'",
    )
    .await
}
