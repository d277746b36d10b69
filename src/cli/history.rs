//! The debugging commands of the `kubetrail` binary: `events`, `history`, `why`, `replay`,
//! `verify`, `snapshot`. They read the log directly (read-only, beside a running server: WAL
//! lets them on SQLite, and PostgreSQL serves any number of sessions): the data directory's
//! `state.db`, or the PostgreSQL database `--database` names. They print rows or JSON lines,
//! and return what the process exits with. Argument parsing and printing only; the work is in
//! the rest of `history`.

use crate::history::query::{self, LogFilter};
use crate::history::render::{self, Style};
use crate::history::{HistoryError, why};
use crate::model::ResourceKind;
use crate::store::{Database, Readers};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// How often `--follow` looks for new entries.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Rows for people.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour when stdout is a terminal and NO_COLOR is unset.
    Auto,
    Always,
    Never,
}

impl Color {
    fn style(self) -> Style {
        let color = match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Style { color }
    }
}

/// Where the log is.
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Directory holding state.db (with --database: the encryption keys of the database's
    /// Secrets).
    #[arg(long, default_value = ".kubetrail", env = "KUBETRAIL_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The PostgreSQL database holding the log, as `serve --database` was given
    /// (postgres://USER:PASSWORD@HOST/DATABASE); without it, state.db in the data directory.
    // `--help` would otherwise print the password it finds in the environment.
    #[arg(
        long,
        env = "KUBETRAIL_DATABASE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,
}

impl DataDir {
    /// Where the log is meant to be: the PostgreSQL database of a (checked) URL, or the data
    /// directory's `state.db`, which may not exist yet.
    pub fn location(&self) -> Result<Database, HistoryError> {
        match &self.database {
            Some(url) => match crate::app::config::database_url_problem(url) {
                Some(problem) => Err(HistoryError::BadRequest(problem)),
                None => Ok(Database::Postgres {
                    url: url.clone(),
                    data_dir: self.data_dir.clone(),
                }),
            },
            None => Ok(Database::Sqlite(self.data_dir.join("state.db"))),
        }
    }

    /// Where the log is, checked: a PostgreSQL URL, or a data directory holding `state.db`.
    pub fn database(&self) -> Result<Database, HistoryError> {
        let database = self.location()?;
        if let Database::Sqlite(path) = &database
            && !path.exists()
        {
            return Err(HistoryError::NotFound(format!(
                "{} holds no state.db (pass --data-dir or set KUBETRAIL_DATA_DIR; for a log in \
                 PostgreSQL, pass --database or set KUBETRAIL_DATABASE)",
                self.data_dir.display()
            )));
        }
        Ok(database)
    }
}

#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// Only this kind or resource (Pod, pods, rs, ...).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only objects in this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Only objects with this name.
    #[arg(long)]
    pub name: Option<String>,
    /// Only writes by this user or worker.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only these event types (comma-separated: Created,Deleted).
    #[arg(long = "type", value_delimiter = ',')]
    pub event_types: Vec<String>,
    /// Only events at or after this resourceVersion.
    #[arg(long)]
    pub from: Option<i64>,
    /// Only events at or before this resourceVersion.
    #[arg(long)]
    pub to: Option<i64>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events at or before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// Only the newest N matching events.
    #[arg(long)]
    pub tail: Option<i64>,
    /// Keep printing new entries as they are appended (until interrupted).
    #[arg(short = 'f', long)]
    pub follow: bool,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// The object: <resource>/<name> (pod/echo, rs/echo-rs, node/sim-node-000).
    pub object: String,
    /// Its namespace (namespaced kinds).
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Only the newest N events.
    #[arg(long)]
    pub tail: Option<i64>,
    /// Keep printing new events of the object (until interrupted).
    #[arg(short = 'f', long)]
    pub follow: bool,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Clone, Args)]
pub struct WhyArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// The object: <resource>/<name>.
    pub object: String,
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// The event to explain (default: the creation of the object's newest incarnation).
    #[arg(long = "resource-version", alias = "rv")]
    pub resource_version: Option<i64>,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Open the log `data` names for reading only.
pub async fn open_readers(data: &DataDir) -> Result<Readers, HistoryError> {
    let database = data.database()?;
    match database {
        Database::Sqlite(path) => Ok(crate::store::open_readers(&path).await?),
        Database::Postgres { .. } => {
            let readers = crate::store::open_readers(database.clone())
                .await
                .map_err(|e| unreachable_database(&database, e))?;
            // A database the server never migrated has no log: say so rather than name a
            // missing table at the first read.
            if let Err(e) = readers.last_seq().await {
                readers.close().await;
                return Err(HistoryError::NotFound(format!(
                    "the PostgreSQL database {database} holds no kubetrail log ({}): check the \
                     URL, or serve it once with `kubetrail serve --database URL`",
                    reason(&e)
                )));
            }
            Ok(readers)
        }
    }
}

/// Why `database` could not be opened, with what to check (the URL shown without its
/// password).
fn unreachable_database(database: &Database, e: crate::store::StoreError) -> HistoryError {
    HistoryError::Io(format!(
        "cannot connect to the PostgreSQL database {database}: {}; check that the server runs \
         and that the URL's host, user, password and database are right",
        reason(&e)
    ))
}

/// A store error with the driver's words, which `StoreError`'s own message leaves to its
/// source.
fn reason(e: &crate::store::StoreError) -> String {
    match std::error::Error::source(e) {
        Some(source) => source.to_string(),
        None => e.to_string(),
    }
}

/// Open `database` to write to it (migrated, as a server opens it).
pub async fn open_writer(
    database: &Database,
) -> Result<(crate::store::Writer, Readers), HistoryError> {
    crate::store::open(database.clone())
        .await
        .map_err(|e| match &database {
            Database::Sqlite(_) => HistoryError::Io(format!("{e:#}")),
            Database::Postgres { .. } => HistoryError::Io(format!(
                "cannot open the PostgreSQL database {database}: {e:#}; check that the server \
                 runs and that the URL's host, user, password and database are right"
            )),
        })
}

fn print(lines: impl IntoIterator<Item = String>) -> Result<(), HistoryError> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        // A closed pipe (`| head`) ends the output quietly.
        if writeln!(out, "{line}").is_err() {
            return Ok(());
        }
    }
    out.flush().ok();
    Ok(())
}

/// `kubetrail events`
pub async fn events(args: EventsArgs) -> Result<(), HistoryError> {
    let pool = open_readers(&args.data).await?;
    let kind = args
        .kind
        .as_deref()
        .map(query::resolve_resource)
        .transpose()?
        .map(|k| k.as_str().to_string());
    let time = |t: &Option<String>| t.as_deref().map(query::log_time).transpose();
    let filter = LogFilter {
        kind,
        namespace: args.namespace.clone(),
        name: args.name.clone(),
        uid: None,
        actor: args.actor.clone(),
        event_types: args.event_types.clone(),
        from_seq: args.from,
        to_seq: args.to,
        since: time(&args.since)?,
        until: time(&args.until)?,
    };
    let style = args.color.style();
    let emit = |entries: &[query::LogEntry]| match args.output {
        Output::Text => print(entries.iter().map(|e| render::row(e, true))),
        Output::Json => print(entries.iter().map(|e| e.to_json(true).to_string())),
    };
    if args.output == Output::Text {
        // Where the log's full history begins, when a compaction folded some of it.
        if let Some(c) = pool.compactions().await?.into_iter().last() {
            print([render::compaction_line(&c)])?;
        }
        print([render::header(true, style)])?;
    }
    let mut cursor = 0;
    if let Some(tail) = args.tail {
        let entries = query::newest_entries(&pool, &filter, tail.max(0)).await?;
        emit(&entries)?;
        cursor = match entries.last() {
            Some(e) => e.seq,
            None => query::last_seq(&pool).await?,
        };
    } else {
        loop {
            let entries = query::entries(&pool, &filter, cursor, 5000).await?;
            let Some(last) = entries.last() else { break };
            cursor = last.seq;
            emit(&entries)?;
        }
    }
    if args.follow {
        follow(
            cursor,
            |after| {
                let filter = filter.clone();
                let pool = pool.clone();
                async move { query::entries(&pool, &filter, after, 1000).await }
            },
            |entries| emit(entries),
        )
        .await?;
    }
    Ok(())
}

/// Poll for entries after `cursor` until interrupted.
async fn follow<F, Fut>(
    mut cursor: i64,
    mut read: F,
    mut emit: impl FnMut(&[query::LogEntry]) -> Result<(), HistoryError>,
) -> Result<(), HistoryError>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<query::LogEntry>, HistoryError>>,
{
    loop {
        let entries = read(cursor).await?;
        match entries.last() {
            Some(last) => {
                cursor = last.seq;
                emit(&entries)?;
            }
            None => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                    _ = tokio::time::sleep(FOLLOW_POLL) => {}
                }
            }
        }
    }
}

/// `kubetrail history <resource>/<name>`
pub async fn history(args: HistoryArgs) -> Result<(), HistoryError> {
    let pool = open_readers(&args.data).await?;
    let (kind, name) = query::parse_object_ref(&args.object)?;
    let namespace = if kind.namespaced() {
        args.namespace.clone()
    } else {
        String::new()
    };
    let style = args.color.style();
    let rows = match args.tail {
        Some(tail) => {
            crate::history::history_tail(&pool, kind, &namespace, &name, tail.max(0)).await?
        }
        None => crate::history::history_page(&pool, kind, &namespace, &name, 0, i64::MAX).await?,
    };
    if rows.is_empty() && !args.follow {
        return Err(HistoryError::no_events_of(kind, &namespace, &name));
    }
    let emit = |rows: &[render::HistoryRow]| match args.output {
        Output::Text => print(rows.iter().flat_map(|r| render::history_lines(r, style))),
        Output::Json => print(rows.iter().map(|r| render::history_json(r).to_string())),
    };
    if args.output == Output::Text {
        let title = if namespace.is_empty() {
            format!("{} {name}", kind.as_str())
        } else {
            format!("{} {namespace}/{name}", kind.as_str())
        };
        print([title])?;
        let folded = pool
            .compactions()
            .await?
            .into_iter()
            .rfind(|c| c.folds(kind.as_str(), kind.has_status()));
        if let Some(c) = folded {
            print([render::compaction_line(&c)])?;
        }
        print([render::header(false, style)])?;
    }
    emit(&rows)?;
    if kind == ResourceKind::Deployment && args.output == Output::Text && !args.follow {
        let entries: Vec<query::LogEntry> = rows.iter().map(|r| r.entry.clone()).collect();
        let (steps, cut) = crate::history::rollout::rollout_of(&pool, &namespace, &entries).await?;
        print(crate::history::rollout::render(&steps, cut))?;
    }
    if args.follow {
        let mut cursor = match rows.last() {
            Some(r) => r.entry.seq,
            None => query::last_seq(&pool).await?,
        };
        loop {
            let rows =
                crate::history::history_page(&pool, kind, &namespace, &name, cursor, 1000).await?;
            match rows.last() {
                Some(last) => {
                    cursor = last.entry.seq;
                    emit(&rows)?;
                }
                None => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => return Ok(()),
                        _ = tokio::time::sleep(FOLLOW_POLL) => {}
                    }
                }
            }
        }
    }
    Ok(())
}

/// `kubetrail why <resource>/<name>`
pub async fn explain(args: WhyArgs) -> Result<(), HistoryError> {
    let pool = open_readers(&args.data).await?;
    let (kind, name) = query::parse_object_ref(&args.object)?;
    let namespace = if kind.namespaced() {
        args.namespace.clone()
    } else {
        String::new()
    };
    let start = match args.resource_version {
        Some(seq) => seq,
        None => {
            crate::history::creation_of(&pool, kind, &namespace, &name)
                .await?
                .seq
        }
    };
    let links = crate::history::why_chain(&pool, start).await?;
    match args.output {
        Output::Text => print(why::render(&why::collapse(links))),
        Output::Json => print([why::to_json(&links).to_string()]),
    }
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// The last resourceVersion (or time, RFC 3339) to copy.
    #[arg(long, requires = "into", conflicts_with = "check_workers")]
    pub until: Option<String>,
    /// The new data directory to write.
    #[arg(long, requires = "until")]
    pub into: Option<PathBuf>,
    /// Re-run today's scheduler and ReplicaSet controller against the state each recorded
    /// decision saw, and report the decisions that would now differ.
    #[arg(long)]
    pub check_workers: bool,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub data: DataDir,
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// `kubetrail replay`: true when it succeeded (and, for `--check-workers`, found nothing).
pub async fn replay(args: ReplayArgs) -> Result<bool, HistoryError> {
    if args.check_workers {
        let pool = open_readers(&args.data).await?;
        let report =
            crate::history::check::check_workers(&pool, &crate::history::check::today()).await?;
        match args.output {
            Output::Text => print(report.lines())?,
            Output::Json => print([report.to_json().to_string()])?,
        }
        return Ok(report.differences.is_empty());
    }
    let (Some(until), Some(into)) = (args.until.as_deref(), args.into.as_deref()) else {
        return Err(HistoryError::BadRequest(
            "pass --until <resourceVersion|time> --into <dir>, or --check-workers".into(),
        ));
    };
    let until = crate::history::replay::Until::parse(until)?;
    let source = args.data.database()?;
    let readers = open_readers(&args.data).await?;
    let replayed = crate::history::replay::replay_into(&source, readers, &until, into).await?;
    match args.output {
        Output::Text => print([
            format!(
                "replayed {} events (up to resourceVersion {}, {}) into {}",
                replayed.events,
                replayed.until_seq,
                replayed.until_time,
                into.display()
            ),
            format!(
                "serve it with: kubetrail serve --read-only --data-dir {}",
                into.display()
            ),
        ])?,
        Output::Json => print([replayed.to_json().to_string()])?,
    }
    Ok(true)
}

/// `kubetrail verify`: true when the projections match the log.
pub async fn verify(args: VerifyArgs) -> Result<bool, HistoryError> {
    let pool = open_readers(&args.data).await?;
    let report = crate::history::verify::verify(&pool).await?;
    match args.output {
        Output::Text => print(report.lines())?,
        Output::Json => print([report.to_json().to_string()])?,
    }
    Ok(report.ok())
}

/// `kubetrail snapshot`
pub async fn snapshot(args: DataDir) -> Result<(), HistoryError> {
    let (mut conn, readers) = open_writer(&args.database()?).await?;
    readers.close().await;
    match conn.take_snapshot().await? {
        Some((seq, rows)) => print([format!(
            "snapshot of {rows} objects at resourceVersion {seq}"
        )]),
        None => print([
            "the newest snapshot is already at the projections' resourceVersion".to_string(),
        ]),
    }
}
