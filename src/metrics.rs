//! Prometheus metrics: request count and latency by verb and resource, append (commit) latency,
//! group-commit batch size, open watches, panics caught. Served at `/metrics` with the database
//! size. Label values come from fixed sets: a request for anything but a served resource or
//! subresource is counted under `other`, so no client can grow the number of series.

use crate::model::ResourceKind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub verb: String,
    pub resource: String,
    pub code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PanicLabels {
    pub component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    pub verb: String,
    pub resource: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<LatencyLabels, Histogram>,
    pub commit_seconds: Histogram,
    pub commit_batch_size: Histogram,
    pub open_watches: Gauge,
    pub database_bytes: Gauge,
    pub wal_bytes: Gauge,
    /// The log's compaction point (0: never compacted).
    pub compaction_point: Gauge,
    pub panics: Family<PanicLabels, Counter>,
    /// 1 while this server holds the controllers' Lease (its controllers run), else 0.
    pub controllers_leading: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kubetrail");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "apiserver_requests",
            "API requests by verb, resource and status code",
            requests.clone(),
        );
        let request_seconds =
            Family::<LatencyLabels, Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "apiserver_request_duration_seconds",
            "API request latency by verb and resource (watches: until the stream starts)",
            request_seconds.clone(),
        );
        let commit_seconds = latency_histogram();
        registry.register(
            "event_log_commit_duration_seconds",
            "Time to decide, append, project and durably commit one group-commit batch",
            commit_seconds.clone(),
        );
        let commit_batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        registry.register(
            "event_log_commit_batch_size",
            "Submissions folded into one transaction",
            commit_batch_size.clone(),
        );
        let open_watches = Gauge::default();
        registry.register(
            "open_watches",
            "Watch streams currently open",
            open_watches.clone(),
        );
        let database_bytes = Gauge::default();
        registry.register(
            "database_size_bytes",
            "Size of the SQLite database file",
            database_bytes.clone(),
        );
        let wal_bytes = Gauge::default();
        registry.register(
            "database_wal_size_bytes",
            "Size of the SQLite write-ahead log file",
            wal_bytes.clone(),
        );
        let compaction_point = Gauge::default();
        registry.register(
            "event_log_compaction_resource_version",
            "The log's compaction point: lists and watches at an older resourceVersion are answered 410 Expired (0: never compacted)",
            compaction_point.clone(),
        );
        let panics = Family::<PanicLabels, Counter>::default();
        registry.register(
            "panics",
            "Panics caught by component (the writer, the informer, a controller)",
            panics.clone(),
        );
        let controllers_leading = Gauge::default();
        registry.register(
            "controllers_leading",
            "1 while this server holds the controllers' Lease (kube-system/kubetrail-controllers) and runs its controllers, 0 while it follows",
            controllers_leading.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            commit_seconds,
            commit_batch_size,
            open_watches,
            database_bytes,
            wal_bytes,
            compaction_point,
            panics,
            controllers_leading,
        }
    }

    pub fn observe_request(&self, verb: &str, resource: &str, code: u16, elapsed: Duration) {
        let resource = resource_label(resource);
        self.requests
            .get_or_create(&RequestLabels {
                verb: verb.to_string(),
                resource: resource.to_string(),
                code,
            })
            .inc();
        self.request_seconds
            .get_or_create(&LatencyLabels {
                verb: verb.to_string(),
                resource: resource.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_commit(&self, elapsed: Duration, batch: usize) {
        self.commit_seconds.observe(elapsed.as_secs_f64());
        self.commit_batch_size.observe(batch as f64);
    }

    pub fn count_panic(&self, component: &str) {
        self.panics
            .get_or_create(&PanicLabels {
                component: component.to_string(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The resources of the log's own API group (`kubetrail.dev`).
const LOG_RESOURCES: [&str; 3] = ["logentries", "history", "why"];

/// The label a request's resource is counted under: a served resource (`pods`), one of its
/// subresources (`pods/log`), a resource of the log's group, none (`""`: discovery, health,
/// paths that name no resource), or `other` for everything else a client can make up.
fn resource_label(resource: &str) -> &str {
    let (plural, subresource) = match resource.split_once('/') {
        Some((plural, subresource)) => (plural, Some(subresource)),
        None => (resource, None),
    };
    let served = ResourceKind::ALL.iter().any(|kind| {
        kind.plural() == plural
            && subresource.is_none_or(|sub| kind.subresources().iter().any(|s| s.name == sub))
    });
    if served || resource.is_empty() || LOG_RESOURCES.contains(&resource) {
        resource
    } else {
        "other"
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_served_resources_and_subresources_become_labels() {
        assert_eq!(resource_label("pods"), "pods");
        assert_eq!(resource_label("pods/log"), "pods/log");
        assert_eq!(resource_label("replicasets/scale"), "replicasets/scale");
        assert_eq!(resource_label("logentries"), "logentries");
        assert_eq!(resource_label(""), "");
        assert_eq!(resource_label("pods/x-123"), "other");
        assert_eq!(resource_label("nodes/scale"), "other");
        assert_eq!(resource_label("pods/log/extra"), "other");
        assert_eq!(resource_label("widgets"), "other");
    }

    #[test]
    fn made_up_resources_add_no_series() {
        let metrics = Metrics::new();
        metrics.observe_request("get", "pods/a", 404, Duration::ZERO);
        let before = metrics.encode().lines().count();
        for i in 0..200 {
            metrics.observe_request("get", &format!("pods/made-up-{i}"), 404, Duration::ZERO);
        }
        assert_eq!(metrics.encode().lines().count(), before);
    }
}
