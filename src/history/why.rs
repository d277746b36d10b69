//! Why an event happened: the chain of `caused_by` links from an event back to a request no
//! worker made (a person's, or the server's own bootstrap). Pure: the caller fetches the links
//! (each an entry and the version before it); this module folds runs of a worker's own status
//! updates into one step, describes each step and names the origin.

use super::query::LogEntry;
use crate::api::actors::is_controller;
use crate::model::diff::{self, Change};
use crate::store::Cause;
use serde_json::{Value, json};

/// One event of the chain and what it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub entry: LogEntry,
    pub changes: Vec<Change>,
    /// Every cause the event recorded, the primary (the next link) first, each with the event
    /// it names when the log has it (without its object).
    pub causes: Vec<(Cause, Option<LogEntry>)>,
}

impl Link {
    /// A link from an entry and the object's version before it (`None`: none, a creation).
    pub fn new(entry: LogEntry, before: Option<&Value>) -> Link {
        let after: Value = serde_json::from_str(&entry.object).unwrap_or(Value::Null);
        let changes = match (entry.event_type.as_str(), before) {
            ("Deleted", _) => vec![],
            (_, Some(before)) => diff::diff(before, &after),
            (_, None) => vec![],
        };
        let causes = entry
            .causes
            .as_deref()
            .and_then(Cause::parse_list)
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c, None))
            .collect();
        Link {
            entry,
            changes,
            causes,
        }
    }

    /// What about the event's primary cause mattered, when it was recorded.
    pub fn reason(&self) -> Option<&str> {
        self.causes
            .first()
            .filter(|(c, _)| Some(c.seq) == self.entry.caused_by)
            .map(|(c, _)| c.reason.as_str())
    }

    /// The causes besides the primary one.
    pub fn others(&self) -> &[(Cause, Option<LogEntry>)] {
        match self.causes.first() {
            Some((c, _)) if Some(c.seq) == self.entry.caused_by => &self.causes[1..],
            _ => &self.causes,
        }
    }
}

/// One step of the explanation: a link, or a run of status updates of one object by one
/// worker (each caused by the one before it) shown as one.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub link: Link,
    /// Further links folded into this one (oldest last), all status updates by the same actor
    /// of the same object.
    pub folded: Vec<i64>,
    /// The cause the oldest of the step's links names (`caused_by`).
    pub caused_by: Option<i64>,
}

/// Fold each run of consecutive `StatusUpdated` links of the same object by the same worker.
pub fn collapse(links: Vec<Link>) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for link in links {
        if let Some(last) = steps.last_mut() {
            let a = &last.link.entry;
            let b = &link.entry;
            if a.event_type == "StatusUpdated"
                && b.event_type == "StatusUpdated"
                && a.actor == b.actor
                && is_controller(&b.actor)
                && (a.kind.as_str(), a.namespace.as_str(), a.name.as_str())
                    == (b.kind.as_str(), b.namespace.as_str(), b.name.as_str())
            {
                last.folded.push(b.seq);
                last.caused_by = b.caused_by;
                continue;
            }
        }
        steps.push(Step {
            caused_by: link.entry.caused_by,
            link,
            folded: vec![],
        });
    }
    steps
}

/// `Scaled by kubetrail-admin (kubectl-scale, kubectl/v1.32.4)`.
fn who(entry: &LogEntry) -> String {
    let mut text = format!("{} by {}", entry.event_type, entry.actor);
    let mut how: Vec<String> = Vec::new();
    if let Some(m) = entry.field_manager.as_deref().filter(|m| !m.is_empty()) {
        how.push(m.to_string());
    }
    if let Some(program) = entry
        .user_agent
        .as_deref()
        .and_then(|ua| ua.split_whitespace().next())
    {
        how.push(program.to_string());
    }
    if !how.is_empty() {
        text.push_str(&format!(" ({})", how.join(", ")));
    }
    text
}

/// The first few changes, `spec.replicas: 1 -> 3; ...`.
fn gist(changes: &[Change]) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = changes
        .iter()
        .take(SHOWN)
        .map(|c| c.line()[2..].to_string())
        .collect();
    if changes.len() > SHOWN {
        parts.push(format!("... {} more", changes.len() - SHOWN));
    }
    parts.join("; ")
}

/// The explanation as text lines, the event asked about first: each cause on the line after
/// its effect, then what about it mattered, then the other causes the effect recorded.
pub fn render(steps: &[Step]) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let entry = &step.link.entry;
        let lead = if i == 0 { "" } else { "<- because " };
        let mut line = format!(
            "{lead}{} at resourceVersion {}: {}",
            entry.subject(),
            entry.seq,
            who(entry)
        );
        if !step.folded.is_empty() {
            let oldest = step.folded.last().copied().unwrap_or(entry.seq);
            line.push_str(&format!(
                " (and {} earlier status updates by it, resourceVersions {oldest}..{})",
                step.folded.len(),
                step.folded.first().copied().unwrap_or(entry.seq)
            ));
        }
        let changed = gist(&step.link.changes);
        if !changed.is_empty() {
            line.push_str(&format!(": {changed}"));
        }
        lines.push(format!("{}{line}", "  ".repeat(i.min(1))));
        if let Some(reason) = i
            .checked_sub(1)
            .and_then(|e| steps.get(e))
            .and_then(|effect| effect.link.reason())
        {
            lines.push(format!("     what mattered: {reason}"));
        }
        // The effect's other causes, after its primary one.
        if let Some(effect) = i.checked_sub(1).and_then(|e| steps.get(e)) {
            lines.extend(also(&effect.link));
        }
    }
    if let Some(last) = steps.last() {
        lines.extend(also(&last.link));
    }
    lines.push(origin(steps));
    lines
}

/// A link's causes besides its primary one, a line each.
fn also(link: &Link) -> Vec<String> {
    link.others()
        .iter()
        .map(|(cause, entry)| {
            let at = match entry {
                Some(entry) => format!(
                    "{} at resourceVersion {}: {} by {}",
                    entry.subject(),
                    entry.seq,
                    entry.event_type,
                    entry.actor
                ),
                None => format!("resourceVersion {}", cause.seq),
            };
            format!("     also because {} ({at})", cause.reason)
        })
        .collect()
}

/// The cause the chain's last step names that the log no longer holds (a compaction folded
/// it): the walk stopped there.
fn compacted_cause(steps: &[Step]) -> Option<i64> {
    let last = steps.last()?;
    let oldest = last.folded.last().copied().unwrap_or(last.link.entry.seq);
    last.caused_by.filter(|c| *c < oldest)
}

/// Where the chain ends, in words.
pub fn origin(steps: &[Step]) -> String {
    let Some(last) = steps.last() else {
        return "no such event".to_string();
    };
    let entry = &last.link.entry;
    if let Some(cause) = compacted_cause(steps) {
        return format!(
            "origin: not in the log: {} at resourceVersion {} was caused by resourceVersion \
             {cause}, whose history was compacted",
            entry.subject(),
            entry.seq
        );
    }
    if is_controller(&entry.actor) {
        format!(
            "origin: {} at resourceVersion {}, by {} with no recorded cause",
            entry.subject(),
            entry.seq,
            entry.actor
        )
    } else {
        let via = entry
            .via()
            .map(|v| format!(" with {v}"))
            .unwrap_or_default();
        format!(
            "origin: a request by {}{via} at resourceVersion {} ({})",
            entry.actor, entry.seq, entry.time
        )
    }
}

/// The explanation as JSON: every link (unfolded), then the origin.
pub fn to_json(links: &[Link]) -> Value {
    let chain: Vec<Value> = links
        .iter()
        .map(|link| {
            let mut entry = link.entry.to_json(false);
            entry["changes"] = Value::Array(link.changes.iter().map(Change::to_json).collect());
            let causes: Vec<Value> = link
                .causes
                .iter()
                .map(|(cause, named)| {
                    let mut c = json!({"resourceVersion": cause.seq.to_string(),
                                       "reason": cause.reason});
                    if let Some(named) = named {
                        c["involvedObject"] = json!({"kind": named.kind,
                            "namespace": named.namespace, "name": named.name});
                        c["type"] = json!(named.event_type);
                        c["actor"] = json!(named.actor);
                        c["time"] = json!(named.time);
                    }
                    c
                })
                .collect();
            if !causes.is_empty() {
                entry["causes"] = Value::Array(causes);
            }
            entry
        })
        .collect();
    let origin = links.last().map(|l| {
        let mut origin = json!({"resourceVersion": l.entry.seq.to_string(),
               "actor": l.entry.actor, "person": !is_controller(&l.entry.actor)});
        // The walk stopped at a cause the log no longer holds.
        if let Some(cause) = l.entry.caused_by.filter(|c| *c < l.entry.seq) {
            origin["compactedCause"] = json!(cause.to_string());
            origin["person"] = json!(false);
        }
        origin
    });
    json!({"apiVersion": crate::api::GROUP_VERSION, "kind": "Why", "chain": chain, "origin": origin})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(
        seq: i64,
        kind: &str,
        name: &str,
        event_type: &str,
        actor: &str,
        cause: Option<i64>,
    ) -> Link {
        let mut entry = LogEntry::example(seq, kind, name, event_type, actor);
        // One instant for the whole chain, as the rendered origin shows it.
        entry.time = "2026-01-01T00:00:00.000000000Z".into();
        entry.caused_by = cause;
        if actor == "kubetrail-admin" {
            entry.user_agent = Some("kubectl/v1.32.4 (linux/amd64) kubernetes/abc".into());
            entry.field_manager = Some("kubectl-scale".into());
        }
        Link {
            entry,
            changes: vec![],
            causes: vec![],
        }
    }

    #[test]
    fn a_pod_created_by_the_controller_leads_back_to_the_person_who_scaled() {
        let mut scaled = link(
            12,
            "ReplicaSet",
            "echo-rs",
            "Scaled",
            "kubetrail-admin",
            None,
        );
        scaled.changes = vec![Change::Changed {
            path: "spec.replicas".into(),
            from: json!(1),
            to: json!(3),
        }];
        let steps = collapse(vec![
            link(
                20,
                "Pod",
                "echo-rs-x7k2p",
                "Created",
                "replicaset-controller",
                Some(16),
            ),
            link(
                16,
                "ReplicaSet",
                "echo-rs",
                "StatusUpdated",
                "replicaset-controller",
                Some(14),
            ),
            link(
                14,
                "ReplicaSet",
                "echo-rs",
                "StatusUpdated",
                "replicaset-controller",
                Some(12),
            ),
            scaled,
        ]);
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[1].folded, [14]);
        assert_eq!(
            render(&steps),
            [
                "Pod default/echo-rs-x7k2p at resourceVersion 20: Created by replicaset-controller",
                "  <- because ReplicaSet default/echo-rs at resourceVersion 16: StatusUpdated by replicaset-controller (and 1 earlier status updates by it, resourceVersions 14..14)",
                "  <- because ReplicaSet default/echo-rs at resourceVersion 12: Scaled by kubetrail-admin (kubectl-scale, kubectl/v1.32.4): spec.replicas: 1 -> 3",
                "origin: a request by kubetrail-admin with kubectl-scale at resourceVersion 12 (2026-01-01T00:00:00.000000000Z)",
            ]
        );
    }

    #[test]
    fn a_chain_whose_cause_was_compacted_says_so() {
        let created = link(
            30,
            "Pod",
            "echo-rs-x7k2p",
            "Created",
            "replicaset-controller",
            Some(9),
        );
        let steps = collapse(vec![created.clone()]);
        assert_eq!(
            origin(&steps),
            "origin: not in the log: Pod default/echo-rs-x7k2p at resourceVersion 30 was caused by resourceVersion 9, whose history was compacted"
        );
        assert_eq!(to_json(&[created])["origin"]["compactedCause"], "9");
    }

    #[test]
    fn a_chain_ending_at_a_worker_says_so() {
        let mut created = link(
            3,
            "Namespace",
            "default",
            "Created",
            "system:kubetrail",
            None,
        );
        created.entry.namespace = String::new();
        let steps = collapse(vec![created.clone()]);
        assert_eq!(
            origin(&steps),
            "origin: Namespace default at resourceVersion 3, by system:kubetrail with no recorded cause"
        );
        assert_eq!(to_json(&[created])["origin"]["person"], false);
    }

    #[test]
    fn a_healed_pod_names_the_deletion_with_what_mattered_and_the_other_causes() {
        let mut created = link(
            22,
            "Pod",
            "echo-rs-gf9kz",
            "Created",
            "replicaset-controller",
            Some(18),
        );
        let mut spec = LogEntry::example(7, "ReplicaSet", "echo-rs", "Created", "kubetrail-admin");
        spec.time = "2026-01-01T00:00:00.000000000Z".into();
        created.causes = vec![
            (
                Cause::new(18, "pod echo-rs-v2hrm is being deleted: 0 of 1 pod"),
                None,
            ),
            (Cause::new(7, "ReplicaSet echo-rs wants 1 pod"), Some(spec)),
        ];
        let mut deleted = link(
            18,
            "Pod",
            "echo-rs-v2hrm",
            "DeletionRequested",
            "kubetrail-admin",
            None,
        );
        deleted.entry.field_manager = None;
        let steps = collapse(vec![created.clone(), deleted]);
        assert_eq!(
            render(&steps),
            [
                "Pod default/echo-rs-gf9kz at resourceVersion 22: Created by replicaset-controller",
                "  <- because Pod default/echo-rs-v2hrm at resourceVersion 18: DeletionRequested by kubetrail-admin (kubectl/v1.32.4)",
                "     what mattered: pod echo-rs-v2hrm is being deleted: 0 of 1 pod",
                "     also because ReplicaSet echo-rs wants 1 pod (ReplicaSet default/echo-rs at resourceVersion 7: Created by kubetrail-admin)",
                "origin: a request by kubetrail-admin with kubectl/v1.32.4 at resourceVersion 18 (2026-01-01T00:00:00.000000000Z)",
            ]
        );
        let json = to_json(&[created]);
        assert_eq!(
            json["chain"][0]["causes"][0]["reason"],
            "pod echo-rs-v2hrm is being deleted: 0 of 1 pod"
        );
        assert_eq!(
            json["chain"][0]["causes"][1]["involvedObject"]["name"],
            "echo-rs"
        );
    }
}
