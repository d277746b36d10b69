//! Commands: what a client or a worker asks the store to do. Imperative, validated by `decide`.

use crate::model::ResourceKind;
pub use crate::store::Cause;
use serde_json::Value;

/// Which part of an object an update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdatePart {
    /// The main resource: everything but `status`.
    Main,
    /// The `status` subresource: only `status`.
    Status,
    /// The namespace `finalize` subresource: only `spec.finalizers`.
    Finalize,
}

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// The parts of `DeleteOptions` the store acts on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub propagation: Option<Propagation>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Create `object`; its name is already resolved from `generateName`.
    Create {
        kind: ResourceKind,
        namespace: String,
        object: Value,
    },
    /// Replace the object (PUT, or the result of a patch). A non-empty
    /// `metadata.resourceVersion` in `object` is a precondition.
    Update {
        kind: ResourceKind,
        namespace: String,
        name: String,
        object: Value,
        part: UpdatePart,
    },
    /// Set a ReplicaSet's or Deployment's `spec.replicas` through its `scale` subresource.
    Scale {
        kind: ResourceKind,
        namespace: String,
        name: String,
        replicas: i32,
        resource_version: Option<String>,
    },
    /// Assign a pod to a node (the `binding` subresource).
    Bind {
        namespace: String,
        name: String,
        node: String,
        uid: Option<String>,
    },
    /// Server-side apply of `config` (a partial object) as the request's field manager:
    /// creates the object when absent.
    Apply {
        kind: ResourceKind,
        namespace: String,
        name: String,
        config: Value,
        force: bool,
    },
    /// Delete, or request deletion of, an object.
    Delete {
        kind: ResourceKind,
        namespace: String,
        name: String,
        options: DeleteOptions,
    },
}

impl Command {
    /// What the command does, in a word (for logs).
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Create { .. } => "create",
            Command::Update { .. } => "update",
            Command::Scale { .. } => "scale",
            Command::Bind { .. } => "bind",
            Command::Apply { .. } => "apply",
            Command::Delete { .. } => "delete",
        }
    }

    /// The object the command is about: (kind, namespace, name). Create's name is in the object.
    pub fn target(&self) -> (ResourceKind, &str, &str) {
        match self {
            Command::Create {
                kind,
                namespace,
                object,
            } => (*kind, namespace, crate::model::meta::name(object)),
            Command::Update {
                kind,
                namespace,
                name,
                ..
            }
            | Command::Delete {
                kind,
                namespace,
                name,
                ..
            }
            | Command::Apply {
                kind,
                namespace,
                name,
                ..
            } => (*kind, namespace, name),
            Command::Scale {
                kind,
                namespace,
                name,
                ..
            } => (*kind, namespace, name),
            Command::Bind {
                namespace, name, ..
            } => (ResourceKind::Pod, namespace, name),
        }
    }
}

/// Who asked, and why: recorded on every event the command appends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestMeta {
    /// Authenticated user or worker name (`default-scheduler`, `kubelet/<node>`, ...).
    pub actor: String,
    pub user_agent: Option<String>,
    pub field_manager: Option<String>,
    pub request_id: String,
    /// The event whose observation made a worker submit this command.
    pub caused_by: Option<i64>,
    /// Every cause, with what about each mattered; the first is `caused_by`'s (`because`
    /// keeps the two together). Empty when the request named none but `caused_by`.
    pub causes: Vec<Cause>,
    /// `dryRun=All`: decide and answer, append nothing.
    pub dry_run: bool,
}

impl RequestMeta {
    /// The field manager recorded in managedFields: the one the client named, else the user
    /// agent's program name (as kube-apiserver derives it), else the actor.
    pub fn manager(&self) -> String {
        if let Some(manager) = self.field_manager.as_deref().filter(|m| !m.is_empty()) {
            return manager.to_string();
        }
        match self
            .user_agent
            .as_deref()
            .and_then(|ua| ua.split('/').next())
        {
            Some(program) if !program.is_empty() => program.to_string(),
            _ => self.actor.clone(),
        }
    }

    /// Record `causes` (the first is the primary one, `caused_by`).
    pub fn because(mut self, causes: Vec<Cause>) -> Self {
        self.caused_by = causes.first().map(|c| c.seq);
        self.causes = causes;
        self
    }

    pub fn worker(name: &str) -> Self {
        RequestMeta {
            actor: name.to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        }
    }
}
