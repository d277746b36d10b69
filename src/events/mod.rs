//! The write side: commands, the pure `decide` that turns a command and the current state into
//! events, and the `EventLog` whose single writer task appends them. The only code that inserts
//! into `events`.

pub mod checkpoint;
pub mod command;
pub mod decide;
#[cfg(test)]
mod decide_properties;
pub mod error;
pub mod event;
pub mod log;

pub use command::{Cause, Command, DeleteOptions, Propagation, RequestMeta, UpdatePart};
pub use error::{CommandError, StoreError, SubmitError};
pub use event::{EventEnvelope, EventType};
pub use log::{EventLog, Submitted, Subscriptions, random_name_suffix};
