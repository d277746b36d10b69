//! Names shared by the server, its workers and its clients; imports nothing else from the crate.
pub mod actors;
