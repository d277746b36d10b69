//! What the Docker kubelet injects into containers, through the real `kubectl` and Docker: the
//! course's ConfigMap and Secret chapters (values in the environment and in files, seen with
//! `kubectl exec`), an update reaching a mounted file while a `subPath` mount keeps the old
//! value, a missing ConfigMap key holding a container in `CreateContainerConfigError` until it
//! appears, and a pod calling the API over the `kubernetes` Service with its ServiceAccount
//! token (its write recorded under `system:serviceaccount:NS:default`). Each test runs a
//! server with a Docker node of its own; everything that node made is removed at the end.

use crate::support::binary::{Serve, Server};
use crate::support::docker::{BUSYBOX, Cleanup, docker, unique};
use crate::support::kubectl::Kubectl;
use crate::support::wait;
use std::process::Output;
use std::time::Duration;
use tempfile::TempDir;

const NODE_LABEL: &str = "dev.kubetrail.node";
/// The image with curl (`scripts/images`), for the pod that calls the API.
const CURL: &str = "kubetrail.dev/curl:1";
const SA: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Fields drop in this order: the server, then what its node made, then the directory.
struct Cluster {
    _server: Server,
    _made: Cleanup,
    kubectl: Kubectl,
    dir: TempDir,
}

impl Cluster {
    fn start(test: &str, range: Option<&str>) -> Cluster {
        let dir = tempfile::tempdir().expect("data dir");
        let node = unique("inj", test);
        let serve = Serve::new(dir.path())
            .args(&["--node-name", &node])
            .env_remove("KUBETRAIL_SIMULATED_NODES");
        let server = match range {
            Some(range) => serve.service_network(range).start(),
            None => serve.start(),
        };
        let cluster = Cluster {
            kubectl: Kubectl::new(&server.kubeconfig),
            _made: Cleanup::new(NODE_LABEL, &node),
            _server: server,
            dir,
        };
        wait::blocking(
            "the Docker node to be Ready",
            Duration::from_secs(60),
            || {
                let out = cluster
                    .kubectl
                    .output(&["get", "node", &node, "--no-headers"]);
                String::from_utf8_lossy(&out.stdout)
                    .contains(" Ready ")
                    .then_some(())
            },
        );
        wait::blocking(
            "the default ServiceAccount",
            Duration::from_secs(30),
            || {
                cluster
                    .kubectl
                    .output(&["get", "sa", "default"])
                    .status
                    .success()
                    .then_some(())
            },
        );
        cluster
    }

    fn run(&self, args: &[&str]) -> Output {
        self.kubectl.output(args)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.kubectl.ok_blocking(args)
    }

    fn apply(&self, manifest: &str) {
        let out = self
            .kubectl
            .output_with_input(&["apply", "-f", "-"], Some(manifest.as_bytes()));
        assert!(
            out.status.success(),
            "kubectl apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let template = format!("jsonpath={path}");
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", &template]);
        String::from_utf8_lossy(&self.run(&args).stdout).to_string()
    }

    fn wait_running(&self, pod: &str) {
        wait::blocking(
            &format!("pod {pod} to run"),
            Duration::from_secs(90),
            || {
                (self.jsonpath(&["pod", pod], "{.status.containerStatuses[0].ready}") == "true")
                    .then_some(())
            },
        );
    }

    /// `kubectl exec POD -- sh -c SCRIPT`, required to succeed; its stdout.
    fn sh(&self, pod: &str, script: &str) -> String {
        self.ok(&["exec", pod, "--", "sh", "-c", script])
    }
}

fn pod_manifest(name: &str, image: &str, body: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: IfNotPresent\n    command: [\"sleep\", \"3600\"]\n{body}"
    )
}

#[test]
fn the_configmap_chapter_env_and_files_and_an_update_reaching_the_file() {
    let c = Cluster::start("cm", None);
    let files = tempfile::tempdir().expect("files");
    let config = files.path().join("config-file.yml");
    std::fs::write(&config, "org: kubetrail\nlevel: 1\n").expect("config file");
    c.ok(&[
        "create",
        "configmap",
        "my-config",
        &format!("--from-file={}", config.display()),
        "--from-literal=hello=world",
    ]);
    c.ok(&[
        "create",
        "configmap",
        "env-config",
        "--from-literal=LOG_LEVEL=debug",
        "--from-literal=1st=x",
    ]);
    c.apply(&pod_manifest(
        "alpine",
        BUSYBOX,
        "    envFrom:\n    - configMapRef:\n        name: env-config\n    - configMapRef:\n        name: my-config\n      prefix: CFG_\n    env:\n    - name: HELLO\n      valueFrom:\n        configMapKeyRef:\n          name: my-config\n          key: hello\n    - name: GREETING\n      value: \"$(HELLO) from $(LOG_LEVEL)\"\n    - name: MISSING\n      valueFrom:\n        configMapKeyRef:\n          name: nope\n          key: k\n          optional: true\n    volumeMounts:\n    - name: config-vol\n      mountPath: /etc/config\n    - name: config-vol\n      mountPath: /etc/hello.txt\n      subPath: hello\n  volumes:\n  - name: config-vol\n    configMap:\n      name: my-config\n",
    ));
    c.wait_running("alpine");

    // The environment: valueFrom, envFrom with its prefix, $(VAR) expansion, the kubernetes
    // Service's variables; the optional missing one is absent.
    let env = c.ok(&["exec", "alpine", "--", "env"]);
    for line in [
        "HELLO=world",
        "LOG_LEVEL=debug",
        "CFG_hello=world",
        "GREETING=world from debug",
        "KUBERNETES_SERVICE_PORT=443",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} in:\n{env}");
    }
    assert!(env.contains("KUBERNETES_SERVICE_HOST="), "{env}");
    assert!(!env.contains("MISSING="), "{env}");
    // The key that is no variable name was skipped, with the kubelet's Warning.
    wait::blocking(
        "the InvalidEnvironmentVariableNames event",
        Duration::from_secs(20),
        || {
            let events = c.ok(&[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=alpine",
            ]);
            events
                .contains("InvalidEnvironmentVariableNames")
                .then_some(())
        },
    );

    // The files: one per key, the user's names symlinks into `..data`, read-only.
    assert_eq!(c.sh("alpine", "cat /etc/config/hello"), "world");
    assert_eq!(
        c.sh("alpine", "cat /etc/config/config-file.yml"),
        "org: kubetrail\nlevel: 1\n"
    );
    assert_eq!(
        c.sh("alpine", "readlink /etc/config/hello"),
        "..data/hello\n"
    );
    assert_eq!(c.sh("alpine", "cat /etc/hello.txt"), "world");
    let write = c.run(&[
        "exec",
        "alpine",
        "--",
        "sh",
        "-c",
        "echo x > /etc/config/new",
    ]);
    assert!(!write.status.success(), "the volume is read-only");

    // An update reaches the mounted file within seconds; the subPath mount keeps the old
    // value, as in Kubernetes.
    c.ok(&[
        "patch",
        "configmap",
        "my-config",
        "--type=merge",
        "-p",
        r#"{"data":{"hello":"updated"}}"#,
    ]);
    wait::blocking(
        "the update to reach the mounted file",
        Duration::from_secs(30),
        || (c.sh("alpine", "cat /etc/config/hello") == "updated").then_some(()),
    );
    assert_eq!(c.sh("alpine", "cat /etc/hello.txt"), "world");
    // The environment is what it was when the container started.
    assert!(
        c.ok(&["exec", "alpine", "--", "env"])
            .lines()
            .any(|l| l == "HELLO=world")
    );

    // The pod's files go with it.
    let uid = c.jsonpath(&["pod", "alpine"], "{.metadata.uid}");
    let pod_dir = c.dir.path().join("kubelet/pods").join(&uid);
    assert!(pod_dir.join("volumes/config-vol/..data").exists());
    c.ok(&["delete", "pod", "alpine", "--wait=true"]);
    wait::blocking(
        "the pod's files to be removed",
        Duration::from_secs(30),
        || (!pod_dir.exists()).then_some(()),
    );
}

#[test]
fn the_secret_chapter_env_and_files_with_items_and_modes() {
    let c = Cluster::start("secret", None);
    c.ok(&[
        "create",
        "secret",
        "generic",
        "my-secret",
        "--from-literal=username=admin",
        "--from-literal=password=s3cr3t!",
    ]);
    c.apply(&pod_manifest(
        "vault",
        BUSYBOX,
        "    env:\n    - name: DB_USER\n      valueFrom:\n        secretKeyRef:\n          name: my-secret\n          key: username\n    envFrom:\n    - secretRef:\n        name: my-secret\n    volumeMounts:\n    - name: secret-vol\n      mountPath: /etc/secret\n  volumes:\n  - name: secret-vol\n    secret:\n      secretName: my-secret\n      defaultMode: 0400\n      items:\n      - key: password\n        path: db/password\n",
    ));
    c.wait_running("vault");
    let env = c.ok(&["exec", "vault", "--", "env"]);
    for line in ["DB_USER=admin", "username=admin", "password=s3cr3t!"] {
        assert!(env.lines().any(|l| l == line), "{line} in:\n{env}");
    }
    assert_eq!(c.sh("vault", "cat /etc/secret/db/password"), "s3cr3t!");
    // Only the item asked for, with the mode asked for.
    assert_eq!(c.sh("vault", "ls /etc/secret"), "db\n");
    assert_eq!(
        c.sh("vault", "stat -L -c %a /etc/secret/db/password"),
        "400\n"
    );
    // The values never reach Docker's view of the mounts as anything but a host directory.
    let uid = c.jsonpath(&["pod", "vault"], "{.metadata.uid}");
    let mounts = docker(&[
        "ps",
        "--filter",
        &format!("label=io.kubernetes.pod.uid={uid}"),
        "--format",
        "{{.Mounts}}",
    ]);
    assert!(!mounts.contains("s3cr3t"), "{mounts}");
}

#[test]
fn a_missing_config_map_key_holds_the_container_until_it_appears() {
    let c = Cluster::start("cfgerr", None);
    c.apply(&pod_manifest(
        "waiting",
        BUSYBOX,
        "    env:\n    - name: MODE\n      valueFrom:\n        configMapKeyRef:\n          name: late\n          key: mode\n",
    ));
    let message = wait::blocking(
        "CreateContainerConfigError",
        Duration::from_secs(60),
        || {
            let reason = c.jsonpath(
                &["pod", "waiting"],
                "{.status.containerStatuses[0].state.waiting.reason}",
            );
            (reason == "CreateContainerConfigError").then(|| {
                c.jsonpath(
                    &["pod", "waiting"],
                    "{.status.containerStatuses[0].state.waiting.message}",
                )
            })
        },
    );
    assert_eq!(message, "configmap \"late\" not found");
    let row = c.ok(&["get", "pod", "waiting", "--no-headers"]);
    assert!(row.contains("CreateContainerConfigError"), "{row}");

    // The ConfigMap without the key: the kubelet's other message.
    c.ok(&["create", "configmap", "late", "--from-literal=other=1"]);
    wait::blocking("the missing key's message", Duration::from_secs(60), || {
        (c.jsonpath(
            &["pod", "waiting"],
            "{.status.containerStatuses[0].state.waiting.message}",
        ) == "couldn't find key mode in ConfigMap default/late")
            .then_some(())
    });
    // With the key, the container starts.
    c.ok(&[
        "patch",
        "configmap",
        "late",
        "--type=merge",
        "-p",
        r#"{"data":{"mode":"on"}}"#,
    ]);
    c.wait_running("waiting");
    assert!(
        c.ok(&["exec", "waiting", "--", "env"])
            .lines()
            .any(|l| l == "MODE=on")
    );
}

#[test]
fn a_pod_calls_the_api_with_its_service_account_token() {
    assert!(
        !docker(&["image", "ls", "-q", CURL]).trim().is_empty(),
        "image {CURL} is missing: run scripts/images (it needs curl on this machine)"
    );
    let c = Cluster::start("token", Some("10.153.0.0/16"));
    c.apply(&pod_manifest("caller", CURL, ""));
    c.wait_running("caller");

    // The admission added the token volume and the ServiceAccount, as Kubernetes does.
    assert_eq!(
        c.jsonpath(&["pod", "caller"], "{.spec.serviceAccountName}"),
        "default"
    );
    let volume = c.jsonpath(&["pod", "caller"], "{.spec.volumes[0].name}");
    assert!(volume.starts_with("kube-api-access-"), "{volume}");
    assert_eq!(
        c.jsonpath(
            &["pod", "caller"],
            "{.spec.containers[0].volumeMounts[0].mountPath}"
        ),
        SA
    );
    assert_eq!(c.sh("caller", &format!("cat {SA}/namespace")), "default");
    assert!(
        c.sh("caller", &format!("cat {SA}/ca.crt"))
            .contains("BEGIN CERTIFICATE")
    );

    // The API through the kubernetes Service, by name, the certificate checked against ca.crt.
    let list = format!(
        "curl -sS --fail --cacert {SA}/ca.crt -H \"Authorization: Bearer $(cat {SA}/token)\" \
         https://kubernetes.default.svc/api/v1/namespaces/$(cat {SA}/namespace)/pods"
    );
    let pods = wait::blocking(
        "the API from inside the pod",
        Duration::from_secs(60),
        || {
            let out = c.run(&["exec", "caller", "--", "sh", "-c", &list]);
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).to_string())
        },
    );
    assert!(pods.contains("\"name\":\"caller\""), "{pods}");
    // The environment names the same Service.
    let host = c.sh(
        "caller",
        "printf %s \"$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT\"",
    );
    assert_eq!(host, "10.153.0.1:443");

    // A write with the token is recorded under the ServiceAccount's name.
    let create = format!(
        "curl -sS --fail --cacert {SA}/ca.crt -H \"Authorization: Bearer $(cat {SA}/token)\" \
         -H 'Content-Type: application/json' -X POST \
         -d '{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"from-pod\"}},\"data\":{{\"a\":\"b\"}}}}' \
         https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/namespaces/default/configmaps"
    );
    c.sh("caller", &create);
    let entries = c.ok(&[
        "get",
        "--raw",
        "/apis/kubetrail.dev/v1alpha1/logentries?kind=ConfigMap&name=from-pod",
    ]);
    assert!(
        entries.contains("\"actor\":\"system:serviceaccount:default:default\""),
        "{entries}"
    );

    // Without a token, the API refuses.
    let anonymous = c.run(&[
        "exec",
        "caller",
        "--",
        "sh",
        "-c",
        &format!("curl -s -o /dev/null -w %{{http_code}} --cacert {SA}/ca.crt https://kubernetes.default.svc/api/v1/namespaces/default/pods"),
    ]);
    assert_eq!(String::from_utf8_lossy(&anonymous.stdout), "401");

    // A pod that opts out gets no token volume.
    c.apply(&pod_manifest(
        "quiet",
        BUSYBOX,
        "  automountServiceAccountToken: false\n",
    ));
    assert_eq!(c.jsonpath(&["pod", "quiet"], "{.spec.volumes}"), "");
}
