//! The Deployment controller: one ReplicaSet per pod template (`<deployment>-<pod-template-hash>`),
//! rolled from the old ones to the new one by the Deployment's strategy, as Kubernetes'
//! deployment controller does.
//!
//! A pass over one Deployment (`reconcile`, pure but for `now`): adopt matching orphan
//! ReplicaSets and release owned ones that stopped matching; bring the new ReplicaSet's
//! annotations (revision, the Deployment's own) and the Deployment's `revision` annotation up to
//! date; then, when paused or when `spec.replicas` changed, only scale (in proportion during a
//! rollout); otherwise roll: **RollingUpdate** grows the new ReplicaSet while all pods stay
//! within replicas + maxSurge and shrinks old ones while at least replicas − maxUnavailable
//! stay available (`rollout`), **Recreate** scales the old ones to zero, waits for their pods to
//! go, then creates the new one. A finished rollout deletes old ReplicaSets beyond
//! `revisionHistoryLimit`. Every pass ends with the status: counts from the pods themselves, the
//! `Available` and `Progressing` conditions (with `ProgressDeadlineExceeded`).
//!
//! A pass does one step and leaves the next to the pass that sees its result, so no object gets
//! two writes from one snapshot. Pods are read as the informer holds them (`Held`): only their
//! facts (owner, phase, readiness), never parsed.

pub mod revision;
pub mod rollout;
mod status;
mod why;

use super::cache::{Held, Snapshot};
use super::pods::controller_of;
use super::record::{Reporter, Severity};
use super::replicaset::selector_of;
use super::{Cause, Controller, Pass, Stored, Wake};
use crate::api::actors;
use crate::events::{Command, DeleteOptions, Propagation, UpdatePart};
use crate::model::meta::Lookup as _;
use crate::model::{ResourceKind, meta};
use revision::{HASH_LABEL, REVISION, annotation, revision_of};
use rollout::{Amount, Counted};
use serde_json::{Value, json};
use status::{Counts, is_complete};
use std::collections::HashMap;
use std::time::Duration;
use why::causes_of;

/// `progressDeadlineSeconds` that means "no deadline".
const NO_DEADLINE: i64 = i32::MAX as i64;

/// Pods by the uid of the ReplicaSet that controls them.
pub type PodsByOwner<'a> = HashMap<&'a str, Vec<&'a Held>>;

/// What a Deployment's spec asks for, read once.
#[derive(Debug, Clone)]
struct Spec {
    name: String,
    replicas: i64,
    recreate: bool,
    surge: i64,
    unavailable: i64,
    min_ready: i64,
    history_limit: Option<i64>,
    paused: bool,
    deadline: Option<i64>,
    generation: i64,
}

impl Spec {
    fn of(d: &Value) -> Spec {
        let replicas = d.at("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        let recreate = d.at("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate");
        let amount = |field: &str| {
            d.at(&format!("/spec/strategy/rollingUpdate/{field}"))
                .and_then(Amount::parse)
                .unwrap_or(Amount::Percent(25))
        };
        let (surge, unavailable) = if recreate {
            (0, 0)
        } else {
            rollout::fenceposts(amount("maxSurge"), amount("maxUnavailable"), replicas)
        };
        let deadline = d
            .at("/spec/progressDeadlineSeconds")
            .and_then(Value::as_i64)
            .filter(|s| *s != NO_DEADLINE);
        Spec {
            name: meta::name(d).to_string(),
            replicas,
            recreate,
            surge,
            unavailable,
            min_ready: d
                .at("/spec/minReadySeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            history_limit: d.at("/spec/revisionHistoryLimit").and_then(Value::as_i64),
            paused: d.at("/spec/paused").and_then(Value::as_bool) == Some(true),
            deadline,
            generation: d
                .at("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1),
        }
    }

    /// The most pods that may be unavailable, as the Available condition reads it
    /// (`MaxUnavailable`: none for Recreate, never more than replicas).
    fn max_unavailable(&self) -> i64 {
        if self.recreate || self.replicas == 0 {
            0
        } else {
            self.unavailable.min(self.replicas)
        }
    }
}

/// Whether a pod has been ready for `min_ready` seconds at `now`.
fn is_available(pod: &Held, min_ready: i64, now: jiff::Timestamp) -> bool {
    pod.pod()
        .ready_since
        .is_some_and(|since| now.duration_since(since).as_secs() >= min_ready)
}

fn age(object: &Value) -> (String, String) {
    (
        meta::meta_str(object, "creationTimestamp").to_string(),
        meta::name(object).to_string(),
    )
}

fn annotated_number(rs: &Value, key: &str) -> Option<i64> {
    annotation(rs, key).and_then(|v| v.parse().ok())
}

/// One owned ReplicaSet and its pods, counted.
struct Owned<'a> {
    rs: &'a Value,
    pods: &'a [&'a Held],
    counted: Counted,
    ready: i64,
}

impl<'a> Owned<'a> {
    fn new(rs: &'a Value, pods: &'a [&'a Held], min_ready: i64, now: jiff::Timestamp) -> Self {
        let active: Vec<&Held> = pods.iter().copied().filter(|p| p.is_active()).collect();
        let ready = active
            .iter()
            .filter(|p| p.pod().ready_since.is_some())
            .count();
        let available = active
            .iter()
            .filter(|p| is_available(p, min_ready, now))
            .count();
        Owned {
            rs,
            pods,
            counted: Counted {
                name: meta::name(rs).to_string(),
                replicas: rs.at("/spec/replicas").and_then(Value::as_i64).unwrap_or(1),
                active: active.len() as i64,
                available: available as i64,
                max_replicas: annotated_number(rs, revision::MAX_REPLICAS),
                age: age(rs),
            },
            ready: ready as i64,
        }
    }

    /// Pods that have not finished, including those being deleted (Recreate waits for them).
    fn running(&self) -> bool {
        self.pods.iter().any(|p| !p.pod().is_terminal())
    }
}

fn update(kind: ResourceKind, object: Value, part: UpdatePart) -> Command {
    Command::Update {
        kind,
        namespace: meta::namespace(&object).to_string(),
        name: meta::name(&object).to_string(),
        object,
        part,
    }
}

fn controller_reference(d: &Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "name": meta::name(d),
        "uid": meta::uid(d), "controller": true, "blockOwnerDeletion": true,
    })
}

/// What one pass did to the rollout, for the status it writes and the causes it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Adopted or released ReplicaSets.
    Ownership,
    /// Brought the new ReplicaSet's annotations or the Deployment's revision up to date.
    Revision,
    /// Created the new ReplicaSet (name).
    Created(String),
    /// A name collision: counted in `status.collisionCount`, a new hash next pass.
    Collision,
    /// Sized ReplicaSets: `spec.replicas` changed or the Deployment is paused.
    Scaled,
    /// Grew the new ReplicaSet.
    ScaledUp,
    /// Shrank old ReplicaSets.
    ScaledDown,
    /// Deleted old ReplicaSets beyond the history limit.
    Cleaned,
    /// Nothing but the status.
    Status,
}

/// One pass's commands for one Deployment and what they did.
pub struct Outcome {
    pub step: Step,
    pub commands: Vec<Command>,
}

/// Everything one Deployment needs done now, given the ReplicaSets in its namespace and the
/// pods of each (by controlling ReplicaSet uid).
pub fn reconcile(
    d: &Value,
    replica_sets: &[&Value],
    pods: &PodsByOwner<'_>,
    reporter: &Reporter,
    now: jiff::Timestamp,
) -> Outcome {
    let nothing = |step| Outcome {
        step,
        commands: Vec::new(),
    };
    if meta::deletion_timestamp(d).is_some() {
        return nothing(Step::Status);
    }
    let Some(selector) = selector_of(d).filter(|s| !s.is_empty()) else {
        return nothing(Step::Status);
    };
    let uid = meta::uid(d);
    let mut ownership = Vec::new();
    let mut owned_sets: Vec<&Value> = Vec::new();
    for rs in replica_sets {
        let matches = selector.matches_object(rs);
        let alive = meta::deletion_timestamp(rs).is_none();
        match controller_of(rs) {
            Some(owner) if owner["uid"] == uid => {
                if matches {
                    owned_sets.push(rs);
                } else if alive {
                    let mut released = (*rs).clone();
                    super::gc::retain_in(&mut released, "ownerReferences", |r| r["uid"] != uid);
                    ownership.push(update(ResourceKind::ReplicaSet, released, UpdatePart::Main));
                }
            }
            Some(_) => {}
            None if matches && alive => {
                let mut adopted = (*rs).clone();
                let metadata = meta::metadata_mut(&mut adopted);
                let references = metadata
                    .entry("ownerReferences")
                    .or_insert_with(|| json!([]));
                if let Some(list) = references.as_array_mut() {
                    list.push(controller_reference(d));
                }
                ownership.push(update(ResourceKind::ReplicaSet, adopted, UpdatePart::Main));
            }
            None => {}
        }
    }
    if !ownership.is_empty() {
        return Outcome {
            step: Step::Ownership,
            commands: ownership,
        };
    }
    let spec = Spec::of(d);
    let template = d.at("/spec/template").cloned().unwrap_or(json!({}));
    let owned: Vec<Owned<'_>> = owned_sets
        .iter()
        .map(|rs| {
            let of = pods.get(meta::uid(rs)).map(Vec::as_slice).unwrap_or(&[]);
            Owned::new(rs, of, spec.min_ready, now)
        })
        .collect();
    // The new ReplicaSet: the oldest whose template is the Deployment's.
    let new_index = owned
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            o.rs.at("/spec/template")
                .is_some_and(|t| revision::same_template(t, &template))
        })
        .min_by(|(_, a), (_, b)| a.counted.age.cmp(&b.counted.age))
        .map(|(i, _)| i);
    let new = new_index.map(|i| &owned[i]);
    let old: Vec<&Owned<'_>> = owned
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != new_index)
        .map(|(_, o)| o)
        .collect();
    let revision = old.iter().map(|o| revision_of(o.rs)).max().unwrap_or(0) + 1;

    if let Some(new) = new {
        let mut updated = new.rs.clone();
        let mut changed = revision::bring_up_to_date(&mut updated, d, revision);
        if updated
            .at("/spec/minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            != spec.min_ready
        {
            updated["spec"]["minReadySeconds"] = json!(spec.min_ready);
            changed = true;
        }
        if changed {
            return Outcome {
                step: Step::Revision,
                commands: vec![update(ResourceKind::ReplicaSet, updated, UpdatePart::Main)],
            };
        }
        if let Some(current) = annotation(new.rs, REVISION)
            && annotation(d, REVISION) != Some(current)
        {
            let mut deployment = d.clone();
            let metadata = meta::metadata_mut(&mut deployment);
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            if let Some(map) = annotations.as_object_mut() {
                map.insert(REVISION.into(), json!(current));
            }
            return Outcome {
                step: Step::Revision,
                commands: vec![update(
                    ResourceKind::Deployment,
                    deployment,
                    UpdatePart::Main,
                )],
            };
        }
    }

    let rollout = Rollout {
        d,
        spec: &spec,
        template: &template,
        new,
        old: &old,
        all: &owned,
        replica_sets,
        revision,
        reporter,
        now,
    };
    let scaling = owned.iter().any(|o| {
        o.counted.replicas > 0
            && annotated_number(o.rs, revision::DESIRED_REPLICAS)
                .is_some_and(|desired| desired != spec.replicas)
    });
    let (step, mut commands) = if spec.paused || scaling {
        let mut commands = rollout.scale();
        let mut step = Step::Scaled;
        if commands.is_empty() && spec.paused {
            commands = rollout.cleanup();
            step = Step::Cleaned;
        }
        (step, commands)
    } else if spec.recreate {
        rollout.recreate()
    } else {
        rollout.rolling()
    };
    if commands.is_empty() {
        step_status(&rollout, &Step::Status, &mut commands);
        return Outcome {
            step: Step::Status,
            commands,
        };
    }
    step_status(&rollout, &step, &mut commands);
    Outcome { step, commands }
}

fn step_status(rollout: &Rollout<'_>, step: &Step, commands: &mut Vec<Command>) {
    if matches!(step, Step::Collision) {
        return;
    }
    if let Some(status) = rollout.status_update(step) {
        commands.push(status);
    }
}

/// One Deployment's rollout as one pass sees it.
struct Rollout<'a> {
    d: &'a Value,
    spec: &'a Spec,
    template: &'a Value,
    new: Option<&'a Owned<'a>>,
    old: &'a [&'a Owned<'a>],
    all: &'a [Owned<'a>],
    replica_sets: &'a [&'a Value],
    revision: i64,
    reporter: &'a Reporter,
    now: jiff::Timestamp,
}

impl Rollout<'_> {
    /// Size ReplicaSets to `sizes` (name, size), recording the Deployment's replicas and
    /// surge on each, with a ScalingReplicaSet event for each size that changes.
    fn resize(&self, sizes: &[(String, i64)]) -> Vec<Command> {
        let mut commands = Vec::new();
        for (name, size) in sizes {
            let Some(owned) = self.all.iter().find(|o| &o.counted.name == name) else {
                continue;
            };
            let mut rs = owned.rs.clone();
            let before = owned.counted.replicas;
            let size = (*size).max(0);
            let resized = before != size;
            let annotated = revision::set_replicas_annotations(
                &mut rs,
                self.spec.replicas,
                self.spec.replicas + self.spec.surge,
            );
            if !resized && !annotated {
                continue;
            }
            rs["spec"]["replicas"] = json!(size);
            commands.push(update(ResourceKind::ReplicaSet, rs, UpdatePart::Main));
            if resized && self.reporter.allow(self.d, self.now) {
                let direction = if size > before { "up" } else { "down" };
                commands.push(self.reporter.event(
                    ResourceKind::Deployment,
                    self.d,
                    Severity::Normal,
                    "ScalingReplicaSet",
                    &format!("Scaled {direction} replica set {name} from {before} to {size}"),
                    self.now,
                ));
            }
        }
        commands
    }

    /// `spec.replicas` changed (or the Deployment is paused): size without rolling
    /// (`scale`). One active ReplicaSet (or none: the newest) takes all; a saturated new one
    /// leaves the old ones none; during a RollingUpdate the change is spread in proportion.
    fn scale(&self) -> Vec<Command> {
        let replicas = self.spec.replicas;
        let active: Vec<&Owned<'_>> = self.all.iter().filter(|o| o.counted.replicas > 0).collect();
        let only = match active.len() {
            0 => self.new.or_else(|| {
                self.old
                    .iter()
                    .max_by(|a, b| a.counted.age.cmp(&b.counted.age))
                    .copied()
            }),
            1 => Some(active[0]),
            _ => None,
        };
        if let Some(only) = only {
            return self.resize(&[(only.counted.name.clone(), replicas)]);
        }
        if let Some(new) = self.new
            && new.counted.replicas == replicas
            && annotated_number(new.rs, revision::DESIRED_REPLICAS) == Some(replicas)
            && new.counted.available >= replicas
        {
            let sizes: Vec<(String, i64)> = self
                .old
                .iter()
                .filter(|o| o.counted.replicas > 0)
                .map(|o| (o.counted.name.clone(), 0))
                .collect();
            return self.resize(&sizes);
        }
        if self.spec.recreate {
            return Vec::new();
        }
        let counted: Vec<&Counted> = active.iter().map(|o| &o.counted).collect();
        let fallback = self
            .d
            .at("/status/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let sizes = rollout::proportional_sizes(replicas, self.spec.surge, fallback, &counted);
        let mut commands = self.resize(&sizes);
        // The ones whose size stays still record the new replicas.
        let unchanged: Vec<(String, i64)> = active
            .iter()
            .filter(|o| !sizes.iter().any(|(n, _)| n == &o.counted.name))
            .map(|o| (o.counted.name.clone(), o.counted.replicas))
            .collect();
        commands.extend(self.resize(&unchanged));
        commands
    }

    /// The new ReplicaSet, sized `size`: the Deployment's template and selector with the
    /// template's hash label, owned by the Deployment, with its revision. `None` when its name
    /// is taken by a ReplicaSet that is not this template's (a hash collision).
    fn new_replica_set(&self, size: i64) -> Result<Value, ()> {
        let collisions = self.d.at("/status/collisionCount").and_then(Value::as_i64);
        let hash = revision::template_hash(self.template, collisions);
        let name = format!("{}-{hash}", self.spec.name);
        if self.replica_sets.iter().any(|rs| meta::name(rs) == name) {
            return Err(());
        }
        let mut template = self.template.clone();
        let labels = template
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut);
        match labels {
            Some(labels) => {
                labels.insert(HASH_LABEL.into(), json!(hash));
            }
            None => template["metadata"]["labels"] = json!({HASH_LABEL: hash}),
        }
        let mut selector = self.d.at("/spec/selector").cloned().unwrap_or(json!({}));
        match selector
            .get_mut("matchLabels")
            .and_then(Value::as_object_mut)
        {
            Some(labels) => {
                labels.insert(HASH_LABEL.into(), json!(hash));
            }
            None => selector["matchLabels"] = json!({HASH_LABEL: hash}),
        }
        let mut rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": meta::namespace(self.d),
                "labels": template["metadata"]["labels"].clone(),
                "ownerReferences": [controller_reference(self.d)],
            },
            "spec": {
                "replicas": size,
                "minReadySeconds": self.spec.min_ready,
                "selector": selector,
                "template": template,
            },
        });
        revision::bring_up_to_date(&mut rs, self.d, self.revision);
        revision::set_replicas_annotations(
            &mut rs,
            self.spec.replicas,
            self.spec.replicas + self.spec.surge,
        );
        Ok(rs)
    }

    /// Create the new ReplicaSet with `size` pods, or count a collision.
    fn create(&self, size: i64) -> (Step, Vec<Command>) {
        let Ok(rs) = self.new_replica_set(size) else {
            let mut d = self.d.clone();
            let count = d
                .at("/status/collisionCount")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            d["status"]["collisionCount"] = json!(count + 1);
            return (
                Step::Collision,
                vec![update(ResourceKind::Deployment, d, UpdatePart::Status)],
            );
        };
        let name = meta::name(&rs).to_string();
        let mut commands = vec![Command::Create {
            kind: ResourceKind::ReplicaSet,
            namespace: meta::namespace(self.d).to_string(),
            object: rs,
        }];
        if size > 0 && self.reporter.allow(self.d, self.now) {
            commands.push(self.reporter.event(
                ResourceKind::Deployment,
                self.d,
                Severity::Normal,
                "ScalingReplicaSet",
                &format!("Scaled up replica set {name} from 0 to {size}"),
                self.now,
            ));
        }
        (Step::Created(name), commands)
    }

    /// RollingUpdate: create or grow the new ReplicaSet within the surge, else shrink old ones
    /// down to the availability floor, else (finished) clean up.
    fn rolling(&self) -> (Step, Vec<Command>) {
        let counted: Vec<&Counted> = self.all.iter().map(|o| &o.counted).collect();
        let Some(new) = self.new else {
            let empty = Counted {
                name: String::new(),
                replicas: 0,
                active: 0,
                available: 0,
                max_replicas: None,
                age: Default::default(),
            };
            let size = rollout::new_replica_set_size(
                self.spec.replicas,
                self.spec.surge,
                &empty,
                &counted,
            );
            return self.create(size);
        };
        let size = rollout::new_replica_set_size(
            self.spec.replicas,
            self.spec.surge,
            &new.counted,
            &counted,
        );
        if size != new.counted.replicas {
            return (
                Step::ScaledUp,
                self.resize(&[(new.counted.name.clone(), size)]),
            );
        }
        let old: Vec<&Counted> = self.old.iter().map(|o| &o.counted).collect();
        let sizes = rollout::old_replica_set_sizes(
            self.spec.replicas,
            self.spec.unavailable,
            Some(&new.counted),
            &old,
        );
        if !sizes.is_empty() {
            return (Step::ScaledDown, self.resize(&sizes));
        }
        self.finish()
    }

    /// Recreate: old ReplicaSets to zero, then (once their pods are gone) the new one to
    /// `replicas`.
    fn recreate(&self) -> (Step, Vec<Command>) {
        let shrink: Vec<(String, i64)> = self
            .old
            .iter()
            .filter(|o| o.counted.replicas > 0)
            .map(|o| (o.counted.name.clone(), 0))
            .collect();
        if !shrink.is_empty() {
            return (Step::ScaledDown, self.resize(&shrink));
        }
        if self.old.iter().any(|o| o.running()) {
            return (Step::Status, Vec::new());
        }
        let Some(new) = self.new else {
            return self.create(self.spec.replicas);
        };
        if new.counted.replicas != self.spec.replicas {
            return (
                Step::ScaledUp,
                self.resize(&[(new.counted.name.clone(), self.spec.replicas)]),
            );
        }
        self.finish()
    }

    /// A finished rollout (as its last status says) cleans up; otherwise nothing to do.
    fn finish(&self) -> (Step, Vec<Command>) {
        let status = self.d.get("status").cloned().unwrap_or(json!({}));
        if is_complete(self.spec, &Counts::from_status(&status)) {
            (Step::Cleaned, self.cleanup())
        } else {
            (Step::Status, Vec::new())
        }
    }

    /// Delete the oldest revisions beyond `revisionHistoryLimit` that have no pods left.
    fn cleanup(&self) -> Vec<Command> {
        let Some(limit) = self.spec.history_limit else {
            return Vec::new();
        };
        let mut alive: Vec<&&Owned<'_>> = self
            .old
            .iter()
            .filter(|o| meta::deletion_timestamp(o.rs).is_none())
            .collect();
        let surplus = alive.len() as i64 - limit.max(0);
        if surplus <= 0 {
            return Vec::new();
        }
        alive.sort_by(|a, b| {
            (revision_of(a.rs), &a.counted.age).cmp(&(revision_of(b.rs), &b.counted.age))
        });
        alive
            .iter()
            .take(usize::try_from(surplus).unwrap_or(0))
            .filter(|o| {
                let observed =
                    o.rs.at("/status/observedGeneration")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                let generation =
                    o.rs.at("/metadata/generation")
                        .and_then(Value::as_i64)
                        .unwrap_or(1);
                o.counted.replicas == 0 && o.pods.is_empty() && generation <= observed
            })
            .map(|o| Command::Delete {
                kind: ResourceKind::ReplicaSet,
                namespace: meta::namespace(o.rs).to_string(),
                name: o.counted.name.clone(),
                options: DeleteOptions {
                    precondition_uid: Some(meta::uid(o.rs).to_string()),
                    propagation: Some(Propagation::Background),
                    ..Default::default()
                },
            })
            .collect()
    }
}

/// One pass over every Deployment, each command with the causes of its step.
fn reconcile_all(snapshot: &Snapshot, reporter: &Reporter, now: jiff::Timestamp) -> Pass {
    if snapshot.count(ResourceKind::Deployment) == 0 {
        return Pass::default();
    }
    let mut sets_by_namespace: HashMap<&str, Vec<&Value>> = HashMap::new();
    for rs in snapshot.list(ResourceKind::ReplicaSet) {
        sets_by_namespace
            .entry(meta::namespace(rs))
            .or_default()
            .push(rs.as_ref());
    }
    let mut pods: PodsByOwner<'_> = HashMap::new();
    for pod in snapshot.pods() {
        if let Some(owner) = pod.pod().controller_uid() {
            pods.entry(owner).or_default().push(pod);
        }
    }
    let mut pass = Pass::default();
    for d in snapshot.list(ResourceKind::Deployment) {
        let sets = sets_by_namespace
            .get(meta::namespace(d))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let Outcome { step, commands } = reconcile(d, sets, &pods, reporter, now);
        if commands.is_empty() {
            continue;
        }
        let because = causes_of(d, &step, sets, &pods, snapshot);
        // A status update's causes are the status step's, read only when there is one.
        let mut status_because: Option<Vec<Cause>> = None;
        for command in commands {
            let causes = match &command {
                Command::Update {
                    kind: ResourceKind::Deployment,
                    part: UpdatePart::Status,
                    ..
                } if step != Step::Collision => status_because
                    .get_or_insert_with(|| match step {
                        Step::Status => because.clone(),
                        _ => causes_of(d, &Step::Status, sets, &pods, snapshot),
                    })
                    .clone(),
                _ => because.clone(),
            };
            // An Event follows the write it reports, and only when that write was accepted.
            let reports = matches!(
                command,
                Command::Create {
                    kind: ResourceKind::Event,
                    ..
                }
            );
            match pass.chains.last_mut() {
                Some(chain) if reports => chain.push((command, causes)),
                _ => pass.chains.push(vec![(command, causes)]),
            }
        }
    }
    pass
}

/// What the controller reads: Deployments, ReplicaSets and pods (not core/v1 Events, nodes).
fn what_it_reads(snapshot: &Snapshot) -> u64 {
    [
        ResourceKind::Deployment,
        ResourceKind::ReplicaSet,
        ResourceKind::Pod,
    ]
    .into_iter()
    .map(|kind| snapshot.changes_of(kind))
    .sum()
}

/// The Deployment controller: a change of what it reads wakes it, and a tick every second (availability
/// after minReadySeconds and the progress deadline come with the clock alone).
pub struct DeploymentController {
    reporter: Reporter,
}

impl DeploymentController {
    pub fn new() -> Self {
        DeploymentController {
            reporter: Reporter::new(actors::DEPLOYMENT_CONTROLLER, ""),
        }
    }
}

impl Default for DeploymentController {
    fn default() -> Self {
        Self::new()
    }
}

impl Controller for DeploymentController {
    fn actor(&self) -> &'static str {
        actors::DEPLOYMENT_CONTROLLER
    }

    fn wake(&self) -> Wake {
        Wake {
            tick: Duration::from_secs(1),
            interest: what_it_reads,
        }
    }

    fn reconcile(&self, snapshot: &Snapshot, _stored: &Stored, now: jiff::Timestamp) -> Pass {
        reconcile_all(snapshot, &self.reporter, now)
    }
}

#[cfg(test)]
mod tests;
