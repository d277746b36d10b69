//! `kubetrail migrate --to`: the whole log of one database (a data directory's `state.db` or a
//! PostgreSQL database) copied into another that holds no events, in either direction: every
//! event as stored (seq for seq, sealed Secrets and recorded changes as they are, read and
//! appended a page at a time), the compactions' records, and the encryption keys the sealed
//! objects need (`store::carry_keys`). Snapshots are derived and not copied: the target's
//! projections are rebuilt, then checked as `verify` checks them and against the source's
//! fold of the log. No SQL here; the store reads and writes.

use super::HistoryError;
use super::verify::{self, KindDigest, Report};
use crate::model::ResourceKind;
use crate::store::{self, Database, ListQuery, Readers, StoreError};

/// Events read from the source and appended to the target in one transaction.
pub const PAGE: i64 = 1000;

/// Secrets listed at a time when checking that the target opens them.
const SECRETS_PAGE: usize = 500;

/// What a migration did and found.
#[derive(Debug, Clone, PartialEq)]
pub struct Migrated {
    /// Events copied, and the resourceVersions of the first and the last (0 when none).
    pub events: u64,
    pub first_seq: i64,
    pub last_seq: i64,
    /// Compactions recorded in the target as the source recorded them.
    pub compactions: usize,
    /// Secrets the target opens with the keys of its data directory.
    pub secrets: usize,
    /// `verify` on the target: its rebuilt projections against its log.
    pub report: Report,
    /// Whether the target's log folds to the state the source's does, kind by kind.
    pub same_state: bool,
}

impl Migrated {
    /// Whether the target is a faithful, verified copy.
    pub fn ok(&self) -> bool {
        self.report.ok() && self.same_state
    }
}

/// Refuse a target that holds any event or compaction, writing nothing to it: the log of an
/// existing cluster is never mixed with another. A SQLite file or a PostgreSQL database that
/// does not exist yet, or was never migrated, is empty.
pub async fn refuse_unless_empty(target: &Database) -> Result<(), HistoryError> {
    if let Database::Sqlite(path) = target
        && !path.exists()
    {
        return Ok(());
    }
    reach(target).await?;
    let readers = store::open_readers(target.clone())
        .await
        .map_err(|e| cannot_open(target, &e))?;
    let held = async {
        let last = readers.last_seq().await?;
        let compactions = readers.compactions().await?.len();
        Ok::<_, StoreError>((last, compactions))
    }
    .await;
    readers.close().await;
    match held {
        Ok((0, 0)) => Ok(()),
        Ok((last, _)) => Err(HistoryError::BadRequest(format!(
            "{target} already holds a log (up to resourceVersion {last}): migrate copies into a \
             database without events only, and changed nothing; give another --to (a new \
             directory, or an empty PostgreSQL database: createdb NAME)"
        ))),
        // A database kubetrail never migrated has no tables: nothing in it to keep.
        Err(e) if never_migrated(&e) => Ok(()),
        Err(e) => Err(cannot_open(target, &e)),
    }
}

/// Refuse a database that cannot be reached, at once and with the driver's reason.
pub async fn reach(database: &Database) -> Result<(), HistoryError> {
    store::reach(database)
        .await
        .map_err(|e| cannot_open(database, &e))
}

/// Whether `e` says the log's tables do not exist (a database kubetrail never opened).
fn never_migrated(e: &StoreError) -> bool {
    let text = reason(e);
    text.contains("no such table") || (text.contains("relation") && text.contains("does not exist"))
}

/// A store error with the driver's words, which `StoreError`'s own message leaves to its source.
fn reason(e: &StoreError) -> String {
    match std::error::Error::source(e) {
        Some(source) => source.to_string(),
        None => e.to_string(),
    }
}

fn cannot_open(database: &Database, e: &StoreError) -> HistoryError {
    match database {
        Database::Sqlite(path) => {
            HistoryError::Io(format!("cannot read {}: {}", path.display(), reason(e)))
        }
        Database::Postgres { .. } => HistoryError::Io(format!(
            "cannot connect to the PostgreSQL database {database}: {}; check that the server \
             runs and that the URL's host, port, user, password and database are right",
            reason(e)
        )),
    }
}

/// What the source holds to copy, read before anything is written.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The source's compactions, oldest first.
    compactions: Vec<store::Compaction>,
    /// The events it holds (its last seq less those its compactions removed).
    pub total: u64,
}

/// What `source` (read through `readers`) holds, refused when it holds no events.
pub async fn plan(source: &Database, readers: &Readers) -> Result<Plan, HistoryError> {
    let last = readers.last_seq().await?;
    if last == 0 {
        return Err(HistoryError::BadRequest(format!(
            "{source} holds no events: there is nothing to migrate"
        )));
    }
    // Secrets the source's own keys do not open could not be opened in the copy either.
    open_secrets(
        readers,
        "the source's Secrets do not open with the keys of its data directory",
    )
    .await?;
    let compactions = readers.compactions().await?;
    let removed: i64 = compactions.iter().map(|c| c.events_removed).sum();
    Ok(Plan {
        compactions,
        total: (last - removed).max(0) as u64,
    })
}

/// Copy the whole log of `source` (read through `readers`, which the caller opened and
/// closes; `plan` read what it holds) into `target`, which `refuse_unless_empty` accepted
/// and whose data directory exists: keys, compactions, then every event a page at a time
/// (`progress(copied, total)` after each), then the projections rebuilt and checked.
pub async fn migrate(
    source: &Database,
    readers: &Readers,
    plan: &Plan,
    target: &Database,
    mut progress: impl FnMut(u64, u64),
) -> Result<Migrated, HistoryError> {
    // Before the target is opened, which would make a key of its own when it has none.
    store::carry_keys(source, target).map_err(|e| {
        HistoryError::Io(format!(
            "the encryption keys could not be copied for {target}: {}",
            reason(&e)
        ))
    })?;
    let (mut writer, target_readers) = store::open(target.clone())
        .await
        .map_err(|e| HistoryError::Io(format!("cannot open {target}: {e:#}")))?;
    let copied = copy(
        readers,
        &mut writer,
        &plan.compactions,
        plan.total,
        &mut progress,
    )
    .await;
    let result = match copied {
        Ok((events, first_seq, last_seq)) => check(
            readers,
            &mut writer,
            &target_readers,
            events,
            first_seq,
            last_seq,
        )
        .await
        .map(|mut migrated| {
            migrated.compactions = plan.compactions.len();
            migrated
        }),
        Err(e) => Err(e),
    };
    target_readers.close().await;
    result.map_err(|e| partial(target, e))
}

/// The compactions, then every event, a page per transaction. Returns the events copied
/// and the first and last seq.
async fn copy(
    readers: &Readers,
    writer: &mut store::Writer,
    compactions: &[store::Compaction],
    total: u64,
    progress: &mut impl FnMut(u64, u64),
) -> Result<(u64, i64, i64), HistoryError> {
    if !compactions.is_empty() {
        writer.record_compactions(compactions).await?;
    }
    let (mut after, mut copied, mut first) = (0, 0u64, 0);
    loop {
        let page = readers.stored_events_after(after, PAGE).await?;
        let (Some(head), Some(tail)) = (page.first(), page.last()) else {
            break;
        };
        if first == 0 {
            first = head.row.seq;
        }
        after = tail.row.seq;
        writer.append_stored(&page).await?;
        copied += page.len() as u64;
        progress(copied, total.max(copied));
    }
    Ok((copied, first, after))
}

/// Rebuild the target's projections, verify them, compare its fold of the log with the
/// source's, and open its Secrets.
async fn check(
    source: &Readers,
    writer: &mut store::Writer,
    target: &Readers,
    events: u64,
    first_seq: i64,
    last_seq: i64,
) -> Result<Migrated, HistoryError> {
    writer.rebuild().await?;
    let report = verify::verify(target).await?;
    let theirs = verify::verify(source).await?;
    let folds =
        |r: &Report| -> Vec<KindDigest> { r.kinds.iter().map(|(log, _)| log.clone()).collect() };
    let same_state = folds(&report) == folds(&theirs);
    let secrets = open_secrets(
        target,
        "the copied Secrets do not open with the keys of the target's data directory",
    )
    .await?;
    Ok(Migrated {
        events,
        first_seq,
        last_seq,
        compactions: 0,
        secrets,
        report,
        same_state,
    })
}

/// Every Secret of a log, opened with its data directory's keys (`failed` says whose when one
/// does not open). Returns how many.
async fn open_secrets(readers: &Readers, failed: &str) -> Result<usize, HistoryError> {
    let mut query = ListQuery {
        limit: Some(SECRETS_PAGE),
        ..ListQuery::default()
    };
    let mut count = 0;
    loop {
        let page = readers
            .list(ResourceKind::Secret, &query, None)
            .await
            .map_err(|e| HistoryError::Io(format!("{failed}: {}", reason(&e))))?;
        count += page.items.len();
        match page.continue_after {
            Some(after) => query.start_after = Some(after),
            None => return Ok(count),
        }
    }
}

/// A failure once the target was written to: it holds part of the log, and says so.
fn partial(target: &Database, e: HistoryError) -> HistoryError {
    let what_next = match target {
        Database::Sqlite(path) => format!(
            "remove {} and migrate again",
            path.parent().unwrap_or(path).display()
        ),
        Database::Postgres { .. } => {
            "drop and create the database again (dropdb NAME; createdb NAME) and migrate again"
                .to_string()
        }
    };
    let message = match &e {
        HistoryError::Database(d) => format!("database error: {d}"),
        other => other.to_string(),
    };
    HistoryError::Io(format!(
        "migrating into {target} failed: {message}; {target} may hold part of the log: \
         {what_next}"
    ))
}
