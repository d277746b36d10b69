//! given (Deployment + ReplicaSets + pods) / when reconcile / then the step and its commands.

use super::*;

const NOW: &str = "2026-01-01T00:10:00Z";

fn deployment(replicas: i64, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 1,
                        "resourceVersion": "5", "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                    "strategy": {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                    "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": image}]}}},
           "status": {}})
}

fn strategy(d: &mut Value, surge: Value, unavailable: Value) {
    d["spec"]["strategy"]["rollingUpdate"] =
        json!({"maxSurge": surge, "maxUnavailable": unavailable});
}

/// A ReplicaSet the controller made for `image`, sized `replicas`, at `revision`.
fn replica_set(d: &Value, image: &str, replicas: i64, revision: i64, created: &str) -> Value {
    let mut template = d["spec"]["template"].clone();
    template["spec"]["containers"][0]["image"] = json!(image);
    let hash = revision::template_hash(&template, None);
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
           "metadata": {"name": format!("web-{hash}"), "namespace": "default", "uid": format!("rs-{image}"),
                        "generation": 1, "creationTimestamp": created,
                        "labels": template["metadata"]["labels"].clone(),
                        "annotations": {REVISION: revision.to_string(),
                                        revision::DESIRED_REPLICAS: d["spec"]["replicas"].as_i64().unwrap_or(1).to_string()},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                             "uid": "d-uid", "controller": true}]},
           "spec": {"replicas": replicas, "minReadySeconds": 0,
                    "selector": {"matchLabels": {"app": "web", HASH_LABEL: hash}}, "template": template},
           "status": {"replicas": replicas, "observedGeneration": 1}})
}

/// `n` pods of `rs`, ready since `ready` (not ready when `None`).
fn pods_of(rs: &Value, n: usize, ready: Option<&str>) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut pod = json!({"metadata": {"name": format!("{}-{i}", rs["metadata"]["name"].as_str().unwrap()),
                                              "namespace": "default",
                                              "ownerReferences": [{"uid": rs["metadata"]["uid"], "controller": true}]},
                                 "status": {"phase": "Running"}});
            if let Some(since) = ready {
                pod["status"]["conditions"] =
                    json!([{"type": "Ready", "status": "True", "lastTransitionTime": since}]);
            }
            pod
        })
        .collect()
}

struct Given {
    d: Value,
    sets: Vec<Value>,
    pods: Vec<Value>,
}

impl Given {
    fn when(&self) -> Outcome {
        let sets: Vec<&Value> = self.sets.iter().collect();
        let held: Vec<Held> = self
            .pods
            .iter()
            .map(|pod| Held::new(ResourceKind::Pod, std::sync::Arc::new(pod.clone()), None))
            .collect();
        let mut pods: PodsByOwner<'_> = HashMap::new();
        for (pod, held) in self.pods.iter().zip(&held) {
            let owner = pod["metadata"]["ownerReferences"][0]["uid"]
                .as_str()
                .unwrap();
            pods.entry(owner).or_default().push(held);
        }
        reconcile(
            &self.d,
            &sets,
            &pods,
            &Reporter::new(actors::DEPLOYMENT_CONTROLLER, ""),
            NOW.parse().unwrap(),
        )
    }
}

fn summary(outcome: &Outcome) -> Vec<String> {
    outcome
        .commands
        .iter()
        .map(|c| match c {
            Command::Create {
                kind: ResourceKind::ReplicaSet,
                object,
                ..
            } => format!(
                "create {} size {}",
                meta::name(object),
                object["spec"]["replicas"]
            ),
            Command::Create { object, .. } => {
                format!("event {}", object["message"].as_str().unwrap_or(""))
            }
            Command::Update {
                kind: ResourceKind::ReplicaSet,
                object,
                ..
            } => {
                format!("size {} {}", meta::name(object), object["spec"]["replicas"])
            }
            Command::Update {
                kind: ResourceKind::Deployment,
                part: UpdatePart::Status,
                ..
            } => "status".into(),
            Command::Update {
                kind: ResourceKind::Deployment,
                ..
            } => "deployment".into(),
            Command::Delete { name, .. } => format!("delete {name}"),
            other => format!("{other:?}"),
        })
        .collect()
}

fn status_of(outcome: &Outcome) -> Value {
    outcome
        .commands
        .iter()
        .find_map(|c| match c {
            Command::Update {
                kind: ResourceKind::Deployment,
                part: UpdatePart::Status,
                object,
                ..
            } => Some(object["status"].clone()),
            _ => None,
        })
        .unwrap_or(Value::Null)
}

fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

#[test]
fn a_new_deployment_gets_one_replica_set_named_by_its_template_hash() {
    let d = deployment(3, "echo:v1");
    let outcome = Given {
        d: d.clone(),
        sets: vec![],
        pods: vec![],
    }
    .when();
    let hash = revision::template_hash(&d["spec"]["template"], None);
    assert_eq!(outcome.step, Step::Created(format!("web-{hash}")));
    assert_eq!(
        summary(&outcome),
        [
            format!("create web-{hash} size 3"),
            format!("event Scaled up replica set web-{hash} from 0 to 3"),
            "status".to_string(),
        ]
    );
    let Command::Create { object: rs, .. } = &outcome.commands[0] else {
        panic!()
    };
    assert_eq!(rs["metadata"]["labels"][HASH_LABEL], hash.as_str());
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"][HASH_LABEL],
        hash.as_str()
    );
    assert_eq!(
        rs["spec"]["template"]["metadata"]["labels"][HASH_LABEL],
        hash.as_str()
    );
    assert_eq!(rs["metadata"]["annotations"][REVISION], "1");
    assert_eq!(rs["metadata"]["annotations"][revision::MAX_REPLICAS], "4");
    assert_eq!(rs["metadata"]["ownerReferences"][0]["uid"], "d-uid");
    let status = status_of(&outcome);
    assert_eq!(
        condition(&status, "Progressing")["reason"],
        "NewReplicaSetCreated"
    );
    assert_eq!(condition(&status, "Available")["status"], "False");
}

#[test]
fn a_changed_template_starts_a_new_revision_within_the_surge() {
    // The course: 4 replicas, maxSurge 3, maxUnavailable 3.
    let mut d = deployment(4, "echo:v2");
    strategy(&mut d, json!(3), json!(3));
    let old = replica_set(&d, "echo:v1", 4, 1, "2026-01-01T00:00:00Z");
    let pods = pods_of(&old, 4, Some("2026-01-01T00:01:00Z"));
    let outcome = Given {
        d: d.clone(),
        sets: vec![old],
        pods,
    }
    .when();
    let s = summary(&outcome);
    assert!(
        s[0].starts_with("create web-") && s[0].ends_with("size 3"),
        "{s:?}"
    );
    let Command::Create { object: rs, .. } = &outcome.commands[0] else {
        panic!()
    };
    assert_eq!(rs["metadata"]["annotations"][REVISION], "2");
}

#[test]
fn old_replica_sets_shrink_to_the_availability_floor_then_the_new_one_grows() {
    let mut d = deployment(4, "echo:v2");
    strategy(&mut d, json!(3), json!(3));
    let old = replica_set(&d, "echo:v1", 4, 1, "2026-01-01T00:00:00Z");
    let new = replica_set(&d, "echo:v2", 3, 2, "2026-01-01T00:05:00Z");
    d["metadata"]["annotations"] = json!({REVISION: "2"});
    let mut pods = pods_of(&old, 4, Some("2026-01-01T00:01:00Z"));
    pods.extend(pods_of(&new, 3, None));
    let given = Given {
        d: d.clone(),
        sets: vec![old.clone(), new.clone()],
        pods,
    };
    // 7 pods, floor 1, 3 new unavailable: 3 old may go.
    let outcome = given.when();
    assert_eq!(outcome.step, Step::ScaledDown);
    let old_name = meta::name(&old).to_string();
    assert_eq!(summary(&outcome)[0], format!("size {old_name} 1"));
    assert_eq!(
        summary(&outcome)[1],
        format!("event Scaled down replica set {old_name} from 4 to 1")
    );
    // Once the old one is down to 1 pod, the new one grows to 4.
    let mut old = old;
    old["spec"]["replicas"] = json!(1);
    let mut pods = pods_of(&old, 1, Some("2026-01-01T00:01:00Z"));
    pods.extend(pods_of(&new, 3, Some("2026-01-01T00:06:00Z")));
    let outcome = Given {
        d: d.clone(),
        sets: vec![old.clone(), new.clone()],
        pods,
    }
    .when();
    assert_eq!(outcome.step, Step::ScaledUp);
    assert_eq!(summary(&outcome)[0], format!("size {} 4", meta::name(&new)));
}

#[test]
fn min_ready_seconds_hold_back_availability() {
    let mut d = deployment(2, "echo:v2");
    strategy(&mut d, json!(0), json!(1));
    d["spec"]["minReadySeconds"] = json!(300);
    d["metadata"]["annotations"] = json!({REVISION: "2"});
    let mut old = replica_set(&d, "echo:v1", 1, 1, "2026-01-01T00:00:00Z");
    old["spec"]["minReadySeconds"] = json!(300);
    let mut new = replica_set(&d, "echo:v2", 2, 2, "2026-01-01T00:05:00Z");
    new["spec"]["minReadySeconds"] = json!(300);
    let mut pods = pods_of(&old, 1, Some("2026-01-01T00:00:00Z"));
    // Ready 2 minutes ago: not yet available with minReadySeconds 300.
    pods.extend(pods_of(&new, 2, Some("2026-01-01T00:08:00Z")));
    let outcome = Given {
        d: d.clone(),
        sets: vec![old.clone(), new.clone()],
        pods,
    }
    .when();
    assert_eq!(outcome.step, Step::Status, "{:?}", summary(&outcome));
    let mut pods = pods_of(&old, 1, Some("2026-01-01T00:00:00Z"));
    pods.extend(pods_of(&new, 2, Some("2026-01-01T00:04:00Z")));
    let outcome = Given {
        d,
        sets: vec![old.clone(), new],
        pods,
    }
    .when();
    assert_eq!(outcome.step, Step::ScaledDown);
    assert_eq!(summary(&outcome)[0], format!("size {} 0", meta::name(&old)));
}

#[test]
fn the_new_replica_set_takes_the_next_revision_and_the_deployment_records_it() {
    let mut d = deployment(2, "echo:v1");
    // Rolled back to v1: its ReplicaSet held revision 1, v2 holds 2.
    let v1 = replica_set(&d, "echo:v1", 0, 1, "2026-01-01T00:00:00Z");
    let v2 = replica_set(&d, "echo:v2", 2, 2, "2026-01-01T00:05:00Z");
    let outcome = Given {
        d: d.clone(),
        sets: vec![v1.clone(), v2.clone()],
        pods: vec![],
    }
    .when();
    assert_eq!(outcome.step, Step::Revision);
    let Command::Update { object, .. } = &outcome.commands[0] else {
        panic!()
    };
    assert_eq!(object["metadata"]["annotations"][REVISION], "3");
    assert_eq!(
        object["metadata"]["annotations"][revision::REVISION_HISTORY],
        "1"
    );
    let mut v1 = v1;
    v1["metadata"]["annotations"][REVISION] = json!("3");
    let outcome = Given {
        d: d.clone(),
        sets: vec![v1, v2],
        pods: vec![],
    }
    .when();
    assert_eq!(summary(&outcome), ["deployment"]);
    let Command::Update { object, .. } = &outcome.commands[0] else {
        panic!()
    };
    assert_eq!(object["metadata"]["annotations"][REVISION], "3");
    d["metadata"]["annotations"] = json!({REVISION: "3"});
}

#[test]
fn recreate_empties_the_old_revision_and_waits_for_its_pods() {
    let mut d = deployment(2, "echo:v2");
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    let old = replica_set(&d, "echo:v1", 2, 1, "2026-01-01T00:00:00Z");
    let pods = pods_of(&old, 2, Some("2026-01-01T00:01:00Z"));
    let outcome = Given {
        d: d.clone(),
        sets: vec![old.clone()],
        pods: pods.clone(),
    }
    .when();
    assert_eq!(outcome.step, Step::ScaledDown);
    assert_eq!(summary(&outcome)[0], format!("size {} 0", meta::name(&old)));
    // Sized 0, its pods still terminating: nothing new yet.
    let mut old = old;
    old["spec"]["replicas"] = json!(0);
    let mut going = pods.clone();
    for pod in &mut going {
        pod["metadata"]["deletionTimestamp"] = json!(NOW);
    }
    let outcome = Given {
        d: d.clone(),
        sets: vec![old.clone()],
        pods: going,
    }
    .when();
    assert!(
        !summary(&outcome).iter().any(|s| s.starts_with("create")),
        "{:?}",
        summary(&outcome)
    );
    // Gone: the new one, at full size at once.
    let outcome = Given {
        d,
        sets: vec![old],
        pods: vec![],
    }
    .when();
    assert!(
        summary(&outcome)[0].ends_with("size 2"),
        "{:?}",
        summary(&outcome)
    );
}

#[test]
fn a_paused_deployment_scales_but_does_not_roll() {
    let mut d = deployment(3, "echo:v2");
    d["spec"]["paused"] = json!(true);
    let old = replica_set(&d, "echo:v1", 2, 1, "2026-01-01T00:00:00Z");
    let outcome = Given {
        d: d.clone(),
        sets: vec![old.clone()],
        pods: vec![],
    }
    .when();
    assert_eq!(outcome.step, Step::Scaled);
    assert_eq!(summary(&outcome)[0], format!("size {} 3", meta::name(&old)));
    let mut old = old;
    old["spec"]["replicas"] = json!(3);
    let outcome = Given {
        d,
        sets: vec![old],
        pods: vec![],
    }
    .when();
    assert!(!summary(&outcome).iter().any(|s| s.starts_with("create")));
    assert_eq!(
        condition(&status_of(&outcome), "Progressing")["reason"],
        "DeploymentPaused"
    );
}

#[test]
fn a_scale_during_a_rollout_is_spread_in_proportion() {
    let mut d = deployment(20, "echo:v2");
    strategy(&mut d, json!(2), json!(0));
    d["metadata"]["annotations"] = json!({REVISION: "2"});
    let mut old = replica_set(&d, "echo:v1", 6, 1, "2026-01-01T00:00:00Z");
    let mut new = replica_set(&d, "echo:v2", 4, 2, "2026-01-01T00:05:00Z");
    for rs in [&mut old, &mut new] {
        rs["metadata"]["annotations"][revision::DESIRED_REPLICAS] = json!("10");
        rs["metadata"]["annotations"][revision::MAX_REPLICAS] = json!("12");
    }
    let outcome = Given {
        d,
        sets: vec![old.clone(), new.clone()],
        pods: vec![],
    }
    .when();
    assert_eq!(outcome.step, Step::Scaled);
    let s = summary(&outcome);
    assert!(
        s.contains(&format!("size {} 15", meta::name(&old))),
        "{s:?}"
    );
    assert!(s.contains(&format!("size {} 7", meta::name(&new))), "{s:?}");
}

#[test]
fn a_finished_rollout_keeps_only_the_history_limit() {
    let mut d = deployment(1, "echo:v4");
    d["spec"]["revisionHistoryLimit"] = json!(1);
    d["metadata"]["annotations"] = json!({REVISION: "4"});
    d["status"] = json!({"replicas": 1, "updatedReplicas": 1, "availableReplicas": 1, "readyReplicas": 1, "observedGeneration": 1});
    let sets = vec![
        replica_set(&d, "echo:v1", 0, 1, "2026-01-01T00:00:00Z"),
        replica_set(&d, "echo:v2", 0, 2, "2026-01-01T00:01:00Z"),
        replica_set(&d, "echo:v3", 0, 3, "2026-01-01T00:02:00Z"),
        replica_set(&d, "echo:v4", 1, 4, "2026-01-01T00:03:00Z"),
    ];
    let pods = pods_of(&sets[3], 1, Some("2026-01-01T00:04:00Z"));
    let outcome = Given {
        d,
        sets: sets.clone(),
        pods,
    }
    .when();
    assert_eq!(outcome.step, Step::Cleaned);
    assert_eq!(
        summary(&outcome)[..2],
        [
            format!("delete {}", meta::name(&sets[0])),
            format!("delete {}", meta::name(&sets[1]))
        ]
    );
}

#[test]
fn progress_reports_and_the_deadline() {
    let mut d = deployment(2, "echo:v1");
    d["metadata"]["annotations"] = json!({REVISION: "1"});
    let rs = replica_set(&d, "echo:v1", 2, 1, "2026-01-01T00:00:00Z");
    // No progress since 23:59 with a 600 s deadline: at 00:10 it has timed out.
    d["status"] = json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "unavailableReplicas": 2,
        "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                        "lastUpdateTime": "2025-12-31T23:59:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z",
                        "message": "x"}]});
    let pods = pods_of(&rs, 2, None);
    let outcome = Given {
        d: d.clone(),
        sets: vec![rs.clone()],
        pods: pods.clone(),
    }
    .when();
    let progressing = condition(&status_of(&outcome), "Progressing").clone();
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
    assert_eq!(progressing["status"], "False");
    // Within the deadline: unchanged.
    d["status"]["conditions"][0]["lastUpdateTime"] = json!("2026-01-01T00:05:00Z");
    let outcome = Given {
        d: d.clone(),
        sets: vec![rs.clone()],
        pods,
    }
    .when();
    assert_eq!(outcome.commands.len(), 1, "{:?}", summary(&outcome));
    assert_eq!(
        condition(&status_of(&outcome), "Progressing")["reason"],
        "ReplicaSetUpdated"
    );
    // All ready: complete.
    let pods = pods_of(&rs, 2, Some("2026-01-01T00:06:00Z"));
    let outcome = Given {
        d,
        sets: vec![rs],
        pods,
    }
    .when();
    let status = status_of(&outcome);
    assert_eq!(
        condition(&status, "Progressing")["reason"],
        "NewReplicaSetAvailable"
    );
    assert_eq!(condition(&status, "Available")["status"], "True");
    assert_eq!(status["availableReplicas"], 2);
}

#[test]
fn matching_orphans_are_adopted_and_relabelled_sets_released() {
    let d = deployment(1, "echo:v1");
    let mut orphan = replica_set(&d, "echo:v1", 1, 1, "2026-01-01T00:00:00Z");
    orphan["metadata"]["ownerReferences"] = json!([]);
    let mut relabelled = replica_set(&d, "echo:v0", 1, 1, "2026-01-01T00:00:00Z");
    relabelled["metadata"]["labels"] = json!({"app": "other"});
    let outcome = Given {
        d,
        sets: vec![orphan, relabelled],
        pods: vec![],
    }
    .when();
    assert_eq!(outcome.step, Step::Ownership);
    let owners: Vec<usize> = outcome
        .commands
        .iter()
        .map(|c| match c {
            Command::Update { object, .. } => object["metadata"]["ownerReferences"]
                .as_array()
                .map_or(0, Vec::len),
            _ => 99,
        })
        .collect();
    assert_eq!(owners, [1, 0]);
}

#[test]
fn a_name_taken_by_another_template_counts_a_collision() {
    let d = deployment(1, "echo:v1");
    let hash = revision::template_hash(&d["spec"]["template"], None);
    let squatter = json!({"metadata": {"name": format!("web-{hash}"), "namespace": "default", "uid": "x",
                                       "labels": {"team": "other"}},
                          "spec": {"replicas": 1}});
    let outcome = Given {
        d,
        sets: vec![squatter],
        pods: vec![],
    }
    .when();
    assert_eq!(outcome.step, Step::Collision);
    let Command::Update { object, .. } = &outcome.commands[0] else {
        panic!()
    };
    assert_eq!(object["status"]["collisionCount"], 1);
}
