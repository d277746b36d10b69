//! The host changes the service network needs, and nothing else: an interface of its own (a
//! bridge with no ports: it holds addresses and carries nothing, and needs no module beyond
//! the one Docker already uses) holding
//! the Service addresses in use (so a pod's connection to one is delivered to this host and
//! never routed on), and before it a `prohibit` route for the whole service range (so an
//! address of the range that is not assigned is refused here, never sent out by the default
//! route). Every change is recorded in `network.json` in the data directory before it is
//! made; `clean` undoes what a record names (at start-up, after a crash) and `teardown` undoes
//! this run's. The plans are pure; `run` carries them out with `ip`.

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// What one run of the server changed on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub interface: String,
    /// The service range, `a.b.c.d/n`.
    pub range: String,
}

/// An `ip` invocation, and whether its failure is expected (undoing what may not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub args: Vec<String>,
    pub may_fail: bool,
}

fn step(args: &[&str], may_fail: bool) -> Step {
    Step {
        args: args.iter().map(|a| a.to_string()).collect(),
        may_fail,
    }
}

/// The interface name for a data directory: `kt` and a hash of its path, so servers on one
/// machine never share one (at most 15 characters, as Linux allows).
pub fn interface_for(data_dir: &Path) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in data_dir.to_string_lossy().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("kt{hash:08x}")
}

/// Undo what `record` names: the interface (and with it its addresses), then the reject.
pub fn clean(record: &Record) -> Vec<Step> {
    vec![
        step(&["link", "del", &record.interface], true),
        step(&["route", "del", "prohibit", &record.range], true),
    ]
}

/// Set up: the reject for the whole range first (`add`, never `replace`: a range another
/// server rejects is not taken over), then the interface, up.
pub fn setup(record: &Record) -> Vec<Step> {
    vec![
        step(&["route", "add", "prohibit", &record.range], false),
        step(&["link", "add", &record.interface, "type", "bridge"], false),
        step(&["link", "set", &record.interface, "up"], false),
    ]
}

/// Undo the first `done` steps of `setup`, the last first.
pub fn undo_setup(record: &Record, done: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    if done >= 2 {
        steps.push(step(&["link", "del", &record.interface], true));
    }
    if done >= 1 {
        steps.push(step(&["route", "del", "prohibit", &record.range], true));
    }
    steps
}

/// Whether this host already rejects `range` (another server's service range).
pub fn rejected(range: &str) -> bool {
    std::process::Command::new("ip")
        .args(["route", "show", "type", "prohibit"])
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|line| line.split_whitespace().nth(1) == Some(range))
        })
        .unwrap_or(false)
}

pub fn assign(record: &Record, ip: Ipv4Addr) -> Step {
    step(
        &["addr", "add", &format!("{ip}/32"), "dev", &record.interface],
        false,
    )
}

pub fn release(record: &Record, ip: Ipv4Addr) -> Step {
    step(
        &["addr", "del", &format!("{ip}/32"), "dev", &record.interface],
        true,
    )
}

/// Carry out `steps` in order with `ip`; the first unexpected failure stops them, in words.
pub fn run(steps: &[Step]) -> Result<(), String> {
    for step in steps {
        let out = std::process::Command::new("ip")
            .args(&step.args)
            .output()
            .map_err(|e| format!("cannot run `ip` (iproute2): {e}"))?;
        if !out.status.success() && !step.may_fail {
            return Err(format!(
                "`ip {}` failed: {}",
                step.args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// Where a data directory records its host changes.
pub fn record_path(data_dir: &Path) -> PathBuf {
    data_dir.join("network.json")
}

/// The record a previous run left (after a crash: its changes are still there).
pub fn read_record(data_dir: &Path) -> Option<Record> {
    let text = std::fs::read_to_string(record_path(data_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn write_record(data_dir: &Path, record: &Record) -> Result<(), String> {
    let text = serde_json::to_string(record).map_err(|e| e.to_string())?;
    std::fs::write(record_path(data_dir), text)
        .map_err(|e| format!("cannot record the host's network changes: {e}"))
}

pub fn remove_record(data_dir: &Path) {
    let _ = std::fs::remove_file(record_path(data_dir));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            interface: "kt12345678".into(),
            range: "10.96.0.0/12".into(),
        }
    }

    #[test]
    fn the_reject_comes_before_the_interface_and_goes_after_it() {
        let setup = setup(&record());
        assert_eq!(setup[0].args, ["route", "add", "prohibit", "10.96.0.0/12"]);
        assert_eq!(
            setup[1].args,
            ["link", "add", "kt12345678", "type", "bridge"]
        );
        let clean = clean(&record());
        assert_eq!(clean[0].args, ["link", "del", "kt12345678"]);
        assert_eq!(clean[1].args, ["route", "del", "prohibit", "10.96.0.0/12"]);
        assert!(
            clean.iter().all(|s| s.may_fail),
            "undoing what is gone is fine"
        );
        // A setup that stopped after the route undoes the route only.
        let undo = undo_setup(&record(), 1);
        assert_eq!(undo.len(), 1);
        assert_eq!(undo[0].args, ["route", "del", "prohibit", "10.96.0.0/12"]);
        assert!(undo_setup(&record(), 0).is_empty());
    }

    #[test]
    fn interface_names_fit_linux_and_differ_per_data_directory() {
        let a = interface_for(Path::new("/tmp/a/.kubetrail"));
        let b = interface_for(Path::new("/tmp/b/.kubetrail"));
        assert!(a.len() <= 15 && a.starts_with("kt"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, interface_for(Path::new("/tmp/a/.kubetrail")));
    }

    #[test]
    fn addresses_are_single_hosts_on_the_interface() {
        let ip = Ipv4Addr::new(10, 96, 0, 10);
        assert_eq!(
            assign(&record(), ip).args,
            ["addr", "add", "10.96.0.10/32", "dev", "kt12345678"]
        );
        assert!(release(&record(), ip).may_fail);
    }
}
