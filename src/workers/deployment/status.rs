//! A Deployment's status as one pass leaves it: the counts from its ReplicaSets' pods (not
//! their possibly stale status), `Available` (at least replicas - maxUnavailable available)
//! and `Progressing` as Kubernetes' `syncRolloutStatus` sets it: NewReplicaSetCreated,
//! ReplicaSetUpdated while counts move, NewReplicaSetAvailable when complete,
//! ProgressDeadlineExceeded when `progressDeadlineSeconds` pass without progress, and
//! DeploymentPaused/DeploymentResumed.

use super::{Rollout, Spec, Step, update};
use crate::events::{Command, UpdatePart};
use crate::model::{ResourceKind, meta};
use serde_json::{Value, json};

impl Rollout<'_> {
    /// The counts the status reports, from the pods themselves.
    pub(super) fn counts(&self) -> Counts {
        let total_spec: i64 = self.all.iter().map(|o| o.counted.replicas).sum();
        let available: i64 = self.all.iter().map(|o| o.counted.available).sum();
        Counts {
            replicas: self.all.iter().map(|o| o.counted.active).sum(),
            updated: self.new.map_or(0, |o| o.counted.active),
            ready: self.all.iter().map(|o| o.ready).sum(),
            available,
            unavailable: (total_spec - available).max(0),
            observed_generation: self.spec.generation,
        }
    }

    /// The status this pass leaves, as an update when it differs from the current one.
    pub(super) fn status_update(&self, step: &Step) -> Option<Command> {
        let current = self.d.get("status").cloned().unwrap_or(json!({}));
        let before = Counts::from_status(&current);
        let counts = self.counts();
        let mut conditions: Vec<Value> = current
            .get("conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let now = meta::format_time(self.now);
        let set = |conditions: &mut Vec<Value>,
                   kind: &str,
                   status: &str,
                   reason: &str,
                   message: String,
                   always: bool| {
            let existing = conditions.iter().position(|c| c["type"] == kind);
            let mut since = now.clone();
            if let Some(i) = existing {
                let old = &conditions[i];
                if !always && old["status"] == status && old["reason"] == reason {
                    return;
                }
                if old["status"] == status {
                    since = old["lastTransitionTime"]
                        .as_str()
                        .unwrap_or(&now)
                        .to_string();
                }
                conditions.remove(i);
            }
            conditions.push(json!({
                "type": kind, "status": status, "lastUpdateTime": now,
                "lastTransitionTime": since, "reason": reason, "message": message,
            }));
        };
        if counts.available >= self.spec.replicas - self.spec.max_unavailable() {
            set(
                &mut conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
                false,
            );
        } else {
            set(
                &mut conditions,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
                false,
            );
        }
        let progressing_reason = |conditions: &[Value]| {
            conditions
                .iter()
                .find(|c| c["type"] == "Progressing")
                .and_then(|c| c["reason"].as_str())
                .map(str::to_string)
        };
        if self.spec.deadline.is_some() {
            let subject = match self.new {
                Some(new) => format!("ReplicaSet {:?}", new.counted.name),
                None => format!("Deployment {:?}", self.spec.name),
            };
            if self.spec.paused {
                if progressing_reason(&conditions).as_deref() != Some("DeploymentPaused") {
                    set(
                        &mut conditions,
                        "Progressing",
                        "Unknown",
                        "DeploymentPaused",
                        "Deployment is paused".into(),
                        false,
                    );
                }
            } else {
                if progressing_reason(&conditions).as_deref() == Some("DeploymentPaused") {
                    set(
                        &mut conditions,
                        "Progressing",
                        "Unknown",
                        "DeploymentResumed",
                        "Deployment is resumed".into(),
                        false,
                    );
                }
                if let Step::Created(name) = step {
                    set(
                        &mut conditions,
                        "Progressing",
                        "True",
                        "NewReplicaSetCreated",
                        format!("Created new replica set {name:?}"),
                        false,
                    );
                } else if !matches!(step, Step::Scaled) {
                    let reason = progressing_reason(&conditions);
                    let finished = counts.replicas == counts.updated
                        && reason.as_deref() == Some("NewReplicaSetAvailable");
                    if !finished {
                        if is_complete(self.spec, &counts) {
                            set(
                                &mut conditions,
                                "Progressing",
                                "True",
                                "NewReplicaSetAvailable",
                                format!("{subject} has successfully progressed."),
                                false,
                            );
                        } else if counts.progressed_since(&before) {
                            set(
                                &mut conditions,
                                "Progressing",
                                "True",
                                "ReplicaSetUpdated",
                                format!("{subject} is progressing."),
                                true,
                            );
                        } else if self.timed_out(&conditions) {
                            set(
                                &mut conditions,
                                "Progressing",
                                "False",
                                "ProgressDeadlineExceeded",
                                format!("{subject} has timed out progressing."),
                                false,
                            );
                        }
                    }
                }
            }
        } else {
            conditions.retain(|c| c["type"] != "Progressing");
        }
        let mut status = counts.to_status();
        if let Some(count) = current.get("collisionCount") {
            status["collisionCount"] = count.clone();
        }
        if !conditions.is_empty() {
            status["conditions"] = Value::Array(conditions);
        }
        if status == current {
            return None;
        }
        let mut d = self.d.clone();
        d["status"] = status;
        Some(update(ResourceKind::Deployment, d, UpdatePart::Status))
    }

    /// Whether the Progressing condition has gone `progressDeadlineSeconds` without progress.
    fn timed_out(&self, conditions: &[Value]) -> bool {
        let Some(deadline) = self.spec.deadline else {
            return false;
        };
        let Some(progressing) = conditions.iter().find(|c| c["type"] == "Progressing") else {
            return false;
        };
        match progressing["reason"].as_str() {
            Some("NewReplicaSetAvailable") => false,
            Some("ProgressDeadlineExceeded") => true,
            _ => progressing["lastUpdateTime"]
                .as_str()
                .and_then(meta::parse_time)
                .is_some_and(|from| meta::after_seconds(from, deadline) < self.now),
        }
    }
}

/// The counts of a Deployment's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Counts {
    replicas: i64,
    updated: i64,
    ready: i64,
    available: i64,
    unavailable: i64,
    observed_generation: i64,
}

impl Counts {
    pub(super) fn from_status(status: &Value) -> Counts {
        let n = |k: &str| status.get(k).and_then(Value::as_i64).unwrap_or(0);
        Counts {
            replicas: n("replicas"),
            updated: n("updatedReplicas"),
            ready: n("readyReplicas"),
            available: n("availableReplicas"),
            unavailable: n("unavailableReplicas"),
            observed_generation: n("observedGeneration"),
        }
    }

    /// As Kubernetes writes them: zero counts left out.
    fn to_status(&self) -> Value {
        let mut status = json!({"observedGeneration": self.observed_generation});
        for (key, value) in [
            ("replicas", self.replicas),
            ("updatedReplicas", self.updated),
            ("readyReplicas", self.ready),
            ("availableReplicas", self.available),
            ("unavailableReplicas", self.unavailable),
        ] {
            if value != 0 {
                status[key] = json!(value);
            }
        }
        status
    }

    /// `DeploymentProgressing`: more updated, ready or available pods, or fewer old ones.
    fn progressed_since(&self, before: &Counts) -> bool {
        self.updated > before.updated
            || self.replicas - self.updated < before.replicas - before.updated
            || self.ready > before.ready
            || self.available > before.available
    }
}

/// `DeploymentComplete`: every pod updated and available, no old ones, the spec observed.
pub(super) fn is_complete(spec: &Spec, counts: &Counts) -> bool {
    counts.updated == spec.replicas
        && counts.replicas == spec.replicas
        && counts.available == spec.replicas
        && counts.observed_generation >= spec.generation
}
