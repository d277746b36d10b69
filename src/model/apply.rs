//! Server-side apply (`application/apply-patch+yaml`) and `metadata.managedFields` bookkeeping
//! for Pod, ReplicaSet, Node, Namespace and Event objects held as `serde_json::Value`.
//!
//! This ports the parts of sigs.k8s.io/structured-merge-diff (field sets, merge, compare,
//! prune) and k8s.io/apiserver's field manager chain (strip server metadata, `before-first-apply`,
//! manager cap, last-applied upgrade for manager `kubectl`) that kubectl can observe:
//!
//! * [`apply`] merges an applied configuration into the live object as one manager, removes
//!   what that manager applied last time and no longer applies (unless someone else owns it),
//!   and fails with [`ApplyError::Conflicts`] when it would change a value another manager owns.
//! * [`record_update`] records a create/update/patch: the writer owns what it added or changed
//!   and everybody else loses it.
//! * [`list_type`] and [`map_is_atomic`] are the schema facts this needs (`x-kubernetes-list-type`,
//!   `x-kubernetes-list-map-keys`, `x-kubernetes-map-type` of the in-scope kinds).
//!
//! Field sets are encoded as `FieldsV1` exactly as Kubernetes does (`f:` fields, `k:` list-map
//! keys, `v:` set members, `.` for "the element itself"). Entries are emitted in the apiserver's
//! order: `Apply` entries before `Update` ones, then by time, manager, apiVersion, subresource.
//! Pure: no I/O, no HTTP types; callers map [`ApplyError`] to a status (409 / 400 / 422).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Map, Number, Value, json};

use super::meta::Lookup as _;

type Object = Map<String, Value>;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const BEFORE_FIRST_APPLY: &str = "before-first-apply";
const ANCIENT_CHANGES: &str = "ancient-changes";
/// `DefaultMaxUpdateManagers`: older `Update` entries are folded into `ancient-changes`.
const MAX_UPDATE_MANAGERS: usize = 10;
/// The annotation-size limit the last-applied updater respects (`TotalAnnotationSizeLimitB`).
const MAX_ANNOTATIONS_SIZE: usize = 256 * 1024;
const APPLY: &str = "Apply";
const UPDATE: &str = "Update";
const FIELDS_V1: &str = "FieldsV1";
/// The manager name whose applies upgrade client-side-apply ownership (apiserver's
/// `lastAppliedManager` / `lastAppliedUpdater`).
const KUBECTL: &str = "kubectl";

/// Server-owned metadata dropped from an applied configuration before merging.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Fields no manager ever owns (apiserver's `stripMetaManager`).
const STRIPPED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
];

// ---------------------------------------------------------------------------------------------
// Public API

/// One conflicting field: the manager that owns it and the field path in the Kubernetes
/// display form, e.g. `.spec.replicas`, `.spec.template.spec.containers[name="app"].image`.
/// `manager` is the bare manager name; the error message also names the owner's operation,
/// subresource and apiVersion the way kube-apiserver prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    pub field: String,
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// 409: the message is exactly kube-apiserver's, e.g. `Apply failed with 1 conflict:
    /// conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas`.
    #[error("{message}")]
    Conflicts {
        message: String,
        conflicts: Vec<Conflict>,
    },
    /// 400/422: the applied configuration is malformed (not an object, wrong kind, wrong list
    /// element shape, duplicate keys in a list map...).
    #[error("{0}")]
    Invalid(String),
}

/// The list semantics of a field (`x-kubernetes-list-type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// Replaced whole; owned as one leaf.
    Atomic,
    /// A set of scalars, merged by value (`v:` in `FieldsV1`).
    Set,
    /// A list of objects merged by these key fields (`k:` in `FieldsV1`).
    Map(&'static [&'static str]),
}

/// Apply `config` (the user's partial object, already decoded from YAML/JSON) as `manager` to
/// `live` (`None` = create) and return the new full object with `metadata.managedFields`
/// updated.
///
/// Fields in `config` are set and owned by `(manager, "Apply")`; fields this manager applied
/// last time but no longer applies are removed unless another manager owns them; changing a
/// value another manager owns is a conflict unless `force` (then ownership moves). `status` and
/// server-owned metadata in `config` are ignored. Like kube-apiserver:
/// * an object without `managedFields` first gets a `before-first-apply` `Update` entry owning
///   everything it holds;
/// * for manager `kubectl`, conflicts on fields whose live value still matches the
///   `last-applied-configuration` annotation are overridden (client-side → server-side apply
///   upgrade), and that annotation, when present, is rewritten from `config`;
/// * an apply that changes nothing keeps the manager's `time`, so repeating it is a no-op.
///
/// `config.apiVersion`/`config.kind` must equal `api_version`/`kind`.
pub fn apply(
    kind: &str,
    api_version: &str,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    let Value::Object(raw_config) = config else {
        return Err(ApplyError::Invalid(
            "error decoding YAML: the applied configuration must be an object".to_owned(),
        ));
    };
    if manager.is_empty() {
        return Err(ApplyError::Invalid(
            "fieldManager: Required value: is required for apply patch".to_owned(),
        ));
    }
    let config_api_version = str_field(raw_config, "apiVersion");
    let config_kind = str_field(raw_config, "kind");
    if config_api_version != api_version || config_kind != kind {
        return Err(ApplyError::Invalid(format!(
            "invalid object type: {}",
            gvk_string(config_api_version, config_kind)
        )));
    }
    let schema = Schema { kind };
    let config_obj = sanitize_config(raw_config)?;
    let applied = schema
        .field_set(&config_obj, true)
        .map_err(|e| {
            ApplyError::Invalid(format!(
                "failed to create typed patch object ({}): {e}",
                gvknn(raw_config, api_version, kind)
            ))
        })?
        .recursive_difference(&ignored_fields(kind, None));

    let live_obj = match live {
        Some(obj @ Value::Object(_)) => without_managed_fields(obj),
        _ => Value::Object(Object::new()),
    };
    let mut entries = live.map(decode_entries).unwrap_or_default();
    if live.is_some() && entries.is_empty() {
        // skipNonAppliedManager: whatever is already there belongs to "before-first-apply".
        let empty = skeleton(kind);
        let mut existing = live_obj.clone();
        overlay(&mut existing, &skeleton(kind));
        let cmp = schema
            .compare(&empty, &existing)
            .excluding(&ignored_fields(kind, None));
        record_changes(
            &mut entries,
            &cmp,
            &Entry::new(BEFORE_FIRST_APPLY, UPDATE, api_version, ""),
            now,
        );
    }

    let me = Entry::new(manager, APPLY, api_version, "");
    let mine = entries.iter().position(|e| e.same_manager(&me));
    let last = mine.map(|i| entries[i].set.clone()).unwrap_or_default();
    let merged = schema.merge(&mut Vec::new(), Some(&live_obj), &config_obj);
    let mut owned = applied.clone();
    for (i, entry) in entries.iter().enumerate() {
        if Some(i) != mine {
            owned.union_in_place(&entry.set);
        }
    }
    let mut result = schema.prune(&merged, &owned, &last);

    let cmp = schema
        .compare(&live_obj, &result)
        .excluding(&ignored_fields(kind, None));
    let changed = cmp.modified.union(&cmp.added);
    // What each other manager owns and this apply changes: conflicts, or taken over by force.
    let taken: Vec<Set> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if Some(i) == mine {
                Set::default()
            } else {
                e.set.intersection(&changed)
            }
        })
        .collect();
    if !force && taken.iter().any(|t| !t.is_empty()) {
        let allowed = if manager == KUBECTL {
            schema.allowed_by_last_applied(&live_obj)
        } else {
            None
        };
        let remaining: Vec<(usize, Set)> = taken
            .iter()
            .enumerate()
            .map(|(i, t)| match &allowed {
                Some(allowed) => (i, t.difference(allowed)),
                None => (i, t.clone()),
            })
            .filter(|(_, t)| !t.is_empty())
            .collect();
        if !remaining.is_empty() {
            return Err(conflict_error(&entries, &remaining));
        }
    }
    for (i, (entry, taken)) in entries.iter_mut().zip(&taken).enumerate() {
        if Some(i) != mine {
            entry.set = entry.set.difference(taken).difference(&cmp.removed);
        }
    }

    drop_config_nulls(&mut result, &config_obj);
    let object_changed = live.is_none() || result != live_obj;
    let applied = applied.difference(&strip_set());
    match mine {
        Some(i) => {
            let entry = &mut entries[i];
            entry.set = applied;
            entry.api_version = api_version.to_owned();
            if object_changed || entry.time.is_none() {
                entry.time = Some(now.to_owned());
            }
        }
        None => {
            let mut entry = me;
            entry.set = applied;
            entry.time = Some(now.to_owned());
            entries.push(entry);
        }
    }
    entries.retain(|e| !e.set.is_empty());
    cap_update_managers(&mut entries);

    if manager == KUBECTL {
        update_last_applied(&mut result, config);
    }
    write_managed_fields(&mut result, &entries);
    Ok(result)
}

/// Record a non-apply write (create/update/patch) by `manager` (e.g.
/// `kubectl-client-side-apply`, `kubectl-edit`, `kubectl-label`): fields added or changed
/// between `old` (`None` = create) and `new` become owned by `(manager, "Update")` (with
/// `subresource`, e.g. `Some("status")`), every other manager loses the fields this write
/// changed or removed, and entries left owning nothing are dropped. Returns `new` with updated
/// `metadata.managedFields`.
///
/// As in kube-apiserver: `managedFields` sent in `new` replace the live ones (main resource
/// only; `[]` or `[{}]` resets them), an existing object that has no `managedFields` stays
/// untracked until its first apply, and at most ten `Update` entries are kept (older ones are
/// folded into `ancient-changes`). `manager` is used as given.
pub fn record_update(
    kind: &str,
    api_version: &str,
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) -> Value {
    record_update_owned(
        kind,
        api_version,
        old,
        new.clone(),
        manager,
        subresource,
        now,
    )
}

/// [`record_update`] taking `new` by value, for callers that have no further use for it.
pub fn record_update_owned(
    kind: &str,
    api_version: &str,
    old: Option<&Value>,
    new: Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) -> Value {
    let mut result = new;
    if !result.is_object() {
        return result;
    }
    let new = &result;
    let mut entries = match subresource {
        Some(_) => old.map(decode_entries).unwrap_or_default(),
        None => match managed_fields_of(new) {
            Some(list) if is_reset(list) => Vec::new(),
            Some(_) => match decode_entries(new) {
                found if !found.is_empty() => found,
                _ => old.map(decode_entries).unwrap_or_default(),
            },
            None => old.map(decode_entries).unwrap_or_default(),
        },
    };
    let is_create = old.is_none_or(|o| o.str_at("/metadata/uid").is_empty());
    if entries.is_empty() && !is_create {
        // skipNonAppliedManager: untracked objects stay untracked until the first apply.
        write_managed_fields(&mut result, &[]);
        return result;
    }

    let schema = Schema { kind };
    let skel = skeleton(kind);
    let mut before = old
        .map(|o| comparable(o, subresource))
        .unwrap_or_else(|| skel.clone());
    overlay(&mut before, &skel);
    let mut after = comparable(new, subresource);
    overlay(&mut after, &skel);
    let cmp = schema
        .compare(&before, &after)
        .excluding(&ignored_fields(kind, subresource));
    record_changes(
        &mut entries,
        &cmp,
        &Entry::new(manager, UPDATE, api_version, subresource.unwrap_or("")),
        now,
    );
    cap_update_managers(&mut entries);
    write_managed_fields(&mut result, &entries);
    result
}

/// The list semantics of a field, by its path of field names from the object root (list
/// elements add no segment), e.g. `["spec","template","spec","containers"]` for a ReplicaSet.
/// Non-list and unknown paths are [`ListType::Atomic`] (the OpenAPI default).
pub fn list_type(kind: &str, path: &[&str]) -> ListType {
    match (kind, path) {
        (_, ["metadata", rest @ ..]) => object_meta_list(rest),
        ("ReplicaSet", ["spec", "template", "metadata", rest @ ..]) => object_meta_list(rest),
        ("Pod", ["spec", rest @ ..]) | ("ReplicaSet", ["spec", "template", "spec", rest @ ..]) => {
            pod_spec_list(rest)
        }
        ("Pod", ["status", rest @ ..]) => pod_status_list(rest),
        ("ReplicaSet" | "Namespace", ["status", "conditions"]) => ListType::Map(TYPE),
        ("Node", ["spec", "podCIDRs"]) => ListType::Set,
        ("Node", ["status", "conditions" | "addresses"]) => ListType::Map(TYPE),
        _ => ListType::Atomic,
    }
}

/// Whether the map or struct at `path` is replaced whole (`x-kubernetes-map-type: atomic`,
/// `+structType=atomic`): `nodeSelector`, label selectors, `LocalObjectReference`s,
/// `ObjectReference`s, `OwnerReference`s, env `valueFrom` selectors... For a list path this
/// describes the list's elements.
pub fn map_is_atomic(kind: &str, path: &[&str]) -> bool {
    match (kind, path) {
        (_, ["metadata", "ownerReferences"]) => true,
        ("ReplicaSet", ["spec", "selector"]) => true,
        ("ReplicaSet", ["spec", "template", "metadata", "ownerReferences"]) => true,
        ("Pod", ["spec", rest @ ..]) | ("ReplicaSet", ["spec", "template", "spec", rest @ ..]) => {
            pod_spec_atomic(rest)
        }
        ("Event", ["involvedObject" | "related"]) => true,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Schema tables (k8s 1.33 OpenAPI list/map types of the in-scope kinds).

const NAME: &[&str] = &["name"];
const TYPE: &[&str] = &["type"];
const IP: &[&str] = &["ip"];

/// ObjectMeta, relative to `metadata`.
fn object_meta_list(rest: &[&str]) -> ListType {
    match rest {
        ["finalizers"] => ListType::Set,
        ["ownerReferences"] => ListType::Map(&["uid"]),
        _ => ListType::Atomic,
    }
}

/// PodSpec, relative to the spec.
fn pod_spec_list(rest: &[&str]) -> ListType {
    match rest {
        ["containers" | "initContainers" | "ephemeralContainers"] => ListType::Map(NAME),
        [
            "containers" | "initContainers" | "ephemeralContainers",
            field @ ..,
        ] => container_list(field),
        ["volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims"] => {
            ListType::Map(NAME)
        }
        ["hostAliases"] => ListType::Map(IP),
        ["topologySpreadConstraints"] => ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
        ["resources", "claims"] => ListType::Map(NAME),
        _ => ListType::Atomic,
    }
}

/// Container and EphemeralContainer, relative to the container.
fn container_list(field: &[&str]) -> ListType {
    match field {
        ["env"] => ListType::Map(NAME),
        ["ports"] => ListType::Map(&["containerPort", "protocol"]),
        ["volumeMounts"] => ListType::Map(&["mountPath"]),
        ["volumeDevices"] => ListType::Map(&["devicePath"]),
        ["resources", "claims"] => ListType::Map(NAME),
        _ => ListType::Atomic,
    }
}

/// PodStatus, relative to `status`.
fn pod_status_list(rest: &[&str]) -> ListType {
    match rest {
        ["conditions"] => ListType::Map(TYPE),
        ["podIPs" | "hostIPs"] => ListType::Map(IP),
        ["resourceClaimStatuses"] => ListType::Map(NAME),
        _ => ListType::Atomic,
    }
}

/// Atomic structs and maps inside a PodSpec, relative to the spec.
fn pod_spec_atomic(rest: &[&str]) -> bool {
    matches!(
        rest,
        ["nodeSelector"]
            | ["imagePullSecrets"]
            | [
                "affinity",
                "nodeAffinity",
                "requiredDuringSchedulingIgnoredDuringExecution"
            ]
            | ["topologySpreadConstraints", "labelSelector"]
            | [
                "containers" | "initContainers" | "ephemeralContainers",
                "env",
                "valueFrom",
                "configMapKeyRef" | "secretKeyRef" | "fieldRef" | "resourceFieldRef"
            ]
            | [
                "volumes",
                _,
                "secretRef" | "nodePublishSecretRef" | "controllerPublishSecretRef"
            ]
            | [
                "volumes",
                "ephemeral",
                "volumeClaimTemplate",
                "spec",
                "selector" | "dataSource"
            ]
    )
}

/// The schema default of a list-map key field, used when an element omits it.
fn key_default(names: &[&str], key: &str) -> Option<Value> {
    match (names.last(), key) {
        (Some(&"ports"), "protocol") => Some(Value::String("TCP".to_owned())),
        _ => None,
    }
}

/// What an empty object of `kind` looks like once the apiserver has round-tripped it through
/// its Go type (non-omitempty fields and value structs): paths present here are never "added".
fn skeleton(kind: &str) -> Value {
    let meta = json!({"creationTimestamp": null});
    match kind {
        "Pod" => json!({"metadata": meta, "spec": {"containers": null}, "status": {}}),
        "ReplicaSet" => json!({
            "metadata": meta,
            "spec": {
                "selector": null,
                "template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": null}}
            },
            "status": {"replicas": 0}
        }),
        "Node" | "Namespace" => json!({"metadata": meta, "spec": {}, "status": {}}),
        "Event" => json!({
            "metadata": meta,
            "involvedObject": {},
            "source": {},
            "firstTimestamp": null,
            "lastTimestamp": null,
            "eventTime": null,
            "reportingComponent": "",
            "reportingInstance": ""
        }),
        _ => json!({"metadata": meta}),
    }
}

/// Fields a write cannot change and so never owns (the strategies' reset fields).
fn ignored_fields(kind: &str, subresource: Option<&str>) -> Set {
    let mut set = Set::default();
    if subresource == Some("status") {
        set.insert(&[field("spec")]);
        if kind == "Pod" {
            set.insert(&[field("metadata"), field("deletionTimestamp")]);
            set.insert(&[field("metadata"), field("ownerReferences")]);
        }
    } else {
        set.insert(&[field("status")]);
    }
    set
}

fn strip_set() -> Set {
    let mut set = Set::default();
    set.insert(&[field("apiVersion")]);
    set.insert(&[field("kind")]);
    set.insert(&[field("metadata")]);
    for name in STRIPPED_METADATA {
        set.insert(&[field("metadata"), field(name)]);
    }
    set
}

// ---------------------------------------------------------------------------------------------
// Path elements and field sets (structured-merge-diff's fieldpath package).

/// One step of a field path.
#[derive(Debug, Clone)]
enum Pe {
    /// A struct field or map key: `f:name`.
    Field(String),
    /// A list-map element, by its key fields sorted by name: `k:{"name":"app"}`.
    Key(Vec<(String, Value)>),
    /// A set element: `v:"a/b"`.
    Value(Value),
    /// A positional element: `i:0` (only ever decoded, never produced).
    Index(usize),
}

fn field(name: &str) -> Pe {
    Pe::Field(name.to_owned())
}

impl Pe {
    fn rank(&self) -> u8 {
        match self {
            Pe::Field(_) => 0,
            Pe::Key(_) => 1,
            Pe::Value(_) => 2,
            Pe::Index(_) => 3,
        }
    }

    /// The `FieldsV1` key.
    fn fields_key(&self) -> String {
        match self {
            Pe::Field(name) => format!("f:{name}"),
            Pe::Key(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{}:{value}", Value::String(name.clone())))
                    .collect();
                format!("k:{{{}}}", inner.join(","))
            }
            Pe::Value(value) => format!("v:{value}"),
            Pe::Index(index) => format!("i:{index}"),
        }
    }

    fn parse(key: &str) -> Option<Pe> {
        let (prefix, rest) = key.split_at_checked(2)?;
        match prefix {
            "f:" => Some(Pe::Field(rest.to_owned())),
            "k:" => {
                let Value::Object(map) = serde_json::from_str(rest).ok()? else {
                    return None;
                };
                let mut fields: Vec<(String, Value)> = map.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Some(Pe::Key(fields))
            }
            "v:" => serde_json::from_str(rest).ok().map(Pe::Value),
            "i:" => rest.parse().ok().map(Pe::Index),
            _ => None,
        }
    }

    /// The display form (`fieldpath.PathElement.String()`).
    fn display(&self) -> String {
        match self {
            Pe::Field(name) => format!(".{name}"),
            Pe::Key(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={}", display_value(value)))
                    .collect();
                format!("[{}]", inner.join(","))
            }
            Pe::Value(value) => format!("[={}]", display_value(value)),
            Pe::Index(index) => format!("[{index}]"),
        }
    }
}

impl Ord for Pe {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Pe::Field(a), Pe::Field(b)) => a.cmp(b),
            (Pe::Key(a), Pe::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let c = an.cmp(bn).then_with(|| cmp_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (Pe::Value(a), Pe::Value(b)) => cmp_values(a, b),
            (Pe::Index(a), Pe::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Pe {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Pe {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pe {}

/// structured-merge-diff's total order on values: numbers, strings, booleans, lists, maps, null.
fn cmp_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let c = cmp_values(p, q);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(&ys) {
                let c = xk.cmp(yk).then_with(|| cmp_values(xv, yv));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn cmp_numbers(x: &Number, y: &Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    x.as_f64()
        .partial_cmp(&y.as_f64())
        .unwrap_or(Ordering::Equal)
}

/// `value.ToString`: strings quoted, everything else as JSON.
fn display_value(value: &Value) -> String {
    value.to_string()
}

fn display_path(path: &[Pe]) -> String {
    path.iter().map(Pe::display).collect()
}

/// A set of field paths, as a tree: `members` are paths ending here, `children` go deeper.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Set {
    members: BTreeSet<Pe>,
    children: BTreeMap<Pe, Set>,
}

impl Set {
    fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    fn insert(&mut self, path: &[Pe]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    #[cfg(test)]
    fn has(&self, path: &[Pe]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    fn union_in_place(&mut self, other: &Set) {
        self.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            self.children
                .entry(pe.clone())
                .or_default()
                .union_in_place(child);
        }
    }

    fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.union_in_place(other);
        out
    }

    /// Paths in `self` but not in `other` (members compared exactly, not by prefix).
    fn difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            let rest = match other.children.get(pe) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(pe.clone(), rest);
            }
        }
        Set { members, children }
    }

    /// Paths in `self` that are neither in `other` nor below one of its members.
    fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let rest = match other.children.get(pe) {
                Some(o) => child.recursive_difference(o),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(pe.clone(), rest);
            }
        }
        Set { members, children }
    }

    fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let both = child.intersection(o);
                if !both.is_empty() {
                    children.insert(pe.clone(), both);
                }
            }
        }
        Set { members, children }
    }

    /// `EnsureNamedFieldsAreMembers`: every field that has owned descendants is itself a
    /// member, so removing it removes the whole struct.
    fn ensure_named(&self) -> Set {
        let mut members = self.members.clone();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if matches!(pe, Pe::Field(_)) {
                members.insert(pe.clone());
            }
            children.insert(pe.clone(), child.ensure_named());
        }
        Set { members, children }
    }

    /// Every path, members before deeper paths, each level in path-element order.
    fn paths(&self) -> Vec<Vec<Pe>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<Pe>, out: &mut Vec<Vec<Pe>>) {
        for pe in &self.members {
            let mut path = prefix.clone();
            path.push(pe.clone());
            out.push(path);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` encoding.
    fn to_fields(&self) -> Value {
        let mut out = Object::new();
        for pe in &self.members {
            if !self.children.contains_key(pe) {
                out.insert(pe.fields_key(), Value::Object(Object::new()));
            }
        }
        for (pe, child) in &self.children {
            let mut inner = match child.to_fields() {
                Value::Object(map) => map,
                _ => Object::new(),
            };
            if self.members.contains(pe) {
                inner.insert(".".to_owned(), Value::Object(Object::new()));
            }
            out.insert(pe.fields_key(), Value::Object(inner));
        }
        Value::Object(out)
    }

    /// Decode `FieldsV1`; `None` when it is malformed.
    fn from_fields(fields: &Object) -> Option<Set> {
        let mut set = Set::default();
        for (key, value) in fields {
            if key == "." {
                continue;
            }
            let pe = Pe::parse(key)?;
            let Value::Object(inner) = value else {
                return None;
            };
            if inner.is_empty() || inner.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let child = Set::from_fields(inner)?;
            if !child.is_empty() {
                set.children.insert(pe, child);
            }
        }
        Some(set)
    }
}

// ---------------------------------------------------------------------------------------------
// Walking objects against the schema (structured-merge-diff's typed package).

#[derive(Clone, Copy)]
struct Schema<'k> {
    kind: &'k str,
}

/// How a value is walked.
enum Shape<'v> {
    /// A scalar, null, or an atomic list/map: owned and compared as one value.
    Leaf,
    Map(&'v Object),
    List(&'v [Value], ListType),
}

/// What `compare` treats a pair of values as.
enum NodeKind {
    Leaf,
    Map,
    List(ListType),
}

/// Added, removed and changed paths between two objects (`typed.Comparison`).
#[derive(Debug, Default)]
struct Comparison {
    added: Set,
    removed: Set,
    modified: Set,
}

impl Comparison {
    fn excluding(self, ignored: &Set) -> Comparison {
        Comparison {
            added: self.added.recursive_difference(ignored),
            removed: self.removed.recursive_difference(ignored),
            modified: self.modified.recursive_difference(ignored),
        }
    }
}

impl Schema<'_> {
    fn shape<'v>(&self, names: &[&str], v: &'v Value) -> Shape<'v> {
        match v {
            Value::Object(map) if !map_is_atomic(self.kind, names) => Shape::Map(map),
            Value::Array(items) => match list_type(self.kind, names) {
                ListType::Atomic => Shape::Leaf,
                lt => Shape::List(items, lt),
            },
            _ => Shape::Leaf,
        }
    }

    /// The path element of a list element (`listItemToPathElement`).
    fn element_pe(&self, names: &[&str], lt: &ListType, item: &Value) -> Result<Pe, String> {
        match lt {
            ListType::Map(keys) => {
                let Value::Object(map) = item else {
                    return Err(if item.is_null() {
                        "associative list with keys may not have a null element".to_owned()
                    } else {
                        "associative list with keys may not have non-map elements".to_owned()
                    });
                };
                let mut fields = Vec::new();
                for key in keys.iter() {
                    if let Some(value) = map.get(*key) {
                        fields.push(((*key).to_owned(), value.clone()));
                    } else if let Some(default) = key_default(names, key) {
                        fields.push(((*key).to_owned(), default));
                    }
                }
                if fields.is_empty() {
                    return Err(format!(
                        "associative list with keys has an element that omits all key fields \
                         {keys:?} (and doesn't have default values for any key fields)"
                    ));
                }
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Pe::Key(fields))
            }
            ListType::Set | ListType::Atomic => match item {
                Value::Object(_) => {
                    Err("associative list without keys has an element that's a map type".to_owned())
                }
                Value::Array(_) => {
                    Err("not supported: associative list with lists as elements".to_owned())
                }
                Value::Null => Err(
                    "associative list without keys has an element that's an explicit null"
                        .to_owned(),
                ),
                scalar => Ok(Pe::Value(scalar.clone())),
            },
        }
    }

    /// The element path elements of a list, `None` where an element has none.
    fn element_pes(&self, names: &[&str], lt: &ListType, items: &[Value]) -> Vec<Option<Pe>> {
        items
            .iter()
            .map(|item| self.element_pe(names, lt, item).ok())
            .collect()
    }

    // --- ToFieldSet ---------------------------------------------------------------------------

    /// Every leaf, list element and empty/null field of `v` (`TypedValue.ToFieldSet`).
    /// `strict` rejects malformed list elements and duplicate keys, as for an applied config.
    fn field_set(&self, v: &Value, strict: bool) -> Result<Set, String> {
        let mut set = Set::default();
        self.collect(&mut Vec::new(), &mut Vec::new(), v, strict, &mut set)?;
        Ok(set)
    }

    fn lenient_set(&self, v: &Value) -> Set {
        self.field_set(v, false).unwrap_or_default()
    }

    fn collect<'a>(
        &self,
        names: &mut Vec<&'a str>,
        path: &mut Vec<Pe>,
        v: &'a Value,
        strict: bool,
        out: &mut Set,
    ) -> Result<(), String> {
        match self.shape(names, v) {
            Shape::Leaf => out.insert(path),
            Shape::Map(map) => {
                for (key, child) in map {
                    names.push(key);
                    path.push(Pe::Field(key.clone()));
                    let walked = if strict
                        && list_type(self.kind, names) != ListType::Atomic
                        && !(child.is_array() || child.is_null())
                    {
                        Err(format!(
                            "{}: expected list, got {child}",
                            display_path(path)
                        ))
                    } else {
                        self.collect(names, path, child, strict, out)
                    };
                    if child.is_null() || child.as_object().is_some_and(Object::is_empty) {
                        out.insert(path);
                    }
                    names.pop();
                    path.pop();
                    walked?;
                }
            }
            Shape::List(items, lt) => {
                let mut pes = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match self.element_pe(names, &lt, item) {
                        Ok(pe) => pes.push(Some(pe)),
                        Err(e) if strict => {
                            return Err(format!("{}: element {i}: {e}", display_path(path)));
                        }
                        Err(_) => pes.push(None),
                    }
                }
                let mut counts: BTreeMap<&Pe, usize> = BTreeMap::new();
                for pe in pes.iter().flatten() {
                    *counts.entry(pe).or_default() += 1;
                }
                for (item, pe) in items.iter().zip(&pes) {
                    let Some(pe) = pe else { continue };
                    let duplicated = counts.get(pe).is_some_and(|n| *n > 1);
                    if duplicated && strict {
                        return Err(format!(
                            "{}: duplicate entries for key {}",
                            display_path(path),
                            pe.display()
                        ));
                    }
                    path.push(pe.clone());
                    let walked = if duplicated {
                        Ok(())
                    } else {
                        self.collect(names, path, item, strict, out)
                    };
                    out.insert(path);
                    path.pop();
                    walked?;
                }
            }
        }
        Ok(())
    }

    // --- Merge --------------------------------------------------------------------------------

    /// Merge `config` over `live` (`TypedValue.Merge` with "keep RHS" on leaves).
    fn merge<'a>(
        &self,
        names: &mut Vec<&'a str>,
        live: Option<&'a Value>,
        config: &'a Value,
    ) -> Value {
        let Some(live) = live else {
            return config.clone();
        };
        match self.shape(names, config) {
            Shape::Leaf => {
                // A null config over a non-empty granular value leaves it alone.
                if config.is_null() && self.is_nonempty_granular(names, live) {
                    live.clone()
                } else {
                    config.clone()
                }
            }
            Shape::Map(config_map) => {
                let Value::Object(live_map) = live else {
                    return config.clone();
                };
                let mut out = live_map.clone();
                for (key, value) in config_map {
                    names.push(key);
                    let merged = self.merge(names, live_map.get(key), value);
                    names.pop();
                    out.insert(key.clone(), merged);
                }
                Value::Object(out)
            }
            Shape::List(config_items, lt) => {
                let Value::Array(live_items) = live else {
                    return config.clone();
                };
                if config_items.is_empty() && live_items.is_empty() {
                    return config.clone();
                }
                Value::Array(self.merge_list(names, live_items, config_items, &lt))
            }
        }
    }

    fn is_nonempty_granular(&self, names: &[&str], v: &Value) -> bool {
        match self.shape(names, v) {
            Shape::Leaf => false,
            Shape::Map(map) => !map.is_empty(),
            Shape::List(items, _) => !items.is_empty(),
        }
    }

    /// The order-preserving list merge of `mergingWalker.visitListItems`: items shared with
    /// the config follow the config's order, live-only items keep their place.
    fn merge_list<'a>(
        &self,
        names: &mut Vec<&'a str>,
        lhs: &'a [Value],
        rhs: &'a [Value],
        lt: &ListType,
    ) -> Vec<Value> {
        let lhs_pes = self.element_pes(names, lt, lhs);
        let rhs_items: Vec<(Pe, &'a Value)> = self
            .element_pes(names, lt, rhs)
            .into_iter()
            .zip(rhs)
            .filter_map(|(pe, item)| pe.map(|pe| (pe, item)))
            .collect();

        let mut observed_lhs: BTreeMap<&Pe, Option<usize>> = BTreeMap::new();
        for (i, pe) in lhs_pes.iter().enumerate() {
            if let Some(pe) = pe {
                observed_lhs
                    .entry(pe)
                    .and_modify(|seen| *seen = None)
                    .or_insert(Some(i));
            }
        }
        let observed_rhs: BTreeSet<&Pe> = rhs_items.iter().map(|(pe, _)| pe).collect();
        let live_item = |pe: &Pe| -> Option<&'a Value> {
            observed_lhs
                .get(pe)
                .copied()
                .flatten()
                .and_then(|i| lhs.get(i))
        };

        let mut shared: VecDeque<&Pe> = rhs_items
            .iter()
            .map(|(pe, _)| pe)
            .filter(|pe| observed_lhs.contains_key(pe))
            .collect();
        let mut next_shared = shared.pop_front();
        let mut merged_rhs: BTreeSet<&Pe> = BTreeSet::new();
        let mut out = Vec::with_capacity(lhs.len().max(rhs_items.len()));
        let (mut li, mut ri) = (0, 0);
        while li < lhs.len() || ri < rhs_items.len() {
            if li < lhs.len()
                && ri < rhs_items.len()
                && let Some(pe) = &lhs_pes[li]
            {
                if *pe == rhs_items[ri].0 {
                    merged_rhs.insert(pe);
                    out.push(self.merge_item(names, lt, live_item(pe), rhs_items[ri].1));
                    li += 1;
                    ri += 1;
                    next_shared = shared.pop_front();
                    continue;
                }
                if observed_rhs.contains(pe) && next_shared.is_some_and(|n| n != pe) {
                    // Shared, but not the one the config wants next.
                    li += 1;
                    continue;
                }
            }
            if li < lhs.len() {
                match &lhs_pes[li] {
                    Some(pe) if observed_rhs.contains(pe) => {
                        if merged_rhs.contains(pe) {
                            li += 1;
                        }
                    }
                    _ => {
                        out.push(lhs[li].clone());
                        li += 1;
                        continue;
                    }
                }
            }
            if ri < rhs_items.len() {
                let (pe, item) = &rhs_items[ri];
                merged_rhs.insert(pe);
                out.push(self.merge_item(names, lt, live_item(pe), item));
                ri += 1;
                if next_shared.is_some_and(|n| n == pe) {
                    next_shared = shared.pop_front();
                }
            }
        }
        out
    }

    fn merge_item<'a>(
        &self,
        names: &mut Vec<&'a str>,
        lt: &ListType,
        live: Option<&'a Value>,
        config: &'a Value,
    ) -> Value {
        match lt {
            ListType::Map(_) => self.merge(names, live, config),
            _ => config.clone(),
        }
    }

    // --- Compare ------------------------------------------------------------------------------

    fn compare(&self, old: &Value, new: &Value) -> Comparison {
        let mut out = Comparison::default();
        self.compare_node(
            &mut Vec::new(),
            &mut Vec::new(),
            Some(old),
            Some(new),
            &mut out,
        );
        out
    }

    fn node_kind(&self, names: &[&str], lhs: Option<&Value>, rhs: Option<&Value>) -> NodeKind {
        let present: Vec<&Value> = [lhs, rhs]
            .into_iter()
            .flatten()
            .filter(|v| !v.is_null())
            .collect();
        if !present.is_empty() && present.iter().all(|v| v.is_object()) {
            if map_is_atomic(self.kind, names) {
                NodeKind::Leaf
            } else {
                NodeKind::Map
            }
        } else if !present.is_empty() && present.iter().all(|v| v.is_array()) {
            match list_type(self.kind, names) {
                ListType::Atomic => NodeKind::Leaf,
                lt => NodeKind::List(lt),
            }
        } else {
            NodeKind::Leaf
        }
    }

    fn compare_node<'a>(
        &self,
        names: &mut Vec<&'a str>,
        path: &mut Vec<Pe>,
        lhs: Option<&'a Value>,
        rhs: Option<&'a Value>,
        out: &mut Comparison,
    ) {
        let leaf = match self.node_kind(names, lhs, rhs) {
            NodeKind::Leaf => true,
            NodeKind::Map => {
                let lm = lhs.and_then(Value::as_object);
                let rm = rhs.and_then(Value::as_object);
                if lm.is_none_or(Object::is_empty) && rm.is_none_or(Object::is_empty) {
                    true
                } else {
                    let keys: BTreeSet<&'a String> =
                        lm.into_iter().chain(rm).flat_map(|m| m.keys()).collect();
                    for key in keys {
                        names.push(key);
                        path.push(Pe::Field(key.clone()));
                        self.compare_node(
                            names,
                            path,
                            lm.and_then(|m| m.get(key)),
                            rm.and_then(|m| m.get(key)),
                            out,
                        );
                        names.pop();
                        path.pop();
                    }
                    false
                }
            }
            NodeKind::List(lt) => {
                let la = lhs
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let ra = rhs
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if la.is_empty() && ra.is_empty() {
                    true
                } else {
                    self.compare_list(names, path, la, ra, &lt, out);
                    false
                }
            }
        };
        match (lhs, rhs) {
            (None, _) => out.added.insert(path),
            (_, None) => out.removed.insert(path),
            (Some(l), Some(r)) if leaf && l != r => out.modified.insert(path),
            _ => {}
        }
    }

    fn compare_list<'a>(
        &self,
        names: &mut Vec<&'a str>,
        path: &mut Vec<Pe>,
        lhs: &'a [Value],
        rhs: &'a [Value],
        lt: &ListType,
        out: &mut Comparison,
    ) {
        let mut order: Vec<Pe> = Vec::new();
        let mut seen: BTreeSet<Pe> = BTreeSet::new();
        let mut left: BTreeMap<Pe, Vec<&'a Value>> = BTreeMap::new();
        let mut right: BTreeMap<Pe, Vec<&'a Value>> = BTreeMap::new();
        for (side, items) in [(&mut left, lhs), (&mut right, rhs)] {
            for (pe, item) in self.element_pes(names, lt, items).into_iter().zip(items) {
                let Some(pe) = pe else { continue };
                if seen.insert(pe.clone()) {
                    order.push(pe.clone());
                }
                side.entry(pe).or_default().push(item);
            }
        }
        for pe in order {
            let l = left.get(&pe).map(Vec::as_slice).unwrap_or_default();
            let r = right.get(&pe).map(Vec::as_slice).unwrap_or_default();
            path.push(pe);
            match (l.len(), r.len()) {
                (0 | 1, 0 | 1) => {
                    self.compare_node(names, path, l.first().copied(), r.first().copied(), out);
                }
                (2.., 2..) => {
                    if l != r {
                        out.modified.insert(path);
                    }
                }
                (2.., _) => {
                    if let Some(item) = r.first() {
                        self.compare_node(names, path, None, Some(item), out);
                    }
                    out.removed.insert(path);
                }
                (_, _) => {
                    if let Some(item) = l.first() {
                        self.compare_node(names, path, Some(item), None, out);
                    }
                    out.added.insert(path);
                }
            }
            path.pop();
        }
    }

    // --- RemoveItems --------------------------------------------------------------------------

    /// `v` without the paths in `set` (a member removes its whole subtree).
    fn remove_items(&self, v: &Value, set: &Set) -> Value {
        self.remove_walk(&mut Vec::new(), v, set)
            .unwrap_or_else(|| Value::Object(Object::new()))
    }

    /// `None` when nothing is left (kube turns that into null, i.e. the field disappears).
    fn remove_walk<'a>(&self, names: &mut Vec<&'a str>, v: &'a Value, set: &Set) -> Option<Value> {
        match self.shape(names, v) {
            Shape::Leaf => Some(v.clone()),
            Shape::Map(map) => {
                if map.is_empty() {
                    return None;
                }
                let mut out = Object::new();
                for (key, child) in map {
                    let pe = Pe::Field(key.clone());
                    if set.members.contains(&pe) {
                        continue;
                    }
                    let kept = match set.children.get(&pe) {
                        Some(sub) => {
                            names.push(key);
                            let kept = self.remove_walk(names, child, sub);
                            names.pop();
                            kept
                        }
                        None => Some(child.clone()),
                    };
                    if let Some(kept) = kept {
                        out.insert(key.clone(), kept);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Shape::List(items, lt) => {
                if items.is_empty() {
                    return None;
                }
                let mut out = Vec::with_capacity(items.len());
                for (item, pe) in items.iter().zip(self.element_pes(names, &lt, items)) {
                    let Some(pe) = pe else {
                        out.push(item.clone());
                        continue;
                    };
                    if set.members.contains(&pe) {
                        continue;
                    }
                    let kept = match set.children.get(&pe) {
                        Some(sub) => self.remove_walk(names, item, sub),
                        None => Some(item.clone()),
                    };
                    out.extend(kept);
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
        }
    }

    // --- Prune --------------------------------------------------------------------------------

    /// `Updater.prune`: remove what the applier applied last time (`last`) and no longer
    /// applies, unless a manager (the applier's new config included, via `owned`) owns it.
    fn prune(&self, merged: &Value, owned: &Set, last: &Set) -> Value {
        if last.is_empty() {
            return merged.clone();
        }
        let last = last.ensure_named();
        let pruned = self.remove_items(merged, &last);
        // addBackOwnedItems
        let merged_set = self.lenient_set(merged).ensure_named();
        let pruned_set = self.lenient_set(&pruned).ensure_named();
        let pruned = self.remove_items(
            merged,
            &merged_set.difference(&pruned_set.union(&owned.ensure_named())),
        );
        // addBackDanglingItems
        let pruned_set = self.lenient_set(&pruned).ensure_named();
        self.remove_items(
            merged,
            &merged_set.difference(&pruned_set).intersection(&last),
        )
    }

    // --- Client-side apply upgrade ------------------------------------------------------------

    /// `lastAppliedManager.allowedConflictsFromLastApplied`: the fields in the live object's
    /// last-applied annotation whose live value still matches it.
    fn allowed_by_last_applied(&self, live: &Value) -> Option<Set> {
        let text = annotation(live, LAST_APPLIED).filter(|s| !s.is_empty())?;
        let last_applied: Value = serde_json::from_str(text).ok()?;
        if !last_applied.is_object() {
            return None;
        }
        let set = self.field_set(&last_applied, true).ok()?;
        let cmp = self.compare(&last_applied, live);
        Some(set.difference(&cmp.modified))
    }
}

// ---------------------------------------------------------------------------------------------
// managedFields entries (apiserver's managedfields/internal).

#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    subresource: String,
    time: Option<String>,
    set: Set,
    /// The decoded set and its `fieldsV1` as stored, re-emitted verbatim while unchanged.
    stored: Option<(Set, Value)>,
}

impl Entry {
    fn new(manager: &str, operation: &str, api_version: &str, subresource: &str) -> Entry {
        Entry {
            manager: manager.to_owned(),
            operation: operation.to_owned(),
            api_version: api_version.to_owned(),
            subresource: subresource.to_owned(),
            time: None,
            set: Set::default(),
            stored: None,
        }
    }

    /// The manager identity (`BuildManagerIdentifier`): appliers are one manager across
    /// apiVersions, updaters are not.
    fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == APPLY || self.api_version == other.api_version)
    }

    /// The identifier string kube sorts conflicting managers by (Go JSON of the entry without
    /// time and fields; appliers without apiVersion).
    fn identifier(&self) -> String {
        let mut parts = Vec::new();
        let mut push = |key: &str, value: &str| {
            if !value.is_empty() {
                parts.push(format!("\"{key}\":{}", Value::String(value.to_owned())));
            }
        };
        push("manager", &self.manager);
        push("operation", &self.operation);
        if self.operation != APPLY {
            push("apiVersion", &self.api_version);
        }
        push("subresource", &self.subresource);
        format!("{{{}}}", parts.join(","))
    }

    /// `printManager`: `"kubectl" with subresource "scale" using apps/v1`.
    fn describe(&self) -> String {
        let mut out = Value::String(self.manager.clone()).to_string();
        if !self.subresource.is_empty() {
            out.push_str(&format!(
                " with subresource {}",
                Value::String(self.subresource.clone())
            ));
        }
        if self.operation == UPDATE {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    /// Seconds resolution, as kube compares entry times.
    fn time_key(&self) -> &str {
        self.time
            .as_deref()
            .map(|t| t.get(..19).unwrap_or(t))
            .unwrap_or("")
    }

    fn decode(v: &Value) -> Option<Entry> {
        let Value::Object(map) = v else { return None };
        let text = |key: &str| {
            map.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let operation = text("operation");
        if operation != APPLY && operation != UPDATE {
            return None;
        }
        if text("apiVersion").is_empty() || text("fieldsType") != FIELDS_V1 {
            return None;
        }
        let (set, stored) = match map.get("fieldsV1") {
            Some(Value::Object(fields)) => {
                let set = Set::from_fields(fields)?;
                (set.clone(), Some((set, Value::Object(fields.clone()))))
            }
            None | Some(Value::Null) => (Set::default(), None),
            Some(_) => return None,
        };
        Some(Entry {
            manager: text("manager"),
            operation,
            api_version: text("apiVersion"),
            subresource: text("subresource"),
            time: map.get("time").and_then(Value::as_str).map(str::to_owned),
            set,
            stored,
        })
    }

    fn encode(&self) -> Value {
        let mut out = Object::new();
        if !self.manager.is_empty() {
            out.insert("manager".to_owned(), Value::String(self.manager.clone()));
        }
        out.insert(
            "operation".to_owned(),
            Value::String(self.operation.clone()),
        );
        out.insert(
            "apiVersion".to_owned(),
            Value::String(self.api_version.clone()),
        );
        if let Some(time) = &self.time {
            out.insert("time".to_owned(), Value::String(time.clone()));
        }
        out.insert("fieldsType".to_owned(), Value::String(FIELDS_V1.to_owned()));
        let fields = match &self.stored {
            Some((set, raw)) if *set == self.set => raw.clone(),
            _ => self.set.to_fields(),
        };
        out.insert("fieldsV1".to_owned(), fields);
        if !self.subresource.is_empty() {
            out.insert(
                "subresource".to_owned(),
                Value::String(self.subresource.clone()),
            );
        }
        Value::Object(out)
    }
}

fn managed_fields_of(obj: &Value) -> Option<&Vec<Value>> {
    obj.at("/metadata/managedFields")?.as_array()
}

/// `isResetManagedFields`: `[]` or `[{}]`.
fn is_reset(list: &[Value]) -> bool {
    match list {
        [] => true,
        [only] => only.as_object().is_some_and(Object::is_empty),
        _ => false,
    }
}

/// The object's entries; malformed ones are skipped, a later duplicate replaces an earlier one.
fn decode_entries(obj: &Value) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for entry in managed_fields_of(obj)
        .into_iter()
        .flatten()
        .filter_map(Entry::decode)
    {
        match entries.iter_mut().find(|e| e.same_manager(&entry)) {
            Some(existing) => *existing = entry,
            None => entries.push(entry),
        }
    }
    entries
}

/// Set (or drop, when empty) `metadata.managedFields`, sorted as `sortEncodedManagedFields`.
fn write_managed_fields(obj: &mut Value, entries: &[Entry]) {
    let Value::Object(root) = obj else { return };
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then_with(|| p.time_key().cmp(q.time_key()))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
    if sorted.is_empty() {
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.remove("managedFields");
        }
        return;
    }
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Object::new()));
    if !meta.is_object() {
        *meta = Value::Object(Object::new());
    }
    if let Value::Object(meta) = meta {
        meta.insert(
            "managedFields".to_owned(),
            Value::Array(sorted.into_iter().map(Entry::encode).collect()),
        );
    }
}

/// `Updater.Update` + `managedFieldsUpdater.Update` for one write: everybody loses what the
/// write changed or removed, the writer gains what it added or changed (minus server metadata).
fn record_changes(entries: &mut Vec<Entry>, cmp: &Comparison, writer: &Entry, now: &str) {
    let changed = cmp.modified.union(&cmp.added);
    for entry in entries.iter_mut() {
        entry.set = entry.set.difference(&changed).difference(&cmp.removed);
    }
    let gained = changed.difference(&strip_set());
    if !gained.is_empty() {
        match entries.iter_mut().find(|e| e.same_manager(writer)) {
            Some(entry) => {
                entry.set.union_in_place(&gained);
                entry.api_version = writer.api_version.clone();
                entry.time = Some(now.to_owned());
            }
            None => {
                let mut entry = writer.clone();
                entry.set = gained;
                entry.time = Some(now.to_owned());
                entries.push(entry);
            }
        }
    }
    entries.retain(|e| !e.set.is_empty());
}

/// `capManagersManager`: fold the oldest `Update` entries into one `ancient-changes` entry per
/// apiVersion until at most ten remain.
fn cap_update_managers(entries: &mut Vec<Entry>) {
    if entries.iter().filter(|e| e.operation == UPDATE).count() <= MAX_UPDATE_MANAGERS {
        return;
    }
    let mut updaters: Vec<Entry> = entries
        .iter()
        .filter(|e| e.operation == UPDATE)
        .cloned()
        .collect();
    updaters.sort_by(|p, q| {
        p.time_key()
            .cmp(q.time_key())
            .then_with(|| p.identifier().cmp(&q.identifier()))
    });
    let mut remaining = updaters.len();
    let mut first_by_version: BTreeMap<String, Entry> = BTreeMap::new();
    for updater in updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = updater.api_version.clone();
        let Some(first) = first_by_version.get(&version) else {
            first_by_version.insert(version, updater);
            continue;
        };
        let bucket = Entry::new(ANCIENT_CHANGES, UPDATE, &version, "");
        if !entries.iter().any(|e| e.same_manager(&bucket))
            && let Some(existing) = entries.iter_mut().find(|e| e.same_manager(first))
        {
            existing.manager = ANCIENT_CHANGES.to_owned();
            existing.subresource = String::new();
        }
        entries.retain(|e| !e.same_manager(&updater));
        if let Some(bucket) = entries.iter_mut().find(|e| e.same_manager(&bucket)) {
            bucket.set.union_in_place(&updater.set);
            bucket.time = updater.time.clone();
        }
        remaining -= 1;
    }
}

fn conflict_error(entries: &[Entry], conflicts: &[(usize, Set)]) -> ApplyError {
    let mut groups: Vec<(String, String, String, Vec<String>)> = conflicts
        .iter()
        .filter_map(|(i, set)| {
            let entry = entries.get(*i)?;
            let fields = set.paths().iter().map(|p| display_path(p)).collect();
            Some((
                entry.identifier(),
                entry.describe(),
                entry.manager.clone(),
                fields,
            ))
        })
        .collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let list: Vec<Conflict> = groups
        .iter()
        .flat_map(|(_, _, manager, fields)| {
            fields.iter().map(|f| Conflict {
                manager: manager.clone(),
                field: f.clone(),
            })
        })
        .collect();
    let message = match (groups.as_slice(), list.len()) {
        ([(_, who, _, fields)], 1) => format!(
            "Apply failed with 1 conflict: conflict with {who}: {}",
            fields.join("")
        ),
        (_, n) => {
            let mut lines = Vec::new();
            for (_, who, _, fields) in &groups {
                lines.push(format!("conflicts with {who}:"));
                lines.extend(fields.iter().map(|f| format!("- {f}")));
            }
            format!("Apply failed with {n} conflicts: {}", lines.join("\n"))
        }
    };
    ApplyError::Conflicts {
        message,
        conflicts: list,
    }
}

// ---------------------------------------------------------------------------------------------
// Object helpers.

fn str_field<'a>(map: &'a Object, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

/// `schema.GroupVersionKind.String()`: `apps/v1, Kind=ReplicaSet`, `/v1, Kind=Pod`.
fn gvk_string(api_version: &str, kind: &str) -> String {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    format!("{group}/{version}, Kind={kind}")
}

/// `objectGVKNN`: `default/web; apps/v1, Kind=ReplicaSet`.
fn gvknn(config: &Object, api_version: &str, kind: &str) -> String {
    let meta = config.get("metadata");
    let get = |key: &str| {
        meta.and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    format!(
        "{}/{}; {}",
        get("namespace"),
        get("name"),
        gvk_string(api_version, kind)
    )
}

/// The applied configuration without `status` and server-owned metadata.
fn sanitize_config(config: &Object) -> Result<Value, ApplyError> {
    let mut out = config.clone();
    out.remove("status");
    match out.get_mut("metadata") {
        None | Some(Value::Null) => {
            out.remove("metadata");
        }
        Some(Value::Object(meta)) => {
            for key in SERVER_METADATA {
                meta.remove(*key);
            }
        }
        Some(other) => {
            return Err(ApplyError::Invalid(format!(
                "failed to create typed patch object: .metadata: expected map, got {other}"
            )));
        }
    }
    Ok(Value::Object(out))
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(Value::Object(meta)) = out.get_mut("metadata") {
        meta.remove("managedFields");
    }
    out
}

/// `obj` as an update's field comparison sees it: without `managedFields`, and without the
/// top-level field the write cannot own (`spec` through the status subresource, `status`
/// otherwise). `ignored_fields` drops those and everything under them from the comparison,
/// so leaving them out changes nothing but the cost of copying and walking them.
fn comparable(obj: &Value, subresource: Option<&str>) -> Value {
    let Value::Object(root) = obj else {
        return obj.clone();
    };
    let unowned = if subresource == Some("status") {
        "spec"
    } else {
        "status"
    };
    let mut out = Object::new();
    for (key, value) in root {
        match (key.as_str(), value) {
            (k, _) if k == unowned => {}
            ("metadata", Value::Object(meta)) => {
                let meta: Object = meta
                    .iter()
                    .filter(|(field, _)| *field != "managedFields")
                    .map(|(field, v)| (field.clone(), v.clone()))
                    .collect();
                out.insert(key.clone(), Value::Object(meta));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// Fill in what `skel` has and `obj` lacks.
fn overlay(obj: &mut Value, skel: &Value) {
    if let (Value::Object(o), Value::Object(s)) = (obj, skel) {
        for (key, sv) in s {
            match o.get_mut(key) {
                Some(ov) => overlay(ov, sv),
                None => {
                    o.insert(key.clone(), sv.clone());
                }
            }
        }
    }
}

/// Nulls the config set on object fields mean "unset": drop them from the result.
fn drop_config_nulls(result: &mut Value, config: &Value) {
    if let (Value::Object(r), Value::Object(c)) = (result, config) {
        for (key, cv) in c {
            match cv {
                Value::Null if r.get(key).is_some_and(Value::is_null) => {
                    r.remove(key);
                }
                Value::Object(_) => {
                    if let Some(rv) = r.get_mut(key) {
                        drop_config_nulls(rv, cv);
                    }
                }
                _ => {}
            }
        }
    }
}

/// `lastAppliedUpdater`: when the object carries a last-applied annotation, an apply by
/// `kubectl` rewrites it from the applied configuration (dropped if annotations get too big).
fn update_last_applied(obj: &mut Value, config: &Value) {
    if annotation(obj, LAST_APPLIED).is_none_or(str::is_empty) {
        return;
    }
    let mut applied = config.clone();
    if let Some(Value::Object(annotations)) = applied
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        annotations.remove(LAST_APPLIED);
    }
    let mut text = String::new();
    go_json(&applied, &mut text);
    text.push('\n');
    let Some(Value::Object(annotations)) = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    else {
        return;
    };
    annotations.insert(LAST_APPLIED.to_owned(), Value::String(text));
    let size: usize = annotations
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if size > MAX_ANNOTATIONS_SIZE {
        annotations.remove(LAST_APPLIED);
    }
}

/// Go `encoding/json` output: sorted keys, HTML-safe escaping.
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut items: Vec<(&String, &Value)> = map.iter().collect();
            items.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(key, out);
                out.push(':');
                go_json(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::String(s) => go_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn go_string(s: &str, out: &mut String) {
    for c in Value::String(s.to_owned()).to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn fields_v1_keys_round_trip_and_display() {
        let cases: Vec<(&str, Pe, &str)> = vec![
            ("f:image", field("image"), ".image"),
            (
                "k:{\"name\":\"app\"}",
                Pe::Key(vec![("name".into(), json!("app"))]),
                "[name=\"app\"]",
            ),
            (
                "k:{\"containerPort\":80,\"protocol\":\"TCP\"}",
                Pe::Key(vec![
                    ("containerPort".into(), json!(80)),
                    ("protocol".into(), json!("TCP")),
                ]),
                "[containerPort=80,protocol=\"TCP\"]",
            ),
            ("v:\"a/b\"", Pe::Value(json!("a/b")), "[=\"a/b\"]"),
            ("v:10", Pe::Value(json!(10)), "[=10]"),
            ("i:3", Pe::Index(3), "[3]"),
        ];
        for (key, pe, display) in cases {
            assert_eq!(Pe::parse(key).as_ref(), Some(&pe), "{key}");
            assert_eq!(pe.fields_key(), key);
            assert_eq!(pe.display(), display);
        }
        // Keys decode regardless of the order of their fields.
        assert_eq!(
            Pe::parse("k:{\"protocol\":\"TCP\",\"containerPort\":80}"),
            Pe::parse("k:{\"containerPort\":80,\"protocol\":\"TCP\"}")
        );
        assert_eq!(Pe::parse("x:y"), None);

        let encoded = json!({
            "f:metadata": {"f:finalizers": {".": {}, "v:\"a/b\"": {}}, "f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}}}}
        });
        let set = Set::from_fields(encoded.as_object().unwrap()).unwrap();
        assert!(set.has(&[field("metadata"), field("finalizers")]));
        assert!(set.has(&[
            field("metadata"),
            field("finalizers"),
            Pe::Value(json!("a/b"))
        ]));
        assert!(!set.has(&[field("metadata"), field("labels")]));
        assert_eq!(set.to_fields(), encoded);
        let paths: Vec<String> = set.paths().iter().map(|p| display_path(p)).collect();
        assert_eq!(
            paths,
            vec![
                ".metadata.finalizers",
                ".metadata.finalizers[=\"a/b\"]",
                ".metadata.labels.app",
                ".spec.containers[name=\"app\"]",
                ".spec.containers[name=\"app\"].image",
            ]
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

    #[test]
    fn schema_tables() {
        let lists: Vec<(&str, &[&str], ListType)> = vec![
            ("Pod", &["spec", "containers"], ListType::Map(NAME)),
            (
                "ReplicaSet",
                &["spec", "template", "spec", "containers"],
                ListType::Map(NAME),
            ),
            ("Pod", &["spec", "containers", "env"], ListType::Map(NAME)),
            (
                "ReplicaSet",
                &["spec", "template", "spec", "initContainers", "ports"],
                ListType::Map(&["containerPort", "protocol"]),
            ),
            (
                "Pod",
                &["spec", "containers", "volumeMounts"],
                ListType::Map(&["mountPath"]),
            ),
            ("Pod", &["spec", "volumes"], ListType::Map(NAME)),
            (
                "Pod",
                &["spec", "topologySpreadConstraints"],
                ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
            ),
            ("Pod", &["spec", "tolerations"], ListType::Atomic),
            ("Pod", &["spec", "containers", "command"], ListType::Atomic),
            ("Pod", &["spec", "containers", "args"], ListType::Atomic),
            ("Pod", &["status", "conditions"], ListType::Map(TYPE)),
            ("Pod", &["status", "podIPs"], ListType::Map(IP)),
            ("Pod", &["status", "containerStatuses"], ListType::Atomic),
            ("Node", &["status", "addresses"], ListType::Map(TYPE)),
            ("Node", &["spec", "podCIDRs"], ListType::Set),
            ("Node", &["spec", "taints"], ListType::Atomic),
            ("Namespace", &["spec", "finalizers"], ListType::Atomic),
            ("Namespace", &["metadata", "finalizers"], ListType::Set),
            (
                "Event",
                &["metadata", "ownerReferences"],
                ListType::Map(&["uid"]),
            ),
            ("ReplicaSet", &["status", "conditions"], ListType::Map(TYPE)),
            ("Pod", &["spec", "nodeSelector"], ListType::Atomic),
            ("Widget", &["spec", "containers"], ListType::Atomic),
        ];
        for (kind, path, want) in lists {
            assert_eq!(list_type(kind, path), want, "{kind} {path:?}");
        }
        let maps: Vec<(&str, &[&str], bool)> = vec![
            ("Pod", &["spec", "nodeSelector"], true),
            (
                "ReplicaSet",
                &["spec", "template", "spec", "nodeSelector"],
                true,
            ),
            ("ReplicaSet", &["spec", "selector"], true),
            ("Pod", &["metadata", "ownerReferences"], true),
            (
                "Pod",
                &["spec", "containers", "env", "valueFrom", "fieldRef"],
                true,
            ),
            ("Event", &["involvedObject"], true),
            ("Pod", &["metadata", "labels"], false),
            ("Pod", &["spec", "containers", "resources"], false),
            ("ReplicaSet", &["spec", "template"], false),
        ];
        for (kind, path, want) in maps {
            assert_eq!(map_is_atomic(kind, path), want, "{kind} {path:?}");
        }
    }
}
