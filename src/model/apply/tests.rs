//! Server-side apply and update recording as kubectl observes them: ownership, conflicts,
//! merges by list type, `before-first-apply`, the last-applied upgrade, the manager cap.

use super::fieldpath::{Pe, Set, field};
use super::object::go_json;
use super::*;
use serde_json::json;

const T0: &str = "2025-01-01T00:00:00Z";
const T1: &str = "2025-01-01T00:01:00Z";
const T2: &str = "2025-01-01T00:02:00Z";
const T3: &str = "2025-01-01T00:03:00Z";
const APPS: &str = "apps/v1";

fn rs_config(replicas: Option<i64>, image: &str, labels: bool) -> Value {
    let mut config = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    });
    if let Some(replicas) = replicas {
        config["spec"]["replicas"] = json!(replicas);
    }
    if labels {
        config["metadata"]["labels"] = json!({"app": "web"});
    }
    config
}

fn pod_config(containers: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": containers}
    })
}

fn ns_config(metadata: Value) -> Value {
    let mut meta = json!({"name": "ns"});
    if let (Some(m), Value::Object(extra)) = (meta.as_object_mut(), metadata) {
        m.extend(extra);
    }
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
}

/// A live object as the store would hold it after a write.
fn stored(mut obj: Value) -> Value {
    obj["metadata"]["uid"] = json!("u-1");
    obj["metadata"]["resourceVersion"] = json!("7");
    obj["metadata"]["creationTimestamp"] = json!(T0);
    obj
}

fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

fn fields<'a>(obj: &'a Value, manager: &str, operation: &str) -> &'a Value {
    entry(obj, manager, operation)
        .map(|e| &e["fieldsV1"])
        .unwrap_or(&Value::Null)
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or("").to_owned(),
                e["operation"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn ok(
    kind: &str,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Value {
    let api_version = config["apiVersion"].as_str().unwrap();
    apply(kind, api_version, live, config, manager, force, now).unwrap()
}

fn conflict_message(result: Result<Value, ApplyError>) -> String {
    match result {
        Err(ApplyError::Conflicts { message, .. }) => message,
        other => panic!("expected conflicts, got {other:?}"),
    }
}

fn rs_applied_fields() -> Value {
    json!({
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}
                }}
            }
        }
    })
}

#[test]
fn create_via_apply_records_one_apply_entry() {
    let config = rs_config(Some(2), "nginx:1", true);
    let out = ok("ReplicaSet", None, &config, "kubectl", false, T0);
    let mut expected = config.clone();
    expected["metadata"]["managedFields"] = json!([{
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": rs_applied_fields()
    }]);
    assert_eq!(out, expected);
}

#[test]
fn reapply_removes_dropped_fields_and_repeat_is_a_no_op() {
    let first = stored(ok(
        "ReplicaSet",
        None,
        &rs_config(Some(2), "nginx:1", true),
        "kubectl",
        false,
        T0,
    ));
    let second_config = rs_config(None, "nginx:2", false);
    let second = ok(
        "ReplicaSet",
        Some(&first),
        &second_config,
        "kubectl",
        false,
        T1,
    );
    assert_eq!(second["spec"].get("replicas"), None);
    assert_eq!(second["metadata"].get("labels"), None);
    assert_eq!(
        second["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );
    assert_eq!(second["metadata"]["uid"], "u-1");
    let applied = entry(&second, "kubectl", APPLY).unwrap();
    assert_eq!(applied["time"], T1);
    assert_eq!(applied["fieldsV1"]["f:spec"].get("f:replicas"), None);
    assert_eq!(applied["fieldsV1"].get("f:metadata"), None);

    // Same config again, later: nothing changes, not even the time.
    let third = ok(
        "ReplicaSet",
        Some(&second),
        &second_config,
        "kubectl",
        false,
        T2,
    );
    assert_eq!(third, second);
}

#[test]
fn other_manager_applying_only_an_annotation_keeps_everything_else() {
    let live = stored(ok(
        "ReplicaSet",
        None,
        &rs_config(Some(3), "nginx:1", true),
        "kubectl",
        false,
        T0,
    ));
    let annotation_only = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "annotations": {LAST_APPLIED: "{\"kind\":\"ReplicaSet\"}\n"}
        }
    });
    let out = ok(
        "ReplicaSet",
        Some(&live),
        &annotation_only,
        "kubectl-last-applied",
        false,
        T1,
    );
    assert_eq!(out["spec"], live["spec"]);
    assert_eq!(out["metadata"]["labels"], live["metadata"]["labels"]);
    assert_eq!(
        out["metadata"]["annotations"][LAST_APPLIED],
        "{\"kind\":\"ReplicaSet\"}\n"
    );
    assert_eq!(
        fields(&out, "kubectl-last-applied", APPLY),
        &json!({"f:metadata": {"f:annotations": {
            "f:kubectl.kubernetes.io/last-applied-configuration": {}
        }}})
    );
    assert_eq!(fields(&out, "kubectl", APPLY), &rs_applied_fields());
    // Applying it again with the same manager and nothing else changes nothing.
    let again = ok(
        "ReplicaSet",
        Some(&out),
        &annotation_only,
        "kubectl-last-applied",
        false,
        T2,
    );
    assert_eq!(again, out);
}

#[test]
fn conflicts_report_owner_and_path_like_kube_apiserver() {
    let csa = |config: &Value| {
        stored(record_update(
            "ReplicaSet",
            APPS,
            None,
            config,
            "kubectl-client-side-apply",
            None,
            T0,
        ))
    };
    let base = csa(&rs_config(Some(2), "nginx:1", true));
    let scaled = {
        let mut new = base.clone();
        new["spec"]["replicas"] = json!(5);
        record_update(
            "ReplicaSet",
            APPS,
            Some(&base),
            &new,
            "kubectl",
            Some("scale"),
            T1,
        )
    };
    let forced_by_a = ok(
        "ReplicaSet",
        Some(&base),
        &rs_config(Some(4), "nginx:1", true),
        "a",
        true,
        T1,
    );
    let cases: Vec<(&str, &Value, Value, &str, String)> = vec![
        (
            "update manager",
            &base,
            rs_config(Some(3), "nginx:1", true),
            "me",
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" \
             using apps/v1: .spec.replicas"
                .to_owned(),
        ),
        (
            "subresource manager",
            &scaled,
            rs_config(Some(3), "nginx:1", true),
            "kubectl",
            "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \
             \"scale\" using apps/v1: .spec.replicas"
                .to_owned(),
        ),
        (
            "two fields",
            &base,
            rs_config(Some(3), "nginx:2", true),
            "me",
            "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" \
             using apps/v1:\n- .spec.replicas\n\
             - .spec.template.spec.containers[name=\"app\"].image"
                .to_owned(),
        ),
        (
            "two managers",
            &forced_by_a,
            rs_config(Some(5), "nginx:2", true),
            "b",
            // a applied the image too, so it shares it with client-side apply.
            "Apply failed with 3 conflicts: conflicts with \"a\":\n- .spec.replicas\n\
             - .spec.template.spec.containers[name=\"app\"].image\n\
             conflicts with \"kubectl-client-side-apply\" using apps/v1:\n\
             - .spec.template.spec.containers[name=\"app\"].image"
                .to_owned(),
        ),
    ];
    for (name, live, config, manager, want) in cases {
        let got = apply("ReplicaSet", APPS, Some(live), &config, manager, false, T2);
        assert_eq!(conflict_message(got), want, "{name}");
    }

    let Err(ApplyError::Conflicts { conflicts, .. }) = apply(
        "ReplicaSet",
        APPS,
        Some(&forced_by_a),
        &rs_config(Some(5), "nginx:2", true),
        "b",
        false,
        T2,
    ) else {
        panic!("expected conflicts");
    };
    assert_eq!(
        conflicts,
        vec![
            Conflict {
                manager: "a".into(),
                field: ".spec.replicas".into()
            },
            Conflict {
                manager: "a".into(),
                field: ".spec.template.spec.containers[name=\"app\"].image".into()
            },
            Conflict {
                manager: "kubectl-client-side-apply".into(),
                field: ".spec.template.spec.containers[name=\"app\"].image".into()
            },
        ]
    );
}

#[test]
fn force_takes_ownership_from_the_previous_owner() {
    let live = stored(record_update(
        "ReplicaSet",
        APPS,
        None,
        &rs_config(Some(2), "nginx:1", true),
        "kubectl-client-side-apply",
        None,
        T0,
    ));
    let scaled = {
        let mut new = live.clone();
        new["spec"]["replicas"] = json!(5);
        record_update("ReplicaSet", APPS, Some(&live), &new, "kubectl", None, T1)
    };
    assert_eq!(
        fields(&scaled, "kubectl", UPDATE),
        &json!({"f:spec": {"f:replicas": {}}})
    );
    let out = ok(
        "ReplicaSet",
        Some(&scaled),
        &rs_config(Some(3), "nginx:1", true),
        "me",
        true,
        T2,
    );
    assert_eq!(out["spec"]["replicas"], 3);
    // kubectl owned nothing else, so its entry is gone; me owns replicas now.
    assert_eq!(
        managers(&out),
        vec![
            ("me".to_owned(), APPLY.to_owned()),
            ("kubectl-client-side-apply".to_owned(), UPDATE.to_owned()),
        ]
    );
    assert!(
        fields(&out, "me", APPLY)["f:spec"]
            .get("f:replicas")
            .is_some()
    );
    assert!(
        fields(&out, "kubectl-client-side-apply", UPDATE)["f:spec"]
            .get("f:replicas")
            .is_none()
    );
}

#[test]
fn shared_ownership_keeps_a_field_until_its_last_applier_drops_it() {
    let a = stored(ok(
        "ReplicaSet",
        None,
        &rs_config(Some(2), "nginx:1", true),
        "a",
        false,
        T0,
    ));
    let replicas_only = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2}
    });
    let shared = ok("ReplicaSet", Some(&a), &replicas_only, "b", false, T1);
    assert_eq!(
        fields(&shared, "b", APPLY),
        &json!({"f:spec": {"f:replicas": {}}})
    );
    // a stops applying replicas: b still owns it, it stays.
    let a_dropped = ok(
        "ReplicaSet",
        Some(&shared),
        &rs_config(None, "nginx:1", true),
        "a",
        false,
        T2,
    );
    assert_eq!(a_dropped["spec"]["replicas"], 2);
    // b stops too: now it goes, and so does b's entry.
    let name_only = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default"}
    });
    let b_dropped = ok("ReplicaSet", Some(&a_dropped), &name_only, "b", false, T3);
    assert_eq!(b_dropped["spec"].get("replicas"), None);
    assert_eq!(b_dropped["spec"]["selector"], a["spec"]["selector"]);
    assert_eq!(
        managers(&b_dropped),
        vec![("a".to_owned(), APPLY.to_owned())]
    );
}

#[test]
fn containers_merge_by_name_across_managers() {
    let app = json!([{"name": "app", "image": "nginx:1"}]);
    let side = json!([{"name": "side", "image": "busybox"}]);
    let first = stored(ok("Pod", None, &pod_config(app), "a", false, T0));
    let both = ok("Pod", Some(&first), &pod_config(side), "b", false, T1);
    assert_eq!(
        both["spec"]["containers"],
        json!([
            {"name": "app", "image": "nginx:1"},
            {"name": "side", "image": "busybox"}
        ])
    );
    assert_eq!(
        fields(&both, "b", APPLY),
        &json!({"f:spec": {"f:containers": {
            "k:{\"name\":\"side\"}": {".": {}, "f:image": {}, "f:name": {}}
        }}})
    );
    // a changes its container: no conflict, b's container untouched.
    let changed = ok(
        "Pod",
        Some(&both),
        &pod_config(json!([{"name": "app", "image": "nginx:2"}])),
        "a",
        false,
        T2,
    );
    assert_eq!(
        changed["spec"]["containers"],
        json!([
            {"name": "app", "image": "nginx:2"},
            {"name": "side", "image": "busybox"}
        ])
    );
    // b drops its container: only that one goes.
    let dropped = ok(
        "Pod",
        Some(&changed),
        &pod_config(json!([])),
        "b",
        false,
        T3,
    );
    assert_eq!(
        dropped["spec"]["containers"],
        json!([{"name": "app", "image": "nginx:2"}])
    );
    assert_eq!(managers(&dropped), vec![("a".to_owned(), APPLY.to_owned())]);
}

#[test]
fn list_merge_follows_config_order_for_shared_items() {
    let live = stored(ok(
        "Pod",
        None,
        &pod_config(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}])),
        "x",
        false,
        T0,
    ));
    let out = ok(
        "Pod",
        Some(&live),
        &pod_config(json!([{"name": "c"}, {"name": "a"}])),
        "y",
        false,
        T1,
    );
    let names: Vec<&Value> = out["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, vec!["b", "c", "a"]);
}

#[test]
fn ports_are_keyed_by_container_port_and_protocol() {
    let ports = json!([
        {"name": "dns-udp", "containerPort": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "containerPort": 53}
    ]);
    let out = ok(
        "Pod",
        None,
        &pod_config(json!([{"name": "app", "image": "dns", "ports": ports}])),
        "a",
        false,
        T0,
    );
    assert_eq!(
        fields(&out, "a", APPLY)["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["f:ports"],
        json!({
            "k:{\"containerPort\":53,\"protocol\":\"TCP\"}":
                {".": {}, "f:containerPort": {}, "f:name": {}},
            "k:{\"containerPort\":53,\"protocol\":\"UDP\"}":
                {".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}
        })
    );
    // A second manager adding 53/TCP's protocol explicitly merges into the same element.
    let other = ok(
        "Pod",
        Some(&stored(out)),
        &pod_config(json!([{"name": "app", "ports": [
            {"containerPort": 53, "protocol": "TCP", "hostPort": 5353}
        ]}])),
        "b",
        false,
        T1,
    );
    assert_eq!(
        other["spec"]["containers"][0]["ports"],
        json!([
            {"name": "dns-udp", "containerPort": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP", "hostPort": 5353}
        ])
    );
}

#[test]
fn finalizers_merge_as_a_set() {
    let a = stored(ok(
        "Namespace",
        None,
        &ns_config(json!({"finalizers": ["a/x"]})),
        "a",
        false,
        T0,
    ));
    assert_eq!(
        fields(&a, "a", APPLY),
        &json!({"f:metadata": {"f:finalizers": {"v:\"a/x\"": {}}}})
    );
    let both = ok(
        "Namespace",
        Some(&a),
        &ns_config(json!({"finalizers": ["b/y"]})),
        "b",
        false,
        T1,
    );
    assert_eq!(both["metadata"]["finalizers"], json!(["a/x", "b/y"]));
    let a_gone = ok(
        "Namespace",
        Some(&both),
        &ns_config(json!({"finalizers": []})),
        "a",
        false,
        T2,
    );
    assert_eq!(a_gone["metadata"]["finalizers"], json!(["b/y"]));
    assert_eq!(managers(&a_gone), vec![("b".to_owned(), APPLY.to_owned())]);
}

#[test]
fn atomic_lists_and_maps_are_replaced_and_owned_whole() {
    let pod = |selector: Value, command: Value| {
        let mut config = pod_config(json!([{"name": "app", "command": command}]));
        config["spec"]["nodeSelector"] = selector;
        config["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
        config
    };
    let first = stored(ok(
        "Pod",
        None,
        &pod(json!({"a": "1"}), json!(["sh", "-c", "x"])),
        "a",
        false,
        T0,
    ));
    let spec = &fields(&first, "a", APPLY)["f:spec"];
    assert_eq!(spec["f:nodeSelector"], json!({}));
    assert_eq!(spec["f:tolerations"], json!({}));
    assert_eq!(
        spec["f:containers"]["k:{\"name\":\"app\"}"]["f:command"],
        json!({})
    );
    let replaced = ok(
        "Pod",
        Some(&first),
        &pod(json!({"b": "2"}), json!(["true"])),
        "a",
        false,
        T1,
    );
    assert_eq!(replaced["spec"]["nodeSelector"], json!({"b": "2"}));
    assert_eq!(
        replaced["spec"]["containers"][0]["command"],
        json!(["true"])
    );
    let message = conflict_message(apply(
        "Pod",
        "v1",
        Some(&replaced),
        &pod(json!({"c": "3"}), json!(["true"])),
        "b",
        false,
        T2,
    ));
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"a\": .spec.nodeSelector"
    );
}

#[test]
fn status_and_server_metadata_in_the_config_are_ignored() {
    let mut live = stored(ok(
        "Pod",
        None,
        &pod_config(json!([{"name": "app"}])),
        "a",
        false,
        T0,
    ));
    live["status"] = json!({"phase": "Running"});
    let mut config = pod_config(json!([{"name": "app"}]));
    config["status"] = json!({"phase": "Failed"});
    config["metadata"]["uid"] = json!("other");
    config["metadata"]["resourceVersion"] = json!("1");
    let out = ok("Pod", Some(&live), &config, "a", false, T1);
    assert_eq!(out["status"], json!({"phase": "Running"}));
    assert_eq!(out["metadata"]["uid"], "u-1");
    assert_eq!(out["metadata"]["resourceVersion"], "7");
    assert_eq!(fields(&out, "a", APPLY).get("f:status"), None);
}

#[test]
fn objects_without_managed_fields_belong_to_before_first_apply() {
    let mut live = stored(rs_config(Some(2), "nginx:1", true));
    live["status"] = json!({"replicas": 2});
    let message = conflict_message(apply(
        "ReplicaSet",
        APPS,
        Some(&live),
        &rs_config(Some(3), "nginx:1", true),
        "me",
        false,
        T1,
    ));
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using \
         apps/v1: .spec.replicas"
    );
    let same = ok(
        "ReplicaSet",
        Some(&live),
        &rs_config(Some(2), "nginx:1", true),
        "me",
        false,
        T1,
    );
    assert_eq!(
        managers(&same),
        vec![
            ("me".to_owned(), APPLY.to_owned()),
            ("before-first-apply".to_owned(), UPDATE.to_owned()),
        ]
    );
    assert_eq!(
        fields(&same, "before-first-apply", UPDATE),
        &json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:containers": {
                        "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}
                    }}
                }
            }
        })
    );
}

#[test]
fn kubectl_takes_over_fields_from_client_side_apply_via_last_applied() {
    let mut manifest = rs_config(Some(2), "nginx:1", true);
    let mut annotated = manifest.clone();
    annotated["metadata"]["annotations"] = json!({LAST_APPLIED: format!("{}\n", manifest)});
    let live = stored(record_update(
        "ReplicaSet",
        APPS,
        None,
        &annotated,
        "kubectl-client-side-apply",
        None,
        T0,
    ));
    manifest["spec"]["replicas"] = json!(4);
    manifest["metadata"]["labels"]["tier"] = json!("a<b");
    assert!(matches!(
        apply(
            "ReplicaSet",
            APPS,
            Some(&live),
            &manifest,
            "other",
            false,
            T1
        ),
        Err(ApplyError::Conflicts { .. })
    ));
    let out = ok("ReplicaSet", Some(&live), &manifest, "kubectl", false, T1);
    assert_eq!(out["spec"]["replicas"], 4);
    let mut expected = String::new();
    go_json(&manifest, &mut expected);
    assert!(expected.contains("a\\u003cb"));
    assert_eq!(
        out["metadata"]["annotations"][LAST_APPLIED],
        json!(format!("{expected}\n"))
    );
    assert!(
        fields(&out, "kubectl", APPLY)["f:spec"]
            .get("f:replicas")
            .is_some()
    );
}

#[test]
fn record_update_moves_ownership_and_drops_empty_entries() {
    let created = stored(record_update(
        "ReplicaSet",
        APPS,
        None,
        &stored(rs_config(Some(2), "nginx:1", true)),
        "kubectl-create",
        None,
        T0,
    ));
    assert_eq!(
        entry(&created, "kubectl-create", UPDATE).unwrap(),
        &json!({
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields(&same_as_before_first_apply(), "before-first-apply", UPDATE)
        })
    );
    let mut edited = created.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let out = record_update(
        "ReplicaSet",
        APPS,
        Some(&created),
        &edited,
        "kubectl-edit",
        None,
        T1,
    );
    let image = [
        field("spec"),
        field("template"),
        field("spec"),
        field("containers"),
        Pe::Key(vec![("name".into(), json!("app"))]),
        field("image"),
    ];
    let owned = |manager: &str| {
        Set::from_fields(fields(&out, manager, UPDATE).as_object().unwrap()).unwrap()
    };
    assert!(owned("kubectl-edit").has(&image));
    assert!(!owned("kubectl-create").has(&image));
    assert!(owned("kubectl-create").has(&[field("spec"), field("replicas")]));

    // A namespace whose only owned fields are its labels: removing them empties the entry.
    let ns = stored(record_update(
        "Namespace",
        "v1",
        None,
        &stored(ns_config(json!({"labels": {"a": "1"}}))),
        "creator",
        None,
        T0,
    ));
    let mut unlabelled = ns.clone();
    unlabelled["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("labels");
    let out = record_update(
        "Namespace",
        "v1",
        Some(&ns),
        &unlabelled,
        "kubectl-label",
        None,
        T1,
    );
    assert_eq!(out["metadata"].get("managedFields"), None);
}

fn same_as_before_first_apply() -> Value {
    let live = stored(rs_config(Some(2), "nginx:1", true));
    ok(
        "ReplicaSet",
        Some(&live),
        &rs_config(Some(2), "nginx:1", true),
        "me",
        false,
        T1,
    )
}

#[test]
fn record_update_rules_for_subresources_and_untracked_objects() {
    let pod = stored(record_update(
        "Pod",
        "v1",
        None,
        &stored(pod_config(json!([{"name": "app", "image": "nginx"}]))),
        "kubectl-run",
        None,
        T0,
    ));
    let mut new = pod.clone();
    new["status"] = json!({"phase": "Running"});
    new["spec"]["nodeName"] = json!("n1");
    let out = record_update("Pod", "v1", Some(&pod), &new, "kubelet", Some("status"), T1);
    let kubelet = out["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "kubelet")
        .unwrap();
    assert_eq!(kubelet["subresource"], "status");
    // A Pod always has a status struct, so only the phase is new; spec is not recorded.
    assert_eq!(kubelet["fieldsV1"], json!({"f:status": {"f:phase": {}}}));

    let cases: Vec<(&str, Value, Value)> = vec![
        // An existing object nobody tracks stays untracked.
        (
            "untracked",
            stored(pod_config(json!([{"name": "app"}]))),
            json!(null),
        ),
        // [{}] resets managedFields; the object then stays untracked.
        ("reset with empty entry", pod.clone(), json!([{}])),
        ("reset with empty list", pod.clone(), json!([])),
    ];
    for (name, old, sent) in cases {
        let mut new = old.clone();
        new["metadata"]["labels"] = json!({"x": "y"});
        if !sent.is_null() {
            new["metadata"]["managedFields"] = sent;
        }
        let out = record_update("Pod", "v1", Some(&old), &new, "m", None, T1);
        assert_eq!(out["metadata"].get("managedFields"), None, "{name}");
    }
}

#[test]
fn entries_sort_apply_first_then_by_time() {
    let live = stored(record_update(
        "Namespace",
        "v1",
        None,
        &stored(ns_config(json!({"labels": {"a": "1"}}))),
        "zz-creator",
        None,
        T0,
    ));
    let mut labelled = live.clone();
    labelled["metadata"]["labels"]["b"] = json!("2");
    let labelled = record_update(
        "Namespace",
        "v1",
        Some(&live),
        &labelled,
        "aa-label",
        None,
        T2,
    );
    let out = ok(
        "Namespace",
        Some(&labelled),
        &ns_config(json!({"labels": {"c": "3"}})),
        "m",
        false,
        T3,
    );
    assert_eq!(
        managers(&out),
        vec![
            ("m".to_owned(), APPLY.to_owned()),
            ("zz-creator".to_owned(), UPDATE.to_owned()),
            ("aa-label".to_owned(), UPDATE.to_owned()),
        ]
    );
}

#[test]
fn update_managers_are_capped_into_ancient_changes() {
    let mut obj = stored(ns_config(json!({})));
    for i in 0..12 {
        let mut new = obj.clone();
        new["metadata"]["labels"] = json!({format!("l{i:02}"): "x"});
        if let Some(labels) = obj["metadata"]["labels"].as_object() {
            for (k, v) in labels {
                new["metadata"]["labels"][k] = v.clone();
            }
        }
        let old = if i == 0 { None } else { Some(&obj) };
        obj = stored(record_update(
            "Namespace",
            "v1",
            old,
            &new,
            &format!("m{i:02}"),
            None,
            &format!("2025-01-01T00:00:{i:02}Z"),
        ));
    }
    let names: Vec<String> = managers(&obj).into_iter().map(|(m, _)| m).collect();
    assert_eq!(names.len(), 10);
    assert_eq!(names[0], ANCIENT_CHANGES);
    let ancient =
        Set::from_fields(fields(&obj, ANCIENT_CHANGES, UPDATE).as_object().unwrap()).unwrap();
    let label = |k: &str| [field("metadata"), field("labels"), field(k)];
    assert!(ancient.has(&label("l00")) && ancient.has(&label("l02")));
    assert_eq!(names[9], "m11");
}

#[test]
fn malformed_configs_are_invalid() {
    let dup_ports = pod_config(json!([{"name": "app", "ports": [
        {"containerPort": 80}, {"containerPort": 80, "protocol": "TCP"}
    ]}]));
    let cases: Vec<(&str, Value, &str, String)> = vec![
        (
            "not an object",
            json!([1]),
            "m",
            "error decoding YAML: the applied configuration must be an object".into(),
        ),
        (
            "no manager",
            pod_config(json!([])),
            "",
            "fieldManager: Required value: is required for apply patch".into(),
        ),
        (
            "wrong kind",
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet"}),
            "m",
            "invalid object type: apps/v1, Kind=ReplicaSet".into(),
        ),
        (
            "no apiVersion",
            json!({"kind": "Pod"}),
            "m",
            "invalid object type: /, Kind=Pod".into(),
        ),
        (
            "duplicate key",
            pod_config(json!([{"name": "a"}, {"name": "a"}])),
            "m",
            "failed to create typed patch object (default/p; /v1, Kind=Pod): \
             .spec.containers: duplicate entries for key [name=\"a\"]"
                .into(),
        ),
        (
            "duplicate port with defaulted protocol",
            dup_ports,
            "m",
            "failed to create typed patch object (default/p; /v1, Kind=Pod): \
             .spec.containers[name=\"app\"].ports: duplicate entries for key \
             [containerPort=80,protocol=\"TCP\"]"
                .into(),
        ),
        (
            "element without key",
            pod_config(json!([{"image": "x"}])),
            "m",
            "failed to create typed patch object (default/p; /v1, Kind=Pod): \
             .spec.containers: element 0: associative list with keys has an element \
             that omits all key fields [\"name\"] (and doesn't have default values for \
             any key fields)"
                .into(),
        ),
        (
            "scalar element in list map",
            pod_config(json!(["app"])),
            "m",
            "failed to create typed patch object (default/p; /v1, Kind=Pod): \
             .spec.containers: element 0: associative list with keys may not have \
             non-map elements"
                .into(),
        ),
        (
            "object where a list belongs",
            pod_config(json!({"name": "app"})),
            "m",
            "failed to create typed patch object (default/p; /v1, Kind=Pod): \
             .spec.containers: expected list, got {\"name\":\"app\"}"
                .into(),
        ),
    ];
    for (name, config, manager, want) in cases {
        let got = apply("Pod", "v1", None, &config, manager, false, T0);
        let got = match got {
            Err(ApplyError::Invalid(message)) => message,
            other => panic!("{name}: expected Invalid, got {other:?}"),
        };
        assert_eq!(got, want, "{name}");
    }
    let got = apply(
        "Namespace",
        "v1",
        None,
        &ns_config(json!({"finalizers": [{"a": 1}]})),
        "m",
        false,
        T0,
    );
    assert_eq!(
        got,
        Err(ApplyError::Invalid(
            "failed to create typed patch object (/ns; /v1, Kind=Namespace): \
             .metadata.finalizers: element 0: associative list without keys has an \
             element that's a map type"
                .into()
        ))
    );
}

#[test]
fn nulls_in_the_config_unset_fields_but_are_owned() {
    let mut config = rs_config(Some(2), "nginx:1", true);
    config["spec"]["template"]["metadata"]["creationTimestamp"] = Value::Null;
    let created = stored(ok("ReplicaSet", None, &config, "a", false, T0));
    assert_eq!(
        created["spec"]["template"]["metadata"],
        json!({"labels": {"app": "web"}})
    );
    assert_eq!(
        fields(&created, "a", APPLY)["f:spec"]["f:template"]["f:metadata"],
        json!({"f:creationTimestamp": {}, "f:labels": {"f:app": {}}})
    );
    // Repeating it is still a no-op.
    let again = ok("ReplicaSet", Some(&created), &config, "a", false, T1);
    assert_eq!(again, created);
    // Nulling a field another manager owns is a change, hence a conflict.
    let mut unset = rs_config(None, "nginx:1", false);
    unset["spec"]["replicas"] = Value::Null;
    let message = conflict_message(apply(
        "ReplicaSet",
        APPS,
        Some(&created),
        &unset,
        "b",
        false,
        T1,
    ));
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
    );
    let forced = ok("ReplicaSet", Some(&created), &unset, "b", true, T1);
    assert_eq!(forced["spec"].get("replicas"), None);
}

#[test]
fn event_references_are_atomic() {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "reason": "Started",
        "count": 1
    });
    let out = ok("Event", None, &config, "m", false, T0);
    assert_eq!(
        fields(&out, "m", APPLY),
        &json!({"f:count": {}, "f:involvedObject": {}, "f:reason": {}})
    );
}
