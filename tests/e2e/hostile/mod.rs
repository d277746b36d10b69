//! Hostile input: requests meant to stop, exhaust or bypass the server. Every case asserts the
//! `Status` it gets, then that the server still takes a normal write, still reports ready and
//! stayed within its memory bound. One module per area.

mod exposure;
mod health;
mod survive;
mod watch;
