//! kubetrail: a local, kubectl-compatible Kubernetes control plane whose source of truth is an
//! append-only SQLite event log.
//!
//! # Layout
//! - `model`: kinds, defaulting, validation, selectors (pure).
//! - `wire`: pure renderings of the model: Table printers, the OpenAPI documents.
//! - `events`: commands, `decide`, the single-writer `EventLog` (the only code that appends).
//! - `projections`: current state tables, reads, watches, rebuild.
//! - `http`: the Kubernetes REST API on actix-web; `ApiError` → `Status`.
//! - `workers`: reconcilers that follow the log and write through `EventLog::submit`.
//! - `history`: debugging with the log: history, why, past states, replay, verify, checks.
//! - `startup`, `config`, `datadir`, `tls`, `metrics`, `health`, `telemetry`, `shutdown`: wiring.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod datadir;
pub mod events;
pub mod health;
pub mod history;
pub mod http;
pub mod metrics;
pub mod model;
pub mod projections;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
pub mod tls;
pub mod wire;
pub mod workers;
