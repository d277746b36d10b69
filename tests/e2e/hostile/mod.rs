//! Hostile input: requests meant to stop, exhaust or bypass the server. Every case asserts the
//! `Status` it gets, then that the server still takes a normal write, still reports ready and
//! stayed within its memory bound. One binary, one module per area.

mod exposure;
#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
mod support;
mod survive;
mod watch;
