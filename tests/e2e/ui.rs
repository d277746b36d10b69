//! The timeline UI at `/ui/`: its login (a one-time code from `POST /ui/login-codes` traded at
//! `/ui/login` for an HttpOnly, SameSite=Strict cookie that authenticates GET requests only),
//! the headers and contents of the page, `kubetrail ui`, and the page in a real browser
//! (headless Chromium driven by `tests/ui/browser.py` with selenium).

use crate::support::app::{TestApp, spawn_app};
use crate::support::binary::{Serve, run as kubetrail};
use crate::support::kubectl::{Kubectl, kubectl_binary, manifest};
use crate::support::wait::until;
use reqwest::Method;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A client of `app` that shows redirects instead of following them.
fn no_redirects(app: &mut TestApp) {
    app.client_with(|c| {
        c.redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
    });
}

/// A fresh login code, asked for with the bearer token.
async fn login_code(app: &TestApp) -> String {
    let reply = app
        .send(
            app.request(Method::POST, "/ui/login-codes")
                .json(&serde_json::json!({})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["expiresInSeconds"], 60);
    let code = reply.body["code"].as_str().expect("a code").to_string();
    assert_eq!(reply.body["path"], format!("/ui/login?code={code}"));
    code
}

/// `GET path` without the bearer token, with `cookie` (if any).
async fn browser_get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{path}", app.url));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.expect("request sent")
}

/// Log in with a fresh code: the `name=value` of the session cookie and its attributes.
async fn log_in(app: &TestApp) -> (String, String) {
    let code = login_code(app).await;
    let response = browser_get(app, &format!("/ui/login?code={code}"), None).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/ui/");
    let set = response.headers()[SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_string();
    let pair = set.split(';').next().unwrap_or("").trim().to_string();
    (pair, set)
}

#[tokio::test]
async fn a_login_code_works_once_and_gives_an_http_only_strict_cookie() {
    let mut app = spawn_app().await;
    no_redirects(&mut app);

    let anonymous = app
        .client
        .post(format!("{}/ui/login-codes", app.url))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), 401, "a code needs the bearer token");

    let code = login_code(&app).await;
    let response = browser_get(&app, &format!("/ui/login?code={code}"), None).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()[LOCATION],
        "/ui/",
        "the address bar keeps no code"
    );
    let cookie = response.headers()[SET_COOKIE].to_str().expect("ascii");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    let (name, session) = attributes[0].split_once('=').expect("name=value");
    assert_eq!(name, "kubetrail-ui");
    assert_eq!(session.len(), 64, "256 random bits as hex: {cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(attributes.contains(&attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains(&app.token));

    let again = browser_get(&app, &format!("/ui/login?code={code}"), None).await;
    assert_eq!(again.status(), 401, "a code works once");
    assert!(again.headers().get(SET_COOKIE).is_none());
    let status: Value = again.json().await.expect("a Status");
    assert_eq!(status["kind"], "Status");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("kubetrail ui")),
        "the refusal says how to get a new link: {status}"
    );
    for wrong in ["", "?code=", "?code=00", &format!("?code={session}")] {
        let response = browser_get(&app, &format!("/ui/login{wrong}"), None).await;
        assert_eq!(response.status(), 401, "/ui/login{wrong}");
    }
}

#[tokio::test]
async fn the_session_cookie_authenticates_reads_and_nothing_else() {
    let mut app = spawn_app().await;
    no_redirects(&mut app);
    let (cookie, _) = log_in(&app).await;

    for path in [
        "/api/v1/namespaces/default/pods",
        "/apis/kubetrail.dev/v1alpha1/logentries?limit=1",
        "/apis/apps/v1/namespaces/default/replicasets?resourceVersion=1&resourceVersionMatch=Exact",
    ] {
        let read = browser_get(&app, path, Some(&cookie)).await;
        assert_eq!(read.status(), 200, "GET {path} with the cookie");
        let without = browser_get(&app, path, None).await;
        assert_eq!(without.status(), 401, "GET {path} without it");
    }
    let wrong = browser_get(
        &app,
        "/api/v1/namespaces",
        Some(&format!("kubetrail-ui={}", "0".repeat(64))),
    )
    .await;
    assert_eq!(wrong.status(), 401, "an unknown session");

    // Writes with the cookie alone are refused, whatever the verb.
    let pod = crate::support::app::pod("from-a-cookie");
    let url = format!("{}/api/v1/namespaces/default/pods", app.url);
    let writes = [
        app.client.post(&url).json(&pod),
        app.client.put(format!("{url}/from-a-cookie")).json(&pod),
        app.client
            .patch(format!("{url}/from-a-cookie"))
            .header("Content-Type", "application/merge-patch+json")
            .body("{}"),
        app.client.delete(format!("{url}/from-a-cookie")),
        app.client
            .post(format!("{}/ui/login-codes", app.url))
            .json(&pod),
    ];
    for write in writes {
        let response = write.header(COOKIE, &cookie).send().await.expect("sent");
        assert_eq!(response.status(), 401, "{:?}", response.url());
    }
    // No protocol upgrade (exec, attach) on a cookie either. Over HTTP/1.1: HTTP/2 drops the
    // `Upgrade` header (its WebSockets are CONNECT requests, never a GET).
    let http1 = crate::support::http::trusting(app.dir.path())
        .http1_only()
        .build()
        .expect("client");
    let upgrade = http1
        .get(format!("{url}/any/exec?command=sh&stdout=true"))
        .header(COOKIE, &cookie)
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .send()
        .await
        .expect("sent");
    assert_eq!(upgrade.status(), 401);
    let after = app
        .get("/api/v1/namespaces/default/pods/from-a-cookie")
        .await;
    assert_eq!(after.status, 404, "nothing was written");
}

#[tokio::test]
async fn the_page_carries_no_token_a_strict_policy_and_no_cache() {
    let mut app = spawn_app().await;
    no_redirects(&mut app);

    let bare = browser_get(&app, "/ui", None).await;
    assert!(bare.status().is_redirection());
    assert_eq!(bare.headers()[LOCATION], "/ui/");

    for (path, media) in [
        ("/ui/", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
    ] {
        let response = browser_get(&app, path, None).await;
        assert_eq!(response.status(), 200, "{path} needs no credentials");
        let headers = response.headers().clone();
        let policy = headers[CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(policy.starts_with("default-src 'self'"), "{path}: {policy}");
        for directive in [
            "script-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                policy.contains(directive),
                "{path}: {directive} in {policy}"
            );
        }
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(
            headers["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with(media)),
            "{path}: {:?}",
            headers["content-type"]
        );
        let body = response.text().await.expect("body");
        assert!(!body.contains(&app.token), "{path} carries the token");
    }
    let page = browser_get(&app, "/ui/", None)
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("<script src=\"app.js\""), "{page}");
    assert!(!page.contains("<script>"), "no inline script");

    let actors: Value = browser_get(&app, "/ui/actors.json", None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(actors["scheduler"], "default-scheduler");
    let controllers: Vec<&str> = actors["controllers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        controllers,
        [
            "namespace-controller",
            "default-scheduler",
            "deployment-controller",
            "replicaset-controller",
            "endpoint-controller",
            "endpointslice-controller",
            "serviceaccount-controller",
            "generic-garbage-collector",
            "node-lifecycle-controller",
            "event-ttl-controller"
        ]
    );

    // Everything else under /ui/ wants credentials like the API.
    assert_eq!(browser_get(&app, "/ui/other", None).await.status(), 401);
}

#[tokio::test]
async fn kubetrail_ui_prints_a_link_that_logs_in_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();

    let (code, _, err) = kubetrail(&["ui", "--data-dir", &data_arg]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("kubetrail serve"),
        "says how to start a server: {err}"
    );

    let server = Serve::new(&data)
        .args(&["--no-docker-node"])
        .log_to(&dir.path().join("serve.log"))
        .start();
    let (code, out, err) = kubetrail(&["ui", "--data-dir", &data_arg]).await;
    assert_eq!(code, 0, "{err}");
    let link = login_link(&out);
    assert!(
        link.starts_with(&format!("{}/ui/login?code=", server.url)),
        "{out}"
    );
    assert!(
        !out.contains(&server.token),
        "the token stays out of the output"
    );

    let client = crate::support::http::trusting(&data)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let first = client.get(&link).send().await.expect("sent");
    assert_eq!(first.status(), 303);
    assert!(first.headers().contains_key(SET_COOKIE));
    let second = client.get(&link).send().await.expect("sent");
    assert_eq!(second.status(), 401, "the link works once");

    server.kill_9();
    let (code, _, err) = kubetrail(&["ui", "--data-dir", &data_arg]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot reach the server") && err.contains("kubetrail serve"),
        "{err}"
    );
}

/// The login link in `kubetrail ui`'s output.
fn login_link(out: &str) -> String {
    out.split_whitespace()
        .find(|word| word.contains("/ui/login?code="))
        .unwrap_or_else(|| panic!("a login link in {out}"))
        .to_string()
}

/// Where the browser test leaves its screenshots: `$CARGO_TARGET_DIR/ui-artifacts`.
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("target"))
        });
    target.join("ui-artifacts")
}

/// Names of the running pods of ReplicaSet echo-rs that are not being deleted.
async fn running_echo_pods(server: &crate::support::binary::Server) -> Vec<String> {
    let (_, list) = server.get("/api/v1/namespaces/default/pods").await;
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            p["status"]["phase"] == "Running"
                && p["metadata"]["deletionTimestamp"].is_null()
                && p["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r["name"] == "echo-rs"))
        })
        .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Address space Chromium (and chromedriver) reserve at start: V8's sandbox and the allocator's
/// pools take hundreds of GB of it (never memory), and under a smaller `RLIMIT_AS` they die at
/// once with SIGTRAP.
const CHROMIUM_ADDRESS_SPACE: u64 = 1 << 40;

/// Let the browser's process tree reserve what it needs: its soft `RLIMIT_AS` raised to the
/// hard limit (a `ulimit -S -v` on the test run keeps holding the test binary itself). Fails
/// saying what to do when the hard limit is too small.
fn address_space_for_chromium(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into the struct it is given.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) };
    assert_eq!(read, 0, "getrlimit(RLIMIT_AS)");
    assert!(
        limit.rlim_max == libc::RLIM_INFINITY || limit.rlim_max >= CHROMIUM_ADDRESS_SPACE,
        "the hard RLIMIT_AS of this test run ({} bytes) is too small for Chromium, which \
         reserves about 1 TB of address space (not memory) at start: run the browser test \
         without `ulimit -v`, or limit only the soft value (`ulimit -S -v ...`)",
        limit.rlim_max
    );
    let raised = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit is async-signal-safe; the closure touches nothing but its own copy.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_AS, &raised) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

#[tokio::test]
async fn the_page_in_a_real_browser() {
    let python = std::env::var("KUBETRAIL_SELENIUM_PYTHON").unwrap_or_else(|_| {
        panic!(
            "KUBETRAIL_SELENIUM_PYTHON is unset: it names a python with selenium installed, and \
             the test needs Debian's chromium and chromium-driver. scripts/test installs them \
             (apt-get install chromium chromium-driver; a venv with `pip install selenium`) and \
             sets it; by hand: python3 -m venv V && V/bin/pip install selenium && \
             KUBETRAIL_SELENIUM_PYTHON=V/bin/python"
        )
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let server = Serve::new(&data)
        .args(&["--no-docker-node", "--simulated-nodes", "2"])
        .log_to(&log)
        .start();
    let kubectl = Kubectl::new(&server.kubeconfig);
    let settle = Duration::from_secs(30);

    // A ReplicaSet heals: one of its pods deleted with kubectl, a replacement created.
    kubectl
        .ok(&["apply", "-f", &manifest("echo-rs.yaml")])
        .await;
    until("a running pod of echo-rs", settle, || async {
        running_echo_pods(&server).await.len() == 1
    })
    .await;
    let (_, before) = server.get("/api/v1/namespaces/default/pods").await;
    let past_rv = before["metadata"]["resourceVersion"]
        .as_str()
        .expect("a list resourceVersion")
        .to_string();
    let deleted = running_echo_pods(&server).await.remove(0);
    kubectl
        .ok(&["delete", "pod", &deleted, "--wait=false"])
        .await;
    until("a replacement pod of echo-rs", settle, || async {
        running_echo_pods(&server)
            .await
            .iter()
            .any(|name| *name != deleted)
    })
    .await;
    let replacement = running_echo_pods(&server)
        .await
        .into_iter()
        .find(|name| *name != deleted)
        .expect("the replacement");

    let data_arg = data.display().to_string();
    let (code, out, err) = kubetrail(&["ui", "--data-dir", &data_arg]).await;
    assert_eq!(code, 0, "{err}");
    let link = login_link(&out);

    let artifacts = artifacts();
    std::fs::create_dir_all(&artifacts).expect("artifacts directory");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/browser.py");
    let mut command = std::process::Command::new(&python);
    address_space_for_chromium(&mut command);
    command
        .arg(&script)
        .args(["--login-url", &link])
        .arg("--artifacts")
        .arg(&artifacts)
        .args(["--kubectl", &kubectl_binary()])
        .arg("--kubeconfig")
        .arg(&server.kubeconfig)
        .args(["--deleted", &deleted, "--replacement", &replacement])
        .args(["--past-rv", &past_rv]);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("ran")
        .unwrap_or_else(|e| panic!("{python} runs (KUBETRAIL_SELENIUM_PYTHON): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    println!("screenshots: {}", artifacts.display());
    assert!(
        output.status.success(),
        "the browser checks failed (screenshots in {}):\n{stdout}\n{stderr}\nserver log:\n{}",
        artifacts.display(),
        crate::support::binary::tail(&log)
    );
}

/// Stops the `kubectl proxy` this test started when the test ends, however it ends.
struct Proxy(std::process::Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_page_and_its_reads_work_through_kubectl_proxy() {
    let app = spawn_app().await;
    let created = app
        .create_pod("default", &crate::support::app::pod("through-proxy"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let mut child = app
        .kubectl
        .command(&["proxy", "--port=0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kubectl proxy starts");
    let stdout = child.stdout.take().expect("stdout");
    let proxy = Proxy(child);
    // "Starting to serve on 127.0.0.1:PORT"
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    })
    .await
    .expect("joined")
    .expect("kubectl proxy says where it serves");
    let address = line.trim().rsplit(' ').next().unwrap_or("").to_string();
    assert!(address.starts_with("127.0.0.1:"), "{line}");
    let client = reqwest::Client::new();
    let base = format!("http://{address}");
    let page = client
        .get(format!("{base}/ui/"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap_or_default().contains("app.js"));
    for asset in ["/ui/app.js", "/ui/app.css", "/ui/actors.json"] {
        let reply = client
            .get(format!("{base}{asset}"))
            .send()
            .await
            .expect(asset);
        assert_eq!(reply.status(), 200, "{asset}");
    }
    // The page's reads, with URLs relative to it, reach the API through the proxy.
    let log: Value = client
        .get(format!(
            "{base}/ui/../apis/kubetrail.dev/v1alpha1/logentries?kind=Pod&name=through-proxy"
        ))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    assert_eq!(
        log["items"][0]["involvedObject"]["name"], "through-proxy",
        "{log}"
    );
    drop(proxy);
}
