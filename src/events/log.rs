//! `EventLog`: the single writer. Submissions queue on a channel; one task drains them in
//! batches, runs `decide` for each inside one `BEGIN IMMEDIATE` transaction (a savepoint per
//! submission), appends the events, updates the projections, commits with `synchronous=FULL`,
//! and only then answers the submitters and publishes the envelopes (group commit).

use super::command::{Command, RequestMeta};
use super::decide::{Change, DecideContext, decide};
use super::error::{CommandError, StoreError, SubmitError};
use super::event::{EventEnvelope, EventType};
use crate::metrics::Metrics;
use crate::model::{ResourceKind, meta};
use crate::projections;
use serde_json::{Value, json};
use sqlx::{Connection, SqliteConnection};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Most submissions folded into one transaction.
const MAX_BATCH: usize = 512;

/// The outcome of an accepted command.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The object after the command (for a delete: its last state). `None` only when a
    /// command changed nothing about an object that does not exist (never for accepted writes).
    pub object: Value,
    /// The events appended, in order; empty when the command changed nothing or was a dry run.
    pub envelopes: Vec<Arc<EventEnvelope>>,
}

impl Submitted {
    /// Whether the object is gone after this command.
    pub fn deleted(&self) -> bool {
        self.envelopes
            .last()
            .is_some_and(|e| e.event_type == EventType::Deleted)
    }
}

struct Submission {
    command: Command,
    meta: RequestMeta,
    reply: oneshot::Sender<Result<Submitted, SubmitError>>,
}

/// Handle to the event log; cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    queue: mpsc::Sender<Submission>,
    published: broadcast::Sender<Arc<EventEnvelope>>,
    last_seq: Arc<AtomicI64>,
}

impl EventLog {
    /// Start the writer task on `conn` (the only connection that writes). Returns when the
    /// writer is running; the task ends when every `EventLog` handle is dropped.
    pub async fn start(
        mut conn: SqliteConnection,
        metrics: Arc<Metrics>,
        watch_buffer: usize,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), StoreError> {
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
            .fetch_one(&mut conn)
            .await?;
        let last_seq = Arc::new(AtomicI64::new(last));
        let (queue, rx) = mpsc::channel(4096);
        let (published, _) = broadcast::channel(watch_buffer.max(16));
        let writer = Writer {
            conn,
            namespaces: HashMap::new(),
            failed: false,
            last_seq: last_seq.clone(),
            published: published.clone(),
            metrics,
        };
        let task = tokio::spawn(writer.run(rx));
        Ok((
            EventLog {
                queue,
                published,
                last_seq,
            },
            task,
        ))
    }

    /// Run `command` through `decide` and append what it decides. Resolves after commit.
    #[tracing::instrument(skip_all, fields(actor = %meta.actor, request_id = %meta.request_id))]
    pub async fn submit(
        &self,
        command: Command,
        meta: RequestMeta,
    ) -> Result<Submitted, SubmitError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Submission {
                command,
                meta,
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Envelopes published after each commit, in seq order. A receiver that falls more than
    /// the buffer behind gets `Lagged` and must resume from the log.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventEnvelope>> {
        self.published.subscribe()
    }

    /// The seq of the last committed event (the newest resourceVersion).
    pub fn last_seq(&self) -> i64 {
        self.last_seq.load(Ordering::Acquire)
    }

    pub fn subscriber_count(&self) -> usize {
        self.published.receiver_count()
    }
}

struct Writer {
    conn: SqliteConnection,
    /// Namespaces as committed, so a namespaced write does not read its namespace from disk.
    /// Only this writer changes namespaces; a rolled-back batch clears the cache.
    namespaces: HashMap<String, Option<Value>>,
    /// Set when a statement of the open batch failed: the batch is rolled back, not committed.
    failed: bool,
    last_seq: Arc<AtomicI64>,
    published: broadcast::Sender<Arc<EventEnvelope>>,
    metrics: Arc<Metrics>,
}

/// What one submission produced inside the open transaction.
type Pending = (
    oneshot::Sender<Result<Submitted, SubmitError>>,
    Result<Submitted, SubmitError>,
);

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Submission>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch).await;
        }
    }

    async fn commit_batch(&mut self, batch: Vec<Submission>) {
        let started = Instant::now();
        let size = batch.len();
        if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut self.conn).await {
            tracing::error!(error = %e, "could not begin a write transaction");
            for submission in batch {
                let _ = submission
                    .reply
                    .send(Err(StoreError::Database(clone_sqlx_error(&e)).into()));
            }
            return;
        }
        let committed_before = self.last_seq.load(Ordering::Acquire);
        let mut next_seq = committed_before + 1;
        let mut pending: Vec<Pending> = Vec::with_capacity(size);
        for submission in batch {
            let result = self
                .execute(submission.command, submission.meta, &mut next_seq)
                .await;
            pending.push((submission.reply, result));
        }
        let appended = next_seq - 1 > committed_before;
        let outcome = if std::mem::take(&mut self.failed) {
            Err(sqlx::Error::Protocol(
                "a statement of the batch failed".to_string(),
            ))
        } else if appended {
            match projections::record_applied(&mut self.conn, next_seq - 1).await {
                Ok(()) => sqlx::query("COMMIT")
                    .execute(&mut self.conn)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            }
        } else {
            sqlx::query("COMMIT")
                .execute(&mut self.conn)
                .await
                .map(|_| ())
        };
        if let Err(e) = outcome {
            tracing::error!(error = %e, "commit failed; the batch is rolled back");
            let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
            self.namespaces.clear();
            for (reply, result) in pending {
                let answer = match result {
                    Ok(_) => Err(StoreError::Database(clone_sqlx_error(&e)).into()),
                    Err(err) => Err(err),
                };
                let _ = reply.send(answer);
            }
            return;
        }
        self.last_seq.store(next_seq - 1, Ordering::Release);
        self.metrics.observe_commit(started.elapsed(), size);
        // Publish strictly after commit and in seq order; receivers may be absent.
        for (_, result) in &pending {
            if let Ok(submitted) = result {
                for envelope in &submitted.envelopes {
                    let _ = self.published.send(envelope.clone());
                }
            }
        }
        for (reply, result) in pending {
            let _ = reply.send(result);
        }
    }

    /// Decide and append one submission inside the open transaction, behind a savepoint so a
    /// failing statement undoes only this submission.
    async fn execute(
        &mut self,
        command: Command,
        meta: RequestMeta,
        next_seq: &mut i64,
    ) -> Result<Submitted, SubmitError> {
        let command = self.resolve_generated_name(command).await?;
        let (kind, namespace, name) = command.target();
        let (kind, namespace, name) = (kind, namespace.to_string(), name.to_string());
        let current = projections::load(&mut self.conn, kind, &namespace, &name).await?;
        let namespace_object = if kind.namespaced() {
            self.namespace(&namespace).await?
        } else {
            None
        };
        let uid = uuid::Uuid::new_v4().to_string();
        let now = jiff::Timestamp::now();
        let manager = meta.manager();
        let ctx = DecideContext {
            now,
            new_uid: &uid,
            namespace: namespace_object.as_ref(),
            manager: &manager,
        };
        let changes = decide(current.as_ref(), &command, &ctx)?;
        if changes.is_empty() {
            return match current {
                Some(object) => Ok(Submitted {
                    object,
                    envelopes: vec![],
                }),
                None => Err(CommandError::NotFound { kind, name }.into()),
            };
        }
        if meta.dry_run {
            let object = changes
                .last()
                .map(|c| c.object.clone())
                .unwrap_or(Value::Null);
            return Ok(Submitted {
                object,
                envelopes: vec![],
            });
        }
        // A failing statement poisons the whole batch: `commit_batch` rolls it all back.
        self.append(
            kind, &namespace, &name, current, changes, &meta, now, next_seq,
        )
        .await
        .map_err(|e| {
            self.failed = true;
            e.into()
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn append(
        &mut self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
        current: Option<Value>,
        changes: Vec<Change>,
        meta_in: &RequestMeta,
        now: jiff::Timestamp,
        next_seq: &mut i64,
    ) -> Result<Submitted, StoreError> {
        let time = meta::format_log_time(now);
        let mut prev = current;
        let mut envelopes = Vec::with_capacity(changes.len());
        let mut last_object = Value::Null;
        for change in changes {
            let seq = *next_seq;
            let mut object = change.object;
            meta::set_meta(&mut object, "resourceVersion", json!(seq.to_string()));
            let object_json = serde_json::to_string(&object).map_err(StoreError::Corrupt)?;
            let prev_seq = prev
                .as_ref()
                .and_then(|p| meta::resource_version(p).parse::<i64>().ok());
            let uid = meta::uid(&object).to_string();
            let deleted = change.event_type == EventType::Deleted;
            let changes = crate::history::diff::recorded_changes(
                prev.as_ref().filter(|_| prev_seq.is_some()),
                &object,
                deleted,
            );
            sqlx::query(
                "INSERT INTO events (seq, time, api_version, kind, namespace, name, uid, event_type, \
                 prev_seq, object, actor, user_agent, field_manager, request_id, caused_by, changes) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(seq)
            .bind(&time)
            .bind(kind.api_version())
            .bind(kind.as_str())
            .bind(namespace)
            .bind(name)
            .bind(&uid)
            .bind(change.event_type.as_str())
            .bind(prev_seq)
            .bind(&object_json)
            .bind(&meta_in.actor)
            .bind(&meta_in.user_agent)
            .bind(&meta_in.field_manager)
            .bind(&meta_in.request_id)
            .bind(meta_in.caused_by)
            .bind(&changes)
            .execute(&mut self.conn)
            .await?;
            projections::apply(
                &mut self.conn,
                kind,
                namespace,
                name,
                &object,
                &object_json,
                seq,
                deleted,
            )
            .await?;
            *next_seq += 1;
            if kind == ResourceKind::Namespace {
                self.namespaces
                    .insert(name.to_string(), (!deleted).then(|| object.clone()));
            }
            let envelope = Arc::new(EventEnvelope {
                seq,
                time: time.clone(),
                kind,
                namespace: namespace.to_string(),
                name: name.to_string(),
                uid,
                event_type: change.event_type,
                object: object.clone(),
                object_json,
                prev_object: prev.take(),
                actor: meta_in.actor.clone(),
                user_agent: meta_in.user_agent.clone(),
                field_manager: meta_in.field_manager.clone(),
                request_id: meta_in.request_id.clone(),
                caused_by: meta_in.caused_by,
            });
            envelopes.push(envelope);
            prev = if deleted { None } else { Some(object.clone()) };
            last_object = object;
        }
        Ok(Submitted {
            object: last_object,
            envelopes,
        })
    }

    /// The namespace object `name`, from the cache or the projection.
    async fn namespace(&mut self, name: &str) -> Result<Option<Value>, StoreError> {
        if let Some(cached) = self.namespaces.get(name) {
            return Ok(cached.clone());
        }
        let loaded = projections::load(&mut self.conn, ResourceKind::Namespace, "", name).await?;
        self.namespaces.insert(name.to_string(), loaded.clone());
        Ok(loaded)
    }

    /// Give a create with `generateName` and no name a free name (5 random characters, as
    /// kube-apiserver's name generator does).
    async fn resolve_generated_name(&mut self, command: Command) -> Result<Command, StoreError> {
        let Command::Create {
            kind,
            namespace,
            mut object,
        } = command
        else {
            return Ok(command);
        };
        let base = meta::meta_str(&object, "generateName").to_string();
        if !meta::name(&object).is_empty() || base.is_empty() {
            return Ok(Command::Create {
                kind,
                namespace,
                object,
            });
        }
        let mut candidate = String::new();
        for _ in 0..16 {
            candidate = format!("{base}{}", meta::random_name_suffix());
            if projections::load(&mut self.conn, kind, &namespace, &candidate)
                .await?
                .is_none()
            {
                break;
            }
        }
        meta::set_meta(&mut object, "name", json!(candidate));
        Ok(Command::Create {
            kind,
            namespace,
            object,
        })
    }
}

fn clone_sqlx_error(e: &sqlx::Error) -> sqlx::Error {
    sqlx::Error::Protocol(e.to_string())
}

/// Open the writer connection with the durability settings the log promises.
pub async fn connect_writer(
    options: &sqlx::sqlite::SqliteConnectOptions,
) -> Result<SqliteConnection, sqlx::Error> {
    let options = options
        .clone()
        .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
    SqliteConnection::connect_with(&options).await
}
