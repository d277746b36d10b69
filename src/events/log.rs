//! `EventLog`: the single writer, as a two-stage pipeline. Submissions queue on a channel.
//! The *decider* drains them in batches: it reads every object a batch touches with one
//! statement (objects of batches still in the pipeline come from its overlay instead), runs
//! `decide` for each submission in order (so a submission sees the earlier ones, also those of
//! batches not yet committed), and hands the batch's events to the *committer*. The committer
//! has the store append them and project their objects with a few multi-row statements inside
//! one transaction (`store::Writer::commit`), committed durably, and only then answers the
//! submitters and publishes the envelopes (group commit). Each stage has a thread of its own,
//! so one batch is decided while the one before it is written.
//!
//! A failed statement rolls its whole batch back. Batches decided after it were decided on
//! state that never committed: the decider starts again from what is committed and decides
//! them again.
//!
//! Several servers may share one log (PostgreSQL). The store appends a batch only right after
//! the log's last event; when another server appended first, the batch is refused whole
//! (`StoreError::Behind`), the committer publishes what the others appended (in order, as
//! it publishes its own), and the batch's submissions are decided again on the log as it now
//! is: so an update decided on an object's old version becomes a 409, as on one server. The
//! committer also reads the others' appends when the store announces them (`AppendNotices`)
//! and at least every `OTHERS_POLL`, so this server's watches and workers see every event of
//! the cluster, in order, with no gap and no duplicate.

use super::command::{Cause, Command, RequestMeta};
use super::decide::{Change, DecideContext, decide};
use super::error::{CommandError, StoreError, SubmitError};
use super::event::{EVENT_VERSION, EventEnvelope, EventType};
use crate::health::{Health, panic_message};
use crate::metrics::Metrics;
use crate::model::filter::Facets;
use crate::model::service::{HeldAddresses, ServiceAddresses, ServiceRanges};
use crate::model::{ResourceKind, meta};
use crate::store::{self, EventRow, NewEvent, ObjectKey, ProjectedRow, Reader, Readers, Writer};
use futures_util::FutureExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, oneshot};

/// The largest object the log stores, as JSON: a request body's limit (3 MiB). A patch, an
/// apply or a merge can make an object larger than the body that asked for it; this holds
/// every stored object to what a client could have sent whole.
pub const MAX_OBJECT_BYTES: usize = 3 * 1024 * 1024;

/// Most submissions folded into one transaction.
const MAX_BATCH: usize = 1024;

/// How many times a submission is decided again because other servers appended first, before
/// it is refused as contended.
const MAX_ATTEMPTS: u32 = 16;

/// Longest a server keeps the other servers from appending while it decides a batch again.
const HOLD_AT_MOST: std::time::Duration = std::time::Duration::from_secs(1);

/// How often a server sharing its log reads the others' appends when no notice came.
const OTHERS_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Log rows read at once when publishing the others' appends.
const OTHERS_PAGE: i64 = 1000;

/// The outcome of an accepted command.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The object after the command (for a delete: its last state). `None` only when a
    /// command changed nothing about an object that does not exist (never for accepted writes).
    pub object: Arc<Value>,
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
    /// The server generated its name (`generateName`): a name taken meanwhile is replaced.
    generated: bool,
    /// How many times it was decided on a log another server then appended to.
    attempts: u32,
}

/// Handle to the event log; cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    queue: mpsc::Sender<Submission>,
    published: broadcast::Sender<Arc<EventEnvelope>>,
    progress: Arc<Progress>,
    health: Arc<Health>,
}

/// Subscribes to the log's envelopes on demand (`EventLog::subscriptions`).
#[derive(Clone)]
pub struct Subscriptions(broadcast::WeakSender<Arc<EventEnvelope>>);

impl Subscriptions {
    /// A new receiver of the envelopes published from now on, while the log exists.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<Arc<EventEnvelope>>> {
        self.0.upgrade().map(|sender| sender.subscribe())
    }
}

/// How far the log is committed, shared by the two stages.
struct Progress {
    /// The seq of the last committed event (this server's or another's).
    last_seq: AtomicI64,
    /// How many times what the decider holds went stale: a batch failed to commit, or other
    /// servers appended. A batch carries the count its decider saw; one that carries an older
    /// count was decided on state that is not the log's, and is decided again.
    failures: AtomicU64,
}

impl EventLog {
    /// Start the writer on `conn` (the only connection that writes), deciding from a
    /// connection of its own taken from `readers`. Returns when the writer is running; the
    /// returned task (the committer) ends after the last batch once every `EventLog` handle is
    /// dropped.
    pub async fn start(
        conn: Writer,
        readers: &Readers,
        metrics: Arc<Metrics>,
        watch_buffer: usize,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), StoreError> {
        Self::start_with(
            conn,
            readers,
            metrics,
            watch_buffer,
            ServiceRanges::default(),
        )
        .await
    }

    /// As `start`, with Services' addresses taken from `service_ranges`.
    pub async fn start_with(
        mut conn: Writer,
        readers: &Readers,
        metrics: Arc<Metrics>,
        watch_buffer: usize,
        service_ranges: ServiceRanges,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), StoreError> {
        let last = conn.last_seq().await?;
        let reader = readers.detach_one().await?;
        let progress = Arc::new(Progress {
            last_seq: AtomicI64::new(last),
            failures: AtomicU64::new(0),
        });
        let (queue, submissions) = mpsc::channel(4096);
        let (retry, retries) = mpsc::unbounded_channel();
        let notices = readers.append_notices().await?;
        // One batch decided ahead of the one being written.
        let (to_committer, decided) = mpsc::channel(1);
        let (published, _) = broadcast::channel(watch_buffer.max(16));
        let health = Health::new(metrics.clone());
        health.up(WRITER);
        let decider = Decider {
            conn: reader,
            namespaces: HashMap::new(),
            overlay: HashMap::new(),
            services: None,
            service_ranges,
            next_seq: last + 1,
            failures_seen: 0,
            progress: progress.clone(),
            health: health.clone(),
        };
        let committer = Committer {
            conn,
            readers: readers.clone(),
            progress: progress.clone(),
            published: published.clone(),
            metrics,
            last_failure_disk_full: false,
            retry,
            holding_log: None,
        };
        // Each stage on a thread of its own: deciding is CPU work that would hold up the
        // committer's statements, and on the shared runtime every wake-up queued behind the
        // workers' tasks.
        on_own_thread(
            "decider",
            health.clone(),
            decider.run(submissions, retries, to_committer),
        );
        let task = on_own_thread("committer", health.clone(), committer.run(decided, notices));
        Ok((
            EventLog {
                queue,
                published,
                progress,
                health,
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
                generated: false,
                attempts: 0,
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
        self.progress.last_seq.load(Ordering::Acquire)
    }

    /// A way to subscribe later (again after a restart) that holds no receiver meanwhile: a
    /// receiver nobody reads keeps every envelope in the buffer until it is overwritten. It
    /// does not keep the log open either (`None` once the log is gone).
    pub fn subscriptions(&self) -> Subscriptions {
        Subscriptions(self.published.downgrade())
    }

    pub fn subscriber_count(&self) -> usize {
        self.published.receiver_count()
    }

    /// Where the writer and everything following this log report whether they run.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }
}

/// The writer's name in `Health` and in the panic count.
pub const WRITER: &str = "writer";

/// Run one stage of the writer on a thread and runtime of its own. A stage that ends while
/// the server runs (a panic outside a single decision) leaves the writer down: `/readyz`
/// says so.
fn on_own_thread(
    stage: &'static str,
    health: Arc<Health>,
    work: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                tracing::error!(error = %e, "could not start a runtime for the writer");
                health.down(WRITER, format!("the {stage} could not start: {e}"));
                return;
            }
        };
        let reason = match std::panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(work))) {
            Ok(()) => format!("the {stage} has stopped"),
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                health.panicked(WRITER, &message);
                format!("the {stage} stopped after a panic: {message}; restart the server")
            }
        };
        health.down(WRITER, reason);
    })
}

/// One submission and what it produced: its answer, sent once its batch committed (or the
/// submission, decided again when its batch was decided on a log that moved on).
type Pending = (Submission, Result<Submitted, SubmitError>);

/// One event decided by a batch, waiting to be appended.
struct StagedEvent {
    envelope: Arc<EventEnvelope>,
    prev_seq: Option<i64>,
    changes: String,
}

impl StagedEvent {
    /// The event's row in the log, borrowed from the envelope (nothing is copied).
    fn row(&self) -> NewEvent<'_> {
        let e = &self.envelope;
        NewEvent {
            row: EventRow {
                seq: e.seq,
                time: &e.time,
                api_version: e.kind.api_version(),
                kind: e.kind.as_str(),
                namespace: &e.namespace,
                name: &e.name,
                uid: &e.uid,
                event_type: e.event_type.as_str(),
                event_version: EVENT_VERSION,
                prev_seq: self.prev_seq,
                object: &e.object_json,
                actor: &e.actor,
                user_agent: e.user_agent.as_deref(),
                field_manager: e.field_manager.as_deref(),
                request_id: &e.request_id,
                caused_by: e.caused_by,
                causes: e.causes.as_deref(),
            },
            changes: &self.changes,
        }
    }
}

/// What the open batch has decided and not yet handed on: the events to append, and every
/// object as the batch found it or left it. `decide` runs against these, so a submission sees
/// the ones before it in the same batch.
#[derive(Default)]
struct Staged {
    /// Objects as found or as earlier submissions of the batch left them (`None`: absent).
    /// A key missing here has not been read yet.
    objects: HashMap<ObjectKey, Option<Arc<Value>>>,
    events: Vec<StagedEvent>,
    /// The index in `events` of each changed object's last event.
    last_event: HashMap<ObjectKey, usize>,
}

impl Staged {
    fn record(&mut self, key: ObjectKey, event: StagedEvent) {
        let index = self.events.len();
        let deleted = event.envelope.event_type == EventType::Deleted;
        self.objects.insert(
            key.clone(),
            (!deleted).then(|| event.envelope.object.clone()),
        );
        self.events.push(event);
        self.last_event.insert(key, index);
    }
}

/// A decided batch on its way to the committer.
struct DecidedBatch {
    /// The failure count the decider had seen when it decided the batch.
    failures_seen: u64,
    started: Instant,
    size: usize,
    events: Vec<StagedEvent>,
    last_event: HashMap<ObjectKey, usize>,
    pending: Vec<Pending>,
}

impl DecidedBatch {
    /// Answer every submission: refusals as decided, accepted ones with `failure`.
    fn refuse(self, failure: &StoreError) {
        self.refuse_with(|| failure.replicate());
    }

    /// Answer every submission: refusals as decided, accepted ones with `failure()`.
    fn refuse_with(self, failure: impl Fn() -> StoreError) {
        for (submission, result) in self.pending {
            let answer = match result {
                Ok(_) => Err(failure().into()),
                Err(err) => Err(err),
            };
            let _ = submission.reply.send(answer);
        }
    }
}

/// The first stage: decides batches against what is committed plus what is on its way.
struct Decider {
    /// A read-only connection: it sees committed state only.
    conn: Reader,
    /// Namespaces as committed or decided, so a namespaced write does not read its namespace
    /// from disk. Only the writer changes namespaces. `None`: deleted by a batch not yet
    /// committed; dropped once it is, so the map holds no more than the namespaces that exist
    /// (a namespace nobody made is never cached, however many requests name one).
    namespaces: HashMap<String, Option<Arc<Value>>>,
    /// Objects written by batches not yet known to be committed, with the seq of each one's
    /// last event (`None`: deleted). Entries leave once that seq is committed, when `conn`
    /// sees the same state.
    overlay: HashMap<ObjectKey, (Option<Arc<Value>>, i64)>,
    /// The addresses Services hold as this decider sees them (committed, in flight, staged):
    /// built from the Services when a Service write first needs it, then kept by `stage`.
    /// `None` after anything that drops staged or decided state, so it is built again.
    services: Option<ServiceAddresses>,
    service_ranges: ServiceRanges,
    next_seq: i64,
    failures_seen: u64,
    progress: Arc<Progress>,
    health: Arc<Health>,
}

impl Decider {
    async fn run(
        mut self,
        mut submissions: mpsc::Receiver<Submission>,
        mut retries: mpsc::UnboundedReceiver<Vec<Submission>>,
        committer: mpsc::Sender<DecidedBatch>,
    ) {
        loop {
            // Submissions to decide again go first: they have waited longest.
            let mut batch = tokio::select! {
                biased;
                Some(again) = retries.recv() => again,
                first = submissions.recv() => match first {
                    Some(first) => vec![first],
                    None => return,
                },
            };
            while batch.len() < MAX_BATCH {
                match retries.try_recv() {
                    Ok(again) => batch.extend(again),
                    Err(_) => break,
                }
            }
            while batch.len() < MAX_BATCH {
                match submissions.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let decided = self.decide_batch(batch).await;
            if let Err(mpsc::error::SendError(decided)) = committer.send(decided).await {
                decided.refuse(&StoreError::other("the committer has stopped"));
                return;
            }
        }
    }

    /// Start from what is committed after a failure, and drop from the overlay what the
    /// database now holds.
    fn catch_up(&mut self) {
        let failures = self.progress.failures.load(Ordering::Acquire);
        let committed = self.progress.last_seq.load(Ordering::Acquire);
        if failures != self.failures_seen {
            self.failures_seen = failures;
            self.overlay.clear();
            self.namespaces.clear();
            self.services = None;
            self.next_seq = committed + 1;
        } else {
            self.overlay.retain(|_, (_, seq)| *seq > committed);
            let overlay = &self.overlay;
            self.namespaces.retain(|name, namespace| {
                namespace.is_some()
                    || overlay.contains_key(&(ResourceKind::Namespace, String::new(), name.clone()))
            });
        }
    }

    async fn decide_batch(&mut self, batch: Vec<Submission>) -> DecidedBatch {
        let started = Instant::now();
        let size = batch.len();
        self.catch_up();
        // Name the generated names first, so one read finds every object the batch touches.
        let mut batch: Vec<(Submission, bool)> = batch
            .into_iter()
            .map(|mut submission| {
                submission.generated |= name_generated(&mut submission.command);
                let generated = submission.generated;
                (submission, generated)
            })
            .collect();
        let mut pending: Vec<Pending> = Vec::with_capacity(size);
        // A submission whose decision panics is answered with the panic and the batch decided
        // again without it: the others must not pay for it, and nothing it staged may stay.
        let (staged, results) = loop {
            let first_seq = self.next_seq;
            match self.decide_each(&mut batch).await {
                Ok(decided) => break decided,
                Err((index, message)) => {
                    self.next_seq = first_seq;
                    self.namespaces.clear();
                    self.services = None;
                    let (submission, _) = batch.remove(index);
                    let (kind, namespace, name) = submission.command.target();
                    tracing::error!(
                        panic = %message,
                        actor = %submission.meta.actor,
                        request_id = %submission.meta.request_id,
                        user_agent = submission.meta.user_agent.as_deref().unwrap_or(""),
                        command = submission.command.verb(),
                        kind = kind.as_str(),
                        namespace,
                        name,
                        "deciding a write panicked; it is refused and the writer goes on"
                    );
                    self.health.panicked("writer", &message);
                    let _ = submission.reply.send(Err(SubmitError::Panicked(message)));
                }
            }
        };
        for ((submission, _), result) in batch.into_iter().zip(results) {
            pending.push((submission, result));
        }
        let Staged {
            mut objects,
            events,
            last_event,
        } = staged;
        for (key, index) in &last_event {
            let object = objects.remove(key).flatten();
            self.overlay
                .insert(key.clone(), (object, events[*index].envelope.seq));
        }
        DecidedBatch {
            failures_seen: self.failures_seen,
            started,
            size,
            events,
            last_event,
            pending,
        }
    }

    /// Decide every submission of `batch` in order against one read of the objects it
    /// touches. A panic stops the pass and names the submission that caused it.
    async fn decide_each(
        &mut self,
        batch: &mut [(Submission, bool)],
    ) -> Result<(Staged, Vec<Result<Submitted, SubmitError>>), (usize, String)> {
        let mut staged = Staged::default();
        let mut results = Vec::with_capacity(batch.len());
        // Objects of batches in flight come from the overlay (`current`), not the database.
        let mut keys: Vec<ObjectKey> = batch
            .iter()
            .map(|(submission, _)| key_of(&submission.command))
            .filter(|key| !self.overlay.contains_key(key))
            .collect();
        keys.sort();
        keys.dedup();
        match self.conn.load_many(&keys).await {
            Ok(mut found) => {
                for key in keys {
                    let object = found.remove(&key).map(Arc::new);
                    staged.objects.insert(key, object);
                }
                for (index, (submission, generated)) in batch.iter_mut().enumerate() {
                    let execution = self.execute(
                        &mut submission.command,
                        *generated,
                        &submission.meta,
                        &mut staged,
                    );
                    match AssertUnwindSafe(execution).catch_unwind().await {
                        Ok(result) => results.push(result),
                        Err(payload) => return Err((index, panic_message(payload.as_ref()))),
                    }
                }
            }
            Err(e) => {
                for _ in batch.iter() {
                    let failed = StoreError::other(format!("reading the batch's objects: {e}"));
                    results.push(Err(failed.into()));
                }
            }
        }
        Ok((staged, results))
    }

    /// Decide one submission against the batch's staged state and stage what it appends.
    async fn execute(
        &mut self,
        command: &mut Command,
        generated: bool,
        meta: &RequestMeta,
        staged: &mut Staged,
    ) -> Result<Submitted, SubmitError> {
        if generated {
            self.free_generated_name(command, staged).await?;
        }
        let key = key_of(command);
        let (kind, namespace, name) = key.clone();
        let current = self.current(&key, staged).await?;
        let namespace_object = if kind.namespaced() {
            self.namespace(&namespace).await?
        } else {
            None
        };
        let allocates = kind == ResourceKind::Service
            && matches!(
                command,
                Command::Create { .. } | Command::Update { .. } | Command::Apply { .. }
            );
        if allocates && self.services.is_none() {
            self.services = Some(self.load_service_addresses(staged).await?);
        }
        let uid = uuid::Uuid::new_v4().to_string();
        let now = jiff::Timestamp::now();
        let manager = meta.manager();
        let ctx = DecideContext {
            now,
            new_uid: &uid,
            namespace: namespace_object.as_deref(),
            manager: &manager,
            services: if allocates {
                self.services.as_ref()
            } else {
                None
            },
        };
        #[cfg(test)]
        if meta.request_id == tests::PANIC_IN_DECIDE {
            panic!("a decision that panics, for a test");
        }
        let changes = decide(current.as_deref(), command, &ctx)?;
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
                object: Arc::new(object),
                envelopes: vec![],
            });
        }
        self.stage(key, current, changes, meta, now, staged)
    }

    /// The object `key` as the batch sees it: staged, in the overlay, or committed.
    async fn current(
        &mut self,
        key: &ObjectKey,
        staged: &mut Staged,
    ) -> Result<Option<Arc<Value>>, StoreError> {
        if let Some(object) = staged.objects.get(key) {
            return Ok(object.clone());
        }
        let object = match self.overlay.get(key) {
            Some((object, _)) => object.clone(),
            None => {
                let (kind, namespace, name) = key;
                self.conn.load(*kind, namespace, name).await?.map(Arc::new)
            }
        };
        staged.objects.insert(key.clone(), object.clone());
        Ok(object)
    }

    fn stage(
        &mut self,
        key: ObjectKey,
        current: Option<Arc<Value>>,
        changes: Vec<Change>,
        meta_in: &RequestMeta,
        now: jiff::Timestamp,
        staged: &mut Staged,
    ) -> Result<Submitted, SubmitError> {
        let (kind, namespace, name) = &key;
        // Every object as stored, before anything is staged: one too large refuses the whole
        // command.
        let mut serialized = Vec::with_capacity(changes.len());
        for (seq, change) in (self.next_seq..).zip(changes) {
            let mut object = change.object;
            meta::set_meta(&mut object, "resourceVersion", json!(seq.to_string()));
            let object_json = serde_json::to_string(&object).map_err(StoreError::Corrupt)?;
            if object_json.len() > MAX_OBJECT_BYTES {
                return Err(CommandError::TooLarge {
                    kind: *kind,
                    name: name.clone(),
                    size: object_json.len(),
                    limit: MAX_OBJECT_BYTES,
                }
                .into());
            }
            serialized.push((change.event_type, object, object_json));
        }
        let time = meta::format_log_time(now);
        let causes: Option<Arc<str>> =
            (!meta_in.causes.is_empty()).then(|| Cause::list_json(&meta_in.causes).into());
        let mut prev = current;
        let mut envelopes = Vec::with_capacity(serialized.len());
        let mut last_object = Arc::new(Value::Null);
        for (event_type, object, object_json) in serialized {
            let seq = self.next_seq;
            let prev_seq = prev
                .as_ref()
                .and_then(|p| meta::resource_version(p).parse::<i64>().ok());
            let uid = meta::uid(&object).to_string();
            let deleted = event_type == EventType::Deleted;
            let recorded = crate::model::diff::recorded_changes(
                prev.as_deref().filter(|_| prev_seq.is_some()),
                &object,
                deleted,
            );
            let object = Arc::new(object);
            self.next_seq += 1;
            if *kind == ResourceKind::Service
                && let Some(services) = self.services.as_mut()
            {
                if let Some(before) = prev.as_deref() {
                    services.held.release(before);
                }
                if !deleted {
                    services.held.hold(&object);
                }
            }
            if *kind == ResourceKind::Namespace {
                self.namespaces
                    .insert(name.to_string(), (!deleted).then(|| object.clone()));
            }
            let envelope = Arc::new(EventEnvelope {
                seq,
                time: time.clone(),
                kind: *kind,
                namespace: namespace.to_string(),
                name: name.to_string(),
                uid,
                event_type,
                object: object.clone(),
                object_json: object_json.into(),
                prev_facets: prev.take().map(|p| Facets::of(*kind, &p)),
                actor: meta_in.actor.clone(),
                user_agent: meta_in.user_agent.clone(),
                field_manager: meta_in.field_manager.clone(),
                request_id: meta_in.request_id.clone(),
                caused_by: meta_in.caused_by,
                causes: causes.clone(),
            });
            staged.record(
                key.clone(),
                StagedEvent {
                    envelope: envelope.clone(),
                    prev_seq,
                    changes: recorded,
                },
            );
            envelopes.push(envelope);
            prev = if deleted { None } else { Some(object.clone()) };
            last_object = object;
        }
        Ok(Submitted {
            object: last_object,
            envelopes,
        })
    }

    /// What every Service holds: the committed ones, replaced by their versions in flight
    /// (the overlay) and then by those staged earlier in this batch.
    async fn load_service_addresses(
        &mut self,
        staged: &Staged,
    ) -> Result<ServiceAddresses, StoreError> {
        let mut services: HashMap<ObjectKey, Arc<Value>> = self
            .conn
            .load_kind(ResourceKind::Service)
            .await?
            .into_iter()
            .map(|(key, object)| (key, Arc::new(object)))
            .collect();
        let newer = self
            .overlay
            .iter()
            .map(|(key, (object, _))| (key, object))
            .chain(staged.objects.iter());
        for (key, object) in newer {
            if key.0 != ResourceKind::Service {
                continue;
            }
            match object {
                Some(object) => services.insert(key.clone(), object.clone()),
                None => services.remove(key),
            };
        }
        Ok(ServiceAddresses {
            ranges: self.service_ranges,
            held: HeldAddresses::of(services.values().map(|s| s.as_ref())),
        })
    }

    /// The namespace object `name`, from the cache or the projection.
    async fn namespace(&mut self, name: &str) -> Result<Option<Arc<Value>>, StoreError> {
        if let Some(cached) = self.namespaces.get(name) {
            return Ok(cached.clone());
        }
        let loaded = self
            .conn
            .load(ResourceKind::Namespace, "", name)
            .await?
            .map(Arc::new);
        if let Some(namespace) = &loaded {
            self.namespaces
                .insert(name.to_string(), Some(namespace.clone()));
        }
        Ok(loaded)
    }

    /// Give a create whose generated name is taken another one that is free (rare: five random
    /// characters, as kube-apiserver's name generator uses).
    async fn free_generated_name(
        &mut self,
        command: &mut Command,
        staged: &mut Staged,
    ) -> Result<(), StoreError> {
        for _ in 0..16 {
            if self.current(&key_of(command), staged).await?.is_none() {
                return Ok(());
            }
            if let Command::Create { object, .. } = command {
                generate_name(object);
            }
        }
        Ok(())
    }
}

/// The second stage: owns the connection that writes, and publishes every event of the log
/// (this server's after they commit, other servers' as it reads them).
struct Committer {
    conn: Writer,
    /// Where other servers' appends are read.
    readers: Readers,
    progress: Arc<Progress>,
    published: broadcast::Sender<Arc<EventEnvelope>>,
    metrics: Arc<Metrics>,
    /// Whether the last batch that failed to commit found the disk full: the batches decided
    /// on its state are refused for the same reason, so their writers learn what to do.
    last_failure_disk_full: bool,
    /// Submissions to decide again, back to the decider.
    retry: mpsc::UnboundedSender<Vec<Submission>>,
    /// Since when this server keeps the others from appending (`Writer::hold_log`): taken when
    /// a batch lost the race to another server's append, so that the batch decided again
    /// commits; released after the next commit (or `HOLD_AT_MOST`). Without it, servers that
    /// all keep writing could each lose the race again and again.
    holding_log: Option<Instant>,
}

impl Committer {
    async fn run(
        mut self,
        mut decided: mpsc::Receiver<DecidedBatch>,
        mut notices: store::AppendNotices,
    ) {
        let shared = notices.shared();
        let mut poll = tokio::time::interval(OTHERS_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let held_until = self
                .holding_log
                .map(|since| tokio::time::Instant::from_std(since + HOLD_AT_MOST));
            tokio::select! {
                batch = decided.recv() => match batch {
                    Some(batch) => {
                        self.commit(batch).await;
                    }
                    None => {
                        self.release_log().await;
                        return;
                    }
                },
                // Nothing came to commit in time: the others may append again.
                _ = tokio::time::sleep_until(held_until.unwrap_or_else(tokio::time::Instant::now)),
                    if held_until.is_some() => self.release_log().await,
                noticed = notices.next() => match noticed {
                    // This server's own commit, or one it has read already.
                    Ok(Some(reached))
                        if reached <= self.progress.last_seq.load(Ordering::Acquire) => {}
                    Ok(_) => {
                        self.read_others().await;
                    }
                    Err(e) => {
                        // The poll still reads the others' appends; the listener reconnects.
                        tracing::warn!(error = %e, "listening for other servers' appends failed");
                        tokio::time::sleep(OTHERS_POLL).await;
                    }
                },
                _ = poll.tick(), if shared => {
                    self.read_others().await;
                }
            }
        }
    }

    /// Publish what other servers appended after the last event this server knows of, in
    /// order; when there was any, what the decider holds may be stale: it starts again from
    /// the log. Returns whether there was any.
    async fn read_others(&mut self) -> bool {
        let mut read_any = false;
        loop {
            let after = self.progress.last_seq.load(Ordering::Acquire);
            let rows = match self.readers.appended_after(after, OTHERS_PAGE).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "reading other servers' appends failed");
                    break;
                }
            };
            let full = rows.len() as i64 == OTHERS_PAGE;
            for (row, previous) in rows {
                let seq = row.seq;
                match EventEnvelope::of_row(row, previous.as_deref()) {
                    Ok(Some(envelope)) => {
                        let _ = self.published.send(Arc::new(envelope));
                    }
                    // A kind or event type this server does not know (a newer server's).
                    Ok(None) => {}
                    Err(e) => tracing::warn!(seq, error = %e, "an appended event is unreadable"),
                }
                self.progress.last_seq.store(seq, Ordering::Release);
                read_any = true;
            }
            if !full {
                break;
            }
        }
        if read_any {
            self.progress.failures.fetch_add(1, Ordering::AcqRel);
            self.last_failure_disk_full = false;
        }
        read_any
    }

    /// Keep the other servers from appending until this server's next commit (`holding_log`).
    async fn hold_log(&mut self) {
        if self.holding_log.is_some() {
            return;
        }
        match self.conn.hold_log().await {
            Ok(()) => self.holding_log = Some(Instant::now()),
            Err(e) => tracing::warn!(error = %e, "could not hold the shared log"),
        }
    }

    /// Let the other servers append again, if this server kept them from it.
    async fn release_log(&mut self) {
        if self.holding_log.take().is_some()
            && let Err(e) = self.conn.release_log().await
        {
            tracing::warn!(error = %e, "could not release the shared log");
        }
    }

    /// Hand the batch's submissions back to the decider (those decided too often are refused
    /// as contended).
    fn decide_again(&self, batch: DecidedBatch) {
        let mut again = Vec::with_capacity(batch.pending.len());
        for (mut submission, _) in batch.pending {
            submission.attempts += 1;
            if submission.attempts > MAX_ATTEMPTS {
                let _ = submission.reply.send(Err(StoreError::Contended.into()));
            } else {
                again.push(submission);
            }
        }
        if let Err(mpsc::error::SendError(lost)) = self.retry.send(again) {
            for submission in lost {
                let _ = submission.reply.send(Err(StoreError::WriterGone.into()));
            }
        }
    }

    /// Commit `batch`, or hand it back to be decided again; once a batch decided on the log as
    /// it is has been answered, the others may append again (`release_log`).
    async fn commit(&mut self, batch: DecidedBatch) {
        if batch.failures_seen != self.progress.failures.load(Ordering::Acquire) {
            if self.last_failure_disk_full {
                batch.refuse_with(|| StoreError::DiskFull);
            } else {
                // Decided on state that is not the log's: decided again on the log's, which
                // holds still meanwhile.
                self.hold_log().await;
                self.decide_again(batch);
            }
            return;
        }
        self.commit_current(batch).await;
        self.release_log().await;
    }

    /// Commit a batch decided on the log as this server knows it.
    async fn commit_current(&mut self, batch: DecidedBatch) {
        let Some(last) = batch.events.last().map(|e| e.envelope.seq) else {
            // Refusals, dry runs and writes that change nothing: nothing to append.
            for (submission, result) in batch.pending {
                let _ = submission.reply.send(result);
            }
            return;
        };
        let written = self.write(&batch, last).await;
        if let Err(StoreError::Behind { last: theirs }) = written {
            // Nothing was written: another server appended first.
            tracing::debug!(
                ours = batch.events.first().map(|e| e.envelope.seq),
                theirs,
                "another server appended first; deciding the batch again"
            );
            // Until the batch decided again commits, no other server appends.
            self.hold_log().await;
            if !self.read_others().await {
                // The others' appends could not be read yet: start again from the log anyway.
                self.progress.failures.fetch_add(1, Ordering::AcqRel);
            }
            self.decide_again(batch);
            return;
        }
        if let Err(e) = written {
            // The store has rolled the transaction back.
            tracing::error!(error = ?e, "commit failed; the batch is rolled back");
            self.progress.failures.fetch_add(1, Ordering::AcqRel);
            // SQLite leaves a connection whose write found the disk full usable: the next
            // batch tries again, and succeeds once there is room.
            self.last_failure_disk_full = matches!(e, StoreError::DiskFull);
            batch.refuse(&e);
            return;
        }
        self.progress.last_seq.store(last, Ordering::Release);
        self.metrics
            .observe_commit(batch.started.elapsed(), batch.size);
        // Publish strictly after commit and in seq order; receivers may be absent.
        for event in &batch.events {
            let _ = self.published.send(event.envelope.clone());
        }
        for (submission, result) in batch.pending {
            let _ = submission.reply.send(result);
        }
    }

    /// One transaction: append the batch's events and project its objects' final states
    /// (multi-row statements, in the store), and record how far the projections reach.
    async fn write(&mut self, batch: &DecidedBatch, last: i64) -> Result<(), StoreError> {
        let events: Vec<NewEvent<'_>> = batch.events.iter().map(StagedEvent::row).collect();
        let rows: Vec<(&ObjectKey, Option<ProjectedRow<&str>>)> = batch
            .last_event
            .iter()
            .map(|(key, index)| {
                let e = &batch.events[*index].envelope;
                let row = (e.event_type != EventType::Deleted).then(|| ProjectedRow {
                    uid: e.uid.as_str(),
                    seq: e.seq,
                    node_name: store::node_name_of(e.kind, &e.object),
                    object: &e.object_json,
                });
                (key, row)
            })
            .collect();
        self.conn.commit(&events, &rows, last).await
    }
}

/// The object a command writes.
fn key_of(command: &Command) -> ObjectKey {
    let (kind, namespace, name) = command.target();
    (kind, namespace.to_string(), name.to_string())
}

/// Name a create that has `generateName` and no name (five random characters, as
/// kube-apiserver's name generator does); whether it did.
fn name_generated(command: &mut Command) -> bool {
    let Command::Create { object, .. } = command else {
        return false;
    };
    if !meta::name(object).is_empty() || meta::meta_str(object, "generateName").is_empty() {
        return false;
    }
    generate_name(object);
    true
}

/// Five random characters from the alphabet kube-apiserver uses for generated names.
pub fn random_name_suffix() -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Name `object` after its `generateName` and a random suffix.
fn generate_name(object: &mut Value) {
    let candidate = format!(
        "{}{}",
        meta::meta_str(object, "generateName"),
        random_name_suffix()
    );
    meta::set_meta(object, "name", json!(candidate));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::DeleteOptions;

    fn create(kind: ResourceKind, namespace: &str, object: Value) -> Command {
        Command::Create {
            kind,
            namespace: namespace.to_string(),
            object,
        }
    }

    fn pod(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    }

    fn admin() -> RequestMeta {
        RequestMeta {
            actor: "admin".into(),
            request_id: "r".into(),
            ..Default::default()
        }
    }

    /// A running log whose namespace `default` exists.
    async fn started_with_default_namespace(writer: Writer, readers: &Readers) -> EventLog {
        let (log, _task) = EventLog::start(writer, readers, Arc::new(Metrics::new()), 64)
            .await
            .expect("writer");
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
        log.submit(create(ResourceKind::Namespace, "", namespace), admin())
            .await
            .expect("namespace");
        log
    }

    #[tokio::test]
    async fn a_failed_batch_leaves_no_trace_and_the_next_ones_start_from_what_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.db");
        let (mut writer, readers) = store::open(&path).await.expect("database");
        // The store refuses any event about a pod named "boom", as a full disk would.
        writer.refuse_appends_named("boom").await.expect("trigger");
        let log = started_with_default_namespace(writer, &readers).await;
        let before = log.last_seq();

        // The bind is decided in the failing batch, or in a later one on the failing batch's
        // state (then refused with it), or after the failure is known (the pod is not found):
        // never accepted.
        let bind_boom = || Command::Bind {
            namespace: "default".into(),
            name: "boom".into(),
            node: "n1".into(),
            uid: None,
        };
        let (boom, bound) = tokio::join!(
            log.submit(create(ResourceKind::Pod, "default", pod("boom")), admin()),
            log.submit(bind_boom(), admin()),
        );
        assert!(matches!(boom, Err(SubmitError::Store(_))));
        assert!(bound.is_err());
        assert_eq!(log.last_seq(), before);

        // Once the failure is known, nothing of the failed batch is seen, and the next create
        // takes the next seq.
        let bound = log.submit(bind_boom(), admin()).await;
        assert!(matches!(
            bound,
            Err(SubmitError::Command(CommandError::NotFound { .. }))
        ));
        let created = log
            .submit(create(ResourceKind::Pod, "default", pod("after")), admin())
            .await
            .expect("a create after the failure");
        assert_eq!(created.envelopes[0].seq, before + 1);
        assert_eq!(names_after(&readers, before).await, ["after"]);
        let projected = readers
            .list(ResourceKind::Pod, &Default::default(), None)
            .await
            .expect("projection");
        assert_eq!(projected.items.len(), 1);
    }

    /// A request id that makes the decider panic while deciding it.
    pub(super) const PANIC_IN_DECIDE: &str = "panic-in-decide";

    #[tokio::test]
    async fn a_decision_that_panics_is_refused_alone_and_the_writer_goes_on() {
        let (_dir, log, readers) = fresh_log().await;
        let before = log.last_seq();
        let poison = || RequestMeta {
            request_id: PANIC_IN_DECIDE.into(),
            ..admin()
        };
        // Queued together, so the panic happens in the middle of one batch.
        let (first, panicked, last) = tokio::join!(
            log.submit(create(ResourceKind::Pod, "default", pod("a")), admin()),
            log.submit(create(ResourceKind::Pod, "default", pod("b")), poison()),
            log.submit(create(ResourceKind::Pod, "default", pod("c")), admin()),
        );
        assert!(matches!(panicked, Err(SubmitError::Panicked(_))));
        let seqs = [
            first.expect("a").envelopes[0].seq,
            last.expect("c").envelopes[0].seq,
        ];
        assert_eq!(seqs, [before + 1, before + 2], "no gap where the panic was");
        let after = log
            .submit(create(ResourceKind::Pod, "default", pod("d")), admin())
            .await
            .expect("the writer goes on");
        assert_eq!(after.envelopes[0].seq, before + 3);
        assert!(log.health().all_up());
        assert_eq!(names_after(&readers, before).await, ["a", "c", "d"]);
    }

    /// A running log in a new data directory, with namespace `default`.
    fn service(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
    }

    fn node_port_service(name: &str) -> Value {
        service(
            name,
            json!({"type": "NodePort", "selector": {"app": name}, "ports": [{"port": 80}]}),
        )
    }

    fn addresses(submitted: &Submitted) -> (String, i64) {
        let spec = &submitted.object["spec"];
        (
            spec["clusterIP"].as_str().unwrap_or("").to_string(),
            spec["ports"][0]["nodePort"].as_i64().unwrap_or(0),
        )
    }

    fn refusal(result: Result<Submitted, SubmitError>) -> String {
        match result {
            Err(SubmitError::Command(CommandError::Invalid { causes, .. })) => causes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn services_created_together_never_share_an_address_and_a_delete_frees_its_own() {
        let (_dir, log, _readers) = fresh_log().await;
        // Queued together: most are decided in one batch, the rest while it is in flight.
        let creates = (0..40).map(|i| {
            log.submit(
                create(
                    ResourceKind::Service,
                    "default",
                    node_port_service(&format!("s{i}")),
                ),
                admin(),
            )
        });
        let created: Vec<Submitted> = futures_util::future::join_all(creates)
            .await
            .into_iter()
            .map(|r| r.expect("create"))
            .collect();
        let mut ips: Vec<String> = created.iter().map(|s| addresses(s).0).collect();
        let mut ports: Vec<i64> = created.iter().map(|s| addresses(s).1).collect();
        ips.sort();
        ips.dedup();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!((ips.len(), ports.len()), (40, 40));
        assert!(
            !ips.contains(&"10.96.0.1".to_string()),
            "reserved for kubernetes"
        );
        assert!(ports.iter().all(|p| (30000..=32767).contains(p)));

        // Naming a held address, in the same batch as the delete that frees it and after it.
        let (ip, port) = addresses(&created[3]);
        let taken = service(
            "taken",
            json!({"type": "NodePort", "clusterIP": ip, "ports": [{"port": 80, "nodePort": port}]}),
        );
        let delete = Command::Delete {
            kind: ResourceKind::Service,
            namespace: "default".into(),
            name: "s3".into(),
            options: DeleteOptions::default(),
        };
        let (before, deleted, after) = tokio::join!(
            log.submit(
                create(ResourceKind::Service, "default", taken.clone()),
                admin()
            ),
            log.submit(delete, admin()),
            log.submit(
                create(ResourceKind::Service, "default", taken.clone()),
                admin()
            ),
        );
        assert_eq!(
            refusal(before),
            format!(
                "spec.clusterIPs: Invalid value: []string{{\"{ip}\"}}: failed to allocate IP {ip}: provided IP is already allocated"
            )
        );
        deleted.expect("delete");
        assert_eq!(addresses(&after.expect("freed by the delete")), (ip, port));
    }

    #[tokio::test]
    async fn a_restart_keeps_every_allocation() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.db");
        let (first, held) = {
            let (writer, readers) = store::open(&path).await.expect("database");
            let (log, task) = EventLog::start(writer, &readers, Arc::new(Metrics::new()), 64)
                .await
                .expect("writer");
            let namespace =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
            log.submit(create(ResourceKind::Namespace, "", namespace), admin())
                .await
                .expect("namespace");
            let first = log
                .submit(
                    create(ResourceKind::Service, "default", node_port_service("a")),
                    admin(),
                )
                .await
                .expect("a");
            drop(log);
            task.await.expect("the committer ends");
            readers.close().await;
            (addresses(&first), first)
        };
        drop(held);
        let (writer, readers) = store::open(&path).await.expect("reopened");
        let (log, _task) = EventLog::start(writer, &readers, Arc::new(Metrics::new()), 64)
            .await
            .expect("writer");
        let (ip, port) = first;
        let taken = service(
            "b",
            json!({"type": "NodePort", "clusterIP": ip, "ports": [{"port": 80, "nodePort": port}]}),
        );
        assert!(
            refusal(
                log.submit(create(ResourceKind::Service, "default", taken), admin())
                    .await
            )
            .contains("provided IP is already allocated")
        );
        let port_taken = service(
            "b",
            json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}),
        );
        assert_eq!(
            refusal(
                log.submit(
                    create(ResourceKind::Service, "default", port_taken),
                    admin()
                )
                .await
            ),
            format!(
                "spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated"
            )
        );
        let next = log
            .submit(
                create(ResourceKind::Service, "default", node_port_service("c")),
                admin(),
            )
            .await
            .expect("c");
        let (next_ip, next_port) = addresses(&next);
        assert_ne!((next_ip.as_str(), next_port), (ip.as_str(), port));
        assert!(next_ip != ip && next_port != port);
    }

    async fn fresh_log() -> (tempfile::TempDir, EventLog, Readers) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (writer, readers) = store::open(&dir.path().join("state.db"))
            .await
            .expect("database");
        let log = started_with_default_namespace(writer, &readers).await;
        (dir, log, readers)
    }

    #[tokio::test]
    async fn a_submission_sees_the_earlier_ones_of_its_batch() {
        let (_dir, log, readers) = fresh_log().await;
        let before = log.last_seq();

        // Queued together, so the idle writer takes them as one batch.
        let (created, bound, missing, again) = tokio::join!(
            log.submit(create(ResourceKind::Pod, "default", pod("a")), admin()),
            log.submit(
                Command::Bind {
                    namespace: "default".into(),
                    name: "a".into(),
                    node: "n1".into(),
                    uid: None,
                },
                admin()
            ),
            log.submit(
                Command::Delete {
                    kind: ResourceKind::Pod,
                    namespace: "default".into(),
                    name: "b".into(),
                    options: DeleteOptions::default(),
                },
                admin()
            ),
            log.submit(create(ResourceKind::Pod, "default", pod("a")), admin()),
        );
        let created = created.expect("create");
        let bound = bound.expect("the bind sees the pod created before it");
        assert!(matches!(
            missing,
            Err(SubmitError::Command(CommandError::NotFound { .. }))
        ));
        assert!(matches!(
            again,
            Err(SubmitError::Command(CommandError::AlreadyExists { .. }))
        ));
        assert_eq!(created.envelopes[0].seq, before + 1);
        assert_eq!(bound.envelopes[0].seq, before + 2);
        assert_eq!(log.last_seq(), before + 2);

        let filter = store::LogFilter {
            from_seq: Some(before + 1),
            ..Default::default()
        };
        let events: Vec<(i64, Option<i64>)> = readers
            .entries(&filter, 0, 100, false)
            .await
            .expect("events")
            .into_iter()
            .map(|e| (e.seq, e.prev_seq))
            .collect();
        assert_eq!(events, [(before + 1, None), (before + 2, Some(before + 1))]);
        let row = projected(&readers, "Pod", "default", "a").await;
        assert_eq!(
            (row.seq, row.node_name),
            (before + 2, Some("n1".to_string()))
        );
        let entries = readers
            .recorded_history_page(ResourceKind::Pod, "default", "a", 0, 100)
            .await
            .expect("history entries")
            .expect("every event has its history entry");
        assert_eq!(entries.count, 2);
    }

    /// The names of the events after `seq`, in order.
    async fn names_after(readers: &Readers, seq: i64) -> Vec<String> {
        let filter = store::LogFilter {
            from_seq: Some(seq + 1),
            ..Default::default()
        };
        let entries = readers.entries(&filter, 0, 100, false).await;
        entries
            .expect("events")
            .into_iter()
            .map(|e| e.name)
            .collect()
    }

    /// The projection row of one object.
    async fn projected(readers: &Readers, kind: &str, namespace: &str, name: &str) -> ProjectedRow {
        let mut found = None;
        readers
            .scan_log_and_projections::<StoreError>(
                |_| Ok(()),
                |key, row| {
                    if key == (kind.to_string(), namespace.to_string(), name.to_string()) {
                        found = Some(row);
                    }
                },
            )
            .await
            .expect("projections");
        found.expect("a projection row")
    }
}
