//! Pod rows: `printPod` (the STATUS reason, READY, RESTARTS with the last restart's age, IP,
//! NODE, NOMINATED NODE, READINESS GATES).

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::{age, or_none, since, time_at};
use crate::model::meta::Lookup as _;

pub(super) fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let phase = pod.str_at("/status/phase");
    let status_reason = pod.str_at("/status/reason");
    let conditions = pod.array_at("/status/conditions");
    let init_specs = pod.array_at("/spec/initContainers");

    let mut total_containers = pod.array_at("/spec/containers").len();
    let mut ready_containers = 0usize;
    let mut restarts: i64 = 0;
    let mut restartable_init_restarts: i64 = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable_init_restart: Option<Timestamp> = None;

    let mut reason = if status_reason.is_empty() {
        phase.to_string()
    } else {
        status_reason.to_string()
    };
    for condition in conditions {
        if condition.str_at("/type") == "PodScheduled"
            && condition.str_at("/reason") == "SchedulingGated"
        {
            reason = "SchedulingGated".to_string();
        }
    }

    // Sidecars: init containers with restartPolicy Always count towards READY's total.
    let mut restartable = BTreeSet::new();
    for init in init_specs {
        if init.str_at("/restartPolicy") == "Always" {
            restartable.insert(init.str_at("/name"));
            total_containers += 1;
        }
    }

    let mut initializing = false;
    for (i, status) in pod
        .array_at("/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        let restart_count = status.i64_at("/restartCount").unwrap_or(0);
        restarts += restart_count;
        let finished = last_finished_at(status);
        last_restart = later(last_restart, finished);
        let is_restartable = restartable.contains(status.str_at("/name"));
        if is_restartable {
            restartable_init_restarts += restart_count;
            last_restartable_init_restart = later(last_restartable_init_restart, finished);
        }
        let terminated = status.object_at("/state/terminated");
        let waiting = status.object_at("/state/waiting");
        if let Some(t) = terminated
            && t.i64_at("/exitCode").unwrap_or(0) == 0
        {
            continue;
        }
        if is_restartable && status.bool_at("/started") {
            if status.bool_at("/ready") {
                ready_containers += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            let terminated_reason = t.str_at("/reason");
            if !terminated_reason.is_empty() {
                format!("Init:{terminated_reason}")
            } else {
                let signal = t.i64_at("/signal").unwrap_or(0);
                if signal != 0 {
                    format!("Init:Signal:{signal}")
                } else {
                    format!("Init:ExitCode:{}", t.i64_at("/exitCode").unwrap_or(0))
                }
            }
        } else if let Some(w) = waiting
            && !w.str_at("/reason").is_empty()
            && w.str_at("/reason") != "PodInitializing"
        {
            format!("Init:{}", w.str_at("/reason"))
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || first_condition_true(conditions, "Initialized") {
        restarts = restartable_init_restarts;
        last_restart = last_restartable_init_restart;
        let mut has_running = false;
        for status in pod.array_at("/status/containerStatuses").iter().rev() {
            restarts += status.i64_at("/restartCount").unwrap_or(0);
            last_restart = later(last_restart, last_finished_at(status));
            let waiting_reason = status
                .object_at("/state/waiting")
                .map(|w| w.str_at("/reason"))
                .unwrap_or("");
            let terminated = status.object_at("/state/terminated");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                let terminated_reason = t.str_at("/reason");
                reason = if !terminated_reason.is_empty() {
                    terminated_reason.to_string()
                } else {
                    let signal = t.i64_at("/signal").unwrap_or(0);
                    if signal != 0 {
                        format!("Signal:{signal}")
                    } else {
                        format!("ExitCode:{}", t.i64_at("/exitCode").unwrap_or(0))
                    }
                };
            } else if status.bool_at("/ready") && status.object_at("/state/running").is_some() {
                has_running = true;
                ready_containers += 1;
            }
        }
        // Back to "Running" while at least one container is still running.
        if reason == "Completed" && has_running {
            reason = if any_condition_true(conditions, "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if pod.is_set("/metadata/deletionTimestamp") {
        if status_reason == "NodeLost" {
            reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_string();
        }
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    // The internal PodStatus only has podIPs; conversion from v1 makes podIP authoritative.
    let pod_ip = match pod.str_at("/status/podIP") {
        "" => pod
            .array_at("/status/podIPs")
            .first()
            .map(|ip| ip.str_at("/ip"))
            .unwrap_or(""),
        ip => ip,
    };

    let gates = pod.array_at("/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let satisfied = gates
            .iter()
            .filter(|gate| {
                let wanted = gate.str_at("/conditionType");
                conditions
                    .iter()
                    .find(|c| c.str_at("/type") == wanted)
                    .is_some_and(|c| c.str_at("/status") == "True")
            })
            .count();
        format!("{satisfied}/{}", gates.len())
    };

    vec![
        Value::from(pod.str_at("/metadata/name")),
        Value::from(format!("{ready_containers}/{total_containers}")),
        Value::from(reason),
        Value::from(restarts_cell),
        Value::from(age(pod, now)),
        Value::from(or_none(pod_ip)),
        Value::from(or_none(pod.str_at("/spec/nodeName"))),
        Value::from(or_none(pod.str_at("/status/nominatedNodeName"))),
        Value::from(readiness_gates),
    ]
}

/// `lastState.terminated.finishedAt` of a container status, when there is one.
fn last_finished_at(status: &Value) -> Option<Timestamp> {
    status
        .object_at("/lastState/terminated")
        .and_then(|t| time_at(t, "/finishedAt"))
}

fn later(current: Option<Timestamp>, candidate: Option<Timestamp>) -> Option<Timestamp> {
    match (current, candidate) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Kubernetes' `isPodInitializedConditionTrue`: the first condition of that type decides.
fn first_condition_true(conditions: &[Value], kind: &str) -> bool {
    conditions
        .iter()
        .find(|c| c.str_at("/type") == kind)
        .is_some_and(|c| c.str_at("/status") == "True")
}

/// Kubernetes' `hasPodReadyCondition`: any condition of that type with status True.
fn any_condition_true(conditions: &[Value], kind: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.str_at("/type") == kind && c.str_at("/status") == "True")
}

#[cfg(test)]
mod tests {
    use super::super::tests::{
        ago, cs, now, one_container, pod, running, s, terminated, two_containers, waiting,
    };
    use super::super::{cells, columns};
    use super::*;
    use serde_json::json;

    fn status_cases() -> Vec<(&'static str, Value, &'static str, &'static str)> {
        let init_spec = json!({
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "c", "image": "nginx"}],
        });
        let two_init_spec = json!({
            "initContainers": [{"name": "i1", "image": "b"}, {"name": "i2", "image": "b"}],
            "containers": [{"name": "c", "image": "nginx"}],
        });
        let sidecar_spec = json!({
            "initContainers": [{"name": "side", "image": "b", "restartPolicy": "Always"}],
            "containers": [{"name": "c", "image": "nginx"}],
        });
        vec![
            (
                "pending, unscheduled",
                pod(one_container(), json!({"phase": "Pending"})),
                "0/1",
                "Pending",
            ),
            (
                "no status at all",
                pod(one_container(), json!({})),
                "0/1",
                "",
            ),
            (
                "container creating",
                pod(
                    one_container(),
                    json!({"phase": "Pending",
                    "containerStatuses": [cs("c", false, waiting("ContainerCreating"))]}),
                ),
                "0/1",
                "ContainerCreating",
            ),
            (
                "running",
                pod(
                    one_container(),
                    json!({"phase": "Running",
                    "containerStatuses": [cs("c", true, running())]}),
                ),
                "1/1",
                "Running",
            ),
            (
                "running, not ready",
                pod(
                    one_container(),
                    json!({"phase": "Running",
                    "containerStatuses": [cs("c", false, running())]}),
                ),
                "0/1",
                "Running",
            ),
            (
                "crash loop",
                pod(
                    one_container(),
                    json!({"phase": "Running",
                    "containerStatuses": [cs("c", false, waiting("CrashLoopBackOff"))]}),
                ),
                "0/1",
                "CrashLoopBackOff",
            ),
            (
                "image pull backoff",
                pod(
                    one_container(),
                    json!({"phase": "Pending",
                    "containerStatuses": [cs("c", false, waiting("ImagePullBackOff"))]}),
                ),
                "0/1",
                "ImagePullBackOff",
            ),
            (
                "err image pull",
                pod(
                    one_container(),
                    json!({"phase": "Pending",
                    "containerStatuses": [cs("c", false, waiting("ErrImagePull"))]}),
                ),
                "0/1",
                "ErrImagePull",
            ),
            (
                "completed",
                pod(
                    one_container(),
                    json!({"phase": "Succeeded",
                    "containerStatuses": [cs("c", false, terminated("Completed", 0, 0))]}),
                ),
                "0/1",
                "Completed",
            ),
            (
                "error",
                pod(
                    one_container(),
                    json!({"phase": "Failed",
                    "containerStatuses": [cs("c", false, terminated("Error", 1, 0))]}),
                ),
                "0/1",
                "Error",
            ),
            (
                "oom killed",
                pod(
                    one_container(),
                    json!({"phase": "Running",
                    "containerStatuses": [cs("c", false, terminated("OOMKilled", 137, 0))]}),
                ),
                "0/1",
                "OOMKilled",
            ),
            (
                "signal without reason",
                pod(
                    one_container(),
                    json!({"phase": "Failed",
                    "containerStatuses": [cs("c", false, terminated("", 137, 9))]}),
                ),
                "0/1",
                "Signal:9",
            ),
            (
                "exit code without reason",
                pod(
                    one_container(),
                    json!({"phase": "Failed",
                    "containerStatuses": [cs("c", false, terminated("", 3, 0))]}),
                ),
                "0/1",
                "ExitCode:3",
            ),
            (
                "first container wins",
                pod(
                    two_containers(),
                    json!({"phase": "Running", "containerStatuses": [
                    cs("a", false, waiting("CrashLoopBackOff")),
                    cs("b", false, waiting("ErrImagePull"))]}),
                ),
                "0/2",
                "CrashLoopBackOff",
            ),
            (
                "completed + running, pod ready",
                pod(
                    two_containers(),
                    json!({"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        cs("a", false, terminated("Completed", 0, 0)),
                        cs("b", true, running())]}),
                ),
                "1/2",
                "Running",
            ),
            (
                "completed + running, pod not ready",
                pod(
                    two_containers(),
                    json!({"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [
                        cs("a", false, terminated("Completed", 0, 0)),
                        cs("b", true, running())]}),
                ),
                "1/2",
                "NotReady",
            ),
            (
                "init 0/1",
                pod(
                    init_spec.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [cs("init", false, running())],
                    "containerStatuses": [cs("c", false, waiting("PodInitializing"))]}),
                ),
                "0/1",
                "Init:0/1",
            ),
            (
                "init 1/2",
                pod(
                    two_init_spec.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [
                        cs("i1", false, terminated("Completed", 0, 0)),
                        cs("i2", false, waiting("PodInitializing"))]}),
                ),
                "0/1",
                "Init:1/2",
            ),
            (
                "init crash loop",
                pod(
                    init_spec.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [cs("init", false, waiting("CrashLoopBackOff"))]}),
                ),
                "0/1",
                "Init:CrashLoopBackOff",
            ),
            (
                "init error",
                pod(
                    init_spec.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [cs("init", false, terminated("Error", 1, 0))]}),
                ),
                "0/1",
                "Init:Error",
            ),
            (
                "init signal",
                pod(
                    init_spec.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [cs("init", false, terminated("", 137, 9))]}),
                ),
                "0/1",
                "Init:Signal:9",
            ),
            (
                "init exit code",
                pod(
                    init_spec.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [cs("init", false, terminated("", 2, 0))]}),
                ),
                "0/1",
                "Init:ExitCode:2",
            ),
            (
                "init done, main running",
                pod(
                    init_spec.clone(),
                    json!({"phase": "Running",
                    "initContainerStatuses": [cs("init", false, terminated("Completed", 0, 0))],
                    "containerStatuses": [cs("c", true, running())]}),
                ),
                "1/1",
                "Running",
            ),
            (
                "init failing but Initialized condition true",
                pod(
                    init_spec,
                    json!({"phase": "Running",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [cs("init", false, waiting("CrashLoopBackOff"))],
                    "containerStatuses": [cs("c", true, running())]}),
                ),
                "1/1",
                "Init:CrashLoopBackOff",
            ),
            (
                "sidecar started and ready",
                pod(
                    sidecar_spec.clone(),
                    json!({"phase": "Running",
                    "initContainerStatuses": [{"name": "side", "ready": true, "started": true,
                        "restartCount": 0, "state": running()}],
                    "containerStatuses": [cs("c", true, running())]}),
                ),
                "2/2",
                "Running",
            ),
            (
                "sidecar not started",
                pod(
                    sidecar_spec,
                    json!({"phase": "Pending",
                    "initContainerStatuses": [{"name": "side", "ready": false, "started": false,
                        "restartCount": 0, "state": running()}]}),
                ),
                "0/2",
                "Init:0/1",
            ),
            (
                "terminating",
                {
                    let mut p = pod(
                        one_container(),
                        json!({"phase": "Running",
                        "containerStatuses": [cs("c", true, running())]}),
                    );
                    p["metadata"]["deletionTimestamp"] = s(&ago(1));
                    p
                },
                "1/1",
                "Terminating",
            ),
            (
                "deleted after success stays Completed",
                {
                    let mut p = pod(
                        one_container(),
                        json!({"phase": "Succeeded",
                        "containerStatuses": [cs("c", false, terminated("Completed", 0, 0))]}),
                    );
                    p["metadata"]["deletionTimestamp"] = s(&ago(1));
                    p
                },
                "0/1",
                "Completed",
            ),
            (
                "node lost",
                {
                    let mut p = pod(
                        one_container(),
                        json!({"phase": "Running",
                        "reason": "NodeLost"}),
                    );
                    p["metadata"]["deletionTimestamp"] = s(&ago(1));
                    p
                },
                "0/1",
                "Unknown",
            ),
            (
                "evicted",
                pod(
                    one_container(),
                    json!({"phase": "Failed", "reason": "Evicted"}),
                ),
                "0/1",
                "Evicted",
            ),
            (
                "scheduling gated",
                pod(
                    one_container(),
                    json!({"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                ),
                "0/1",
                "SchedulingGated",
            ),
        ]
    }

    #[test]
    fn pod_ready_and_status() {
        for (case, pod, ready, status) in status_cases() {
            let cells = cells("Pod", &pod, now());
            assert_eq!(cells.len(), columns("Pod").len(), "{case}");
            assert_eq!(cells[1], s(ready), "{case}: READY");
            assert_eq!(cells[2], s(status), "{case}: STATUS");
        }
    }

    #[test]
    fn pod_restarts() {
        let restarted = |count: i64, finished: Option<String>| {
            let mut status = json!({"name": "c", "ready": true, "restartCount": count,
                                    "state": running()});
            if let Some(f) = finished {
                status["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": f}});
            }
            status
        };
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "none",
                pod(
                    one_container(),
                    json!({"phase": "Running",
                    "containerStatuses": [restarted(0, None)]}),
                ),
                "0",
            ),
            (
                "count without finish time",
                pod(
                    one_container(),
                    json!({"phase": "Running",
                    "containerStatuses": [restarted(3, None)]}),
                ),
                "3",
            ),
            (
                "count with finish time",
                pod(
                    one_container(),
                    json!({"phase": "Running",
                    "containerStatuses": [restarted(3, Some(ago(300)))]}),
                ),
                "3 (5m ago)",
            ),
            (
                "sum over containers, latest finish",
                pod(
                    two_containers(),
                    json!({"phase": "Running", "containerStatuses": [
                    {"name": "a", "restartCount": 2, "state": running(), "ready": true,
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(7200)}}},
                    {"name": "b", "restartCount": 1, "state": running(), "ready": true,
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(90)}}}]}),
                ),
                "3 (90s ago)",
            ),
            (
                "init restarts count only while initializing",
                pod(
                    json!({"initContainers": [{"name": "init"}], "containers": [{"name": "c"}]}),
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "init", "restartCount": 4, "state": waiting("CrashLoopBackOff"),
                         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(30)}}}],
                        "containerStatuses": [restarted(7, None)]}),
                ),
                "4 (30s ago)",
            ),
            (
                "finished init restarts not counted",
                pod(
                    json!({"initContainers": [{"name": "init"}], "containers": [{"name": "c"}]}),
                    json!({"phase": "Running", "initContainerStatuses": [
                        {"name": "init", "restartCount": 4,
                         "state": terminated("Completed", 0, 0)}],
                        "containerStatuses": [restarted(1, None)]}),
                ),
                "1",
            ),
            (
                "sidecar restarts counted",
                pod(
                    json!({"initContainers": [{"name": "s", "restartPolicy": "Always"}],
                           "containers": [{"name": "c"}]}),
                    json!({"phase": "Running", "initContainerStatuses": [
                        {"name": "s", "restartCount": 2, "started": true, "ready": true,
                         "state": running(),
                         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(600)}}}],
                        "containerStatuses": [restarted(1, None)]}),
                ),
                "3 (10m ago)",
            ),
        ];
        for (case, pod, want) in cases {
            assert_eq!(cells("Pod", &pod, now())[3], s(want), "{case}");
        }
    }

    #[test]
    fn pod_wide_cells() {
        let p = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(65)},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c"}],
                     "readinessGates": [{"conditionType": "g1"}, {"conditionType": "g2"},
                                        {"conditionType": "g3"}]},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
                       "nominatedNodeName": "node-2",
                       "conditions": [{"type": "g1", "status": "True"},
                                      {"type": "g2", "status": "False"}],
                       "containerStatuses": [cs("c", true, running())]},
        });
        assert_eq!(
            cells("Pod", &p, now()),
            vec![
                s("web"),
                s("1/1"),
                s("Running"),
                s("0"),
                s("65s"),
                s("10.0.0.5"),
                s("node-1"),
                s("node-2"),
                s("1/3")
            ]
        );
        let bare = json!({"metadata": {"name": "x"}});
        assert_eq!(
            cells("Pod", &bare, now()),
            vec![
                s("x"),
                s("0/0"),
                s(""),
                s("0"),
                s("<unknown>"),
                s("<none>"),
                s("<none>"),
                s("<none>"),
                s("<none>")
            ]
        );
        let with_pod_ip = json!({"status": {"podIP": "10.1.1.1", "podIPs": [{"ip": "10.1.1.1"}]}});
        assert_eq!(cells("Pod", &with_pod_ip, now())[5], s("10.1.1.1"));
    }
}
