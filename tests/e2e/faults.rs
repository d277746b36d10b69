//! Faults with the real binary. `kill -9` at a random moment under 32 concurrent writers, ten
//! times on one data directory; and a data directory on a 20 MB tmpfs written until the disk
//! is full. In both, no write the server acknowledged is lost, and `kubetrail verify` finds the
//! projections equal to the log.

use crate::support::binary::{Server, assert_verify_clean, tail};
use crate::support::http::{answer, resource_version};
use crate::support::turn;
use rand::RngExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server has acknowledged about an object.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Acked {
    /// Written at this resourceVersion: it must exist at it or later.
    Present(i64),
    /// Deleted: it must stay gone.
    Deleted,
    /// A create or delete was in flight when the server died: either outcome is right.
    InFlight,
}

/// Every object the writers touched, by path, with what was acknowledged about it.
type Ledger = Arc<Mutex<HashMap<String, Acked>>>;

fn record(ledger: &Ledger, path: &str, acked: Acked) {
    ledger
        .lock()
        .expect("ledger")
        .insert(path.to_string(), acked);
}

/// An object a writer created and may update or delete.
struct Owned {
    path: String,
    object: Value,
}

/// One writer: creates namespaces and pods, updates them with their resourceVersion, deletes
/// pods, until the server stops answering. Returns the answers that were neither a success
/// nor a lost connection.
async fn writer(server: Arc<Server>, ledger: Ledger, round: usize, id: usize) -> Vec<String> {
    let mut unexpected = Vec::new();
    let mut owned: Vec<Owned> = Vec::new();
    let mut n = 0;
    loop {
        n += 1;
        let roll = rand::rng().random_range(0..100);
        let pick = (!owned.is_empty()).then(|| rand::rng().random_range(0..owned.len()));
        let (method, path, body, object_path, is_delete) = match (roll, pick) {
            (0..30, Some(i)) => {
                // Update with the acknowledged resourceVersion: a new label value.
                let mut object = owned[i].object.clone();
                object["metadata"]["labels"]["step"] = json!(n.to_string());
                let path = owned[i].path.clone();
                (
                    reqwest::Method::PUT,
                    path.clone(),
                    Some(object),
                    path,
                    false,
                )
            }
            (30..45, Some(i)) if owned[i].path.contains("/pods/") => {
                let path = owned[i].path.clone();
                (reqwest::Method::DELETE, path.clone(), None, path, true)
            }
            (45..60, _) => {
                let name = format!("fault-r{round}-w{id}-{n}");
                let object = json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "labels": {"writer": id.to_string()}}});
                let path = format!("/api/v1/namespaces/{name}");
                (
                    reqwest::Method::POST,
                    "/api/v1/namespaces".to_string(),
                    Some(object),
                    path,
                    false,
                )
            }
            _ => {
                let name = format!("p-r{round}-w{id}-{n}");
                let object = json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "labels": {"writer": id.to_string()}},
                    "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}});
                let path = format!("/api/v1/namespaces/default/pods/{name}");
                (
                    reqwest::Method::POST,
                    "/api/v1/namespaces/default/pods".to_string(),
                    Some(object),
                    path,
                    false,
                )
            }
        };
        let creating = method == reqwest::Method::POST;
        // Before the answer, a create or delete may or may not be committed; an update's
        // earlier version is acknowledged either way.
        let before = ledger.lock().expect("ledger").get(&object_path).copied();
        if creating || is_delete {
            record(&ledger, &object_path, Acked::InFlight);
        }
        let mut request = server.request(method.clone(), &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        match answer(request).await {
            Ok((code, object)) if (200..300).contains(&code) => {
                if is_delete {
                    record(&ledger, &object_path, Acked::Deleted);
                    owned.retain(|o| o.path != object_path);
                } else {
                    record(
                        &ledger,
                        &object_path,
                        Acked::Present(resource_version(&object)),
                    );
                    match owned.iter_mut().find(|o| o.path == object_path) {
                        Some(o) => o.object = object,
                        None => owned.push(Owned {
                            path: object_path,
                            object,
                        }),
                    }
                }
            }
            Ok((409, _)) if method == reqwest::Method::PUT => {
                // The scheduler wrote the pod too (it cannot place it): read it again, as
                // any client does after a conflict.
                match answer(server.request(reqwest::Method::GET, &object_path)).await {
                    Ok((200, object)) => {
                        record(
                            &ledger,
                            &object_path,
                            Acked::Present(resource_version(&object)),
                        );
                        if let Some(o) = owned.iter_mut().find(|o| o.path == object_path) {
                            o.object = object;
                        }
                    }
                    Ok((code, object)) => {
                        unexpected.push(format!("GET {object_path}: {code} {object}"));
                    }
                    Err(_) => break,
                }
            }
            Ok((code, object)) => {
                unexpected.push(format!("{method} {path}: {code} {object}"));
                match before {
                    Some(acked) => record(&ledger, &object_path, acked),
                    None => {
                        ledger.lock().expect("ledger").remove(&object_path);
                    }
                }
            }
            // The server is gone: this write's outcome is unknown, and so is nothing else.
            Err(_) => break,
        }
    }
    unexpected
}

/// Every acknowledged object is there at its acknowledged resourceVersion or later; every
/// acknowledged delete stayed deleted. Writes in flight at the kill are settled to what the
/// server now holds.
async fn assert_nothing_acknowledged_lost(server: &Server, ledger: &Ledger, round: usize) {
    let mut stored: HashMap<String, i64> = HashMap::new();
    for (list, prefix) in [
        ("/api/v1/namespaces", "/api/v1/namespaces/"),
        (
            "/api/v1/namespaces/default/pods",
            "/api/v1/namespaces/default/pods/",
        ),
    ] {
        let (code, body) = server.get(list).await;
        assert_eq!(code, 200, "list {list}: {body}");
        for item in body["items"].as_array().expect("items") {
            let name = item["metadata"]["name"].as_str().expect("name");
            stored.insert(format!("{prefix}{name}"), resource_version(item));
        }
    }
    let mut ledger = ledger.lock().expect("ledger");
    let mut lost = Vec::new();
    for (path, acked) in ledger.iter_mut() {
        let now = stored.get(path).copied();
        match (*acked, now) {
            (Acked::Present(rv), Some(found)) if found >= rv => {}
            (Acked::Deleted, None) | (Acked::InFlight, _) => {}
            (expected, found) => lost.push(format!("{path}: acked {expected:?}, found {found:?}")),
        }
        *acked = match now {
            Some(rv) => Acked::Present(rv),
            None => Acked::Deleted,
        };
    }
    assert!(
        lost.is_empty(),
        "round {round}: acknowledged writes lost: {lost:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_32_writers_loses_no_acknowledged_write() {
    // Kills timed against 32 writers: nothing else runs beside them.
    turn::alone();
    let dir = tempfile::tempdir().expect("data dir");
    let logs = tempfile::tempdir().expect("log dir");
    let log = logs.path().join("server.log");
    let ledger: Ledger = Arc::default();
    let started = Instant::now();
    let mut acknowledged = 0;
    for round in 0..10 {
        let server = Arc::new(Server::start(dir.path(), &log));
        if round > 0 {
            assert_nothing_acknowledged_lost(&server, &ledger, round - 1).await;
        }
        let writers: Vec<_> = (0..32)
            .map(|id| tokio::spawn(writer(server.clone(), ledger.clone(), round, id)))
            .collect();
        let load = Duration::from_millis(rand::rng().random_range(300..2500));
        tokio::time::sleep(load).await;
        server.sigkill();
        let mut unexpected = Vec::new();
        for w in writers {
            unexpected.extend(w.await.expect("writer task"));
        }
        assert!(
            unexpected.is_empty(),
            "round {round}: answers that were neither a success nor a lost connection: {unexpected:#?}"
        );
        match Arc::try_unwrap(server) {
            Ok(server) => server.kill_9(),
            Err(_) => panic!("every writer has let go of the server"),
        }
        let ledger_size = ledger.lock().expect("ledger").len();
        assert!(
            ledger_size > acknowledged,
            "round {round}: the writers wrote something before the kill"
        );
        acknowledged = ledger_size;
        // The directory exactly as the kill left it: the log and projections agree.
        assert_verify_clean(dir.path());
    }
    let server = Server::start(dir.path(), &log);
    assert_nothing_acknowledged_lost(&server, &ledger, 9).await;
    drop(server);
    assert_verify_clean(dir.path());
    eprintln!(
        "10 kills under 32 writers: {acknowledged} objects checked in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// A tmpfs mounted for the test; unmounted when dropped, even when the test fails.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Something still holds a file open: detach it now, freed when released.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// A pod with a large annotation (annotations may total 256 KiB), so a few fill the disk.
fn big_pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "annotations": {"padding": "x".repeat(200 * 1024)}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})
}

fn small_pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_refuses_writes_with_a_status_keeps_reads_and_recovers() {
    // A disk filled by four writers: nothing else runs beside them.
    turn::alone();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a tmpfs to fill needs root");
        return;
    }
    let mount_point = tempfile::tempdir().expect("mount point");
    let logs = tempfile::tempdir().expect("log dir");
    let log = logs.path().join("server.log");
    let tmpfs = match Tmpfs::mount(mount_point.path(), "20m") {
        Ok(tmpfs) => tmpfs,
        Err(e) => {
            eprintln!("skipped: mount -t tmpfs failed: {e}");
            return;
        }
    };
    // Padding to delete later, freeing space the way an operator would.
    let padding = tmpfs.path.join("padding");
    std::fs::write(&padding, vec![0u8; 6 * 1024 * 1024]).expect("padding");
    let dir = tmpfs.path.join("data");
    let server = Arc::new(Server::start(&dir, &log));

    // Four writers of large pods, each until it has been refused three times.
    let writers: Vec<_> = (0..4)
        .map(|id| {
            let server = server.clone();
            tokio::spawn(async move {
                let mut acked: Vec<(String, i64)> = Vec::new();
                let mut refusals: Vec<Value> = Vec::new();
                for n in 0..200 {
                    let name = format!("big-{id}-{n}");
                    let request = server
                        .request(reqwest::Method::POST, "/api/v1/namespaces/default/pods")
                        .json(&big_pod(&name));
                    let (code, body) = answer(request)
                        .await
                        .unwrap_or_else(|e| panic!("a write on a full disk is answered: {e}"));
                    match code {
                        201 => acked.push((name, resource_version(&body))),
                        _ => {
                            refusals.push(body);
                            if refusals.len() == 3 {
                                break;
                            }
                        }
                    }
                }
                (acked, refusals)
            })
        })
        .collect();
    let mut acked = Vec::new();
    let mut refusals = Vec::new();
    for w in writers {
        let (a, r) = w.await.expect("writer");
        acked.extend(a);
        refusals.extend(r);
    }
    assert!(
        !refusals.is_empty(),
        "the disk filled up: {} writes acknowledged",
        acked.len()
    );
    assert!(!acked.is_empty(), "writes succeeded before the disk filled");
    for refusal in &refusals {
        assert_eq!(refusal["kind"], "Status", "a Status: {refusal}");
        assert_eq!(refusal["status"], "Failure", "{refusal}");
        let code = refusal["code"].as_i64().unwrap_or_default();
        assert!(code == 507 || code == 500, "507 or 500: {refusal}");
        let message = refusal["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("full") && message.contains("free"),
            "the message says the disk is full and what to do: {refusal}\n{}",
            tail(&log)
        );
    }

    // Reads go on: each acknowledged pod, and the list.
    let check_acked = |server: Arc<Server>, acked: Vec<(String, i64)>| async move {
        for (name, rv) in &acked {
            let (code, body) = server
                .get(&format!("/api/v1/namespaces/default/pods/{name}"))
                .await;
            assert_eq!(code, 200, "acknowledged pod {name}: {body}");
            assert!(
                resource_version(&body) >= *rv,
                "pod {name} at {rv} or later"
            );
        }
        let (code, body) = server.get("/api/v1/namespaces/default/pods").await;
        assert_eq!(code, 200, "list on a full disk: {body}");
        let listed = body["items"].as_array().map_or(0, Vec::len);
        assert!(listed >= acked.len(), "every acknowledged pod is listed");
    };
    check_acked(server.clone(), acked.clone()).await;

    // Free space: writes resume.
    std::fs::remove_file(&padding).expect("padding removed");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    loop {
        n += 1;
        let name = format!("after-{n}");
        let request = server
            .request(reqwest::Method::POST, "/api/v1/namespaces/default/pods")
            .json(&small_pod(&name));
        let (code, body) = answer(request).await.expect("answered");
        if code == 201 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes resume once space is freed; still {code}: {body}\n{}",
            tail(&log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, body) = answer(
        server
            .request(reqwest::Method::POST, "/api/v1/namespaces")
            .json(&json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "after-the-disk-filled"}})),
    )
    .await
    .expect("answered");
    assert_eq!(code, 201, "a normal write after space was freed: {body}");
    let acked_count = acked.len();
    check_acked(server.clone(), acked).await;
    let (code, body) = server.get("/readyz").await;
    assert_eq!(code, 200, "ready: {body}");

    match Arc::try_unwrap(server) {
        Ok(server) => server.kill_9(),
        Err(_) => panic!("every writer has let go of the server"),
    }
    assert_verify_clean(&dir);
    eprintln!(
        "full disk: {} writes acknowledged, {} refused, writes resumed after {n} tries",
        acked_count,
        refusals.len()
    );
    drop(tmpfs);
}
