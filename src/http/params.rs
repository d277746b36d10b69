//! Query parameters: ListOptions (selectors, limit/continue, resourceVersion, watch),
//! write options (dryRun, fieldManager) and DeleteOptions, parsed and checked into plain values.

use super::error::ApiError;
use crate::events::{DeleteOptions, Propagation};
use crate::model::ResourceKind;
use crate::model::fields;
use crate::model::filter::ObjectFilter;
use crate::model::selector::{FieldSelector, LabelSelector};
use base64::Engine;
use serde_json::{Value, json};
use std::time::Duration;

/// Decoded query string; repeated keys keep every value.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query_string: &str) -> Result<Self, ApiError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(query_string)
            .map(Query)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("") | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value for {key}: {other:?} (expected true or false)"
            ))),
        }
    }

    fn integer(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid value for {key}: {v:?} (expected an integer)"
                    ))
                })
            })
            .transpose()
    }
}

/// `dryRun`: only `All` is a valid value, as in kube-apiserver.
pub fn dry_run(values: &[&str]) -> Result<bool, ApiError> {
    let mut dry = false;
    for v in values {
        match *v {
            "All" => dry = true,
            "" => {}
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid dryRun value: {other:?}; supported values: \"All\""
                )));
            }
        }
    }
    Ok(dry)
}

/// Where a list resumes: the snapshot's resourceVersion and the last key returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continue {
    pub resource_version: i64,
    /// The list reads the log at `resource_version` (`resourceVersionMatch=Exact`), not the
    /// current projections.
    pub exact: bool,
    pub namespace: String,
    pub name: String,
}

/// The version tag of the continue tokens this server writes.
const CONTINUE_VERSION: &str = "kubetrail/v1";

/// Longest namespace or name a continue token may carry: a Kubernetes name is at most 253.
const CONTINUE_KEY_MAX: usize = 253;

impl Continue {
    pub fn encode(&self) -> String {
        let mut token = json!({"v": CONTINUE_VERSION, "rv": self.resource_version, "ns": self.namespace, "name": self.name});
        if self.exact {
            token["exact"] = json!(true);
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
    }

    /// Decode and check a token as kube-apiserver's `DecodeContinue` does: base64 of a JSON
    /// object of a version this server writes, a positive resourceVersion, a non-empty start
    /// key that is a plain key (no path separators or control characters, of a name's length).
    /// Anything else is a 400 `BadRequest` that reads nothing.
    pub fn decode(token: &str) -> Result<Self, ApiError> {
        let invalid = |why: &str| {
            ApiError::bad_request(format!(
                "invalid continue token: continue key is not valid{why}"
            ))
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|e| invalid(&format!(": {e}")))?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| invalid(&format!(": {e}")))?;
        match value.get("v").and_then(Value::as_str) {
            Some(CONTINUE_VERSION) => {}
            _ => return Err(invalid(": server does not recognize this encoded version")),
        }
        let resource_version = value
            .get("rv")
            .and_then(Value::as_i64)
            .filter(|rv| *rv > 0)
            .ok_or_else(|| {
                invalid(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
            })?;
        let key = |field: &str| -> Result<String, ApiError> {
            let text = value
                .get(field)
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(""))?;
            let plain = text.len() <= CONTINUE_KEY_MAX
                && !text.contains('/')
                && !text.chars().any(char::is_control);
            if plain {
                Ok(text.to_string())
            } else {
                Err(invalid(""))
            }
        };
        let name = key("name")?;
        if name.is_empty() {
            return Err(invalid(
                ": encoded start key empty (version meta.k8s.io/v1)",
            ));
        }
        Ok(Continue {
            resource_version,
            exact: value.get("exact").and_then(Value::as_bool).unwrap_or(false),
            namespace: key("ns")?,
            name,
        })
    }
}

/// A `resourceVersion` parameter: empty is none; otherwise an unsigned decimal, as
/// kube-apiserver parses it, within what this server's log can number.
pub fn resource_version(value: Option<&str>) -> Result<Option<i64>, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .and_then(|rv| i64::try_from(rv).ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {v:?}"))),
    }
}

/// ListOptions for a list or watch.
#[derive(Debug, Clone)]
pub struct ListOptions {
    pub filter: ObjectFilter,
    pub limit: Option<usize>,
    pub continue_from: Option<Continue>,
    pub resource_version: Option<i64>,
    pub watch: bool,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
}

impl ListOptions {
    pub fn parse(kind: ResourceKind, query: &Query) -> Result<Self, ApiError> {
        let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let field_selector = FieldSelector::parse(query.get("fieldSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        for requirement in field_selector.requirements() {
            if !fields::is_supported(kind, &requirement.field) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    requirement.field
                )));
            }
        }
        let limit = query
            .integer("limit")?
            .filter(|l| *l > 0)
            .map(|l| l as usize);
        let continue_from = query
            .get("continue")
            .filter(|c| !c.is_empty())
            .map(Continue::decode)
            .transpose()?;
        let resource_version = resource_version(query.get("resourceVersion"))?;
        let timeout = query
            .integer("timeoutSeconds")?
            .filter(|t| *t > 0)
            .map(|t| Duration::from_secs(t as u64));
        Ok(ListOptions {
            filter: ObjectFilter {
                kind,
                labels,
                fields: field_selector,
            },
            limit,
            continue_from,
            resource_version,
            watch: query.flag("watch")?,
            bookmarks: query.flag("allowWatchBookmarks")?,
            send_initial_events: query.flag("sendInitialEvents")?,
            timeout,
        })
    }
}

/// DeleteOptions from the body (JSON) and the query string; the body wins.
pub fn delete_options(
    query: &Query,
    body: Option<&Value>,
) -> Result<(DeleteOptions, bool), ApiError> {
    let mut options = DeleteOptions {
        grace_period_seconds: query.integer("gracePeriodSeconds")?,
        propagation: query
            .get("propagationPolicy")
            .map(parse_propagation)
            .transpose()?,
        ..Default::default()
    };
    let mut dry = dry_run(&query.all("dryRun"))?;
    if let Some(body) = body {
        if let Some(grace) = body.get("gracePeriodSeconds").filter(|v| !v.is_null()) {
            options.grace_period_seconds =
                Some(grace.as_i64().ok_or_else(|| {
                    ApiError::bad_request("gracePeriodSeconds must be an integer")
                })?);
        }
        if let Some(policy) = body.get("propagationPolicy").and_then(Value::as_str) {
            options.propagation = Some(parse_propagation(policy)?);
        }
        if body.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            options.propagation = Some(Propagation::Orphan);
        }
        if let Some(pre) = body.get("preconditions") {
            options.precondition_uid = pre.get("uid").and_then(Value::as_str).map(str::to_string);
            options.precondition_resource_version = pre
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if let Some(values) = body.get("dryRun").and_then(Value::as_array) {
            let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            dry = dry || dry_run(&values)?;
        }
    }
    Ok((options, dry))
}

fn parse_propagation(policy: &str) -> Result<Propagation, ApiError> {
    match policy {
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        "Orphan" => Ok(Propagation::Orphan),
        other => Err(ApiError::bad_request(format!(
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

/// `fieldValidation`: what to do with fields the kind does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

impl FieldValidation {
    /// Kubernetes' default (since 1.27) is `Warn`.
    pub fn parse(query: &Query) -> Result<Self, ApiError> {
        match query.get("fieldValidation").unwrap_or("") {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Strict" => Ok(FieldValidation::Strict),
            "Ignore" => Ok(FieldValidation::Ignore),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other:?}; supported values: \"Ignore\", \"Warn\", \"Strict\""
            ))),
        }
    }
}
