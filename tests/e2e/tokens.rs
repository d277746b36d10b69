//! ServiceAccount tokens: TokenRequest through the REST API (defaults, Kubernetes' refusals,
//! binding to a pod), the token authenticating as the ServiceAccount (its writes logged under
//! its name), revocation when the ServiceAccount or the bound pod goes, a token of another
//! server refused; and `kubectl create token` feeding a second kubeconfig (kubectl on PATH and
//! `$KUBECTL`).

use crate::support::app::{TestApp, pod, spawn_app, start_with_workers};
use crate::support::kubectl::Kubectl;
use reqwest::Method;
use serde_json::{Value, json};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

async fn service_account(app: &TestApp, namespace: &str, name: &str) -> Value {
    let made = app
        .post(
            &format!("/api/v1/namespaces/{namespace}/serviceaccounts"),
            &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    made.body
}

async fn token_request(app: &TestApp, name: &str, spec: Value) -> crate::support::app::Reply {
    app.post(
        &format!("/api/v1/namespaces/default/serviceaccounts/{name}/token"),
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}),
    )
    .await
}

/// GET `path` with `token` as the bearer: the status.
async fn get_as(app: &TestApp, token: &str, path: &str) -> u16 {
    let request = app
        .client
        .request(Method::GET, format!("{}{path}", app.url))
        .bearer_auth(token);
    app.send(request).await.status.as_u16()
}

#[tokio::test]
async fn a_token_request_answers_with_a_token_that_authenticates_as_the_service_account() {
    let app = spawn_app().await;
    service_account(&app, "default", "builder").await;
    let answer = token_request(&app, "builder", json!({})).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(answer.body["kind"], "TokenRequest");
    assert_eq!(answer.body["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(answer.body["spec"]["audiences"], json!([ISSUER]));
    assert_eq!(answer.body["spec"]["expirationSeconds"], 3600);
    let expires = answer.body["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    let left = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((3590..=3600).contains(&left), "{left}");
    let token = answer.body["status"]["token"].as_str().unwrap().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    // Its writes are logged under the ServiceAccount's name.
    let created = app
        .send(
            app.client
                .request(
                    Method::POST,
                    format!("{}/api/v1/namespaces/default/pods", app.url),
                )
                .bearer_auth(&token)
                .json(&pod("by-builder")),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let entries = app
        .get("/apis/kubetrail.dev/v1alpha1/logentries?kind=Pod&name=by-builder")
        .await;
    assert_eq!(
        entries.body["items"][0]["actor"], "system:serviceaccount:default:builder",
        "{}",
        entries.text
    );
    assert_eq!(get_as(&app, &token, "/api/v1/namespaces").await, 200);
    assert_eq!(get_as(&app, "not.a.token", "/api/v1/namespaces").await, 401);

    // Deleting the ServiceAccount revokes its tokens.
    let deleted = app
        .delete("/api/v1/namespaces/default/serviceaccounts/builder", None)
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.text);
    assert_eq!(get_as(&app, &token, "/api/v1/namespaces").await, 401);
    // A ServiceAccount of the same name made again is another one.
    service_account(&app, "default", "builder").await;
    assert_eq!(get_as(&app, &token, "/api/v1/namespaces").await, 401);
}

#[tokio::test]
async fn token_requests_are_refused_as_kubernetes_refuses_them() {
    let app = spawn_app().await;
    service_account(&app, "default", "builder").await;
    let short = token_request(&app, "builder", json!({"expirationSeconds": 10})).await;
    assert_eq!(short.status, 422, "{}", short.text);
    assert_eq!(
        short.body["message"],
        "TokenRequest.authentication.k8s.io \"builder\" is invalid: spec.expirationSeconds: \
         Invalid value: 10: may not specify a duration less than 10 minutes"
    );
    let missing = token_request(&app, "nobody", json!({})).await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    assert_eq!(
        missing.body["message"],
        "serviceaccounts \"nobody\" not found"
    );
    let to_config_map = token_request(
        &app,
        "builder",
        json!({"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}),
    )
    .await;
    assert_eq!(to_config_map.status, 400, "{}", to_config_map.text);
    assert_eq!(
        to_config_map.body["message"],
        "cannot bind token for serviceaccount \"builder\" to object of kind /v1, Kind=ConfigMap"
    );
    // The pod runs as `default`, not `builder`.
    let created = app.create_pod("default", &pod("web")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let other = token_request(
        &app,
        "builder",
        json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}}),
    )
    .await;
    assert_eq!(other.status, 400, "{}", other.text);
    assert_eq!(
        other.body["message"],
        "cannot bind token for serviceaccount \"builder\" to pod running with different \
         serviceaccount name."
    );
    let unknown_pod = token_request(
        &app,
        "builder",
        json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "gone"}}),
    )
    .await;
    assert_eq!(unknown_pod.status, 404, "{}", unknown_pod.text);
    let body = app
        .post(
            "/api/v1/namespaces/default/serviceaccounts/builder/token",
            &json!({"apiVersion": "v1", "kind": "Pod"}),
        )
        .await;
    assert_eq!(body.status, 400, "{}", body.text);
    let get = app
        .get("/api/v1/namespaces/default/serviceaccounts/builder/token")
        .await;
    assert_eq!(get.status, 405, "{}", get.text);
}

#[tokio::test]
async fn a_token_bound_to_a_pod_dies_with_the_pod() {
    let app = spawn_app().await;
    let account = service_account(&app, "default", "default").await;
    let created = app.create_pod("default", &pod("web")).await;
    let uid = created.body["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let stale = token_request(
        &app,
        "default",
        json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "other"}}),
    )
    .await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    let answer = token_request(
        &app,
        "default",
        json!({"audiences": [ISSUER, "vault"], "expirationSeconds": 600,
               "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}}),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(
        answer.body["spec"]["boundObjectRef"],
        json!({"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": uid})
    );
    let token = answer.body["status"]["token"].as_str().unwrap().to_string();
    // The claims name the ServiceAccount and the pod, with their uids.
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "system:serviceaccount:default:default");
    assert_eq!(claims["aud"], json!([ISSUER, "vault"]));
    assert_eq!(claims["kubernetes.io"]["pod"]["uid"], uid.as_str());
    assert_eq!(
        claims["kubernetes.io"]["serviceaccount"]["uid"],
        account["metadata"]["uid"]
    );
    assert_eq!(get_as(&app, &token, "/api/v1/pods").await, 200);
    let deleted = app
        .delete(
            "/api/v1/namespaces/default/pods/web",
            Some(&json!({"gracePeriodSeconds": 0})),
        )
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.text);
    assert_eq!(get_as(&app, &token, "/api/v1/pods").await, 401);

    // A token for an audience other than the API's does not authenticate to it.
    let elsewhere = token_request(&app, "default", json!({"audiences": ["vault"]})).await;
    let token = elsewhere.body["status"]["token"].as_str().unwrap();
    assert_eq!(get_as(&app, token, "/api/v1/pods").await, 401);
}

#[tokio::test]
async fn a_token_of_another_server_is_refused() {
    let first = spawn_app().await;
    let second = spawn_app().await;
    for app in [&first, &second] {
        service_account(app, "default", "builder").await;
    }
    let answer = token_request(&first, "builder", json!({})).await;
    let token = answer.body["status"]["token"].as_str().unwrap();
    assert_eq!(get_as(&first, token, "/api/v1/pods").await, 200);
    assert_eq!(get_as(&second, token, "/api/v1/pods").await, 401);
}

#[tokio::test]
async fn kubectl_create_token_gives_a_second_kubeconfig_its_own_name() {
    let app = start_with_workers(tempfile::tempdir().unwrap(), |_| {}).await;
    app.kubectl
        .ok(&["create", "serviceaccount", "deployer"])
        .await;
    let token = app
        .kubectl
        .ok(&["create", "token", "deployer", "--duration", "15m"])
        .await;
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let short = app
        .kubectl
        .run(&["create", "token", "deployer", "--duration", "1m"])
        .await;
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr)
            .contains("may not specify a duration less than 10 minutes"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    // A second kubeconfig: the same cluster, the ServiceAccount's token.
    let second = app.dir.path().join("deployer.kubeconfig");
    let kubeconfig = std::fs::read_to_string(&app.kubectl.kubeconfig).unwrap();
    let admin_token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    std::fs::write(&second, kubeconfig.replace(&admin_token, token)).unwrap();
    let deployer = Kubectl::new(&second);
    deployer
        .ok(&["create", "configmap", "settings", "--from-literal", "a=1"])
        .await;
    let history = app
        .get("/apis/kubetrail.dev/v1alpha1/logentries?kind=ConfigMap&name=settings")
        .await;
    assert_eq!(
        history.body["items"][0]["actor"], "system:serviceaccount:default:deployer",
        "{}",
        history.text
    );
    app.kubectl
        .ok(&["delete", "serviceaccount", "deployer"])
        .await;
    let refused = deployer.run(&["get", "configmaps"]).await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(
            "You must be logged in to the server (the server has asked for the client to \
             provide credentials)"
        ),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
