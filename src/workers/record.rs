//! Recording core/v1 Events about objects ("Scheduled", "SuccessfulCreate", ...), the way
//! Kubernetes components report what they did; `kubectl describe` lists them.

use crate::events::Command;
use crate::model::{ResourceKind, meta};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Normal,
    Warning,
}

/// Who reports events: a component (`default-scheduler`, `replicaset-controller`, `kubelet`)
/// and, for node agents, its host.
#[derive(Debug, Clone)]
pub struct Reporter {
    pub component: String,
    pub host: String,
    /// Token buckets per involved object: client-go's event spam filter (a burst of 25, then
    /// one every 5 minutes), so a ReplicaSet creating 10,000 pods records 25 events, not 10,000.
    buckets: Arc<Mutex<Buckets>>,
}

/// The token buckets by object uid, and the size at which the full ones are next forgotten.
#[derive(Debug, Default)]
struct Buckets {
    by_uid: HashMap<String, (f64, jiff::Timestamp)>,
    prune_at: usize,
}

const BURST: f64 = 25.0;
const REFILL_PER_SECOND: f64 = 1.0 / 300.0;
/// How many buckets a reporter holds before it forgets the full ones.
const PRUNE_AT: usize = 4_096;

/// Drop the buckets that have refilled since their last use: a full bucket is what an object
/// never seen gets, so forgetting it changes no decision. What stays are the objects with
/// events within the refill time (25 events × 5 minutes).
fn forget_full(buckets: &mut HashMap<String, (f64, jiff::Timestamp)>, now: jiff::Timestamp) {
    buckets.retain(|_, (tokens, last)| {
        let elapsed = now.duration_since(*last).as_secs_f64().max(0.0);
        *tokens + elapsed * REFILL_PER_SECOND < BURST
    });
}

impl Reporter {
    pub fn new(component: &str, host: &str) -> Self {
        Reporter {
            component: component.to_string(),
            host: host.to_string(),
            buckets: Arc::default(),
        }
    }

    /// Whether another event about `involved` may be recorded now (and take a token if so).
    pub fn allow(&self, involved: &Value, now: jiff::Timestamp) -> bool {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.by_uid.len() >= buckets.prune_at.max(PRUNE_AT) {
            forget_full(&mut buckets.by_uid, now);
            // Pruning again only after the map doubles keeps the cost per event constant.
            buckets.prune_at = buckets.by_uid.len() * 2;
        }
        let (tokens, last) = buckets
            .by_uid
            .entry(meta::uid(involved).to_string())
            .or_insert((BURST, now));
        let elapsed = now.duration_since(*last).as_secs_f64().max(0.0);
        *tokens = (*tokens + elapsed * REFILL_PER_SECOND).min(BURST);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The command that records an Event about `involved` (an object of `kind`).
    pub fn event(
        &self,
        kind: ResourceKind,
        involved: &Value,
        severity: Severity,
        reason: &str,
        message: &str,
        now: jiff::Timestamp,
    ) -> Command {
        event(
            kind,
            involved,
            severity,
            reason,
            message,
            (&self.component, &self.host),
            now,
        )
    }
}

fn event(
    kind: ResourceKind,
    involved: &Value,
    severity: Severity,
    reason: &str,
    message: &str,
    (component, host): (&str, &str),
    now: jiff::Timestamp,
) -> Command {
    let namespace = match meta::namespace(involved) {
        "" => "default".to_string(),
        ns => ns.to_string(),
    };
    let name = format!(
        "{}.{:x}",
        meta::name(involved),
        now.as_nanosecond() as u64 ^ rand_suffix()
    );
    let time = meta::format_time(now);
    let mut source = json!({"component": component});
    if !host.is_empty() {
        source["host"] = json!(host);
    }
    let object = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {
            "kind": kind.as_str(), "apiVersion": kind.api_version(),
            "namespace": meta::namespace(involved), "name": meta::name(involved),
            "uid": meta::uid(involved), "resourceVersion": meta::resource_version(involved),
        },
        "reason": reason, "message": message,
        "type": match severity { Severity::Normal => "Normal", Severity::Warning => "Warning" },
        "source": source,
        "firstTimestamp": time, "lastTimestamp": time, "count": 1,
        "reportingComponent": component, "reportingInstance": host,
    });
    Command::Create {
        kind: ResourceKind::Event,
        namespace,
        object,
    }
}

/// Low bits that keep two events recorded in the same nanosecond apart.
fn rand_suffix() -> u64 {
    use rand::RngExt;
    rand::rng().random_range(0..u64::from(u16::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn involved(uid: &str) -> Value {
        json!({"metadata": {"name": uid, "namespace": "default", "uid": uid}})
    }

    #[test]
    fn buckets_refilled_since_their_last_use_are_forgotten() {
        let reporter = Reporter::new("scheduler", "");
        let start: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        for i in 0..PRUNE_AT {
            assert!(reporter.allow(&involved(&format!("u{i}")), start));
        }
        // Two hours on, every bucket is full again: the next event forgets them all.
        let later = start + jiff::SignedDuration::from_secs(2 * 3600);
        assert!(reporter.allow(&involved("fresh"), later));
        let held = reporter.buckets.lock().expect("lock").by_uid.len();
        assert_eq!(held, 1);
    }

    #[test]
    fn a_bucket_in_use_is_kept_and_still_limits() {
        let reporter = Reporter::new("scheduler", "");
        let start: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        let busy = involved("busy");
        for _ in 0..25 {
            assert!(reporter.allow(&busy, start));
        }
        assert!(!reporter.allow(&busy, start));
        for i in 0..PRUNE_AT {
            reporter.allow(&involved(&format!("u{i}")), start);
        }
        assert!(!reporter.allow(&busy, start + jiff::SignedDuration::from_secs(60)));
    }
}
