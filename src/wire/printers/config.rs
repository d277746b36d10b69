//! ConfigMap, Secret and ServiceAccount rows: `printConfigMap` (DATA: data and binaryData keys),
//! `printSecret` (TYPE, DATA: data keys) and `printServiceAccount` (SECRETS). A row counts keys,
//! never shows a value.

use jiff::Timestamp;
use serde_json::Value;

use super::age;
use crate::model::meta::Lookup as _;

pub(super) const CONFIG_MAP_DATA_DESC: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
pub(super) const SECRET_TYPE_DESC: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
pub(super) const SECRET_DATA_DESC: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
pub(super) const SERVICE_ACCOUNT_SECRETS_DESC: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";

fn keys(object: &Value, field: &str) -> usize {
    object
        .get(field)
        .and_then(Value::as_object)
        .map_or(0, serde_json::Map::len)
}

pub(super) fn config_map_cells(cm: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(cm.str_at("/metadata/name")),
        Value::from(keys(cm, "data") + keys(cm, "binaryData")),
        Value::from(age(cm, now)),
    ]
}

pub(super) fn secret_cells(secret: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(secret.str_at("/metadata/name")),
        Value::from(secret.str_at("/type")),
        Value::from(keys(secret, "data")),
        Value::from(age(secret, now)),
    ]
}

pub(super) fn service_account_cells(sa: &Value, now: Timestamp) -> Vec<Value> {
    let secrets = sa
        .get("secrets")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    vec![
        Value::from(sa.str_at("/metadata/name")),
        Value::from(secrets),
        Value::from(age(sa, now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ago, now, s};
    use super::super::{cells, columns};
    use serde_json::{Value, json};

    fn names(kind: &str) -> Vec<&'static str> {
        columns(kind).iter().map(|c| c.name).collect()
    }

    #[test]
    fn config_map_secret_and_service_account_rows() {
        assert_eq!(names("ConfigMap"), ["Name", "Data", "Age"]);
        assert_eq!(names("Secret"), ["Name", "Type", "Data", "Age"]);
        assert_eq!(names("ServiceAccount"), ["Name", "Secrets", "Age"]);
        let cm = json!({"metadata": {"name": "settings", "creationTimestamp": ago(90)},
            "data": {"a": "1", "b": "2"}, "binaryData": {"c": "Mw=="}});
        assert_eq!(
            cells("ConfigMap", &cm, now()),
            vec![s("settings"), Value::from(3), s("90s")]
        );
        let empty = json!({"metadata": {"name": "empty", "creationTimestamp": ago(3600)}});
        assert_eq!(
            cells("ConfigMap", &empty, now()),
            vec![s("empty"), Value::from(0), s("60m")]
        );
        let secret = json!({"metadata": {"name": "tls", "creationTimestamp": ago(5)},
            "type": "kubernetes.io/tls", "data": {"tls.crt": "Yw==", "tls.key": "aw=="}});
        assert_eq!(
            cells("Secret", &secret, now()),
            vec![s("tls"), s("kubernetes.io/tls"), Value::from(2), s("5s")]
        );
        let sa = json!({"metadata": {"name": "default", "creationTimestamp": ago(86400 * 3)}});
        assert_eq!(
            cells("ServiceAccount", &sa, now()),
            vec![s("default"), Value::from(0), s("3d")]
        );
        let with_secrets = json!({"metadata": {"name": "bot"}, "secrets": [{"name": "a"}]});
        assert_eq!(
            cells("ServiceAccount", &with_secrets, now())[1],
            Value::from(1)
        );
    }
}
