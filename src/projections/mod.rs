//! Read models: the current state of every kind and the log as readers see them, through
//! `ReadStore` (typed reads over `store::Readers`), and watches (`watch`). The rows themselves
//! are written only by the store, inside the event log's transaction or by a rebuild. May
//! import `events` and `store`; neither imports this module. No Docker, no commands, no HTTP
//! types.

pub mod store;
pub mod watch;

pub use crate::store::{EventWrite, ListPage, ListQuery, ObjectKey, StoredObject};
pub use store::{ReadStore, Replayed};
