//! A PostgreSQL server for the tests of one process, and a fresh database of it for each
//! test: the store's own tests (`src/store/tests.rs` includes this file) and the end-to-end
//! suites share it.
//!
//! The server is the one `KUBETRAIL_TEST_POSTGRES` names (a URL whose user may create
//! databases), or else one started here on first use: Debian's PostgreSQL 15 (`initdb`,
//! `pg_ctl`; as root under `runuser -u postgres`, since it refuses to run as root) in a
//! temporary directory, on a Unix socket there only, stopped when the process exits. Without
//! it a test fails saying what to install: it is never skipped.

use sqlx::Connection as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Debian's PostgreSQL 15 binaries (`apt-get install postgresql`).
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// The server's URL (of its `postgres` database), or why there is none.
static SERVER: OnceLock<Result<String, String>> = OnceLock::new();

/// The directory of the server started here (data, socket, log), for the stop at exit.
static STARTED: OnceLock<PathBuf> = OnceLock::new();

/// A new, empty database (`t_<random>`) of the test server; its URL.
pub async fn new_database() -> String {
    new_database_with("").await
}

/// A new database made with `options` (what follows `CREATE DATABASE name`); its URL.
pub async fn new_database_with(options: &str) -> String {
    let admin = match SERVER.get_or_init(start) {
        Ok(url) => url.clone(),
        Err(why) => panic!("{why}"),
    };
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL ({admin}): {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} {options}"
    )))
    .execute(&mut conn)
    .await
    .expect("a database for the test");
    let _ = conn.close().await;
    with_database(&admin, &name)
}

/// `url` with its database replaced by `name` (the query, such as the socket's `host`, kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (scheme, rest) = base.split_once("://").expect("a URL");
    let authority = rest.split('/').next().unwrap_or_default();
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{scheme}://{authority}/{name}{query}")
}

/// `KUBETRAIL_TEST_POSTGRES`, or a server started here, once per process.
fn start() -> Result<String, String> {
    if let Ok(url) = std::env::var("KUBETRAIL_TEST_POSTGRES") {
        return Ok(url);
    }
    let initdb = Path::new(BIN).join("initdb");
    if !initdb.exists() {
        return Err(format!(
            "the PostgreSQL tests need PostgreSQL 15's server binaries ({} is missing): \
             apt-get install postgresql (or set KUBETRAIL_TEST_POSTGRES to a server's URL)",
            initdb.display()
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("kubetrail-pg-")
        .tempdir()
        .map_err(|e| format!("a directory for the test PostgreSQL: {e}"))?
        .keep();
    // As root the server runs as `postgres` (it refuses to run as root), in a directory that
    // user owns.
    let as_root = unsafe { libc::geteuid() } == 0;
    if as_root {
        run(Command::new("chown")
            .arg("-R")
            .arg("postgres:postgres")
            .arg(&dir))?;
    }
    let data = dir.join("data");
    let log = dir.join("server.log");
    run(as_server(as_root, &initdb)
        .args([
            "--no-sync",
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
        ])
        .args(["--no-locale", "--pgdata"])
        .arg(&data))?;
    // No TCP at all (`listen_addresses` empty): only the Unix socket in `dir`.
    let options = format!(
        "-c listen_addresses='' -k {} -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=400",
        dir.display()
    );
    run(as_server(as_root, &Path::new(BIN).join("pg_ctl"))
        .args(["start", "--wait", "--silent", "-D"])
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .arg("-o")
        .arg(options))
    .map_err(|e| {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        format!("{e}\n{log}")
    })?;
    let _ = STARTED.set(dir.clone());
    // SAFETY: `stop` is an `extern "C" fn()` that touches only statics set before this.
    unsafe { libc::atexit(stop) };
    Ok(format!(
        "postgres://postgres@localhost/postgres?host={}",
        dir.display()
    ))
}

/// `program`, run as the server's user when the tests run as root.
fn as_server(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("running {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// At the process's exit: stop the server at once (its data is thrown away) and remove its
/// directory. `atexit` runs it whether the tests passed or failed (the test harness ends with
/// `exit`); a killed process leaves the server running, in a directory named `kubetrail-pg-*`
/// under the temporary directory.
extern "C" fn stop() {
    let Some(dir) = STARTED.get() else {
        return;
    };
    let as_root = unsafe { libc::geteuid() } == 0;
    let _ = run(as_server(as_root, &Path::new(BIN).join("pg_ctl"))
        .args(["stop", "--silent", "-m", "immediate", "-D"])
        .arg(dir.join("data")));
    let _ = std::fs::remove_dir_all(dir);
}
