//! Kubernetes' server-side table printers: the `meta.k8s.io/v1` `Table` that `kubectl get` asks
//! for with `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`.
//!
//! Owns, per kind (Pod, ReplicaSet, Deployment, Node, Namespace, core/v1 Event, Service,
//! Endpoints, EndpointSlice, ConfigMap, Secret, ServiceAccount, Lease, plus the generic fallback every
//! other kind gets), the column definitions and the cell logic of Kubernetes'
//! `pkg/printers/internalversion/printers.go` (always the wide form, as the real server renders
//! it), apimachinery's `duration.HumanDuration`, label-selector formatting for the Selector
//! column, the row `object` for `includeObject` (`None`/`Metadata`/`Object`) and the whole Table
//! envelope. Objects are `serde_json::Value`s holding Kubernetes JSON; missing fields read as
//! their zero values, as they would in Go. Pure: no I/O, and the clock is a parameter.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use crate::model::meta::Lookup as _;

mod config;
mod event;
mod lease;
mod namespace;
mod node;
mod pod;
mod replicaset;
mod service;

use config::{config_map_cells, secret_cells, service_account_cells};
use event::event_cells;
use lease::lease_cells;
use namespace::namespace_cells;
use node::node_cells;
use pod::pod_cells;
use replicaset::{deployment_cells, replica_set_cells};
use service::{endpoint_slice_cells, endpoints_cells, service_cells};

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
        "Deployment" => vec![
            NAME_COLUMN,
            col("Ready", "string", "Number of the pod with ready state"),
            col(
                "Up-to-date",
                "string",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            col(
                "Available",
                "string",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            AGE_COLUMN,
            wide("Containers", "string", CONTAINERS_DESC),
            wide("Images", "string", IMAGES_DESC),
            wide(
                "Selector",
                "string",
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.",
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
        "Service" => vec![
            NAME_COLUMN,
            col("Type", "string", service::TYPE_DESC),
            col("Cluster-IP", "string", service::CLUSTER_IP_DESC),
            col("External-IP", "string", service::EXTERNAL_IPS_DESC),
            col("Port(s)", "string", service::PORTS_DESC),
            AGE_COLUMN,
            wide("Selector", "string", service::SELECTOR_DESC),
        ],
        "Endpoints" => vec![
            NAME_COLUMN,
            col("Endpoints", "string", service::SUBSETS_DESC),
            AGE_COLUMN,
        ],
        "EndpointSlice" => vec![
            NAME_COLUMN,
            col("AddressType", "string", service::ADDRESS_TYPE_DESC),
            col("Ports", "string", service::SLICE_PORTS_DESC),
            col("Endpoints", "string", service::SLICE_ENDPOINTS_DESC),
            AGE_COLUMN,
        ],
        "ConfigMap" => vec![
            NAME_COLUMN,
            col("Data", "string", config::CONFIG_MAP_DATA_DESC),
            AGE_COLUMN,
        ],
        "Secret" => vec![
            NAME_COLUMN,
            col("Type", "string", config::SECRET_TYPE_DESC),
            col("Data", "string", config::SECRET_DATA_DESC),
            AGE_COLUMN,
        ],
        "ServiceAccount" => vec![
            NAME_COLUMN,
            col("Secrets", "string", config::SERVICE_ACCOUNT_SECRETS_DESC),
            AGE_COLUMN,
        ],
        "Lease" => vec![
            NAME_COLUMN,
            col("Holder", "string", lease::LEASE_HOLDER_DESC),
            AGE_COLUMN,
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
        "Deployment" => deployment_cells(object, now),
        "Node" => node_cells(object, now),
        "Namespace" => namespace_cells(object, now),
        "Event" => event_cells(object, now),
        "Service" => service_cells(object, now),
        "Endpoints" => endpoints_cells(object, now),
        "EndpointSlice" => endpoint_slice_cells(object, now),
        "ConfigMap" => config_map_cells(object, now),
        "Secret" => secret_cells(object, now),
        "ServiceAccount" => service_account_cells(object, now),
        "Lease" => lease_cells(object, now),
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
pub(super) fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".to_string(),
    }
}

pub(super) fn age(object: &Value, now: Timestamp) -> String {
    since(time_at(object, "/metadata/creationTimestamp"), now)
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z), which Kubernetes treats as unset.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// An RFC 3339 timestamp at `path`; `None` when missing, null, unparsable or Go's zero time.
pub(super) fn time_at(v: &Value, path: &str) -> Option<Timestamp> {
    let t: Timestamp = v.at(path)?.as_str()?.parse().ok()?;
    (t.as_second() != GO_ZERO_TIME_SECONDS || t.subsec_nanosecond() != 0).then_some(t)
}

pub(super) fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn now() -> Timestamp {
        "2026-01-01T12:00:00Z".parse().unwrap()
    }

    /// RFC 3339 time `secs` seconds before `now()`.
    pub(super) fn ago(secs: i64) -> String {
        (now() - SignedDuration::from_secs(secs)).to_string()
    }

    pub(super) fn s(v: &str) -> Value {
        Value::from(v)
    }

    pub(super) fn pod(spec: Value, status: Value) -> Value {
        json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "p", "namespace": "default", "creationTimestamp": ago(300)},
            "spec": spec,
            "status": status,
        })
    }

    pub(super) fn one_container() -> Value {
        json!({"containers": [{"name": "c", "image": "nginx"}]})
    }

    pub(super) fn two_containers() -> Value {
        json!({"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]})
    }

    pub(super) fn cs(name: &str, ready: bool, state: Value) -> Value {
        json!({"name": name, "ready": ready, "restartCount": 0, "state": state})
    }

    pub(super) fn running() -> Value {
        json!({"running": {"startedAt": ago(100)}})
    }

    pub(super) fn waiting(reason: &str) -> Value {
        json!({"waiting": {"reason": reason}})
    }

    pub(super) fn terminated(reason: &str, exit: i64, signal: i64) -> Value {
        json!({"terminated": {"reason": reason, "exitCode": exit, "signal": signal}})
    }

    /// (case, pod, READY, STATUS)
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
                "PriorityClass",
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

    #[test]
    fn generic_cells_case() {
        let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": "2025-03-04T05:06:07Z"}});
        assert_eq!(
            cells("PriorityClass", &cm, now()),
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
