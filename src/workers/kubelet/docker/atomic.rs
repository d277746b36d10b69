//! Writing a volume's files as Kubernetes' AtomicWriter does (pkg/volume/util/atomic_writer.go),
//! so a container reading them never sees half an update: the payload goes into a new
//! timestamped directory (`..2026_01_31_12_00_00.123456789`), a `..data_tmp` symlink to it is
//! renamed over `..data` (one atomic rename), each top-level name the user sees is a symlink
//! into `..data`, and then the previous directory and names no longer in the payload go. An
//! unchanged payload writes nothing.

use super::volumes::Payload;
use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// The payload `..data` holds now, when it holds exactly `payload` (contents and modes).
fn unchanged(dir: &Path, payload: &Payload) -> bool {
    let data = dir.join(DATA);
    let Ok(target) = std::fs::read_link(&data) else {
        return false;
    };
    let current = dir.join(target);
    let mut held = BTreeSet::new();
    if walk(&current, &current, &mut held).is_err() {
        return false;
    }
    if held.len() != payload.len() || payload.keys().any(|k| !held.contains(k)) {
        return false;
    }
    payload.iter().all(|(path, file)| {
        let at = current.join(path);
        std::fs::metadata(&at).is_ok_and(|m| m.permissions().mode() & 0o777 == file.mode)
            && std::fs::read(&at).is_ok_and(|d| d == file.data)
    })
}

/// Every file under `dir`, as paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.insert(relative.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// The name of a new timestamped directory.
fn timestamped() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "..{}.{:09}",
        now.strftime("%Y_%m_%d_%H_%M_%S"),
        now.subsec_nanosecond()
    )
}

/// Make `dir` hold `payload`; returns whether anything was written.
pub fn write(dir: &Path, payload: &Payload) -> io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    // Readable to whichever user the container runs as; the data directory above stays
    // private on the host, and bind mounts do not need to traverse it.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    if unchanged(dir, payload) {
        return Ok(false);
    }
    let previous = std::fs::read_link(dir.join(DATA)).ok();
    let mut name = timestamped();
    while dir.join(&name).exists() {
        name.push('_');
    }
    let fresh = dir.join(&name);
    std::fs::create_dir(&fresh)?;
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o755))?;
    for (path, file) in payload {
        let at = fresh.join(path);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&at, &file.data)?;
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(file.mode))?;
    }
    let tmp = dir.join(DATA_TMP);
    let _ = std::fs::remove_file(&tmp);
    symlink(&name, &tmp)?;
    std::fs::rename(&tmp, dir.join(DATA))?;
    // The names the user sees: one symlink per top-level entry of the payload.
    let top: BTreeSet<&str> = payload.keys().filter_map(|p| p.split('/').next()).collect();
    for entry in &top {
        let link = dir.join(entry);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(format!("{DATA}/{entry}"), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with("..") {
            continue;
        }
        if !top.contains(file_name.as_str()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    // Only a timestamped directory of ours goes: a plain name right below `dir`.
    if let Some(previous) = previous.as_deref().and_then(Path::to_str)
        && previous != name
        && previous.starts_with("..")
        && previous.len() > 2
        && !previous.contains('/')
        && previous != DATA
        && previous != DATA_TMP
    {
        let _ = std::fs::remove_dir_all(dir.join(previous));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::super::volumes::File;
    use super::*;

    fn payload(entries: &[(&str, &str, u32)]) -> Payload {
        entries
            .iter()
            .map(|(p, d, m)| {
                (
                    p.to_string(),
                    File {
                        data: d.as_bytes().to_vec(),
                        mode: *m,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn updates_swap_the_data_link_and_user_names_follow_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("vol");
        let first = payload(&[("a", "1", 0o644), ("conf/b", "2", 0o600)]);
        assert!(write(&root, &first).unwrap());
        assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(root.join("conf/b")).unwrap(), "2");
        assert_eq!(
            std::fs::read_link(root.join("a")).unwrap(),
            Path::new("..data/a")
        );
        let mode = std::fs::metadata(root.join("conf/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let before = std::fs::read_link(root.join(DATA)).unwrap();
        // The same payload again writes nothing.
        assert!(!write(&root, &first).unwrap());
        // An update: a new directory, `..data` moved to it, the old one and `conf` gone.
        let second = payload(&[("a", "updated", 0o644), ("c", "3", 0o644)]);
        assert!(write(&root, &second).unwrap());
        let after = std::fs::read_link(root.join(DATA)).unwrap();
        assert_ne!(before, after);
        assert!(!root.join(&before).exists());
        assert_eq!(std::fs::read_to_string(root.join("a")).unwrap(), "updated");
        assert_eq!(std::fs::read_to_string(root.join("c")).unwrap(), "3");
        assert!(std::fs::symlink_metadata(root.join("conf")).is_err());
        let mut names: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("..2"))
            .collect();
        names.sort();
        assert_eq!(names, vec!["..data", "a", "c"]);
    }
}
