//! `decide`: the pure heart of the write side. Given the current state of one object (and of its
//! namespace) and a command, it either refuses with a `CommandError` or returns the changes to
//! append. No I/O, no clock, no randomness: those come in through `DecideContext`.

use super::command::{Command, DeleteOptions, Propagation, UpdatePart};
use super::error::CommandError;
use super::event::EventType;
use crate::model::admit::{Admission, AdmitError, admit};
use crate::model::apply::{self, ApplyError};
use crate::model::meta::{self, format_time};
use crate::model::service::{AllocationError, ServiceAddresses, allocate};
use crate::model::{FieldError, FieldErrorReason, ResourceKind};
use serde_json::{Value, json};

/// Namespaces that always exist and may not be deleted.
pub const PROTECTED_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// Everything `decide` needs besides the object and the command.
#[derive(Debug, Clone, Copy)]
pub struct DecideContext<'a> {
    pub now: jiff::Timestamp,
    /// The uid a created object receives.
    pub new_uid: &'a str,
    /// For namespaced kinds: the namespace object, when it exists.
    pub namespace: Option<&'a Value>,
    /// The field manager the write is recorded under in `managedFields`.
    pub manager: &'a str,
    /// For Service writes: the address ranges and what the other Services hold (committed,
    /// in flight and earlier in the batch). `None`: the default ranges, nothing held.
    pub services: Option<&'a ServiceAddresses>,
}

/// One event to append: its type and the resulting object (without `resourceVersion`, which
/// the log assigns).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub event_type: EventType,
    pub object: Value,
}

/// Decide what `command` does to `current`. An empty result means "nothing changes".
pub fn decide(
    current: Option<&Value>,
    command: &Command,
    ctx: &DecideContext<'_>,
) -> Result<Vec<Change>, CommandError> {
    match command {
        Command::Create {
            kind,
            namespace,
            object,
        } => create(current, *kind, namespace, object, Managed::Record, ctx),
        Command::Update {
            kind,
            name,
            object,
            part,
            ..
        } => {
            let current = existing(current, *kind, name)?;
            update(current, *kind, name, object, *part, Managed::Record, ctx)
        }
        Command::Apply {
            kind,
            namespace,
            name,
            config,
            force,
        } => server_side_apply(current, *kind, namespace, name, config, *force, ctx),
        Command::Scale {
            kind,
            name,
            replicas,
            resource_version,
            ..
        } => {
            let current = existing(current, *kind, name)?;
            scale(
                current,
                *kind,
                name,
                *replicas,
                resource_version.as_deref(),
                ctx,
            )
        }
        Command::Bind {
            name, node, uid, ..
        } => {
            let current = existing(current, ResourceKind::Pod, name)?;
            bind(current, name, node, uid.as_deref(), ctx)
        }
        Command::Delete {
            kind,
            name,
            options,
            ..
        } => {
            let current = existing(current, *kind, name)?;
            delete(current, *kind, name, options, ctx)
        }
    }
}

/// Whether a write still needs its `managedFields` entry recorded, or already has it (apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Managed {
    Record,
    Recorded,
}

/// Record `next` as written by the context's manager (operation Update).
fn record(
    kind: ResourceKind,
    current: Option<&Value>,
    next: Value,
    subresource: Option<&str>,
    ctx: &DecideContext<'_>,
) -> Value {
    apply::record_update_owned(
        kind.as_str(),
        kind.api_version(),
        current,
        next,
        ctx.manager,
        subresource,
        &format_time(ctx.now),
    )
}

/// Server-side apply: merge `config` into the object as the context's manager, refusing
/// conflicts with other managers unless forced, then create or update like any write.
fn server_side_apply(
    current: Option<&Value>,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
    config: &Value,
    force: bool,
    ctx: &DecideContext<'_>,
) -> Result<Vec<Change>, CommandError> {
    let applied = apply::apply(
        kind.as_str(),
        kind.api_version(),
        current,
        config,
        ctx.manager,
        force,
        &format_time(ctx.now),
    )
    .map_err(|e| match e {
        ApplyError::Conflicts { message, conflicts } => CommandError::ApplyConflict {
            kind,
            name: name.to_string(),
            message,
            conflicts: conflicts
                .into_iter()
                .map(|c| (c.manager, c.field))
                .collect(),
        },
        ApplyError::Invalid(message) => CommandError::BadRequest(message),
    })?;
    match current {
        None => create(None, kind, namespace, &applied, Managed::Recorded, ctx),
        Some(current) => {
            let mut body = applied;
            meta::set_meta(
                &mut body,
                "resourceVersion",
                json!(meta::resource_version(current)),
            );
            update(
                current,
                kind,
                name,
                &body,
                UpdatePart::Main,
                Managed::Recorded,
                ctx,
            )
        }
    }
}

fn existing<'a>(
    current: Option<&'a Value>,
    kind: ResourceKind,
    name: &str,
) -> Result<&'a Value, CommandError> {
    current.ok_or_else(|| CommandError::NotFound {
        kind,
        name: name.to_string(),
    })
}

/// Metadata only the server sets; client values are dropped on create and kept from the stored
/// object on update.
const SERVER_META: [&str; 6] = [
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
];

fn create(
    current: Option<&Value>,
    kind: ResourceKind,
    namespace: &str,
    object: &Value,
    managed: Managed,
    ctx: &DecideContext<'_>,
) -> Result<Vec<Change>, CommandError> {
    let name = meta::name(object).to_string();
    if current.is_some() {
        return Err(CommandError::AlreadyExists { kind, name });
    }
    if kind.namespaced() {
        check_namespace_accepts(kind, &name, namespace, ctx)?;
    }
    let mut object = object.clone();
    for field in SERVER_META.iter().chain(["selfLink"].iter()) {
        meta::remove_meta(&mut object, field);
    }
    if kind.namespaced() {
        meta::set_meta(&mut object, "namespace", json!(namespace));
    } else {
        meta::remove_meta(&mut object, "namespace");
    }
    // The server owns the status of everything but nodes, which their kubelet registers with one.
    if matches!(
        kind,
        ResourceKind::Pod
            | ResourceKind::ReplicaSet
            | ResourceKind::Namespace
            | ResourceKind::Service
    ) && let Some(root) = object.as_object_mut()
    {
        root.remove("status");
    }
    if kind == ResourceKind::Namespace
        && let Some(root) = object.as_object_mut()
    {
        // As kube-apiserver does on create: the namespace controller's finalizer is always
        // there, so a namespace is never removed before what it holds.
        root.insert("spec".to_string(), json!({"finalizers": ["kubernetes"]}));
    }
    if managed == Managed::Record {
        object = record(kind, None, object, None, ctx);
    }
    let mut object = admitted(kind, &name, object, Admission::Create)?;
    allocated(kind, &name, &mut object, None, ctx)?;
    meta::set_meta(&mut object, "uid", json!(ctx.new_uid));
    meta::set_meta(
        &mut object,
        "creationTimestamp",
        json!(format_time(ctx.now)),
    );
    if kind.has_generation() {
        meta::set_meta(&mut object, "generation", json!(1));
    }
    Ok(vec![Change {
        event_type: EventType::Created,
        object,
    }])
}

fn check_namespace_accepts(
    kind: ResourceKind,
    name: &str,
    namespace: &str,
    ctx: &DecideContext<'_>,
) -> Result<(), CommandError> {
    let Some(ns) = ctx.namespace else {
        return Err(CommandError::NotFound {
            kind: ResourceKind::Namespace,
            name: namespace.to_string(),
        });
    };
    // Events about a namespace's own teardown are still accepted, as kube-apiserver does.
    if meta::deletion_timestamp(ns).is_some() && kind != ResourceKind::Event {
        return Err(CommandError::Forbidden {
            kind,
            name: name.to_string(),
            reason: format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ),
        });
    }
    Ok(())
}

fn admitted(
    kind: ResourceKind,
    name: &str,
    object: Value,
    admission: Admission<'_>,
) -> Result<Value, CommandError> {
    admit(kind, object, admission).map_err(|e| match e {
        AdmitError::Decode(message) => CommandError::BadRequest(message),
        AdmitError::Invalid(causes) => CommandError::Invalid {
            kind,
            name: name.to_string(),
            causes,
        },
    })
}

/// A Service's ClusterIP and NodePorts, allocated (or checked, when the client names them)
/// against what the other Services hold, after the admission that defaulted and validated it.
fn allocated(
    kind: ResourceKind,
    name: &str,
    object: &mut Value,
    old: Option<&Value>,
    ctx: &DecideContext<'_>,
) -> Result<(), CommandError> {
    if kind != ResourceKind::Service {
        return Ok(());
    }
    let fallback = ServiceAddresses::default();
    let addresses = ctx.services.unwrap_or(&fallback);
    allocate(object, old, addresses).map_err(|e| match e {
        AllocationError::Invalid(causes) => CommandError::Invalid {
            kind,
            name: name.to_string(),
            causes,
        },
        AllocationError::Exhausted(cause) => CommandError::Internal(cause),
    })
}

fn check_resource_version(
    kind: ResourceKind,
    name: &str,
    current: &Value,
    requested: &str,
) -> Result<(), CommandError> {
    if !requested.is_empty() && requested != meta::resource_version(current) {
        return Err(CommandError::Conflict {
            kind,
            name: name.to_string(),
            reason: "the object has been modified; please apply your changes to the latest version and try again".to_string(),
        });
    }
    Ok(())
}

fn update(
    current: &Value,
    kind: ResourceKind,
    name: &str,
    body: &Value,
    part: UpdatePart,
    managed: Managed,
    ctx: &DecideContext<'_>,
) -> Result<Vec<Change>, CommandError> {
    check_resource_version(kind, name, current, meta::resource_version(body))?;
    let body_uid = meta::uid(body);
    if !body_uid.is_empty() && body_uid != meta::uid(current) {
        return Err(CommandError::Conflict {
            kind,
            name: name.to_string(),
            reason: format!(
                "Precondition failed: UID in precondition: {body_uid}, UID in object meta: {}",
                meta::uid(current)
            ),
        });
    }
    let (candidate, admission, event_type) = match part {
        UpdatePart::Main => {
            let mut next = body.clone();
            for field in SERVER_META.iter().chain(["namespace"].iter()) {
                match current.get("metadata").and_then(|m| m.get(*field)) {
                    Some(v) => meta::set_meta(&mut next, field, v.clone()),
                    None => meta::remove_meta(&mut next, field),
                }
            }
            if kind.has_status()
                && let Some(root) = next.as_object_mut()
            {
                match current.get("status") {
                    Some(status) => root.insert("status".to_string(), status.clone()),
                    None => root.remove("status"),
                };
            }
            (next, Admission::Update { old: current }, EventType::Updated)
        }
        UpdatePart::Status => {
            let mut next = current.clone();
            if let Some(root) = next.as_object_mut() {
                match body.get("status") {
                    Some(status) => root.insert("status".to_string(), status.clone()),
                    None => root.remove("status"),
                };
            }
            (
                next,
                Admission::StatusUpdate { old: current },
                EventType::StatusUpdated,
            )
        }
        UpdatePart::Finalize => {
            let mut next = current.clone();
            let finalizers = body
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or_else(|| json!([]));
            if let Some(root) = next.as_object_mut() {
                let spec = root.entry("spec").or_insert_with(|| json!({}));
                if let Some(spec) = spec.as_object_mut() {
                    spec.insert("finalizers".to_string(), finalizers);
                }
            }
            (next, Admission::Update { old: current }, EventType::Updated)
        }
    };
    let candidate = match (managed, part) {
        (Managed::Recorded, _) | (_, UpdatePart::Finalize) => candidate,
        (Managed::Record, UpdatePart::Main) => record(kind, Some(current), candidate, None, ctx),
        (Managed::Record, UpdatePart::Status) => {
            record(kind, Some(current), candidate, Some("status"), ctx)
        }
    };
    let mut next = admitted(kind, name, candidate, admission)?;
    if part == UpdatePart::Main {
        allocated(kind, name, &mut next, Some(current), ctx)?;
    }
    meta::set_meta(
        &mut next,
        "resourceVersion",
        json!(meta::resource_version(current)),
    );
    if kind.has_generation() && next.get("spec") != current.get("spec") {
        let generation = current
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        meta::set_meta(&mut next, "generation", json!(generation + 1));
    }
    if ready_to_remove(kind, &next) {
        return Ok(vec![Change {
            event_type: EventType::Deleted,
            object: next,
        }]);
    }
    if next == *current {
        return Ok(vec![]);
    }
    Ok(vec![Change {
        event_type,
        object: next,
    }])
}

/// An object whose deletion was requested goes once nothing holds it any more: no finalizers
/// (and, for namespaces, no `spec.finalizers`), and for pods a zero grace period (the kubelet
/// confirmed, or the pod never ran).
fn ready_to_remove(kind: ResourceKind, object: &Value) -> bool {
    if meta::deletion_timestamp(object).is_none() || !meta::finalizers(object).is_empty() {
        return false;
    }
    match kind {
        ResourceKind::Namespace => object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|f| f.is_empty()),
        ResourceKind::Pod => {
            object
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                == 0
        }
        _ => true,
    }
}

fn scale(
    current: &Value,
    kind: ResourceKind,
    name: &str,
    replicas: i32,
    resource_version: Option<&str>,
    ctx: &DecideContext<'_>,
) -> Result<Vec<Change>, CommandError> {
    check_resource_version(kind, name, current, resource_version.unwrap_or(""))?;
    if replicas < 0 {
        return Err(CommandError::Invalid {
            kind,
            name: name.to_string(),
            causes: vec![FieldError {
                path: "spec.replicas".to_string(),
                reason: FieldErrorReason::Invalid,
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            }],
        });
    }
    if current.pointer("/spec/replicas").and_then(Value::as_i64) == Some(i64::from(replicas)) {
        return Ok(vec![]);
    }
    let mut next = current.clone();
    if let Some(spec) = next.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("replicas".to_string(), json!(replicas));
    }
    let generation = current
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    meta::set_meta(&mut next, "generation", json!(generation + 1));
    let next = record(kind, Some(current), next, Some("scale"), ctx);
    Ok(vec![Change {
        event_type: EventType::Scaled,
        object: next,
    }])
}

fn bind(
    current: &Value,
    name: &str,
    node: &str,
    uid: Option<&str>,
    ctx: &DecideContext<'_>,
) -> Result<Vec<Change>, CommandError> {
    let kind = ResourceKind::Pod;
    let conflict = |reason: String| CommandError::Conflict {
        kind,
        name: name.to_string(),
        reason,
    };
    if let Some(uid) = uid.filter(|u| !u.is_empty())
        && uid != meta::uid(current)
    {
        return Err(conflict(format!(
            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
            meta::uid(current)
        )));
    }
    if node.is_empty() {
        return Err(CommandError::Invalid {
            kind,
            name: name.to_string(),
            causes: vec![FieldError {
                path: "target.name".to_string(),
                reason: FieldErrorReason::Required,
                message: "Required value".to_string(),
            }],
        });
    }
    if meta::deletion_timestamp(current).is_some() {
        return Err(conflict(format!(
            "pod {name} is being deleted, cannot be assigned to a host"
        )));
    }
    let assigned = current
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !assigned.is_empty() {
        return Err(conflict(format!(
            "pod {name} is already assigned to node \"{assigned}\""
        )));
    }
    let mut next = current.clone();
    if let Some(spec) = next.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("nodeName".to_string(), json!(node));
    }
    meta::set_status_condition(
        &mut next,
        json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
               "lastTransitionTime": format_time(ctx.now)}),
    );
    Ok(vec![Change {
        event_type: EventType::Bound,
        object: next,
    }])
}

fn delete(
    current: &Value,
    kind: ResourceKind,
    name: &str,
    options: &DeleteOptions,
    ctx: &DecideContext<'_>,
) -> Result<Vec<Change>, CommandError> {
    let conflict = |reason: String| CommandError::Conflict {
        kind,
        name: name.to_string(),
        reason,
    };
    if let Some(uid) = options.precondition_uid.as_deref()
        && uid != meta::uid(current)
    {
        return Err(conflict(format!(
            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
            meta::uid(current)
        )));
    }
    if let Some(rv) = options.precondition_resource_version.as_deref()
        && rv != meta::resource_version(current)
    {
        return Err(conflict(format!(
            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
            meta::resource_version(current)
        )));
    }
    if kind == ResourceKind::Namespace && PROTECTED_NAMESPACES.contains(&name) {
        return Err(CommandError::Forbidden {
            kind,
            name: name.to_string(),
            reason: "this namespace may not be deleted".to_string(),
        });
    }
    if let Some(grace) = options.grace_period_seconds
        && grace < 0
    {
        return Err(CommandError::Invalid {
            kind,
            name: name.to_string(),
            causes: vec![FieldError {
                path: "gracePeriodSeconds".to_string(),
                reason: FieldErrorReason::Invalid,
                message: format!("Invalid value: {grace}: must be greater than or equal to 0"),
            }],
        });
    }
    let grace = deletion_grace(current, kind, options);
    let already = meta::deletion_timestamp(current).is_some();
    let current_grace = current
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    let mut next = current.clone();
    // Foreground and orphan propagation hold the owner with a finalizer the garbage collector
    // removes once the dependents are gone or released.
    let propagation_finalizer = match options.propagation {
        Some(Propagation::Foreground) => Some("foregroundDeletion"),
        Some(Propagation::Orphan) => Some("orphan"),
        _ => None,
    };
    if let Some(finalizer) = propagation_finalizer
        && !matches!(kind, ResourceKind::Namespace | ResourceKind::Event)
        && !meta::finalizers(current).iter().any(|f| f == finalizer)
    {
        let mut finalizers = meta::finalizers(current);
        finalizers.push(finalizer.to_string());
        meta::set_meta(&mut next, "finalizers", json!(finalizers));
    }
    let changed_finalizers = meta::finalizers(&next) != meta::finalizers(current);
    if already && current_grace.is_some_and(|g| grace >= g) && !changed_finalizers {
        // A second delete may only shorten a pending grace period.
        return Ok(vec![]);
    }
    if !already || current_grace.is_some_and(|g| grace < g) {
        let removal = meta::after_seconds(ctx.now, grace);
        meta::set_meta(&mut next, "deletionTimestamp", json!(format_time(removal)));
        meta::set_meta(&mut next, "deletionGracePeriodSeconds", json!(grace));
    }
    if kind == ResourceKind::Namespace
        && let Some(root) = next.as_object_mut()
    {
        let status = root.entry("status").or_insert_with(|| json!({}));
        if let Some(status) = status.as_object_mut() {
            status.insert("phase".to_string(), json!("Terminating"));
        }
    }
    if ready_to_remove(kind, &next) {
        // Gone at once: the last state is the one before the request.
        return Ok(vec![Change {
            event_type: EventType::Deleted,
            object: current.clone(),
        }]);
    }
    if next == *current {
        return Ok(vec![]);
    }
    Ok(vec![Change {
        event_type: EventType::DeletionRequested,
        object: next,
    }])
}

/// The grace period a delete gets. Only pods that may be running on a node wait; everything
/// else (and a pod that was never bound, or has finished) goes at once.
fn deletion_grace(current: &Value, kind: ResourceKind, options: &DeleteOptions) -> i64 {
    if kind != ResourceKind::Pod {
        return 0;
    }
    let bound = current
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = current
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !bound || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    options.grace_period_seconds.unwrap_or_else(|| {
        current
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
    })
}

#[cfg(test)]
mod tests {
    //! given / when / then: state in, command, changes (or error) out.
    use super::*;

    const NOW: &str = "2026-01-02T03:04:05Z";

    fn ns(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "uid": "ns-uid", "resourceVersion": "1"},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
    }

    fn pod(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1"}]}})
    }

    struct Given {
        current: Option<Value>,
        namespace: Option<Value>,
    }

    fn given(current: Option<Value>) -> Given {
        Given {
            current,
            namespace: Some(ns("default")),
        }
    }

    impl Given {
        fn when(&self, command: Command) -> Result<Vec<Change>, CommandError> {
            let ctx = DecideContext {
                now: NOW.parse().unwrap(),
                new_uid: "uid-1",
                namespace: self.namespace.as_ref(),
                manager: "test",
                services: None,
            };
            decide(self.current.as_ref(), &command, &ctx)
        }
    }

    fn create_pod(object: Value) -> Command {
        Command::Create {
            kind: ResourceKind::Pod,
            namespace: "default".into(),
            object,
        }
    }

    fn stored_pod(name: &str, rv: &str) -> Value {
        let changes = given(None).when(create_pod(pod(name))).unwrap();
        let mut object = changes[0].object.clone();
        meta::set_meta(&mut object, "resourceVersion", json!(rv));
        object
    }

    fn delete_pod(name: &str, options: DeleteOptions) -> Command {
        Command::Delete {
            kind: ResourceKind::Pod,
            namespace: "default".into(),
            name: name.into(),
            options,
        }
    }

    #[test]
    fn create_fills_server_metadata_and_defaults() {
        let changes = given(None).when(create_pod(pod("echo"))).unwrap();
        assert_eq!(changes.len(), 1);
        let c = &changes[0];
        assert_eq!(c.event_type, EventType::Created);
        assert_eq!(meta::uid(&c.object), "uid-1");
        assert_eq!(meta::namespace(&c.object), "default");
        assert_eq!(c.object["metadata"]["creationTimestamp"], NOW);
        assert_eq!(c.object["metadata"]["generation"], 1);
        assert_eq!(c.object["spec"]["restartPolicy"], "Always");
        assert_eq!(c.object["status"]["phase"], "Pending");
    }

    #[test]
    fn create_ignores_client_set_server_fields() {
        let mut p = pod("echo");
        meta::set_meta(&mut p, "uid", json!("mine"));
        meta::set_meta(&mut p, "resourceVersion", json!("77"));
        p["status"] = json!({"phase": "Running"});
        let c = &given(None).when(create_pod(p)).unwrap()[0];
        assert_eq!(meta::uid(&c.object), "uid-1");
        assert_eq!(meta::resource_version(&c.object), "");
        assert_eq!(c.object["status"]["phase"], "Pending");
    }

    #[test]
    fn create_refusals() {
        let existing = stored_pod("echo", "5");
        let cases: Vec<(&str, Given, Value, &str)> = vec![
            (
                "exists",
                given(Some(existing)),
                pod("echo"),
                "AlreadyExists",
            ),
            (
                "no namespace",
                Given {
                    current: None,
                    namespace: None,
                },
                pod("echo"),
                "NotFound",
            ),
            (
                "terminating namespace",
                Given {
                    current: None,
                    namespace: Some({
                        let mut n = ns("default");
                        meta::set_meta(&mut n, "deletionTimestamp", json!(NOW));
                        n
                    }),
                },
                pod("echo"),
                "Forbidden",
            ),
            (
                "no containers",
                given(None),
                json!({"metadata": {"name": "x"}, "spec": {"containers": []}}),
                "Invalid",
            ),
            (
                "wrong JSON type",
                given(None),
                json!({"metadata": {"name": "x"}, "spec": {"containers": "nope"}}),
                "BadRequest",
            ),
        ];
        for (case, g, object, want) in cases {
            let err = g.when(create_pod(object)).unwrap_err();
            let got = match err {
                CommandError::AlreadyExists { .. } => "AlreadyExists",
                CommandError::NotFound { .. } => "NotFound",
                CommandError::Forbidden { .. } => "Forbidden",
                CommandError::Invalid { .. } => "Invalid",
                CommandError::BadRequest(_) => "BadRequest",
                CommandError::TooLarge { .. } => "TooLarge",
                CommandError::Internal(_) => "Internal",
                CommandError::Conflict { .. } | CommandError::ApplyConflict { .. } => "Conflict",
            };
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn update_with_stale_resource_version_conflicts() {
        let current = stored_pod("echo", "5");
        let mut body = current.clone();
        meta::set_meta(&mut body, "resourceVersion", json!("4"));
        let err = given(Some(current))
            .when(Command::Update {
                kind: ResourceKind::Pod,
                namespace: "default".into(),
                name: "echo".into(),
                object: body,
                part: UpdatePart::Main,
            })
            .unwrap_err();
        assert!(matches!(err, CommandError::Conflict { .. }), "{err:?}");
    }

    #[test]
    fn main_update_keeps_status_and_status_update_keeps_spec() {
        let current = stored_pod("echo", "5");
        let mut body = current.clone();
        body["metadata"]["labels"] = json!({"app": "echo"});
        body["status"] = json!({"phase": "Running"});
        let changes = given(Some(current.clone()))
            .when(Command::Update {
                kind: ResourceKind::Pod,
                namespace: "default".into(),
                name: "echo".into(),
                object: body.clone(),
                part: UpdatePart::Main,
            })
            .unwrap();
        assert_eq!(changes[0].event_type, EventType::Updated);
        assert_eq!(changes[0].object["metadata"]["labels"]["app"], "echo");
        assert_eq!(changes[0].object["status"]["phase"], "Pending");

        let changes = given(Some(current))
            .when(Command::Update {
                kind: ResourceKind::Pod,
                namespace: "default".into(),
                name: "echo".into(),
                object: body,
                part: UpdatePart::Status,
            })
            .unwrap();
        assert_eq!(changes[0].event_type, EventType::StatusUpdated);
        assert_eq!(changes[0].object["status"]["phase"], "Running");
        assert!(changes[0].object["metadata"].get("labels").is_none());
    }

    #[test]
    fn identical_update_changes_nothing() {
        let current = stored_pod("echo", "5");
        let changes = given(Some(current.clone()))
            .when(Command::Update {
                kind: ResourceKind::Pod,
                namespace: "default".into(),
                name: "echo".into(),
                object: current,
                part: UpdatePart::Main,
            })
            .unwrap();
        assert!(changes.is_empty());
    }

    #[test]
    fn unbound_pod_is_deleted_at_once_bound_pod_waits_for_its_kubelet() {
        let unbound = stored_pod("echo", "5");
        let changes = given(Some(unbound.clone()))
            .when(delete_pod("echo", DeleteOptions::default()))
            .unwrap();
        assert_eq!(changes[0].event_type, EventType::Deleted);

        let mut bound = unbound;
        bound["spec"]["nodeName"] = json!("node-1");
        let changes = given(Some(bound.clone()))
            .when(delete_pod("echo", DeleteOptions::default()))
            .unwrap();
        assert_eq!(changes[0].event_type, EventType::DeletionRequested);
        assert_eq!(
            changes[0].object["metadata"]["deletionGracePeriodSeconds"],
            30
        );
        assert_eq!(
            changes[0].object["metadata"]["deletionTimestamp"],
            "2026-01-02T03:04:35Z"
        );

        let now = DeleteOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        let changes = given(Some(bound)).when(delete_pod("echo", now)).unwrap();
        assert_eq!(changes[0].event_type, EventType::Deleted);
    }

    #[test]
    fn a_grace_period_beyond_any_timestamp_is_accepted_and_held_to_the_last_one() {
        let mut bound = stored_pod("echo", "5");
        bound["spec"]["nodeName"] = json!("node-1");
        for grace in [300_000_000_000, i64::MAX] {
            let options = DeleteOptions {
                grace_period_seconds: Some(grace),
                ..Default::default()
            };
            let changes = given(Some(bound.clone()))
                .when(delete_pod("echo", options))
                .unwrap();
            assert_eq!(changes[0].event_type, EventType::DeletionRequested);
            assert_eq!(
                changes[0].object["metadata"]["deletionGracePeriodSeconds"],
                grace
            );
            assert_eq!(
                changes[0].object["metadata"]["deletionTimestamp"],
                "9999-12-30T22:00:00Z"
            );
        }
    }

    #[test]
    fn finalizers_hold_an_object_until_removed() {
        let mut current = stored_pod("echo", "5");
        current["metadata"]["finalizers"] = json!(["example.com/hold"]);
        let changes = given(Some(current.clone()))
            .when(delete_pod("echo", DeleteOptions::default()))
            .unwrap();
        assert_eq!(changes[0].event_type, EventType::DeletionRequested);
        let mut pending = changes[0].object.clone();
        meta::set_meta(&mut pending, "resourceVersion", json!("6"));
        let mut body = pending.clone();
        body["metadata"]["finalizers"] = json!([]);
        let changes = given(Some(pending))
            .when(Command::Update {
                kind: ResourceKind::Pod,
                namespace: "default".into(),
                name: "echo".into(),
                object: body,
                part: UpdatePart::Main,
            })
            .unwrap();
        assert_eq!(changes[0].event_type, EventType::Deleted);
    }

    #[test]
    fn delete_preconditions_conflict() {
        let current = stored_pod("echo", "5");
        for options in [
            DeleteOptions {
                precondition_uid: Some("other".into()),
                ..Default::default()
            },
            DeleteOptions {
                precondition_resource_version: Some("4".into()),
                ..Default::default()
            },
        ] {
            let err = given(Some(current.clone()))
                .when(delete_pod("echo", options))
                .unwrap_err();
            assert!(matches!(err, CommandError::Conflict { .. }));
        }
    }

    #[test]
    fn namespace_delete_terminates_and_protected_ones_refuse() {
        let g = given(Some(ns("team")));
        let changes = g
            .when(Command::Delete {
                kind: ResourceKind::Namespace,
                namespace: String::new(),
                name: "team".into(),
                options: DeleteOptions::default(),
            })
            .unwrap();
        assert_eq!(changes[0].event_type, EventType::DeletionRequested);
        assert_eq!(changes[0].object["status"]["phase"], "Terminating");

        let err = given(Some(ns("default")))
            .when(Command::Delete {
                kind: ResourceKind::Namespace,
                namespace: String::new(),
                name: "default".into(),
                options: DeleteOptions::default(),
            })
            .unwrap_err();
        assert!(matches!(err, CommandError::Forbidden { .. }));
    }

    #[test]
    fn bind_assigns_once() {
        let current = stored_pod("echo", "5");
        let bind = Command::Bind {
            namespace: "default".into(),
            name: "echo".into(),
            node: "node-1".into(),
            uid: None,
        };
        let changes = given(Some(current)).when(bind.clone()).unwrap();
        assert_eq!(changes[0].event_type, EventType::Bound);
        assert_eq!(changes[0].object["spec"]["nodeName"], "node-1");
        let err = given(Some(changes[0].object.clone()))
            .when(bind)
            .unwrap_err();
        assert!(matches!(err, CommandError::Conflict { .. }));
    }
}
