//! The decoder against bodies built from JSON as Go's protobuf `Marshal` builds them (every
//! non-pointer field written, zero or not), and the rules table against the descriptors (the
//! descriptors against the `.proto` files: `e2e::protobuf`).

use super::*;
use prost_reflect::prost::Message;
use serde_json::json;
use std::collections::HashMap;

/// Every message reachable from a kind the server serves, and its fields.
fn reachable() -> Vec<MessageDescriptor> {
    let mut seen: HashMap<String, MessageDescriptor> = HashMap::new();
    let mut queue: Vec<MessageDescriptor> = crate::model::ResourceKind::ALL
        .into_iter()
        .map(|k| message_for(k.api_version(), k.as_str()).expect("served kind has a message"))
        .collect();
    queue.push(message_for("v1", "DeleteOptions").unwrap());
    queue.push(message_for("v1", "Binding").unwrap());
    queue.push(message_for("autoscaling/v1", "Scale").unwrap());
    while let Some(message) = queue.pop() {
        if seen.contains_key(message.full_name()) {
            continue;
        }
        for field in message.fields() {
            if let Kind::Message(target) = field.kind() {
                queue.push(if target.is_map_entry() {
                    match target.map_entry_value_field().kind() {
                        Kind::Message(value) => value,
                        _ => continue,
                    }
                } else {
                    target
                });
            }
        }
        seen.insert(message.full_name().to_string(), message);
    }
    seen.into_values().collect()
}

#[test]
fn every_field_of_every_served_kind_has_its_go_rule() {
    let rules = Rules::get();
    let mut missing = Vec::new();
    for message in reachable() {
        // Their JSON is their Go MarshalJSON, not their fields.
        if special(&DynamicMessage::new(message.clone()), &message)
            .unwrap()
            .is_some()
        {
            continue;
        }
        for field in message.fields() {
            if !rules.has_field(field.full_name()) {
                missing.push(format!("{}.{}", message.full_name(), field.name()));
            }
        }
    }
    assert!(missing.is_empty(), "no Go rule for {missing:?}");
}

#[test]
fn the_rules_table_parses_whole() {
    let lines = rules::Rules::parse(include_str!("../../../proto/go-fields.tsv")).len();
    let expected = include_str!("../../../proto/go-fields.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    assert_eq!(lines, expected);
}

/// Build the protobuf message of `json` as Go's generated `Marshal` would: non-pointer scalars
/// and structs are always written, pointers only when the JSON has them.
fn encode(descriptor: &MessageDescriptor, json: &Value) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    let name = descriptor.full_name();
    let field = |n: &str| descriptor.get_field_by_name(n).unwrap();
    match name {
        n if n == format!("{META}.Time") || n == format!("{META}.MicroTime") => {
            if let Some(text) = json.as_str() {
                let t: jiff::Timestamp = text.parse().unwrap();
                message.set_field(&field("seconds"), Proto::I64(t.as_second()));
                message.set_field(&field("nanos"), Proto::I32(t.subsec_nanosecond()));
            }
            return message;
        }
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => {
            match json {
                Value::String(s) => {
                    message.set_field(&field("type"), Proto::I64(1));
                    message.set_field(&field("strVal"), Proto::String(s.clone()));
                }
                other => {
                    message.set_field(&field("type"), Proto::I64(0));
                    message.set_field(&field("intVal"), Proto::I32(other.as_i64().unwrap() as i32));
                }
            }
            return message;
        }
        "k8s.io.apimachinery.pkg.api.resource.Quantity" => {
            message.set_field(
                &field("string"),
                Proto::String(json.as_str().unwrap().into()),
            );
            return message;
        }
        n if n == format!("{RUNTIME}.RawExtension") || n == format!("{META}.FieldsV1") => {
            let raw = serde_json::to_vec(json).unwrap();
            message.set_field(
                &descriptor.fields().next().unwrap(),
                Proto::Bytes(raw.into()),
            );
            return message;
        }
        _ => {}
    }
    let rules = Rules::get();
    for f in descriptor.fields() {
        let rule = rules.field(f.full_name());
        let value = if rule.inline {
            Some(json)
        } else {
            json.get(rule.json_name(&f)).filter(|v| !v.is_null())
        };
        if f.is_list() {
            let Some(Value::Array(items)) = value else {
                continue;
            };
            let items = items.iter().map(|i| element(&f.kind(), i)).collect();
            message.set_field(&f, Proto::List(items));
        } else if f.is_map() {
            let Some(Value::Object(entries)) = value else {
                continue;
            };
            let Kind::Message(entry) = f.kind() else {
                unreachable!()
            };
            let value_kind = entry.map_entry_value_field().kind();
            let map = entries
                .iter()
                .map(|(k, v)| (MapKey::String(k.clone()), element(&value_kind, v)))
                .collect();
            message.set_field(&f, Proto::Map(map));
        } else {
            match (value, rule.ptr) {
                (Some(v), _) => message.set_field(&f, element(&f.kind(), v)),
                (None, true) => {}
                (None, false) => message.set_field(&f, Proto::default_value(&f.kind())),
            }
        }
    }
    message
}

fn element(kind: &Kind, json: &Value) -> Proto {
    match kind {
        Kind::Message(m) => Proto::Message(encode(m, json)),
        Kind::String => Proto::String(json.as_str().unwrap().into()),
        Kind::Bool => Proto::Bool(json.as_bool().unwrap()),
        Kind::Int32 => Proto::I32(json.as_i64().unwrap() as i32),
        Kind::Int64 => Proto::I64(json.as_i64().unwrap()),
        Kind::Double => Proto::F64(json.as_f64().unwrap()),
        Kind::Bytes => Proto::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(json.as_str().unwrap())
                .unwrap()
                .into(),
        ),
        other => panic!("no fixture encoding for {other:?}"),
    }
}

/// `k8s\0` + `runtime.Unknown` around `object`'s message.
fn body_of(object: &Value) -> Vec<u8> {
    let api_version = object["apiVersion"].as_str().unwrap();
    let kind = object["kind"].as_str().unwrap();
    let raw = encode(&message_for(api_version, kind).unwrap(), object).encode_to_vec();
    envelope_bytes(api_version, kind, &raw)
}

fn envelope_bytes(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let unknown = message_descriptor(&format!("{RUNTIME}.Unknown")).unwrap();
    let mut type_meta =
        DynamicMessage::new(message_descriptor(&format!("{RUNTIME}.TypeMeta")).unwrap());
    type_meta.set_field_by_name("apiVersion", Proto::String(api_version.into()));
    type_meta.set_field_by_name("kind", Proto::String(kind.into()));
    let mut message = DynamicMessage::new(unknown);
    message.set_field_by_name("typeMeta", Proto::Message(type_meta));
    message.set_field_by_name("raw", Proto::Bytes(raw.to_vec().into()));
    message.set_field_by_name("contentEncoding", Proto::String(String::new()));
    message.set_field_by_name("contentType", Proto::String(String::new()));
    let mut body = MAGIC.to_vec();
    body.extend(message.encode_to_vec());
    body
}

fn round_trip(object: Value) {
    let decoded = decode(&body_of(&object)).unwrap();
    assert_eq!(
        decoded,
        object,
        "\n{}",
        serde_json::to_string_pretty(&decoded).unwrap()
    );
}

/// What kubectl 1.37 prints for `create deployment web --image=nginx:1.27 --replicas=3
/// --port=80 --dry-run=client -o json`: Go's JSON of the object it then sends as protobuf.
fn kubectl_create_deployment() -> Value {
    json!({
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "nginx",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 80}],
                    "resources": {}
                }]}
            },
            "strategy": {}
        },
        "status": {}
    })
}

#[test]
fn decodes_the_deployment_kubectl_create_deployment_sends() {
    round_trip(kubectl_create_deployment());
}

#[test]
fn decodes_a_full_deployment_with_probes_resources_env_and_volumes() {
    round_trip(json!({
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": "api",
            "namespace": "shop",
            "labels": {"app": "api", "tier": "backend"},
            "annotations": {"note": "full"},
            "finalizers": ["example.com/keep"]
        },
        "spec": {
            "replicas": 0,
            "selector": {
                "matchLabels": {"app": "api"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend"]}]
            },
            "template": {
                "metadata": {"labels": {"app": "api", "tier": "backend"}},
                "spec": {
                    "volumes": [
                        {"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}},
                        {"name": "config", "configMap": {"name": "api-config", "defaultMode": 420, "items": [{"key": "a", "path": "a.txt"}]}},
                        {"name": "secret", "secret": {"secretName": "api-secret", "optional": false}}
                    ],
                    "initContainers": [{
                        "name": "init",
                        "image": "busybox",
                        "command": ["sh", "-c", "true"],
                        "resources": {}
                    }],
                    "containers": [{
                        "name": "api",
                        "image": "example/api:1",
                        "args": ["--port", "8080"],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "env": [
                            {"name": "MODE", "value": "prod"},
                            {"name": "EMPTY"},
                            {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"containerName": "api", "resource": "limits.cpu", "divisor": "1m"}}},
                            {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "api-secret", "key": "k", "optional": true}}}
                        ],
                        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "api-config"}}],
                        "resources": {
                            "limits": {"cpu": "500m", "memory": "256Mi"},
                            "requests": {"cpu": "100m", "memory": "128Mi"}
                        },
                        "volumeMounts": [
                            {"name": "scratch", "mountPath": "/tmp"},
                            {"name": "config", "readOnly": true, "mountPath": "/etc/api"}
                        ],
                        "livenessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                            "initialDelaySeconds": 5,
                            "timeoutSeconds": 1,
                            "periodSeconds": 10,
                            "successThreshold": 1,
                            "failureThreshold": 3
                        },
                        "readinessProbe": {
                            "tcpSocket": {"port": 8080},
                            "periodSeconds": 5
                        },
                        "startupProbe": {
                            "exec": {"command": ["cat", "/tmp/ready"]},
                            "terminationGracePeriodSeconds": 0
                        },
                        "lifecycle": {"preStop": {"sleep": {"seconds": 2}}},
                        "imagePullPolicy": "IfNotPresent",
                        "securityContext": {"runAsNonRoot": false, "runAsUser": 0, "allowPrivilegeEscalation": false}
                    }],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 0,
                    "automountServiceAccountToken": false,
                    "nodeSelector": {"disk": "ssd"},
                    "securityContext": {"fsGroup": 2000},
                    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 0}],
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "api"}}, "topologyKey": "kubernetes.io/hostname"}
                    }]}}
                }
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
            "revisionHistoryLimit": 0,
            "progressDeadlineSeconds": 600
        },
        "status": {}
    }));
}

#[test]
fn decodes_a_pod_with_status_times_and_managed_fields() {
    round_trip(json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": "p",
            "namespace": "default",
            "uid": "0b4c3d2e-0000-4000-8000-000000000001",
            "resourceVersion": "12",
            "creationTimestamp": "2026-01-02T03:04:05Z",
            "deletionTimestamp": "2026-01-02T03:05:05Z",
            "deletionGracePeriodSeconds": 0,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [{
                "manager": "kubectl-run",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2026-01-02T03:04:05Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:containers": {"k:{\"name\":\"p\"}": {".": {}}}}}
            }]
        },
        "spec": {
            "containers": [{"name": "p", "image": "busybox", "resources": {}}],
            "nodeName": "node-1"
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-01-02T03:04:06Z"}],
            "podIP": "10.0.0.7",
            "startTime": "2026-01-02T03:04:05Z",
            "containerStatuses": [{
                "name": "p",
                "state": {"running": {"startedAt": "2026-01-02T03:04:06Z"}},
                "lastState": {},
                "ready": true,
                "restartCount": 0,
                "image": "busybox",
                "imageID": "",
                "started": true
            }]
        }
    }));
}

#[test]
fn decodes_the_namespace_kubectl_create_namespace_sends() {
    round_trip(json!({
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "demo", "labels": {"team": "a"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {}
    }));
}

#[test]
fn decodes_an_event_with_micro_time_and_a_lease_with_durations() {
    round_trip(json!({
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": "e", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "reason": "Started",
        "message": "started",
        "source": {},
        "firstTimestamp": "2026-01-02T03:04:05Z",
        "lastTimestamp": null,
        "count": 1,
        "type": "Normal",
        "eventTime": "2026-01-02T03:04:05.123456Z",
        "reportingComponent": "",
        "reportingInstance": ""
    }));
    round_trip(json!({
        "kind": "Lease",
        "apiVersion": "coordination.k8s.io/v1",
        "metadata": {"name": "l"},
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 0, "renewTime": "2026-01-02T03:04:05.000001Z"}
    }));
}

#[test]
fn decodes_delete_options_as_kubectl_drain_sends_them() {
    // The bytes kubectl-wire.md section 16 records for `kubectl drain`.
    let body = hex("6b3873000a130a027631120d44656c6574654f7074696f6e7312001a002200");
    let envelope = envelope(&body).unwrap();
    assert_eq!(
        (envelope.api_version.as_str(), envelope.kind.as_str()),
        ("v1", "DeleteOptions")
    );
    assert_eq!(
        object(&envelope).unwrap(),
        json!({"apiVersion": "v1", "kind": "DeleteOptions"})
    );
    round_trip(json!({
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "u", "resourceVersion": "7"},
        "propagationPolicy": "Foreground",
        "dryRun": ["All"]
    }));
}

#[test]
fn reads_the_envelope_kubectl_create_namespace_sends() {
    // The start of the bytes kubectl-wire.md section 16 records for `create namespace demo`.
    let prefix = hex("6b3873000a0f0a02763112094e616d657370616365");
    let body = body_of(
        &json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "demo"}, "spec": {}, "status": {}}),
    );
    assert!(body.starts_with(&prefix));
}

#[test]
fn pointer_zeros_stay_and_omitempty_zeros_go() {
    let spec = message_for("apps/v1", "Deployment").unwrap();
    let mut deployment = DynamicMessage::new(spec.clone());
    let spec_field = spec.get_field_by_name("spec").unwrap();
    let Kind::Message(spec_message) = spec_field.kind() else {
        unreachable!()
    };
    let mut inner = DynamicMessage::new(spec_message);
    inner.set_field_by_name("replicas", Proto::I32(0));
    inner.set_field_by_name("minReadySeconds", Proto::I32(0));
    inner.set_field_by_name("paused", Proto::Bool(false));
    deployment.set_field(&spec_field, Proto::Message(inner));
    let body = envelope_bytes("apps/v1", "Deployment", &deployment.encode_to_vec());
    let decoded = decode(&body).unwrap();
    // replicas is *int32; minReadySeconds and paused are omitempty values; template, a
    // struct, is always written, and its pod spec's containers (nil) are not.
    assert_eq!(
        decoded["spec"],
        json!({"replicas": 0, "strategy": {}, "template": {"metadata": {}, "spec": {}}})
    );
    assert_eq!(decoded["metadata"], json!({}));
}

#[test]
fn refuses_garbage_without_panicking() {
    assert_eq!(decode(b"{}"), Err(DecodeError::NoMagic));
    assert!(matches!(
        decode(b"k8s\0\xff\xff"),
        Err(DecodeError::Malformed(_))
    ));
    let unknown = envelope_bytes("example.com/v1", "Widget", b"");
    assert!(matches!(
        decode(&unknown),
        Err(DecodeError::UnknownKind { .. })
    ));
    let bad_name = envelope_bytes("v1", "../Pod", b"");
    assert!(matches!(
        decode(&bad_name),
        Err(DecodeError::UnknownKind { .. })
    ));
    // A Pod whose metadata field holds a truncated message.
    let truncated = envelope_bytes("v1", "Pod", &[0x0a, 0x05, 0x0a]);
    assert!(matches!(decode(&truncated), Err(DecodeError::Malformed(_))));
    // Nesting: the served kinds' messages are not recursive, so no body nests deeper than
    // their schema; a chain of length-delimited fields is read as what the schema says.
    let mut deep = Vec::new();
    for _ in 0..200 {
        let mut outer = vec![0x12];
        outer.extend(varint(deep.len() as u64));
        outer.extend(deep);
        deep = outer;
    }
    let _ = decode(&envelope_bytes("v1", "Pod", &deep));
    // Invalid embedded JSON in managedFields.
    let mut fields = DynamicMessage::new(message_descriptor(&format!("{META}.FieldsV1")).unwrap());
    fields.set_field_by_name("Raw", Proto::Bytes(b"{not json".to_vec().into()));
    let mut entry =
        DynamicMessage::new(message_descriptor(&format!("{META}.ManagedFieldsEntry")).unwrap());
    entry.set_field_by_name("fieldsV1", Proto::Message(fields));
    let mut meta = DynamicMessage::new(message_descriptor(&format!("{META}.ObjectMeta")).unwrap());
    meta.set_field_by_name("managedFields", Proto::List(vec![Proto::Message(entry)]));
    let mut pod = DynamicMessage::new(message_for("v1", "Pod").unwrap());
    pod.set_field_by_name("metadata", Proto::Message(meta));
    let bad_json = envelope_bytes("v1", "Pod", &pod.encode_to_vec());
    assert!(matches!(decode(&bad_json), Err(DecodeError::Malformed(_))));
}

#[test]
fn random_bytes_never_panic() {
    // A cheap deterministic generator: every prefix and every byte flip of a real body.
    let body = body_of(&kubectl_create_deployment());
    for end in 0..body.len() {
        let _ = decode(&body[..end]);
    }
    for i in MAGIC.len()..body.len() {
        for bit in [0x01u8, 0x80, 0xff] {
            let mut flipped = body.clone();
            flipped[i] ^= bit;
            let _ = decode(&flipped);
        }
    }
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every non-pointer and repeated message field set (once per path): what Go writes whatever
/// the client asked for.
fn filled(descriptor: &MessageDescriptor, path: &mut Vec<String>) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    if special(&message, descriptor).unwrap().is_some() {
        return message;
    }
    path.push(descriptor.full_name().to_string());
    let rules = Rules::get();
    for field in descriptor.fields() {
        let Kind::Message(target) = field.kind() else {
            continue;
        };
        let ptr = rules.field(field.full_name()).ptr;
        if field.is_map() || ptr || path.iter().any(|p| p == target.full_name()) {
            continue;
        }
        let sub = Proto::Message(filled(&target, path));
        if field.is_list() {
            message.set_field(&field, Proto::List(vec![sub]));
        } else {
            message.set_field(&field, sub);
        }
    }
    path.pop();
    message
}

/// The JSON names of the repeated fields of the messages a served kind reaches.
fn list_names() -> Vec<String> {
    reachable()
        .iter()
        .flat_map(|m| {
            m.fields()
                .filter(|f| f.is_list())
                .map(|f| Rules::get().field(f.full_name()).json_name(&f))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn what_go_always_writes_is_known_to_admission() {
    // kubectl sends fieldValidation=Strict: a field newer than the admission schema that Go
    // writes even unset (a non-pointer one) would refuse every protobuf body. Newer repeated
    // fields appear only when a client fills them, as in JSON.
    let lists = list_names();
    for kind in crate::model::ResourceKind::ALL {
        let descriptor = message_for(kind.api_version(), kind.as_str()).unwrap();
        let message = filled(&descriptor, &mut Vec::new());
        let body = envelope_bytes(kind.api_version(), kind.as_str(), &message.encode_to_vec());
        let object = decode(&body).unwrap();
        let unknown: Vec<String> = crate::model::admit::unknown_fields(kind, &object)
            .into_iter()
            .filter(|path| {
                let last = path.rsplit('.').next().unwrap_or(path);
                let name = last.split('[').next().unwrap_or(last);
                !lists.iter().any(|l| l == name)
            })
            .collect();
        assert!(unknown.is_empty(), "{kind:?}: {unknown:?}");
    }
}
