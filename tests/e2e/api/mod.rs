//! HTTP integration tests against a server in this process: one module per behaviour.

mod configs;
mod controllers;
mod deployments;
mod discovery;
mod errors;
mod namespaces;
mod objects;
mod patching;
mod rebuild;
mod selectors;
mod services;
mod tables;
mod watch;
