//! `kubetrail compact`: fold old history of a data directory's log (or of the PostgreSQL log
//! `--database` names), stopped or beside its running server (WAL lets a second SQLite
//! connection write between the server's batches; PostgreSQL serves both), with a progress
//! line on a terminal and a summary; `--vacuum` rewrites an older database once so that
//! compactions shrink its file (with the server stopped). Argument parsing and printing; the
//! work is in `history::compact` and the store.

use super::history::{DataDir, Output};
use super::status::size;
use crate::history::HistoryError;
use crate::history::compact::{self, Bound};
use crate::store::{CompactionPlan, Database};
use clap::{ArgAction, Args};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct CompactArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// Fold the history older than this (`24h`, `30m`, `90s`).
    #[arg(long, value_parser = super::parse_duration, value_name = "DURATION",
          conflicts_with = "through_resource_version",
          required_unless_present_any = ["through_resource_version", "vacuum"])]
    pub before: Option<Duration>,
    /// Fold the history up to and including this resourceVersion (the compaction point).
    #[arg(long, value_name = "RV")]
    pub through_resource_version: Option<i64>,
    /// The kinds whose whole history before the point is folded, each object's into its
    /// newest version there (comma-separated resources; empty: none). Every other kind's
    /// events stay, except status-only updates (next flag).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "events,leases",
        value_name = "RESOURCES"
    )]
    pub kinds: Vec<String>,
    /// Fold the status-only updates (StatusUpdated) of every kind too: on unless
    /// `--status-updates=false`.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true,
          default_missing_value = "true", value_name = "BOOL")]
    pub status_updates: bool,
    /// Rewrite the database once (VACUUM) so that compactions give freed space back to the
    /// file system: needed by databases made before kubetrail set that up. The server must be
    /// stopped; it takes about as long as copying the file.
    #[arg(long)]
    pub vacuum: bool,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// `kubetrail compact`
pub async fn compact(args: CompactArgs) -> Result<(), HistoryError> {
    let dir = &args.data.data_dir;
    let database = args.data.database()?;
    // What the summary calls the database: the file, or the URL without its password.
    let name = match &database {
        Database::Sqlite(_) => "state.db".to_string(),
        Database::Postgres { .. } => database.to_string(),
    };
    // VACUUM holds the whole database while it rewrites it: no server may run meanwhile,
    // and none may start.
    let _lock = if args.vacuum {
        if let Some(pid) = crate::datadir::holder(dir) {
            return Err(HistoryError::BadRequest(format!(
                "a server (pid {pid}) holds {}: stop it before `compact --vacuum`, which holds \
                 the whole database while it rewrites it (a compaction alone runs beside it)",
                dir.display()
            )));
        }
        Some(crate::datadir::lock(dir).map_err(|e| HistoryError::Io(format!("{e:#}")))?)
    } else {
        None
    };
    let (mut writer, readers) = super::history::open_writer(&database).await?;
    let size_before = readers.database_size().await?;
    let mut report = serde_json::Map::new();
    let mut lines: Vec<String> = Vec::new();
    let bound = match (args.before, args.through_resource_version) {
        (Some(age), _) => Some(Bound::OlderThan(age)),
        (None, Some(seq)) => Some(Bound::Through(seq)),
        (None, None) => None,
    };
    if let Some(bound) = bound {
        let mut kinds = Vec::new();
        for resource in args.kinds.iter().filter(|k| !k.trim().is_empty()) {
            let kind = compact::kind_name(resource.trim())?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if kinds.is_empty() && !args.status_updates {
            return Err(HistoryError::BadRequest(
                "nothing to fold: name --kinds or leave --status-updates on".into(),
            ));
        }
        let through = compact::point(&readers, bound, jiff::Timestamp::now()).await?;
        if through == 0 {
            lines.push(match bound {
                Bound::OlderThan(age) => format!(
                    "nothing to compact: the log holds no event older than {}s",
                    age.as_secs()
                ),
                Bound::Through(_) => "nothing to compact".to_string(),
            });
            report.insert("compactionResourceVersion".into(), json!(null));
        } else {
            let user = std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                // SAFETY: geteuid only reads this process's effective user id.
                .unwrap_or_else(|_| format!("uid {}", unsafe { libc::geteuid() }));
            let plan = CompactionPlan {
                through,
                kinds,
                status_updates: args.status_updates,
                actor: format!("{user} (kubetrail compact)"),
            };
            let server = crate::datadir::holder(dir);
            // Beside a running server, each window leaves its writer a moment.
            let pause = if server.is_some() {
                Duration::from_millis(5)
            } else {
                Duration::ZERO
            };
            let terminal = std::io::stderr().is_terminal() && args.output == Output::Text;
            let done = compact::compact(&mut writer, &plan, pause, |removed, total| {
                if terminal {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\rcompacting: {removed}/{total} events removed");
                    let _ = err.flush();
                }
            })
            .await?;
            if terminal {
                eprintln!();
            }
            let at = readers
                .entry(through)
                .await?
                .map(|e| e.time)
                .unwrap_or_default();
            lines.push(format!(
                "compacted {database} through resourceVersion {through} ({at}): {} folded",
                done.compaction.selection()
            ));
            lines.push(format!("events removed: {}", done.removed));
            if !done.shrunk && !args.vacuum {
                lines.push(format!(
                    "the file keeps its size: this database was made before kubetrail gave \
                     freed pages back; run `kubetrail compact --vacuum --data-dir {}` once, \
                     with the server stopped",
                    dir.display()
                ));
            }
            report.insert("compactionResourceVersion".into(), json!(through));
            report.insert("time".into(), json!(at));
            report.insert("kinds".into(), json!(done.compaction.kinds));
            report.insert("statusUpdates".into(), json!(done.compaction.status_only));
            report.insert("eventsRemoved".into(), json!(done.removed));
        }
    }
    if args.vacuum {
        vacuum(&mut writer, &database, args.output).await?;
        lines.push(match &database {
            Database::Sqlite(_) => {
                "rewrote state.db: compactions now give the space they free back to the file \
                 system"
                    .to_string()
            }
            // PostgreSQL reuses what a compaction frees by itself; VACUUM FULL gave the free
            // space there was back to the file system.
            Database::Postgres { .. } => {
                format!("rewrote {name}: its free space is given back to the file system")
            }
        });
        report.insert("vacuumed".into(), json!(true));
    }
    // The file shrinks once the write-ahead log is checkpointed (a server's checkpointer does
    // it a few times a second; here, at once).
    if let Ok(mut checkpointer) = crate::store::connect_checkpointer(database.clone()).await {
        let _ = checkpointer.checkpoint().await;
        checkpointer.close().await;
    }
    let size_after = readers.database_size().await?;
    readers.close().await;
    lines.push(format!(
        "{name}: {} -> {}",
        size(size_before.max(0) as u64),
        size(size_after.max(0) as u64)
    ));
    report.insert("databaseBytesBefore".into(), json!(size_before));
    report.insert("databaseBytesAfter".into(), json!(size_after));
    let mut out = std::io::stdout().lock();
    match args.output {
        Output::Text => {
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
        Output::Json => {
            let _ = writeln!(out, "{}", serde_json::Value::Object(report));
        }
    }
    Ok(())
}

/// `--vacuum`: the one-time rewrite, with a progress line on a terminal for a SQLite file
/// (what it has written to the write-ahead log, where the new copy goes, against the
/// database's size); PostgreSQL's shows nothing of its progress to follow.
async fn vacuum(
    writer: &mut crate::store::Writer,
    database: &Database,
    output: Output,
) -> Result<(), HistoryError> {
    let Database::Sqlite(path) = database else {
        writer.vacuum().await?;
        return Ok(());
    };
    let total = std::fs::metadata(path).map_or(0, |m| m.len());
    let terminal = std::io::stderr().is_terminal() && output == Output::Text;
    let wal = {
        let mut name = path.as_os_str().to_owned();
        name.push("-wal");
        std::path::PathBuf::from(name)
    };
    let progress = tokio::spawn(async move {
        if !terminal {
            return;
        }
        loop {
            let written = std::fs::metadata(&wal).map_or(0, |m| m.len());
            {
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\rvacuuming: {} written of about {}",
                    size(written),
                    size(total)
                );
                let _ = err.flush();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let done = writer.vacuum().await;
    progress.abort();
    if terminal {
        eprintln!();
    }
    done?;
    Ok(())
}
