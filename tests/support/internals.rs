//! The crate paths tests reach directly, past the HTTP API: the store (opening the database,
//! rebuilding and snapshotting the projections), the history checks, the settings and the
//! application, the informer and the controllers' election. Every suite names them through
//! here, so a path that moves is fixed in this one file.

pub use kubetrail::api::containers as naming;
pub use kubetrail::app::config::Settings;
pub use kubetrail::app::startup::Application;
pub use kubetrail::app::telemetry;
pub use kubetrail::events::{Command, EventLog};
pub use kubetrail::history::check;
pub use kubetrail::http::discovery::KUBERNETES_VERSION;
pub use kubetrail::model::ResourceKind;
pub use kubetrail::model::meta::format_time;
pub use kubetrail::shutdown::Shutdown;
pub use kubetrail::store;
pub use kubetrail::wire::openapi;
pub use kubetrail::workers::cache::{Informer, Snapshot};
pub use kubetrail::workers::election;
pub use kubetrail::workers::eventttl::DEFAULT_EVENT_TTL;
pub use kubetrail::workers::nodes::Timing as NodeTiming;
pub use kubetrail::workers::proxy::{
    dns as cluster_dns, host as service_host, network::Network, table as service_table,
};
pub use kubetrail::workers::{Controller, Pass, Stored, Wake, controllers};
