//! ServiceAccount tokens over HTTP: `serviceaccounts/{name}/token` (TokenRequest, what
//! `kubectl create token` and kubelets ask) issues one, optionally bound to a Pod, Secret or
//! Node; `identify` maps a presented bearer token to the ServiceAccount's user once its
//! signature and lifetime hold and the objects it names still exist with the uids it names
//! (deleting a ServiceAccount, or the pod a token is bound to, revokes it). Tokens are never
//! stored: the log records what their holders write, under their names.

use super::AppState;
use super::error::ApiError;
use crate::auth::token::{
    self, Claims, DEFAULT_EXPIRATION_SECONDS, ISSUER, MIN_EXPIRATION_SECONDS, Ref,
};
use crate::model::ResourceKind;
use crate::model::meta;
use serde_json::{Value, json};

/// The longest lifetime a TokenRequest may ask for (Kubernetes' 2^32 seconds).
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A TokenRequest field refused as kube-apiserver's validation refuses it.
fn invalid(name: &str, field: &str, value: &Value, detail: &str) -> ApiError {
    let message = format!("Invalid value: {value}: {detail}");
    ApiError::Status {
        code: 422,
        reason: "Invalid",
        message: format!(
            "TokenRequest.authentication.k8s.io \"{name}\" is invalid: {field}: {message}"
        ),
        details: Some(json!({
            "name": name, "group": "authentication.k8s.io", "kind": "TokenRequest",
            "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}],
        })),
    }
}

/// The stored object `kind` `namespace/name`, parsed.
async fn stored(
    state: &AppState,
    kind: ResourceKind,
    namespace: &str,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    let Some(found) = state.store.get(kind, namespace, name).await? else {
        return Ok(None);
    };
    serde_json::from_str(&found.json)
        .map(Some)
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("stored {kind} {name}: {e}")))
}

/// The object a token is to be bound to, checked as kube-apiserver checks it.
async fn bound_object(
    state: &AppState,
    namespace: &str,
    serviceaccount: &str,
    reference: &Value,
) -> Result<(String, Ref), ApiError> {
    let kind = reference["kind"].as_str().unwrap_or("");
    let api_version = reference["apiVersion"].as_str().unwrap_or("v1");
    let name = reference["name"].as_str().unwrap_or("");
    let resource = match (api_version, kind) {
        ("v1", "Pod") => ResourceKind::Pod,
        ("v1", "Secret") => ResourceKind::Secret,
        ("v1", "Node") => ResourceKind::Node,
        _ => {
            let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
            let version = api_version.rsplit('/').next().unwrap_or(api_version);
            return Err(ApiError::bad_request(format!(
                "cannot bind token for serviceaccount \"{serviceaccount}\" to object of kind \
                 {group}/{version}, Kind={kind}"
            )));
        }
    };
    let scope = match resource {
        ResourceKind::Node => "",
        _ => namespace,
    };
    let object = stored(state, resource, scope, name)
        .await?
        .ok_or_else(|| ApiError::not_found(resource, name))?;
    if resource == ResourceKind::Pod
        && object
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .unwrap_or("default")
            != serviceaccount
    {
        return Err(ApiError::bad_request(format!(
            "cannot bind token for serviceaccount \"{serviceaccount}\" to pod running with \
             different serviceaccount name."
        )));
    }
    let uid = meta::uid(&object).to_string();
    if let Some(asked) = reference["uid"].as_str().filter(|u| !u.is_empty())
        && asked != uid
    {
        return Err(ApiError::conflict(
            kind,
            name,
            &format!(
                "the UID in the bound object reference ({asked}) does not match the UID in \
                 record. The object might have been deleted and then recreated"
            ),
        ));
    }
    Ok((
        kind.to_string(),
        Ref {
            name: name.to_string(),
            uid,
        },
    ))
}

/// Answer a TokenRequest for ServiceAccount `namespace/name`: the TokenRequest with
/// `status.token` and `status.expirationTimestamp`.
pub async fn request(
    state: &AppState,
    namespace: &str,
    name: &str,
    body: Value,
) -> Result<Value, ApiError> {
    let kind = body["kind"].as_str().unwrap_or("TokenRequest");
    let api_version = body["apiVersion"]
        .as_str()
        .unwrap_or("authentication.k8s.io/v1");
    if kind != "TokenRequest" || api_version != "authentication.k8s.io/v1" {
        return Err(ApiError::bad_request(format!(
            "the body is a {api_version} {kind}, not an authentication.k8s.io/v1 TokenRequest"
        )));
    }
    let spec = &body["spec"];
    let seconds_value = spec
        .get("expirationSeconds")
        .cloned()
        .unwrap_or(json!(DEFAULT_EXPIRATION_SECONDS));
    let seconds = seconds_value.as_i64().ok_or_else(|| {
        invalid(
            name,
            "spec.expirationSeconds",
            &seconds_value,
            "must be a whole number of seconds",
        )
    })?;
    if seconds < MIN_EXPIRATION_SECONDS {
        return Err(invalid(
            name,
            "spec.expirationSeconds",
            &seconds_value,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if seconds > MAX_EXPIRATION_SECONDS {
        return Err(invalid(
            name,
            "spec.expirationSeconds",
            &seconds_value,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let mut audiences = Vec::new();
    for audience in spec["audiences"].as_array().into_iter().flatten() {
        match audience.as_str() {
            Some(a) if !a.is_empty() => audiences.push(a.to_string()),
            _ => {
                return Err(invalid(
                    name,
                    "spec.audiences",
                    audience,
                    "an audience is a non-empty string",
                ));
            }
        }
    }
    let account = stored(state, ResourceKind::ServiceAccount, namespace, name)
        .await?
        .ok_or_else(|| ApiError::not_found(ResourceKind::ServiceAccount, name))?;
    let now = now();
    let mut claims = Claims::new(
        namespace,
        Ref {
            name: name.to_string(),
            uid: meta::uid(&account).to_string(),
        },
        &audiences,
        now,
        seconds,
    );
    let mut bound = Value::Null;
    if let Some(reference) = spec.get("boundObjectRef").filter(|r| !r.is_null()) {
        let (kind, object) = bound_object(state, namespace, name, reference).await?;
        bound = json!({
            "kind": kind,
            "apiVersion": reference["apiVersion"].as_str().unwrap_or("v1"),
            "name": object.name,
            "uid": object.uid,
        });
        claims = claims.bound_to(&kind, object);
    }
    let token = state.tokens.issue(&claims).map_err(|e| {
        ApiError::Unexpected(anyhow::anyhow!(
            "issuing a token for {namespace}/{name}: {e}"
        ))
    })?;
    let expires = jiff::Timestamp::from_second(claims.exp)
        .map(meta::format_time)
        .unwrap_or_default();
    let mut spec_out = json!({"audiences": claims.aud, "expirationSeconds": seconds});
    if !bound.is_null() {
        spec_out["boundObjectRef"] = bound;
    }
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": null},
        "spec": spec_out,
        "status": {"token": token, "expirationTimestamp": expires},
    }))
}

/// Whether an object a token names is still the one it was issued for.
async fn still_there(state: &AppState, kind: ResourceKind, namespace: &str, object: &Ref) -> bool {
    match stored(state, kind, namespace, &object.name).await {
        Ok(Some(found)) => {
            meta::uid(&found) == object.uid
                && meta::deletion_timestamp(&found)
                    .and_then(meta::parse_time)
                    .is_none_or(|at| at.as_second() > now())
        }
        _ => false,
    }
}

/// The user `bearer` authenticates as, when it is a valid ServiceAccount token of this server
/// whose ServiceAccount (and bound object) still exist.
pub async fn identify(state: &AppState, bearer: &str) -> Option<String> {
    let claims = match state.tokens.verify(bearer, ISSUER, now()) {
        Ok(claims) => claims,
        Err(rejected) => {
            tracing::debug!(%rejected, "bearer token refused");
            return None;
        }
    };
    let k = &claims.kubernetes;
    let ns = k.namespace.as_str();
    if !still_there(state, ResourceKind::ServiceAccount, ns, &k.serviceaccount).await {
        return None;
    }
    if let Some(pod) = &k.pod
        && !still_there(state, ResourceKind::Pod, ns, pod).await
    {
        return None;
    }
    if let Some(secret) = &k.secret
        && !still_there(state, ResourceKind::Secret, ns, secret).await
    {
        return None;
    }
    if let Some(node) = &k.node
        && !still_there(state, ResourceKind::Node, "", node).await
    {
        return None;
    }
    Some(token::username(ns, &k.serviceaccount.name))
}
