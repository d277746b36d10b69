//! Workers: level-triggered reconcilers that follow the event log and write only through
//! `EventLog::submit`, as named actors. Each loop wakes on a published envelope of a kind it
//! watches or on a tick, reads current state, and reconciles it.

pub mod namespace;

use crate::events::{EventEnvelope, EventLog};
use crate::model::ResourceKind;
use crate::shutdown::Shutdown;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Wait until an envelope of one of `kinds` is published, `tick` passes, or shutdown. Returns
/// false on shutdown. A lagged receiver counts as a wake-up: the reconcile reads current state.
pub async fn wait_for_change(
    live: &mut broadcast::Receiver<Arc<EventEnvelope>>,
    kinds: &[ResourceKind],
    tick: Duration,
    shutdown: &mut Shutdown,
) -> bool {
    let deadline = tokio::time::sleep(tick);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return false,
            _ = &mut deadline => return true,
            received = live.recv() => match received {
                Ok(envelope) if kinds.contains(&envelope.kind) => return true,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return true,
                Err(broadcast::error::RecvError::Closed) => return false,
            }
        }
    }
}

/// Start the in-process workers.
pub fn spawn_workers(
    log: EventLog,
    store: crate::projections::ReadStore,
    shutdown: Shutdown,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![tokio::spawn(
        namespace::run_namespace_controller_until_stopped(log, store, shutdown),
    )]
}
