//! `kubetrail status`: what a data directory holds and what its server costs: the database
//! and write-ahead log sizes (of a PostgreSQL log, `--database`: the database's size as the
//! server reports it, its write-ahead log being the server's own), the resourceVersions the
//! log keeps, events and current objects by kind, and the serving process's resident memory
//! (anonymous and file-backed), read from `/proc` when a server holds the directory; the
//! compaction point, where the log's full history begins; which server's controllers run (the
//! holder of the controllers' Lease). Reads the database read-only,
//! beside a running server; changes nothing.

use super::history::{DataDir, Output, open_readers};
use crate::history::HistoryError;
use crate::model::ResourceKind;
use crate::model::meta::Lookup as _;
use crate::store::{Database, Readers};
use crate::workers::election;
use clap::Args;
use serde_json::{Value, json};
use std::path::Path;

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub data: DataDir,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// A process's resident memory, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resident {
    pub total: u64,
    pub anon: u64,
    pub file: u64,
}

/// The resident memory in a `/proc/PID/status` text.
pub fn resident(status: &str) -> Option<Resident> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some(Resident {
        total: field("VmRSS:")?,
        anon: field("RssAnon:").unwrap_or(0),
        file: field("RssFile:").unwrap_or(0),
    })
}

/// `12.3 MiB`, `512 B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// `kubetrail status`
pub async fn status(args: StatusArgs) -> Result<(), HistoryError> {
    let dir = &args.data.data_dir;
    let location = args.data.database()?;
    let readers = open_readers(&args.data).await?;
    let (kinds, oldest) = readers.census().await?;
    let last = readers.last_seq().await?;
    let compaction = readers.compactions().await?.into_iter().last();
    let controllers = controllers_lease(&readers).await?;
    // A SQLite log's sizes are its files'; PostgreSQL's is what the server reports, and its
    // write-ahead log is the whole server's, none of this database's own (`None`).
    let (database, wal) = match &location {
        Database::Sqlite(_) => (
            file_size(&dir.join("state.db")),
            Some(file_size(&dir.join("state.db-wal"))),
        ),
        Database::Postgres { .. } => (readers.database_size().await?.max(0) as u64, None),
    };
    readers.close().await;
    let server = crate::datadir::holder(dir).map(|pid| {
        let memory = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| resident(&s));
        (pid, memory)
    });
    let events: i64 = kinds.iter().map(|k| k.1).sum();
    match args.output {
        Output::Json => {
            let server = server.map(|(pid, memory)| {
                json!({
                    "pid": pid,
                    "rssBytes": memory.map(|m| m.total),
                    "rssAnonBytes": memory.map(|m| m.anon),
                    "rssFileBytes": memory.map(|m| m.file),
                })
            });
            let kinds: Vec<Value> = kinds
                .iter()
                .map(|(kind, events, objects)| {
                    json!({"kind": kind, "events": events, "objects": objects})
                })
                .collect();
            let report = json!({
                "dataDirectory": dir.display().to_string(),
                "database": location.to_string(),
                "server": server,
                "databaseBytes": database,
                "walBytes": wal,
                "oldestResourceVersion": oldest,
                "newestResourceVersion": last,
                "compactionResourceVersion": compaction.as_ref().map(|c| c.seq_through),
                "controllersHolder": controllers.as_ref().and_then(|l| election::holder(l)),
                "controllersRenewTime": controllers.as_ref().map(|l| l.str_at("/spec/renewTime")),
                "events": events,
                "kinds": kinds,
            });
            println!("{report}");
        }
        Output::Text => {
            let server = match server {
                None => "not running".to_string(),
                Some((pid, Some(m))) => format!(
                    "pid {pid}, resident {} (anonymous {}, file-backed {})",
                    size(m.total),
                    size(m.anon),
                    size(m.file)
                ),
                Some((pid, None)) => format!("pid {pid} (its memory cannot be read)"),
            };
            let log = match last {
                0 => "empty".to_string(),
                _ => format!("{events} events, resourceVersions {oldest} to {last}"),
            };
            let mut lines = vec![
                format!("Data directory:  {}", dir.display()),
                format!("Server:          {server}"),
                match (&location, wal) {
                    (Database::Sqlite(_), Some(wal)) => format!(
                        "Database:        state.db {}, write-ahead log {}",
                        size(database),
                        size(wal)
                    ),
                    _ => format!(
                        "Database:        {location} {}, write-ahead log n/a (the \
                         PostgreSQL server's own)",
                        size(database)
                    ),
                },
                format!("Log:             {log}"),
                format!(
                    "Compacted:       {}",
                    match &compaction {
                        None => "never (every event kept)".to_string(),
                        Some(c) => format!(
                            "through resourceVersion {} at {} ({}; {} events removed)",
                            c.seq_through,
                            c.time,
                            c.selection(),
                            c.events_removed
                        ),
                    }
                ),
                format!(
                    "Controllers:     {}",
                    controllers_line(controllers.as_ref())
                ),
                String::new(),
                format!("{:<24}{:>10}{:>10}", "KIND", "EVENTS", "OBJECTS"),
            ];
            for (kind, events, objects) in &kinds {
                lines.push(format!("{kind:<24}{events:>10}{objects:>10}"));
            }
            for line in lines {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// The controllers' Lease (`kube-system/kubetrail-controllers`), when a server has made it.
async fn controllers_lease(readers: &Readers) -> Result<Option<Value>, HistoryError> {
    let stored = readers
        .get(
            ResourceKind::Lease,
            election::LEASE_NAMESPACE,
            election::LEASE_NAME,
        )
        .await?;
    Ok(stored.and_then(|s| serde_json::from_str(&s.json).ok()))
}

/// Who holds the controllers' Lease and since when it was last renewed.
fn controllers_line(lease: Option<&Value>) -> String {
    match lease {
        None => "no election yet (no kube-system/kubetrail-controllers Lease)".to_string(),
        Some(lease) => match election::holder(lease) {
            Some(holder) => format!(
                "led by {holder} (Lease renewed {}, held {} s past its last renewal)",
                lease.str_at("/spec/renewTime"),
                lease.i64_at("/spec/leaseDurationSeconds").unwrap_or(0)
            ),
            None => format!(
                "released at {} (the next server to look takes it)",
                lease.str_at("/spec/renewTime")
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_proc_status() {
        let text = "Name:\tkubetrail\nVmRSS:\t  2048 kB\nRssAnon:\t  1024 kB\nRssFile:\t 1000 kB\n";
        assert_eq!(
            resident(text),
            Some(Resident {
                total: 2048 * 1024,
                anon: 1024 * 1024,
                file: 1000 * 1024
            })
        );
        assert_eq!(resident("Name:\tx\n"), None);
    }

    #[test]
    fn the_controllers_line_names_the_holder_or_the_release() {
        assert!(controllers_line(None).starts_with("no election yet"));
        let lease = json!({"spec": {"holderIdentity": "host_1", "leaseDurationSeconds": 15,
            "renewTime": "2026-01-02T03:04:05.000000Z"}});
        assert_eq!(
            controllers_line(Some(&lease)),
            "led by host_1 (Lease renewed 2026-01-02T03:04:05.000000Z, held 15 s past its last renewal)"
        );
        let released = json!({"spec": {"holderIdentity": "", "renewTime": "t"}});
        assert!(controllers_line(Some(&released)).starts_with("released at t"));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(119 * 1024 * 1024), "119.0 MiB");
    }
}
