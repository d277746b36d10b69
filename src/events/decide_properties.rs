//! Property test: `decide` never panics, whatever the command, the object it finds and the
//! object it is sent. Objects are random JSON leaning towards the fields Kubernetes objects
//! have, with numbers at and past every bound; current objects are often what a valid create
//! stored, so updates and deletes reach deep into `decide` and not only its first checks.

use super::command::{Command, DeleteOptions, Propagation, UpdatePart};
use super::decide::{DecideContext, decide};
use crate::model::ResourceKind;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Keys Kubernetes objects use, so random objects hit real code paths.
const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "generateName",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "finalizers",
    "ownerReferences",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "creationTimestamp",
    "managedFields",
    "spec",
    "status",
    "containers",
    "image",
    "ports",
    "containerPort",
    "replicas",
    "selector",
    "matchLabels",
    "matchExpressions",
    "template",
    "nodeName",
    "tolerations",
    "tolerationSeconds",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "phase",
    "conditions",
    "taints",
    "effect",
    "key",
    "operator",
    "values",
    "controller",
    "x",
];

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(i32::MAX)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1e308)),
        Just(json!(-0.5)),
        any::<f64>().prop_map(|f| json!(f)),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.-]{0,12}",
        Just(String::new()),
        Just("default".to_string()),
        Just("kube-system".to_string()),
        Just("2026-01-01T00:00:00Z".to_string()),
        Just("9999-12-31T23:59:59Z".to_string()),
        Just("Exists".to_string()),
        Just("NoExecute".to_string()),
        ".{0,8}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|fields| {
                Value::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

fn kind() -> impl Strategy<Value = ResourceKind> {
    prop_oneof![
        3 => Just(ResourceKind::Pod),
        2 => Just(ResourceKind::ReplicaSet),
        1 => prop::sample::select(ResourceKind::ALL.to_vec()),
    ]
}

/// A valid object of `kind` named `name`, so commands get past admission.
fn valid(kind: ResourceKind, name: &str) -> Value {
    let metadata = json!({"name": name, "labels": {"app": "a"}});
    match kind {
        ResourceKind::Pod => json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
        ResourceKind::ReplicaSet => json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": metadata, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
        ResourceKind::Deployment => json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": metadata, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
        ResourceKind::Node => json!({"apiVersion": "v1", "kind": "Node", "metadata": metadata}),
        ResourceKind::Namespace => {
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
        }
        ResourceKind::Event => json!({"apiVersion": "v1", "kind": "Event", "metadata": metadata,
            "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "R", "message": "m"}),
        ResourceKind::Service => json!({"apiVersion": "v1", "kind": "Service",
            "metadata": metadata, "spec": {"selector": {"app": "a"}, "type": "NodePort",
            "ports": [{"port": 80, "targetPort": 8080}]}}),
        ResourceKind::Endpoints => json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": metadata, "subsets": [{"addresses": [{"ip": "10.0.0.1"}],
            "ports": [{"port": 8080}]}]}),
        ResourceKind::EndpointSlice => json!({"apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice", "metadata": metadata, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 8080}]}),
        ResourceKind::ConfigMap => json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": metadata, "data": {"a": "1"}}),
        ResourceKind::Secret => json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": metadata, "data": {"a": "MQ=="}, "stringData": {"b": "2"}}),
        ResourceKind::Lease => json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": metadata, "spec": {"holderIdentity": "n", "leaseDurationSeconds": 40,
            "renewTime": "2026-01-01T00:00:00.000000Z"}}),
        ResourceKind::ServiceAccount => json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": metadata, "secrets": [{"name": "s"}]}),
    }
}

/// `base` with random fields set at random paths (a few levels deep).
fn mutated(base: Value) -> impl Strategy<Value = Value> {
    let paths = prop::collection::vec(
        (
            prop::collection::vec(prop::sample::select(KEYS), 1..4),
            json_value(),
        ),
        0..4,
    );
    paths.prop_map(move |edits| {
        let mut object = base.clone();
        for (path, value) in edits {
            let mut at = &mut object;
            for (i, key) in path.iter().enumerate() {
                if !at.is_object() {
                    break;
                }
                let last = i + 1 == path.len();
                let Some(map) = at.as_object_mut() else { break };
                if last {
                    map.insert(key.to_string(), value.clone());
                    break;
                }
                at = map.entry(key.to_string()).or_insert_with(|| json!({}));
            }
        }
        object
    })
}

/// An object: fully random, or a valid one with random edits.
fn object(kind: ResourceKind) -> BoxedStrategy<Value> {
    prop_oneof![
        json_value(),
        mutated(valid(kind, "n")),
        Just(valid(kind, "n")),
    ]
    .boxed()
}

/// What the store might hold for `kind`: nothing, a random object, or a valid create's result
/// (possibly edited: finalizers, deletion in progress, status).
fn current(kind: ResourceKind) -> BoxedStrategy<Option<Value>> {
    let variants = stored_variants(kind);
    prop_oneof![
        1 => Just(None),
        1 => json_value().prop_map(Some),
        3 => prop::sample::select(variants.clone()).prop_map(Some),
        3 => prop::sample::select(variants).prop_flat_map(mutated).prop_map(Some),
    ]
    .boxed()
}

/// A stored object in the states that take `decide` down its longer paths: bound and
/// running, being deleted with a grace period, held by finalizers.
fn stored_variants(kind: ResourceKind) -> Vec<Value> {
    let base = stored(kind);
    let mut bound = base.clone();
    bound["spec"]["nodeName"] = json!("node-1");
    bound["status"]["phase"] = json!("Running");
    let mut deleting = bound.clone();
    deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:30Z");
    deleting["metadata"]["deletionGracePeriodSeconds"] = json!(30);
    let mut held = base.clone();
    held["metadata"]["finalizers"] = json!(["example.com/hold", "kubernetes"]);
    let mut held_deleting = held.clone();
    held_deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    vec![base, bound, deleting, held, held_deleting]
}

fn context_now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_767_225_600).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn stored(kind: ResourceKind) -> Value {
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
    let ctx = DecideContext {
        now: context_now(),
        new_uid: "uid-0",
        namespace: Some(&namespace),
        manager: "test",
        services: None,
    };
    let create = Command::Create {
        kind,
        namespace: if kind.namespaced() {
            "default".into()
        } else {
            String::new()
        },
        object: valid(kind, "n"),
    };
    decide(None, &create, &ctx)
        .ok()
        .and_then(|changes| changes.into_iter().last())
        .map(|change| {
            let mut object = change.object;
            object["metadata"]["resourceVersion"] = json!("7");
            object
        })
        .unwrap_or_else(|| valid(kind, "n"))
}

fn delete_options() -> impl Strategy<Value = DeleteOptions> {
    (
        prop::option::weighted(
            0.8,
            prop_oneof![any::<i64>(), Just(i64::MAX), Just(0i64), Just(-1i64)],
        ),
        prop::option::weighted(0.2, text()),
        prop::option::weighted(0.2, prop_oneof![Just("7".to_string()), text()]),
        prop::option::of(prop::sample::select(vec![
            Propagation::Background,
            Propagation::Foreground,
            Propagation::Orphan,
        ])),
    )
        .prop_map(|(grace, uid, rv, propagation)| DeleteOptions {
            grace_period_seconds: grace,
            precondition_uid: uid,
            precondition_resource_version: rv,
            propagation,
        })
}

fn command(kind: ResourceKind) -> BoxedStrategy<Command> {
    let namespace = if kind.namespaced() { "default" } else { "" }.to_string();
    let part = prop::sample::select(vec![
        UpdatePart::Main,
        UpdatePart::Status,
        UpdatePart::Finalize,
    ]);
    let ns = namespace.clone();
    let create = object(kind).prop_map(move |object| Command::Create {
        kind,
        namespace: ns.clone(),
        object,
    });
    let ns = namespace.clone();
    let update = (object(kind), part).prop_map(move |(object, part)| Command::Update {
        kind,
        namespace: ns.clone(),
        name: "n".into(),
        object,
        part,
    });
    let scale = (
        prop::sample::select(vec![ResourceKind::ReplicaSet, ResourceKind::Deployment]),
        any::<i32>(),
        prop::option::of(text()),
    )
        .prop_map(|(kind, replicas, rv)| Command::Scale {
            kind,
            namespace: "default".into(),
            name: "n".into(),
            replicas,
            resource_version: rv,
        });
    let bind = (text(), prop::option::of(text())).prop_map(|(node, uid)| Command::Bind {
        namespace: "default".into(),
        name: "n".into(),
        node,
        uid,
    });
    let ns = namespace.clone();
    let apply = (object(kind), any::<bool>()).prop_map(move |(config, force)| Command::Apply {
        kind,
        namespace: ns.clone(),
        name: "n".into(),
        config,
        force,
    });
    let ns = namespace;
    let delete = delete_options().prop_map(move |options| Command::Delete {
        kind,
        namespace: ns.clone(),
        name: "n".into(),
        options,
    });
    prop_oneof![
        2 => create,
        2 => update,
        1 => scale,
        1 => bind,
        2 => apply,
        2 => delete,
    ]
    .boxed()
}

fn case() -> impl Strategy<Value = (Option<Value>, Command, Option<Value>, i64)> {
    kind().prop_flat_map(|kind| {
        (
            current(kind),
            command(kind),
            prop::option::of(prop_oneof![
                Just(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})),
                Just(json!({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": "default", "deletionTimestamp": "2026-01-01T00:00:00Z"},
                            "status": {"phase": "Terminating"}})),
                json_value(),
            ]),
            prop_oneof![Just(0i64), any::<i64>()],
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn decide_never_panics((current, command, namespace, offset) in case()) {
        let now = jiff::Timestamp::MIN
            .checked_add(jiff::SignedDuration::from_secs(offset.rem_euclid(600_000_000_000)))
            .unwrap_or_else(|_| context_now());
        let ctx = DecideContext {
            now,
            new_uid: "uid-1",
            namespace: namespace.as_ref(),
            manager: "proptest",
            services: None,
        };
        let _ = decide(current.as_ref(), &command, &ctx);
    }
}
