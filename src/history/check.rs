//! `kubetrail replay --check-workers`: re-run today's controllers (every one
//! `workers::controllers` registers) against the states the recorded decisions saw, and report
//! every decision that would now differ. A developer runs it after changing a reconciler.
//!
//! A *decision* is what one controller wrote because of one cause: the events of that actor
//! with the same `caused_by`, the primary cause each controller names (the newest input that
//! made its decision differ: a pod's deletion for the ReplicaSet controller, an owner's
//! deletion for the garbage collector, a pod's creation or a node's change for the scheduler,
//! a namespace's deletion request, a node's last heartbeat or its taint), core/v1 Events left
//! out (they are reports, with generated names and times). The states hold no core/v1 Events
//! (as the informer holds none), and each pass is given nothing read from the store: the
//! decisions about Events are the ones not compared. Which state the controller saw is
//! not recorded, only that it was at least `caused_by` and before its first write. So a
//! decision is *reproduced* when today's `Controller::reconcile`, run on the state at some seq
//! `v` in `[caused_by, first write - 1]` (at most `WINDOW` of them), makes the same writes and
//! names the same primary cause for them; it is reported when some state of the window has
//! today's code name that cause for other writes, and not comparable when none does (the
//! controller saw a state outside the window, or a server started from its projections named
//! a coarser cause). Generated pod names are compared by their `generateName`, ReplicaSet
//! status by its counts, node status by its Ready condition, times not at all.
//!
//! One cause can take a controller several passes (a namespace is emptied, then finalized; a
//! foreground owner's dependents are deleted, then its finalizer goes). A pass's writes are all
//! committed before the controller's next pass reads, so the writes of one cause, in log order,
//! are a run per pass: each run must be reproduced on a state between the previous run's last
//! write and its own first one.
//!
//! The comparison is pure (`Decision`, `recorded`, `predicted`, `evaluate`); `check_workers`
//! reads the log once, in order, and evaluates each decision on the states of its window.

use super::HistoryError;
use super::query::{self, LogEntry, LogFilter};
use crate::events::{Command, EventType, UpdatePart};
use crate::model::{ResourceKind, meta};
use crate::store::Readers;
use crate::workers::cache::Snapshot;
use crate::workers::{Controller, Pass, Stored, cache, nodes, pods};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// How many states before a run's first write are tried.
pub const WINDOW: i64 = 64;

/// The controllers as built into this binary. The node lifecycle controller gets the default
/// timing and the event TTL controller the default TTL: what a server ran with is not in its
/// log.
pub fn today() -> Vec<Box<dyn Controller>> {
    crate::workers::controllers(
        nodes::Timing::default(),
        crate::workers::eventttl::DEFAULT_EVENT_TTL,
    )
}

/// One write a controller decided, in a form that compares across runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    /// A pod stamped from a template; generated names compare by `generateName`.
    CreatePod {
        namespace: String,
        generate_name: String,
    },
    DeletePod {
        namespace: String,
        name: String,
    },
    /// Adopt (controller uid) or release (none) a pod; also any other change a controller
    /// makes to a pod's metadata (the garbage collector's), compared by the pod's controller.
    SetController {
        namespace: String,
        name: String,
        controller: Option<String>,
    },
    ReplicaSetStatus {
        namespace: String,
        name: String,
        counts: String,
    },
    Bind {
        namespace: String,
        name: String,
        node: String,
    },
    Unschedulable {
        namespace: String,
        name: String,
        message: String,
    },
    /// Delete an object other than a pod (`kind` as the log names it).
    Delete {
        kind: String,
        namespace: String,
        name: String,
    },
    /// Set the ownerReferences (owner uids, in order) and finalizers of an object other than a
    /// pod: what the garbage collector changes.
    Metadata {
        kind: String,
        namespace: String,
        name: String,
        owners: Vec<String>,
        finalizers: Vec<String>,
    },
    /// Finalize an emptied namespace being deleted.
    FinalizeNamespace {
        name: String,
    },
    /// A node's Ready condition.
    NodeReady {
        name: String,
        status: String,
    },
    /// A node's taints, `key[=value]:effect` each, in order.
    NodeTaints {
        name: String,
        taints: Vec<String>,
    },
}

/// `namespace/name`, or `name` alone for a cluster-scoped object.
fn object_name(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::CreatePod {
                namespace,
                generate_name,
            } => {
                write!(f, "create pod {namespace}/{generate_name}*")
            }
            Decision::DeletePod { namespace, name } => write!(f, "delete pod {namespace}/{name}"),
            Decision::SetController {
                namespace,
                name,
                controller: Some(uid),
            } => {
                write!(f, "adopt pod {namespace}/{name} (controller {uid})")
            }
            Decision::SetController {
                namespace,
                name,
                controller: None,
            } => {
                write!(f, "release pod {namespace}/{name}")
            }
            Decision::ReplicaSetStatus {
                namespace,
                name,
                counts,
            } => {
                write!(f, "status of replicaset {namespace}/{name}: {counts}")
            }
            Decision::Bind {
                namespace,
                name,
                node,
            } => {
                write!(f, "bind pod {namespace}/{name} to {node}")
            }
            Decision::Unschedulable {
                namespace,
                name,
                message,
            } => {
                write!(f, "pod {namespace}/{name} unschedulable: {message}")
            }
            Decision::Delete {
                kind,
                namespace,
                name,
            } => write!(
                f,
                "delete {} {}",
                kind.to_lowercase(),
                object_name(namespace, name)
            ),
            Decision::Metadata {
                kind,
                namespace,
                name,
                owners,
                finalizers,
            } => write!(
                f,
                "metadata of {} {}: owners [{}], finalizers [{}]",
                kind.to_lowercase(),
                object_name(namespace, name),
                owners.join(", "),
                finalizers.join(", ")
            ),
            Decision::FinalizeNamespace { name } => write!(f, "finalize namespace {name}"),
            Decision::NodeReady { name, status } => write!(f, "node {name} Ready={status}"),
            Decision::NodeTaints { name, taints } => {
                write!(f, "taints of node {name}: [{}]", taints.join(", "))
            }
        }
    }
}

fn status_counts(rs: &Value) -> String {
    let count = |field: &str| {
        rs.pointer(&format!("/status/{field}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    format!(
        "replicas={} fullyLabeled={} ready={} available={} observedGeneration={}",
        count("replicas"),
        count("fullyLabeledReplicas"),
        count("readyReplicas"),
        count("availableReplicas"),
        count("observedGeneration")
    )
}

fn unschedulable_message(pod: &Value) -> String {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
        .and_then(|c| c["message"].as_str())
        .unwrap_or("")
        .to_string()
}

fn node_taints(node: &Value) -> Vec<String> {
    node.pointer("/spec/taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| {
            let key = t["key"].as_str().unwrap_or("");
            let effect = t["effect"].as_str().unwrap_or("");
            match t["value"].as_str().filter(|v| !v.is_empty()) {
                Some(value) => format!("{key}={value}:{effect}"),
                None => format!("{key}:{effect}"),
            }
        })
        .collect()
}

/// The decision of an update of `part` that left `object` (`None` for reports).
fn update_decision(
    kind: ResourceKind,
    namespace: &str,
    name: &str,
    object: &Value,
    part: UpdatePart,
) -> Option<Decision> {
    let (namespace, name) = (namespace.to_string(), name.to_string());
    match (kind, part) {
        (ResourceKind::Event, _) => None,
        (ResourceKind::Pod, UpdatePart::Main) => Some(Decision::SetController {
            namespace,
            name,
            controller: pods::controller_of(object)
                .and_then(|r| r["uid"].as_str())
                .map(str::to_string),
        }),
        (ResourceKind::Pod, UpdatePart::Status) => Some(Decision::Unschedulable {
            namespace,
            name,
            message: unschedulable_message(object),
        }),
        (ResourceKind::ReplicaSet, UpdatePart::Status) => Some(Decision::ReplicaSetStatus {
            namespace,
            name,
            counts: status_counts(object),
        }),
        (ResourceKind::Node, UpdatePart::Status) => Some(Decision::NodeReady {
            name,
            status: cache::ready_status(object).unwrap_or("").to_string(),
        }),
        (ResourceKind::Node, UpdatePart::Main) => Some(Decision::NodeTaints {
            name,
            taints: node_taints(object),
        }),
        (ResourceKind::Namespace, UpdatePart::Finalize) => {
            Some(Decision::FinalizeNamespace { name })
        }
        (_, UpdatePart::Main) => Some(Decision::Metadata {
            kind: kind.as_str().to_string(),
            namespace,
            name,
            owners: meta::owner_uids(object)
                .into_iter()
                .map(str::to_string)
                .collect(),
            finalizers: meta::finalizers(object),
        }),
        _ => None,
    }
}

/// The decision of deleting an object (`None` for reports).
fn delete_decision(kind: ResourceKind, namespace: &str, name: &str) -> Option<Decision> {
    let (namespace, name) = (namespace.to_string(), name.to_string());
    match kind {
        ResourceKind::Event => None,
        ResourceKind::Pod => Some(Decision::DeletePod { namespace, name }),
        _ => Some(Decision::Delete {
            kind: kind.as_str().to_string(),
            namespace,
            name,
        }),
    }
}

/// The decision a recorded event shows (`None` for reports and anything else).
pub fn recorded(entry: &LogEntry) -> Option<Decision> {
    let object: Value = serde_json::from_str(&entry.object).ok()?;
    let kind = ResourceKind::from_kind(&entry.kind)?;
    let (namespace, name) = (entry.namespace.as_str(), entry.name.as_str());
    // What an update of the main part records (a namespace's main update by a controller is
    // its finalization).
    let main = match kind {
        ResourceKind::Namespace => UpdatePart::Finalize,
        _ => UpdatePart::Main,
    };
    match entry.event_type.as_str() {
        "Created" if kind == ResourceKind::Pod => Some(Decision::CreatePod {
            namespace: namespace.to_string(),
            generate_name: meta::meta_str(&object, "generateName").to_string(),
        }),
        "Bound" if kind == ResourceKind::Pod => Some(Decision::Bind {
            namespace: namespace.to_string(),
            name: name.to_string(),
            node: object
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        }),
        "StatusUpdated" => update_decision(kind, namespace, name, &object, UpdatePart::Status),
        "Updated" => update_decision(kind, namespace, name, &object, main),
        // An update that removed the last finalizer of an object being deleted records its
        // removal, with the updated object; a delete records the object as it was, and no
        // controller deletes an object already being deleted.
        "Deleted" if meta::deletion_timestamp(&object).is_some() => {
            update_decision(kind, namespace, name, &object, main)
        }
        "DeletionRequested" | "Deleted" => delete_decision(kind, namespace, name),
        _ => None,
    }
}

/// The decision a command would record (`None` for reports).
pub fn predicted(command: &Command) -> Option<Decision> {
    match command {
        Command::Create {
            kind: ResourceKind::Pod,
            namespace,
            object,
        } => Some(Decision::CreatePod {
            namespace: namespace.clone(),
            generate_name: meta::meta_str(object, "generateName").to_string(),
        }),
        Command::Delete {
            kind,
            namespace,
            name,
            ..
        } => delete_decision(*kind, namespace, name),
        Command::Update {
            kind,
            namespace,
            name,
            object,
            part,
        } => update_decision(*kind, namespace, name, object, *part),
        Command::Bind {
            namespace,
            name,
            node,
            ..
        } => Some(Decision::Bind {
            namespace: namespace.clone(),
            name: name.clone(),
            node: node.clone(),
        }),
        _ => None,
    }
}

/// One recorded write (one request) of a group.
#[derive(Debug, Clone)]
pub struct Write {
    /// Seq of its first and last event (a delete may append DeletionRequested then Deleted).
    pub seq: i64,
    pub last_seq: i64,
    /// Time of its first event.
    pub time: String,
    pub decision: Decision,
}

/// A recorded decision to check: a controller's writes caused by one object version.
#[derive(Debug, Clone)]
pub struct Group {
    pub actor: String,
    pub caused_by: i64,
    /// The cause: (kind, namespace, name) of the event at `caused_by`.
    pub cause: (String, String, String),
    /// What was recorded, oldest first; one write per request, at least one.
    pub writes: Vec<Write>,
}

/// Whether `view` has seen the cause (else the controller cannot have acted on it).
fn cause_holds(group: &Group, view: &Snapshot) -> bool {
    view.seq >= group.caused_by
}

/// The decisions of one pass, by the seq that caused them, each list sorted.
fn by_cause(pass: Pass) -> HashMap<i64, Vec<Decision>> {
    let mut decisions: HashMap<i64, Vec<Decision>> = HashMap::new();
    let commands = pass
        .commands
        .into_iter()
        .chain(pass.slow_start.into_iter().flat_map(|group| group.commands))
        .chain(pass.chains.into_iter().flatten());
    for (command, causes) in commands {
        if let (Some(cause), Some(decision)) = (causes.first(), predicted(&command)) {
            decisions.entry(cause.seq).or_default().push(decision);
        }
    }
    for list in decisions.values_mut() {
        list.sort();
    }
    decisions
}

/// What `controller` decides on `view` at `now` because of the group's cause, sorted (`None`:
/// the view is before the cause, or today's code names it as the cause of nothing there, so
/// the controller did not act on this state for it).
pub fn evaluate(
    group: &Group,
    view: &Snapshot,
    now: jiff::Timestamp,
    controller: &dyn Controller,
) -> Option<Vec<Decision>> {
    if !cause_holds(group, view) {
        return None;
    }
    let mut decisions = by_cause(controller.reconcile(view, &Stored::default(), now));
    decisions.remove(&group.caused_by)
}

/// Whether `writes` begin with one pass that decided exactly `decisions` (sorted): the next
/// `decisions.len()` writes, committed in any order. An empty pass explains nothing.
fn begins_with(writes: &[Write], decisions: &[Decision]) -> bool {
    if decisions.is_empty() || decisions.len() > writes.len() {
        return false;
    }
    let mut run: Vec<&Decision> = writes[..decisions.len()]
        .iter()
        .map(|w| &w.decision)
        .collect();
    run.sort();
    run.into_iter().eq(decisions.iter())
}

/// How much of a group today's code has reproduced so far, as the states go by in log order.
#[derive(Debug)]
pub struct Progress {
    pub group: Group,
    /// The first write not yet reproduced.
    next: usize,
    /// The oldest state the run starting at `next` may have been decided on.
    from: i64,
    /// Whether some state of the current run's window had the cause's version.
    valid: bool,
    /// Today's decisions on the newest such state, for the report.
    newest: Option<Vec<Decision>>,
}

impl Progress {
    pub fn new(group: Group) -> Self {
        let from = group
            .writes
            .first()
            .map_or(group.caused_by, |w| group.caused_by.max(w.seq - WINDOW));
        Progress {
            group,
            next: 0,
            from,
            valid: false,
            newest: None,
        }
    }

    /// Whether every write was reproduced.
    pub fn done(&self) -> bool {
        self.next >= self.group.writes.len()
    }

    /// The time of the run to reproduce next, if the state at `seq` is in its window.
    pub fn wants(&self, seq: i64) -> Option<&str> {
        let write = self.group.writes.get(self.next)?;
        (seq >= self.from && seq < write.seq).then_some(write.time.as_str())
    }

    /// Today's decisions on a state of the window (`None`: the cause did not hold there). When
    /// they are the next run's, the run is reproduced and the window moves past it.
    pub fn observe(&mut self, decisions: Option<Vec<Decision>>) {
        let Some(decisions) = decisions else {
            return;
        };
        let rest = &self.group.writes[self.next..];
        if begins_with(rest, &decisions) {
            let last = rest[..decisions.len()]
                .iter()
                .map(|w| w.last_seq)
                .max()
                .unwrap_or(self.from);
            self.next += decisions.len();
            self.valid = false;
            self.newest = None;
            if let Some(write) = self.group.writes.get(self.next) {
                self.from = last.max(write.seq - WINDOW);
            }
            return;
        }
        self.valid = true;
        self.newest = Some(decisions);
    }

    /// Today's decisions on one state for this group (`None` when the state is outside the
    /// current window or the cause did not hold), fed to `observe`.
    pub fn step(&mut self, seq: i64, view: &Snapshot, controller: &dyn Controller) {
        let Some(now) = self.wants(seq).and_then(|t| t.parse().ok()) else {
            return;
        };
        let decisions = evaluate(&self.group, view, now, controller);
        self.observe(decisions);
    }

    /// The outcome: `Ok(())` reproduced, `Err(None)` not comparable, `Err(Some(_))` a difference.
    fn finish(self) -> Result<(), Option<Difference>> {
        let Some(first) = self.group.writes.get(self.next) else {
            return Ok(());
        };
        if self.next == 0 && !self.valid {
            return Err(None);
        }
        let (kind, namespace, name) = &self.group.cause;
        let mut recorded: Vec<Decision> = self.group.writes[self.next..]
            .iter()
            .map(|w| w.decision.clone())
            .collect();
        recorded.sort();
        Err(Some(Difference {
            actor: self.group.actor.clone(),
            caused_by: self.group.caused_by,
            cause: format!("{kind} {namespace}/{name}"),
            first_seq: first.seq,
            recorded,
            now: self.newest.unwrap_or_default(),
        }))
    }
}

/// A decision today's code would not make.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub actor: String,
    pub caused_by: i64,
    pub cause: String,
    /// The first write of the run not reproduced.
    pub first_seq: i64,
    /// That run's writes and every later one of the same cause.
    pub recorded: Vec<Decision>,
    /// What today's code does on the newest state of the window where the cause held.
    pub now: Vec<Decision>,
}

/// What `--check-workers` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The controllers whose decisions were checked.
    pub actors: Vec<String>,
    pub checked: usize,
    /// Decisions for which no state of the window had the cause's version (not comparable).
    pub skipped: usize,
    pub differences: Vec<Difference>,
}

/// `a`, `a and b`, `a, b and c`.
fn listed(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl Report {
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "checked {} recorded decisions of {}: {} differ{}",
            self.checked,
            listed(&self.actors),
            self.differences.len(),
            if self.skipped > 0 {
                format!(
                    ", {} not comparable (today's code names another cause on every state they may have seen)",
                    self.skipped
                )
            } else {
                String::new()
            }
        )];
        for d in &self.differences {
            lines.push(format!(
                "{} at resourceVersion {} (caused by {} at resourceVersion {}):",
                d.actor, d.first_seq, d.cause, d.caused_by
            ));
            lines.push("  recorded:".into());
            lines.extend(d.recorded.iter().map(|x| format!("    {x}")));
            lines.push("  today's code:".into());
            if d.now.is_empty() {
                lines.push("    (nothing)".into());
            }
            lines.extend(d.now.iter().map(|x| format!("    {x}")));
        }
        lines
    }

    pub fn to_json(&self) -> Value {
        let show = |ds: &[Decision]| ds.iter().map(ToString::to_string).collect::<Vec<_>>();
        json!({
            "checked": self.checked, "skipped": self.skipped,
            "differences": self.differences.iter().map(|d| json!({
                "actor": d.actor, "resourceVersion": d.first_seq.to_string(),
                "causedBy": d.caused_by.to_string(), "cause": d.cause,
                "recorded": show(&d.recorded), "now": show(&d.now),
            })).collect::<Vec<_>>(),
        })
    }
}

/// Read the recorded decisions of `controllers` and check each against their `reconcile`.
pub async fn check_workers(
    pool: &Readers,
    controllers: &[Box<dyn Controller>],
) -> Result<Report, HistoryError> {
    let actors: Vec<&str> = controllers.iter().map(|c| c.actor()).collect();
    let mut pending: Vec<(usize, Progress)> = Vec::new();
    // The state before the compaction point is not all in the log: decisions made on it
    // cannot be reproduced, and are counted as skipped.
    let through = pool.compaction_point().await?;
    let mut before_compaction = 0;
    for group in load_groups(pool, &actors).await? {
        if group.writes.first().is_some_and(|w| w.seq <= through) {
            before_compaction += 1;
            continue;
        }
        if let Some(index) = actors.iter().position(|a| *a == group.actor) {
            pending.push((index, Progress::new(group)));
        }
    }
    let last = pending
        .iter()
        .filter_map(|(_, p)| p.group.writes.last())
        .map(|w| w.seq - 1)
        .max()
        .unwrap_or(0);
    let mut view = Snapshot::default();
    let mut after = 0;
    'scan: while after < last {
        let entries = query::entries(pool, &LogFilter::default(), after, 2000).await?;
        if entries.is_empty() {
            break;
        }
        for entry in entries {
            after = entry.seq;
            if let (Some(kind), Some(event_type)) = (
                ResourceKind::from_kind(&entry.kind),
                EventType::parse(&entry.event_type),
            ) {
                let object: Value = entry.object_value()?;
                view.apply(kind, event_type, Arc::new(object), entry.seq);
            }
            // One pass per controller and time on this state, shared by the groups that need
            // it (a pass covers the whole cluster).
            let mut passes: HashMap<(usize, String), HashMap<i64, Vec<Decision>>> = HashMap::new();
            for (index, p) in pending.iter_mut() {
                let Some(time) = p.wants(entry.seq) else {
                    continue;
                };
                let Ok(now) = time.parse::<jiff::Timestamp>() else {
                    continue;
                };
                let decisions = passes
                    .entry((*index, time.to_string()))
                    .or_insert_with(|| {
                        by_cause(controllers[*index].reconcile(&view, &Stored::default(), now))
                    })
                    .get(&p.group.caused_by)
                    .cloned();
                p.observe(decisions);
            }
            if after >= last {
                break 'scan;
            }
        }
    }
    let mut report = Report {
        actors: actors.iter().map(|a| a.to_string()).collect(),
        checked: before_compaction,
        skipped: before_compaction,
        ..Report::default()
    };
    for (_, p) in pending {
        report.checked += 1;
        match p.finish() {
            Ok(()) => {}
            Err(None) => report.skipped += 1,
            Err(Some(difference)) => report.differences.push(difference),
        }
    }
    report.differences.sort_by_key(|d| d.first_seq);
    Ok(report)
}

/// The recorded decisions of `actors`, oldest first.
async fn load_groups(pool: &Readers, actors: &[&str]) -> Result<Vec<Group>, HistoryError> {
    let mut by_cause: BTreeMap<(String, i64), Vec<LogEntry>> = BTreeMap::new();
    for actor in actors {
        let filter = LogFilter {
            actor: Some(actor.to_string()),
            ..Default::default()
        };
        let mut after = 0;
        loop {
            let entries = query::entries(pool, &filter, after, 5000).await?;
            let Some(last) = entries.last() else { break };
            after = last.seq;
            for entry in entries {
                if let Some(cause) = entry.caused_by
                    && entry.kind != ResourceKind::Event.as_str()
                {
                    by_cause
                        .entry((entry.actor.clone(), cause))
                        .or_default()
                        .push(entry);
                }
            }
        }
    }
    let seqs: BTreeSet<i64> = by_cause.keys().map(|(_, seq)| *seq).collect();
    let seqs: Vec<i64> = seqs.into_iter().collect();
    let causes = query::entries_without_objects_at(pool, &seqs).await?;
    let mut groups = Vec::new();
    for ((actor, caused_by), entries) in by_cause {
        // A cause may be shared by several actors' groups.
        let Some(cause) = causes.get(&caused_by) else {
            continue;
        };
        let mut writes: Vec<Write> = Vec::new();
        let mut by_request: HashMap<&str, usize> = HashMap::new();
        for entry in &entries {
            // One decision per request: a delete may append DeletionRequested then Deleted.
            if let Some(&index) = by_request.get(entry.request_id.as_str()) {
                writes[index].last_seq = writes[index].last_seq.max(entry.seq);
                continue;
            }
            if let Some(decision) = recorded(entry) {
                by_request.insert(&entry.request_id, writes.len());
                writes.push(Write {
                    seq: entry.seq,
                    last_seq: entry.seq,
                    time: entry.time.clone(),
                    decision,
                });
            }
        }
        if writes.is_empty() {
            continue;
        }
        groups.push(Group {
            actor,
            caused_by,
            cause: (
                cause.kind.clone(),
                cause.namespace.clone(),
                cause.name.clone(),
            ),
            writes,
        });
    }
    groups.sort_by_key(|g| g.writes.first().map_or(0, |w| w.seq));
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::actors;

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn rs(rv: i64, replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": "web", "namespace": "default", "uid": "rs-uid", "generation": 1,
                            "resourceVersion": rv.to_string()},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
               "status": {"replicas": 0}})
    }

    fn pod(name: &str, rv: i64, created: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "default", "uid": format!("u-{name}"), "labels": {"app": "web"},
                            "creationTimestamp": created, "resourceVersion": rv.to_string(),
                            "ownerReferences": [{"uid": "rs-uid", "controller": true, "kind": "ReplicaSet", "name": "web"}]},
               "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    }

    fn view(objects: &[(ResourceKind, Value)]) -> Snapshot {
        let mut s = Snapshot::default();
        for (kind, o) in objects {
            let seq = meta::resource_version(o).parse().unwrap();
            s.apply(*kind, EventType::Updated, Arc::new(o.clone()), seq);
        }
        s
    }

    /// Today's controller that writes as `actor`, from the registry.
    fn today_as(actor: &str) -> Box<dyn Controller> {
        today()
            .into_iter()
            .find(|c| c.actor() == actor)
            .expect("registered")
    }

    /// A group of `actor` caused by `cause` at `caused_by`, its writes one seq apart from
    /// `caused_by + 1`, all at `time`.
    fn group_of(
        actor: &str,
        (kind, namespace, name): (&str, &str, &str),
        caused_by: i64,
        time: &str,
        decisions: Vec<Decision>,
    ) -> Group {
        let writes = (caused_by + 1..)
            .zip(decisions)
            .map(|(seq, decision)| Write {
                seq,
                last_seq: seq,
                time: time.into(),
                decision,
            })
            .collect();
        Group {
            actor: actor.into(),
            caused_by,
            cause: (kind.into(), namespace.into(), name.into()),
            writes,
        }
    }

    fn group(recorded: Vec<Decision>) -> Group {
        group_of(
            actors::REPLICASET_CONTROLLER,
            ("ReplicaSet", "default", "web"),
            10,
            NOW,
            recorded,
        )
    }

    fn entry(seq: i64, object: &Value, event_type: &str, actor: &str) -> LogEntry {
        LogEntry {
            seq,
            time: "t".into(),
            api_version: object["apiVersion"].as_str().unwrap_or("v1").into(),
            kind: object["kind"].as_str().unwrap_or("").into(),
            namespace: meta::namespace(object).into(),
            name: meta::name(object).into(),
            uid: "u".into(),
            event_type: event_type.into(),
            event_version: 1,
            prev_seq: None,
            object: object.to_string(),
            actor: actor.into(),
            user_agent: None,
            field_manager: None,
            request_id: "r".into(),
            caused_by: Some(10),
            causes: None,
        }
    }

    fn sorted(mut decisions: Vec<Decision>) -> Vec<Decision> {
        decisions.sort();
        decisions
    }

    #[test]
    fn a_scale_down_is_reproduced_on_the_state_it_saw() {
        let state = view(&[
            (ResourceKind::ReplicaSet, rs(10, 1)),
            (ResourceKind::Pod, pod("web-old", 3, "2026-01-01T00:00:00Z")),
            (ResourceKind::Pod, pod("web-new", 4, "2026-01-01T00:00:05Z")),
        ]);
        let mut recorded = vec![
            Decision::DeletePod {
                namespace: "default".into(),
                name: "web-new".into(),
            },
            Decision::ReplicaSetStatus {
                namespace: "default".into(),
                name: "web".into(),
                // Status counts the pods it claimed on that state, the one being deleted included.
                counts: "replicas=2 fullyLabeled=2 ready=0 available=0 observedGeneration=1".into(),
            },
        ];
        recorded.sort();
        let controller = today_as(actors::REPLICASET_CONTROLLER);
        let now = NOW.parse().unwrap();
        assert_eq!(
            evaluate(&group(recorded.clone()), &state, now, controller.as_ref()),
            Some(recorded.clone())
        );
        let mut progress = Progress::new(group(recorded));
        progress.step(10, &state, controller.as_ref());
        assert!(progress.done());
        assert_eq!(progress.finish(), Ok(()));
        // Another version of the cause: not a state the worker acted on.
        let moved = view(&[(ResourceKind::ReplicaSet, rs(12, 1))]);
        assert_eq!(
            evaluate(&group(vec![]), &moved, now, controller.as_ref()),
            None
        );
    }

    #[test]
    fn recorded_events_and_commands_normalise_alike() {
        let mut created = pod("web-x7k2p", 20, "2026-01-01T00:00:00Z");
        created["metadata"]["generateName"] = json!("web-");
        let entry = entry(20, &created, "Created", actors::REPLICASET_CONTROLLER);
        let controller = today_as(actors::REPLICASET_CONTROLLER);
        let state = view(&[(ResourceKind::ReplicaSet, rs(10, 1))]);
        let commands = evaluate(
            &group(vec![]),
            &state,
            "2026-01-01T00:00:00Z".parse().unwrap(),
            controller.as_ref(),
        )
        .expect("the cause holds");
        let create = commands
            .into_iter()
            .find(|d| matches!(d, Decision::CreatePod { .. }));
        assert_eq!(recorded(&entry), create);
        assert_eq!(create.unwrap().to_string(), "create pod default/web-*");
    }

    #[test]
    fn a_changed_decision_is_reported_with_what_todays_code_does() {
        let state = view(&[
            (ResourceKind::ReplicaSet, rs(10, 1)),
            (ResourceKind::Pod, pod("web-old", 3, "2026-01-01T00:00:00Z")),
            (ResourceKind::Pod, pod("web-new", 4, "2026-01-01T00:00:05Z")),
        ]);
        // Recorded: the older pod went (today's code deletes the newest).
        let recorded = sorted(vec![
            Decision::DeletePod {
                namespace: "default".into(),
                name: "web-old".into(),
            },
            Decision::ReplicaSetStatus {
                namespace: "default".into(),
                name: "web".into(),
                counts: "replicas=2 fullyLabeled=2 ready=0 available=0 observedGeneration=1".into(),
            },
        ]);
        let controller = today_as(actors::REPLICASET_CONTROLLER);
        let mut progress = Progress::new(group(recorded.clone()));
        progress.step(10, &state, controller.as_ref());
        let Err(Some(difference)) = progress.finish() else {
            panic!("a difference")
        };
        assert_eq!(difference.first_seq, 11);
        assert_eq!(difference.recorded, recorded);
        assert!(
            difference
                .now
                .iter()
                .any(|d| d.to_string() == "delete pod default/web-new"),
            "{:?}",
            difference.now
        );
        // No state of the window had the cause's version: not comparable.
        let mut progress = Progress::new(group(recorded));
        progress.step(10, &view(&[]), controller.as_ref());
        assert_eq!(progress.finish(), Err(None));
    }

    #[test]
    fn the_garbage_collector_deletes_an_orphan_and_finalizes_a_foreground_owner_in_two_passes() {
        let gc = today_as(actors::GARBAGE_COLLECTOR);
        let now = NOW.parse().unwrap();
        // A pod whose only owner is gone is deleted in the background, caused by the pod.
        let mut orphan = pod("web-a", 7, NOW);
        orphan["metadata"]["ownerReferences"][0]["uid"] = json!("gone");
        let mut requested = orphan.clone();
        requested["metadata"]["deletionTimestamp"] = json!(NOW);
        let deleted = recorded(&entry(
            8,
            &requested,
            "DeletionRequested",
            actors::GARBAGE_COLLECTOR,
        ));
        assert_eq!(
            deleted.as_ref().map(ToString::to_string).as_deref(),
            Some("delete pod default/web-a")
        );
        let background = group_of(
            actors::GARBAGE_COLLECTOR,
            ("Pod", "default", "web-a"),
            7,
            NOW,
            deleted.into_iter().collect(),
        );
        let state = view(&[(ResourceKind::Pod, orphan)]);
        assert_eq!(
            evaluate(&background, &state, now, gc.as_ref()),
            Some(
                background
                    .writes
                    .iter()
                    .map(|w| w.decision.clone())
                    .collect()
            )
        );

        // A ReplicaSet deleted in the foreground: its pod is deleted first, then (once the pod
        // is gone, the owner's version unchanged) its finalizer is removed.
        let mut owner = rs(10, 1);
        owner["metadata"]["deletionTimestamp"] = json!(NOW);
        owner["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
        let dependent = pod("web-b", 9, NOW);
        let mut removed = owner.clone();
        removed["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("finalizers");
        let finalized = recorded(&entry(30, &removed, "Deleted", actors::GARBAGE_COLLECTOR))
            .expect("an update that removed the last finalizer");
        assert_eq!(
            finalized.to_string(),
            "metadata of replicaset default/web: owners [], finalizers []"
        );
        let mut foreground = group_of(
            actors::GARBAGE_COLLECTOR,
            ("ReplicaSet", "default", "web"),
            10,
            NOW,
            vec![
                Decision::DeletePod {
                    namespace: "default".into(),
                    name: "web-b".into(),
                },
                finalized,
            ],
        );
        foreground.writes[1].seq = 30;
        foreground.writes[1].last_seq = 30;
        let with_dependent = view(&[
            (ResourceKind::ReplicaSet, owner.clone()),
            (ResourceKind::Pod, dependent),
        ]);
        let without = view(&[(ResourceKind::ReplicaSet, owner)]);
        let mut progress = Progress::new(foreground.clone());
        progress.step(10, &with_dependent, gc.as_ref());
        assert!(!progress.done(), "the first pass deletes the pod only");
        progress.step(29, &without, gc.as_ref());
        assert!(progress.done());
        // A second pass recorded as something else is reported from its own first write, with
        // what today's code does on the state before it.
        let mut changed = foreground;
        changed.writes[1].decision = Decision::Delete {
            kind: "ReplicaSet".into(),
            namespace: "default".into(),
            name: "web".into(),
        };
        let mut progress = Progress::new(changed);
        progress.step(10, &with_dependent, gc.as_ref());
        progress.step(29, &without, gc.as_ref());
        let Err(Some(difference)) = progress.finish() else {
            panic!("a difference")
        };
        assert_eq!(difference.first_seq, 30);
        assert_eq!(
            difference
                .recorded
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["delete replicaset default/web"]
        );
        assert_eq!(
            difference
                .now
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["metadata of replicaset default/web: owners [], finalizers []"]
        );
    }

    #[test]
    fn the_namespace_controller_empties_a_namespace_then_finalizes_it() {
        let controller = today_as(actors::NAMESPACE_CONTROLLER);
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "team", "uid": "ns-uid", "resourceVersion": "20", "deletionTimestamp": NOW},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Terminating"}});
        let mut web = pod("web-a", 15, NOW);
        web["metadata"]["namespace"] = json!("team");
        let mut set = rs(16, 1);
        set["metadata"]["namespace"] = json!("team");
        let mut gone = namespace.clone();
        gone["spec"]["finalizers"] = json!([]);
        let finalized = recorded(&entry(40, &gone, "Deleted", actors::NAMESPACE_CONTROLLER));
        assert_eq!(
            finalized,
            Some(Decision::FinalizeNamespace {
                name: "team".into()
            })
        );
        let removed_set =
            recorded(&entry(21, &set, "Deleted", actors::NAMESPACE_CONTROLLER)).expect("a delete");
        assert_eq!(removed_set.to_string(), "delete replicaset team/web");
        let mut group = group_of(
            actors::NAMESPACE_CONTROLLER,
            ("Namespace", "", "team"),
            20,
            NOW,
            vec![
                removed_set,
                Decision::DeletePod {
                    namespace: "team".into(),
                    name: "web-a".into(),
                },
                Decision::FinalizeNamespace {
                    name: "team".into(),
                },
            ],
        );
        group.writes[2].seq = 40;
        group.writes[2].last_seq = 40;
        let full = view(&[
            (ResourceKind::Namespace, namespace.clone()),
            (ResourceKind::Pod, web),
            (ResourceKind::ReplicaSet, set),
        ]);
        let empty = view(&[(ResourceKind::Namespace, namespace)]);
        assert_eq!(
            evaluate(&group, &empty, NOW.parse().unwrap(), controller.as_ref()),
            Some(vec![Decision::FinalizeNamespace {
                name: "team".into()
            }])
        );
        let mut progress = Progress::new(group);
        progress.step(20, &full, controller.as_ref());
        progress.step(39, &empty, controller.as_ref());
        assert!(progress.done());
        assert_eq!(progress.finish(), Ok(()));
    }

    #[test]
    fn the_node_lifecycle_controller_marks_a_silent_node_unknown_then_taints_it() {
        let controller = today_as(actors::NODE_LIFECYCLE_CONTROLLER);
        let node = |rv: i64, status: &str, taints: Value| {
            json!({"apiVersion": "v1", "kind": "Node",
                   "metadata": {"name": "n1", "uid": "n1-uid", "resourceVersion": rv.to_string()},
                   "spec": {"taints": taints},
                   "status": {"conditions": [{"type": "Ready", "status": status,
                                              "lastHeartbeatTime": "2026-01-01T00:09:00Z"}]}})
        };
        let now = "2026-01-01T00:10:00Z";
        // Silent for a minute, past the default grace of 40 s: Ready becomes Unknown.
        let unknown = recorded(&entry(
            31,
            &node(31, "Unknown", json!([])),
            "StatusUpdated",
            actors::NODE_LIFECYCLE_CONTROLLER,
        ));
        assert_eq!(
            unknown.as_ref().map(ToString::to_string).as_deref(),
            Some("node n1 Ready=Unknown")
        );
        let status = group_of(
            actors::NODE_LIFECYCLE_CONTROLLER,
            ("Node", "", "n1"),
            30,
            now,
            unknown.into_iter().collect(),
        );
        let mut progress = Progress::new(status);
        progress.step(
            30,
            &view(&[(ResourceKind::Node, node(30, "True", json!([])))]),
            controller.as_ref(),
        );
        assert_eq!(progress.finish(), Ok(()));
        // Unknown: the unreachable NoExecute taint, and the pod that does not tolerate it goes.
        let tainted = recorded(&entry(
            32,
            &node(32, "Unknown", json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": now}])),
            "Updated",
            actors::NODE_LIFECYCLE_CONTROLLER,
        ))
        .expect("a taint");
        assert_eq!(
            tainted.to_string(),
            "taints of node n1: [node.kubernetes.io/unreachable:NoExecute]"
        );
        let taint = group_of(
            actors::NODE_LIFECYCLE_CONTROLLER,
            ("Node", "", "n1"),
            31,
            now,
            vec![tainted],
        );
        let mut on_node = pod("web-a", 5, NOW);
        on_node["metadata"]["ownerReferences"] = json!([]);
        let mut progress = Progress::new(taint);
        progress.step(
            31,
            &view(&[
                (ResourceKind::Node, node(31, "Unknown", json!([]))),
                (ResourceKind::Pod, on_node.clone()),
            ]),
            controller.as_ref(),
        );
        assert_eq!(progress.finish(), Ok(()), "the taint comes first, alone");
        // The pod, which does not tolerate the taint, is evicted because of the tainted version.
        let tainted_node = node(
            32,
            "Unknown",
            json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": now}]),
        );
        let eviction = group_of(
            actors::NODE_LIFECYCLE_CONTROLLER,
            ("Node", "", "n1"),
            32,
            now,
            vec![Decision::DeletePod {
                namespace: "default".into(),
                name: "web-a".into(),
            }],
        );
        assert_eq!(
            evaluate(
                &eviction,
                &view(&[
                    (ResourceKind::Node, tainted_node),
                    (ResourceKind::Pod, on_node)
                ]),
                now.parse().unwrap(),
                controller.as_ref()
            ),
            Some(eviction.writes.iter().map(|w| w.decision.clone()).collect())
        );
    }

    #[test]
    fn the_report_names_every_controller_checked() {
        let report = Report {
            actors: today().iter().map(|c| c.actor().to_string()).collect(),
            checked: 3,
            ..Report::default()
        };
        assert_eq!(
            report.lines(),
            [
                "checked 3 recorded decisions of namespace-controller, default-scheduler, deployment-controller, replicaset-controller, endpoint-controller, endpointslice-controller, serviceaccount-controller, generic-garbage-collector, node-lifecycle-controller and event-ttl-controller: 0 differ"
            ]
        );
    }
}
