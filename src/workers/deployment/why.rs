//! The causes a pass names for each step it takes for one Deployment: the inputs the step read
//! (the Deployment's spec, its ReplicaSets' sizes, their pods' readiness and departures), the
//! newest first with what about it mattered, so `why` and `history deploy/NAME` can tell a
//! rollout step by step.

use super::revision::{self, revision_of};
use super::{PodsByOwner, Spec, Step};
use crate::model::meta::Lookup as _;
use crate::model::{ResourceKind, meta};
use crate::workers::Cause;
use crate::workers::cache::Snapshot;
use crate::workers::causes::{self, Input, plural};
use crate::workers::pods::controller_of;
use serde_json::{Value, json};

/// The causes of what one pass did for one Deployment (`Step`), from the inputs that step
/// read: the Deployment's spec, its ReplicaSets' sizes, their pods' readiness and departures.
pub(super) fn causes_of(
    d: &Value,
    step: &Step,
    replica_sets: &[&Value],
    pods: &PodsByOwner<'_>,
    snapshot: &Snapshot,
) -> Vec<Cause> {
    let spec = Spec::of(d);
    let d_spec = snapshot.marks_of(ResourceKind::Deployment, d).spec;
    let name = &spec.name;
    let uid = meta::uid(d);
    let owned: Vec<&&Value> = replica_sets
        .iter()
        .filter(|rs| controller_of(rs).is_some_and(|o| o["uid"] == uid))
        .collect();
    let template = d.at("/spec/template").cloned().unwrap_or(json!({}));
    let is_new = |rs: &Value| {
        rs.at("/spec/template")
            .is_some_and(|t| revision::same_template(t, &template))
    };
    let wants = Input::new(
        d_spec,
        format!("Deployment {name} wants {}", plural(spec.replicas, "pod")),
    );
    let sizes = |inputs: &mut Vec<Input>, old_only: bool| {
        for rs in owned.iter().filter(|rs| !old_only || !is_new(rs)) {
            let marks = snapshot.marks_of(ResourceKind::ReplicaSet, rs);
            let size = rs.at("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            inputs.push(Input::new(
                marks.spec,
                format!("ReplicaSet {} sized {size}", meta::name(rs)),
            ));
            for gone in snapshot.gone_from(meta::uid(rs)) {
                if gone.deleted {
                    inputs.push(Input::new(
                        gone.deletion_requested.unwrap_or(gone.seq),
                        format!("pod {} of ReplicaSet {} deleted", gone.name, meta::name(rs)),
                    ));
                }
            }
        }
    };
    let readiness = |inputs: &mut Vec<Input>, new_only: bool| {
        for rs in owned.iter().filter(|rs| !new_only || is_new(rs)) {
            for &pod in pods.get(meta::uid(rs)).into_iter().flatten() {
                let marks = snapshot.marks_held(ResourceKind::Pod, pod);
                if let Some(ready) = pod.ready() {
                    inputs.push(Input::new(
                        marks.ready,
                        format!("pod {} Ready={ready}", pod.name()),
                    ));
                }
                inputs.push(Input::new(
                    marks.created,
                    format!("pod {} created", pod.name()),
                ));
            }
        }
    };
    let (mut inputs, outcome) = match step {
        Step::Ownership => {
            let mut inputs = vec![Input::new(d_spec, format!("selector of Deployment {name}"))];
            for rs in replica_sets {
                let marks = snapshot.marks_of(ResourceKind::ReplicaSet, rs);
                inputs.push(Input::new(
                    marks.labels.max(marks.owners),
                    format!("labels of ReplicaSet {}", meta::name(rs)),
                ));
            }
            (inputs, String::new())
        }
        Step::Revision => {
            let mut inputs = vec![Input::new(d_spec, format!("template of Deployment {name}"))];
            for rs in owned.iter().filter(|rs| is_new(rs)) {
                let marks = snapshot.marks_of(ResourceKind::ReplicaSet, rs);
                inputs.push(Input::new(
                    marks.created,
                    format!("ReplicaSet {} has the template", meta::name(rs)),
                ));
            }
            let current = owned.iter().map(|rs| revision_of(rs)).max().unwrap_or(0);
            (inputs, format!("revision {current}"))
        }
        Step::Created(rs) => {
            let revision = owned
                .iter()
                .filter(|rs| !is_new(rs))
                .map(|rs| revision_of(rs))
                .max()
                .unwrap_or(0)
                + 1;
            (
                vec![Input::new(d_spec, format!("template of Deployment {name}"))],
                format!("revision {revision} in new ReplicaSet {rs}"),
            )
        }
        Step::Collision => (
            vec![Input::new(d_spec, format!("template of Deployment {name}"))],
            "its ReplicaSet name is taken".to_string(),
        ),
        Step::Scaled => {
            let what = if spec.paused {
                format!("Deployment {name} is paused: scaling only")
            } else {
                format!("Deployment {name} wants {}", plural(spec.replicas, "pod"))
            };
            (vec![Input::new(d_spec, what)], String::new())
        }
        Step::ScaledUp => {
            let mut inputs = vec![wants.clone()];
            sizes(&mut inputs, true);
            (
                inputs,
                format!(
                    "room within {} (replicas + maxSurge)",
                    plural(spec.replicas + spec.surge, "pod")
                ),
            )
        }
        Step::ScaledDown => {
            let mut inputs = vec![wants.clone()];
            readiness(&mut inputs, true);
            sizes(&mut inputs, false);
            (
                inputs,
                format!(
                    "at least {} must stay available (replicas - maxUnavailable)",
                    spec.replicas - spec.unavailable
                ),
            )
        }
        Step::Cleaned => {
            let mut inputs = vec![Input::new(
                d_spec,
                format!(
                    "Deployment {name} keeps {} old ReplicaSets",
                    spec.history_limit.unwrap_or(0)
                ),
            )];
            sizes(&mut inputs, true);
            (inputs, String::new())
        }
        Step::Status => {
            let mut inputs = vec![wants.clone()];
            readiness(&mut inputs, false);
            sizes(&mut inputs, false);
            (inputs, String::new())
        }
    };
    // A rollout step follows from what happened since the rollout began (the Deployment's
    // last spec change): older ReplicaSet sizes and pod departures belong to earlier rollouts.
    if matches!(step, Step::ScaledUp | Step::ScaledDown | Step::Status) {
        inputs.retain(|i| i.seq >= d_spec);
    }
    causes::newest_first(std::mem::take(&mut inputs), &outcome)
}
