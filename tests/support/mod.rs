//! The one fixture set of the end-to-end tests: a server in this process (`app`), the real
//! binary in its own (`binary`), kubectl (`kubectl`), Docker (`docker`), HTTP helpers (`http`),
//! polling (`wait`), turns on the machine (`turn`), a PostgreSQL server with a fresh
//! database per test (`postgres`, shared with the store's own tests) and the crate paths tests
//! reach past the API (`internals`). Each fixture is defined here once; suites keep only what
//! is theirs.

pub mod app;
pub mod binary;
pub mod docker;
pub mod http;
pub mod internals;
pub mod kubectl;
pub mod postgres;
pub mod turn;
pub mod wait;

use std::sync::Once;

static INIT: Once = Once::new();

/// Once per process: rustls's provider, and logs to stderr when `TEST_LOG` is set.
pub fn init() {
    INIT.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if std::env::var("TEST_LOG").is_ok() {
            internals::telemetry::init("debug");
        }
    });
}
