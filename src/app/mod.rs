//! The composition root: settings, the TLS material and token, tracing, and `startup`, which
//! opens the store, starts the writer, bootstraps, binds and spawns the workers. Only `cli`
//! imports it.

pub mod config;
pub mod listener;
pub mod startup;
pub mod telemetry;
pub mod tls;
