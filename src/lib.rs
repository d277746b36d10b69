//! kubetrail: a local, kubectl-compatible Kubernetes control plane whose source of truth is an
//! append-only SQLite event log.
//!
//! # Layout
//! - `api`: names shared by the server, its workers and clients (actors); imports nothing.
//! - `model`: kinds, defaulting, validation, selectors (pure).
//! - `store`: the storage seam, the only module that speaks SQL or uses the database driver:
//!   opening, appends, projection rows, log queries, rebuild, snapshots, checkpoints.
//! - `wire`: pure renderings of the model: Table printers, the OpenAPI documents.
//! - `events`: commands, `decide`, the single-writer `EventLog` (the only code that appends).
//! - `projections`: the typed read API over the store (`ReadStore`) and watches.
//! - `http`: the Kubernetes REST API on actix-web; `ApiError` → `Status`.
//! - `workers`: controllers (one `Controller` trait, one loop) and kubelets that follow the log
//!   and write through `workers::Submit` (the `EventLog`, or a server's HTTP API).
//! - `history`: debugging with the log: history, why, past states, replay, verify, checks.
//! - `app`: the composition root (settings, TLS, tracing, startup); `cli`: the command line.
//!   Nothing imports them but `cli` and `main.rs`.
//! - `auth`: ServiceAccount tokens (signed JWTs) and the users they name.
//! - `datadir`, `metrics`, `health`, `shutdown`: the process's shared plumbing.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod datadir;
pub mod events;
pub mod health;
pub mod history;
pub mod http;
pub mod metrics;
pub mod model;
pub mod projections;
pub mod shutdown;
pub mod store;
pub mod wire;
pub mod workers;
