//! Checkpoints of the write-ahead log, off the writer's path. SQLite's automatic checkpoint
//! runs inside the commit that crosses its threshold, so that commit also copies the log's
//! pages into the database file and syncs it while every submission of its batch waits. The
//! server turns it off on the writer's connection and checkpoints from a connection of its
//! own instead (`store::Checkpointer`, which never blocks the writer or a reader), a few
//! times a second, and truncates the log file once it outgrows `store::WAL_LIMIT_BYTES`.

use crate::shutdown::Shutdown;
use crate::store::Checkpointer;
use std::time::Duration;

/// How often the log is checkpointed.
const EVERY: Duration = Duration::from_millis(250);

/// Checkpoint through `conn` every `EVERY` until shutdown, then once more.
pub async fn run_checkpointer_until_stopped(mut conn: Checkpointer, mut shutdown: Shutdown) {
    loop {
        let stop = tokio::select! {
            _ = shutdown.wait() => true,
            _ = tokio::time::sleep(EVERY) => false,
        };
        match conn.checkpoint().await {
            Ok(wal) if wal > 2 * crate::store::WAL_LIMIT_BYTES => {
                tracing::debug!(bytes = wal, "the write-ahead log is waiting for readers");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "checkpoint of the write-ahead log failed"),
        }
        if stop {
            conn.close().await;
            return;
        }
    }
}
