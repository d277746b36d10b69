//! Several servers on one PostgreSQL log: writes through all three land in one order, which a
//! watch on each delivers event by event (same sequence, no gap, no duplicate); updates of one
//! object sent to different servers with the same resourceVersion: exactly one wins, the
//! others get 409; the course's ReplicaSet chapter through kubectl against two servers, with
//! the controllers' Lease holder killed (`kill -9`) in the middle of a scale-up: another
//! server takes the controllers over and finishes it, and no write the killed server
//! acknowledged is lost; `verify` finds the log and projections clean afterwards. The servers
//! share the first one's keys (its data directory copied, as an operator hands them out).

use crate::support::binary::{Serve, Server, kubetrail, run_command};
use crate::support::kubectl::{Kubectl, echo_pods, echo_running, manifest};
use crate::support::postgres;
use crate::support::wait::until;
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

async fn three(args: [&[&str]; 3]) -> Three {
    let url = postgres::new_database().await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let log = dirs[1].path().join("servers.log");
    let mut servers = vec![start(dirs[0].path(), &url, &log, args[0])];
    // The first server leads the controllers before the others start.
    until(
        "the first server to lead the controllers",
        Duration::from_secs(30),
        || async { leading(&servers[0]).await },
    )
    .await;
    for (dir, args) in dirs[1..].iter().zip(&args[1..]) {
        copy_keys(dirs[0].path(), dir.path());
        servers.push(start(dir.path(), &url, &log, args));
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

/// Whether `server` runs the controllers (its `kubetrail_controllers_leading` gauge).
async fn leading(server: &Server) -> bool {
    let Ok(response) = server.request(Method::GET, "/metrics").send().await else {
        return false;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .any(|l| l.starts_with("kubetrail_controllers_leading") && l.ends_with(" 1"))
}

async fn verify_clean(three: &Three) {
    let mut command = kubetrail(&["verify", "--database", &three.url, "--data-dir"]);
    command.arg(three.dirs[1].path());
    let (code, out, err) = run_command(command).await;
    assert_eq!(code, 0, "verify: {out}{err}");
}

#[tokio::test]
async fn writes_through_three_servers_reach_every_servers_watch_in_one_order() {
    let three = three([&[], &[], &[]]).await;
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
    let three = three([&[], &[], &[]]).await;
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

#[tokio::test]
async fn the_replicaset_chapter_through_two_servers_survives_a_kill_of_the_controllers_holder() {
    // The first server leads the controllers; the third runs the simulated nodes, so that
    // killing the leader leaves the nodes up.
    let mut three = three([&[], &[], &["--simulated-nodes", "2"]]).await;
    let through_b = Kubectl::new(&three.servers[1].kubeconfig);
    let through_c = Kubectl::new(&three.servers[2].kubeconfig);
    let scratch = tempfile::tempdir().expect("scratch");
    let rs = scratch.path().join("echo-rs.yaml");
    let text = std::fs::read_to_string(manifest("echo-rs.yaml")).expect("manifest");
    std::fs::write(&rs, text.replace("replicas: 1", "replicas: 3")).expect("manifest written");
    let rs = rs.display().to_string();

    // Created through one server, seen running through another.
    assert_eq!(
        through_b.ok(&["create", "-f", &rs]).await.trim(),
        "replicaset.apps/echo-rs created"
    );
    let first = echo_running(&through_c, 3).await;
    // A pod deleted through the other server is replaced.
    let gone = first.iter().next().expect("a pod").clone();
    assert_eq!(
        through_c.ok(&["delete", "pod", &gone]).await.trim(),
        format!("pod \"{gone}\" deleted")
    );
    let second = echo_running(&through_b, 3).await;
    assert!(!second.contains(&gone), "{second:?}");

    // Writes acknowledged by the leader right up to its death.
    let leader = &three.servers[0];
    let mut acknowledged = Vec::new();
    for n in 0..20 {
        let name = format!("before-kill-{n:02}");
        let (status, body) = send(
            leader,
            Method::POST,
            "/api/v1/namespaces/default/configmaps",
            &config_map(&name, "1"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        acknowledged.push((name, body["metadata"]["resourceVersion"].clone()));
    }
    // Scale up to 30 and kill the leader while the ReplicaSet controller works on it (its
    // creations come in slow-start batches of 1, 2, 4, ...; whatever it has not made, the next
    // leader makes).
    assert_eq!(
        through_b
            .ok(&["scale", "rs", "echo-rs", "--replicas=30"])
            .await
            .trim(),
        "replicaset.apps/echo-rs scaled"
    );
    let (status, body) = send(
        leader,
        Method::POST,
        "/api/v1/namespaces/default/configmaps",
        &config_map("at-the-kill", "1"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    acknowledged.push((
        "at-the-kill".to_string(),
        body["metadata"]["resourceVersion"].clone(),
    ));
    three.servers.remove(0).kill_9();
    let at_kill = echo_pods(&through_b).await.len();

    // Another server takes the controllers over (the Lease expires after 15 s) and finishes.
    until(
        "another server to lead the controllers",
        Duration::from_secs(40),
        || async { leading(&three.servers[0]).await || leading(&three.servers[1]).await },
    )
    .await;
    let scaled = echo_running(&through_c, 30).await;
    assert!(scaled.is_superset(&second), "{second:?} -> {scaled:?}");
    assert_eq!(
        echo_pods(&through_b).await.len(),
        30,
        "{at_kill} pods at the kill"
    );
    for (name, rv) in &acknowledged {
        let (status, got) = three.servers[0]
            .get(&format!("/api/v1/namespaces/default/configmaps/{name}"))
            .await;
        assert_eq!(
            status, 200,
            "{name} was acknowledged before the kill: {got}"
        );
        assert_eq!(&got["metadata"]["resourceVersion"], rv, "{name}");
    }
    // Scaled down through the other server, then deleted.
    assert_eq!(
        through_c
            .ok(&["scale", "rs", "echo-rs", "--replicas=2"])
            .await
            .trim(),
        "replicaset.apps/echo-rs scaled"
    );
    echo_running(&through_b, 2).await;
    assert_eq!(
        through_b.ok(&["delete", "rs", "echo-rs"]).await.trim(),
        "replicaset.apps \"echo-rs\" deleted"
    );
    until("the pods to go", Duration::from_secs(60), || async {
        echo_pods(&through_c).await.is_empty()
    })
    .await;
    verify_clean(&three).await;
}
