//! Every end-to-end suite as a module of one test binary, so the crate and its dependencies
//! link once: `cargo test --test e2e` runs them all, and a name filter runs one suite
//! (`cargo test --test e2e -- kubectl::`). Tests share the process and the machine: fixtures
//! come from `support` (one of each), which also gives a test the machine to itself where it
//! needs it (`support::turn`).

#[path = "../support/mod.rs"]
mod support;

mod api;
mod clients;
mod cluster;
mod configmaps;
mod crash;
mod docker;
mod election;
mod faults;
mod helm;
mod history;
mod hostile;
mod inject;
mod kubectl;
mod kubectl_120;
mod leases;
mod migrate;
mod network;
mod openapi;
mod portforward;
mod postgres;
mod protobuf;
mod remote;
mod retention;
mod rollout;
mod schemathesis;
mod secrets;
mod services;
mod streams;
mod tidy;
mod tokens;
mod ui;
mod why;
