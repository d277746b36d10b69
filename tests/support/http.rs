//! HTTP helpers several suites share: a client that trusts a data directory's CA, its token,
//! a request's status and JSON body, an object's resourceVersion, a `why` chain in brief.

use serde_json::Value;
use std::path::Path;

/// A client builder that trusts the CA in data directory `dir` (and only it).
pub fn trusting(dir: &Path) -> reqwest::ClientBuilder {
    let ca = std::fs::read(dir.join("ca.crt")).expect("ca.crt");
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("ca pem")])
}

/// The bearer token in data directory `dir`.
pub fn token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("token"))
        .expect("token")
        .trim()
        .to_string()
}

/// Send a request; the HTTP status and the JSON body (a string when it is not JSON).
pub async fn answer(request: reqwest::RequestBuilder) -> Result<(u16, Value), reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

/// An object's `metadata.resourceVersion` as a number.
pub fn resource_version(object: &Value) -> i64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or_else(|| panic!("a resourceVersion in {object}"))
}

/// The links of a `Why` body, each as `Kind name: Type by actor`, the event asked about first.
pub fn why_links(why: &Value) -> Vec<String> {
    why["chain"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            format!(
                "{} {}: {} by {}",
                l["involvedObject"]["kind"].as_str().unwrap_or(""),
                l["involvedObject"]["name"].as_str().unwrap_or(""),
                l["type"].as_str().unwrap_or(""),
                l["actor"].as_str().unwrap_or("")
            )
        })
        .collect()
}
