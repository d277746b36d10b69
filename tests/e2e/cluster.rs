//! Several servers on one PostgreSQL log: writes through all three land in one order, which a
//! watch on each delivers event by event (same sequence, no gap, no duplicate); updates of one
//! object sent to different servers with the same resourceVersion: exactly one wins, the
//! others get 409; `verify` finds the log and projections clean afterwards. The servers share
//! the first one's keys (its data directory copied, as an operator hands them out).

use crate::support::binary::{Serve, Server, kubetrail, run_command};
use crate::support::postgres;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// `kubetrail serve` on `dir` with its log at `url`, with `args` more, stderr into `log`.
fn start(dir: &Path, url: &str, log: &Path, args: &[&str]) -> Server {
    let mut all = vec!["--no-docker-node", "--database", url];
    all.extend(args);
    Serve::new(dir).args(&all).log_to(log).start()
}

/// Copy the first server's data directory (keys, certificates, token) into `to`, as one hands
/// it to another server: not its lock or kubeconfig.
fn copy_keys(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("data dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        let kept = !matches!(name.to_str(), Some("serve.lock" | "kubeconfig"));
        if kept && entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), to.join(&name)).expect("copy");
        }
    }
}

/// Three servers on a new database, the first with `first_args`; their directories and log.
struct Three {
    servers: Vec<Server>,
    url: String,
    dirs: Vec<tempfile::TempDir>,
    log: std::path::PathBuf,
}

async fn three(first_args: &[&str]) -> Three {
    let url = postgres::new_database().await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let log = dirs[0].path().join("servers.log");
    let mut servers = vec![start(dirs[0].path(), &url, &log, first_args)];
    for dir in &dirs[1..] {
        copy_keys(dirs[0].path(), dir.path());
        servers.push(start(dir.path(), &url, &log, &[]));
    }
    Three {
        servers,
        url,
        dirs,
        log,
    }
}

/// (type, name, resourceVersion) of each event a watch of `path` delivers until `want` of the
/// objects named `prefix*` arrived (or 60 s).
async fn watch(
    server: &Server,
    path: &str,
    prefix: &str,
    want: usize,
) -> Vec<(String, String, i64)> {
    let mut response = server
        .request(Method::GET, path)
        .timeout(Duration::from_secs(90))
        .send()
        .await
        .expect("watch");
    assert_eq!(response.status(), 200, "{path}");
    let mut seen = Vec::new();
    let mut buffer = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < want {
        let chunk = match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            _ => break,
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let event: Value = serde_json::from_slice(&line).expect("a watch event");
            let object = &event["object"]["metadata"];
            let name = object["name"].as_str().unwrap_or("").to_string();
            if !name.starts_with(prefix) {
                continue;
            }
            let rv = object["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            seen.push((event["type"].as_str().unwrap_or("").to_string(), name, rv));
        }
    }
    seen
}

fn config_map(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": "default"}, "data": {"v": value}})
}

/// POST/PUT `body` to `path` on `server`: (status, body).
async fn send(server: &Server, method: Method, path: &str, body: &Value) -> (u16, Value) {
    let response = server
        .request(method, path)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn verify_clean(three: &Three) {
    let mut command = kubetrail(&["verify", "--database", &three.url, "--data-dir"]);
    command.arg(three.dirs[0].path());
    let (code, out, err) = run_command(command).await;
    assert_eq!(code, 0, "verify: {out}{err}");
}

#[tokio::test]
async fn writes_through_three_servers_reach_every_servers_watch_in_one_order() {
    let three = three(&[]).await;
    let (_, list) = three.servers[0]
        .get("/api/v1/namespaces/default/configmaps")
        .await;
    let from = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    const EACH: usize = 40;
    let path = format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={from}");
    let watches = three
        .servers
        .iter()
        .map(|server| watch(server, &path, "cm-", 3 * EACH));
    let writes = three
        .servers
        .iter()
        .enumerate()
        .map(|(i, server)| async move {
            let path = "/api/v1/namespaces/default/configmaps";
            for n in 0..EACH {
                let name = format!("cm-{i}-{n:02}");
                let (status, body) =
                    send(server, Method::POST, path, &config_map(&name, "1")).await;
                assert_eq!(status, 201, "{name} through server {i}: {body}");
            }
        });
    let (seen, ()) = tokio::join!(futures_util::future::join_all(watches), async {
        futures_util::future::join_all(writes).await;
    });
    let log = std::fs::read_to_string(&three.log).unwrap_or_default();
    for (i, events) in seen.iter().enumerate() {
        assert_eq!(
            events.len(),
            3 * EACH,
            "server {i}'s watch: {events:?}\n{log}"
        );
        assert!(
            events.windows(2).all(|w| w[0].2 < w[1].2),
            "server {i}'s watch in resourceVersion order: {events:?}"
        );
        let names: BTreeSet<&str> = events.iter().map(|e| e.1.as_str()).collect();
        assert_eq!(names.len(), 3 * EACH, "no duplicate on server {i}");
        assert!(events.iter().all(|e| e.0 == "ADDED"), "{events:?}");
    }
    assert_eq!(
        seen[0], seen[1],
        "servers 0 and 1 delivered the same sequence"
    );
    assert_eq!(
        seen[0], seen[2],
        "servers 0 and 2 delivered the same sequence"
    );
    // Lists on every server agree with the watches.
    for server in &three.servers {
        let (_, list) = server.get("/api/v1/namespaces/default/configmaps").await;
        let listed: BTreeSet<(String, i64)> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|cm| {
                let name = cm["metadata"]["name"].as_str()?;
                let rv = cm["metadata"]["resourceVersion"].as_str()?.parse().ok()?;
                name.starts_with("cm-").then(|| (name.to_string(), rv))
            })
            .collect();
        let watched: BTreeSet<(String, i64)> = seen[0].iter().map(|e| (e.1.clone(), e.2)).collect();
        assert_eq!(listed, watched);
    }
    verify_clean(&three).await;
}

#[tokio::test]
async fn one_of_three_updates_with_the_same_resource_version_wins_and_the_others_get_409() {
    let three = three(&[]).await;
    let path = "/api/v1/namespaces/default/configmaps";
    let (status, created) = send(
        &three.servers[0],
        Method::POST,
        path,
        &config_map("contested", "0"),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let mut rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    for round in 1..=5 {
        let updates = three.servers.iter().enumerate().map(|(i, server)| {
            let mut body = config_map("contested", &format!("{round}-{i}"));
            body["metadata"]["resourceVersion"] = json!(rv);
            async move { send(server, Method::PUT, &format!("{path}/contested"), &body).await }
        });
        let answers = futures_util::future::join_all(updates).await;
        let codes: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        let won: Vec<&Value> = answers
            .iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, body)| body)
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {codes:?} {answers:?}");
        assert_eq!(
            codes.iter().filter(|c| **c == 409).count(),
            2,
            "round {round}: {answers:?}"
        );
        for (status, body) in &answers {
            if *status == 409 {
                assert_eq!(body["reason"], "Conflict", "{body}");
            }
        }
        // Every server now serves the winner's write.
        let winner = won[0]["data"]["v"].clone();
        rv = won[0]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string();
        for server in &three.servers {
            let expected = (winner.clone(), rv.clone());
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let (_, got) = server.get(&format!("{path}/contested")).await;
                let now = (
                    got["data"]["v"].clone(),
                    got["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                );
                if now == expected || tokio::time::Instant::now() > deadline {
                    assert_eq!(now, expected, "round {round}");
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    verify_clean(&three).await;
}
