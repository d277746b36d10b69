//! ConfigMap, Secret and ServiceAccount validation (`ValidateConfigMap`, `ValidateSecret`,
//! `ValidateServiceAccount` and their updates): data keys, the 1 MiB limit, `immutable`, and
//! the keys each typed Secret needs. Secrets arrive here with `stringData` already folded into
//! `data` (admission does it first, as the conversion to the internal type does), so only
//! `data` is checked. Values are never written into an error: a bad one reads
//! `<secret contents redacted>`.

use super::field::{FieldError, NameKind, P, forbidden, invalid_s, required, too_long};
use super::formats::{FIELD_IMMUTABLE_ERR, is_config_map_key};
use super::objectmeta::validate_object_meta;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use std::collections::BTreeMap;

/// `core.MaxSecretSize`: what a ConfigMap's or a Secret's data may hold in all, in bytes.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

/// The Secret types whose keys Kubernetes checks, and the keys they name.
pub const SECRET_TYPE_SERVICE_ACCOUNT_TOKEN: &str = "kubernetes.io/service-account-token";
pub const SECRET_TYPE_DOCKERCFG: &str = "kubernetes.io/dockercfg";
pub const SECRET_TYPE_DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
pub const SECRET_TYPE_BASIC_AUTH: &str = "kubernetes.io/basic-auth";
pub const SECRET_TYPE_SSH_AUTH: &str = "kubernetes.io/ssh-auth";
pub const SECRET_TYPE_TLS: &str = "kubernetes.io/tls";
/// The annotation a service-account-token Secret names its ServiceAccount with.
pub const SERVICE_ACCOUNT_NAME_KEY: &str = "kubernetes.io/service-account.name";

const IMMUTABLE_SET_ERR: &str = "field is immutable when `immutable` is set";
const REDACTED: &str = "<secret contents redacted>";

fn data_keys<'a, V>(
    data: Option<&'a BTreeMap<String, V>>,
    p: &P,
    errs: &mut Vec<FieldError>,
) -> impl Iterator<Item = (&'a String, &'a V)> {
    for key in data.into_iter().flat_map(|d| d.keys()) {
        for message in is_config_map_key(key) {
            errs.push(invalid_s(&p.key(key), key, &message));
        }
    }
    data.into_iter().flatten()
}

/// `ValidateConfigMap`: a DNS subdomain name; `data` and `binaryData` keys valid, disjoint, and
/// at most 1 MiB in all.
pub fn validate_config_map(cm: &ConfigMap) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&cm.metadata, true, NameKind::Subdomain, "metadata");
    let binary = cm.binary_data.as_ref();
    let data_path = P::new("data");
    let mut total = 0usize;
    for (key, value) in data_keys(cm.data.as_ref(), &data_path, &mut errs).collect::<Vec<_>>() {
        if binary.is_some_and(|b| b.contains_key(key)) {
            errs.push(invalid_s(
                &data_path.key(key),
                key,
                "duplicate of key present in binaryData",
            ));
        }
        total = total.saturating_add(value.len());
    }
    let binary_path = P::new("binaryData");
    for (_, value) in data_keys(binary, &binary_path, &mut errs).collect::<Vec<_>>() {
        total = total.saturating_add(value.0.len());
    }
    if total > MAX_SECRET_SIZE {
        // Kubernetes names the whole object, a path with an empty root: `[]`.
        errs.push(too_long(&P::new("[]"), MAX_SECRET_SIZE));
    }
    errs
}

/// `ValidateConfigMapUpdate`: once `immutable`, neither its data nor the flag may change.
pub fn validate_config_map_update(new: &ConfigMap, old: &ConfigMap) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.immutable == Some(true) {
        if new.immutable != Some(true) {
            errs.push(forbidden(&P::new("immutable"), IMMUTABLE_SET_ERR));
        }
        if new.data != old.data {
            errs.push(forbidden(&P::new("data"), IMMUTABLE_SET_ERR));
        }
        if new.binary_data != old.binary_data {
            errs.push(forbidden(&P::new("binaryData"), IMMUTABLE_SET_ERR));
        }
    }
    errs.extend(validate_config_map(new));
    errs
}

/// What Go's `json.Unmarshal` into a `map[string]interface{}` says of `bytes`, when it fails.
fn json_object_error(bytes: &[u8]) -> Option<String> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(_) | serde_json::Value::Null) => None,
        Ok(other) => {
            let what = match other {
                serde_json::Value::Array(_) => "array",
                serde_json::Value::String(_) => "string",
                serde_json::Value::Number(_) => "number",
                _ => "bool",
            };
            Some(format!(
                "json: cannot unmarshal {what} into Go value of type map[string]interface {{}}"
            ))
        }
        Err(e) if e.is_eof() => Some("unexpected end of JSON input".to_string()),
        Err(_) => {
            let first = String::from_utf8_lossy(bytes)
                .chars()
                .find(|c| !c.is_whitespace())
                .unwrap_or(' ');
            Some(format!(
                "invalid character '{first}' looking for beginning of value"
            ))
        }
    }
}

/// `ValidateSecret`: a DNS subdomain name; valid `data` keys, at most 1 MiB in all; the keys
/// (or annotation) its `type` requires.
pub fn validate_secret(secret: &Secret) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&secret.metadata, true, NameKind::Subdomain, "metadata");
    let data_path = P::new("data");
    let data: Option<&BTreeMap<String, ByteString>> = secret.data.as_ref();
    let total = data_keys(data, &data_path, &mut errs)
        .map(|(_, v)| v.0.len())
        .fold(0usize, usize::saturating_add);
    if total > MAX_SECRET_SIZE {
        errs.push(too_long(&data_path, MAX_SECRET_SIZE));
    }
    let value = |key: &str| data.and_then(|d| d.get(key)).map(|v| v.0.as_slice());
    match secret.type_.as_deref().unwrap_or("") {
        SECRET_TYPE_SERVICE_ACCOUNT_TOKEN => {
            let named = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(SERVICE_ACCOUNT_NAME_KEY))
                .is_some_and(|v| !v.is_empty());
            if !named {
                errs.push(required(
                    &P::new("metadata")
                        .child("annotations")
                        .key(SERVICE_ACCOUNT_NAME_KEY),
                    "",
                ));
            }
        }
        SECRET_TYPE_DOCKERCFG | SECRET_TYPE_DOCKER_CONFIG_JSON => {
            let key = if secret.type_.as_deref() == Some(SECRET_TYPE_DOCKERCFG) {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match value(key) {
                None => errs.push(required(&data_path.key(key), "")),
                Some(bytes) => {
                    if let Some(message) = json_object_error(bytes) {
                        errs.push(invalid_s(&data_path.key(key), REDACTED, &message));
                    }
                }
            }
        }
        SECRET_TYPE_BASIC_AUTH => {
            // Either may be empty, but one of them must be there.
            if value("username").is_none() && value("password").is_none() {
                errs.push(required(&data_path.key("username"), ""));
                errs.push(required(&data_path.key("password"), ""));
            }
        }
        SECRET_TYPE_SSH_AUTH => {
            if value("ssh-privatekey").is_none_or(<[u8]>::is_empty) {
                errs.push(required(&data_path.key("ssh-privatekey"), ""));
            }
        }
        SECRET_TYPE_TLS => {
            for key in ["tls.crt", "tls.key"] {
                if value(key).is_none() {
                    errs.push(required(&data_path.key(key), ""));
                }
            }
        }
        // Opaque, and any other type (helm's `helm.sh/release.v1`): no keys required.
        _ => {}
    }
    errs
}

/// `ValidateSecretUpdate`: the type never changes; once `immutable`, neither its data nor the
/// flag may change.
pub fn validate_secret_update(new: &Secret, old: &Secret) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if new.type_ != old.type_ {
        errs.push(invalid_s(
            &P::new("type"),
            new.type_.as_deref().unwrap_or(""),
            FIELD_IMMUTABLE_ERR,
        ));
    }
    if old.immutable == Some(true) {
        if new.immutable != Some(true) {
            errs.push(forbidden(&P::new("immutable"), IMMUTABLE_SET_ERR));
        }
        if new.data != old.data {
            errs.push(forbidden(&P::new("data"), IMMUTABLE_SET_ERR));
        }
    }
    errs.extend(validate_secret(new));
    errs
}

/// `ValidateServiceAccount`: its metadata (a DNS subdomain name).
pub fn validate_service_account(sa: &ServiceAccount) -> Vec<FieldError> {
    validate_object_meta(&sa.metadata, true, NameKind::Subdomain, "metadata")
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Case, expect, message_of};
    use super::*;
    use crate::model::defaults::default_secret;
    use crate::model::validation::field::FieldErrorReason::{
        Forbidden, Invalid, Required, TooLong,
    };
    use serde_json::{Value, json};

    fn config_map(body: Value) -> ConfigMap {
        let mut v = json!({"metadata": {"name": "settings", "namespace": "default"}});
        super::super::testing::merge(&mut v, body);
        serde_json::from_value(v).unwrap()
    }

    fn secret(body: Value) -> Secret {
        let mut v = json!({"metadata": {"name": "creds", "namespace": "default"}});
        super::super::testing::merge(&mut v, body);
        let mut s: Secret = serde_json::from_value(v).unwrap();
        default_secret(&mut s);
        s
    }

    fn b64(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn config_map_table() {
        let big = "x".repeat(MAX_SECRET_SIZE / 2 + 1);
        let cases: Vec<Case> = vec![
            (
                "valid",
                json!({"data": {"a.conf": "x", "B_2-c": "y"}, "binaryData": {"bin": b64("z")}}),
                vec![],
            ),
            (
                "bad name",
                json!({"metadata": {"name": "Settings"}}),
                vec![("metadata.name", Invalid)],
            ),
            (
                "slash in a key",
                json!({"data": {"a/b": "x"}}),
                vec![("data[a/b]", Invalid)],
            ),
            (
                "dot",
                json!({"data": {".": "x"}}),
                vec![("data[.]", Invalid)],
            ),
            (
                "dot dot",
                json!({"data": {"..": "x"}}),
                vec![("data[..]", Invalid)],
            ),
            (
                "dot dot prefix",
                json!({"data": {"..a": "x"}}),
                vec![("data[..a]", Invalid)],
            ),
            ("a dot prefix is fine", json!({"data": {".a": "x"}}), vec![]),
            (
                "empty key",
                json!({"data": {"": "x"}}),
                vec![("data[]", Invalid)],
            ),
            (
                "both bags",
                json!({"data": {"a": "x"}, "binaryData": {"a": b64("x")}}),
                vec![("data[a]", Invalid)],
            ),
            (
                "over 1 MiB in all",
                json!({"data": {"a": big}, "binaryData": {"b": b64(&big)}}),
                vec![("[]", TooLong)],
            ),
        ];
        for (name, body, want) in cases {
            expect(name, &validate_config_map(&config_map(body)), &want);
        }
        let errs = validate_config_map(&config_map(json!({"data": {"..": "x", "a b": "y"}})));
        assert_eq!(
            message_of(&errs, "data[..]"),
            "Invalid value: \"..\": must not be '..'"
        );
        assert_eq!(
            message_of(&errs, "data[a b]"),
            "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, \
             '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for \
             validation is '[-._a-zA-Z0-9]+')"
        );
        let long = "k".repeat(254);
        let errs =
            validate_config_map(&config_map(json!({"binaryData": {long.clone(): b64("x")}})));
        assert_eq!(
            message_of(&errs, &format!("binaryData[{long}]")),
            format!("Invalid value: \"{long}\": must be no more than 253 characters")
        );
        let errs = validate_config_map(&config_map(
            json!({"data": {"a": "x".repeat(MAX_SECRET_SIZE + 1)}}),
        ));
        assert_eq!(
            message_of(&errs, "[]"),
            "Too long: may not be more than 1048576 bytes"
        );
    }

    #[test]
    fn immutable_config_maps_keep_their_data() {
        let old = config_map(json!({"data": {"a": "1"}, "immutable": true}));
        let cases: Vec<Case> = vec![
            (
                "labels may change",
                json!({"data": {"a": "1"}, "immutable": true, "metadata": {"labels": {"x": "y"}}}),
                vec![],
            ),
            (
                "data",
                json!({"data": {"a": "2"}, "immutable": true}),
                vec![("data", Forbidden)],
            ),
            (
                "binaryData",
                json!({"data": {"a": "1"}, "binaryData": {"b": b64("x")}, "immutable": true}),
                vec![("binaryData", Forbidden)],
            ),
            (
                "unset",
                json!({"data": {"a": "1"}}),
                vec![("immutable", Forbidden)],
            ),
            (
                "false",
                json!({"data": {"a": "1"}, "immutable": false}),
                vec![("immutable", Forbidden)],
            ),
        ];
        for (name, body, want) in cases {
            expect(
                name,
                &validate_config_map_update(&config_map(body), &old),
                &want,
            );
        }
        let errs = validate_config_map_update(&config_map(json!({})), &old);
        assert_eq!(
            message_of(&errs, "data"),
            "Forbidden: field is immutable when `immutable` is set"
        );
        // A mutable one may become immutable, with new data in the same write.
        let mutable = config_map(json!({"data": {"a": "1"}}));
        let frozen = config_map(json!({"data": {"a": "2"}, "immutable": true}));
        assert!(validate_config_map_update(&frozen, &mutable).is_empty());
    }

    #[test]
    fn secret_table() {
        let cases: Vec<Case> = vec![
            (
                "opaque",
                json!({"data": {"password": b64("s3cr3t")}}),
                vec![],
            ),
            (
                "helm's release type is opaque",
                json!({"type": "helm.sh/release.v1", "data": {"release": b64("x")}}),
                vec![],
            ),
            (
                "bad key",
                json!({"data": {"a:b": b64("x")}}),
                vec![("data[a:b]", Invalid)],
            ),
            (
                "over 1 MiB",
                json!({"data": {"a": b64(&"x".repeat(MAX_SECRET_SIZE)), "b": b64("y")}}),
                vec![("data", TooLong)],
            ),
            (
                "token without its account",
                json!({"type": "kubernetes.io/service-account-token"}),
                vec![(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    Required,
                )],
            ),
            (
                "token naming its account",
                json!({"type": "kubernetes.io/service-account-token",
                       "metadata": {"annotations": {"kubernetes.io/service-account.name": "default"}}}),
                vec![],
            ),
            (
                "dockerconfigjson without its key",
                json!({"type": "kubernetes.io/dockerconfigjson"}),
                vec![("data[.dockerconfigjson]", Required)],
            ),
            (
                "dockerconfigjson not JSON",
                json!({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64("{oops")}}),
                vec![("data[.dockerconfigjson]", Invalid)],
            ),
            (
                "dockerconfigjson",
                json!({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64("{\"auths\":{}}")}}),
                vec![],
            ),
            (
                "dockercfg without its key",
                json!({"type": "kubernetes.io/dockercfg"}),
                vec![("data[.dockercfg]", Required)],
            ),
            (
                "basic-auth without either",
                json!({"type": "kubernetes.io/basic-auth"}),
                vec![("data[username]", Required), ("data[password]", Required)],
            ),
            (
                "basic-auth with a password",
                json!({"type": "kubernetes.io/basic-auth", "data": {"password": ""}}),
                vec![],
            ),
            (
                "ssh-auth empty",
                json!({"type": "kubernetes.io/ssh-auth", "data": {"ssh-privatekey": ""}}),
                vec![("data[ssh-privatekey]", Required)],
            ),
            (
                "tls without its key",
                json!({"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c")}}),
                vec![("data[tls.key]", Required)],
            ),
            (
                "tls",
                json!({"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c"), "tls.key": b64("k")}}),
                vec![],
            ),
        ];
        for (name, body, want) in cases {
            expect(name, &validate_secret(&secret(body)), &want);
        }
        let errs = validate_secret(&secret(json!({"type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": b64("[1]")}})));
        assert_eq!(
            message_of(&errs, "data[.dockerconfigjson]"),
            "Invalid value: \"<secret contents redacted>\": json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        let errs = validate_secret(&secret(json!({"type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": b64("nope")}})));
        assert_eq!(
            message_of(&errs, "data[.dockerconfigjson]"),
            "Invalid value: \"<secret contents redacted>\": invalid character 'n' looking for beginning of value"
        );
        assert_eq!(
            message_of(
                &validate_secret(&secret(json!({"type": "kubernetes.io/tls"}))),
                "data[tls.crt]"
            ),
            "Required value"
        );
    }

    #[test]
    fn a_secret_keeps_its_type_and_immutable_data() {
        let old = secret(json!({"data": {"a": b64("1")}}));
        let errs = validate_secret_update(
            &secret(json!({"type": "kubernetes.io/basic-auth", "data": {"username": b64("u")}})),
            &old,
        );
        expect("type changed", &errs, &[("type", Invalid)]);
        assert_eq!(
            message_of(&errs, "type"),
            "Invalid value: \"kubernetes.io/basic-auth\": field is immutable"
        );
        // Defaulting gives an update without a type the default one, so it stays Opaque.
        assert!(validate_secret_update(&secret(json!({"data": {"a": b64("2")}})), &old).is_empty());
        let frozen = secret(json!({"data": {"a": b64("1")}, "immutable": true}));
        let cases: Vec<Case> = vec![
            (
                "same",
                json!({"data": {"a": b64("1")}, "immutable": true}),
                vec![],
            ),
            (
                "data",
                json!({"data": {"a": b64("2")}, "immutable": true}),
                vec![("data", Forbidden)],
            ),
            (
                "unset",
                json!({"data": {"a": b64("1")}}),
                vec![("immutable", Forbidden)],
            ),
        ];
        for (name, body, want) in cases {
            expect(name, &validate_secret_update(&secret(body), &frozen), &want);
        }
    }

    #[test]
    fn service_account_table() {
        let sa = |name: &str| -> ServiceAccount {
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"},
                "secrets": [{"name": "s"}], "imagePullSecrets": [{"name": "p"}]}))
            .unwrap()
        };
        expect("valid", &validate_service_account(&sa("build-bot")), &[]);
        expect(
            "bad name",
            &validate_service_account(&sa("Build_Bot")),
            &[("metadata.name", Invalid)],
        );
    }
}
