//! Credentials, exposure and read-only: forged and malformed tokens, write bodies without a
//! known media type, foreign origins, a read-only server asked to reach containers, and the
//! data directory itself (modes, owner, lock, insecure listen addresses, certificate names).

use super::health::{assert_status, assert_still_healthy};
use crate::support::app::{TestApp, pod, spawn_app, spawn_app_with, start_in};
use crate::support::binary::{Serve, Server, kubetrail};
use crate::support::internals::{Application, Settings};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

const NAMESPACES: &str = "/api/v1/namespaces";

/// A request to `path` with no credentials at all (the client trusts the server's CA).
fn bare(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client.request(method, format!("{}{path}", app.url))
}

fn namespace(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// Nothing was created under this name.
async fn assert_absent(app: &TestApp, name: &str) {
    let reply = app.get(&format!("{NAMESPACES}/{name}")).await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "{name}: {}",
        reply.text
    );
}

#[tokio::test]
async fn a_request_without_a_token_is_unauthorized() {
    let app = spawn_app().await;
    let reply = app.send(bare(&app, Method::GET, NAMESPACES)).await;
    assert_status(&reply, 401, "Unauthorized");
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn forged_and_altered_tokens_are_unauthorized() {
    let app = spawn_app().await;
    let same_length_forgery: String = app
        .token
        .chars()
        .map(|c| if c == 'a' { 'b' } else { 'a' })
        .collect();
    let cases = [
        ("a forged token of the same length", same_length_forgery),
        ("the token with a byte more", format!("{}x", app.token)),
        ("the token with a byte less", app.token[1..].to_string()),
        ("a prefix of the token", app.token[..8].to_string()),
        ("the token padded with spaces", format!(" {} ", app.token)),
        ("an empty token", String::new()),
    ];
    for (why, token) in cases {
        let reply = app
            .send(
                bare(&app, Method::POST, NAMESPACES)
                    .header("Authorization", format!("Bearer {token}"))
                    .json(&namespace("forged")),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 401, "{why}: {}", reply.text);
        assert_status(&reply, 401, "Unauthorized");
    }
    assert_absent(&app, "forged").await;
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn the_token_under_another_scheme_is_unauthorized() {
    let app = spawn_app().await;
    for header in [
        format!("Basic {}", app.token),
        format!("Token {}", app.token),
        app.token.clone(),
        format!("Bearer{}", app.token),
    ] {
        let reply = app
            .send(bare(&app, Method::GET, NAMESPACES).header("Authorization", header))
            .await;
        assert_status(&reply, 401, "Unauthorized");
    }
    assert_still_healthy(&app).await;
}

/// A write with `body` and the given `Content-Type` (none when `None`).
async fn write_typed(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: &serde_json::Value,
) -> crate::support::app::Reply {
    let mut request = app.request(method, path).body(body.to_string());
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    app.send(request).await
}

#[tokio::test]
async fn an_untyped_post_that_authenticates_is_json() {
    let app = spawn_app().await;
    let reply = write_typed(&app, Method::POST, NAMESPACES, None, &namespace("untyped")).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

/// What a page of another site can send without a preflight: no type, no `Authorization`.
#[tokio::test]
async fn a_post_without_a_content_type_or_credentials_is_unsupported_media_type() {
    let app = spawn_app_with(|settings| settings.tls = false).await;
    let reply = write_typed(&app, Method::POST, NAMESPACES, None, &namespace("untyped")).await;
    assert_status(&reply, 415, "UnsupportedMediaType");
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("application/json")),
        "names what is accepted: {}",
        reply.text
    );
    assert_absent(&app, "untyped").await;
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn put_and_patch_of_an_unknown_type_and_an_untyped_patch_are_unsupported_media_type() {
    let app = spawn_app().await;
    let created = app.post(NAMESPACES, &namespace("typed")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let mut changed = created.body.clone();
    changed["metadata"]["labels"] = json!({"changed": "yes"});
    let path = format!("{NAMESPACES}/typed");
    let put = write_typed(&app, Method::PUT, &path, Some("text/plain"), &changed).await;
    assert_status(&put, 415, "UnsupportedMediaType");
    let labels = json!({"metadata": {"labels": {"changed": "yes"}}});
    for content_type in [None, Some("text/plain"), Some("application/json")] {
        let patch = write_typed(&app, Method::PATCH, &path, content_type, &labels).await;
        assert_eq!(
            patch.status.as_u16(),
            415,
            "{content_type:?}: {}",
            patch.text
        );
        assert_status(&patch, 415, "UnsupportedMediaType");
    }
    let now = app.get(&path).await;
    assert_eq!(
        now.body["metadata"]["labels"]["changed"],
        serde_json::Value::Null
    );
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn the_media_types_a_browser_may_send_unasked_are_refused() {
    let app = spawn_app().await;
    // The three types of a CORS "simple request", which a page may POST anywhere without a
    // preflight; and a made-up one.
    for content_type in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/x-kubetrail-nonsense",
    ] {
        let reply = write_typed(
            &app,
            Method::POST,
            NAMESPACES,
            Some(content_type),
            &namespace("browser"),
        )
        .await;
        assert_eq!(reply.status.as_u16(), 415, "{content_type}: {}", reply.text);
        assert_status(&reply, 415, "UnsupportedMediaType");
    }
    assert_absent(&app, "browser").await;
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn untyped_put_and_delete_bodies_still_work_as_kubectl_sends_them() {
    let app = spawn_app().await;
    let created = app.post(NAMESPACES, &namespace("goes")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    // client-go's scale client (`kubectl scale --current-replicas`) PUTs JSON with no type.
    let mut labelled = created.body.clone();
    labelled["metadata"]["labels"] = json!({"put": "untyped"});
    let put = write_typed(
        &app,
        Method::PUT,
        &format!("{NAMESPACES}/goes"),
        None,
        &labelled,
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.body["metadata"]["labels"]["put"], "untyped");
    let reply = app
        .send(
            app.request(Method::DELETE, &format!("{NAMESPACES}/goes"))
                .body(json!({"kind": "DeleteOptions", "apiVersion": "v1"}).to_string()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // A write with a proper type and a body-less POST are not caught by the check either.
    let typed = write_typed(
        &app,
        Method::POST,
        NAMESPACES,
        Some("application/json; charset=utf-8"),
        &namespace("typed-ok"),
    )
    .await;
    assert_eq!(typed.status, StatusCode::CREATED, "{}", typed.text);
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_foreign_origin_is_forbidden_even_with_the_token() {
    let app = spawn_app().await;
    let get = app
        .send(
            app.request(Method::GET, NAMESPACES)
                .header("Origin", "https://evil.example"),
        )
        .await;
    assert_status(&get, 403, "Forbidden");
    let post = app
        .send(
            app.request(Method::POST, NAMESPACES)
                .header("Origin", "https://evil.example")
                .json(&namespace("from-evil")),
        )
        .await;
    assert_status(&post, 403, "Forbidden");
    assert!(post.text.contains("evil.example"), "{}", post.text);
    // The server's own origin, as a page it served would send, is not cross-origin.
    let own = app
        .send(
            app.request(Method::GET, NAMESPACES)
                .header("Origin", app.url.as_str()),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert_absent(&app, "from-evil").await;
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_foreign_preflight_is_forbidden_and_an_allowed_one_answered() {
    let app = spawn_app_with(|s| {
        s.cors_allowed_origins = vec![r"^https://dashboard\.example$".into()];
    })
    .await;
    let preflight = |origin: &str| {
        bare(&app, Method::OPTIONS, NAMESPACES)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
    };
    let evil = app
        .send(preflight("https://dashboard.example.evil.example"))
        .await;
    assert_status(&evil, 403, "Forbidden");

    let response = preflight("https://dashboard.example")
        .send()
        .await
        .expect("preflight");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        header("access-control-allow-origin").as_deref(),
        Some("https://dashboard.example")
    );
    assert_eq!(
        header("access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert!(header("access-control-allow-methods").is_some_and(|m| m.contains("PATCH")));
    assert!(header("access-control-allow-headers").is_some_and(|h| h.contains("Authorization")));

    // The allowed origin's real request still needs the token, and gets the CORS headers.
    let anonymous = bare(&app, Method::GET, NAMESPACES)
        .header("Origin", "https://dashboard.example")
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        anonymous
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let allowed = app
        .request(Method::GET, NAMESPACES)
        .header("Origin", "https://dashboard.example")
        .send()
        .await
        .expect("request");
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://dashboard.example"
    );
    assert_still_healthy(&app).await;
}

/// A data directory holding pod `web` (created by a server that then stopped), served again
/// read-only.
async fn read_only_server_with_a_pod() -> TestApp {
    let live = spawn_app().await;
    let created = live.create_pod("default", &pod("web")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let dir = live.stop().await;
    start_in(dir, |s| s.read_only = true).await
}

/// A read-only server cannot take a write by design: what it must still do after a refusal is
/// answer reads and report ready.
async fn assert_read_only_still_healthy(app: &TestApp) {
    let pod = app.get("/api/v1/namespaces/default/pods/web").await;
    assert_eq!(pod.status, StatusCode::OK, "{}", pod.text);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    let write = app.post(NAMESPACES, &namespace("still-refused")).await;
    assert_status(&write, 405, "MethodNotAllowed");
}

#[tokio::test]
async fn a_read_only_server_refuses_exec_attach_and_port_forward_before_docker() {
    let app = read_only_server_with_a_pod().await;
    let base = "/api/v1/namespaces/default/pods";
    for (method, path) in [
        (
            Method::GET,
            format!("{base}/web/exec?command=sh&stdin=true&stdout=true"),
        ),
        (
            Method::POST,
            format!("{base}/web/exec?command=sh&stdout=true"),
        ),
        (
            Method::GET,
            format!("{base}/web/attach?stdin=true&stdout=true"),
        ),
        (Method::POST, format!("{base}/web/attach?stdout=true")),
        (Method::POST, format!("{base}/web/portforward?ports=80")),
        // `kubectl cp` is an exec of tar.
        (
            Method::GET,
            format!("{base}/web/exec?command=tar&command=cf&command=-&command=/&stdout=true"),
        ),
        // Refused before the pod is even looked up.
        (
            Method::GET,
            format!("{base}/no-such-pod/exec?command=sh&stdout=true"),
        ),
    ] {
        let reply = app.send(app.request(method.clone(), &path)).await;
        assert_eq!(
            reply.status.as_u16(),
            405,
            "{method} {path}: {}",
            reply.text
        );
        assert_status(&reply, 405, "MethodNotAllowed");
        assert!(reply.text.contains("read-only"), "says why: {}", reply.text);
    }
    assert_read_only_still_healthy(&app).await;
}

#[tokio::test]
async fn a_read_only_server_refuses_logs_before_docker() {
    let app = read_only_server_with_a_pod().await;
    for path in [
        "/api/v1/namespaces/default/pods/web/log",
        "/api/v1/namespaces/default/pods/web/log?follow=true&previous=true",
        "/api/v1/namespaces/default/pods/no-such-pod/log",
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status.as_u16(), 405, "{path}: {}", reply.text);
        assert_status(&reply, 405, "MethodNotAllowed");
    }
    assert_read_only_still_healthy(&app).await;
}

#[tokio::test]
async fn a_read_only_start_on_stale_projections_is_refused_and_rebuilds_nothing() {
    let live = spawn_app().await;
    let dir = live.stop().await;
    let database = dir.path().join("state.db");
    let mut conn = {
        use sqlx::Connection;
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
            .await
            .expect("open")
    };
    sqlx::query("UPDATE projection_state SET applied_seq = 0 WHERE id = 1")
        .execute(&mut conn)
        .await
        .expect("make the projections stale");
    let mut settings = Settings::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    settings.read_only = true;
    let error = match Application::build(settings).await {
        Ok(_) => panic!("a read-only start on stale projections must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("kubetrail rebuild --data-dir"), "{error}");
    let applied: i64 = sqlx::query_scalar("SELECT applied_seq FROM projection_state WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .expect("read");
    assert_eq!(applied, 0, "nothing was rebuilt");
    // A read-write start repairs it, and serves.
    drop(conn);
    let app = start_in(dir, |_| {}).await;
    assert_still_healthy(&app).await;
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").mode() & 0o7777
}

#[tokio::test]
async fn the_data_directory_and_every_file_in_it_are_private() {
    let app = spawn_app().await;
    assert_still_healthy(&app).await;
    let dir = app.dir.path();
    assert_eq!(mode(dir), 0o700);
    let mut seen = vec![];
    for entry in std::fs::read_dir(dir).expect("list") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        assert_eq!(mode(&entry.path()), 0o600, "{name}");
        seen.push(name);
    }
    for expected in [
        "state.db",
        "state.db-wal",
        "state.db-shm",
        "ca.crt",
        "ca.key",
        "server.crt",
        "server.key",
        "token",
        "kubeconfig",
        "serve.lock",
    ] {
        assert!(seen.iter().any(|s| s == expected), "{expected} in {seen:?}");
    }
}

#[tokio::test]
async fn a_loose_data_directory_is_tightened_and_a_writable_one_refused() {
    let live = spawn_app().await;
    let dir = live.stop().await;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for file in ["kubeconfig", "token", "state.db"] {
        std::fs::set_permissions(
            dir.path().join(file),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let app = start_in(dir, |_| {}).await;
    assert_eq!(mode(app.dir.path()), 0o700);
    for file in ["kubeconfig", "token", "state.db"] {
        assert_eq!(mode(&app.dir.path().join(file)), 0o600, "{file}");
    }
    assert_still_healthy(&app).await;
    let dir = app.stop().await;

    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let settings = Settings::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    let error = match Application::build(settings).await {
        Ok(_) => panic!("a data directory anyone may write to must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("chmod 700"), "{error}");
}

#[tokio::test]
async fn a_second_server_on_one_data_directory_is_refused_naming_the_first() {
    let app = spawn_app().await;
    let settings = Settings::new("127.0.0.1:0".parse().unwrap(), app.dir.path().to_path_buf());
    let error = match Application::build(settings).await {
        Ok(_) => panic!("two servers on one data directory"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains(&format!("pid {}", std::process::id())),
        "{error}"
    );
    assert_still_healthy(&app).await;
    // Released when the first stops.
    let app = start_in(app.stop().await, |_| {}).await;
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn insecure_http_off_loopback_is_refused_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new("0.0.0.0:0".parse().unwrap(), dir.path().to_path_buf());
    settings.tls = false;
    let error = match Application::build(settings).await {
        Ok(_) => panic!("plain HTTP without auth on every address must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("--insecure-http-allow-non-loopback-without-auth"),
        "{error}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "refused before anything was written"
    );
}

#[tokio::test]
async fn the_serving_certificate_covers_the_listen_address_and_tls_sans_from_the_same_ca() {
    // 127.0.0.2 is a loopback address that is not in the default certificate: it stands for
    // an address the server was not first started on.
    let first = spawn_app().await;
    let old_ca = std::fs::read(first.dir.path().join("ca.crt")).unwrap();
    let dir = first.stop().await;
    let mut settings = Settings::new("127.0.0.2:0".parse().unwrap(), dir.path().to_path_buf());
    settings.tls_sans = vec!["api.kubetrail.test".into()];
    settings.workers.controllers = false;
    let app = Application::build(settings).await.expect("builds");
    let url = app.url().to_string();
    assert!(url.starts_with("https://127.0.0.2:"), "{url}");
    let port = app.port();
    let handle = app.server_handle();
    let task = tokio::spawn(app.run_until_stopped());
    let token = std::fs::read_to_string(dir.path().join("token")).unwrap();
    let kubeconfig = std::fs::read_to_string(dir.path().join("kubeconfig")).unwrap();
    assert!(
        kubeconfig.contains(&format!("server: {url}")),
        "{kubeconfig}"
    );

    // A client that trusts only the CA of the first start reaches it by both names.
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&old_ca).unwrap()])
        .resolve(
            "api.kubetrail.test",
            format!("127.0.0.2:{port}").parse().unwrap(),
        )
        .build()
        .unwrap();
    for base in [url.clone(), format!("https://api.kubetrail.test:{port}")] {
        let reply = client
            .get(format!("{base}/api/v1/namespaces"))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{base}: {e:?}"));
        assert_eq!(reply.status(), StatusCode::OK, "{base}");
    }
    handle.stop(true).await;
    let _ = task.await;
}

/// `kubetrail ARGS --data-dir DIR`.
fn kubetrail_in(args: &[&str], dir: &Path) -> Command {
    let mut command = kubetrail(args);
    command.arg("--data-dir").arg(dir);
    command
}

/// Start `kubetrail serve` on `dir` and wait until it serves.
fn serve(dir: &Path) -> Server {
    Serve::new(dir).args(&["--no-docker-node"]).start()
}

#[test]
fn a_second_serve_and_a_rebuild_exit_naming_the_running_server_s_pid() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path());
    let pid = first.child.id();
    for args in [
        &["serve", "--listen", "127.0.0.1:0", "--no-docker-node"][..],
        &["rebuild"][..],
    ] {
        let out = kubetrail_in(args, dir.path()).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail: {stderr}");
        assert!(stderr.contains(&format!("pid {pid}")), "{args:?}: {stderr}");
    }
    // A server killed outright leaves no stale lock behind.
    drop(first);
    let _again = serve(dir.path());
}

#[test]
fn the_binary_refuses_insecure_http_on_every_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = kubetrail_in(
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--insecure-http",
            "--no-docker-node",
        ],
        dir.path(),
    )
    .output()
    .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}
