//! `kubetrail migrate --to`: copy a stopped cluster's whole log from its SQLite data directory
//! into an empty PostgreSQL database, or back (or between two of either), with a progress line
//! on a terminal and a summary with `verify`'s verdict on the copy. Argument parsing, the
//! refusals made before anything is written (a server holding either data directory, a target
//! that holds a log, a bad `--to`), the data directories' locks, and printing; the copy is
//! `history::migrate`'s.

use super::history::{DataDir, Output};
use crate::history::HistoryError;
use crate::history::migrate::{self, Migrated};
use crate::store::Database;
use clap::Args;
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    // The log to copy: --data-dir's state.db, or the PostgreSQL database --database names
    // (its encryption keys in --data-dir). Clap shows the flags' own help for a flattened
    // group: the refusal of a served source is in the command's (`Commands::Migrate`).
    #[command(flatten)]
    pub data: DataDir,
    /// Where to copy it: a PostgreSQL database (postgres://USER:PASSWORD@HOST:PORT/DATABASE,
    /// created beforehand and holding no events), or a directory (a new data directory: its
    /// state.db is made there). A target holding any event is refused and left as it is.
    // `--help` would otherwise print the password it finds in the environment.
    #[arg(
        long,
        env = "KUBETRAIL_MIGRATE_TO",
        hide_env_values = true,
        value_name = "URL|DIR"
    )]
    pub to: String,
    /// With a PostgreSQL --to: the data directory that keeps its encryption keys, which the
    /// source's keys are copied into (default: --data-dir, which holds them already). Serve
    /// the copy with `kubetrail serve --data-dir DIR --database URL`.
    #[arg(long, value_name = "DIR")]
    pub to_data_dir: Option<PathBuf>,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Where `--to` points: a PostgreSQL database (its keys in `to_data_dir`, else the source's
/// data directory), or a data directory's `state.db`.
fn target(args: &MigrateArgs) -> Result<(Database, PathBuf), HistoryError> {
    let to = args.to.trim();
    if to.is_empty() {
        return Err(HistoryError::BadRequest(
            "--to is empty: give a PostgreSQL URL (postgres://USER:PASSWORD@HOST/DATABASE) or \
             a new directory"
                .into(),
        ));
    }
    let keys = args
        .to_data_dir
        .clone()
        .unwrap_or_else(|| args.data.data_dir.clone());
    match Database::parse(to, &keys) {
        Database::Postgres { url, data_dir } => {
            if let Some(problem) = crate::app::config::database_url_problem(&url) {
                return Err(HistoryError::BadRequest(problem));
            }
            Ok((Database::Postgres { url, data_dir }, keys))
        }
        // Only the scheme is repeated: the rest may hold a password.
        Database::Sqlite(_) if to.contains("://") => Err(HistoryError::BadRequest(format!(
            "--to {}://...: not a PostgreSQL URL (postgres://USER:PASSWORD@HOST/DATABASE or \
             postgresql://...) nor a directory",
            to.split("://").next().unwrap_or_default()
        ))),
        Database::Sqlite(dir) => {
            if args.to_data_dir.is_some() {
                return Err(HistoryError::BadRequest(
                    "--to-data-dir is for a PostgreSQL --to: a directory --to keeps its keys \
                     itself"
                        .into(),
                ));
            }
            if dir.exists() && !dir.is_dir() {
                return Err(HistoryError::BadRequest(format!(
                    "--to {}: not a directory",
                    dir.display()
                )));
            }
            Ok((Database::Sqlite(dir.join("state.db")), dir))
        }
    }
}

/// Refuse while a server holds `dir`.
fn refuse_if_served(dir: &Path, role: &str) -> Result<(), HistoryError> {
    match crate::datadir::holder(dir) {
        Some(pid) => Err(HistoryError::BadRequest(format!(
            "a server (pid {pid}) holds {} ({role}): stop it, then migrate; a copy beside a \
             running server would miss the writes after it",
            dir.display()
        ))),
        None => Ok(()),
    }
}

/// The same directory, however it is spelled.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `kubetrail migrate`: true when the copy verified clean.
pub async fn migrate(args: MigrateArgs) -> Result<bool, HistoryError> {
    let (target, target_dir) = target(&args)?;
    let source = args.data.database()?;
    let source_dir = args.data.data_dir.clone();
    refuse_if_served(&source_dir, "the source")?;
    refuse_if_served(&target_dir, "the target")?;
    if source == target {
        return Err(HistoryError::BadRequest(
            "--to names the log being migrated: give another database or directory".into(),
        ));
    }
    migrate::reach(&source).await?;
    migrate::refuse_unless_empty(&target).await?;
    let readers = super::history::open_readers(&args.data).await?;
    let plan = match migrate::plan(&source, &readers).await {
        Ok(plan) => plan,
        Err(e) => {
            readers.close().await;
            return Err(e);
        }
    };
    // Held to the end: no server starts on either directory while the log moves.
    let io = |e: anyhow::Error| HistoryError::Io(format!("{e:#}"));
    let _source_lock = match source_dir.is_dir() {
        true => Some(crate::datadir::lock(&source_dir).map_err(io)?),
        false => None,
    };
    crate::datadir::prepare(&target_dir).map_err(io)?;
    let _target_lock = match same_dir(&source_dir, &target_dir) {
        true => None,
        false => Some(crate::datadir::lock(&target_dir).map_err(io)?),
    };
    let terminal = std::io::stderr().is_terminal() && args.output == Output::Text;
    let migrated = migrate::migrate(&source, &readers, &plan, &target, |copied, total| {
        if terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\rmigrating: {copied}/{total} events copied");
            let _ = err.flush();
        }
    })
    .await;
    if terminal {
        eprintln!();
    }
    readers.close().await;
    let migrated = migrated?;
    print(&args, &target, &target_dir, &migrated);
    Ok(migrated.ok())
}

fn print(args: &MigrateArgs, target: &Database, target_dir: &Path, m: &Migrated) {
    let mut out = std::io::stdout().lock();
    let verdict = match (m.report.ok(), m.same_state) {
        (true, true) => "clean",
        (false, _) => "the projections differ from the log",
        (true, false) => "the copy's log folds to another state than the source's",
    };
    match args.output {
        Output::Text => {
            let mut lines = vec![format!(
                "migrated {} events (resourceVersions {}..{}) into {target}; verify: {verdict}",
                m.events, m.first_seq, m.last_seq
            )];
            if m.compactions > 0 {
                lines.push(format!(
                    "compactions recorded as the source's: {}",
                    m.compactions
                ));
            }
            if m.secrets > 0 {
                lines.push(format!(
                    "secrets: {} open with the keys in {}",
                    m.secrets,
                    target_dir.display()
                ));
            }
            if !m.ok() {
                lines.extend(m.report.lines());
            }
            lines.push(match target {
                Database::Sqlite(_) => format!(
                    "serve it with: kubetrail serve --data-dir {}",
                    target_dir.display()
                ),
                Database::Postgres { .. } => format!(
                    "serve it with: kubetrail serve --data-dir {} --database URL",
                    target_dir.display()
                ),
            });
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
        Output::Json => {
            let report = json!({
                "target": target.to_string(),
                "events": m.events,
                "firstResourceVersion": m.first_seq,
                "lastResourceVersion": m.last_seq,
                "compactions": m.compactions,
                "secrets": m.secrets,
                "sameState": m.same_state,
                "verify": m.report.to_json(),
                "ok": m.ok(),
            });
            let _ = writeln!(out, "{report}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Line {
        #[command(flatten)]
        args: MigrateArgs,
    }

    fn parsed(args: &[&str]) -> MigrateArgs {
        let mut all = vec!["migrate", "--data-dir", "/data/src"];
        all.extend(args);
        Line::parse_from(all).args
    }

    #[test]
    fn to_is_a_postgresql_url_with_a_keys_directory_or_a_data_directory() {
        let (database, keys) = target(&parsed(&["--to", "postgres://u:p@h/db"])).unwrap();
        assert_eq!(
            database,
            Database::Postgres {
                url: "postgres://u:p@h/db".into(),
                data_dir: "/data/src".into()
            }
        );
        assert_eq!(keys, PathBuf::from("/data/src"), "the source's keys stay");
        let (_, keys) = target(&parsed(&[
            "--to",
            "postgresql://h/db",
            "--to-data-dir",
            "/data/keys",
        ]))
        .unwrap();
        assert_eq!(keys, PathBuf::from("/data/keys"));
        let (database, dir) = target(&parsed(&["--to", "/data/new"])).unwrap();
        assert_eq!(database, Database::Sqlite("/data/new/state.db".into()));
        assert_eq!(dir, PathBuf::from("/data/new"));
    }

    #[test]
    fn a_to_that_is_neither_is_refused_without_its_password() {
        for (args, want) in [
            (
                vec!["--to", "mysql://u:hunter2@h/db"],
                "not a PostgreSQL URL",
            ),
            (vec!["--to", " "], "--to is empty"),
            (
                vec!["--to", "/data/new", "--to-data-dir", "/data/keys"],
                "--to-data-dir is for a PostgreSQL --to",
            ),
        ] {
            let error = target(&parsed(&args)).unwrap_err().to_string();
            assert!(error.contains(want), "{args:?}: {error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }
}
