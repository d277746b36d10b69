//! kubectl 1.20 (Debian's `kubernetes-client`), which reads only OpenAPI v2 and only in
//! gnostic's protobuf form: the course's Pod and ReplicaSet created, applied and edited with
//! client-side validation, listed, described, explained and deleted; an unknown field refused
//! the way that version reports it.

use crate::support::app::{TestApp, start_with_workers};
use crate::support::kubectl::{Kubectl, kubectl_120_binary, manifest};
use std::time::Duration;

async fn cluster() -> (TestApp, Kubectl) {
    let app = start_with_workers(tempfile::tempdir().expect("dir"), |s| {
        s.workers.simulated_nodes = 1;
        s.workers.simulated_start_delay = Duration::from_millis(50);
    })
    .await;
    let kubectl = Kubectl::with_binary(app.kubectl.kubeconfig.clone(), kubectl_120_binary());
    (app, kubectl)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn kubectl_1_20_creates_applies_explains_and_deletes_with_openapi_v2() {
    let (app, k) = cluster().await;
    let version = k.ok(&["version", "--client", "--short"]).await;
    assert!(version.contains("v1.20."), "{version}");

    let pod = manifest("echo-pod.yaml");
    let rs = manifest("echo-rs.yaml");
    assert_eq!(
        k.ok(&["apply", "-f", &pod]).await.trim(),
        "pod/echo created"
    );
    assert_eq!(
        k.ok(&["apply", "-f", &rs]).await.trim(),
        "replicaset.apps/echo-rs created"
    );
    assert_eq!(
        k.ok(&["apply", "-f", &rs]).await.trim(),
        "replicaset.apps/echo-rs unchanged"
    );
    let edited = std::fs::read_to_string(&rs)
        .expect("manifest")
        .replace("replicas: 1", "replicas: 2");
    assert!(
        edited.contains("replicas: 2"),
        "the manifest has one replica"
    );
    let out = k
        .run_with_input(&["apply", "-f", "-"], Some(edited.as_bytes()))
        .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "replicaset.apps/echo-rs configured"
    );
    let replicas = k
        .ok(&["get", "rs", "echo-rs", "-o", "jsonpath={.spec.replicas}"])
        .await;
    assert_eq!(replicas, "2");

    let listed = k.ok(&["get", "pods,rs"]).await;
    assert!(
        listed.contains("pod/echo ") && listed.contains("replicaset.apps/echo-rs "),
        "{listed}"
    );
    let described = k.ok(&["describe", "pod", "echo"]).await;
    assert!(described.starts_with("Name:         echo\n"), "{described}");

    let explained = k.ok(&["explain", "pod.spec.containers"]).await;
    assert!(
        explained.contains("KIND:     Pod")
            && explained.contains("RESOURCE: containers <[]Object>")
            && explained.contains("imagePullPolicy\t<string>"),
        "{explained}"
    );
    let explained = k.ok(&["explain", "replicaset.spec.replicas"]).await;
    assert!(
        explained.contains("VERSION:  apps/v1")
            && explained.contains("FIELD:    replicas <integer>"),
        "{explained}"
    );

    let bad = std::fs::read_to_string(&pod)
        .expect("manifest")
        .replace("name: echo\n", "name: bad\n")
        .replace(
            "      image:",
            "      imagePullPolicyy: Always\n      image:",
        );
    let refused = k
        .run_with_input(&["apply", "-f", "-"], Some(bad.as_bytes()))
        .await;
    assert!(!refused.status.success());
    let said = text(&refused);
    assert!(
        said.contains(
            "error validating data: ValidationError(Pod.spec.containers[0]): unknown field \"imagePullPolicyy\" in io.k8s.api.core.v1.Container"
        ),
        "{said}"
    );
    let absent = app.get("/api/v1/namespaces/default/pods/bad").await;
    assert_eq!(absent.status, 404, "a refused manifest creates nothing");

    assert_eq!(
        k.ok(&["delete", "-f", &pod, "--wait=false"]).await.trim(),
        "pod \"echo\" deleted"
    );
    assert_eq!(
        k.ok(&["delete", "-f", &rs, "--wait=false"]).await.trim(),
        "replicaset.apps \"echo-rs\" deleted"
    );
}
