//! Kubernetes' server-side table printers: the `meta.k8s.io/v1` `Table` that `kubectl get` asks
//! for with `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`.
//!
//! Owns, per kind (Pod, ReplicaSet, Node, Namespace, core/v1 Event, plus the generic fallback every
//! other kind gets), the column definitions and the cell logic of Kubernetes'
//! `pkg/printers/internalversion/printers.go` (always the wide form, as the real server renders
//! it), apimachinery's `duration.HumanDuration`, label-selector formatting for the Selector
//! column, the row `object` for `includeObject` (`None`/`Metadata`/`Object`) and the whole Table
//! envelope. Objects are `serde_json::Value`s holding Kubernetes JSON; missing fields read as
//! their zero values, as they would in Go. Pure: no I/O, and the clock is a parameter.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use crate::model::meta::Lookup as _;

// ---------------------------------------------------------------------------------------------
// Column definitions
// ---------------------------------------------------------------------------------------------

/// Column definition of a meta.k8s.io/v1 Table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Column {
    /// Human-readable column name; kubectl prints it upper-cased as the header.
    pub name: &'static str,
    /// OpenAPI type of the cells: "string", "integer" or "date" (serialized as `type`).
    pub kind: &'static str,
    /// "name" for the column holding the object's name (kubectl prefixes `pod/` there), else "".
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 = always shown; 1 = only with `kubectl get -o wide`.
    pub priority: i32,
}

impl Column {
    /// The column as a `TableColumnDefinition` JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        description,
        priority: 0,
    }
}

const fn wide(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        description,
        priority: 1,
    }
}

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const CONTAINERS_DESC: &str = "Names of each container in the template.";
const IMAGES_DESC: &str = "Images referenced by each container in the template.";

const NAME_COLUMN: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    description: NAME_DESC,
    priority: 0,
};
const AGE_COLUMN: Column = col("Age", "string", AGE_DESC);

/// The columns Kubernetes serves for `kind` (wide form: priority-1 columns included). Any kind
/// without a printer gets the apiserver's default table convertor: `Name`, `Created At` (date).
pub fn columns(kind: &str) -> Vec<Column> {
    match kind {
        "Pod" => vec![
            NAME_COLUMN,
            col(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE_COLUMN,
            wide(
                "IP",
                "string",
                "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            ),
            wide(
                "Node",
                "string",
                "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
            ),
            wide(
                "Nominated Node",
                "string",
                "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
            ),
            wide(
                "Readiness Gates",
                "string",
                "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
            ),
        ],
        "ReplicaSet" => vec![
            NAME_COLUMN,
            col(
                "Desired",
                "integer",
                "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
            ),
            col(
                "Current",
                "integer",
                "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
            ),
            col(
                "Ready",
                "integer",
                "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
            ),
            AGE_COLUMN,
            wide("Containers", "string", CONTAINERS_DESC),
            wide("Images", "string", IMAGES_DESC),
            wide(
                "Selector",
                "string",
                "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
            ),
        ],
        "Node" => {
            const ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";
            vec![
                NAME_COLUMN,
                col("Status", "string", "The status of the node"),
                col("Roles", "string", "The roles of the node"),
                AGE_COLUMN,
                col("Version", "string", "Kubelet Version reported by the node."),
                wide("Internal-IP", "string", ADDRESSES),
                wide("External-IP", "string", ADDRESSES),
                wide(
                    "OS-Image",
                    "string",
                    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                ),
                wide(
                    "Kernel-Version",
                    "string",
                    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                ),
                wide(
                    "Container-Runtime",
                    "string",
                    "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
                ),
            ]
        }
        "Namespace" => vec![
            NAME_COLUMN,
            col("Status", "string", "The status of the namespace"),
            AGE_COLUMN,
        ],
        "Event" => vec![
            col(
                "Last Seen",
                "string",
                "The time at which the most recent occurrence of this event was recorded.",
            ),
            col(
                "Type",
                "string",
                "Type of this event (Normal, Warning), new types could be added in the future",
            ),
            col(
                "Reason",
                "string",
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            col("Object", "string", "The object that this event is about."),
            wide(
                "Subobject",
                "string",
                "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
            ),
            wide(
                "Source",
                "string",
                "The component reporting this event. Should be a short machine understandable string.",
            ),
            col(
                "Message",
                "string",
                "A human-readable description of the status of this operation.",
            ),
            wide(
                "First Seen",
                "string",
                "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            ),
            wide(
                "Count",
                "string",
                "The number of times this event has occurred.",
            ),
            Column {
                priority: 1,
                ..NAME_COLUMN
            },
        ],
        _ => vec![NAME_COLUMN, col("Created At", "date", AGE_DESC)],
    }
}

// ---------------------------------------------------------------------------------------------
// Cells
// ---------------------------------------------------------------------------------------------

/// The cells of `object`'s row, one per entry of [`columns`]`(kind)`, in column order. Strings are
/// JSON strings, integer columns JSON numbers. `now` is the clock the age cells are measured
/// against.
pub fn cells(kind: &str, object: &Value, now: Timestamp) -> Vec<Value> {
    match kind {
        "Pod" => pod_cells(object, now),
        "ReplicaSet" => replica_set_cells(object, now),
        "Node" => node_cells(object, now),
        "Namespace" => namespace_cells(object, now),
        "Event" => event_cells(object, now),
        _ => generic_cells(object),
    }
}

/// The row conditions Kubernetes attaches: `Completed` for pods in phase Succeeded/Failed.
fn row_conditions(kind: &str, object: &Value) -> Option<Value> {
    if kind != "Pod" {
        return None;
    }
    let (reason, message) = match object.str_at("/status/phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{
        "type": "Completed",
        "status": "True",
        "reason": reason,
        "message": message,
    }]))
}

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
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

fn replica_set_cells(rs: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = layout_containers(rs.array_at("/spec/template/spec/containers"));
    vec![
        Value::from(rs.str_at("/metadata/name")),
        Value::from(rs.i64_at("/spec/replicas").unwrap_or(1)),
        Value::from(rs.i64_at("/status/replicas").unwrap_or(0)),
        Value::from(rs.i64_at("/status/readyReplicas").unwrap_or(0)),
        Value::from(age(rs, now)),
        Value::from(names),
        Value::from(images),
        Value::from(format_label_selector(rs.at("/spec/selector"))),
    ]
}

/// Container names and images of a pod template, each comma-joined.
fn layout_containers(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| c.str_at("/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| c.str_at("/image")).collect();
    (names.join(","), images.join(","))
}

/// apimachinery's `metav1.FormatLabelSelector`: the canonical selector string (requirements
/// sorted by key), `<none>` when it selects everything or nothing, `<error>` when invalid.
fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector_string(selector) {
        Some(s) if s.is_empty() => "<none>".to_string(),
        Some(s) => s,
        None => "<error>".to_string(),
    }
}

/// The selector as `labels.Selector.String()`, or `None` when it is not a valid selector.
fn label_selector_string(selector: Option<&Value>) -> Option<String> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Some(String::new());
    };
    let mut requirements: Vec<(&str, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").filter(|l| !l.is_null()) {
        for (key, value) in labels.as_object()? {
            requirements.push((key, format!("{key}={}", value.as_str()?)));
        }
    }
    if let Some(expressions) = selector.get("matchExpressions").filter(|e| !e.is_null()) {
        for expression in expressions.as_array()? {
            let key = expression.str_at("/key");
            let mut values = match expression.get("values") {
                None | Some(Value::Null) => Vec::new(),
                Some(values) => values
                    .as_array()?
                    .iter()
                    .map(Value::as_str)
                    .collect::<Option<Vec<&str>>>()?,
            };
            values.sort_unstable();
            let rendered = match expression.str_at("/operator") {
                "In" | "NotIn" if values.is_empty() => return None,
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" | "DoesNotExist" if !values.is_empty() => return None,
                "Exists" => key.to_string(),
                "DoesNotExist" => format!("!{key}"),
                _ => return None,
            };
            requirements.push((key, rendered));
        }
    }
    requirements.sort_by(|a, b| a.0.cmp(b.0));
    let rendered: Vec<String> = requirements.into_iter().map(|(_, r)| r).collect();
    Some(rendered.join(","))
}

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    // The last Ready condition wins, as with Kubernetes' condition map.
    let ready = node
        .array_at("/status/conditions")
        .iter()
        .rfind(|c| c.str_at("/type") == "Ready");
    let mut status = match ready {
        Some(c) if c.str_at("/status") == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if node.bool_at("/spec/unschedulable") {
        status.push_str(",SchedulingDisabled");
    }

    let mut roles = BTreeSet::new();
    if let Some(labels) = node.at("/metadata/labels").and_then(Value::as_object) {
        for (key, value) in labels {
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role);
                }
            } else if key == "kubernetes.io/role"
                && let Some(role) = value.as_str().filter(|r| !r.is_empty())
            {
                roles.insert(role);
            }
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };

    let address = |kind: &str| {
        node.array_at("/status/addresses")
            .iter()
            .find(|a| a.str_at("/type") == kind)
            .map_or("<none>", |a| a.str_at("/address"))
            .to_string()
    };
    let info = |path: &str| match node.str_at(path) {
        "" => "<unknown>".to_string(),
        value => value.to_string(),
    };

    vec![
        Value::from(node.str_at("/metadata/name")),
        Value::from(status),
        Value::from(roles),
        Value::from(age(node, now)),
        Value::from(node.str_at("/status/nodeInfo/kubeletVersion")),
        Value::from(address("InternalIP")),
        Value::from(address("ExternalIP")),
        Value::from(info("/status/nodeInfo/osImage")),
        Value::from(info("/status/nodeInfo/kernelVersion")),
        Value::from(info("/status/nodeInfo/containerRuntimeVersion")),
    ]
}

fn namespace_cells(ns: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(ns.str_at("/metadata/name")),
        Value::from(ns.str_at("/status/phase")),
        Value::from(age(ns, now)),
    ]
}

fn event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    let first_timestamp = time_at(event, "/firstTimestamp");
    let first_seen = match first_timestamp {
        Some(t) => since(Some(t), now),
        None => since(time_at(event, "/eventTime"), now),
    };
    let mut last_seen = match time_at(event, "/lastTimestamp") {
        Some(t) => since(Some(t), now),
        None => first_seen.clone(),
    };
    let mut count = event.i64_at("/count").unwrap_or(0);
    if event.is_set("/series") {
        last_seen = since(time_at(event, "/series/lastObservedTime"), now);
        count = event.i64_at("/series/count").unwrap_or(0);
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }

    let involved_kind = event.str_at("/involvedObject/kind").to_lowercase();
    let involved_name = event.str_at("/involvedObject/name");
    let target = if involved_name.is_empty() {
        involved_kind
    } else {
        format!("{involved_kind}/{involved_name}")
    };

    let component = first_non_empty(
        event.str_at("/source/component"),
        event.str_at("/reportingComponent"),
    );
    let instance = first_non_empty(
        event.str_at("/source/host"),
        event.str_at("/reportingInstance"),
    );
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };

    vec![
        Value::from(last_seen),
        Value::from(event.str_at("/type")),
        Value::from(event.str_at("/reason")),
        Value::from(target),
        Value::from(event.str_at("/involvedObject/fieldPath")),
        Value::from(source),
        Value::from(event.str_at("/message").trim()),
        Value::from(first_seen),
        Value::from(count),
        Value::from(event.str_at("/metadata/name")),
    ]
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

/// The apiserver's default table convertor: name and the creation time in RFC 3339 (UTC).
fn generic_cells(object: &Value) -> Vec<Value> {
    let created = time_at(object, "/metadata/creationTimestamp")
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    vec![
        Value::from(object.str_at("/metadata/name")),
        Value::from(created),
    ]
}

// ---------------------------------------------------------------------------------------------
// Table and rows
// ---------------------------------------------------------------------------------------------

/// What a row's `object` holds (the `includeObject` query parameter).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IncludeObject {
    /// No `object` in the rows.
    None,
    /// A `PartialObjectMetadata` carrying the object's metadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter; absent or empty means `Metadata`.
    pub fn parse(s: Option<&str>) -> Result<Self, String> {
        match s {
            None | Some("") | Some("Metadata") => Ok(Self::Metadata),
            Some("None") => Ok(Self::None),
            Some("Object") => Ok(Self::Object),
            Some(other) => Err(format!("unrecognized includeObject value: {other:?}")),
        }
    }
}

/// One `TableRow` for `object`: `cells`, the pod `conditions` Kubernetes adds for finished pods,
/// and `object` per `include`. `api_version` is the object's wire apiVersion ("v1", "apps/v1"),
/// stamped with `kind` on the object for [`IncludeObject::Object`].
pub fn row(
    kind: &str,
    api_version: &str,
    object: &Value,
    now: Timestamp,
    include: IncludeObject,
) -> Value {
    let mut row = Map::new();
    row.insert("cells".to_string(), Value::Array(cells(kind, object, now)));
    if let Some(conditions) = row_conditions(kind, object) {
        row.insert("conditions".to_string(), conditions);
    }
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            let metadata = match object.get("metadata") {
                Some(m) if m.is_object() => m.clone(),
                _ => Value::Object(Map::new()),
            };
            row.insert(
                "object".to_string(),
                json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                }),
            );
        }
        IncludeObject::Object => {
            let mut full = object.clone();
            if let Some(map) = full.as_object_mut() {
                if !kind.is_empty() {
                    map.insert("kind".to_string(), Value::from(kind));
                }
                if !api_version.is_empty() {
                    map.insert("apiVersion".to_string(), Value::from(api_version));
                }
            }
            row.insert("object".to_string(), full);
        }
    }
    Value::Object(row)
}

/// A whole `meta.k8s.io/v1` Table of `objects` (all of `kind`). `metadata.continue` is present
/// only for a non-empty token; `columnDefinitions` is null when `!with_columns` (what the server
/// sends in watch events after the first).
#[allow(clippy::too_many_arguments)]
pub fn table(
    kind: &str,
    api_version: &str,
    objects: &[Value],
    now: Timestamp,
    include: IncludeObject,
    resource_version: &str,
    continue_token: Option<&str>,
    with_columns: bool,
) -> Value {
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".to_string(), Value::from(resource_version));
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        metadata.insert("continue".to_string(), Value::from(token));
    }
    let column_definitions = if with_columns {
        Value::Array(columns(kind).iter().map(Column::to_json).collect())
    } else {
        Value::Null
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| row(kind, api_version, object, now, include))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

// ---------------------------------------------------------------------------------------------
// Durations and timestamps
// ---------------------------------------------------------------------------------------------

/// apimachinery's `duration.HumanDuration`: ~2–3 significant figures, "<invalid>" below −1 s.
pub fn human_duration(d: SignedDuration) -> String {
    // Up to 2 s (excluded) into the future counts as "now" (clock skew).
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    } else if seconds < 0 {
        return "0s".to_string();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        format!("{hours}h{m}m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        format!("{}d{h}h", hours / 24)
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = hours / 24 % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        format!("{}y{dy}d", hours / 24 / 365)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// Kubernetes' `translateTimestampSince`: "<unknown>" for a zero/missing time.
fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".to_string(),
    }
}

fn age(object: &Value, now: Timestamp) -> String {
    since(time_at(object, "/metadata/creationTimestamp"), now)
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z), which Kubernetes treats as unset.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// An RFC 3339 timestamp at `path`; `None` when missing, null, unparsable or Go's zero time.
fn time_at(v: &Value, path: &str) -> Option<Timestamp> {
    let t: Timestamp = v.at(path)?.as_str()?.parse().ok()?;
    (t.as_second() != GO_ZERO_TIME_SECONDS || t.subsec_nanosecond() != 0).then_some(t)
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-01-01T12:00:00Z".parse().unwrap()
    }

    /// RFC 3339 time `secs` seconds before `now()`.
    fn ago(secs: i64) -> String {
        (now() - SignedDuration::from_secs(secs)).to_string()
    }

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    #[test]
    fn human_duration_thresholds() {
        let m = 60;
        let h = 3600;
        let d = 24 * h;
        let y = 365 * d;
        let cases: &[(i64, &str)] = &[
            (-3, "<invalid>"),
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (1, "1s"),
            (59, "59s"),
            (60, "60s"),
            (95, "95s"),
            (119, "119s"),
            (2 * m, "2m"),
            (2 * m + 1, "2m1s"),
            (3 * m + 5, "3m5s"),
            (9 * m + 59, "9m59s"),
            (10 * m, "10m"),
            (10 * m + 59, "10m"),
            (47 * m, "47m"),
            (2 * h + 59 * m, "179m"),
            (2 * h + 59 * m + 59, "179m"),
            (3 * h, "3h"),
            (3 * h + 59, "3h"),
            (3 * h + m, "3h1m"),
            (5 * h + 3 * m, "5h3m"),
            (7 * h + 59 * m + 59, "7h59m"),
            (8 * h, "8h"),
            (30 * h, "30h"),
            (47 * h + 59 * m, "47h"),
            (48 * h, "2d"),
            (2 * d + h, "2d1h"),
            (3 * d + 4 * h, "3d4h"),
            (7 * d + 23 * h + 59 * m, "7d23h"),
            (8 * d, "8d"),
            (45 * d, "45d"),
            (2 * y - 1, "729d"),
            (2 * y, "2y"),
            (2 * y + 30 * d, "2y30d"),
            (8 * y - 1, "7y364d"),
            (8 * y, "8y"),
            (9 * y + 100 * d, "9y"),
        ];
        for &(secs, want) in cases {
            assert_eq!(
                human_duration(SignedDuration::from_secs(secs)),
                want,
                "{secs}s"
            );
        }
        // Sub-second parts truncate towards zero, as Go's int(d.Seconds()).
        assert_eq!(human_duration(SignedDuration::from_millis(-1999)), "0s");
        assert_eq!(
            human_duration(SignedDuration::from_millis(-2000)),
            "<invalid>"
        );
        assert_eq!(human_duration(SignedDuration::from_millis(119_999)), "119s");
    }

    #[test]
    fn include_object_parse() {
        let cases: &[(Option<&str>, Result<IncludeObject, String>)] = &[
            (None, Ok(IncludeObject::Metadata)),
            (Some(""), Ok(IncludeObject::Metadata)),
            (Some("Metadata"), Ok(IncludeObject::Metadata)),
            (Some("None"), Ok(IncludeObject::None)),
            (Some("Object"), Ok(IncludeObject::Object)),
            (
                Some("x"),
                Err("unrecognized includeObject value: \"x\"".to_string()),
            ),
            (
                Some("object"),
                Err("unrecognized includeObject value: \"object\"".to_string()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(&IncludeObject::parse(*input), want, "{input:?}");
        }
    }

    /// (kind, column names, priorities, types)
    type ColumnCase = (
        &'static str,
        &'static [&'static str],
        &'static [i32],
        &'static [&'static str],
    );

    #[test]
    fn column_sets() {
        let cases: &[ColumnCase] = &[
            (
                "Pod",
                &[
                    "Name",
                    "Ready",
                    "Status",
                    "Restarts",
                    "Age",
                    "IP",
                    "Node",
                    "Nominated Node",
                    "Readiness Gates",
                ],
                &[0, 0, 0, 0, 0, 1, 1, 1, 1],
                &["string"; 9],
            ),
            (
                "ReplicaSet",
                &[
                    "Name",
                    "Desired",
                    "Current",
                    "Ready",
                    "Age",
                    "Containers",
                    "Images",
                    "Selector",
                ],
                &[0, 0, 0, 0, 0, 1, 1, 1],
                &[
                    "string", "integer", "integer", "integer", "string", "string", "string",
                    "string",
                ],
            ),
            (
                "Node",
                &[
                    "Name",
                    "Status",
                    "Roles",
                    "Age",
                    "Version",
                    "Internal-IP",
                    "External-IP",
                    "OS-Image",
                    "Kernel-Version",
                    "Container-Runtime",
                ],
                &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
                &["string"; 10],
            ),
            (
                "Namespace",
                &["Name", "Status", "Age"],
                &[0, 0, 0],
                &["string"; 3],
            ),
            (
                "Event",
                &[
                    "Last Seen",
                    "Type",
                    "Reason",
                    "Object",
                    "Subobject",
                    "Source",
                    "Message",
                    "First Seen",
                    "Count",
                    "Name",
                ],
                &[0, 0, 0, 0, 1, 1, 0, 1, 1, 1],
                &["string"; 10],
            ),
            (
                "ConfigMap",
                &["Name", "Created At"],
                &[0, 0],
                &["string", "date"],
            ),
        ];
        for &(kind, names, priorities, types) in cases {
            let cols = columns(kind);
            let got: Vec<&str> = cols.iter().map(|c| c.name).collect();
            assert_eq!(got, names, "{kind}");
            let got: Vec<i32> = cols.iter().map(|c| c.priority).collect();
            assert_eq!(got, priorities, "{kind}");
            let got: Vec<&str> = cols.iter().map(|c| c.kind).collect();
            assert_eq!(got, types, "{kind}");
            // Exactly one name-formatted column, and every column is described.
            assert_eq!(
                cols.iter().filter(|c| c.format == "name").count(),
                1,
                "{kind}"
            );
            assert!(cols.iter().all(|c| !c.description.is_empty()), "{kind}");
        }
        assert_eq!(columns("Pod")[0].description, NAME_DESC);
        assert!(
            columns("Pod")[4]
                .description
                .starts_with("CreationTimestamp is a timestamp")
        );
        assert_eq!(columns("Event")[9].format, "name");
        assert_eq!(
            columns("Pod")[7].to_json(),
            json!({"name":"Nominated Node","type":"string","format":"",
                   "description": columns("Pod")[7].description,"priority":1})
        );
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "p", "namespace": "default", "creationTimestamp": ago(300)},
            "spec": spec,
            "status": status,
        })
    }

    fn one_container() -> Value {
        json!({"containers": [{"name": "c", "image": "nginx"}]})
    }

    fn two_containers() -> Value {
        json!({"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]})
    }

    fn cs(name: &str, ready: bool, state: Value) -> Value {
        json!({"name": name, "ready": ready, "restartCount": 0, "state": state})
    }

    fn running() -> Value {
        json!({"running": {"startedAt": ago(100)}})
    }

    fn waiting(reason: &str) -> Value {
        json!({"waiting": {"reason": reason}})
    }

    fn terminated(reason: &str, exit: i64, signal: i64) -> Value {
        json!({"terminated": {"reason": reason, "exitCode": exit, "signal": signal}})
    }

    /// (case, pod, READY, STATUS)
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

    #[test]
    fn replica_set_cells_and_selectors() {
        let rs = |selector: Value, replicas: Option<i64>| {
            let mut spec = json!({
                "selector": selector,
                "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx:1.27"},
                    {"name": "log", "image": "busybox"}]}},
            });
            if let Some(r) = replicas {
                spec["replicas"] = json!(r);
            }
            json!({
                "metadata": {"name": "web-abc", "creationTimestamp": ago(3 * 86400 + 4 * 3600)},
                "spec": spec,
                "status": {"replicas": 3, "readyReplicas": 2},
            })
        };
        let full = rs(json!({"matchLabels": {"app": "web"}}), Some(3));
        assert_eq!(
            cells("ReplicaSet", &full, now()),
            vec![
                s("web-abc"),
                json!(3),
                json!(3),
                json!(2),
                s("3d4h"),
                s("web,log"),
                s("nginx:1.27,busybox"),
                s("app=web")
            ]
        );
        // Desired defaults to 1; missing status counts are 0.
        let mut bare = rs(json!({"matchLabels": {"app": "web"}}), None);
        bare["status"] = json!({});
        let got = cells("ReplicaSet", &bare, now());
        assert_eq!(got[1..4], [json!(1), json!(0), json!(0)]);

        let selectors: Vec<(Value, &str)> = vec![
            (
                json!({"matchLabels": {"tier": "fe", "app": "web"}}),
                "app=web,tier=fe",
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}),
                "tier in (a,b)",
            ),
            (
                json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}),
                "env notin (prod)",
            ),
            (
                json!({"matchLabels": {"z": "1"}, "matchExpressions": [
                    {"key": "gpu", "operator": "Exists"},
                    {"key": "canary", "operator": "DoesNotExist", "values": []},
                    {"key": "app", "operator": "In", "values": ["web"]}]}),
                "app in (web),!canary,gpu,z=1",
            ),
            (
                json!({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}),
                "!canary",
            ),
            (json!({}), "<none>"),
            (Value::Null, "<none>"),
            (json!({"matchLabels": {}}), "<none>"),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}),
                "<error>",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
                "<error>",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                "<error>",
            ),
        ];
        for (selector, want) in selectors {
            let got = cells("ReplicaSet", &rs(selector.clone(), Some(1)), now());
            assert_eq!(got[7], s(want), "{selector}");
        }
    }

    #[test]
    fn node_cells_cases() {
        let node = |conditions: Value, unschedulable: bool, labels: Value| {
            json!({
                "metadata": {"name": "n1", "labels": labels, "creationTimestamp": ago(45 * 86400)},
                "spec": {"unschedulable": unschedulable},
                "status": {
                    "conditions": conditions,
                    "addresses": [{"type": "Hostname", "address": "n1"},
                                  {"type": "InternalIP", "address": "192.168.1.10"}],
                    "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12",
                                 "kernelVersion": "6.1.0", "containerRuntimeVersion": ""},
                },
            })
        };
        let ready = json!([{"type": "MemoryPressure", "status": "False"},
                           {"type": "Ready", "status": "True"}]);
        let not_ready = json!([{"type": "Ready", "status": "False"}]);
        let unknown_status = json!([{"type": "Ready", "status": "Unknown"}]);
        let cases: Vec<(&str, Value, &str, &str)> = vec![
            (
                "ready",
                node(ready.clone(), false, json!({})),
                "Ready",
                "<none>",
            ),
            (
                "cordoned",
                node(
                    ready,
                    true,
                    json!({"node-role.kubernetes.io/control-plane": ""}),
                ),
                "Ready,SchedulingDisabled",
                "control-plane",
            ),
            (
                "not ready",
                node(
                    not_ready.clone(),
                    false,
                    json!({"kubernetes.io/role": "worker"}),
                ),
                "NotReady",
                "worker",
            ),
            (
                "ready condition status Unknown",
                node(unknown_status, false, json!({})),
                "NotReady",
                "<none>",
            ),
            (
                "no conditions, cordoned",
                node(json!([]), true, json!({})),
                "Unknown,SchedulingDisabled",
                "<none>",
            ),
            (
                "roles sorted and deduplicated",
                node(
                    not_ready,
                    false,
                    json!({"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/": "",
                           "node-role.kubernetes.io/control-plane": "true",
                           "kubernetes.io/role": "worker", "app": "x"}),
                ),
                "NotReady",
                "control-plane,worker",
            ),
        ];
        for (case, n, status, roles) in cases {
            let got = cells("Node", &n, now());
            assert_eq!(got[1], s(status), "{case}");
            assert_eq!(got[2], s(roles), "{case}");
        }
        let got = cells("Node", &node(json!([]), false, json!({})), now());
        assert_eq!(
            got,
            vec![
                s("n1"),
                s("Unknown"),
                s("<none>"),
                s("45d"),
                s("v1.32.4"),
                s("192.168.1.10"),
                s("<none>"),
                s("Debian GNU/Linux 12"),
                s("6.1.0"),
                s("<unknown>")
            ]
        );
    }

    #[test]
    fn namespace_cells_case() {
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": ago(30 * 3600)},
                        "status": {"phase": "Active"}});
        assert_eq!(
            cells("Namespace", &ns, now()),
            vec![s("default"), s("Active"), s("30h")]
        );
        let terminating = json!({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}});
        assert_eq!(
            cells("Namespace", &terminating, now()),
            vec![s("old"), s("Terminating"), s("<unknown>")]
        );
    }

    #[test]
    fn event_cells_cases() {
        let classic = json!({
            "metadata": {"name": "web.17f0", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
            "reason": "Pulled", "type": "Normal",
            "message": "  Successfully pulled image \"nginx\"\n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ago(600), "lastTimestamp": ago(65), "count": 4,
        });
        assert_eq!(
            cells("Event", &classic, now()),
            vec![
                s("65s"),
                s("Normal"),
                s("Pulled"),
                s("pod/web"),
                s("spec.containers{web}"),
                s("kubelet, node-1"),
                s("Successfully pulled image \"nginx\""),
                s("10m"),
                json!(4),
                s("web.17f0")
            ]
        );

        let new_api = json!({
            "metadata": {"name": "e2"},
            "involvedObject": {"kind": "ReplicaSet", "name": "web-abc"},
            "reason": "SuccessfulCreate", "type": "Normal", "message": "Created pod",
            "eventTime": "2026-01-01T11:58:00.000000Z",
            "reportingComponent": "replicaset-controller", "reportingInstance": "",
        });
        let got = cells("Event", &new_api, now());
        assert_eq!(
            got[0],
            s("2m"),
            "last seen falls back to first seen (eventTime)"
        );
        assert_eq!(got[3], s("replicaset/web-abc"));
        assert_eq!(got[5], s("replicaset-controller"));
        assert_eq!(got[7], s("2m"));
        assert_eq!(got[8], json!(1), "count 0 => 1");

        let series = json!({
            "metadata": {"name": "e3"},
            "involvedObject": {"kind": "Node"},
            "eventTime": ago(7200), "count": 0,
            "series": {"count": 12, "lastObservedTime": ago(5)},
            "reportingComponent": "kubelet", "reportingInstance": "node-9",
            "source": {"component": "", "host": ""},
        });
        let got = cells("Event", &series, now());
        assert_eq!(got[0], s("5s"));
        assert_eq!(got[3], s("node"), "no name => kind only");
        assert_eq!(got[5], s("kubelet, node-9"));
        assert_eq!(got[7], s("120m"));
        assert_eq!(got[8], json!(12));

        let empty = json!({"metadata": {"name": "e4"}});
        assert_eq!(
            cells("Event", &empty, now()),
            vec![
                s("<unknown>"),
                s(""),
                s(""),
                s(""),
                s(""),
                s(""),
                s(""),
                s("<unknown>"),
                json!(1),
                s("e4")
            ]
        );
    }

    #[test]
    fn generic_cells_case() {
        let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": "2025-03-04T05:06:07Z"}});
        assert_eq!(
            cells("ConfigMap", &cm, now()),
            vec![s("cfg"), s("2025-03-04T05:06:07Z")]
        );
        let no_time = json!({"metadata": {"name": "cfg"}});
        assert_eq!(
            cells("Whatever", &no_time, now())[1],
            s("0001-01-01T00:00:00Z")
        );
    }

    #[test]
    fn zero_and_bad_timestamps_are_unknown() {
        for t in [
            json!("0001-01-01T00:00:00Z"),
            json!(null),
            json!("garbage"),
            json!(""),
        ] {
            let ns = json!({"metadata": {"name": "n", "creationTimestamp": t}});
            assert_eq!(cells("Namespace", &ns, now())[2], s("<unknown>"), "{t}");
        }
        let future =
            json!({"metadata": {"name": "n", "creationTimestamp": "2026-01-01T12:00:05Z"}});
        assert_eq!(cells("Namespace", &future, now())[2], s("<invalid>"));
    }

    #[test]
    fn whole_table_with_partial_object_metadata() {
        let running_pod = json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "nginx", "namespace": "default", "uid": "u1",
                         "resourceVersion": "1004", "creationTimestamp": ago(300),
                         "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "nginx", "image": "nginx"}]},
            "status": {"phase": "Running", "podIP": "10.244.0.5",
                       "containerStatuses": [cs("nginx", true, running())]},
        });
        let done_pod = pod(
            one_container(),
            json!({"phase": "Succeeded",
                   "containerStatuses": [cs("c", false, terminated("Completed", 0, 0))]}),
        );
        let got = table(
            "Pod",
            "v1",
            &[running_pod.clone(), done_pod],
            now(),
            IncludeObject::Metadata,
            "1005",
            Some("tok"),
            true,
        );
        assert_eq!(got["kind"], s("Table"));
        assert_eq!(got["apiVersion"], s("meta.k8s.io/v1"));
        assert_eq!(
            got["metadata"],
            json!({"resourceVersion": "1005", "continue": "tok"})
        );
        let defs = got["columnDefinitions"].as_array().unwrap();
        assert_eq!(defs.len(), 9);
        assert_eq!(
            defs[0],
            json!({"name": "Name", "type": "string", "format": "name",
                   "description": NAME_DESC, "priority": 0})
        );
        assert_eq!(defs[8]["name"], s("Readiness Gates"));
        assert_eq!(defs[8]["priority"], json!(1));
        let rows = got["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            json!({
                "cells": ["nginx", "1/1", "Running", "0", "5m", "10.244.0.5", "node-1",
                          "<none>", "<none>"],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": running_pod["metadata"]},
            })
        );
        assert_eq!(
            rows[1]["conditions"],
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
                    "message": "The pod has completed successfully."}])
        );
        assert_eq!(rows[1]["cells"][2], s("Completed"));

        // Failed pods carry the failed condition.
        let failed = pod(one_container(), json!({"phase": "Failed"}));
        let failed_row = row("Pod", "v1", &failed, now(), IncludeObject::None);
        assert_eq!(failed_row["conditions"][0]["reason"], s("Failed"));
        assert_eq!(failed_row["conditions"][0]["message"], s("The pod failed."));
        assert!(failed_row.get("object").is_none());
    }

    #[test]
    fn table_variants() {
        let rs = json!({"metadata": {"name": "r", "creationTimestamp": ago(10)},
                        "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}}},
                        "status": {"replicas": 2, "readyReplicas": 2}});

        // Empty list, no continue, columns present.
        let empty = table(
            "ReplicaSet",
            "apps/v1",
            &[],
            now(),
            IncludeObject::Metadata,
            "7",
            None,
            true,
        );
        assert_eq!(empty["rows"], json!([]));
        assert_eq!(empty["metadata"], json!({"resourceVersion": "7"}));
        assert_eq!(empty["columnDefinitions"].as_array().map(Vec::len), Some(8));

        // Empty continue token is omitted; no columns => null.
        let no_cols = table(
            "ReplicaSet",
            "apps/v1",
            std::slice::from_ref(&rs),
            now(),
            IncludeObject::None,
            "8",
            Some(""),
            false,
        );
        assert_eq!(no_cols["metadata"], json!({"resourceVersion": "8"}));
        assert!(no_cols["columnDefinitions"].is_null());
        assert_eq!(
            no_cols["rows"],
            json!([{"cells": ["r", 2, 2, 2, "10s", "", "", "a=b"]}])
        );

        // includeObject=Object carries the object with kind/apiVersion stamped on.
        let full = table(
            "ReplicaSet",
            "apps/v1",
            std::slice::from_ref(&rs),
            now(),
            IncludeObject::Object,
            "9",
            None,
            true,
        );
        let object = &full["rows"][0]["object"];
        assert_eq!(object["kind"], s("ReplicaSet"));
        assert_eq!(object["apiVersion"], s("apps/v1"));
        assert_eq!(object["spec"], rs["spec"]);
        assert!(full["rows"][0].get("conditions").is_none());

        // An object without metadata still yields a PartialObjectMetadata.
        let r = row(
            "Namespace",
            "v1",
            &json!({}),
            now(),
            IncludeObject::Metadata,
        );
        assert_eq!(r["object"]["metadata"], json!({}));
        assert_eq!(r["cells"], json!(["", "", "<unknown>"]));
    }
}
