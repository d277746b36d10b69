//! HTTP integration tests: one binary, one module per behaviour.

mod controllers;
mod discovery;
mod errors;
mod helpers;
mod namespaces;
mod objects;
mod patching;
mod rebuild;
mod selectors;
mod tables;
mod watch;
