//! A Deployment's rollouts step by step, from the log: each change of its spec, then each
//! ReplicaSet it created or resized (which revision, which ReplicaSet, from how many pods to
//! how many) with what made the controller take that step, the primary cause it recorded.
//! `history deploy/NAME` prints these after the Deployment's own events.

use super::HistoryError;
use super::query::{self, LogEntry};
use crate::model::ResourceKind;
use crate::model::meta::{self, Lookup as _};
use crate::store::{Cause, LogFilter, Readers};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The most ReplicaSet events read for one Deployment's rollouts.
const MOST_READ: usize = 200_000;

/// One step of a rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub seq: i64,
    pub time: String,
    pub actor: String,
    /// The ReplicaSet and its revision, or `None` for a change of the Deployment's spec.
    pub replica_set: Option<(String, String)>,
    /// `4 -> 3`, `created with 3`, or for the Deployment what changed.
    pub what: String,
    /// The recorded primary cause, in words.
    pub why: String,
}

fn replicas(object: &Value) -> i64 {
    object
        .at("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn primary_reason(entry: &LogEntry) -> String {
    entry
        .causes
        .as_deref()
        .and_then(Cause::parse_list)
        .and_then(|list| list.into_iter().next())
        .map(|c| c.reason)
        .unwrap_or_default()
}

/// The steps of the rollouts of the Deployment whose events are `deployment` (oldest first).
pub fn steps(deployment: &[LogEntry], replica_sets: &[LogEntry]) -> Vec<Step> {
    let uids: HashSet<&str> = deployment.iter().map(|e| e.uid.as_str()).collect();
    let mut steps = Vec::new();
    let mut generation: HashMap<&str, i64> = HashMap::new();
    for entry in deployment {
        let Ok(object) = entry.object_value() else {
            continue;
        };
        let now = object
            .at("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let before = generation.insert(entry.uid.as_str(), now);
        if before.is_some_and(|b| b != now) {
            let image: Vec<String> = object
                .at("/spec/template/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{}={}",
                        c["name"].as_str().unwrap_or(""),
                        c["image"].as_str().unwrap_or("")
                    )
                })
                .collect();
            steps.push(Step {
                seq: entry.seq,
                time: entry.time.clone(),
                actor: entry.actor.clone(),
                replica_set: None,
                what: format!(
                    "spec changed (generation {now}, replicas {}, {}{})",
                    replicas(&object),
                    image.join(", "),
                    if object.at("/spec/paused") == Some(&Value::Bool(true)) {
                        ", paused"
                    } else {
                        ""
                    }
                ),
                why: entry.via().unwrap_or_default(),
            });
        }
    }
    let mut sizes: HashMap<String, i64> = HashMap::new();
    for entry in replica_sets {
        let Ok(object) = entry.object_value() else {
            continue;
        };
        let owned = object
            .at("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|r| {
                r["controller"] == true && r["uid"].as_str().is_some_and(|u| uids.contains(u))
            });
        if !owned && !sizes.contains_key(&entry.uid) {
            continue;
        }
        let size = replicas(&object);
        let what = match (entry.event_type.as_str(), sizes.get(&entry.uid)) {
            ("Deleted", _) => "deleted".to_string(),
            (_, None) => format!("created with {size}"),
            (_, Some(before)) if *before != size => format!("{before} -> {size}"),
            _ => continue,
        };
        sizes.insert(entry.uid.clone(), size);
        let revision = object
            .at("/metadata/annotations")
            .and_then(|a| a.get("deployment.kubernetes.io/revision"))
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string();
        steps.push(Step {
            seq: entry.seq,
            time: entry.time.clone(),
            actor: entry.actor.clone(),
            replica_set: Some((meta::name(&object).to_string(), revision)),
            what,
            why: primary_reason(entry),
        });
    }
    steps.sort_by_key(|s| s.seq);
    steps
}

/// Read the log and return the steps of the Deployment `namespace`/`name`'s rollouts; the
/// second value says whether the ReplicaSet events read were cut at `MOST_READ`.
pub async fn rollout_of(
    pool: &Readers,
    namespace: &str,
    deployment: &[LogEntry],
) -> Result<(Vec<Step>, bool), HistoryError> {
    let Some(first) = deployment.first() else {
        return Ok((Vec::new(), false));
    };
    let filter = LogFilter {
        kind: Some(ResourceKind::ReplicaSet.as_str().to_string()),
        namespace: Some(namespace.to_string()),
        from_seq: Some(first.seq),
        ..Default::default()
    };
    let mut read = Vec::new();
    let mut cursor = first.seq - 1;
    loop {
        let page = query::entries(pool, &filter, cursor, 5000).await?;
        let Some(last) = page.last() else { break };
        cursor = last.seq;
        read.extend(page);
        if read.len() >= MOST_READ {
            return Ok((steps(deployment, &read), true));
        }
    }
    Ok((steps(deployment, &read), false))
}

/// The steps as rows for people.
pub fn render(steps: &[Step], cut: bool) -> Vec<String> {
    let mut lines = vec![
        String::new(),
        "Rollout".to_string(),
        format!(
            "{:<7} {:<25} {:<9} {:<28} {:<14} {:<22} WHY",
            "RV", "TIME", "REVISION", "REPLICASET", "REPLICAS", "ACTOR"
        ),
    ];
    for step in steps {
        let time = step
            .time
            .get(..23)
            .map(|t| format!("{t}Z"))
            .unwrap_or_else(|| step.time.clone());
        let (rs, revision) = match &step.replica_set {
            Some((name, revision)) => (name.as_str(), revision.as_str()),
            None => ("-", "-"),
        };
        let (replicas, why) = match step.replica_set {
            Some(_) => (step.what.clone(), step.why.clone()),
            None => ("-".to_string(), format!("{} ({})", step.what, step.why)),
        };
        lines.push(format!(
            "{:<7} {:<25} {:<9} {:<28} {:<14} {:<22} {}",
            step.seq, time, revision, rs, replicas, step.actor, why
        ));
    }
    if cut {
        lines.push(format!(
            "(only the first {MOST_READ} ReplicaSet events of the namespace were read)"
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventRow;
    use serde_json::json;

    fn entry(
        seq: i64,
        kind: &str,
        uid: &str,
        event_type: &str,
        actor: &str,
        object: Value,
    ) -> LogEntry {
        let mut row = EventRow::example(
            seq,
            kind,
            object["metadata"]["name"].as_str().unwrap_or(""),
            event_type,
            actor,
        );
        row.uid = uid.to_string();
        row.object = object.to_string();
        row
    }

    #[test]
    fn a_rollout_reads_as_its_steps() {
        let d = |generation: i64, image: &str| {
            json!({"metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
        };
        let rs = |name: &str, replicas: i64, revision: &str| {
            json!({"metadata": {"name": name,
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "ownerReferences": [{"uid": "d", "controller": true}]}, "spec": {"replicas": replicas}})
        };
        let deployment = vec![
            entry(1, "Deployment", "d", "Created", "alice", d(1, "v1")),
            entry(5, "Deployment", "d", "Updated", "alice", d(2, "v2")),
        ];
        let mut scaled = entry(
            7,
            "ReplicaSet",
            "b",
            "Updated",
            "deployment-controller",
            rs("web-b", 1, "2"),
        );
        scaled.causes = Some(Cause::list_json(&[Cause::new(
            5,
            "template of Deployment web: revision 2",
        )]));
        let sets = vec![
            entry(
                2,
                "ReplicaSet",
                "a",
                "Created",
                "deployment-controller",
                rs("web-a", 2, "1"),
            ),
            entry(
                3,
                "ReplicaSet",
                "a",
                "StatusUpdated",
                "replicaset-controller",
                rs("web-a", 2, "1"),
            ),
            entry(
                6,
                "ReplicaSet",
                "b",
                "Created",
                "deployment-controller",
                rs("web-b", 0, "2"),
            ),
            scaled,
            entry(
                8,
                "ReplicaSet",
                "a",
                "Updated",
                "deployment-controller",
                rs("web-a", 1, "1"),
            ),
            entry(
                9,
                "ReplicaSet",
                "x",
                "Created",
                "someone",
                json!({"metadata": {"name": "other"}}),
            ),
        ];
        let steps = steps(&deployment, &sets);
        let summary: Vec<(i64, String)> = steps.iter().map(|s| (s.seq, s.what.clone())).collect();
        assert_eq!(
            summary,
            [
                (2, "created with 2".to_string()),
                (
                    5,
                    "spec changed (generation 2, replicas 2, app=v2)".to_string()
                ),
                (6, "created with 0".to_string()),
                (7, "0 -> 1".to_string()),
                (8, "2 -> 1".to_string()),
            ]
        );
        assert_eq!(steps[3].why, "template of Deployment web: revision 2");
        assert_eq!(
            steps[3].replica_set,
            Some(("web-b".to_string(), "2".to_string()))
        );
        let lines = render(&steps, false);
        assert!(lines[2].starts_with("RV"), "{lines:?}");
        assert_eq!(lines.len(), 3 + steps.len());
    }
}
