//! Retention: `kubetrail compact` and the server's `--compact-older-than` policy. By default
//! the log keeps every event forever; a compaction folds, at or before a point, the history of
//! chosen kinds (core/v1 Events and Leases by default) and the status-only updates of every
//! kind into each object's newest event there (which holds its whole state), so what a person
//! wrote stays. The store records the point, removes the folded events in short transactions
//! and gives the freed pages back; here the point is chosen, the steps run with progress, and
//! the policy repeats it.

use super::HistoryError;
use crate::store::{Compaction, CompactionCursor, CompactionPlan, Readers, Writer};
use std::time::Duration;

/// The kinds a compaction folds unless told otherwise: core/v1 Events and
/// coordination.k8s.io Leases (with the status-only updates of every kind).
pub const DEFAULT_KINDS: [&str; 2] = ["Event", "Lease"];

/// A kind named on the command line (`events`, `leases`, `ev`, `Event`, `pods`) as the log
/// names it.
pub fn kind_name(resource: &str) -> Result<String, HistoryError> {
    Ok(super::query::resolve_resource(resource)?
        .as_str()
        .to_string())
}

/// Where a compaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The events older than this (the newest event written before now minus it).
    OlderThan(Duration),
    /// Up to and including this resourceVersion.
    Through(i64),
}

/// The compaction point `bound` names at `now` (0: nothing is old enough).
pub async fn point(
    readers: &Readers,
    bound: Bound,
    now: jiff::Timestamp,
) -> Result<i64, HistoryError> {
    let last = readers.last_seq().await?;
    match bound {
        Bound::Through(seq) if seq < 1 || seq > last => Err(HistoryError::BadRequest(format!(
            "resourceVersion {seq} is not in the log, which holds resourceVersions up to {last}"
        ))),
        Bound::Through(seq) => Ok(seq),
        Bound::OlderThan(age) => {
            let age = jiff::SignedDuration::try_from(age)
                .map_err(|_| HistoryError::BadRequest(format!("{age:?} is too long")))?;
            let cutoff = now
                .checked_sub(age)
                .map_err(|_| HistoryError::BadRequest(format!("{age:?} is too long")))?;
            let time = crate::model::meta::format_log_time(cutoff);
            Ok(readers.seq_at_time(&time).await?)
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, PartialEq)]
pub struct Compacted {
    pub compaction: Compaction,
    /// Events it removed.
    pub removed: u64,
    /// Whether the freed pages went back to the file system (`false`: the database was made
    /// without incremental vacuuming and needs `compact --vacuum` once).
    pub shrunk: bool,
}

/// Run the compaction `plan` through `writer`: record the point, remove the folded events a
/// window at a time (`progress(removed, total)` after each; `pause` between windows, room for
/// a running server's writer), then give the freed pages back.
pub async fn compact(
    writer: &mut Writer,
    plan: &CompactionPlan,
    pause: Duration,
    mut progress: impl FnMut(u64, i64),
) -> Result<Compacted, HistoryError> {
    let (mut compaction, total) = writer.begin_compaction(plan).await?;
    let mut cursor = CompactionCursor::default();
    let mut removed = 0u64;
    progress(0, total);
    while let Some(step) = writer.compact_step(&compaction, &mut cursor).await? {
        removed += step;
        progress(removed, total);
        tokio::time::sleep(pause).await;
    }
    compaction.events_removed = removed as i64;
    let shrunk = writer.vacuums_incrementally().await?;
    if shrunk {
        while writer.incremental_vacuum_step().await? > 0 {
            tokio::time::sleep(pause).await;
        }
    }
    Ok(Compacted {
        compaction,
        removed,
        shrunk,
    })
}

/// The plan of the default selection (`DEFAULT_KINDS` and status updates) through `through`.
pub fn default_plan(through: i64, actor: &str) -> CompactionPlan {
    CompactionPlan {
        through,
        kinds: DEFAULT_KINDS.iter().map(|k| k.to_string()).collect(),
        status_updates: true,
        actor: actor.to_string(),
    }
}

/// How often the server's policy compacts: a tenth of the age kept, between a minute and an
/// hour.
pub fn policy_interval(older_than: Duration) -> Duration {
    (older_than / 10).clamp(Duration::from_secs(60), Duration::from_secs(3600))
}

/// The server's policy (`serve --compact-older-than`): compact the default selection older than
/// `older_than` now and then every `policy_interval`, until `stop` completes. A failure is
/// logged and tried again next time.
pub async fn run_compaction_until(
    mut writer: Writer,
    readers: Readers,
    older_than: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let actor = format!(
        "kubetrail serve --compact-older-than {}s",
        older_than.as_secs()
    );
    let every = policy_interval(older_than);
    tokio::pin!(stop);
    loop {
        let compacted = async {
            let through = point(
                &readers,
                Bound::OlderThan(older_than),
                jiff::Timestamp::now(),
            )
            .await?;
            let current = readers.compaction_point().await?;
            if through <= current {
                return Ok(None);
            }
            let plan = default_plan(through, &actor);
            compact(&mut writer, &plan, Duration::from_millis(5), |_, _| {})
                .await
                .map(Some)
        };
        match compacted.await {
            Ok(Some(done)) => tracing::info!(
                through = done.compaction.seq_through,
                removed = done.removed,
                "compacted the log"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "compaction of the log failed"),
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_as_kubectl_names_them() {
        assert_eq!(kind_name("events").unwrap(), "Event");
        assert_eq!(kind_name("ev").unwrap(), "Event");
        assert_eq!(kind_name("leases").unwrap(), "Lease");
        assert_eq!(kind_name("leases.coordination.k8s.io").unwrap(), "Lease");
        assert_eq!(kind_name("pods").unwrap(), "Pod");
        assert!(kind_name("widgets").is_err());
    }

    #[test]
    fn the_policy_runs_every_tenth_of_the_age_within_a_minute_and_an_hour() {
        assert_eq!(
            policy_interval(Duration::from_secs(24 * 3600)),
            Duration::from_secs(3600)
        );
        assert_eq!(
            policy_interval(Duration::from_secs(1800)),
            Duration::from_secs(180)
        );
        assert_eq!(
            policy_interval(Duration::from_secs(60)),
            Duration::from_secs(60)
        );
    }
}
