//! The ReplicaSet controller: keeps `spec.replicas` active pods matching each ReplicaSet's
//! selector. It adopts matching orphans, releases owned pods whose labels stopped matching,
//! creates missing pods from the template (named `<rs>-<suffix>`, with a controller
//! ownerReference), deletes surplus pods (unscheduled, then pending, then not ready, newest
//! first), and keeps `status` current. `reconcile` is pure; the loop only feeds it snapshots.
//!
//! Pods are read as the informer holds them (`Held`): every choice reads their facts, and only
//! a pod adopted or released is parsed, to write it back.

use super::cache::{Held, Snapshot};
use super::causes::{self, Input, plural};
use super::pods::controller_of;
use super::record::{Reporter, Severity};
use super::{Cause, Controller, Pass, SlowStart, Stored, Wake};
use crate::api::actors;
use crate::events::{Command, DeleteOptions, UpdatePart};
use crate::model::meta::Lookup as _;
use crate::model::selector::LabelSelector;
use crate::model::{ResourceKind, meta};
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The most pods one pass creates or deletes for one ReplicaSet, as Kubernetes'
/// `burstReplicas`: a ReplicaSet scaled to millions converges over many passes, each of
/// bounded size, instead of building every missing pod at once.
pub const BURST_REPLICAS: usize = 500;

/// Deletion preference, lowest first: unscheduled before scheduled, pending before running,
/// not ready before ready, more restarts first, newest first (kube's ActivePods order).
fn surplus_rank(held: &Held) -> (bool, u8, bool, Reverse<i64>, Reverse<&str>) {
    let pod = held.pod();
    let phase = match pod.phase.as_deref() {
        Some("Pending") | None => 0,
        Some("Unknown") => 1,
        _ => 2,
    };
    (
        held.node().is_some(),
        phase,
        pod.ready_since.is_some(),
        Reverse(pod.restarts),
        Reverse(pod.created.as_str()),
    )
}

/// A pod stamped from the ReplicaSet's template.
fn pod_from_template(rs: &Value, name: &str) -> Value {
    let template = rs.at("/spec/template").cloned().unwrap_or(json!({}));
    let mut metadata = json!({
        "name": name,
        "generateName": format!("{}-", meta::name(rs)),
        "namespace": meta::namespace(rs),
        "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": meta::name(rs),
            "uid": meta::uid(rs), "controller": true, "blockOwnerDeletion": true,
        }],
    });
    for field in ["labels", "annotations"] {
        if let Some(v) = template.at(&format!("/metadata/{field}")) {
            metadata[field] = v.clone();
        }
    }
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    })
}

fn pod_update(pod: Value) -> Command {
    Command::Update {
        kind: ResourceKind::Pod,
        namespace: meta::namespace(&pod).to_string(),
        name: meta::name(&pod).to_string(),
        object: pod,
        part: UpdatePart::Main,
    }
}

/// Everything one ReplicaSet needs done, given the pods in its namespace. `new_name` names
/// pods to create.
pub fn reconcile(
    rs: &Value,
    pods: &[&Held],
    reporter: &Reporter,
    now: jiff::Timestamp,
    mut new_name: impl FnMut() -> String,
) -> Vec<Command> {
    let mut commands = Vec::new();
    if meta::deletion_timestamp(rs).is_some() {
        return commands;
    }
    let Some(selector) = selector_of(rs).filter(|s| !s.is_empty()) else {
        return commands;
    };
    let uid = meta::uid(rs);
    let mut claimed: Vec<&Held> = Vec::new();
    for &pod in pods {
        let matches = pod.pod().labels.selected_by(&selector);
        match pod.pod().controller_uid() {
            Some(owner) if owner == uid => {
                if matches {
                    claimed.push(pod);
                } else if !pod.deleting() {
                    // Release: the pod's labels no longer match.
                    let mut released = Arc::unwrap_or_clone(pod.object());
                    super::gc::retain_in(&mut released, "ownerReferences", |r| r["uid"] != uid);
                    commands.push(pod_update(released));
                }
            }
            Some(_) => {}
            None if matches && pod.is_active() => {
                // Adopt an orphan that matches.
                let mut adopted = Arc::unwrap_or_clone(pod.object());
                let reference = json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": meta::name(rs),
                    "uid": uid, "controller": true, "blockOwnerDeletion": true,
                });
                let meta_map = meta::metadata_mut(&mut adopted);
                match meta_map
                    .get_mut("ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    Some(refs) => refs.push(reference),
                    None => {
                        meta_map.insert("ownerReferences".into(), json!([reference]));
                    }
                }
                commands.push(pod_update(adopted));
                claimed.push(pod);
            }
            None => {}
        }
    }
    let mut active: Vec<&Held> = claimed.iter().copied().filter(|p| p.is_active()).collect();
    let desired = usize::try_from(
        rs.at("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0),
    )
    .unwrap_or(usize::MAX);
    if active.len() < desired {
        let missing = (desired - active.len()).min(BURST_REPLICAS);
        for _ in 0..missing {
            let name = new_name();
            let pod = pod_from_template(rs, &name);
            commands.push(Command::Create {
                kind: ResourceKind::Pod,
                namespace: meta::namespace(rs).to_string(),
                object: pod,
            });
            if reporter.allow(rs, now) {
                commands.push(reporter.event(
                    ResourceKind::ReplicaSet,
                    rs,
                    Severity::Normal,
                    "SuccessfulCreate",
                    &format!("Created pod: {name}"),
                    now,
                ));
            }
        }
    } else if active.len() > desired {
        active.sort_by_key(|&p| surplus_rank(p));
        let surplus = (active.len() - desired).min(BURST_REPLICAS);
        for pod in &active[..surplus] {
            commands.push(Command::Delete {
                kind: ResourceKind::Pod,
                namespace: pod.namespace().to_string(),
                name: pod.name().to_string(),
                options: DeleteOptions::default(),
            });
            if reporter.allow(rs, now) {
                commands.push(reporter.event(
                    ResourceKind::ReplicaSet,
                    rs,
                    Severity::Normal,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {}", pod.name()),
                    now,
                ));
            }
        }
    }
    if let Some(update) = status_update(rs, &claimed, now) {
        commands.push(update);
    }
    commands
}

/// The status the ReplicaSet should report, as an update when it differs from the current one.
fn status_update(rs: &Value, claimed: &[&Held], now: jiff::Timestamp) -> Option<Command> {
    let template_labels = rs
        .at("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let min_ready = rs
        .at("/spec/minReadySeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let active: Vec<&Held> = claimed.iter().copied().filter(|p| p.is_active()).collect();
    let fully_labeled = active
        .iter()
        .filter(|p| {
            // A label whose value is not a string counts as absent on either side.
            let labels = &p.pod().labels;
            template_labels
                .iter()
                .all(|(k, v)| labels.get(k) == v.as_str())
        })
        .count();
    let ready: Vec<jiff::Timestamp> = active.iter().filter_map(|p| p.pod().ready_since).collect();
    let available = ready
        .iter()
        .filter(|since| now.duration_since(**since).as_secs() >= min_ready)
        .count();
    let mut status = json!({
        "replicas": active.len(),
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": ready.len(),
        "availableReplicas": available,
        "observedGeneration": rs.at("/metadata/generation").and_then(Value::as_i64).unwrap_or(1),
    });
    // Kubernetes omits zero counts except `replicas`.
    if let Some(map) = status.as_object_mut() {
        map.retain(|k, v| k == "replicas" || v.as_i64() != Some(0));
    }
    let current = rs.get("status").cloned().unwrap_or(json!({}));
    let same = [
        "replicas",
        "fullyLabeledReplicas",
        "readyReplicas",
        "availableReplicas",
        "observedGeneration",
    ]
    .iter()
    .all(|k| {
        current.get(*k).and_then(Value::as_i64).unwrap_or(0)
            == status.get(*k).and_then(Value::as_i64).unwrap_or(0)
    });
    if same && current.get("replicas").is_some() {
        return None;
    }
    let mut updated = rs.clone();
    if let Some(conditions) = current.get("conditions") {
        status["conditions"] = conditions.clone();
    }
    updated["status"] = status;
    Some(Command::Update {
        kind: ResourceKind::ReplicaSet,
        namespace: meta::namespace(rs).to_string(),
        name: meta::name(rs).to_string(),
        object: updated,
        part: UpdatePart::Status,
    })
}

/// The causes of what one pass does for one ReplicaSet, by what the command changes.
struct Causes {
    /// Creating pods (too few), with their SuccessfulCreate events.
    shortfall: Vec<Cause>,
    /// Deleting pods (too many), with their SuccessfulDelete events.
    surplus: Vec<Cause>,
    status: Vec<Cause>,
}

/// A workload's (ReplicaSet's, Deployment's) `spec.selector`, parsed; `None` when it does not
/// parse.
pub(crate) fn selector_of(rs: &Value) -> Option<LabelSelector> {
    rs.at("/spec/selector")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .and_then(|s| LabelSelector::from_label_selector(&s).ok())
}

/// What made the ReplicaSet's count and status what they are: its spec, the pods it claims
/// (created, adopted, being deleted, finished, ready or not) and the pods that recently left
/// it (deleted or released), each at the event that last changed it.
fn causes_of(rs: &Value, pods: &[&Held], snapshot: &Snapshot) -> Causes {
    let uid = meta::uid(rs);
    let selector = selector_of(rs);
    let selected = |p: &Held| {
        selector
            .as_ref()
            .is_some_and(|s| p.pod().labels.selected_by(s))
    };
    let claimed: Vec<&Held> = pods
        .iter()
        .copied()
        .filter(|p| p.pod().controller_uid() == Some(uid))
        .filter(|p| selected(p))
        .collect();
    // Active pods it claims, counting the orphans this pass adopts.
    let adoptable = pods
        .iter()
        .filter(|p| p.pod().controller.is_none() && p.is_active())
        .filter(|p| selected(p))
        .count();
    let active = claimed.iter().filter(|p| p.is_active()).count() + adoptable;
    let desired = rs
        .at("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0);
    let desired = usize::try_from(desired).unwrap_or(usize::MAX);
    let rs_marks = snapshot.marks_of(ResourceKind::ReplicaSet, rs);
    let wants = Input::new(
        rs_marks.spec,
        format!(
            "ReplicaSet {} wants {}",
            meta::name(rs),
            plural(desired, "pod")
        ),
    );
    let mut shortfall = vec![wants.clone()];
    let mut surplus = vec![wants.clone()];
    let mut status = vec![Input::new(
        rs_marks.spec,
        format!("spec of ReplicaSet {}", meta::name(rs)),
    )];
    let mut newest_creation = 0;
    // Pods that stopped counting: being deleted, finished, deleted, released.
    let mut lost = Vec::new();
    for &pod in &claimed {
        let name = pod.name();
        let marks = snapshot.marks_held(ResourceKind::Pod, pod);
        let phase = pod.pod().phase.as_deref();
        newest_creation = newest_creation.max(marks.created);
        if let Some(deletion) = marks.deletion {
            lost.push(Input::new(deletion, format!("pod {name} is being deleted")));
            status.push(Input::new(deletion, format!("pod {name} is being deleted")));
        } else if pod.pod().is_terminal() {
            let phase = phase.unwrap_or("");
            lost.push(Input::new(marks.phase, format!("pod {name} {phase}")));
        }
        if marks.owners > marks.created {
            surplus.push(Input::new(marks.owners, format!("pod {name} adopted")));
        }
        status.push(Input::new(marks.created, format!("pod {name} created")));
        if let Some(ready) = pod.ready() {
            status.push(Input::new(marks.ready, format!("pod {name} Ready={ready}")));
        }
        if let Some(phase) = phase {
            status.push(Input::new(marks.phase, format!("pod {name} {phase}")));
        }
    }
    // Pods this pass releases (their labels stopped matching) or adopts (orphans that match):
    // the same pass creates or deletes for them, before either shows in the snapshot.
    for &pod in pods {
        let owner = pod.pod().controller_uid();
        let matches = selected(pod);
        let marks = snapshot.marks_held(ResourceKind::Pod, pod);
        let name = pod.name();
        if owner == Some(uid) && !matches && !pod.deleting() {
            let what = format!("labels of pod {name} no longer match");
            lost.push(Input::new(marks.labels, what.clone()));
            status.push(Input::new(marks.labels, what));
        } else if owner.is_none() && matches && pod.is_active() {
            let what = format!("pod {name} matches and has no controller");
            surplus.push(Input::new(marks.labels.max(marks.owners), what.clone()));
            status.push(Input::new(marks.labels.max(marks.owners), what));
        }
    }
    for gone in snapshot.gone_from(uid) {
        let (seq, what) = if gone.deleted {
            match gone.deletion_requested {
                Some(asked) => (asked, format!("pod {} deleted", gone.name)),
                None => (gone.seq, format!("pod {} deleted", gone.name)),
            }
        } else {
            (gone.seq, format!("pod {} released", gone.name))
        };
        status.push(Input::new(seq, what.clone()));
        lost.push(Input::new(seq, what));
    }
    // A loss that a later creation made up for is no cause of a shortfall now.
    shortfall.extend(lost.into_iter().filter(|l| l.seq > newest_creation));
    let ready = claimed
        .iter()
        .filter(|p| p.is_active() && p.pod().ready_since.is_some())
        .count();
    let short = format!("{active} of {}", plural(desired, "pod"));
    let over = format!(
        "{} where {desired} {} wanted",
        plural(active, "pod"),
        if desired == 1 { "is" } else { "are" }
    );
    Causes {
        shortfall: causes::newest_first(shortfall, &short),
        surplus: causes::newest_first(surplus, &over),
        status: causes::newest_first(status, &format!("{active} active, {ready} ready")),
    }
}

/// The causes of adopting or releasing `pod`: what made it match or stop matching the
/// selector (its labels, its creation, its owners) and the ReplicaSet's spec.
fn ownership_causes(rs: &Value, pod: &Held, snapshot: &Snapshot, adopt: bool) -> Vec<Cause> {
    let name = pod.name();
    let marks = snapshot.marks_held(ResourceKind::Pod, pod);
    let rs_spec = snapshot.marks_of(ResourceKind::ReplicaSet, rs).spec;
    let selector = selector_of(rs).map(|s| s.to_string()).unwrap_or_default();
    let outcome = if adopt {
        format!("matches selector {selector} and has no controller")
    } else {
        format!("no longer matches selector {selector}")
    };
    causes::newest_first(
        vec![
            Input::new(marks.labels, format!("labels of pod {name}")),
            Input::new(marks.created, format!("pod {name} created")),
            Input::new(marks.owners, format!("owners of pod {name}")),
            Input::new(
                rs_spec,
                format!("selector of ReplicaSet {}", meta::name(rs)),
            ),
        ],
        &outcome,
    )
}

/// One pass over every ReplicaSet, each command with its causes (`causes_of`). Each
/// ReplicaSet's pod creations form a slow-start group of their own.
fn reconcile_all(snapshot: &Snapshot, reporter: &Reporter, now: jiff::Timestamp) -> Pass {
    let mut pods_by_namespace: HashMap<&str, Vec<&Held>> = HashMap::new();
    for pod in snapshot.pods() {
        pods_by_namespace
            .entry(pod.namespace())
            .or_default()
            .push(pod);
    }
    let mut pass = Pass::default();
    for rs in snapshot.list(ResourceKind::ReplicaSet) {
        let pods = pods_by_namespace
            .get(meta::namespace(rs))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let rs_name = meta::name(rs).to_string();
        let new_name = || format!("{rs_name}-{}", crate::events::random_name_suffix());
        let commands = reconcile(rs, pods, reporter, now, new_name);
        if commands.is_empty() {
            continue;
        }
        let why = causes_of(rs, pods, snapshot);
        let mut creations = Vec::new();
        // A report takes the causes of the decision it reports, the one before it.
        let mut last = Vec::new();
        for command in commands {
            let because = match &command {
                Command::Create {
                    kind: ResourceKind::Pod,
                    ..
                } => why.shortfall.clone(),
                Command::Delete { .. } => why.surplus.clone(),
                Command::Update {
                    part: UpdatePart::Status,
                    ..
                } => why.status.clone(),
                Command::Update {
                    kind: ResourceKind::Pod,
                    object,
                    name,
                    ..
                } => {
                    let adopt = controller_of(object).is_some();
                    match pods.iter().find(|p| p.name() == name) {
                        Some(pod) => ownership_causes(rs, pod, snapshot, adopt),
                        None => why.status.clone(),
                    }
                }
                _ => last.clone(),
            };
            last = because.clone();
            match command {
                Command::Create {
                    kind: ResourceKind::Pod,
                    ..
                } => creations.push((command, because)),
                other => pass.commands.push((other, because)),
            }
        }
        if !creations.is_empty() {
            pass.slow_start.push(SlowStart {
                key: meta::uid(rs).to_string(),
                commands: creations,
            });
        }
    }
    pass
}

/// The ReplicaSet controller: every change wakes it, and a tick every 2 s. Its reporter's rate
/// limits last as long as it does.
pub struct ReplicaSetController {
    reporter: Reporter,
}

impl ReplicaSetController {
    pub fn new() -> Self {
        ReplicaSetController {
            reporter: Reporter::new(actors::REPLICASET_CONTROLLER, ""),
        }
    }
}

impl Default for ReplicaSetController {
    fn default() -> Self {
        Self::new()
    }
}

impl Controller for ReplicaSetController {
    fn actor(&self) -> &'static str {
        actors::REPLICASET_CONTROLLER
    }

    fn wake(&self) -> Wake {
        Wake {
            tick: Duration::from_secs(2),
            interest: super::any_change_but_leases,
        }
    }

    fn reconcile(&self, snapshot: &Snapshot, _stored: &Stored, now: jiff::Timestamp) -> Pass {
        reconcile_all(snapshot, &self.reporter, now)
    }
}

#[cfg(test)]
mod tests {
    //! given (ReplicaSet + pods) / when reconcile / then commands.
    use super::*;

    const NOW: &str = "2026-01-01T00:10:00Z";

    fn rs(replicas: i64) -> Value {
        json!({"metadata": {"name": "echo-rs", "namespace": "default", "uid": "rs-uid", "generation": 2, "resourceVersion": "10"},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "echo"}},
                        "template": {"metadata": {"labels": {"app": "echo"}},
                                     "spec": {"containers": [{"name": "echo", "image": "echo:v1"}]}}}})
    }

    fn owned(name: &str, created: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "labels": {"app": "echo"}, "creationTimestamp": created,
                            "ownerReferences": [{"uid": "rs-uid", "controller": true, "kind": "ReplicaSet", "name": "echo-rs"}]},
               "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    }

    fn when(rs: &Value, pods: &[Value]) -> Vec<Command> {
        let held: Vec<Held> = pods
            .iter()
            .map(|p| Held::new(ResourceKind::Pod, Arc::new(p.clone()), None))
            .collect();
        let refs: Vec<&Held> = held.iter().collect();
        let mut n = 0;
        reconcile(
            rs,
            &refs,
            &Reporter::new(actors::REPLICASET_CONTROLLER, ""),
            NOW.parse().unwrap(),
            || {
                n += 1;
                format!("echo-rs-{n}")
            },
        )
    }

    fn summary(commands: &[Command]) -> Vec<String> {
        commands
            .iter()
            .map(|c| match c {
                Command::Create {
                    kind: ResourceKind::Pod,
                    object,
                    ..
                } => format!("create {}", meta::name(object)),
                Command::Create { object, .. } => {
                    format!("event {}", object["message"].as_str().unwrap_or(""))
                }
                Command::Delete { name, .. } => format!("delete {name}"),
                Command::Update {
                    kind: ResourceKind::Pod,
                    object,
                    ..
                } => {
                    let owned = controller_of(object).is_some();
                    format!(
                        "{} {}",
                        if owned { "adopt" } else { "release" },
                        meta::name(object)
                    )
                }
                Command::Update { object, .. } => {
                    format!("status {}", object["status"]["replicas"])
                }
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn one_pass_creates_or_deletes_at_most_a_burst_of_pods() {
        let creates = |commands: &[Command]| {
            commands
                .iter()
                .filter(|c| {
                    matches!(
                        c,
                        Command::Create {
                            kind: ResourceKind::Pod,
                            ..
                        }
                    )
                })
                .count()
        };
        assert_eq!(
            creates(&when(&rs(i64::from(i32::MAX)), &[])),
            BURST_REPLICAS
        );
        assert_eq!(creates(&when(&rs(i64::MAX), &[])), BURST_REPLICAS);
        let pods: Vec<Value> = (0..BURST_REPLICAS + 20)
            .map(|i| owned(&format!("p{i}"), "2026-01-01T00:00:00Z"))
            .collect();
        let deletes = when(&rs(0), &pods)
            .iter()
            .filter(|c| matches!(c, Command::Delete { .. }))
            .count();
        assert_eq!(deletes, BURST_REPLICAS);
    }

    #[test]
    fn creates_missing_pods_from_the_template() {
        let commands = when(&rs(2), &[]);
        assert_eq!(
            summary(&commands),
            [
                "create echo-rs-1",
                "event Created pod: echo-rs-1",
                "create echo-rs-2",
                "event Created pod: echo-rs-2",
                "status 0"
            ]
        );
        let Command::Create { object, .. } = &commands[0] else {
            panic!()
        };
        assert_eq!(object["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(object["metadata"]["labels"]["app"], "echo");
        assert_eq!(object["spec"]["containers"][0]["image"], "echo:v1");
    }

    #[test]
    fn deletes_surplus_preferring_unscheduled_then_not_ready_then_newest() {
        let mut ready_old = owned("ready-old", "2026-01-01T00:00:00Z");
        ready_old["status"]["conditions"] = json!([{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:01:00Z"}]);
        let mut ready_new = owned("ready-new", "2026-01-01T00:05:00Z");
        ready_new["status"]["conditions"] = ready_old["status"]["conditions"].clone();
        let not_ready = owned("not-ready", "2026-01-01T00:00:00Z");
        let mut unscheduled = owned("unscheduled", "2026-01-01T00:00:00Z");
        unscheduled["spec"] = json!({});
        unscheduled["status"]["phase"] = json!("Pending");
        let pods = [ready_old, ready_new, not_ready, unscheduled];
        let deleted: Vec<String> = summary(&when(&rs(1), &pods))
            .into_iter()
            .filter(|s| s.starts_with("delete"))
            .collect();
        assert_eq!(
            deleted,
            ["delete unscheduled", "delete not-ready", "delete ready-new"]
        );
    }

    #[test]
    fn adopts_matching_orphans_and_releases_relabelled_pods() {
        let orphan = json!({"metadata": {"name": "orphan", "namespace": "default", "labels": {"app": "echo"}}, "status": {"phase": "Running"}});
        let mut relabelled = owned("relabelled", "2026-01-01T00:00:00Z");
        relabelled["metadata"]["labels"] = json!({"app": "other"});
        let other_owner = json!({"metadata": {"name": "theirs", "namespace": "default", "labels": {"app": "echo"},
                                 "ownerReferences": [{"uid": "x", "controller": true}]}});
        let s = summary(&when(&rs(1), &[orphan, relabelled, other_owner]));
        assert!(s.contains(&"adopt orphan".to_string()), "{s:?}");
        assert!(s.contains(&"release relabelled".to_string()), "{s:?}");
        assert!(
            !s.iter().any(|c| c.starts_with("create")),
            "the adopted orphan counts: {s:?}"
        );
    }

    #[test]
    fn converged_set_only_reports_status_once() {
        let pods = [
            owned("a", "2026-01-01T00:00:00Z"),
            owned("b", "2026-01-01T00:00:00Z"),
        ];
        let mut current = rs(2);
        assert_eq!(summary(&when(&current, &pods)), ["status 2"]);
        current["status"] =
            json!({"replicas": 2, "fullyLabeledReplicas": 2, "observedGeneration": 2});
        assert!(when(&current, &pods).is_empty());
    }

    #[test]
    fn terminating_pods_do_not_count_and_a_deleted_set_does_nothing() {
        let mut going = owned("going", "2026-01-01T00:00:00Z");
        going["metadata"]["deletionTimestamp"] = json!(NOW);
        let s = summary(&when(&rs(1), &[going]));
        assert_eq!(s[0], "create echo-rs-1");
        let mut deleted = rs(1);
        deleted["metadata"]["deletionTimestamp"] = json!(NOW);
        assert!(when(&deleted, &[]).is_empty());
    }
}
