//! ConfigMaps, Secrets and ServiceAccounts through real kubectl: `create configmap` and
//! `create secret generic` from literals, files, a directory and an env file, `create secret
//! tls` (a generated certificate) and `docker-registry`, `create sa`; `get cm,secret,sa`,
//! `get secret -o yaml` (base64 as Kubernetes), `describe` (byte counts, never a secret's
//! values), `edit` and `patch`, `apply` of a ConfigMap and of a Secret with stringData, and
//! `delete`. The typed client's protobuf bodies store what the same object sent as JSON
//! stores. The test command runs this suite with the kubectl on PATH and with 1.37.

use crate::support::app::{TestApp, start_with_workers};
use crate::support::wait::until;
use base64::Engine as _;
use serde_json::Value;
use std::time::Duration;

async fn cluster() -> TestApp {
    start_with_workers(tempfile::tempdir().expect("data dir"), |_| {}).await
}

/// The whitespace-separated cells of each line of `out` (the header first).
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn scratch(c: &TestApp, name: &str, content: &str) -> String {
    let path = c.kubectl.cache.path().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("scratch dir");
    }
    std::fs::write(&path, content).expect("scratch file written");
    path.display().to_string()
}

fn decoded(value: &Value) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap_or(""))
        .expect("base64");
    String::from_utf8(bytes).expect("utf-8")
}

async fn get_json(c: &TestApp, what: &[&str]) -> Value {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&c.kubectl.ok(&args).await).expect("kubectl JSON")
}

/// Create `args` as kubectl's typed client sends it, then the same object through
/// `--dry-run=client -o json | kubectl create -f -` renamed `<name>-json`; both stored alike.
async fn typed_equals_json(c: &TestApp, args: &[&str], kind: &str, name: &str) {
    let out = c.kubectl.ok(args).await;
    assert!(out.contains(" created"), "{out}");
    let mut dry_run = args.to_vec();
    dry_run.extend_from_slice(&["--dry-run=client", "-o", "json"]);
    let mut object: Value =
        serde_json::from_str(&c.kubectl.ok(&dry_run).await).expect("dry-run JSON");
    object["metadata"]["name"] = format!("{name}-json").into();
    let created = c
        .kubectl
        .run_with_input(&["create", "-f", "-"], Some(object.to_string().as_bytes()))
        .await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let typed = get_json(c, &[kind, name]).await;
    let json = get_json(c, &[kind, &format!("{name}-json")]).await;
    for field in [
        "data",
        "binaryData",
        "type",
        "immutable",
        "secrets",
        "imagePullSecrets",
    ] {
        assert_eq!(typed.get(field), json.get(field), "{kind} {field}");
    }
    assert_eq!(typed["metadata"]["labels"], json["metadata"]["labels"]);
}

#[tokio::test]
async fn config_maps_secrets_and_service_accounts_through_kubectl() {
    let c = cluster().await;
    let file = scratch(&c, "app.properties", "color=blue\nsize=2\n");
    let dir_a = scratch(&c, "conf/a.txt", "alpha");
    scratch(&c, "conf/b.txt", "beta");
    let dir = std::path::Path::new(&dir_a)
        .parent()
        .expect("conf dir")
        .display()
        .to_string();
    let env = scratch(&c, "app.env", "# comment\nMODE=fast\nLEVEL=3\n");

    // create configmap from each source, sent by the typed client.
    typed_equals_json(
        &c,
        &[
            "create",
            "configmap",
            "literal",
            "--from-literal=mode=fast",
            "--from-literal=level=3",
        ],
        "configmap",
        "literal",
    )
    .await;
    let out = c
        .kubectl
        .ok(&[
            "create",
            "configmap",
            "files",
            &format!("--from-file={file}"),
            &format!("--from-file=renamed.txt={file}"),
        ])
        .await;
    assert_eq!(out.trim(), "configmap/files created");
    let out = c
        .kubectl
        .ok(&["create", "configmap", "dir", &format!("--from-file={dir}")])
        .await;
    assert_eq!(out.trim(), "configmap/dir created");
    let out = c
        .kubectl
        .ok(&[
            "create",
            "configmap",
            "env",
            &format!("--from-env-file={env}"),
        ])
        .await;
    assert_eq!(out.trim(), "configmap/env created");
    let files = get_json(&c, &["cm", "files"]).await;
    assert_eq!(files["data"]["app.properties"], "color=blue\nsize=2\n");
    assert_eq!(files["data"]["renamed.txt"], "color=blue\nsize=2\n");
    let dir_cm = get_json(&c, &["cm", "dir"]).await;
    assert_eq!(dir_cm["data"]["a.txt"], "alpha");
    assert_eq!(dir_cm["data"]["b.txt"], "beta");
    let env_cm = get_json(&c, &["cm", "env"]).await;
    assert_eq!(env_cm["data"]["MODE"], "fast");
    assert_eq!(env_cm["data"]["LEVEL"], "3");

    // create secret generic | tls | docker-registry.
    typed_equals_json(
        &c,
        &[
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=user=admin",
            "--from-literal=password=s3cr3t",
        ],
        "secret",
        "creds",
    )
    .await;
    let out = c
        .kubectl
        .ok(&[
            "create",
            "secret",
            "generic",
            "from-files",
            &format!("--from-file={dir}"),
            &format!("--from-file=props={file}"),
        ])
        .await;
    assert_eq!(out.trim(), "secret/from-files created");
    let out = c
        .kubectl
        .ok(&[
            "create",
            "secret",
            "generic",
            "from-env",
            &format!("--from-env-file={env}"),
        ])
        .await;
    assert_eq!(out.trim(), "secret/from-env created");
    let from_files = get_json(&c, &["secret", "from-files"]).await;
    assert_eq!(decoded(&from_files["data"]["a.txt"]), "alpha");
    assert_eq!(
        decoded(&from_files["data"]["props"]),
        "color=blue\nsize=2\n"
    );
    let from_env = get_json(&c, &["secret", "from-env"]).await;
    assert_eq!(decoded(&from_env["data"]["MODE"]), "fast");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["web.example".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let cert_path = scratch(&c, "tls.crt", &cert.pem());
    let key_path = scratch(&c, "tls.key", &key.serialize_pem());
    typed_equals_json(
        &c,
        &[
            "create",
            "secret",
            "tls",
            "web-tls",
            &format!("--cert={cert_path}"),
            &format!("--key={key_path}"),
        ],
        "secret",
        "web-tls",
    )
    .await;
    typed_equals_json(
        &c,
        &[
            "create",
            "secret",
            "docker-registry",
            "registry",
            "--docker-server=registry.example:5000",
            "--docker-username=robot",
            "--docker-password=hunter2",
        ],
        "secret",
        "registry",
    )
    .await;
    typed_equals_json(&c, &["create", "sa", "build-bot"], "sa", "build-bot").await;

    let tls = get_json(&c, &["secret", "web-tls"]).await;
    assert_eq!(tls["type"], "kubernetes.io/tls");
    assert_eq!(decoded(&tls["data"]["tls.crt"]), cert.pem());
    let registry = get_json(&c, &["secret", "registry"]).await;
    assert_eq!(registry["type"], "kubernetes.io/dockerconfigjson");
    let config: Value =
        serde_json::from_str(&decoded(&registry["data"][".dockerconfigjson"])).expect("JSON");
    assert_eq!(
        config["auths"]["registry.example:5000"]["username"],
        "robot"
    );

    // get: the three Tables together; the controller's default ServiceAccount among them.
    until(
        "the default ServiceAccount",
        Duration::from_secs(20),
        || async {
            c.kubectl
                .run(&["get", "sa", "default"])
                .await
                .status
                .success()
        },
    )
    .await;
    let out = c.kubectl.ok(&["get", "cm,secret,sa"]).await;
    let table = rows(&out);
    assert!(
        table.contains(&vec!["NAME".into(), "DATA".into(), "AGE".into()]),
        "{out}"
    );
    assert!(
        table.iter().any(|r| r[..2] == ["configmap/literal", "2"]),
        "{out}"
    );
    assert!(
        table
            .iter()
            .any(|r| r[..3] == ["secret/creds", "Opaque", "2"]),
        "{out}"
    );
    assert!(
        table
            .iter()
            .any(|r| r[..3] == ["secret/web-tls", "kubernetes.io/tls", "2"]),
        "{out}"
    );
    assert!(
        table
            .iter()
            .any(|r| r[..2] == ["serviceaccount/default", "0"]),
        "{out}"
    );
    assert!(
        table
            .iter()
            .any(|r| r[..2] == ["serviceaccount/build-bot", "0"]),
        "{out}"
    );
    let out = c.kubectl.ok(&["get", "secret", "creds"]).await;
    assert_eq!(rows(&out)[0], ["NAME", "TYPE", "DATA", "AGE"], "{out}");

    // get -o yaml: the values in base64, as Kubernetes serves them.
    let yaml = c
        .kubectl
        .ok(&["get", "secret", "creds", "-o", "yaml"])
        .await;
    assert!(yaml.contains("  password: czNjcjN0\n"), "{yaml}");
    assert!(yaml.contains("  user: YWRtaW4=\n"), "{yaml}");
    assert!(yaml.contains("type: Opaque\n"), "{yaml}");
    assert!(!yaml.contains("s3cr3t"), "{yaml}");

    // describe: a ConfigMap's values, a Secret's sizes only, a ServiceAccount's references.
    let out = c.kubectl.ok(&["describe", "cm", "literal"]).await;
    assert!(out.contains("Name:         literal"), "{out}");
    assert!(out.contains("mode:\n----\nfast"), "{out}");
    let out = c.kubectl.ok(&["describe", "secret", "creds"]).await;
    assert!(out.contains("Type:  Opaque"), "{out}");
    assert!(out.contains("password:  6 bytes"), "{out}");
    assert!(out.contains("user:      5 bytes"), "{out}");
    assert!(!out.contains("s3cr3t") && !out.contains("admin"), "{out}");
    let out = c.kubectl.ok(&["describe", "sa", "build-bot"]).await;
    assert!(out.contains("Name:                build-bot"), "{out}");
    // Newer kubectl no longer prints the mountable secrets and tokens.
    assert!(out.contains("Image pull secrets:  <none>"), "{out}");
    assert!(out.contains("Events:              <none>"), "{out}");

    // edit (kubectl sends a patch) and patch.
    let mut edit = c.kubectl.command(&["edit", "cm", "literal"]);
    edit.env("KUBE_EDITOR", "sed -i s/fast/slow/");
    let edited = tokio::task::spawn_blocking(move || edit.output())
        .await
        .expect("kubectl ran")
        .expect("kubectl edit");
    assert!(
        edited.status.success(),
        "{}",
        String::from_utf8_lossy(&edited.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&edited.stdout).trim(),
        "configmap/literal edited"
    );
    let out = c
        .kubectl
        .ok(&[
            "patch",
            "secret",
            "creds",
            "-p",
            r#"{"stringData":{"user":"root"}}"#,
        ])
        .await;
    assert_eq!(out.trim(), "secret/creds patched");
    let creds = get_json(&c, &["secret", "creds"]).await;
    assert_eq!(decoded(&creds["data"]["user"]), "root");
    assert!(creds.get("stringData").is_none());
    assert_eq!(
        get_json(&c, &["cm", "literal"]).await["data"]["mode"],
        "slow"
    );

    // delete.
    let out = c
        .kubectl
        .ok(&["delete", "cm/literal", "secret/creds", "sa/build-bot"])
        .await;
    assert!(out.contains("configmap \"literal\" deleted"), "{out}");
    assert!(out.contains("secret \"creds\" deleted"), "{out}");
    assert!(
        out.contains("serviceaccount \"build-bot\" deleted"),
        "{out}"
    );
    let gone = c.kubectl.run(&["get", "cm", "literal"]).await;
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("configmaps \"literal\" not found"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
}

#[tokio::test]
async fn apply_of_a_config_map_and_a_secret_with_string_data() {
    let c = cluster().await;
    let manifest = |mode: &str, password: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  mode: {mode}\n  \
             keep: \"1\"\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n\
             stringData:\n  password: {password}\n"
        )
    };
    let path = scratch(&c, "app.yaml", &manifest("fast", "first"));
    let out = c.kubectl.ok(&["apply", "-f", &path]).await;
    assert!(out.contains("configmap/app created"), "{out}");
    assert!(out.contains("secret/app created"), "{out}");
    let secret = get_json(&c, &["secret", "app"]).await;
    assert_eq!(decoded(&secret["data"]["password"]), "first");
    assert_eq!(secret["type"], "Opaque");
    assert!(secret.get("stringData").is_none());

    std::fs::write(&path, manifest("slow", "second")).expect("manifest rewritten");
    let out = c.kubectl.ok(&["apply", "-f", &path]).await;
    assert!(out.contains("configmap/app configured"), "{out}");
    assert!(out.contains("secret/app configured"), "{out}");
    let cm = get_json(&c, &["cm", "app"]).await;
    assert_eq!(cm["data"]["mode"], "slow");
    assert_eq!(cm["data"]["keep"], "1");
    let secret = get_json(&c, &["secret", "app"]).await;
    assert_eq!(decoded(&secret["data"]["password"]), "second");

    // Unchanged: nothing to do.
    let out = c.kubectl.ok(&["apply", "-f", &path]).await;
    assert!(out.contains("configmap/app unchanged"), "{out}");

    // Server-side apply too.
    let out = c
        .kubectl
        .ok(&["apply", "--server-side", "--force-conflicts", "-f", &path])
        .await;
    assert!(out.contains("configmap/app serverside-applied"), "{out}");
    let out = c.kubectl.ok(&["delete", "-f", &path]).await;
    assert!(out.contains("configmap \"app\" deleted"), "{out}");
    assert!(out.contains("secret \"app\" deleted"), "{out}");
}
