//! `kubetrail replay --check-workers`: re-run today's scheduler and ReplicaSet controller
//! against the state each recorded decision saw, and report every decision that would now
//! differ. A developer runs it after changing a reconciler.
//!
//! A *decision* is what one worker wrote because of one version of one object: the events of
//! that actor with the same `caused_by` (the ReplicaSet's version for the ReplicaSet
//! controller, the pod's for the scheduler), core/v1 Events left out (they are reports, with
//! generated names and times). Which state the worker saw is not recorded, only that it was at
//! least `caused_by` and before its first write. So a decision is *reproduced* when today's code,
//! run on the state at some seq `v` in `[caused_by, first write - 1]` (at most `WINDOW` of them,
//! newest first) in which the cause object still had the `caused_by` version, makes the same
//! decisions; it is reported when no such state makes them. Generated pod names are compared by
//! their `generateName`, ReplicaSet status by its counts, times not at all.
//!
//! The comparison is pure (`Decision`, `recorded`, `predicted`); `check_workers` reads the log
//! once, in order, and evaluates each decision on the states of its window.

use super::HistoryError;
use super::query::{self, LogEntry, LogFilter};
use crate::events::{Command, EventType, UpdatePart};
use crate::model::{ResourceKind, meta};
use crate::store::Readers;
use crate::workers::cache::Snapshot;
use crate::workers::record::Reporter;
use crate::workers::{replicaset, scheduler};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How many states before a decision's first write are tried.
pub const WINDOW: i64 = 64;

/// The reconcile functions under test: today's code, or (in tests) a changed one.
pub trait Reconcilers {
    /// The ReplicaSet controller's commands for `rs`, given the pods in its namespace.
    fn replicaset(&self, rs: &Value, pods: &[&Value], now: jiff::Timestamp) -> Vec<Command>;
    /// The scheduler's commands for one pass over `snapshot`.
    fn scheduler(&self, snapshot: &Snapshot, now: jiff::Timestamp) -> Vec<(Command, Option<i64>)>;
}

/// The reconcilers as built into this binary.
pub struct Today;

impl Reconcilers for Today {
    fn replicaset(&self, rs: &Value, pods: &[&Value], now: jiff::Timestamp) -> Vec<Command> {
        let name = meta::name(rs).to_string();
        let reporter = Reporter::new(replicaset::ACTOR, "");
        replicaset::reconcile(rs, pods, &reporter, now, || format!("{name}-xxxxx"))
    }

    fn scheduler(&self, snapshot: &Snapshot, now: jiff::Timestamp) -> Vec<(Command, Option<i64>)> {
        scheduler::reconcile(snapshot, &Reporter::new(scheduler::ACTOR, ""), now)
    }
}

/// One write a worker decided, in a form that compares across runs.
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
    /// Adopt (controller uid) or release (none) a pod.
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
        }
    }
}

fn controller_uid(pod: &Value) -> Option<String> {
    pod.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r["controller"] == true)
        .and_then(|r| r["uid"].as_str())
        .map(str::to_string)
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

/// The decision a recorded event shows (`None` for reports and anything else).
pub fn recorded(entry: &LogEntry) -> Option<Decision> {
    let object: Value = serde_json::from_str(&entry.object).ok()?;
    let namespace = entry.namespace.clone();
    let name = entry.name.clone();
    match (entry.kind.as_str(), entry.event_type.as_str()) {
        ("Pod", "Created") => Some(Decision::CreatePod {
            namespace,
            generate_name: meta::meta_str(&object, "generateName").to_string(),
        }),
        ("Pod", "DeletionRequested" | "Deleted") => Some(Decision::DeletePod { namespace, name }),
        ("Pod", "Updated") => Some(Decision::SetController {
            namespace,
            name,
            controller: controller_uid(&object),
        }),
        ("Pod", "Bound") => Some(Decision::Bind {
            namespace,
            name,
            node: object
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        }),
        ("Pod", "StatusUpdated") => Some(Decision::Unschedulable {
            namespace,
            name,
            message: unschedulable_message(&object),
        }),
        ("ReplicaSet", "StatusUpdated") => Some(Decision::ReplicaSetStatus {
            namespace,
            name,
            counts: status_counts(&object),
        }),
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
            kind: ResourceKind::Pod,
            namespace,
            name,
            ..
        } => Some(Decision::DeletePod {
            namespace: namespace.clone(),
            name: name.clone(),
        }),
        Command::Update {
            kind: ResourceKind::Pod,
            namespace,
            name,
            object,
            part: UpdatePart::Main,
        } => Some(Decision::SetController {
            namespace: namespace.clone(),
            name: name.clone(),
            controller: controller_uid(object),
        }),
        Command::Update {
            kind: ResourceKind::Pod,
            namespace,
            name,
            object,
            part: UpdatePart::Status,
        } => Some(Decision::Unschedulable {
            namespace: namespace.clone(),
            name: name.clone(),
            message: unschedulable_message(object),
        }),
        Command::Update {
            kind: ResourceKind::ReplicaSet,
            namespace,
            name,
            object,
            part: UpdatePart::Status,
        } => Some(Decision::ReplicaSetStatus {
            namespace: namespace.clone(),
            name: name.clone(),
            counts: status_counts(object),
        }),
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

/// A recorded decision to check: a worker's writes caused by one object version.
#[derive(Debug, Clone)]
pub struct Group {
    pub actor: String,
    pub caused_by: i64,
    /// The cause: (kind, namespace, name) of the event at `caused_by`.
    pub cause: (String, String, String),
    /// Seq and time of the group's first write.
    pub first_seq: i64,
    pub first_time: String,
    /// What was recorded, sorted; one decision per request.
    pub recorded: Vec<Decision>,
}

/// What today's code does on the state at one seq, for `group` (`None`: the cause object did
/// not have the `caused_by` version there, so the worker cannot have acted on that state).
pub fn evaluate(group: &Group, view: &Snapshot, code: &dyn Reconcilers) -> Option<Vec<Decision>> {
    let (kind, namespace, name) = &group.cause;
    let now: jiff::Timestamp = group.first_time.parse().ok()?;
    let version = |object: &Value| meta::resource_version(object).parse::<i64>().ok();
    let mut decisions: Vec<Decision> = match (group.actor.as_str(), kind.as_str()) {
        (replicaset::ACTOR, "ReplicaSet") => {
            let rs = view.get(ResourceKind::ReplicaSet, namespace, name)?;
            if version(rs) != Some(group.caused_by) {
                return None;
            }
            let pods: Vec<&Value> = view
                .in_namespace(ResourceKind::Pod, namespace)
                .map(|p| p.as_ref())
                .collect();
            code.replicaset(rs, &pods, now)
                .iter()
                .filter_map(predicted)
                .collect()
        }
        (scheduler::ACTOR, "Pod") => {
            let pod = view.get(ResourceKind::Pod, namespace, name)?;
            if version(pod) != Some(group.caused_by) {
                return None;
            }
            code.scheduler(view, now)
                .iter()
                .filter(|(c, _)| {
                    let (k, ns, n) = c.target();
                    k == ResourceKind::Pod && ns == namespace && n == name
                })
                .filter_map(|(c, _)| predicted(c))
                .collect()
        }
        _ => return None,
    };
    decisions.sort();
    Some(decisions)
}

/// A decision today's code would not make.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub actor: String,
    pub caused_by: i64,
    pub cause: String,
    pub first_seq: i64,
    pub recorded: Vec<Decision>,
    /// What today's code does on the newest state of the window where the cause held.
    pub now: Vec<Decision>,
}

/// What `--check-workers` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub checked: usize,
    /// Decisions for which no state of the window had the cause's version (not comparable).
    pub skipped: usize,
    pub differences: Vec<Difference>,
}

impl Report {
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "checked {} recorded decisions of {} and {}: {} differ{}",
            self.checked,
            scheduler::ACTOR,
            replicaset::ACTOR,
            self.differences.len(),
            if self.skipped > 0 {
                format!(
                    ", {} not comparable (their cause changed before they acted)",
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

/// Read the workers' recorded decisions and check each against `code`.
pub async fn check_workers(pool: &Readers, code: &dyn Reconcilers) -> Result<Report, HistoryError> {
    let groups = load_groups(pool).await?;
    // For each group, the window of states to try, newest first.
    struct Pending {
        group: Group,
        from: i64,
        matched: bool,
        /// Today's decisions on the newest valid state of the window, for the report.
        newest: Option<Vec<Decision>>,
        valid: bool,
    }
    let mut pending: Vec<Pending> = groups
        .into_iter()
        .map(|group| Pending {
            from: group.caused_by.max(group.first_seq - WINDOW),
            group,
            matched: false,
            newest: None,
            valid: false,
        })
        .collect();
    let last = pending
        .iter()
        .map(|p| p.group.first_seq - 1)
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
            for p in pending.iter_mut() {
                if p.matched || entry.seq < p.from || entry.seq >= p.group.first_seq {
                    continue;
                }
                if let Some(decisions) = evaluate(&p.group, &view, code) {
                    p.valid = true;
                    if decisions == p.group.recorded {
                        p.matched = true;
                    }
                    p.newest = Some(decisions);
                }
            }
            if after >= last {
                break 'scan;
            }
        }
    }
    let mut report = Report::default();
    for p in pending {
        report.checked += 1;
        if p.matched {
            continue;
        }
        if !p.valid {
            report.skipped += 1;
            continue;
        }
        let (kind, namespace, name) = &p.group.cause;
        report.differences.push(Difference {
            actor: p.group.actor,
            caused_by: p.group.caused_by,
            cause: format!("{kind} {namespace}/{name}"),
            first_seq: p.group.first_seq,
            recorded: p.group.recorded,
            now: p.newest.unwrap_or_default(),
        });
    }
    report.differences.sort_by_key(|d| d.first_seq);
    Ok(report)
}

/// The recorded decisions of the scheduler and the ReplicaSet controller, oldest first.
async fn load_groups(pool: &Readers) -> Result<Vec<Group>, HistoryError> {
    let mut by_cause: BTreeMap<(String, i64), Vec<LogEntry>> = BTreeMap::new();
    for actor in [scheduler::ACTOR, replicaset::ACTOR] {
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
    let mut groups = Vec::new();
    for ((actor, caused_by), entries) in by_cause {
        let Some(cause) = query::entry(pool, caused_by).await? else {
            continue;
        };
        let mut recorded_decisions: Vec<Decision> = Vec::new();
        let mut seen_requests: Vec<&str> = Vec::new();
        for entry in &entries {
            // One decision per request: a delete may append DeletionRequested then Deleted.
            if seen_requests.contains(&entry.request_id.as_str()) {
                continue;
            }
            if let Some(decision) = recorded(entry) {
                seen_requests.push(&entry.request_id);
                recorded_decisions.push(decision);
            }
        }
        recorded_decisions.sort();
        let Some(first) = entries.first() else {
            continue;
        };
        groups.push(Group {
            actor,
            caused_by,
            cause: (cause.kind, cause.namespace, cause.name),
            first_seq: first.seq,
            first_time: first.time.clone(),
            recorded: recorded_decisions,
        });
    }
    groups.sort_by_key(|g| g.first_seq);
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn group(recorded: Vec<Decision>) -> Group {
        Group {
            actor: replicaset::ACTOR.into(),
            caused_by: 10,
            cause: ("ReplicaSet".into(), "default".into(), "web".into()),
            first_seq: 11,
            first_time: "2026-01-01T00:00:00Z".into(),
            recorded,
        }
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
        assert_eq!(
            evaluate(&group(recorded.clone()), &state, &Today),
            Some(recorded)
        );
        // Another version of the cause: not a state the worker acted on.
        let moved = view(&[(ResourceKind::ReplicaSet, rs(12, 1))]);
        assert_eq!(evaluate(&group(vec![]), &moved, &Today), None);
    }

    #[test]
    fn recorded_events_and_commands_normalise_alike() {
        let mut created = pod("web-x7k2p", 20, "2026-01-01T00:00:00Z");
        created["metadata"]["generateName"] = json!("web-");
        let entry = LogEntry {
            seq: 20,
            time: "t".into(),
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "default".into(),
            name: "web-x7k2p".into(),
            uid: "u".into(),
            event_type: "Created".into(),
            event_version: 1,
            prev_seq: None,
            object: created.to_string(),
            actor: replicaset::ACTOR.into(),
            user_agent: None,
            field_manager: None,
            request_id: "r".into(),
            caused_by: Some(10),
        };
        let commands = Today.replicaset(&rs(10, 1), &[], "2026-01-01T00:00:00Z".parse().unwrap());
        let create = commands.iter().find_map(|c| match predicted(c) {
            Some(d @ Decision::CreatePod { .. }) => Some(d),
            _ => None,
        });
        assert_eq!(recorded(&entry), create);
        assert_eq!(create.unwrap().to_string(), "create pod default/web-*");
    }
}
