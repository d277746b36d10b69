//! core/v1 ConfigMaps, Secrets and ServiceAccounts served like the other kinds: create, read,
//! list, watch, update, patch, delete; `stringData` folded into `data` and never stored, the
//! Secret type defaulted and kept; kube-apiserver's 422s (keys, 1 MiB, `immutable`, typed
//! Secrets) that change nothing; discovery and Tables; the `default` ServiceAccount of every
//! namespace; namespace deletion and the garbage collector reaching these kinds.

use crate::support::app::*;
use crate::support::wait::eventually;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
const SECRETS: &str = "/api/v1/namespaces/default/secrets";
const ACCOUNTS: &str = "/api/v1/namespaces/default/serviceaccounts";
const WAIT: Duration = Duration::from_secs(20);

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

fn secret(name: &str, body: Value) -> Value {
    let mut s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}});
    for (k, v) in body.as_object().cloned().unwrap_or_default() {
        s[k] = v;
    }
    s
}

fn message(reply: &Reply) -> &str {
    reply.body["message"].as_str().unwrap_or("")
}

/// The (field, message) of each cause of a 422.
fn causes(reply: &Reply) -> Vec<(String, String)> {
    reply.body["details"]["causes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["field"].as_str().unwrap_or("").to_string(),
                c["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The events of a watch from `rv` that ends after a second.
async fn watched(app: &TestApp, path: &str, rv: &str) -> Vec<Value> {
    let reply = app
        .get(&format!(
            "{path}?watch=true&resourceVersion={rv}&timeoutSeconds=1"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a watch event"))
        .collect()
}

#[tokio::test]
async fn a_config_map_is_created_read_listed_watched_patched_and_deleted() {
    let app = spawn_app().await;
    let listed = app.get(CONFIGMAPS).await;
    let rv = listed.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let created = app
        .post(
            CONFIGMAPS,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                    "data": {"mode": "fast", "app.conf": "a=1\n"}, "binaryData": {"logo": b64("\u{1}png")}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["data"]["mode"], "fast");
    assert_eq!(created.body["binaryData"]["logo"], b64("\u{1}png"));
    assert!(created.body.get("status").is_none());
    assert!(created.body["metadata"].get("generation").is_none());

    let got = app.get(&format!("{CONFIGMAPS}/settings")).await;
    assert_eq!(got.body["data"], created.body["data"]);
    assert_eq!(
        names(&app.get("/api/v1/configmaps").await.body),
        ["settings"]
    );

    let patched = app
        .patch(
            &format!("{CONFIGMAPS}/settings"),
            "application/strategic-merge-patch+json",
            &json!({"data": {"mode": "slow", "extra": "1"}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(
        patched.body["data"],
        json!({"mode": "slow", "app.conf": "a=1\n", "extra": "1"})
    );
    let mut replaced = patched.body.clone();
    replaced["data"] = json!({"only": "this"});
    let updated = app.put(&format!("{CONFIGMAPS}/settings"), &replaced).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.body["data"], json!({"only": "this"}));

    let deleted = app.delete(&format!("{CONFIGMAPS}/settings"), None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(app.get(&format!("{CONFIGMAPS}/settings")).await.status, 404);

    let events: Vec<String> = watched(&app, CONFIGMAPS, &rv)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(events, ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn string_data_is_folded_into_data_and_never_stored() {
    let app = spawn_app().await;
    let created = app
        .post(
            SECRETS,
            &secret(
                "creds",
                json!({"data": {"user": b64("admin"), "password": b64("old")},
                       "stringData": {"password": "s3cr3t", "token": "t"}}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["type"], "Opaque");
    assert_eq!(
        created.body["data"],
        json!({"user": b64("admin"), "password": b64("s3cr3t"), "token": b64("t")})
    );
    assert!(created.body.get("stringData").is_none(), "{}", created.text);
    let stored = app.get(&format!("{SECRETS}/creds")).await.body;
    assert!(stored.get("stringData").is_none());
    assert_eq!(stored["data"], created.body["data"]);

    // On update (a merge patch here) too.
    let patched = app
        .patch(
            &format!("{SECRETS}/creds"),
            "application/merge-patch+json",
            &json!({"stringData": {"user": "root"}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["data"]["user"], b64("root"));
    assert!(patched.body.get("stringData").is_none());

    // The type is kept.
    let retyped = app
        .patch(
            &format!("{SECRETS}/creds"),
            "application/merge-patch+json",
            &json!({"type": "kubernetes.io/basic-auth"}),
        )
        .await;
    assert_eq!(retyped.status, 422, "{}", retyped.text);
    assert_eq!(
        message(&retyped),
        "Secret \"creds\" is invalid: type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"
    );

    // Helm's release Secrets are a custom opaque type.
    let helm = app
        .post(
            SECRETS,
            &secret(
                "sh.helm.release.v1.demo.v1",
                json!({"type": "helm.sh/release.v1", "data": {"release": b64("H4sI")},
                       "metadata": {"name": "sh.helm.release.v1.demo.v1",
                                    "labels": {"owner": "helm", "status": "deployed"}}}),
            ),
        )
        .await;
    assert_eq!(helm.status, 201, "{}", helm.text);
    let by_type = app
        .get("/api/v1/namespaces/default/secrets?fieldSelector=type=helm.sh/release.v1")
        .await;
    assert_eq!(names(&by_type.body), ["sh.helm.release.v1.demo.v1"]);
}

#[tokio::test]
async fn invalid_config_maps_and_secrets_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let before = app.latest_rv().await;

    let bad_keys = app
        .post(
            CONFIGMAPS,
            &config_map("keys", json!({"a b": "1", "..": "2"})),
        )
        .await;
    assert_eq!(bad_keys.status, 422, "{}", bad_keys.text);
    assert_eq!(bad_keys.body["reason"], "Invalid");
    assert_eq!(
        causes(&bad_keys),
        [
            ("data[..]".to_string(), "Invalid value: \"..\": must not be '..'".to_string()),
            (
                "data[a b]".to_string(),
                "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string()
            ),
        ]
    );

    let both = app
        .post(
            CONFIGMAPS,
            &json!({"metadata": {"name": "both"}, "data": {"k": "1"}, "binaryData": {"k": b64("1")}}),
        )
        .await;
    assert_eq!(
        message(&both),
        "ConfigMap \"both\" is invalid: data[k]: Invalid value: \"k\": duplicate of key present in binaryData"
    );

    let big = "x".repeat(600 * 1024);
    let too_big = app
        .post(CONFIGMAPS, &config_map("big", json!({"a": big, "b": big})))
        .await;
    assert_eq!(too_big.status, 422, "{}", &too_big.text[..200]);
    assert_eq!(
        message(&too_big),
        "ConfigMap \"big\" is invalid: []: Too long: may not be more than 1048576 bytes"
    );
    let secret_too_big = app
        .post(
            SECRETS,
            &secret("big", json!({"data": {"a": b64(&big), "b": b64(&big)}})),
        )
        .await;
    assert_eq!(
        message(&secret_too_big),
        "Secret \"big\" is invalid: data: Too long: may not be more than 1048576 bytes"
    );

    for (body, want) in [
        (
            json!({"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c")}}),
            "Secret \"typed\" is invalid: data[tls.key]: Required value",
        ),
        (
            json!({"type": "kubernetes.io/service-account-token"}),
            "Secret \"typed\" is invalid: metadata.annotations[kubernetes.io/service-account.name]: Required value",
        ),
        (
            json!({"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "[]"}}),
            "Secret \"typed\" is invalid: data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": json: cannot unmarshal array into Go value of type map[string]interface {}",
        ),
        (
            json!({"type": "kubernetes.io/ssh-auth"}),
            "Secret \"typed\" is invalid: data[ssh-privatekey]: Required value",
        ),
    ] {
        let reply = app.post(SECRETS, &secret("typed", body)).await;
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert_eq!(message(&reply), want);
    }
    let basic = app
        .post(
            SECRETS,
            &secret("typed", json!({"type": "kubernetes.io/basic-auth"})),
        )
        .await;
    assert_eq!(
        causes(&basic),
        [
            ("data[username]".to_string(), "Required value".to_string()),
            ("data[password]".to_string(), "Required value".to_string()),
        ]
    );

    // A value that is not base64 does not decode at all.
    let not_base64 = app
        .post(
            SECRETS,
            &secret("raw", json!({"data": {"a": "not base64!"}})),
        )
        .await;
    assert_eq!(not_base64.status, 400, "{}", not_base64.text);
    assert!(
        message(&not_base64).starts_with("Secret in version \"v1\" cannot be handled as a Secret"),
        "{}",
        not_base64.text
    );

    assert_eq!(app.latest_rv().await, before, "nothing was written");
    assert!(names(&app.get(CONFIGMAPS).await.body).is_empty());
    assert!(names(&app.get(SECRETS).await.body).is_empty());
}

#[tokio::test]
async fn immutable_data_stays_as_it_is() {
    let app = spawn_app().await;
    let created = app
        .post(
            CONFIGMAPS,
            &json!({"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": true}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let path = format!("{CONFIGMAPS}/frozen");
    let changed = app
        .patch(
            &path,
            "application/merge-patch+json",
            &json!({"data": {"a": "2"}}),
        )
        .await;
    assert_eq!(changed.status, 422, "{}", changed.text);
    assert_eq!(
        message(&changed),
        "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    let thawed = app
        .patch(
            &path,
            "application/merge-patch+json",
            &json!({"immutable": null}),
        )
        .await;
    assert_eq!(
        message(&thawed),
        "ConfigMap \"frozen\" is invalid: immutable: Forbidden: field is immutable when `immutable` is set"
    );
    let labelled = app
        .patch(
            &path,
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"tier": "web"}}}),
        )
        .await;
    assert_eq!(labelled.status, 200, "{}", labelled.text);

    app.post(
        SECRETS,
        &secret(
            "frozen",
            json!({"stringData": {"a": "1"}, "immutable": true}),
        ),
    )
    .await;
    let changed = app
        .patch(
            &format!("{SECRETS}/frozen"),
            "application/merge-patch+json",
            &json!({"stringData": {"a": "2"}}),
        )
        .await;
    assert_eq!(
        message(&changed),
        "Secret \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    assert_eq!(
        app.get(&format!("{SECRETS}/frozen")).await.body["data"]["a"],
        b64("1")
    );
}

#[tokio::test]
async fn service_accounts_merge_secrets_by_name() {
    let app = spawn_app().await;
    let created = app
        .post(
            ACCOUNTS,
            &json!({"metadata": {"name": "build-bot"}, "secrets": [{"name": "a"}],
                    "imagePullSecrets": [{"name": "registry"}], "automountServiceAccountToken": false}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let patched = app
        .patch(
            &format!("{ACCOUNTS}/build-bot"),
            "application/strategic-merge-patch+json",
            &json!({"secrets": [{"name": "b"}], "imagePullSecrets": [{"name": "other"}]}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let secrets: Vec<&str> = patched.body["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    assert!(secrets.contains(&"a") && secrets.contains(&"b"));
    assert_eq!(patched.body["imagePullSecrets"], json!([{"name": "other"}]));
    let bad = app
        .post(ACCOUNTS, &json!({"metadata": {"name": "Build_Bot"}}))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
}

#[tokio::test]
async fn discovery_and_tables_serve_the_three_kinds() {
    let app = spawn_app().await;
    let core = app.get("/api/v1").await.body;
    let resources = core["resources"].as_array().unwrap();
    for (name, kind, short) in [
        ("configmaps", "ConfigMap", json!(["cm"])),
        ("secrets", "Secret", json!([])),
        ("serviceaccounts", "ServiceAccount", json!(["sa"])),
    ] {
        let r = resources
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} in discovery"));
        assert_eq!(r["kind"], kind);
        assert_eq!(r["namespaced"], true);
        assert_eq!(
            r.get("shortNames").cloned().unwrap_or(json!([])),
            short,
            "{name}"
        );
        assert!(
            r.get("categories").is_none_or(|c| c == &json!([])),
            "{name}: {r}"
        );
        assert_eq!(
            r["verbs"],
            json!([
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch"
            ])
        );
    }

    app.post(
        CONFIGMAPS,
        &config_map("settings", json!({"a": "1", "b": "2"})),
    )
    .await;
    app.post(
        SECRETS,
        &secret(
            "tls",
            json!({"type": "kubernetes.io/tls",
            "stringData": {"tls.crt": "c", "tls.key": "k"}}),
        ),
    )
    .await;
    app.post(
        ACCOUNTS,
        &json!({"metadata": {"name": "bot"}, "secrets": [{"name": "tls"}]}),
    )
    .await;
    for (path, headers, cells) in [
        (
            CONFIGMAPS,
            vec!["Name", "Data", "Age"],
            json!(["settings", 2]),
        ),
        (
            SECRETS,
            vec!["Name", "Type", "Data", "Age"],
            json!(["tls", "kubernetes.io/tls", 2]),
        ),
        (ACCOUNTS, vec!["Name", "Secrets", "Age"], json!(["bot", 1])),
    ] {
        let table: Value = app
            .request(Method::GET, path)
            .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let got: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(got, headers, "{path}");
        let row = &table["rows"][0]["cells"];
        for (i, want) in cells.as_array().unwrap().iter().enumerate() {
            assert_eq!(&row[i], want, "{path}: {row}");
        }
    }
}

async fn default_account(app: &TestApp, namespace: &str) -> Reply {
    app.get(&format!(
        "/api/v1/namespaces/{namespace}/serviceaccounts/default"
    ))
    .await
}

#[tokio::test]
async fn every_namespace_has_a_default_service_account_made_again_when_deleted() {
    let app = spawn_app_with(|s| s.workers.controllers = true).await;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let made = eventually(WAIT, || async {
            default_account(&app, ns).await.status == 200
        })
        .await;
        assert!(made, "default ServiceAccount in {ns}");
    }
    let created = app
        .post("/api/v1/namespaces", &json!({"metadata": {"name": "team"}}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let made = eventually(WAIT, || async {
        default_account(&app, "team").await.status == 200
    })
    .await;
    assert!(made, "default ServiceAccount in a new namespace");
    let first = default_account(&app, "team").await.body["metadata"]["uid"].clone();

    let deleted = app
        .delete("/api/v1/namespaces/team/serviceaccounts/default", None)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let again = eventually(WAIT, || async {
        let reply = default_account(&app, "team").await;
        reply.status == 200 && reply.body["metadata"]["uid"] != first
    })
    .await;
    assert!(again, "made again after its deletion");

    // Namespace deletion takes ConfigMaps, Secrets and ServiceAccounts with it, and the
    // controller makes no new account in a namespace being deleted.
    app.post(
        "/api/v1/namespaces/team/configmaps",
        &config_map("settings", json!({"a": "1"})),
    )
    .await;
    app.post(
        "/api/v1/namespaces/team/secrets",
        &secret("creds", json!({"stringData": {"a": "1"}})),
    )
    .await;
    let reply = app.delete("/api/v1/namespaces/team", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let gone = eventually(WAIT, || async {
        app.get("/api/v1/namespaces/team").await.status == 404
    })
    .await;
    assert!(gone, "namespace removed");
    for kind in ["configmaps", "secrets", "serviceaccounts"] {
        let listed = app.get(&format!("/api/v1/namespaces/team/{kind}")).await;
        assert!(names(&listed.body).is_empty(), "{kind}: {}", listed.text);
    }
}

#[tokio::test]
async fn the_garbage_collector_follows_owner_references_on_these_kinds() {
    let app = spawn_app_with(|s| s.workers.controllers = true).await;
    let owner = app
        .post(CONFIGMAPS, &config_map("owner", json!({"a": "1"})))
        .await;
    assert_eq!(owner.status, 201, "{}", owner.text);
    let reference = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
        "uid": owner.body["metadata"]["uid"]}]);
    let dependent = app
        .post(
            SECRETS,
            &json!({"metadata": {"name": "dependent", "ownerReferences": reference},
                    "stringData": {"a": "1"}}),
        )
        .await;
    assert_eq!(dependent.status, 201, "{}", dependent.text);
    app.delete(&format!("{CONFIGMAPS}/owner"), None).await;
    let collected = eventually(WAIT, || async {
        app.get(&format!("{SECRETS}/dependent")).await.status == 404
    })
    .await;
    assert!(
        collected,
        "the Secret owned by the deleted ConfigMap is collected"
    );
}
