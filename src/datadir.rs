//! The data directory's protection: created 0700 with every file in it 0600 from the moment it
//! exists, refused when another user owns it or others may write to it, and held by one server
//! at a time through `serve.lock`. Touches only modes and the lock file, never their contents.

use anyhow::{Context, bail};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The lock file a server holds for as long as it serves a data directory.
pub const LOCK_FILE: &str = "serve.lock";

/// Mode of the data directory: only its owner may list or enter it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in it: the database, the CA and serving keys, the token and the
/// kubeconfig are all secrets or hold them.
pub const FILE_MODE: u32 = 0o600;

/// Create `dir` (0700) or check an existing one: it must belong to this user and be writable
/// by nobody else; looser read modes on it and its files are tightened.
pub fn prepare(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let meta = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    // SAFETY: geteuid only reads this process's effective user id.
    let me = unsafe { libc::geteuid() };
    if let Some(problem) = judge(meta.uid(), meta.mode(), me) {
        bail!(
            "refusing to use the data directory {}: {problem}",
            dir.display()
        );
    }
    if meta.mode() & 0o777 != DIR_MODE {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
            .with_context(|| format!("restricting {} to its owner", dir.display()))?;
        tracing::info!(dir = %dir.display(), "data directory restricted to mode 0700");
    }
    tighten_files(dir, me)
}

/// Why a data directory with this owner and mode must not be used, if it must not: another
/// user could read our secrets or plant files (a database, a CA key) we would then trust.
pub fn judge(owner: u32, mode: u32, me: u32) -> Option<String> {
    if owner != me {
        return Some(format!(
            "it is owned by uid {owner}, not by this user (uid {me}); run kubetrail as its \
             owner or pass another --data-dir"
        ));
    }
    if mode & 0o022 != 0 {
        return Some(format!(
            "its group or other users may write to it (mode {:04o}); check what it holds, \
             then run `chmod 700` on it",
            mode & 0o7777
        ));
    }
    None
}

/// Files left readable by others (by an older version, or copied in) become 0600. Links and
/// other users' files are left alone: chmod would follow a link out of the directory. A file
/// that disappears while the directory is read (SQLite removes a closing database's `-wal` and
/// `-shm`) has nothing left to restrict.
fn tighten_files(dir: &Path, me: u32) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(gone) if gone.kind() == std::io::ErrorKind::NotFound => continue,
            Err(other) => {
                return Err(other).with_context(|| format!("reading {}", entry.path().display()));
            }
        };
        if meta.is_file() && meta.uid() == me && meta.mode() & 0o077 != 0 {
            match std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(FILE_MODE))
            {
                Err(gone) if gone.kind() == std::io::ErrorKind::NotFound => {}
                done => done.with_context(|| format!("restricting {}", entry.path().display()))?,
            }
        }
    }
    Ok(())
}

/// Write `contents` to `path`, a file only its owner may read from the moment it exists (an
/// existing file is restricted before anything is written into it).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Create `path` empty and private unless it exists. SQLite gives a database's `-wal` and
/// `-shm` files the mode of the database file, so creating it first makes all three private.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map(|_| ())
}

/// A data directory held by this process. The lock is the kernel's (`flock`): it ends when the
/// file is closed, by drop or by the process dying, so a crash leaves nothing to clean up.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Take `dir`'s lock and write our pid in it, or fail naming the pid of the process that holds
/// it: two writers on one log would each append with their own idea of the next `seq`.
pub fn lock(dir: &Path) -> anyhow::Result<DirLock> {
    use std::os::fd::AsRawFd;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: flock on a descriptor this function owns; no memory is passed.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another process".to_string(),
                pid => format!("the kubetrail process with pid {pid}"),
            };
            bail!(
                "the data directory {} is in use by {holder} (it holds {}); stop that server \
                 or pass another --data-dir",
                dir.display(),
                path.display()
            );
        }
        return Err(error).with_context(|| format!("locking {}", path.display()));
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    file.sync_all()?;
    Ok(DirLock { _file: file, path })
}

/// The pid of the server holding `dir`'s lock, when one does (the lock is tried shared and let
/// go at once: nothing is changed).
pub fn holder(dir: &Path) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let mut file = std::fs::File::open(dir.join(LOCK_FILE)).ok()?;
    // SAFETY: flock on a descriptor this function owns; no memory is passed.
    let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
    if free {
        return None;
    }
    let mut pid = String::new();
    file.read_to_string(&mut pid).ok()?;
    pid.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn the_holder_of_the_lock_is_named_while_it_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let lock = lock(dir.path()).unwrap();
        assert_eq!(holder(dir.path()), Some(std::process::id()));
        drop(lock);
        assert_eq!(holder(dir.path()), None);
    }

    #[test]
    fn a_new_data_directory_is_private() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a/b");
        prepare(&dir).unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        write_private(&dir.join("secret"), b"x").unwrap();
        assert_eq!(mode_of(&dir.join("secret")), 0o600);
        create_private(&dir.join("db")).unwrap();
        assert_eq!(mode_of(&dir.join("db")), 0o600);
    }

    #[test]
    fn loose_read_modes_are_tightened_on_the_directory_and_its_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.path().join("kubeconfig");
        std::fs::write(&file, "token").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare(dir.path()).unwrap();
        assert_eq!(mode_of(dir.path()), 0o700);
        assert_eq!(mode_of(&file), 0o600);
    }

    #[test]
    fn an_existing_file_rewritten_privately_loses_its_loose_mode_first() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kubeconfig");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&file, b"new").unwrap();
        assert_eq!(mode_of(&file), 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
    }

    #[test]
    fn a_directory_others_may_write_or_another_user_owns_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = prepare(dir.path()).unwrap_err().to_string();
        assert!(error.contains("may write to it (mode 0777)"), "{error}");
        assert_eq!(
            mode_of(dir.path()),
            0o777,
            "a refused directory is left as it is"
        );

        assert!(judge(1000, 0o40700, 1000).is_none());
        assert!(judge(1000, 0o40755, 1000).is_none());
        assert!(judge(1000, 0o40770, 1000).unwrap().contains("mode 0770"));
        assert!(judge(0, 0o40700, 1000).unwrap().contains("owned by uid 0"));
    }

    #[test]
    fn a_directory_owned_by_another_user_is_refused() {
        // SAFETY: geteuid reads this process's user id.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: chown to another user needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
        let error = prepare(dir.path()).unwrap_err().to_string();
        assert!(error.contains("owned by uid 65534"), "{error}");
    }

    #[test]
    fn the_lock_is_held_once_and_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        let error = lock(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains(&format!("pid {}", std::process::id())),
            "{error}"
        );
        assert_eq!(mode_of(held.path()), 0o600);
        drop(held);
        lock(dir.path()).expect("free again once dropped");
    }
}
