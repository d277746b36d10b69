//! `Informer`: the workers' in-memory copy of the cluster, kept current from the log (a
//! snapshot, then the log after it, then the envelopes published after each commit). Workers
//! read consistent snapshots from it and wait on it to catch up with their own writes, so a
//! reconcile never acts twice on state it has already changed.
//!
//! Besides each object's current state, a snapshot keeps what a controller needs to name the
//! true cause of a decision: when each aspect of an object last changed (`Marks`: its spec,
//! labels, owners, deletion, phase, readiness), and the objects that recently left an owner
//! (`Gone`: deleted, or released from its ownerReferences), a bounded number of them. Both are
//! folded from the events alone, so `replay --check-workers`, which folds the log from its
//! start, sees the same ones. A snapshot loaded at start-up lists the projections and folds only
//! the newest `RECENT_EVENTS` events for marks and departures: an object older than those has
//! its unchanged aspects marked at the oldest of its events among them (or its current version).
//!
//! Each object is `Held` with its `Facts`, what passes read of every object, in the form its
//! kind is held in (`holding`): parsed; pods only as their JSON text without managedFields,
//! with `PodFacts`, parsed one at a time by a pass that acts on one. core/v1 Events are not held
//! at all (`Holding::InStore`): they come in thousands an hour, and the two passes that read
//! them read them from the store (`controller::StoreReads`). Passes over
//! thousands of pods read facts, so memory per pod is its text and a few hundred bytes. Marks
//! and the ownership counter follow digests of the parts they watch, so no earlier version is
//! needed to tell what an event changed.

use super::pods::PodFacts;
use crate::events::{EventLog, EventType, StoreError};
use crate::model::meta::Lookup as _;
use crate::model::{ResourceKind, meta};
use crate::projections::{ListQuery, ReadStore, Replayed};
use crate::shutdown::Shutdown;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use tokio::sync::{broadcast, watch};

type Key = (String, String);

/// How many departures (`Gone`) a snapshot keeps: enough for every controller to see the ones
/// since its last pass, bounded so a long log does not grow the cache.
pub const GONE_KEPT: usize = 4096;

/// The seq at which each aspect of an object last changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// Its creation (of this incarnation: the uid's first event).
    pub created: i64,
    /// `spec` (for a pod also its binding, `spec.nodeName`).
    pub spec: i64,
    pub labels: i64,
    /// `metadata.ownerReferences`.
    pub owners: i64,
    /// When `metadata.deletionTimestamp` appeared, while it stands.
    pub deletion: Option<i64>,
    /// `status.phase`.
    pub phase: i64,
    /// The `Ready` condition's status.
    pub ready: i64,
}

impl Marks {
    /// The marks of an object first seen at `seq`.
    pub fn first(object: &Value, seq: i64) -> Marks {
        Marks::first_of(meta::deletion_timestamp(object).is_some(), seq)
    }

    fn first_of(deleting: bool, seq: i64) -> Marks {
        Marks {
            created: seq,
            spec: seq,
            labels: seq,
            owners: seq,
            deletion: deleting.then_some(seq),
            phase: seq,
            ready: seq,
        }
    }

    /// The marks after `before` became `after` at `seq`.
    fn advance(self, before: &Facts, after: &Facts, seq: i64) -> Marks {
        if before.uid != after.uid {
            return Marks::first_of(after.deleting, seq);
        }
        let moved = |before: u64, after: u64, mark: i64| if before == after { mark } else { seq };
        let (b, a) = (&before.digest, &after.digest);
        Marks {
            created: self.created,
            spec: moved(b.spec, a.spec, self.spec),
            labels: moved(b.labels, a.labels, self.labels),
            owners: moved(b.owners, a.owners, self.owners),
            deletion: match after.deleting {
                true => self.deletion.or(Some(seq)),
                false => None,
            },
            phase: moved(b.phase, a.phase, self.phase),
            ready: if before.ready == after.ready {
                self.ready
            } else {
                seq
            },
        }
    }
}

/// Hashes of the parts of an object whose changes the marks and the ownership counter follow,
/// so an object held as text needs no earlier version to tell what an event changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Digest {
    spec: u64,
    labels: u64,
    owners: u64,
    finalizers: u64,
    phase: u64,
}

/// What the informer reads of every object it holds, whatever form it holds it in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// `metadata.resourceVersion` as a number (the seq that wrote this version).
    pub version: i64,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// The uids in `metadata.ownerReferences`.
    pub owners: Vec<String>,
    /// `metadata.finalizers`.
    pub finalizers: Vec<String>,
    /// The status of the `Ready` condition (pods, nodes).
    pub ready: Option<String>,
    /// `spec.nodeName` of a pod, when bound.
    pub node: Option<String>,
    /// What the workers read of a pod (pods only).
    pub pod: Option<Box<PodFacts>>,
    digest: Digest,
}

impl Facts {
    pub fn of(kind: ResourceKind, object: &Value) -> Facts {
        Facts {
            namespace: meta::namespace(object).to_string(),
            name: meta::name(object).to_string(),
            uid: meta::uid(object).to_string(),
            version: version(object),
            deleting: meta::deletion_timestamp(object).is_some(),
            owners: meta::owner_uids(object)
                .into_iter()
                .map(str::to_string)
                .collect(),
            finalizers: meta::finalizers(object),
            ready: ready_status(object).map(str::to_string),
            node: (kind == ResourceKind::Pod)
                .then(|| node_of(object).map(str::to_string))
                .flatten(),
            pod: (kind == ResourceKind::Pod).then(|| Box::new(PodFacts::of(object))),
            digest: Digest {
                spec: digest(object.at("/spec")),
                labels: digest(object.at("/metadata/labels")),
                owners: digest(object.at("/metadata/ownerReferences")),
                finalizers: digest(object.at("/metadata/finalizers")),
                phase: digest(object.at("/status/phase")),
            },
        }
    }
}

/// A hash of a part of an object (absent and `null` alike).
fn digest(value: Option<&Value>) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    fn feed(value: &Value, h: &mut std::collections::hash_map::DefaultHasher) {
        match value {
            Value::Null => 0u8.hash(h),
            Value::Bool(b) => (1u8, b).hash(h),
            Value::Number(n) => (2u8, n.to_string()).hash(h),
            Value::String(s) => (3u8, s).hash(h),
            Value::Array(items) => {
                (4u8, items.len()).hash(h);
                items.iter().for_each(|v| feed(v, h));
            }
            Value::Object(map) => {
                (5u8, map.len()).hash(h);
                for (k, v) in map {
                    k.hash(h);
                    feed(v, h);
                }
            }
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    feed(value.unwrap_or(&Value::Null), &mut h);
    h.finish()
}

/// How the informer holds the objects of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    /// Parsed: the few objects passes read whole (nodes, workloads, Services, ...).
    Parsed,
    /// Only as JSON text (as stored, without `metadata.managedFields`) and `Facts`: the kinds
    /// that come in thousands and that a pass reads whole only for the few objects it acts on
    /// (pods; `PodFacts` carries what passes choose them by).
    Text,
    /// Not at all: only their changes are counted. For the kinds that pile up for as long as
    /// they are kept (core/v1 Events, an hour by default) and that passes read from the store
    /// instead (`controller::StoreReads`), so memory does not grow with them.
    InStore,
}

/// How the informer holds the objects of `kind`.
pub fn holding(kind: ResourceKind) -> Holding {
    match kind {
        ResourceKind::Pod => Holding::Text,
        ResourceKind::Event => Holding::InStore,
        _ => Holding::Parsed,
    }
}

/// The text an object is held as: as stored, but without `metadata.managedFields` (a third of
/// a pod's text, which no worker reads; an update without them keeps the stored ones).
fn without_managed_fields(object: &Value, stored: Option<Arc<str>>) -> Arc<str> {
    struct Object<'a>(&'a serde_json::Map<String, Value>, Option<&'static str>);
    impl serde::Serialize for Object<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap as _;
            let mut map = serializer.serialize_map(None)?;
            for (key, value) in self.0 {
                if Some(key.as_str()) == self.1 {
                    continue;
                }
                match (key.as_str(), value) {
                    ("metadata", Value::Object(metadata)) if self.1.is_none() => {
                        map.serialize_entry(key, &Object(metadata, Some("managedFields")))?
                    }
                    _ => map.serialize_entry(key, value)?,
                }
            }
            map.end()
        }
    }
    let has_them = object.at("/metadata/managedFields").is_some();
    match (object.as_object(), stored) {
        (_, Some(stored)) if !has_them => stored,
        (Some(map), _) => serde_json::to_string(&Object(map, None))
            .map(Into::into)
            .unwrap_or_else(|_| object.to_string().into()),
        (None, _) => object.to_string().into(),
    }
}

/// An object as the informer holds it (`holding`): parsed, as its JSON text, or only its
/// `Facts`; with its `Facts` in every form.
#[derive(Debug, Clone)]
pub struct Held {
    form: Form,
    facts: Facts,
}

#[derive(Debug, Clone)]
enum Form {
    Parsed(Arc<Value>),
    Text(Arc<str>),
}

impl Held {
    /// `object` (of `kind`) as the informer holds it; `json` is its text as stored, when the
    /// caller has it.
    pub fn new(kind: ResourceKind, object: Arc<Value>, json: Option<Arc<str>>) -> Held {
        let facts = Facts::of(kind, &object);
        let form = match holding(kind) {
            Holding::Parsed => Form::Parsed(object),
            // A kind held in the store is held here only where a caller builds one (a remote
            // kubelet's relist); it keeps its text.
            Holding::Text | Holding::InStore => Form::Text(without_managed_fields(&object, json)),
        };
        Held { form, facts }
    }

    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    pub fn namespace(&self) -> &str {
        &self.facts.namespace
    }

    pub fn name(&self) -> &str {
        &self.facts.name
    }

    pub fn uid(&self) -> &str {
        &self.facts.uid
    }

    /// `metadata.resourceVersion` as a number.
    pub fn version(&self) -> i64 {
        self.facts.version
    }

    /// Whether `metadata.deletionTimestamp` is set.
    pub fn deleting(&self) -> bool {
        self.facts.deleting
    }

    /// `spec.nodeName` of a pod, when bound.
    pub fn node(&self) -> Option<&str> {
        self.facts.node.as_deref()
    }

    /// The status of the `Ready` condition (pods, nodes).
    pub fn ready(&self) -> Option<&str> {
        self.facts.ready.as_deref()
    }

    /// What the workers read of a pod (an object of another kind reads as a pod with nothing
    /// set).
    pub fn pod(&self) -> &PodFacts {
        static NONE: std::sync::LazyLock<PodFacts> = std::sync::LazyLock::new(PodFacts::default);
        self.facts.pod.as_deref().unwrap_or(&NONE)
    }

    /// A pod that counts toward its workload: not being deleted, not finished.
    pub fn is_active(&self) -> bool {
        !self.facts.deleting && !self.pod().is_terminal()
    }

    /// The object itself, parsed from its text when held as text (without
    /// `metadata.managedFields`; a corrupt text, which the log never holds, reads as `null`).
    pub fn object(&self) -> Arc<Value> {
        match &self.form {
            Form::Parsed(object) => object.clone(),
            Form::Text(json) => Arc::new(serde_json::from_str(json).unwrap_or(Value::Null)),
        }
    }

    /// The object when held parsed.
    pub fn parsed(&self) -> Option<&Arc<Value>> {
        match &self.form {
            Form::Parsed(object) => Some(object),
            Form::Text(_) => None,
        }
    }
}

/// The status of an object's `Ready` condition (pods, nodes).
pub fn ready_status(object: &Value) -> Option<&str> {
    object
        .at("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
}

/// An object that left its owners: deleted, or released (its ownerReferences no longer name
/// them).
#[derive(Debug, Clone, PartialEq)]
pub struct Gone {
    pub seq: i64,
    pub kind: ResourceKind,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The owners it left (uids).
    pub owners: Vec<String>,
    /// Deleted (else released).
    pub deleted: bool,
    /// When its deletion was asked for, when it went through one (graceful) before going.
    pub deletion_requested: Option<i64>,
}

/// The recent departures, oldest first, by owner and by uid (deletions only).
#[derive(Debug, Default)]
struct Departures {
    all: VecDeque<Arc<Gone>>,
    by_owner: HashMap<String, VecDeque<Arc<Gone>>>,
    deleted: HashMap<String, Arc<Gone>>,
}

impl Departures {
    fn push(&mut self, gone: Gone) {
        let gone = Arc::new(gone);
        for owner in &gone.owners {
            self.by_owner
                .entry(owner.clone())
                .or_default()
                .push_back(gone.clone());
        }
        if gone.deleted {
            self.deleted.insert(gone.uid.clone(), gone.clone());
        }
        self.all.push_back(gone);
        while self.all.len() > GONE_KEPT {
            let Some(oldest) = self.all.pop_front() else {
                break;
            };
            for owner in &oldest.owners {
                if let Some(list) = self.by_owner.get_mut(owner) {
                    list.pop_front();
                    if list.is_empty() {
                        self.by_owner.remove(owner);
                    }
                }
            }
            if self
                .deleted
                .get(&oldest.uid)
                .is_some_and(|g| g.seq == oldest.seq)
            {
                self.deleted.remove(&oldest.uid);
            }
        }
    }
}

/// An object with its marks.
#[derive(Debug, Clone)]
struct Entry {
    object: Held,
    marks: Marks,
}

/// The cluster as of `seq`.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub seq: i64,
    /// Boxed: an entry is a few hundred bytes, and the tree's nodes keep room for eleven.
    objects: HashMap<ResourceKind, BTreeMap<Key, Box<Entry>>>,
    departures: Departures,
    /// Pods by `spec.nodeName`, for node agents.
    pods_by_node: HashMap<String, BTreeSet<Key>>,
    /// Events applied per kind, so a worker that cares about a few kinds can tell whether
    /// anything it reads changed.
    changes_by_kind: HashMap<ResourceKind, u64>,
    /// Events that can matter to ownership: a deletion, an object being deleted, or a change
    /// of ownerReferences or finalizers on an existing object.
    ownership_changes: u64,
}

impl Snapshot {
    /// The objects of a kind held parsed (`Holding::Parsed`; read the others with `held`).
    pub fn list(&self, kind: ResourceKind) -> impl Iterator<Item = &Arc<Value>> {
        debug_assert!(
            holding(kind) == Holding::Parsed,
            "{} is not held parsed",
            kind.as_str()
        );
        self.held(kind).filter_map(Held::parsed)
    }

    /// Every object of `kind`, in whichever form it is held.
    pub fn held(&self, kind: ResourceKind) -> impl Iterator<Item = &Held> {
        self.objects
            .get(&kind)
            .into_iter()
            .flat_map(|m| m.values().map(|e| &e.object))
    }

    /// An object of a kind held parsed (`Holding::Parsed`).
    pub fn get(&self, kind: ResourceKind, namespace: &str, name: &str) -> Option<&Arc<Value>> {
        self.entry(kind, namespace, name)
            .and_then(|e| e.object.parsed())
    }

    fn entry(&self, kind: ResourceKind, namespace: &str, name: &str) -> Option<&Entry> {
        self.objects
            .get(&kind)?
            .get(&(namespace.to_string(), name.to_string()))
            .map(Box::as_ref)
    }

    /// When the aspects of an object last changed.
    pub fn marks(&self, kind: ResourceKind, namespace: &str, name: &str) -> Option<Marks> {
        self.entry(kind, namespace, name).map(|e| e.marks)
    }

    /// The marks of `object` (of `kind`), as this snapshot holds it: its current version's
    /// seq for every aspect when the snapshot does not hold that version.
    pub fn marks_of(&self, kind: ResourceKind, object: &Value) -> Marks {
        let at = version(object);
        match self.entry(kind, meta::namespace(object), meta::name(object)) {
            Some(entry) if entry.object.facts.version == at => entry.marks,
            _ => Marks::first(object, at),
        }
    }

    /// The objects that recently left the owner `uid` (deleted or released), oldest first.
    pub fn gone_from(&self, uid: &str) -> impl DoubleEndedIterator<Item = &Gone> {
        self.departures
            .by_owner
            .get(uid)
            .into_iter()
            .flat_map(|list| list.iter().map(Arc::as_ref))
    }

    /// The deletion of the object with `uid`, when it was recent.
    pub fn deletion_of(&self, uid: &str) -> Option<&Gone> {
        self.departures.deleted.get(uid).map(Arc::as_ref)
    }

    /// The newest recent deletion of the object `kind` `namespace`/`name` (whichever uid it
    /// had), for a controller that recreates what was deleted.
    pub fn deleted_named(&self, kind: ResourceKind, namespace: &str, name: &str) -> Option<&Gone> {
        self.departures
            .all
            .iter()
            .rev()
            .map(Arc::as_ref)
            .find(|g| g.deleted && g.kind == kind && g.namespace == namespace && g.name == name)
    }

    /// The objects of `kind` in `namespace`, parsed (those held as text, one by one as the
    /// iterator reaches them).
    pub fn in_namespace<'a>(
        &'a self,
        kind: ResourceKind,
        namespace: &'a str,
    ) -> impl Iterator<Item = Arc<Value>> + 'a {
        self.objects
            .get(&kind)
            .into_iter()
            .flat_map(move |m| m.range((namespace.to_string(), String::new())..))
            .take_while(move |((ns, _), _)| ns == namespace)
            .map(|(_, e)| e.object.object())
    }

    /// The objects of `kind` in `namespace`, as held.
    pub fn held_in_namespace<'a>(
        &'a self,
        kind: ResourceKind,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Held> + 'a {
        self.objects
            .get(&kind)
            .into_iter()
            .flat_map(move |m| m.range((namespace.to_string(), String::new())..))
            .take_while(move |((ns, _), _)| ns == namespace)
            .map(|(_, e)| &e.object)
    }

    /// Pods bound to `node`, parsed.
    pub fn pods_on(&self, node: &str) -> Vec<Arc<Value>> {
        self.pods_held_on(node)
            .into_iter()
            .map(Held::object)
            .collect()
    }

    /// Pods bound to `node`, as held.
    pub fn pods_held_on(&self, node: &str) -> Vec<&Held> {
        let Some(keys) = self.pods_by_node.get(node) else {
            return vec![];
        };
        let Some(pods) = self.objects.get(&ResourceKind::Pod) else {
            return vec![];
        };
        keys.iter()
            .filter_map(|k| pods.get(k).map(|e| &e.object))
            .collect()
    }

    /// Every pod, as held (read `Held::pod` and parse only the ones acted on).
    pub fn pods(&self) -> impl Iterator<Item = &Held> {
        self.held(ResourceKind::Pod)
    }

    /// An object of any kind, parsed (from its text when held as text).
    pub fn object(&self, kind: ResourceKind, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.entry(kind, namespace, name).map(|e| e.object.object())
    }

    /// An object of any kind, as held.
    pub fn get_held(&self, kind: ResourceKind, namespace: &str, name: &str) -> Option<&Held> {
        self.entry(kind, namespace, name).map(|e| &e.object)
    }

    /// The marks of `held` (of `kind`), as `marks_of`.
    pub fn marks_held(&self, kind: ResourceKind, held: &Held) -> Marks {
        let at = held.version();
        match self.entry(kind, held.namespace(), held.name()) {
            Some(entry) if entry.object.facts.version == at => entry.marks,
            _ => Marks::first_of(held.deleting(), at),
        }
    }

    /// Replace every object of `kind` (after a relist), as of `seq`.
    pub(crate) fn replace_kind(&mut self, kind: ResourceKind, objects: Vec<Arc<Value>>, seq: i64) {
        if let Some(old) = self.objects.remove(&kind)
            && kind == ResourceKind::Pod
        {
            drop(old);
            self.pods_by_node.clear();
        }
        for object in objects {
            let at = version(&object);
            self.apply(kind, EventType::Updated, object, at);
        }
        self.seq = self.seq.max(seq);
    }

    /// Take the marks `recent` (the newest events folded) knows of the objects this snapshot
    /// holds at the same version, and its departures. An object whose whole history is among
    /// those events gets the marks a fold of the whole log gives.
    fn learn_from(&mut self, recent: Snapshot) {
        for (kind, objects) in &mut self.objects {
            let Some(known) = recent.objects.get(kind) else {
                continue;
            };
            for (key, entry) in objects.iter_mut() {
                if let Some(learnt) = known.get(key)
                    && learnt.object.facts.version == entry.object.facts.version
                {
                    entry.marks = learnt.marks;
                }
            }
        }
        self.departures = recent.departures;
    }

    /// How many events of `kind` this snapshot has applied (a change counter, not a size).
    pub fn changes_of(&self, kind: ResourceKind) -> u64 {
        self.changes_by_kind.get(&kind).copied().unwrap_or(0)
    }

    /// How many applied events could change what the garbage collector decides.
    pub fn ownership_changes(&self) -> u64 {
        self.ownership_changes
    }

    pub fn count(&self, kind: ResourceKind) -> usize {
        self.objects.get(&kind).map_or(0, BTreeMap::len)
    }

    /// Apply one log event, unless the cache already holds a newer state of the object.
    pub(crate) fn apply(
        &mut self,
        kind: ResourceKind,
        event_type: EventType,
        object: Arc<Value>,
        seq: i64,
    ) {
        self.apply_stored(kind, event_type, object, None, seq);
    }

    /// `apply`, with the object's JSON text as stored when the caller has it (kept, not
    /// serialized again, for a kind held as text).
    pub(crate) fn apply_stored(
        &mut self,
        kind: ResourceKind,
        event_type: EventType,
        object: Arc<Value>,
        json: Option<Arc<str>>,
        seq: i64,
    ) {
        if holding(kind) == Holding::InStore {
            if seq > self.seq {
                *self.changes_by_kind.entry(kind).or_default() += 1;
            }
            self.seq = self.seq.max(seq);
            return;
        }
        self.seq = self.seq.max(seq);
        let key = (
            meta::namespace(&object).to_string(),
            meta::name(&object).to_string(),
        );
        let objects = self.objects.entry(kind).or_default();
        let before = objects.get(&key).map(Box::as_ref);
        if let Some(existing) = before
            && existing.object.facts.version >= seq
        {
            return;
        }
        let held = Held::new(kind, object, json);
        let after = &held.facts;
        *self.changes_by_kind.entry(kind).or_default() += 1;
        if matters_to_ownership(event_type, before.map(|e| &e.object.facts), after) {
            self.ownership_changes += 1;
        }
        let marks = match before {
            Some(entry) => entry.marks.advance(&entry.object.facts, after, seq),
            None => Marks::first_of(after.deleting, seq),
        };
        if let Some(gone) = departure(kind, event_type, before, &key, after, seq) {
            self.departures.push(gone);
        }
        let objects = self.objects.entry(kind).or_default();
        if kind == ResourceKind::Pod {
            if let Some(old_node) = objects.get(&key).and_then(|e| e.object.facts.node.as_ref())
                && let Some(keys) = self.pods_by_node.get_mut(old_node)
            {
                keys.remove(&key);
            }
            if event_type != EventType::Deleted
                && let Some(node) = &after.node
            {
                self.pods_by_node
                    .entry(node.clone())
                    .or_default()
                    .insert(key.clone());
            }
        }
        if event_type == EventType::Deleted {
            objects.remove(&key);
        } else {
            objects.insert(
                key,
                Box::new(Entry {
                    object: held,
                    marks,
                }),
            );
        }
    }
}

/// The departure an event makes, if any: a deletion (from every owner the object had), or
/// owners dropped from its ownerReferences.
fn departure(
    kind: ResourceKind,
    event_type: EventType,
    before: Option<&Entry>,
    (namespace, name): &Key,
    after: &Facts,
    seq: i64,
) -> Option<Gone> {
    let gone = |owners: Vec<String>, deleted: bool| Gone {
        seq,
        kind,
        namespace: namespace.clone(),
        name: name.clone(),
        uid: after.uid.clone(),
        owners,
        deleted,
        deletion_requested: before.and_then(|e| e.marks.deletion),
    };
    if event_type == EventType::Deleted {
        return Some(gone(after.owners.clone(), true));
    }
    let before = before?;
    let was = &before.object.facts;
    if was.uid != after.uid || was.digest.owners == after.digest.owners {
        return None;
    }
    let left: Vec<String> = was
        .owners
        .iter()
        .filter(|o| !after.owners.contains(o))
        .cloned()
        .collect();
    (!left.is_empty()).then(|| gone(left, false))
}

/// Whether an event can change what follows ownerReferences: a deletion, an object marked
/// for deletion, or ownerReferences or finalizers that differ from the cached version. A new
/// object's references are not counted: a dependent created after its owner is gone is found
/// by the garbage collector's periodic pass.
fn matters_to_ownership(event_type: EventType, before: Option<&Facts>, after: &Facts) -> bool {
    if event_type == EventType::Deleted || after.deleting {
        return true;
    }
    let Some(before) = before else {
        return false;
    };
    before.digest.owners != after.digest.owners
        || before.digest.finalizers != after.digest.finalizers
}

fn node_of(pod: &Value) -> Option<&str> {
    pod.at("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
}

fn version(object: &Value) -> i64 {
    meta::resource_version(object).parse().unwrap_or(0)
}

/// The shared cache and a signal carrying its seq.
#[derive(Clone)]
pub struct Informer {
    state: Arc<RwLock<Snapshot>>,
    seq: watch::Receiver<i64>,
    /// The store it follows, for what passes read there (`Holding::InStore`); none for an
    /// informer fed by someone else.
    store: Option<ReadStore>,
}

impl Informer {
    /// Load the current state and start following the log.
    pub async fn start(
        log: &EventLog,
        store: &ReadStore,
        shutdown: Shutdown,
    ) -> Result<Self, StoreError> {
        let subscriptions = log.subscriptions();
        let state = Arc::new(RwLock::new(load(store).await?));
        let first = read(&state).seq;
        let (tx, seq) = watch::channel(first);
        // Each run (again after a panic) subscribes anew, then fills from the log what was
        // published before it subscribed: a panicked `follow` takes its receiver with it. No
        // receiver is held between runs: one nobody reads would pin the whole buffer.
        let (following, follows) = (state.clone(), store.clone());
        let start = move || {
            let (state, store, tx) = (following.clone(), follows.clone(), tx.clone());
            let live = subscriptions.subscribe();
            async move {
                let Some(live) = live else {
                    return;
                };
                if let Err(e) = resync(&state, &store).await {
                    tracing::warn!(error = %e, "informer could not catch up");
                }
                tx.send_replace(read(&state).seq);
                follow(state, store, live, tx).await;
            }
        };
        tokio::spawn(super::supervise(
            INFORMER.to_string(),
            log.health().clone(),
            shutdown,
            start,
        ));
        Ok(Informer {
            state,
            seq,
            store: Some(store.clone()),
        })
    }

    /// An informer fed by someone else (a remote list+watch): the shared state, the sender of
    /// its seq, and the informer reading them.
    pub(crate) fn detached() -> (Arc<RwLock<Snapshot>>, watch::Sender<i64>, Informer) {
        let state = Arc::new(RwLock::new(Snapshot::default()));
        let (tx, seq) = watch::channel(0);
        (
            state.clone(),
            tx,
            Informer {
                state,
                seq,
                store: None,
            },
        )
    }

    /// A read guard on the current snapshot; never hold it across an `.await`.
    pub fn read(&self) -> RwLockReadGuard<'_, Snapshot> {
        read(&self.state)
    }

    pub fn seq(&self) -> i64 {
        *self.seq.borrow()
    }

    /// The store this informer follows (none when someone else feeds it).
    pub fn store(&self) -> Option<&ReadStore> {
        self.store.as_ref()
    }

    /// A receiver that changes whenever the cache advances.
    pub fn changes(&self) -> watch::Receiver<i64> {
        self.seq.clone()
    }

    /// Wait until the cache reflects the log at least up to `seq` (or the follower stopped).
    pub async fn wait_for(&self, seq: i64) {
        let mut rx = self.seq.clone();
        let _ = rx.wait_for(|current| *current >= seq).await;
    }
}

fn read(state: &RwLock<Snapshot>) -> RwLockReadGuard<'_, Snapshot> {
    // A panic while holding the lock cannot leave a half-applied event: apply is one insert.
    state
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn load(store: &ReadStore) -> Result<Snapshot, StoreError> {
    let mut snapshot = Snapshot::default();
    let start = store.last_seq().await?;
    for kind in ResourceKind::ALL {
        if holding(kind) == Holding::InStore {
            continue;
        }
        let page = store.list(kind, &ListQuery::default(), None).await?;
        for json in page.items {
            let object: Value = serde_json::from_str(&json).map_err(StoreError::Corrupt)?;
            let seq = version(&object);
            let json = (holding(kind) == Holding::Text).then(|| json.into());
            snapshot.apply_stored(kind, EventType::Updated, Arc::new(object), json, seq);
        }
    }
    snapshot.learn_from(recent(store, start).await?);
    // Lists read one snapshot each; replaying the log after the start settles any difference.
    snapshot.seq = start;
    catch_up(&mut snapshot, store).await?;
    Ok(snapshot)
}

/// How many of the newest events before start-up `load` folds to learn the marks of the
/// objects they touched and the recent departures: the projections give only each object's
/// current version, and replaying the whole log would make start-up grow with the history.
pub const RECENT_EVENTS: i64 = 20_000;

/// The last `RECENT_EVENTS` events up to `start`, folded into a snapshot of their own.
async fn recent(store: &ReadStore, start: i64) -> Result<Snapshot, StoreError> {
    let mut recent = Snapshot {
        seq: (start - RECENT_EVENTS).max(0),
        ..Snapshot::default()
    };
    fold_log(&mut recent, store, start).await?;
    Ok(recent)
}

/// Apply the log after the snapshot's seq, up to the end.
async fn catch_up(snapshot: &mut Snapshot, store: &ReadStore) -> Result<(), StoreError> {
    fold_log(snapshot, store, i64::MAX).await
}

/// Apply the log's events after the snapshot's seq and up to `until`, a page at a time.
async fn fold_log(
    snapshot: &mut Snapshot,
    store: &ReadStore,
    until: i64,
) -> Result<(), StoreError> {
    while snapshot.seq < until {
        let rows = store.log_after(snapshot.seq, 1000).await?;
        if rows.is_empty() {
            return Ok(());
        }
        for Replayed {
            row,
            kind,
            event_type,
            ..
        } in rows
        {
            if row.seq > until {
                return Ok(());
            }
            if holding(kind) == Holding::InStore {
                // Nothing of it is kept: no need to read it.
                snapshot.apply(kind, event_type, Arc::new(Value::Null), row.seq);
                continue;
            }
            let object: Value = serde_json::from_str(&row.object).map_err(StoreError::Corrupt)?;
            let json = (holding(kind) == Holding::Text).then(|| row.object.into());
            snapshot.apply_stored(kind, event_type, Arc::new(object), json, row.seq);
        }
    }
    Ok(())
}

/// The informer's name in `Health` and in the panic count. It runs supervised: after a
/// panic it is down (so `/readyz` fails naming it: the workers' snapshot is not moving) until
/// it starts again.
pub const INFORMER: &str = "informer";

async fn follow(
    state: Arc<RwLock<Snapshot>>,
    store: ReadStore,
    mut live: broadcast::Receiver<Arc<crate::events::EventEnvelope>>,
    tx: watch::Sender<i64>,
) {
    loop {
        // Everything already published goes in under one lock and one notification: a
        // commit publishes hundreds of envelopes at once.
        let mut arrived = Vec::new();
        let mut lagged = false;
        match live.recv().await {
            Ok(envelope) => arrived.push(envelope),
            Err(broadcast::error::RecvError::Lagged(_)) => lagged = true,
            Err(broadcast::error::RecvError::Closed) => return,
        }
        while !lagged {
            match live.try_recv() {
                Ok(envelope) => arrived.push(envelope),
                Err(broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
                Err(_) => break,
            }
        }
        let gap = {
            let mut snapshot = state.write().unwrap_or_else(|p| p.into_inner());
            let mut gap = false;
            for envelope in arrived {
                if envelope.seq <= snapshot.seq {
                    continue;
                }
                if envelope.seq > snapshot.seq + 1 {
                    gap = true;
                    break;
                }
                snapshot.apply_stored(
                    envelope.kind,
                    envelope.event_type,
                    envelope.object.clone(),
                    Some(envelope.object_json.clone()),
                    envelope.seq,
                );
            }
            gap
        };
        // A gap (the cache loaded before this subscription caught up) or a lag: fill it
        // from the log, which already holds everything that was published.
        if (gap || lagged)
            && let Err(e) = resync(&state, &store).await
        {
            tracing::warn!(error = %e, "informer could not catch up");
        }
        tx.send_replace(read(&state).seq);
    }
}

/// Bring the cache up to date from the log (after a gap or a lag), a page at a time so the
/// lock is never held across a read.
async fn resync(state: &RwLock<Snapshot>, store: &ReadStore) -> Result<(), StoreError> {
    loop {
        let from = read(state).seq;
        let rows = store.log_after(from, 5000).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut parsed = Vec::with_capacity(rows.len());
        for Replayed {
            row,
            kind,
            event_type,
            ..
        } in rows
        {
            let object: Value = serde_json::from_str(&row.object).map_err(StoreError::Corrupt)?;
            let json = (holding(kind) == Holding::Text).then(|| row.object.into());
            parsed.push((row.seq, kind, event_type, object, json));
        }
        let mut snapshot = state.write().unwrap_or_else(|p| p.into_inner());
        for (seq, kind, event_type, object, json) in parsed {
            snapshot.apply_stored(kind, event_type, Arc::new(object), json, seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(rv: i64, labels: Value, owner: Option<&str>, deleting: bool) -> Arc<Value> {
        let mut pod = json!({"metadata": {"name": "p", "namespace": "default", "uid": "u1",
                                          "resourceVersion": rv.to_string(), "labels": labels},
                             "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        if let Some(owner) = owner {
            pod["metadata"]["ownerReferences"] = json!([{"uid": owner, "controller": true}]);
        }
        if deleting {
            pod["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        Arc::new(pod)
    }

    #[test]
    fn marks_move_only_with_their_aspect_and_departures_name_the_owner_left() {
        let mut s = Snapshot::default();
        s.apply(
            ResourceKind::Pod,
            EventType::Created,
            pod(3, json!({"app": "a"}), Some("rs"), false),
            3,
        );
        s.apply(
            ResourceKind::Pod,
            EventType::StatusUpdated,
            pod(5, json!({"app": "a"}), Some("rs"), false),
            5,
        );
        let marks = s.marks(ResourceKind::Pod, "default", "p").expect("held");
        assert_eq!(
            (marks.created, marks.labels, marks.owners, marks.deletion),
            (3, 3, 3, None)
        );
        // Relabelled, then released by its owner.
        s.apply(
            ResourceKind::Pod,
            EventType::Updated,
            pod(7, json!({"app": "b"}), Some("rs"), false),
            7,
        );
        s.apply(
            ResourceKind::Pod,
            EventType::Updated,
            pod(8, json!({"app": "b"}), None, false),
            8,
        );
        let marks = s.marks(ResourceKind::Pod, "default", "p").expect("held");
        assert_eq!((marks.labels, marks.owners), (7, 8));
        let gone: Vec<(i64, bool)> = s.gone_from("rs").map(|g| (g.seq, g.deleted)).collect();
        assert_eq!(gone, [(8, false)]);
        // Deleted gracefully: the request is remembered with the deletion.
        s.apply(
            ResourceKind::Pod,
            EventType::Updated,
            pod(9, json!({"app": "b"}), Some("rs2"), false),
            9,
        );
        s.apply(
            ResourceKind::Pod,
            EventType::DeletionRequested,
            pod(10, json!({"app": "b"}), Some("rs2"), true),
            10,
        );
        s.apply(
            ResourceKind::Pod,
            EventType::StatusUpdated,
            pod(11, json!({"app": "b"}), Some("rs2"), true),
            11,
        );
        assert_eq!(
            s.marks(ResourceKind::Pod, "default", "p")
                .expect("held")
                .deletion,
            Some(10)
        );
        s.apply(
            ResourceKind::Pod,
            EventType::Deleted,
            pod(12, json!({"app": "b"}), Some("rs2"), true),
            12,
        );
        let deleted = s.deletion_of("u1").expect("remembered");
        assert_eq!((deleted.seq, deleted.deletion_requested), (12, Some(10)));
        assert_eq!(s.gone_from("rs2").count(), 1);
    }

    #[test]
    fn events_are_left_to_the_store_and_pods_held_as_their_text() {
        let mut s = Snapshot::default();
        for (seq, (namespace, name)) in (1..).zip([("a", "e1"), ("b", "e2"), ("b", "e3")]) {
            let event = json!({"metadata": {"name": name, "namespace": namespace,
                                            "uid": format!("u-{name}"),
                                            "resourceVersion": seq.to_string(),
                                            "creationTimestamp": "2026-01-01T00:00:00Z"},
                               "reason": "Scheduled"});
            let text: Arc<str> = event.to_string().into();
            s.apply_stored(
                ResourceKind::Event,
                EventType::Created,
                Arc::new(event),
                Some(text),
                seq,
            );
        }
        // Nothing of them is kept: only the count of changes and the seq move.
        assert_eq!(s.held(ResourceKind::Event).count(), 0);
        assert_eq!(s.count(ResourceKind::Event), 0);
        assert_eq!((s.changes_of(ResourceKind::Event), s.seq), (3, 3));
        let gone = json!({"metadata": {"name": "e1", "namespace": "a", "uid": "u-e1",
                                       "resourceVersion": "4"}});
        s.apply(ResourceKind::Event, EventType::Deleted, Arc::new(gone), 4);
        assert!(s.deletion_of("u-e1").is_none());
        assert_eq!(s.in_namespace(ResourceKind::Event, "b").count(), 0);
        assert_eq!(s.changes_of(ResourceKind::Event), 4);

        let p = pod(5, json!({"app": "a"}), Some("rs"), false);
        let mut stored = p.as_ref().clone();
        stored["metadata"]["managedFields"] = json!([{"manager": "m", "operation": "Update"}]);
        let text: Arc<str> = stored.to_string().into();
        s.apply_stored(
            ResourceKind::Pod,
            EventType::Created,
            Arc::new(stored),
            Some(text),
            5,
        );
        let held = s.get_held(ResourceKind::Pod, "default", "p").expect("held");
        assert!(held.parsed().is_none());
        // Whole, but for the managedFields no worker reads.
        assert_eq!(held.object(), p);
        assert_eq!(held.pod().labels.get("app"), Some("a"));
        assert_eq!(s.pods_held_on("n1").len(), 1);
        assert_eq!(s.pods_on("n1"), [p]);
    }

    #[test]
    fn departures_are_bounded() {
        let mut s = Snapshot::default();
        for i in 0..(GONE_KEPT as i64 + 10) {
            let mut p = pod(i + 1, json!({}), Some("rs"), false).as_ref().clone();
            p["metadata"]["name"] = json!(format!("p{i}"));
            p["metadata"]["uid"] = json!(format!("u{i}"));
            s.apply(ResourceKind::Pod, EventType::Deleted, Arc::new(p), i + 1);
        }
        assert_eq!(s.gone_from("rs").count(), GONE_KEPT);
        assert!(s.deletion_of("u0").is_none());
        assert!(s.deletion_of(&format!("u{}", GONE_KEPT + 9)).is_some());
    }
}
