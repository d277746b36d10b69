//! Kubernetes v1.33-exact validation (field paths and apimachinery `field.Error` messages) for
//! Pod, apps/v1 ReplicaSet, Node, Namespace and core/v1 Event, on the k8s-openapi types.
//! Pure functions over already-defaulted objects; no I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ContainerStatus, EnvFromSource, EnvVar, Event, HTTPGetAction,
    LifecycleHandler, Namespace, Node, ObjectFieldSelector, Pod, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecurityContext, Taint,
    Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

// ---------------------------------------------------------------------------------------------
// Field errors
// ---------------------------------------------------------------------------------------------

/// One invalid field, shaped like apimachinery's `field.Error`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Field path, e.g. `spec.containers[0].image`.
    pub path: String,
    /// Machine-readable reason.
    pub reason: FieldErrorReason,
    /// Exactly `field.Error.ErrorBody()`, e.g. `Required value`.
    pub message: String,
}

/// The `field.ErrorType` of a [`FieldError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FieldErrorReason {
    Required,
    Invalid,
    Duplicate,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    NotFound,
}

impl FieldErrorReason {
    /// The `metav1.CauseType` string used in a Status `details.causes[].reason`.
    pub fn as_cause_reason(&self) -> &'static str {
        match self {
            FieldErrorReason::Required => "FieldValueRequired",
            FieldErrorReason::Invalid => "FieldValueInvalid",
            FieldErrorReason::Duplicate => "FieldValueDuplicate",
            FieldErrorReason::NotSupported => "FieldValueNotSupported",
            FieldErrorReason::Forbidden => "FieldValueForbidden",
            FieldErrorReason::TooLong => "FieldValueTooLong",
            FieldErrorReason::TooMany => "FieldValueTooMany",
            FieldErrorReason::NotFound => "FieldValueNotFound",
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Which name rule `metadata.name` / `metadata.generateName` must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// DNS-1123 subdomain (pods, replicasets, nodes, events).
    Subdomain,
    /// DNS-1123 label (namespaces).
    Label,
}

type Errs = Vec<FieldError>;

/// A field path under construction (`field.Path`).
#[derive(Debug, Clone)]
struct P(String);

impl P {
    fn new(s: &str) -> P {
        P(s.to_string())
    }
    fn child(&self, name: &str) -> P {
        if self.0.is_empty() {
            P(name.to_string())
        } else {
            P(format!("{}.{}", self.0, name))
        }
    }
    fn index(&self, i: usize) -> P {
        P(format!("{}[{}]", self.0, i))
    }
    fn key(&self, k: &str) -> P {
        P(format!("{}[{}]", self.0, k))
    }
}

fn with_detail(base: String, detail: &str) -> String {
    if detail.is_empty() {
        base
    } else {
        format!("{base}: {detail}")
    }
}

fn mk(p: &P, reason: FieldErrorReason, message: String) -> FieldError {
    FieldError {
        path: p.0.clone(),
        reason,
        message,
    }
}

fn required(p: &P, detail: &str) -> FieldError {
    mk(
        p,
        FieldErrorReason::Required,
        with_detail("Required value".into(), detail),
    )
}

fn forbidden(p: &P, detail: &str) -> FieldError {
    mk(
        p,
        FieldErrorReason::Forbidden,
        with_detail("Forbidden".into(), detail),
    )
}

/// `field.Invalid` with an already rendered bad value.
fn invalid_raw(p: &P, rendered: &str, detail: &str) -> FieldError {
    mk(
        p,
        FieldErrorReason::Invalid,
        with_detail(format!("Invalid value: {rendered}"), detail),
    )
}

fn invalid_s(p: &P, value: &str, detail: &str) -> FieldError {
    invalid_raw(p, &go_quote(value), detail)
}

fn invalid_i(p: &P, value: i64, detail: &str) -> FieldError {
    invalid_raw(p, &value.to_string(), detail)
}

fn duplicate_raw(p: &P, rendered: &str, detail: &str) -> FieldError {
    mk(
        p,
        FieldErrorReason::Duplicate,
        with_detail(format!("Duplicate value: {rendered}"), detail),
    )
}

fn duplicate_s(p: &P, value: &str) -> FieldError {
    duplicate_raw(p, &go_quote(value), "")
}

fn not_found_s(p: &P, value: &str, detail: &str) -> FieldError {
    mk(
        p,
        FieldErrorReason::NotFound,
        with_detail(format!("Not found: {}", go_quote(value)), detail),
    )
}

fn not_supported(p: &P, value: &str, valid: &[&str]) -> FieldError {
    let detail = if valid.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
        format!("supported values: {}", quoted.join(", "))
    };
    mk(
        p,
        FieldErrorReason::NotSupported,
        with_detail(format!("Unsupported value: {}", go_quote(value)), &detail),
    )
}

fn too_long(p: &P, max: usize) -> FieldError {
    mk(
        p,
        FieldErrorReason::TooLong,
        format!("Too long: may not be more than {max} bytes"),
    )
}

#[allow(dead_code)]
fn too_many(p: &P, actual: usize, max: usize) -> FieldError {
    mk(
        p,
        FieldErrorReason::TooMany,
        format!("Too many: {actual}: must have at most {max} items"),
    )
}

// ---------------------------------------------------------------------------------------------
// Go value rendering (fmt %q / %#v as used by ErrorBody in k8s 1.33)
// ---------------------------------------------------------------------------------------------

/// Go's `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `%#v` of a `map[string]string`.
fn go_map(m: Option<&BTreeMap<String, String>>) -> String {
    match m {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
                .collect();
            format!("map[string]string{{{}}}", parts.join(", "))
        }
    }
}

/// `%#v` of a `[]string`.
fn go_strings(v: Option<&Vec<String>>) -> String {
    match v {
        None => "[]string(nil)".to_string(),
        Some(v) => {
            let parts: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
            format!("[]string{{{}}}", parts.join(", "))
        }
    }
}

/// `%#v` of a `metav1.LabelSelector` value.
fn go_label_selector(sel: &LabelSelector) -> String {
    let exprs = match &sel.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let parts: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(&r.key),
                        go_quote(&r.operator),
                        go_strings(r.values.as_ref())
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", parts.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_map(sel.match_labels.as_ref()),
        exprs
    )
}

fn go_bool_ptr(b: Option<bool>) -> String {
    match b {
        None => "(*bool)(nil)".to_string(),
        Some(b) => format!("(*bool)({b})"),
    }
}

fn go_owner_ref(r: &OwnerReference) -> String {
    format!(
        "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}, Controller:{}, BlockOwnerDeletion:{}}}",
        go_quote(&r.api_version),
        go_quote(&r.kind),
        go_quote(&r.name),
        go_quote(&r.uid),
        go_bool_ptr(r.controller),
        go_bool_ptr(r.block_owner_deletion)
    )
}

fn go_taint(t: &Taint) -> String {
    let time = match &t.time_added {
        None => "(*v1.Time)(nil)".to_string(),
        Some(ts) => format!("(*v1.Time)({})", go_quote(&ts.0.to_string())),
    };
    format!(
        "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:{}}}",
        go_quote(&t.key),
        go_quote(t.value.as_deref().unwrap_or("")),
        go_quote(&t.effect),
        time
    )
}

// ---------------------------------------------------------------------------------------------
// apimachinery/pkg/util/validation string formats
// ---------------------------------------------------------------------------------------------

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_UNDERSCORE_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character";
const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_ERR: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const HTTP_HEADER_NAME_FMT: &str = "[-A-Za-z0-9]+";
const HTTP_HEADER_NAME_ERR: &str =
    "a valid HTTP header must consist of alphanumeric characters or '-'";
const RELAXED_ENV_VAR_ERR: &str = "a valid environment variable name must consist only of printable ASCII characters other than '='";
const IS_NEGATIVE_ERR: &str = "must be greater than or equal to 0";
const FIELD_IMMUTABLE_ERR: &str = "field is immutable";
const FILE_MODE_ERR: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const QUANTITY_ERR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
const MAX_INT32: i64 = i32::MAX as i64;

fn regex_error(msg: &str, fmt_: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt_}')");
    }
    let mut m = format!("{msg} (e.g. ");
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            m.push_str(" or ");
        }
        let _ = write!(m, "'{ex}', ");
    }
    let _ = write!(m, "regex used for validation is '{fmt_}')");
    m
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && s.chars().all(|c| is_lower_alnum(c) || c == '-')
        && is_lower_alnum(b[0] as char)
        && is_lower_alnum(b[b.len() - 1] as char)
}

fn matches_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(matches_dns1123_label)
}

fn matches_dns1123_label_underscore(s: &str) -> bool {
    let s = s.strip_prefix('_').unwrap_or(s);
    let b = s.as_bytes();
    !b.is_empty()
        && s.chars().all(|c| is_lower_alnum(c) || c == '-' || c == '_')
        && is_lower_alnum(b[0] as char)
        && is_lower_alnum(b[b.len() - 1] as char)
}

fn matches_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

fn is_dns1123_label(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !matches_dns1123_label(v) {
        if matches_dns1123_subdomain(v) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

fn is_dns1123_subdomain(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !matches_dns1123_subdomain(v) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

fn is_dns1123_subdomain_with_underscore(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len_error(253));
    }
    if v.is_empty() || !v.split('.').all(matches_dns1123_label_underscore) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_UNDERSCORE_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

fn is_qualified_name(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = v.split('/').collect();
    let name = match parts.len() {
        1 => parts[0],
        2 => {
            let prefix = parts[0];
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                for m in is_dns1123_subdomain(prefix) {
                    errs.push(format!("prefix part {m}"));
                }
            }
            parts[1]
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

fn is_valid_label_value(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !v.is_empty() && !matches_qualified_name_part(v) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if port.is_empty() || !port.chars().all(|c| is_lower_alnum(c) || c == '-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !port.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

fn is_relaxed_env_var_name(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if v.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(RELAXED_ENV_VAR_ERR.to_string());
    }
    errs
}

fn has_chdir_prefix(v: &str) -> Vec<String> {
    if v == "." {
        vec!["must not be '.'".into()]
    } else if v == ".." {
        vec!["must not be '..'".into()]
    } else if v.starts_with("..") {
        vec!["must not start with '..'".into()]
    } else {
        Vec::new()
    }
}

fn is_config_map_key(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len_error(253));
    }
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        errs.push(regex_error(
            CONFIG_MAP_KEY_ERR,
            CONFIG_MAP_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(has_chdir_prefix(v));
    errs
}

fn is_http_header_name(v: &str) -> Vec<String> {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Vec::new()
    } else {
        vec![regex_error(
            HTTP_HEADER_NAME_ERR,
            HTTP_HEADER_NAME_FMT,
            &["X-Header-Name"],
        )]
    }
}

fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        // Go: name[:len(name)-2] + "a" (replaces the two last bytes).
        let cut = name.len() - 2;
        if name.is_char_boundary(cut) {
            return format!("{}a", &name[..cut]);
        }
    }
    name.to_string()
}

fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        is_dns1123_subdomain(&mask_trailing_dash(name))
    } else {
        is_dns1123_subdomain(name)
    }
}

fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        is_dns1123_label(&mask_trailing_dash(name))
    } else {
        is_dns1123_label(name)
    }
}

/// `path.ValidatePathSegmentName` (the generic registry's name rule).
fn name_is_path_segment(name: &str, prefix: bool) -> Vec<String> {
    if !prefix {
        for bad in [".", ".."] {
            if name == bad {
                return vec![format!("may not be '{bad}'")];
            }
        }
    }
    let mut errs = Vec::new();
    for bad in ["/", "%"] {
        if name.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

fn dns_label(v: &str, p: &P, errs: &mut Errs) {
    for m in is_dns1123_label(v) {
        errs.push(invalid_s(p, v, &m));
    }
}

fn dns_subdomain(v: &str, p: &P, errs: &mut Errs) {
    for m in is_dns1123_subdomain(v) {
        errs.push(invalid_s(p, v, &m));
    }
}

fn qualified_name(v: &str, p: &P, errs: &mut Errs) {
    for m in is_qualified_name(v) {
        errs.push(invalid_s(p, v, &m));
    }
}

fn nonnegative(v: i64, p: &P, errs: &mut Errs) {
    if v < 0 {
        errs.push(invalid_i(p, v, IS_NEGATIVE_ERR));
    }
}

fn validate_labels(labels: Option<&BTreeMap<String, String>>, p: &P, errs: &mut Errs) {
    for (k, v) in labels.into_iter().flatten() {
        qualified_name(k, p, errs);
        for m in is_valid_label_value(v) {
            errs.push(invalid_s(p, v, &m));
        }
    }
}

fn is_valid_ip(v: &str) -> bool {
    v.parse::<std::net::IpAddr>().is_ok()
}

fn valid_ip(v: &str, p: &P, errs: &mut Errs) {
    if !is_valid_ip(v) {
        errs.push(invalid_s(
            p,
            v,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
    }
}

fn valid_cidr(v: &str, p: &P, errs: &mut Errs) {
    let ok = match v.split_once('/') {
        Some((ip, bits)) => match (ip.parse::<std::net::IpAddr>(), bits.parse::<u8>()) {
            (Ok(std::net::IpAddr::V4(_)), Ok(b)) => b <= 32 && !bits.starts_with('+'),
            (Ok(std::net::IpAddr::V6(_)), Ok(b)) => b <= 128 && !bits.starts_with('+'),
            _ => false,
        },
        None => false,
    };
    if !ok {
        errs.push(invalid_s(
            p,
            v,
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Quantities
// ---------------------------------------------------------------------------------------------

/// How a quantity was written; determines its canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityFormat {
    /// `Ki`, `Mi`, ... suffixes.
    BinarySI,
    /// `m`, `k`, `M`, ... (or no) suffix.
    DecimalSI,
    /// `e3`, `E6`, ... suffixes.
    DecimalExponent,
}

/// A parsed `resource.Quantity`, held exactly in units of 10^-9 (rounded up), saturating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedQuantity {
    /// Value multiplied by 10^9.
    pub nanos: i128,
    /// Format used for the canonical rendering.
    pub format: QuantityFormat,
}

const NANO: i128 = 1_000_000_000;

fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

/// Parses a Kubernetes quantity string (`resource.ParseQuantity`).
pub fn parse_quantity(s: &str) -> Result<ParsedQuantity, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(QUANTITY_ERR.to_string());
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if bytes[0] == b'+' || bytes[0] == b'-' {
        negative = bytes[0] == b'-';
        i = 1;
    }
    let num_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    let num = &s[num_start..i];
    let suffix = &s[i..];
    let (int_part, frac_part) = match num.split_once('.') {
        Some((a, b)) => (a, b),
        None => (num, ""),
    };
    if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
        return Err(QUANTITY_ERR.to_string());
    }
    // (base, exponent): value = mantissa * base^exponent
    let (base, exp, format): (i128, i32, QuantityFormat) = match suffix {
        "" => (10, 0, QuantityFormat::DecimalSI),
        "n" => (10, -9, QuantityFormat::DecimalSI),
        "u" => (10, -6, QuantityFormat::DecimalSI),
        "m" => (10, -3, QuantityFormat::DecimalSI),
        "k" => (10, 3, QuantityFormat::DecimalSI),
        "M" => (10, 6, QuantityFormat::DecimalSI),
        "G" => (10, 9, QuantityFormat::DecimalSI),
        "T" => (10, 12, QuantityFormat::DecimalSI),
        "P" => (10, 15, QuantityFormat::DecimalSI),
        "E" => (10, 18, QuantityFormat::DecimalSI),
        "Ki" => (2, 10, QuantityFormat::BinarySI),
        "Mi" => (2, 20, QuantityFormat::BinarySI),
        "Gi" => (2, 30, QuantityFormat::BinarySI),
        "Ti" => (2, 40, QuantityFormat::BinarySI),
        "Pi" => (2, 50, QuantityFormat::BinarySI),
        "Ei" => (2, 60, QuantityFormat::BinarySI),
        _ => {
            let rest = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))
                .ok_or_else(|| QUANTITY_ERR.to_string())?;
            let digits = rest
                .strip_prefix('+')
                .or_else(|| rest.strip_prefix('-'))
                .unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(QUANTITY_ERR.to_string());
            }
            let e: i32 = rest.parse().map_err(|_| QUANTITY_ERR.to_string())?;
            (10, e, QuantityFormat::DecimalExponent)
        }
    };
    // mantissa = digits (int+frac) * 10^-len(frac)
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let frac_len = frac_part.len() as i64;
    let sat = |neg: bool| if neg { i128::MIN + 1 } else { i128::MAX };
    if digits.is_empty() {
        return Ok(ParsedQuantity { nanos: 0, format });
    }
    if digits.len() > 36 {
        return Ok(ParsedQuantity {
            nanos: sat(negative),
            format,
        });
    }
    let mantissa: i128 = digits.parse().map_err(|_| QUANTITY_ERR.to_string())?;
    // Value in nanos = mantissa * base^exp * 10^(9 - frac_len)
    let mut num: i128 = mantissa;
    let mut den: i128 = 1;
    let dec_exp: i64 = 9 - frac_len + if base == 10 { exp as i64 } else { 0 };
    let overflow = || ParsedQuantity {
        nanos: sat(negative),
        format,
    };
    if base == 2 {
        num = match num.checked_mul(1i128 << exp) {
            Some(v) => v,
            None => return Ok(overflow()),
        };
    }
    if dec_exp >= 0 {
        let m = match u32::try_from(dec_exp).ok().and_then(pow10) {
            Some(m) => m,
            None => return Ok(overflow()),
        };
        num = match num.checked_mul(m) {
            Some(v) => v,
            None => return Ok(overflow()),
        };
    } else {
        den = u32::try_from(-dec_exp)
            .ok()
            .and_then(pow10)
            .unwrap_or(i128::MAX);
    }
    // Round up (towards +inf for positive amounts, away from zero overall as Go does for nano scale).
    let mut nanos = num / den + i128::from(num % den != 0);
    if negative {
        nanos = -nanos;
    }
    Ok(ParsedQuantity { nanos, format })
}

const DECIMAL_SUFFIXES: [(i32, &str); 10] = [
    (18, "E"),
    (15, "P"),
    (12, "T"),
    (9, "G"),
    (6, "M"),
    (3, "k"),
    (0, ""),
    (-3, "m"),
    (-6, "u"),
    (-9, "n"),
];

const BINARY_SUFFIXES: [(u32, &str); 7] = [
    (60, "Ei"),
    (50, "Pi"),
    (40, "Ti"),
    (30, "Gi"),
    (20, "Mi"),
    (10, "Ki"),
    (0, ""),
];

impl ParsedQuantity {
    /// The canonical string form (`Quantity.String()`).
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.unsigned_abs();
        let mut format = self.format;
        if format == QuantityFormat::BinarySI
            && (abs < 1024 * NANO as u128 || !abs.is_multiple_of(NANO as u128))
        {
            format = QuantityFormat::DecimalSI;
        }
        match format {
            QuantityFormat::BinarySI => {
                let whole = abs / NANO as u128;
                for (shift, suffix) in BINARY_SUFFIXES {
                    let unit = 1u128 << shift;
                    if whole.is_multiple_of(unit) {
                        return format!("{sign}{}{suffix}", whole / unit);
                    }
                }
                format!("{sign}{whole}")
            }
            QuantityFormat::DecimalSI | QuantityFormat::DecimalExponent => {
                for (exp, suffix) in DECIMAL_SUFFIXES {
                    let unit = 10u128.pow((exp + 9) as u32);
                    if abs.is_multiple_of(unit) {
                        let mant = abs / unit;
                        return if format == QuantityFormat::DecimalExponent {
                            if exp == 0 {
                                format!("{sign}{mant}")
                            } else {
                                format!("{sign}{mant}e{exp}")
                            }
                        } else {
                            format!("{sign}{mant}{suffix}")
                        };
                    }
                }
                format!("{sign}{abs}n")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Object metadata
// ---------------------------------------------------------------------------------------------

type NameFn = fn(&str, bool) -> Vec<String>;

fn validate_annotations(ann: Option<&BTreeMap<String, String>>, p: &P, errs: &mut Errs) {
    let mut total = 0usize;
    for (k, v) in ann.into_iter().flatten() {
        for m in is_qualified_name(&k.to_lowercase()) {
            errs.push(invalid_s(p, k, &m));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(too_long(p, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
}

fn parse_group_version(api_version: &str) -> Option<(String, String)> {
    if api_version.is_empty() || api_version == "/" {
        return Some((String::new(), String::new()));
    }
    match api_version.matches('/').count() {
        0 => Some((String::new(), api_version.to_string())),
        1 => api_version
            .split_once('/')
            .map(|(g, v)| (g.to_string(), v.to_string())),
        _ => None,
    }
}

fn validate_owner_references(refs: Option<&Vec<OwnerReference>>, p: &P, errs: &mut Errs) {
    let Some(refs) = refs else { return };
    let mut first_controller: Option<String> = None;
    for r in refs {
        let (group, version) = parse_group_version(&r.api_version).unwrap_or_default();
        if version.is_empty() {
            errs.push(invalid_s(
                &p.child("apiVersion"),
                &r.api_version,
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(invalid_s(
                &p.child("kind"),
                &r.kind,
                "kind must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(invalid_s(
                &p.child("name"),
                &r.name,
                "name must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(invalid_s(&p.child("uid"), &r.uid, "uid must not be empty"));
        }
        if group.is_empty() && version == "v1" && r.kind == "Event" {
            errs.push(invalid_raw(
                p,
                &go_owner_ref(r),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let cur = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => {
                    let rendered: Vec<String> = refs.iter().map(go_owner_ref).collect();
                    errs.push(invalid_raw(
                        p,
                        &format!("[]v1.OwnerReference{{{}}}", rendered.join(", ")),
                        &format!(
                            "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {cur}"
                        ),
                    ));
                }
                None => first_controller = Some(cur),
            }
        }
    }
}

fn validate_finalizers_generic(finalizers: Option<&Vec<String>>, p: &P, errs: &mut Errs) {
    let Some(list) = finalizers else { return };
    for f in list {
        qualified_name(f, p, errs);
    }
    if list.iter().any(|f| f == "orphan") && list.iter().any(|f| f == "foregroundDeletion") {
        errs.push(invalid_raw(
            p,
            &go_strings(Some(list)),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

fn validate_kube_finalizer_name(v: &str, p: &P, errs: &mut Errs) {
    if !v.contains('/') && !matches!(v, "kubernetes" | "orphan" | "foregroundDeletion") {
        errs.push(invalid_s(
            p,
            v,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
}

/// apimachinery `ValidateObjectMetaAccessor`.
fn validate_object_meta_generic(
    meta: &ObjectMeta,
    namespaced: bool,
    name_fn: NameFn,
    p: &P,
    errs: &mut Errs,
) {
    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        for m in name_fn(generate_name, true) {
            errs.push(invalid_s(&p.child("generateName"), generate_name, &m));
        }
    }
    let name = meta.name.as_deref().unwrap_or("");
    if name.is_empty() {
        errs.push(required(
            &p.child("name"),
            "name or generateName is required",
        ));
    } else {
        for m in name_fn(name, false) {
            errs.push(invalid_s(&p.child("name"), name, &m));
        }
    }
    let ns = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if ns.is_empty() {
            errs.push(required(&p.child("namespace"), ""));
        } else {
            for m in name_is_dns_label(ns, false) {
                errs.push(invalid_s(&p.child("namespace"), ns, &m));
            }
        }
    } else if !ns.is_empty() {
        errs.push(forbidden(&p.child("namespace"), "not allowed on this type"));
    }
    nonnegative(meta.generation.unwrap_or(0), &p.child("generation"), errs);
    validate_labels(meta.labels.as_ref(), &p.child("labels"), errs);
    validate_annotations(meta.annotations.as_ref(), &p.child("annotations"), errs);
    validate_owner_references(
        meta.owner_references.as_ref(),
        &p.child("ownerReferences"),
        errs,
    );
    validate_finalizers_generic(meta.finalizers.as_ref(), &p.child("finalizers"), errs);
}

/// Shared `metadata` validation (core `ValidateObjectMeta`): name/generateName, namespace
/// presence, labels, annotations (keys and total size), ownerReferences and finalizers.
pub fn validate_object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    name_fn: NameKind,
    path_prefix: &str,
) -> Vec<FieldError> {
    let p = P::new(path_prefix);
    let f: NameFn = match name_fn {
        NameKind::Subdomain => name_is_dns_subdomain,
        NameKind::Label => name_is_dns_label,
    };
    let mut errs = Vec::new();
    validate_object_meta_generic(meta, namespaced, f, &p, &mut errs);
    for (i, fin) in meta.finalizers.iter().flatten().enumerate() {
        validate_kube_finalizer_name(fin, &p.child("finalizers").index(i), &mut errs);
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Pod spec
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct PodOpts {
    /// The spec belongs to a Pod (not a template embedded in another resource).
    resource_is_pod: bool,
}

/// Volume sources in Kubernetes' checking order: (json field name, path used in errors, set).
fn volume_sources(v: &Volume) -> [(&'static str, bool); 30] {
    [
        ("emptyDir", v.empty_dir.is_some()),
        ("hostPath", v.host_path.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("secret", v.secret.is_some()),
        ("nfs", v.nfs.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("flocker", v.flocker.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("rbd", v.rbd.is_some()),
        ("cinder", v.cinder.is_some()),
        ("cephFS", v.cephfs.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("downwarAPI", v.downward_api.is_some()),
        ("fc", v.fc.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("configMap", v.config_map.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("storageos", v.storageos.is_some()),
        ("projected", v.projected.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("csi", v.csi.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("image", v.image.is_some()),
    ]
}

fn validate_path_no_backsteps(target: &str, p: &P, errs: &mut Errs) {
    if target.split('/').any(|s| s == "..") {
        errs.push(invalid_s(p, target, "must not contain '..'"));
    }
}

fn validate_local_descending_path(target: &str, p: &P, errs: &mut Errs) {
    if target.starts_with('/') {
        errs.push(invalid_s(p, target, "must be a relative path"));
    }
    validate_path_no_backsteps(target, p, errs);
}

fn validate_local_non_reserved_path(target: &str, p: &P, errs: &mut Errs) {
    validate_local_descending_path(target, p, errs);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(invalid_s(p, target, "must not start with '..'"));
    }
}

fn validate_file_mode(mode: Option<i32>, p: &P, errs: &mut Errs) {
    if let Some(m) = mode
        && !(0..=0o777).contains(&m)
    {
        errs.push(invalid_i(p, i64::from(m), FILE_MODE_ERR));
    }
}

fn validate_key_to_paths(
    items: Option<&Vec<k8s_openapi::api::core::v1::KeyToPath>>,
    p: &P,
    errs: &mut Errs,
) {
    for (i, kp) in items.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if kp.key.is_empty() {
            errs.push(required(&ip.child("key"), ""));
        }
        if kp.path.is_empty() {
            errs.push(required(&ip.child("path"), ""));
        }
        validate_local_non_reserved_path(&kp.path, &ip.child("path"), errs);
        validate_file_mode(kp.mode, &ip.child("mode"), errs);
    }
}

const VOLUME_DOWNWARD_API_PATHS: [&str; 5] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

const ENV_DOWNWARD_API_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const CONTAINER_RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

fn split_subscripted_path(path: &str) -> Option<(&str, &str)> {
    let s = path.strip_suffix("']")?;
    let (a, b) = s.split_once("['")?;
    if a.is_empty() {
        return None;
    }
    Some((a, b))
}

fn validate_object_field_selector(
    fs: &ObjectFieldSelector,
    expressions: &[&str],
    p: &P,
    errs: &mut Errs,
) {
    let api_version = fs.api_version.as_deref().unwrap_or("");
    if api_version.is_empty() {
        errs.push(required(&p.child("apiVersion"), ""));
        return;
    }
    if fs.field_path.is_empty() {
        errs.push(required(&p.child("fieldPath"), ""));
        return;
    }
    // podshelper.ConvertDownwardAPIFieldLabel
    let converted: Result<String, String> = if api_version != "v1" {
        Err(format!("unsupported pod version: {api_version}"))
    } else if let Some((path, _)) = split_subscripted_path(&fs.field_path) {
        match path {
            "metadata.annotations" | "metadata.labels" => Ok(fs.field_path.clone()),
            _ => Err(format!(
                "field label does not support subscript: {}",
                fs.field_path
            )),
        }
    } else {
        match fs.field_path.as_str() {
            "metadata.annotations"
            | "metadata.labels"
            | "metadata.name"
            | "metadata.namespace"
            | "metadata.uid"
            | "spec.nodeName"
            | "spec.restartPolicy"
            | "spec.serviceAccountName"
            | "spec.schedulerName"
            | "status.phase"
            | "status.hostIP"
            | "status.hostIPs"
            | "status.podIP"
            | "status.podIPs" => Ok(fs.field_path.clone()),
            "spec.host" => Ok("spec.nodeName".to_string()),
            other => Err(format!("field label not supported: {other}")),
        }
    };
    let internal = match converted {
        Ok(v) => v,
        Err(e) => {
            errs.push(invalid_s(
                &p.child("fieldPath"),
                &fs.field_path,
                &format!("error converting fieldPath: {e}"),
            ));
            return;
        }
    };
    if let Some((path, subscript)) = split_subscripted_path(&internal) {
        match path {
            "metadata.annotations" => qualified_name(&subscript.to_lowercase(), p, errs),
            "metadata.labels" => qualified_name(subscript, p, errs),
            _ => errs.push(invalid_s(p, path, "does not support subscript")),
        }
    } else if !expressions.contains(&internal.as_str()) {
        errs.push(not_supported(&p.child("fieldPath"), &internal, expressions));
    }
}

fn validate_container_resource_field_selector(
    fs: &k8s_openapi::api::core::v1::ResourceFieldSelector,
    p: &P,
    volume: bool,
    errs: &mut Errs,
) {
    if volume && fs.container_name.as_deref().unwrap_or("").is_empty() {
        errs.push(required(&p.child("containerName"), ""));
    } else if fs.resource.is_empty() {
        errs.push(required(&p.child("resource"), ""));
    } else if !CONTAINER_RESOURCE_FIELD_PATHS.contains(&fs.resource.as_str())
        && !fs.resource.starts_with("requests.hugepages-")
        && !fs.resource.starts_with("limits.hugepages-")
    {
        errs.push(not_supported(
            &p.child("resource"),
            &fs.resource,
            &CONTAINER_RESOURCE_FIELD_PATHS,
        ));
    }
    // validateContainerResourceDivisor
    let Some(divisor) = &fs.divisor else { return };
    let Ok(d) = parse_quantity(&divisor.0) else {
        errs.push(invalid_s(&p.child("divisor"), &divisor.0, QUANTITY_ERR));
        return;
    };
    if d.nanos == 0 {
        return;
    }
    let canon = d.canonical();
    const MEM: [&str; 13] = [
        "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
    ];
    let r = fs.resource.as_str();
    let dp = p.child("divisor");
    match r {
        "limits.cpu" | "requests.cpu" if !["1m", "1"].contains(&canon.as_str()) => {
            errs.push(invalid_s(
                &dp,
                r,
                "only divisor's values 1m and 1 are supported with the cpu resource",
            ))
        }
        "limits.memory" | "requests.memory" if !MEM.contains(&canon.as_str()) => errs.push(invalid_s(
            &dp,
            r,
            "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
        )),
        "limits.ephemeral-storage" | "requests.ephemeral-storage"
            if !MEM.contains(&canon.as_str()) =>
        {
            errs.push(invalid_s(
                &dp,
                r,
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource",
            ))
        }
        _ => {}
    }
    if (r.starts_with("requests.hugepages-") || r.starts_with("limits.hugepages-"))
        && !MEM.contains(&canon.as_str())
    {
        errs.push(invalid_s(
            &dp,
            r,
            "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource",
        ));
    }
}

fn validate_volume_source(v: &Volume, p: &P, errs: &mut Errs) {
    let mut n = 0;
    for (name, set) in volume_sources(v) {
        if !set {
            continue;
        }
        if n > 0 {
            errs.push(forbidden(
                &p.child(name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        n += 1;
        match name {
            "emptyDir" => {
                let size = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref());
                if let Some(q) = size
                    && parse_quantity(&q.0).map(|q| q.nanos < 0).unwrap_or(true)
                {
                    errs.push(forbidden(
                        &p.child("emptyDir").child("sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            "hostPath" => {
                if let Some(hp) = &v.host_path {
                    let pp = p.child("hostPath");
                    if hp.path.is_empty() {
                        errs.push(required(&pp.child("path"), ""));
                    } else {
                        validate_path_no_backsteps(&hp.path, &pp.child("path"), errs);
                        if let Some(t) = &hp.type_ {
                            const TYPES: [&str; 8] = [
                                "",
                                "BlockDevice",
                                "CharDevice",
                                "Directory",
                                "DirectoryOrCreate",
                                "File",
                                "FileOrCreate",
                                "Socket",
                            ];
                            if !TYPES.contains(&t.as_str()) {
                                errs.push(not_supported(&pp.child("type"), t, &TYPES));
                            }
                        }
                    }
                }
            }
            "gitRepo" => {
                if let Some(g) = &v.git_repo {
                    let gp = p.child("gitRepo");
                    if g.repository.is_empty() {
                        errs.push(required(&gp.child("repository"), ""));
                    }
                    validate_local_descending_path(
                        g.directory.as_deref().unwrap_or(""),
                        &gp.child("directory"),
                        errs,
                    );
                }
            }
            "secret" => {
                if let Some(s) = &v.secret {
                    let sp = p.child("secret");
                    if s.secret_name.as_deref().unwrap_or("").is_empty() {
                        errs.push(required(&sp.child("secretName"), ""));
                    }
                    validate_file_mode(s.default_mode, &sp.child("defaultMode"), errs);
                    validate_key_to_paths(s.items.as_ref(), &sp.child("items"), errs);
                }
            }
            "configMap" => {
                if let Some(c) = &v.config_map {
                    let cp = p.child("configMap");
                    if c.name.is_empty() {
                        errs.push(required(&cp.child("name"), ""));
                    }
                    validate_file_mode(c.default_mode, &cp.child("defaultMode"), errs);
                    validate_key_to_paths(c.items.as_ref(), &cp.child("items"), errs);
                }
            }
            "nfs" => {
                if let Some(nfs) = &v.nfs {
                    let np = p.child("nfs");
                    if nfs.server.is_empty() {
                        errs.push(required(&np.child("server"), ""));
                    }
                    if nfs.path.is_empty() {
                        errs.push(required(&np.child("path"), ""));
                    }
                    if !nfs.path.starts_with('/') {
                        errs.push(invalid_s(
                            &np.child("path"),
                            &nfs.path,
                            "must be an absolute path",
                        ));
                    }
                }
            }
            "persistentVolumeClaim" => {
                if let Some(c) = &v.persistent_volume_claim
                    && c.claim_name.is_empty()
                {
                    errs.push(required(
                        &p.child("persistentVolumeClaim").child("claimName"),
                        "",
                    ));
                }
            }
            "downwarAPI" => {
                if let Some(d) = &v.downward_api {
                    let dp = p.child("downwardAPI");
                    validate_file_mode(d.default_mode, &dp.child("defaultMode"), errs);
                    for file in d.items.iter().flatten() {
                        validate_downward_api_file(file, &dp, errs);
                    }
                }
            }
            "projected" => {
                if let Some(pr) = &v.projected {
                    validate_projected(pr, &p.child("projected"), errs);
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(required(p, "must specify a volume type"));
    }
}

fn validate_downward_api_file(
    file: &k8s_openapi::api::core::v1::DownwardAPIVolumeFile,
    p: &P,
    errs: &mut Errs,
) {
    if file.path.is_empty() {
        errs.push(required(&p.child("path"), ""));
    }
    validate_local_non_reserved_path(&file.path, &p.child("path"), errs);
    if let Some(fr) = &file.field_ref {
        validate_object_field_selector(fr, &VOLUME_DOWNWARD_API_PATHS, &p.child("fieldRef"), errs);
        if file.resource_field_ref.is_some() {
            errs.push(invalid_s(
                p,
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ));
        }
    } else if let Some(rf) = &file.resource_field_ref {
        validate_container_resource_field_selector(rf, &p.child("resourceFieldRef"), true, errs);
    } else {
        errs.push(required(
            p,
            "one of fieldRef and resourceFieldRef is required",
        ));
    }
    validate_file_mode(file.mode, &p.child("mode"), errs);
}

fn validate_projected(
    pr: &k8s_openapi::api::core::v1::ProjectedVolumeSource,
    p: &P,
    errs: &mut Errs,
) {
    validate_file_mode(pr.default_mode, &p.child("defaultMode"), errs);
    let mut all_paths: BTreeSet<String> = BTreeSet::new();
    for (i, src) in pr.sources.iter().flatten().enumerate() {
        let sp = p.child("sources").index(i);
        let mut n = 0;
        if let Some(s) = &src.secret {
            n += 1;
            let pp = sp.child("secret");
            if s.name.is_empty() {
                errs.push(required(&pp.child("name"), ""));
            }
            validate_key_to_paths(s.items.as_ref(), &pp.child("items"), errs);
            for kp in s.items.iter().flatten() {
                if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                    errs.push(invalid_s(p, &s.name, "conflicting duplicate paths"));
                }
            }
        }
        if let Some(c) = &src.config_map {
            n += 1;
            let pp = sp.child("configMap");
            if c.name.is_empty() {
                errs.push(required(&pp.child("name"), ""));
            }
            validate_key_to_paths(c.items.as_ref(), &pp.child("items"), errs);
            for kp in c.items.iter().flatten() {
                if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                    errs.push(invalid_s(p, &c.name, "conflicting duplicate paths"));
                }
            }
        }
        if let Some(d) = &src.downward_api {
            n += 1;
            let pp = sp.child("downwardAPI");
            for (j, file) in d.items.iter().flatten().enumerate() {
                validate_downward_api_file(file, &pp.child("items").index(j), errs);
                if !file.path.is_empty() && !all_paths.insert(file.path.clone()) {
                    errs.push(invalid_s(p, "downwardAPI", "conflicting duplicate paths"));
                }
            }
        }
        if let Some(t) = &src.service_account_token {
            n += 1;
            let pp = sp.child("serviceAccountToken");
            let exp = t.expiration_seconds.unwrap_or(0);
            if exp < 600 {
                errs.push(invalid_i(
                    &pp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if exp > 1i64 << 32 {
                errs.push(invalid_i(
                    &pp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            if t.path.is_empty() {
                errs.push(required(&p.child("path"), ""));
            } else {
                validate_local_non_reserved_path(&t.path, &p.child("path"), errs);
            }
        }
        if src.cluster_trust_bundle.is_some() {
            n += 1;
        }
        if n > 1 {
            errs.push(forbidden(
                &sp,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
}

/// `ValidateVolumes`: returns the names of the volumes that validated cleanly.
fn validate_volumes(vols: Option<&Vec<Volume>>, p: &P, errs: &mut Errs) -> BTreeMap<String, bool> {
    // name -> is PVC/ephemeral backed
    let mut ok: BTreeMap<String, bool> = BTreeMap::new();
    for (i, v) in vols.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        let np = ip.child("name");
        let mut el = Vec::new();
        validate_volume_source(v, &ip, &mut el);
        if v.name.is_empty() {
            el.push(required(&np, ""));
        } else {
            dns_label(&v.name, &np, &mut el);
        }
        if ok.contains_key(&v.name) {
            el.push(duplicate_s(&np, &v.name));
        }
        if el.is_empty() {
            ok.insert(
                v.name.clone(),
                v.persistent_volume_claim.is_some() || v.ephemeral.is_some(),
            );
        } else {
            errs.extend(el);
        }
    }
    ok
}

fn validate_container_ports(ports: Option<&Vec<ContainerPort>>, p: &P, errs: &mut Errs) {
    let mut names = BTreeSet::new();
    for (i, port) in ports.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(invalid_s(&ip.child("name"), name, &m));
                }
            } else if !names.insert(name.to_string()) {
                errs.push(duplicate_s(&ip.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(required(&ip.child("containerPort"), ""));
        } else {
            for m in is_valid_port_num(i64::from(port.container_port)) {
                errs.push(invalid_i(
                    &ip.child("containerPort"),
                    i64::from(port.container_port),
                    &m,
                ));
            }
        }
        let hp = port.host_port.unwrap_or(0);
        if hp != 0 {
            for m in is_valid_port_num(i64::from(hp)) {
                errs.push(invalid_i(&ip.child("hostPort"), i64::from(hp), &m));
            }
        }
        let proto = port.protocol.as_deref().unwrap_or("");
        if proto.is_empty() {
            errs.push(required(&ip.child("protocol"), ""));
        } else if !["SCTP", "TCP", "UDP"].contains(&proto) {
            errs.push(not_supported(
                &ip.child("protocol"),
                proto,
                &["SCTP", "TCP", "UDP"],
            ));
        }
    }
}

fn validate_env(env: Option<&Vec<EnvVar>>, p: &P, errs: &mut Errs) {
    for (i, ev) in env.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if ev.name.is_empty() {
            errs.push(required(&ip.child("name"), ""));
        } else {
            for m in is_relaxed_env_var_name(&ev.name) {
                errs.push(invalid_s(&ip.child("name"), &ev.name, &m));
            }
        }
        let Some(vf) = &ev.value_from else { continue };
        let vp = ip.child("valueFrom");
        let mut n = 0;
        if let Some(fr) = &vf.field_ref {
            n += 1;
            validate_object_field_selector(
                fr,
                &ENV_DOWNWARD_API_PATHS,
                &vp.child("fieldRef"),
                errs,
            );
        }
        if let Some(rf) = &vf.resource_field_ref {
            n += 1;
            validate_container_resource_field_selector(
                rf,
                &vp.child("resourceFieldRef"),
                false,
                errs,
            );
        }
        if let Some(c) = &vf.config_map_key_ref {
            n += 1;
            validate_key_selector(&c.name, &c.key, &vp.child("configMapKeyRef"), errs);
        }
        if let Some(s) = &vf.secret_key_ref {
            n += 1;
            validate_key_selector(&s.name, &s.key, &vp.child("secretKeyRef"), errs);
        }
        if n == 0 {
            errs.push(invalid_s(
                &vp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !ev.value.as_deref().unwrap_or("").is_empty() {
            errs.push(invalid_s(
                &vp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if n > 1 {
            errs.push(invalid_s(
                &vp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn validate_key_selector(name: &str, key: &str, p: &P, errs: &mut Errs) {
    for m in name_is_dns_subdomain(name, false) {
        errs.push(invalid_s(&p.child("name"), name, &m));
    }
    if key.is_empty() {
        errs.push(required(&p.child("key"), ""));
    } else {
        for m in is_config_map_key(key) {
            errs.push(invalid_s(&p.child("key"), key, &m));
        }
    }
}

fn validate_env_from(env_from: Option<&Vec<EnvFromSource>>, p: &P, errs: &mut Errs) {
    for (i, ef) in env_from.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if let Some(prefix) = ef.prefix.as_deref().filter(|s| !s.is_empty()) {
            for m in is_relaxed_env_var_name(prefix) {
                errs.push(invalid_s(&ip.child("prefix"), prefix, &m));
            }
        }
        let mut n = 0;
        let refs = [
            (
                "configMapRef",
                ef.config_map_ref.as_ref().map(|r| r.name.as_str()),
            ),
            ("secretRef", ef.secret_ref.as_ref().map(|r| r.name.as_str())),
        ];
        for (field, name) in refs {
            let Some(name) = name else { continue };
            n += 1;
            let np = ip.child(field).child("name");
            if name.is_empty() {
                errs.push(required(&np, ""));
            } else {
                for m in name_is_dns_subdomain(name, true) {
                    errs.push(invalid_s(&np, name, &m));
                }
            }
        }
        if n == 0 {
            errs.push(invalid_s(
                p,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(invalid_s(
                p,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn validate_volume_mounts(
    mounts: Option<&Vec<VolumeMount>>,
    devices: &BTreeMap<String, String>,
    volumes: &BTreeMap<String, bool>,
    privileged: bool,
    p: &P,
    errs: &mut Errs,
) {
    let mut mountpoints = BTreeSet::new();
    for (i, m) in mounts.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if m.name.is_empty() {
            errs.push(required(&ip.child("name"), ""));
        }
        if !volumes.contains_key(&m.name) {
            errs.push(not_found_s(&ip.child("name"), &m.name, ""));
        }
        if m.mount_path.is_empty() {
            errs.push(required(&ip.child("mountPath"), ""));
        }
        if !mountpoints.insert(m.mount_path.clone()) {
            errs.push(invalid_s(
                &ip.child("mountPath"),
                &m.mount_path,
                "must be unique",
            ));
        }
        if devices.contains_key(&m.name) {
            errs.push(invalid_s(
                &ip.child("name"),
                &m.name,
                "must not already exist in volumeDevices",
            ));
        }
        if devices.values().any(|d| *d == m.mount_path) {
            errs.push(invalid_s(
                &ip.child("mountPath"),
                &m.mount_path,
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = m.sub_path.as_deref().unwrap_or("");
        let sub_path_expr = m.sub_path_expr.as_deref().unwrap_or("");
        if !sub_path.is_empty() {
            validate_local_descending_path(sub_path, &p.child("subPath"), errs);
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(invalid_s(
                    &ip.child("subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            validate_local_descending_path(sub_path_expr, &p.child("subPathExpr"), errs);
        }
        if let Some(mp) = &m.mount_propagation {
            let pp = p.child("mountPropagation");
            const MP: [&str; 3] = ["Bidirectional", "HostToContainer", "None"];
            if !MP.contains(&mp.as_str()) {
                errs.push(not_supported(&pp, mp, &MP));
            } else if mp == "Bidirectional" && !privileged {
                errs.push(forbidden(
                    &pp,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        if let Some(rro) = &m.recursive_read_only {
            let rp = p.child("recursiveReadOnly");
            match rro.as_str() {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if !m.read_only.unwrap_or(false) {
                        errs.push(forbidden(
                            &rp,
                            "may only be specified when readOnly is true",
                        ));
                    }
                    if m.mount_propagation.as_deref().is_some_and(|x| x != "None") {
                        errs.push(forbidden(
                            &rp,
                            "may only be specified when mountPropagation is None or not specified",
                        ));
                    }
                }
                other => errs.push(not_supported(
                    &rp,
                    other,
                    &["Disabled", "Enabled", "IfPossible"],
                )),
            }
        }
    }
}

fn validate_volume_devices(
    devices: Option<&Vec<k8s_openapi::api::core::v1::VolumeDevice>>,
    mounts: &BTreeMap<String, String>,
    volumes: &BTreeMap<String, bool>,
    p: &P,
    errs: &mut Errs,
) {
    let mut paths = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (i, d) in devices.into_iter().flatten().enumerate() {
        let ip = p.index(i);
        if d.name.is_empty() {
            errs.push(required(&ip.child("name"), ""));
        }
        if names.contains(&d.name) {
            errs.push(invalid_s(&ip.child("name"), &d.name, "must be unique"));
        }
        match volumes.get(&d.name) {
            Some(false) => errs.push(invalid_s(
                &ip.child("name"),
                &d.name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )),
            Some(true) => {}
            None => errs.push(not_found_s(&ip.child("name"), &d.name, "")),
        }
        if d.device_path.is_empty() {
            errs.push(required(&ip.child("devicePath"), ""));
        }
        if paths.contains(&d.device_path) {
            errs.push(invalid_s(
                &ip.child("devicePath"),
                &d.device_path,
                "must be unique",
            ));
        }
        if !d.device_path.is_empty() && d.device_path.split('/').any(|s| s == "..") {
            errs.push(invalid_s(
                &ip.child("devicePath"),
                &d.device_path,
                "can not contain backsteps ('..')",
            ));
        } else {
            paths.insert(d.device_path.clone());
        }
        if mounts.contains_key(&d.name) {
            errs.push(invalid_s(
                &ip.child("name"),
                &d.name,
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.values().any(|m| *m == d.device_path) {
            errs.push(invalid_s(
                &ip.child("devicePath"),
                &d.device_path,
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !d.name.is_empty() {
            names.insert(d.name.clone());
        }
    }
}

fn validate_pull_policy(policy: Option<&str>, p: &P, errs: &mut Errs) {
    match policy.unwrap_or("") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(required(p, "")),
        other => errs.push(not_supported(
            p,
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
}

// --- resources -------------------------------------------------------------------------------

fn is_hugepage_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_extended_resource(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}")).is_empty()
}

fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_hugepage_resource(name)
}

fn is_integer_resource(name: &str) -> bool {
    matches!(
        name,
        "pods"
            | "resourcequotas"
            | "services"
            | "replicationcontrollers"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || is_extended_resource(name)
}

fn is_standard_resource_name(name: &str) -> bool {
    matches!(
        name,
        "cpu"
            | "memory"
            | "ephemeral-storage"
            | "requests.cpu"
            | "requests.memory"
            | "requests.ephemeral-storage"
            | "limits.cpu"
            | "limits.memory"
            | "limits.ephemeral-storage"
            | "pods"
            | "resourcequotas"
            | "services"
            | "replicationcontrollers"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "storage"
            | "requests.storage"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
}

fn validate_container_resource_name(name: &str, p: &P, errs: &mut Errs) {
    let before = errs.len();
    qualified_name(name, p, errs);
    if errs.len() == before && !name.contains('/') && !is_standard_resource_name(name) {
        errs.push(invalid_s(
            p,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    if !name.contains('/') {
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !is_hugepage_resource(name) {
            errs.push(invalid_s(
                p,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(invalid_s(
            p,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

/// `ValidateResourceQuantityValue`; returns the parsed quantity when it parses.
fn validate_resource_quantity_value(
    name: &str,
    q: &K8sQuantity,
    p: &P,
    errs: &mut Errs,
) -> Option<ParsedQuantity> {
    let parsed = match parse_quantity(&q.0) {
        Ok(v) => v,
        Err(e) => {
            errs.push(invalid_s(p, &q.0, &e));
            return None;
        }
    };
    if parsed.nanos < 0 {
        errs.push(invalid_s(p, &parsed.canonical(), IS_NEGATIVE_ERR));
    }
    if is_integer_resource(name) && parsed.nanos % NANO != 0 {
        errs.push(invalid_s(p, &parsed.canonical(), "must be an integer"));
    }
    Some(parsed)
}

fn hugepage_divisible(name: &str, q: &ParsedQuantity) -> bool {
    let Some(size) = name.strip_prefix("hugepages-") else {
        return true;
    };
    match parse_quantity(size) {
        Ok(ps) if ps.nanos > 0 && ps.nanos % NANO == 0 => (q.nanos / NANO) % (ps.nanos / NANO) == 0,
        _ => false,
    }
}

fn validate_resource_requirements(
    res: Option<&ResourceRequirements>,
    pod_claims: &BTreeSet<String>,
    p: &P,
    errs: &mut Errs,
) {
    let empty = BTreeMap::new();
    let limits = res.and_then(|r| r.limits.as_ref()).unwrap_or(&empty);
    let requests = res.and_then(|r| r.requests.as_ref()).unwrap_or(&empty);
    let lim_path = p.child("limits");
    let req_path = p.child("requests");
    let (mut lim_cm, mut req_cm, mut lim_hp, mut req_hp) = (false, false, false, false);
    for (name, q) in limits {
        let fp = lim_path.key(name);
        validate_container_resource_name(name, &fp, errs);
        let parsed = validate_resource_quantity_value(name, q, &fp, errs);
        if is_hugepage_resource(name) {
            lim_hp = true;
            if let Some(v) = parsed
                && !hugepage_divisible(name, &v)
            {
                errs.push(invalid_s(
                    &fp,
                    &v.canonical(),
                    &format!(
                        "{} is not positive integer multiple of {name}",
                        v.canonical()
                    ),
                ));
            }
        }
        if name == "cpu" || name == "memory" {
            lim_cm = true;
        }
    }
    for (name, q) in requests {
        let fp = req_path.key(name);
        validate_container_resource_name(name, &fp, errs);
        let parsed = validate_resource_quantity_value(name, q, &fp, errs);
        if let Some(lq) = limits.get(name) {
            if let (Some(rv), Ok(lv)) = (parsed, parse_quantity(&lq.0)) {
                if rv.nanos != lv.nanos && !is_overcommit_allowed(name) {
                    errs.push(invalid_s(
                        &req_path,
                        &rv.canonical(),
                        &format!("must be equal to {name} limit of {}", lv.canonical()),
                    ));
                } else if rv.nanos > lv.nanos {
                    errs.push(invalid_s(
                        &req_path,
                        &rv.canonical(),
                        &format!(
                            "must be less than or equal to {name} limit of {}",
                            lv.canonical()
                        ),
                    ));
                }
            }
        } else if !is_overcommit_allowed(name) {
            errs.push(required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            ));
        }
        if is_hugepage_resource(name) {
            req_hp = true;
            if let Some(v) = parsed
                && !hugepage_divisible(name, &v)
            {
                errs.push(invalid_s(
                    &fp,
                    &v.canonical(),
                    &format!(
                        "{} is not positive integer multiple of {name}",
                        v.canonical()
                    ),
                ));
            }
        }
        if name == "cpu" || name == "memory" {
            req_cm = true;
        }
    }
    if !lim_cm && !req_cm && (req_hp || lim_hp) {
        errs.push(forbidden(p, "HugePages require cpu or memory"));
    }
    // validateResourceClaimNames
    let claims_path = p.child("claims");
    let mut names: BTreeSet<String> = BTreeSet::new();
    for (i, c) in res
        .and_then(|r| r.claims.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let cp = claims_path.index(i);
        if c.name.is_empty() {
            errs.push(required(&cp, ""));
            continue;
        }
        if names.contains(&c.name) {
            errs.push(duplicate_s(&cp, &c.name));
        } else {
            let mut key = c.name.clone();
            let request = c.request.as_deref().unwrap_or("");
            if !request.is_empty() {
                dns_label(request, &cp.child("request"), errs);
                key = format!("{key}/{request}");
            }
            if names.contains(&key) {
                errs.push(duplicate_s(&cp, &key));
            } else if request.is_empty() {
                for existing in &names {
                    if existing.split_once('/').is_some_and(|(n, _)| n == c.name) {
                        errs.push(duplicate_s(&cp, &c.name));
                    }
                }
            }
            names.insert(key);
        }
        if !pod_claims.contains(&c.name) {
            let detail = if pod_claims.is_empty() {
                "must be one of the names in pod.spec.resourceClaims which is empty".to_string()
            } else {
                let list: Vec<&str> = pod_claims.iter().map(String::as_str).collect();
                format!(
                    "must be one of the names in pod.spec.resourceClaims: {}",
                    list.join(", ")
                )
            };
            errs.push(not_found_s(&cp, &c.name, &detail));
        }
    }
}

fn validate_resize_policy(
    list: Option<&Vec<k8s_openapi::api::core::v1::ContainerResizePolicy>>,
    restart_policy: &str,
    p: &P,
    errs: &mut Errs,
) {
    let mut seen = BTreeSet::new();
    for (i, rp) in list.into_iter().flatten().enumerate() {
        if !seen.insert(rp.resource_name.clone()) {
            errs.push(duplicate_s(&p.index(i), &rp.resource_name));
        }
        match rp.resource_name.as_str() {
            "cpu" | "memory" => {}
            "" => errs.push(required(p, "")),
            other => errs.push(not_supported(p, other, &["cpu", "memory"])),
        }
        match rp.restart_policy.as_str() {
            "NotRequired" | "RestartContainer" => {}
            "" => errs.push(required(p, "")),
            other => errs.push(not_supported(
                p,
                other,
                &["NotRequired", "RestartContainer"],
            )),
        }
        if restart_policy == "Never" && rp.restart_policy != "NotRequired" {
            errs.push(invalid_s(
                p,
                &rp.restart_policy,
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
}

// --- security contexts -----------------------------------------------------------------------

fn validate_id_range(v: Option<i64>, p: &P, errs: &mut Errs) {
    if let Some(id) = v
        && !(0..=MAX_INT32).contains(&id)
    {
        errs.push(invalid_i(p, id, &inclusive_range_error(0, MAX_INT32)));
    }
}

fn validate_seccomp_profile(sp: Option<&SeccompProfile>, p: &P, errs: &mut Errs) {
    let Some(sp) = sp else { return };
    const TYPES: [&str; 3] = ["Localhost", "RuntimeDefault", "Unconfined"];
    match sp.type_.as_str() {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errs.push(required(
            &p.child("type"),
            "type is required when seccompProfile is set",
        )),
        other => errs.push(not_supported(&p.child("type"), other, &TYPES)),
    }
    if sp.type_ == "Localhost" {
        match &sp.localhost_profile {
            None => errs.push(required(
                &p.child("localhostProfile"),
                "must be set when seccomp type is Localhost",
            )),
            Some(lp) => validate_local_descending_path(lp, &p.child("localhostProfile"), errs),
        }
    } else if let Some(lp) = &sp.localhost_profile {
        errs.push(invalid_raw(
            &p.child("localhostProfile"),
            &format!(
                "core.SeccompProfile{{Type:{}, LocalhostProfile:(*string)({})}}",
                go_quote(&sp.type_),
                go_quote(lp)
            ),
            "can only be set when seccomp type is Localhost",
        ));
    }
}

fn validate_app_armor_profile(
    profile: Option<&k8s_openapi::api::core::v1::AppArmorProfile>,
    p: &P,
    errs: &mut Errs,
) {
    let Some(profile) = profile else { return };
    match profile.type_.as_str() {
        "Localhost" => match &profile.localhost_profile {
            None => errs.push(required(
                &p.child("localhostProfile"),
                "must be set when AppArmor type is Localhost",
            )),
            Some(lp) => {
                if lp.trim() != lp {
                    errs.push(invalid_s(
                        &p.child("localhostProfile"),
                        lp,
                        "must not be padded with whitespace",
                    ));
                } else if lp.is_empty() {
                    errs.push(required(
                        &p.child("localhostProfile"),
                        "must be set when AppArmor type is Localhost",
                    ));
                }
                if lp.len() > 4095 {
                    errs.push(too_long(&p.child("localhostProfile"), 4095));
                }
            }
        },
        "RuntimeDefault" | "Unconfined" => {
            if let Some(lp) = &profile.localhost_profile {
                errs.push(invalid_s(
                    &p.child("localhostProfile"),
                    lp,
                    "can only be set when AppArmor type is Localhost",
                ));
            }
        }
        "" => errs.push(required(
            &p.child("type"),
            "type is required when appArmorProfile is set",
        )),
        other => errs.push(not_supported(
            &p.child("type"),
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
}

fn validate_security_context(
    sc: Option<&SecurityContext>,
    host_users: bool,
    p: &P,
    errs: &mut Errs,
) {
    let Some(sc) = sc else { return };
    validate_id_range(sc.run_as_user, &p.child("runAsUser"), errs);
    validate_id_range(sc.run_as_group, &p.child("runAsGroup"), errs);
    if let Some(pm) = &sc.proc_mount {
        if pm != "Default" && pm != "Unmasked" {
            errs.push(not_supported(
                &p.child("procMount"),
                pm,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && pm == "Unmasked" {
            errs.push(invalid_s(
                &p.child("procMount"),
                pm,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    validate_seccomp_profile(
        sc.seccomp_profile.as_ref(),
        &p.child("seccompProfile"),
        errs,
    );
    validate_app_armor_profile(
        sc.app_armor_profile.as_ref(),
        &p.child("appArmorProfile"),
        errs,
    );
}

fn sysctl_namespace(name: &str) -> Option<&'static str> {
    let n = name.replace('/', ".");
    if n == "kernel.sem"
        || n.starts_with("kernel.shm")
        || n.starts_with("kernel.msg")
        || n.starts_with("fs.mqueue.")
    {
        Some("ipc")
    } else if n.starts_with("net.") {
        Some("net")
    } else {
        None
    }
}

fn is_valid_sysctl_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let seg_ok = |s: &str| {
        let b = s.as_bytes();
        !b.is_empty()
            && s.chars().all(|c| is_lower_alnum(c) || c == '-' || c == '_')
            && is_lower_alnum(b[0] as char)
            && is_lower_alnum(b[b.len() - 1] as char)
    };
    name.split(['.', '/']).all(seg_ok)
}

fn validate_pod_security_context(spec: &PodSpec, p: &P, errs: &mut Errs) {
    let Some(sc) = spec.security_context.as_ref() else {
        return;
    };
    let sc: &PodSecurityContext = sc;
    validate_id_range(sc.fs_group, &p.child("fsGroup"), errs);
    validate_id_range(sc.run_as_user, &p.child("runAsUser"), errs);
    validate_id_range(sc.run_as_group, &p.child("runAsGroup"), errs);
    for (i, g) in sc.supplemental_groups.iter().flatten().enumerate() {
        validate_id_range(Some(*g), &p.child("supplementalGroups").index(i), errs);
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errs.push(invalid_raw(
            &p.child("shareProcessNamespace"),
            "true",
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let mut names = BTreeSet::new();
    for (i, s) in sc.sysctls.iter().flatten().enumerate() {
        let np = p.child("sysctls").index(i).child("name");
        if s.name.is_empty() {
            errs.push(required(&np, ""));
        } else if !is_valid_sysctl_name(&s.name) {
            errs.push(invalid_s(
                &np,
                &s.name,
                "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        } else if names.contains(&s.name) {
            errs.push(duplicate_s(&np, &s.name));
        }
        match sysctl_namespace(&s.name) {
            Some("net") if spec.host_network == Some(true) => errs.push(invalid_s(
                &np,
                &s.name,
                "may not be specified when 'hostNetwork' is true",
            )),
            Some("ipc") if spec.host_ipc == Some(true) => errs.push(invalid_s(
                &np,
                &s.name,
                "may not be specified when 'hostIPC' is true",
            )),
            _ => {}
        }
        names.insert(s.name.clone());
    }
    if let Some(fgcp) = &sc.fs_group_change_policy
        && fgcp != "Always"
        && fgcp != "OnRootMismatch"
    {
        errs.push(not_supported(
            &p.child("fsGroupChangePolicy"),
            fgcp,
            &["Always", "OnRootMismatch"],
        ));
    }
    validate_seccomp_profile(
        sc.seccomp_profile.as_ref(),
        &p.child("seccompProfile"),
        errs,
    );
    validate_app_armor_profile(
        sc.app_armor_profile.as_ref(),
        &p.child("appArmorProfile"),
        errs,
    );
    if let Some(sgp) = &sc.supplemental_groups_policy
        && sgp != "Merge"
        && sgp != "Strict"
    {
        errs.push(not_supported(
            &p.child("supplementalGroupsPolicy"),
            sgp,
            &["Merge", "Strict"],
        ));
    }
    if let Some(scp) = &sc.se_linux_change_policy
        && scp != "MountOption"
        && scp != "Recursive"
    {
        errs.push(not_supported(
            &p.child("seLinuxChangePolicy"),
            scp,
            &["MountOption", "Recursive"],
        ));
    }
}

// --- probes and handlers ---------------------------------------------------------------------

fn validate_port_num_or_name(port: &IntOrString, p: &P, errs: &mut Errs) {
    match port {
        IntOrString::Int(i) => {
            for m in is_valid_port_num(i64::from(*i)) {
                errs.push(invalid_i(p, i64::from(*i), &m));
            }
        }
        IntOrString::String(s) => {
            for m in is_valid_port_name(s) {
                errs.push(invalid_s(p, s, &m));
            }
        }
    }
}

fn validate_http_get(h: &HTTPGetAction, p: &P, errs: &mut Errs) {
    if h.path.as_deref().unwrap_or("").is_empty() {
        errs.push(required(&p.child("path"), ""));
    }
    validate_port_num_or_name(&h.port, &p.child("port"), errs);
    let scheme = h.scheme.as_deref().unwrap_or("");
    if scheme != "HTTP" && scheme != "HTTPS" {
        errs.push(not_supported(
            &p.child("scheme"),
            scheme,
            &["HTTP", "HTTPS"],
        ));
    }
    for header in h.http_headers.iter().flatten() {
        for m in is_http_header_name(&header.name) {
            errs.push(invalid_s(&p.child("httpHeaders"), &header.name, &m));
        }
    }
}

/// The handler kinds shared by probes and lifecycle hooks.
struct Handler<'a> {
    exec: Option<&'a k8s_openapi::api::core::v1::ExecAction>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a k8s_openapi::api::core::v1::TCPSocketAction>,
    grpc: Option<&'a k8s_openapi::api::core::v1::GRPCAction>,
    sleep: Option<&'a k8s_openapi::api::core::v1::SleepAction>,
}

fn validate_handler(h: &Handler<'_>, grace: Option<i64>, p: &P, errs: &mut Errs) {
    let mut n = 0;
    let more = |name: &str, errs: &mut Errs| {
        errs.push(forbidden(
            &p.child(name),
            "may not specify more than 1 handler type",
        ));
    };
    if let Some(e) = h.exec {
        n += 1;
        if e.command.as_ref().is_none_or(Vec::is_empty) {
            errs.push(required(&p.child("exec").child("command"), ""));
        }
    }
    if let Some(hg) = h.http_get {
        if n > 0 {
            more("httpGet", errs);
        } else {
            n += 1;
            validate_http_get(hg, &p.child("httpGet"), errs);
        }
    }
    if let Some(t) = h.tcp_socket {
        if n > 0 {
            more("tcpSocket", errs);
        } else {
            n += 1;
            validate_port_num_or_name(&t.port, &p.child("tcpSocket").child("port"), errs);
        }
    }
    if let Some(g) = h.grpc {
        if n > 0 {
            more("grpc", errs);
        } else {
            n += 1;
            validate_port_num_or_name(
                &IntOrString::Int(g.port),
                &p.child("grpc").child("port"),
                errs,
            );
        }
    }
    if let Some(s) = h.sleep {
        if n > 0 {
            more("sleep", errs);
        } else {
            n += 1;
            if let Some(g) = grace
                && (s.seconds < 0 || s.seconds > g)
            {
                errs.push(invalid_i(
                    &p.child("sleep"),
                    s.seconds,
                    &format!(
                        "must be non-negative and less than terminationGracePeriodSeconds ({g})"
                    ),
                ));
            }
        }
    }
    if n == 0 {
        errs.push(required(p, "must specify a handler type"));
    }
}

fn lifecycle_handler(h: &LifecycleHandler) -> Handler<'_> {
    Handler {
        exec: h.exec.as_ref(),
        http_get: h.http_get.as_ref(),
        tcp_socket: h.tcp_socket.as_ref(),
        grpc: None,
        sleep: h.sleep.as_ref(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

fn validate_probe(
    probe: Option<&Probe>,
    kind: ProbeKind,
    grace: Option<i64>,
    p: &P,
    errs: &mut Errs,
) {
    let Some(pr) = probe else { return };
    let h = Handler {
        exec: pr.exec.as_ref(),
        http_get: pr.http_get.as_ref(),
        tcp_socket: pr.tcp_socket.as_ref(),
        grpc: pr.grpc.as_ref(),
        sleep: None,
    };
    validate_handler(&h, grace, p, errs);
    let fields = [
        ("initialDelaySeconds", pr.initial_delay_seconds),
        ("timeoutSeconds", pr.timeout_seconds),
        ("periodSeconds", pr.period_seconds),
        ("successThreshold", pr.success_threshold),
        ("failureThreshold", pr.failure_threshold),
    ];
    for (name, v) in fields {
        nonnegative(i64::from(v.unwrap_or(0)), &p.child(name), errs);
    }
    if let Some(t) = pr.termination_grace_period_seconds
        && t <= 0
    {
        errs.push(invalid_i(
            &p.child("terminationGracePeriodSeconds"),
            t,
            "must be greater than 0",
        ));
    }
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup => {
            let st = pr.success_threshold.unwrap_or(0);
            if st != 1 {
                errs.push(invalid_i(
                    &p.child("successThreshold"),
                    i64::from(st),
                    "must be 1",
                ));
            }
        }
        ProbeKind::Readiness => {
            if let Some(t) = pr.termination_grace_period_seconds {
                errs.push(invalid_i(
                    &p.child("terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        }
    }
}

fn validate_lifecycle_and_probes(c: &Container, grace: Option<i64>, p: &P, errs: &mut Errs) {
    if let Some(lc) = &c.lifecycle {
        let lp = p.child("lifecycle");
        if let Some(h) = &lc.post_start {
            validate_handler(&lifecycle_handler(h), grace, &lp.child("postStart"), errs);
        }
        if let Some(h) = &lc.pre_stop {
            validate_handler(&lifecycle_handler(h), grace, &lp.child("preStop"), errs);
        }
    }
    validate_probe(
        c.liveness_probe.as_ref(),
        ProbeKind::Liveness,
        grace,
        &p.child("livenessProbe"),
        errs,
    );
    validate_probe(
        c.readiness_probe.as_ref(),
        ProbeKind::Readiness,
        grace,
        &p.child("readinessProbe"),
        errs,
    );
    validate_probe(
        c.startup_probe.as_ref(),
        ProbeKind::Startup,
        grace,
        &p.child("startupProbe"),
        errs,
    );
}

// --- containers ------------------------------------------------------------------------------

struct SpecCtx<'a> {
    volumes: BTreeMap<String, bool>,
    pod_claims: BTreeSet<String>,
    grace: Option<i64>,
    restart_policy: &'a str,
    host_users: bool,
}

fn validate_container_common(c: &Container, ctx: &SpecCtx<'_>, p: &P, errs: &mut Errs) {
    let np = p.child("name");
    if c.name.is_empty() {
        errs.push(required(&np, ""));
    } else {
        dns_label(&c.name, &np, errs);
    }
    if c.image.as_deref().unwrap_or("").is_empty() {
        errs.push(required(&p.child("image"), ""));
    }
    match c.termination_message_policy.as_deref().unwrap_or("") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(required(&p.child("terminationMessagePolicy"), "")),
        other => errs.push(not_supported(
            &p.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    let mounts: BTreeMap<String, String> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.clone(), m.mount_path.clone()))
        .collect();
    let devices: BTreeMap<String, String> = c
        .volume_devices
        .iter()
        .flatten()
        .map(|d| (d.name.clone(), d.device_path.clone()))
        .collect();
    validate_container_ports(c.ports.as_ref(), &p.child("ports"), errs);
    validate_env(c.env.as_ref(), &p.child("env"), errs);
    validate_env_from(c.env_from.as_ref(), &p.child("envFrom"), errs);
    let privileged = c
        .security_context
        .as_ref()
        .and_then(|s| s.privileged)
        .unwrap_or(false);
    validate_volume_mounts(
        c.volume_mounts.as_ref(),
        &devices,
        &ctx.volumes,
        privileged,
        &p.child("volumeMounts"),
        errs,
    );
    validate_volume_devices(
        c.volume_devices.as_ref(),
        &mounts,
        &ctx.volumes,
        &p.child("volumeDevices"),
        errs,
    );
    validate_pull_policy(
        c.image_pull_policy.as_deref(),
        &p.child("imagePullPolicy"),
        errs,
    );
    validate_resource_requirements(
        c.resources.as_ref(),
        &ctx.pod_claims,
        &p.child("resources"),
        errs,
    );
    validate_resize_policy(
        c.resize_policy.as_ref(),
        ctx.restart_policy,
        &p.child("resizePolicy"),
        errs,
    );
    validate_security_context(
        c.security_context.as_ref(),
        ctx.host_users,
        &p.child("securityContext"),
        errs,
    );
}

fn host_port_conflicts(containers: &[&Container], p: &P, errs: &mut Errs) {
    let mut seen = BTreeSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in c.ports.iter().flatten().enumerate() {
            let hp = port.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                port.protocol.as_deref().unwrap_or(""),
                port.host_ip.as_deref().unwrap_or(""),
                hp
            );
            if !seen.insert(key.clone()) {
                errs.push(duplicate_s(
                    &p.index(ci).child("ports").index(pi).child("hostPort"),
                    &key,
                ));
            }
        }
    }
}

fn validate_containers(containers: &[Container], ctx: &SpecCtx<'_>, p: &P, errs: &mut Errs) {
    if containers.is_empty() {
        errs.push(required(p, ""));
        return;
    }
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let cp = p.index(i);
        validate_container_common(c, ctx, &cp, errs);
        if !names.insert(c.name.clone()) {
            errs.push(duplicate_s(&cp.child("name"), &c.name));
        }
        validate_lifecycle_and_probes(c, ctx.grace, &cp, errs);
        if c.restart_policy.is_some() {
            errs.push(forbidden(
                &cp.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    let refs: Vec<&Container> = containers.iter().collect();
    host_port_conflicts(&refs, p, errs);
}

fn validate_init_containers(
    inits: &[Container],
    regular: &[Container],
    ctx: &SpecCtx<'_>,
    p: &P,
    errs: &mut Errs,
) {
    let mut names: BTreeSet<String> = regular.iter().map(|c| c.name.clone()).collect();
    for (i, c) in inits.iter().enumerate() {
        let cp = p.index(i);
        validate_container_common(c, ctx, &cp, errs);
        let mut restart_always = false;
        if let Some(rp) = &c.restart_policy {
            if rp != "Always" {
                errs.push(not_supported(&cp.child("restartPolicy"), rp, &["Always"]));
            }
            restart_always = rp == "Always";
        }
        if names.contains(&c.name) {
            errs.push(duplicate_s(&cp.child("name"), &c.name));
        } else if !c.name.is_empty() {
            names.insert(c.name.clone());
        }
        host_port_conflicts(&[c], p, errs);
        if restart_always {
            validate_lifecycle_and_probes(c, ctx.grace, &cp, errs);
        } else {
            let msg = "may not be set for init containers without restartPolicy=Always";
            if c.lifecycle.is_some() {
                errs.push(forbidden(&cp.child("lifecycle"), msg));
            }
            if c.liveness_probe.is_some() {
                errs.push(forbidden(&cp.child("livenessProbe"), msg));
            }
            if c.readiness_probe.is_some() {
                errs.push(forbidden(&cp.child("readinessProbe"), msg));
            }
            if c.startup_probe.is_some() {
                errs.push(forbidden(&cp.child("startupProbe"), msg));
            }
        }
    }
}

fn validate_taint_effect(effect: &str, allow_empty: bool, p: &P, errs: &mut Errs) {
    if !allow_empty && effect.is_empty() {
        errs.push(required(p, ""));
        return;
    }
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        errs.push(not_supported(
            p,
            effect,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        ));
    }
}

fn validate_tolerations(tols: &[Toleration], p: &P, errs: &mut Errs) {
    for (i, t) in tols.iter().enumerate() {
        let ip = p.index(i);
        let key = t.key.as_deref().unwrap_or("");
        let op = t.operator.as_deref().unwrap_or("");
        let effect = t.effect.as_deref().unwrap_or("");
        let value = t.value.as_deref().unwrap_or("");
        if !key.is_empty() {
            qualified_name(key, &ip.child("key"), errs);
        }
        if key.is_empty() && op != "Exists" {
            errs.push(invalid_s(
                &ip.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(invalid_s(
                &ip.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(invalid_s(&ip.child("operator"), value, &msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(invalid_s(
                        &ip.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(not_supported(
                &ip.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            validate_taint_effect(effect, true, &ip.child("effect"), errs);
        }
    }
}

fn validate_dns_config(spec: &PodSpec, dns_policy: &str, p: &P, errs: &mut Errs) {
    if dns_policy == "None" {
        match &spec.dns_config {
            None => {
                errs.push(required(
                    p,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                ));
                return;
            }
            Some(c) if c.nameservers.as_ref().is_none_or(Vec::is_empty) => {
                errs.push(required(
                    &p.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ));
                return;
            }
            _ => {}
        }
    }
    let Some(c) = &spec.dns_config else { return };
    let ns = c.nameservers.clone().unwrap_or_default();
    if ns.len() > 3 {
        errs.push(invalid_raw(
            &p.child("nameservers"),
            &go_strings(Some(&ns)),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, n) in ns.iter().enumerate() {
        valid_ip(n, &p.child("nameservers").index(i), errs);
    }
    let searches = c.searches.clone().unwrap_or_default();
    if searches.len() > 32 {
        errs.push(invalid_raw(
            &p.child("searches"),
            &go_strings(Some(&searches)),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(invalid_raw(
            &p.child("searches"),
            &go_strings(Some(&searches)),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        if s != "." {
            let s = s.strip_suffix('.').unwrap_or(s);
            for m in is_dns1123_subdomain_with_underscore(s) {
                errs.push(invalid_s(&p.child("searches").index(i), s, &m));
            }
        }
    }
    for (i, o) in c.options.iter().flatten().enumerate() {
        if o.name.as_deref().unwrap_or("").is_empty() {
            errs.push(required(&p.child("options").index(i), "must not be empty"));
        }
    }
}

fn validate_topology_spread(spec: &PodSpec, p: &P, errs: &mut Errs) {
    let list = spec.topology_spread_constraints.clone().unwrap_or_default();
    for (i, c) in list.iter().enumerate() {
        let cp = p.index(i);
        if c.max_skew <= 0 {
            errs.push(invalid_i(
                &cp.child("maxSkew"),
                i64::from(c.max_skew),
                "must be greater than zero",
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(required(&cp.child("topologyKey"), "can not be empty"));
        }
        if c.when_unsatisfiable != "DoNotSchedule" && c.when_unsatisfiable != "ScheduleAnyway" {
            errs.push(not_supported(
                &cp.child("whenUnsatisfiable"),
                &c.when_unsatisfiable,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if list[i + 1..].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        }) {
            errs.push(duplicate_s(
                &cp.child("{topologyKey, whenUnsatisfiable}"),
                &format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        if let Some(md) = c.min_domains {
            if md <= 0 {
                errs.push(invalid_i(
                    &cp.child("minDomains"),
                    i64::from(md),
                    "must be greater than zero",
                ));
            }
            if c.when_unsatisfiable != "DoNotSchedule" {
                errs.push(invalid_i(
                    &cp.child("minDomains"),
                    i64::from(md),
                    &format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                        c.when_unsatisfiable
                    ),
                ));
            }
        }
        for (field, v) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(v) = v
                && v != "Honor"
                && v != "Ignore"
            {
                errs.push(not_supported(&cp.child(field), v, &["Honor", "Ignore"]));
            }
        }
        if let Some(sel) = &c.label_selector {
            validate_label_selector(sel, &cp.child("labelSelector"), errs);
        }
    }
}

/// `ValidatePodSpec`.
fn validate_pod_spec(spec: &PodSpec, fld: &P, opts: PodOpts, errs: &mut Errs) {
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(required(&fld.child("terminationGracePeriodSeconds"), ""));
    }
    let restart_policy = spec.restart_policy.as_deref().unwrap_or("");
    let volumes = validate_volumes(spec.volumes.as_ref(), &fld.child("volumes"), errs);
    // validatePodResourceClaims
    let mut pod_claims = BTreeSet::new();
    for (i, c) in spec.resource_claims.iter().flatten().enumerate() {
        let cp = fld.child("resourceClaims").index(i);
        if c.name.is_empty() {
            errs.push(required(&cp.child("name"), ""));
        } else if pod_claims.contains(&c.name) {
            errs.push(duplicate_s(&cp.child("name"), &c.name));
        } else {
            dns_label(&c.name, &cp.child("name"), errs);
            pod_claims.insert(c.name.clone());
        }
    }
    let ctx = SpecCtx {
        volumes,
        pod_claims,
        grace: spec.termination_grace_period_seconds,
        restart_policy,
        host_users: spec.host_users.unwrap_or(true),
    };
    validate_containers(&spec.containers, &ctx, &fld.child("containers"), errs);
    let inits = spec.init_containers.clone().unwrap_or_default();
    validate_init_containers(
        &inits,
        &spec.containers,
        &ctx,
        &fld.child("initContainers"),
        errs,
    );

    // validatePodHostNetworkDeps
    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, port) in c.ports.iter().flatten().enumerate() {
                let hp = port.host_port.unwrap_or(0);
                if (opts.resource_is_pod || hp != 0) && hp != port.container_port {
                    errs.push(invalid_i(
                        &fld.child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                        i64::from(hp),
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    match restart_policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(required(&fld.child("restartPolicy"), "")),
        other => errs.push(not_supported(
            &fld.child("restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns_policy = spec.dns_policy.as_deref().unwrap_or("");
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(required(&fld.child("dnsPolicy"), "")),
        other => errs.push(not_supported(
            &fld.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    validate_labels(
        spec.node_selector.as_ref(),
        &fld.child("nodeSelector"),
        errs,
    );
    validate_pod_security_context(spec, &fld.child("securityContext"), errs);
    validate_dns_config(spec, dns_policy, &fld.child("dnsConfig"), errs);
    for (i, g) in spec.readiness_gates.iter().flatten().enumerate() {
        qualified_name(
            &g.condition_type,
            &fld.child("readinessGates").index(i).child("conditionType"),
            errs,
        );
    }
    let mut gates = BTreeSet::new();
    for (i, g) in spec.scheduling_gates.iter().flatten().enumerate() {
        let gp = fld.child("schedulingGates").index(i);
        qualified_name(&g.name, &gp, errs);
        if !gates.insert(g.name.clone()) {
            errs.push(duplicate_s(&gp, &g.name));
        }
    }
    validate_topology_spread(spec, &fld.child("topologySpreadConstraints"), errs);
    if spec.host_users == Some(false) {
        if spec.host_network == Some(true) {
            errs.push(forbidden(
                &fld.child("hostNetwork"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
        if spec.host_pid == Some(true) {
            errs.push(forbidden(
                &fld.child("HostPID"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
        if spec.host_ipc == Some(true) {
            errs.push(forbidden(
                &fld.child("HostIPC"),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
    }
    let sa = spec.service_account_name.as_deref().unwrap_or("");
    if !sa.is_empty() {
        for m in name_is_dns_subdomain(sa, false) {
            errs.push(invalid_s(&fld.child("serviceAccountName"), sa, &m));
        }
    }
    let node_name = spec.node_name.as_deref().unwrap_or("");
    if !node_name.is_empty() {
        for m in name_is_dns_subdomain(node_name, false) {
            errs.push(invalid_s(&fld.child("nodeName"), node_name, &m));
        }
    }
    if let Some(ads) = spec.active_deadline_seconds
        && !(1..=MAX_INT32).contains(&ads)
    {
        errs.push(invalid_i(
            &fld.child("activeDeadlineSeconds"),
            ads,
            &inclusive_range_error(1, MAX_INT32),
        ));
    }
    if let Some(h) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        dns_label(h, &fld.child("hostname"), errs);
    }
    if let Some(s) = spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
        dns_label(s, &fld.child("subdomain"), errs);
    }
    if let Some(t) = spec.tolerations.as_ref().filter(|t| !t.is_empty()) {
        validate_tolerations(t, &fld.child("tolerations"), errs);
    }
    for (i, ha) in spec.host_aliases.iter().flatten().enumerate() {
        let hp = fld.child("hostAliases").index(i);
        valid_ip(&ha.ip, &hp.child("ip"), errs);
        for (j, h) in ha.hostnames.iter().flatten().enumerate() {
            dns_subdomain(h, &hp.child("hostnames").index(j), errs);
        }
    }
    if let Some(pc) = spec
        .priority_class_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        for m in name_is_dns_subdomain(pc, false) {
            errs.push(invalid_s(&fld.child("priorityClassName"), pc, &m));
        }
    }
    if let Some(rc) = &spec.runtime_class_name {
        for m in name_is_dns_subdomain(rc, false) {
            errs.push(invalid_s(&fld.child("runtimeClassName"), rc, &m));
        }
    }
    if let Some(pp) = &spec.preemption_policy {
        match pp.as_str() {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(required(&fld.child("preemptionPolicy"), "")),
            other => errs.push(not_supported(
                &fld.child("preemptionPolicy"),
                other,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    if let Some(overhead) = &spec.overhead {
        let rr = ResourceRequirements {
            limits: Some(overhead.clone()),
            ..Default::default()
        };
        validate_resource_requirements(Some(&rr), &BTreeSet::new(), &fld.child("overhead"), errs);
    }
    if let Some(os) = &spec.os {
        if os.name.is_empty() {
            errs.push(required(&fld.child("os").child("name"), "cannot be empty"));
        } else if os.name != "linux" && os.name != "windows" {
            errs.push(not_supported(
                &fld.child("os"),
                &os.name,
                &["linux", "windows"],
            ));
        }
    }
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

fn valid_deletion_cost(v: &str) -> bool {
    let first_ok = match v.as_bytes().first() {
        None => false,
        Some(b'-') => true,
        Some(b'0') => v == "0",
        Some(b) => (b'1'..=b'9').contains(b),
    };
    first_ok && v.parse::<i32>().is_ok()
}

/// `ValidatePodSpecificAnnotations`.
fn validate_pod_specific_annotations(meta: &ObjectMeta, spec: &PodSpec, p: &P, errs: &mut Errs) {
    if let Some(v) = annotation(meta, MIRROR_POD_ANNOTATION)
        && spec.node_name.as_deref().unwrap_or("").is_empty()
    {
        errs.push(invalid_s(
            &p.key(MIRROR_POD_ANNOTATION),
            v,
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    if let Some(v) = annotation(meta, POD_DELETION_COST_ANNOTATION)
        && !valid_deletion_cost(v)
    {
        errs.push(invalid_s(
            &p.key(POD_DELETION_COST_ANNOTATION),
            v,
            "must be a 32bit integer",
        ));
    }
}

fn pod_spec_or_default(pod: &Pod) -> std::borrow::Cow<'_, PodSpec> {
    match &pod.spec {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(PodSpec::default()),
    }
}

/// `validatePodMetadataAndSpec`.
fn validate_pod_metadata_and_spec(pod: &Pod, errs: &mut Errs) {
    let meta_path = P::new("metadata");
    let spec_path = P::new("spec");
    errs.extend(validate_object_meta(
        &pod.metadata,
        true,
        NameKind::Subdomain,
        "metadata",
    ));
    let spec = pod_spec_or_default(pod);
    validate_pod_specific_annotations(&pod.metadata, &spec, &meta_path.child("annotations"), errs);
    validate_pod_spec(
        &spec,
        &spec_path,
        PodOpts {
            resource_is_pod: true,
        },
        errs,
    );
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        for (vi, v) in spec.volumes.iter().flatten().enumerate() {
            let Some(pr) = &v.projected else { continue };
            for (si, src) in pr.sources.iter().flatten().enumerate() {
                if src.service_account_token.is_some() {
                    errs.push(forbidden(
                        &spec_path
                            .child("volumes")
                            .index(vi)
                            .child("projected")
                            .child("sources")
                            .index(si)
                            .child("serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    let inits = spec.init_containers.clone().unwrap_or_default();
    for (field, list) in [("containers", &spec.containers), ("initContainers", &inits)] {
        for (i, c) in list.iter().enumerate() {
            let image = c.image.as_deref().unwrap_or("");
            if image.len() != image.trim().len() {
                errs.push(invalid_s(
                    &spec_path.child(field).index(i).child("image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
}

/// Create-time validation of a defaulted Pod (`ValidatePodCreate`).
pub fn validate_pod(pod: &Pod) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_pod_metadata_and_spec(pod, &mut errs);
    let spec = pod_spec_or_default(pod);
    let spec_path = P::new("spec");
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(forbidden(
            &spec_path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !spec.node_name.as_deref().unwrap_or("").is_empty()
        && spec
            .scheduling_gates
            .as_ref()
            .is_some_and(|g| !g.is_empty())
    {
        errs.push(forbidden(
            &spec_path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Pod updates
// ---------------------------------------------------------------------------------------------

const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";
const APPARMOR_BETA_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// Drops nulls, empty arrays and empty objects, approximating Go's semantic equality (nil and
/// empty slices/maps compare equal; value structs are always present).
fn normalize_json(v: serde_json::Value) -> Option<serde_json::Value> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::Array(a) => {
            let items: Vec<serde_json::Value> = a
                .into_iter()
                .map(|x| normalize_json(x).unwrap_or(serde_json::Value::Null))
                .collect();
            if items.is_empty() {
                None
            } else {
                Some(serde_json::Value::Array(items))
            }
        }
        serde_json::Value::Object(o) => {
            let m: serde_json::Map<String, serde_json::Value> = o
                .into_iter()
                .filter_map(|(k, v)| normalize_json(v).map(|v| (k, v)))
                .collect();
            if m.is_empty() {
                None
            } else {
                Some(serde_json::Value::Object(m))
            }
        }
        other => Some(other),
    }
}

fn semantic_eq<T: serde::Serialize>(a: &T, b: &T) -> bool {
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(x), Ok(y)) => normalize_json(x) == normalize_json(y),
        _ => false,
    }
}

fn dedup(errs: Vec<FieldError>) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = Vec::with_capacity(errs.len());
    for e in errs {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

fn validate_pod_annotation_updates(new: &ObjectMeta, old: &ObjectMeta, errs: &mut Errs) {
    let p = P::new("metadata").child("annotations");
    let empty = BTreeMap::new();
    let new_a = new.annotations.as_ref().unwrap_or(&empty);
    let old_a = old.annotations.as_ref().unwrap_or(&empty);
    for (k, ov) in old_a {
        if new_a.get(k) == Some(ov) {
            continue;
        }
        if k.starts_with(APPARMOR_BETA_PREFIX) {
            errs.push(forbidden(
                &p.key(k),
                "may not remove or update AppArmor annotations",
            ));
        }
        if k == MIRROR_POD_ANNOTATION {
            errs.push(forbidden(
                &p.key(k),
                "may not remove or update mirror pod annotation",
            ));
        }
    }
    for k in new_a.keys() {
        if old_a.contains_key(k) {
            continue;
        }
        if k.starts_with(APPARMOR_BETA_PREFIX) {
            errs.push(forbidden(&p.key(k), "may not add AppArmor annotations"));
        }
        if k == MIRROR_POD_ANNOTATION {
            errs.push(forbidden(&p.key(k), "may not add mirror pod annotation"));
        }
    }
}

fn validate_container_updates(
    new: &[Container],
    old: &[Container],
    p: &P,
    errs: &mut Errs,
) -> bool {
    if new.len() != old.len() {
        errs.push(forbidden(p, "pod updates may not add or remove containers"));
        return true;
    }
    for (i, c) in new.iter().enumerate() {
        let image = c.image.as_deref().unwrap_or("");
        if image.is_empty() {
            errs.push(required(&p.index(i).child("image"), ""));
        }
        if image.trim().len() != image.len() {
            errs.push(invalid_s(
                &p.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    false
}

/// Update validation: `validate_pod`'s spec/metadata rules (minus create-only ones) plus
/// `ValidatePodUpdate`'s immutability of everything in `spec` except the mutable fields.
/// Metadata immutability (name/namespace/uid/...) is the caller's job.
pub fn validate_pod_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_pod_metadata_and_spec(new, &mut errs);
    validate_pod_annotation_updates(&new.metadata, &old.metadata, &mut errs);
    let spec_path = P::new("spec");
    let new_spec = pod_spec_or_default(new).into_owned();
    let old_spec = pod_spec_or_default(old).into_owned();

    if validate_container_updates(
        &new_spec.containers,
        &old_spec.containers,
        &spec_path.child("containers"),
        &mut errs,
    ) {
        return dedup(errs);
    }
    let new_inits = new_spec.init_containers.clone().unwrap_or_default();
    let old_inits = old_spec.init_containers.clone().unwrap_or_default();
    if validate_container_updates(
        &new_inits,
        &old_inits,
        &spec_path.child("initContainers"),
        &mut errs,
    ) {
        return dedup(errs);
    }
    let ads_path = spec_path.child("activeDeadlineSeconds");
    match (
        new_spec.active_deadline_seconds,
        old_spec.active_deadline_seconds,
    ) {
        (Some(n), old_ads) => {
            if !(0..=MAX_INT32).contains(&n) {
                errs.push(invalid_i(
                    &ads_path,
                    n,
                    &inclusive_range_error(0, MAX_INT32),
                ));
                return dedup(errs);
            }
            if let Some(o) = old_ads
                && o < n
            {
                errs.push(invalid_i(
                    &ads_path,
                    n,
                    "must be less than or equal to previous value",
                ));
                return dedup(errs);
            }
        }
        (None, Some(_)) => errs.push(invalid_raw(
            &ads_path,
            "null",
            "must not update from a positive integer to nil value",
        )),
        (None, None) => {}
    }
    // validateOnlyAddedTolerations
    let new_tols = new_spec.tolerations.clone().unwrap_or_default();
    let old_tols = old_spec.tolerations.clone().unwrap_or_default();
    let tol_path = spec_path.child("tolerations");
    let mut tol_ok = true;
    for o in &old_tols {
        let found = new_tols.iter().any(|n| {
            let mut clone = o.clone();
            clone.toleration_seconds = n.toleration_seconds;
            semantic_eq(&clone, n)
        });
        if !found {
            errs.push(forbidden(
                &tol_path,
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            tol_ok = false;
            break;
        }
    }
    if tol_ok {
        validate_tolerations(&new_tols, &tol_path, &mut errs);
    }
    // validateOnlyDeletedSchedulingGates
    let new_gates = new_spec.scheduling_gates.clone().unwrap_or_default();
    let old_gates = old_spec.scheduling_gates.clone().unwrap_or_default();
    let mut added: BTreeMap<String, usize> = BTreeMap::new();
    for (i, g) in new_gates.iter().enumerate() {
        added.insert(g.name.clone(), i);
    }
    for g in &old_gates {
        added.remove(&g.name);
    }
    for (gate, i) in added {
        errs.push(forbidden(
            &spec_path.child("schedulingGates").index(i).child("name"),
            &format!("only deletion is allowed, but found new scheduling gate '{gate}'"),
        ));
    }

    if semantic_eq(&new_spec, &old_spec) {
        return dedup(errs);
    }
    let mut munged = new_spec.clone();
    for (c, o) in munged.containers.iter_mut().zip(old_spec.containers.iter()) {
        c.image = o.image.clone();
    }
    if let Some(inits) = munged.init_containers.as_mut() {
        for (c, o) in inits.iter_mut().zip(old_inits.iter()) {
            c.image = o.image.clone();
        }
    }
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged.scheduling_gates = old_spec.scheduling_gates.clone();
    munged.tolerations = old_spec.tolerations.clone();
    if old_spec
        .termination_grace_period_seconds
        .is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;
    }
    if !old_gates.is_empty() && !semantic_eq(&munged.node_selector, &old_spec.node_selector) {
        let empty = BTreeMap::new();
        let new_sel = munged.node_selector.as_ref().unwrap_or(&empty);
        let changed = old_spec
            .node_selector
            .iter()
            .flatten()
            .any(|(k, v)| new_sel.get(k) != Some(v));
        if changed {
            errs.push(invalid_raw(
                &spec_path.child("nodeSelector"),
                &go_map(munged.node_selector.as_ref()),
                "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
            ));
        }
        munged.node_selector = old_spec.node_selector.clone();
    }
    if !semantic_eq(&munged, &old_spec) {
        errs.push(forbidden(&spec_path, POD_UPDATE_FORBIDDEN));
    }
    dedup(errs)
}

fn container_state_transitions(
    new: Option<&Vec<ContainerStatus>>,
    old: Option<&Vec<ContainerStatus>>,
    restart_policy: &str,
    restartable: &BTreeSet<String>,
    p: &P,
    errs: &mut Errs,
) {
    if restart_policy == "Always" {
        return;
    }
    for (i, os) in old.into_iter().flatten().enumerate() {
        let Some(term) = os.state.as_ref().and_then(|s| s.terminated.as_ref()) else {
            continue;
        };
        if term.exit_code != 0 && restart_policy == "OnFailure" {
            continue;
        }
        if restartable.contains(&os.name) {
            continue;
        }
        for ns in new.into_iter().flatten() {
            if ns.name == os.name
                && ns
                    .state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .is_none()
            {
                errs.push(forbidden(
                    &p.index(i).child("state"),
                    "may not be transitioned to non-terminated state",
                ));
            }
        }
    }
}

fn validate_ip_list(ips: &[String], kind: &str, p: &P, errs: &mut Errs) {
    for (i, ip) in ips.iter().enumerate() {
        valid_ip(ip, &p.index(i), errs);
    }
    if ips.len() > 1 {
        let v4 = ips
            .iter()
            .filter(|s| matches!(s.parse::<std::net::IpAddr>(), Ok(std::net::IpAddr::V4(_))))
            .count();
        let v6 = ips
            .iter()
            .filter(|s| matches!(s.parse::<std::net::IpAddr>(), Ok(std::net::IpAddr::V6(_))))
            .count();
        let dual = v4 >= 1 && v6 >= 1;
        let render = |ip: &str| format!("core.{kind}{{IP:{}}}", go_quote(ip));
        if !dual || ips.len() > 2 {
            let all: Vec<String> = ips.iter().map(|s| render(s)).collect();
            errs.push(invalid_raw(
                p,
                &format!("[]core.{kind}{{{}}}", all.join(", ")),
                "may specify no more than one IP for each IP family",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, ip) in ips.iter().enumerate() {
            if !seen.insert(ip.clone()) {
                errs.push(duplicate_raw(&p.index(i), &render(ip), ""));
            }
        }
    }
}

/// Status-update validation (`ValidatePodStatusUpdate`): condition types, nodeName, nominated
/// node name, immutable qosClass, terminated-container transitions and pod/host IPs.
pub fn validate_pod_status_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_pod_annotation_updates(&new.metadata, &old.metadata, &mut errs);
    let new_spec = pod_spec_or_default(new);
    let old_spec = pod_spec_or_default(old);
    let default_status = k8s_openapi::api::core::v1::PodStatus::default();
    let ns = new.status.as_ref().unwrap_or(&default_status);
    let os = old.status.as_ref().unwrap_or(&default_status);
    let cond_path = P::new("metadata").child("conditions");
    for (i, c) in ns.conditions.iter().flatten().enumerate() {
        if matches!(c.type_.as_str(), "PodScheduled" | "Ready" | "Initialized") {
            continue;
        }
        qualified_name(&c.type_, &cond_path.index(i).child("Type"), &mut errs);
    }
    let sp = P::new("status");
    if new_spec.node_name.as_deref().unwrap_or("") != old_spec.node_name.as_deref().unwrap_or("") {
        errs.push(forbidden(
            &sp.child("nodeName"),
            "may not be changed directly",
        ));
    }
    let nnn = ns.nominated_node_name.as_deref().unwrap_or("");
    if nnn != os.nominated_node_name.as_deref().unwrap_or("") && !nnn.is_empty() {
        for m in name_is_dns_subdomain(nnn, false) {
            errs.push(invalid_s(&sp.child("nominatedNodeName"), nnn, &m));
        }
    }
    let nq = ns.qos_class.as_deref().unwrap_or("");
    if nq != os.qos_class.as_deref().unwrap_or("") {
        errs.push(invalid_s(&sp.child("qosClass"), nq, FIELD_IMMUTABLE_ERR));
    }
    let old_rp = old_spec.restart_policy.as_deref().unwrap_or("");
    container_state_transitions(
        ns.container_statuses.as_ref(),
        os.container_statuses.as_ref(),
        old_rp,
        &BTreeSet::new(),
        &sp.child("containerStatuses"),
        &mut errs,
    );
    let restartable: BTreeSet<String> = old_spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.clone())
        .collect();
    container_state_transitions(
        ns.init_container_statuses.as_ref(),
        os.init_container_statuses.as_ref(),
        old_rp,
        &restartable,
        &sp.child("initContainerStatuses"),
        &mut errs,
    );
    container_state_transitions(
        ns.ephemeral_container_statuses.as_ref(),
        os.ephemeral_container_statuses.as_ref(),
        "Never",
        &BTreeSet::new(),
        &sp.child("ephemeralContainerStatuses"),
        &mut errs,
    );
    let pod_ips: Vec<String> = ns.pod_ips.iter().flatten().map(|p| p.ip.clone()).collect();
    validate_ip_list(&pod_ips, "PodIP", &sp.child("podIPs"), &mut errs);
    let host_ips: Vec<String> = ns.host_ips.iter().flatten().map(|p| p.ip.clone()).collect();
    if let Some(first) = host_ips.first()
        && ns.host_ip.as_deref().unwrap_or("") != first
    {
        errs.push(invalid_s(
            &sp.child("hostIPs").index(0).child("ip"),
            first,
            "must be equal to `hostIP`",
        ));
    }
    validate_ip_list(&host_ips, "HostIP", &sp.child("hostIPs"), &mut errs);
    errs
}

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

fn validate_label_selector(sel: &LabelSelector, p: &P, errs: &mut Errs) {
    validate_labels(sel.match_labels.as_ref(), &p.child("matchLabels"), errs);
    for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
        let ep = p.child("matchExpressions").index(i);
        let n_values = e.values.as_ref().map_or(0, Vec::len);
        match e.operator.as_str() {
            "In" | "NotIn" => {
                if n_values == 0 {
                    errs.push(required(
                        &ep.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if n_values > 0 {
                    errs.push(forbidden(
                        &ep.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(invalid_s(
                &ep.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        qualified_name(&e.key, &ep.child("key"), errs);
        for (j, v) in e.values.iter().flatten().enumerate() {
            for m in is_valid_label_value(v) {
                errs.push(invalid_s(&ep.child("values").index(j), v, &m));
            }
        }
    }
}

/// `labels.Selector.Matches` for a selector that converted without error.
fn selector_matches(sel: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    for (k, v) in sel.match_labels.iter().flatten() {
        if labels.get(k) != Some(v) {
            return false;
        }
    }
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default();
        let got = labels.get(&e.key);
        let ok = match e.operator.as_str() {
            "In" => got.is_some_and(|v| values.contains(v)),
            "NotIn" => got.is_none_or(|v| !values.contains(v)),
            "Exists" => got.is_some(),
            "DoesNotExist" => got.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// ReplicaSet
// ---------------------------------------------------------------------------------------------

fn validate_pod_template_spec(tpl: &PodTemplateSpec, p: &P, errs: &mut Errs) {
    let default_meta = ObjectMeta::default();
    let meta = tpl.metadata.as_ref().unwrap_or(&default_meta);
    let default_spec = PodSpec::default();
    let spec = tpl.spec.as_ref().unwrap_or(&default_spec);
    validate_labels(meta.labels.as_ref(), &p.child("labels"), errs);
    validate_annotations(meta.annotations.as_ref(), &p.child("annotations"), errs);
    validate_pod_specific_annotations(meta, spec, &p.child("annotations"), errs);
    validate_pod_spec(
        spec,
        &p.child("spec"),
        PodOpts {
            resource_is_pod: false,
        },
        errs,
    );
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(forbidden(
            &p.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

fn validate_replicaset_spec(spec: &ReplicaSetSpec, fld: &P, errs: &mut Errs) {
    nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &fld.child("replicas"),
        errs,
    );
    nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &fld.child("minReadySeconds"),
        errs,
    );
    let sel = &spec.selector;
    let sel_path = fld.child("selector");
    // None/None stands for an absent (nil) selector: Required, and a Nothing() selector.
    let nil = sel.match_labels.is_none() && sel.match_expressions.is_none();
    let mut everything = false;
    let mut convertible = true;
    if nil {
        errs.push(required(&sel_path, ""));
    } else {
        let mut sel_errs = Vec::new();
        validate_label_selector(sel, &sel_path, &mut sel_errs);
        convertible = sel_errs.is_empty();
        errs.extend(sel_errs);
        let count = sel.match_labels.as_ref().map_or(0, BTreeMap::len)
            + sel.match_expressions.as_ref().map_or(0, Vec::len);
        if count == 0 {
            everything = true;
            errs.push(invalid_raw(
                &sel_path,
                &go_label_selector(sel),
                "empty selector is invalid for deployment",
            ));
        }
    }
    if !convertible {
        errs.push(invalid_raw(
            &sel_path,
            &go_label_selector(sel),
            "invalid label selector",
        ));
        return;
    }
    let default_tpl = PodTemplateSpec::default();
    let tpl = spec.template.as_ref().unwrap_or(&default_tpl);
    let tp = fld.child("template");
    let labels = tpl.metadata.as_ref().and_then(|m| m.labels.as_ref());
    if !everything {
        let matches = !nil && selector_matches(sel, labels);
        if !matches {
            errs.push(invalid_raw(
                &tp.child("metadata").child("labels"),
                &go_map(labels),
                "`selector` does not match template `labels`",
            ));
        }
    }
    validate_pod_template_spec(tpl, &tp, errs);
    let tspec = tpl.spec.as_ref();
    let rp = tspec
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("");
    if rp != "Always" {
        errs.push(not_supported(
            &tp.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if tspec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errs.push(forbidden(
            &tp.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
}

/// Create-time validation of a defaulted apps/v1 ReplicaSet (`ValidateReplicaSet`).
pub fn validate_replicaset(rs: &ReplicaSet) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&rs.metadata, true, NameKind::Subdomain, "metadata");
    let default_spec = ReplicaSetSpec::default();
    let spec = rs.spec.as_ref().unwrap_or(&default_spec);
    validate_replicaset_spec(spec, &P::new("spec"), &mut errs);
    errs
}

/// Update validation: [`validate_replicaset`] plus the apps/v1 rule that `spec.selector` is
/// immutable.
pub fn validate_replicaset_update(new: &ReplicaSet, old: &ReplicaSet) -> Vec<FieldError> {
    let mut errs = validate_replicaset(new);
    let default_spec = ReplicaSetSpec::default();
    let ns = new.spec.as_ref().unwrap_or(&default_spec);
    let os = old.spec.as_ref().unwrap_or(&default_spec);
    if !semantic_eq(&ns.selector, &os.selector) {
        errs.push(invalid_raw(
            &P::new("spec").child("selector"),
            &go_label_selector(&ns.selector),
            FIELD_IMMUTABLE_ERR,
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Node, Namespace, Event
// ---------------------------------------------------------------------------------------------

fn validate_node_taints(taints: &[Taint], p: &P, errs: &mut Errs) {
    let mut unique: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let ip = p.index(i);
        qualified_name(&t.key, &ip.child("key"), errs);
        let value = t.value.as_deref().unwrap_or("");
        let msgs = is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(invalid_s(&ip.child("value"), value, &msgs.join(";")));
        }
        validate_taint_effect(&t.effect, false, &ip.child("effect"), errs);
        if !unique.insert((t.effect.clone(), t.key.clone())) {
            errs.push(duplicate_raw(
                &ip,
                &go_taint(t),
                "taints must be unique by key and effect pair",
            ));
        }
    }
}

/// Create-time validation of a Node (`ValidateNode`). Note that Kubernetes reports taint errors
/// under `metadata.taints[i]` (sic), which is reproduced here.
pub fn validate_node(node: &Node) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&node.metadata, false, NameKind::Subdomain, "metadata");
    if let Some(taints) = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .filter(|t| !t.is_empty())
    {
        validate_node_taints(taints, &P::new("metadata").child("taints"), &mut errs);
    }
    if let Some(status) = &node.status {
        for (field, list) in [
            ("capacity", &status.capacity),
            ("allocatable", &status.allocatable),
        ] {
            for (k, v) in list.iter().flatten() {
                let p = P::new("status").child(field).child(k);
                let _ = validate_resource_quantity_value(k, v, &p, &mut errs);
            }
        }
    }
    if let Some(cidrs) = node.spec.as_ref().and_then(|s| s.pod_cidrs.as_ref()) {
        let p = P::new("spec").child("podCIDRs");
        for (i, c) in cidrs.iter().enumerate() {
            valid_cidr(c, &p.index(i), &mut errs);
        }
        if cidrs.len() > 1 {
            let fam = |c: &String| c.split('/').next().map(|ip| ip.contains(':'));
            let v6 = cidrs.iter().filter(|c| fam(c) == Some(true)).count();
            let v4 = cidrs.iter().filter(|c| fam(c) == Some(false)).count();
            if v4 == 0 || v6 == 0 || cidrs.len() > 2 {
                errs.push(invalid_raw(
                    &p,
                    &go_strings(Some(cidrs)),
                    "may specify no more than one CIDR for each IP family",
                ));
            }
            let mut seen = BTreeSet::new();
            for (i, c) in cidrs.iter().enumerate() {
                if !seen.insert(c.clone()) {
                    errs.push(duplicate_s(&p.index(i), c));
                }
            }
        }
    }
    errs
}

/// Create-time validation of a Namespace: DNS-1123 label name and finalizer names.
pub fn validate_namespace(ns: &Namespace) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&ns.metadata, false, NameKind::Label, "metadata");
    let p = P::new("spec").child("finalizers");
    for f in ns.spec.iter().flat_map(|s| s.finalizers.iter().flatten()) {
        qualified_name(f, &p, &mut errs);
        validate_kube_finalizer_name(f, &p, &mut errs);
    }
    errs
}

/// core/v1 Event validation as kube-apiserver applies it to `v1` requests: the legacy event
/// rules (namespace agreement; reporting fields for events with `eventTime`) and, when those
/// pass, the generic registry's metadata checks (path-segment names, namespace required).
pub fn validate_event(ev: &Event) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = ev.metadata.namespace.as_deref().unwrap_or("");
    let inv_ns = ev.involved_object.namespace.as_deref().unwrap_or("");
    let inv_path = P::new("involvedObject").child("namespace");
    if ev.event_time.is_none() {
        if inv_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(invalid_s(
                    &inv_path,
                    inv_ns,
                    "does not match event.namespace",
                ));
            }
        } else if ns != inv_ns {
            errs.push(invalid_s(
                &inv_path,
                inv_ns,
                "does not match event.namespace",
            ));
        }
    } else {
        if inv_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(invalid_s(
                &inv_path,
                inv_ns,
                "does not match event.namespace",
            ));
        }
        let rc = ev.reporting_component.as_deref().unwrap_or("");
        let rc_path = P::new("reportingController");
        if rc.is_empty() {
            errs.push(required(&rc_path, ""));
        }
        qualified_name(rc, &rc_path, &mut errs);
        let ri = ev.reporting_instance.as_deref().unwrap_or("");
        if ri.is_empty() {
            errs.push(required(&P::new("reportingInstance"), ""));
        }
        if ri.len() > 128 {
            errs.push(invalid_s(
                &P::new("reportingInstance"),
                "",
                "can have at most 128 characters",
            ));
        }
        let action = ev.action.as_deref().unwrap_or("");
        if action.is_empty() {
            errs.push(required(&P::new("action"), ""));
        }
        if action.len() > 128 {
            errs.push(invalid_s(
                &P::new("action"),
                "",
                "can have at most 128 characters",
            ));
        }
        let reason = ev.reason.as_deref().unwrap_or("");
        if reason.is_empty() {
            errs.push(required(&P::new("reason"), ""));
        }
        if reason.len() > 128 {
            errs.push(invalid_s(
                &P::new("reason"),
                "",
                "can have at most 128 characters",
            ));
        }
        if ev.message.as_deref().unwrap_or("").len() > 1024 {
            errs.push(invalid_s(
                &P::new("message"),
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    dns_subdomain(ns, &P::new("namespace"), &mut errs);
    if errs.is_empty() {
        validate_object_meta_generic(
            &ev.metadata,
            true,
            name_is_path_segment,
            &P::new("metadata"),
            &mut errs,
        );
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::defaults::{
        default_namespace, default_node, default_pod, default_replicaset,
    };
    use super::FieldErrorReason::{
        Duplicate, Forbidden, Invalid, NotFound, NotSupported, Required, TooLong,
    };
    use super::*;
    use serde_json::{Value, json};

    /// (case name, JSON patch or object, expected (path, reason) list)
    type Case = (&'static str, Value, Vec<(&'static str, FieldErrorReason)>);
    type OwnedCase = (&'static str, Value, Vec<(String, FieldErrorReason)>);

    fn merge(base: &mut Value, patch: Value) {
        match patch {
            Value::Object(map) => {
                if !base.is_object() {
                    *base = json!({});
                }
                for (k, v) in map {
                    if v.is_null() {
                        if let Some(o) = base.as_object_mut() {
                            o.remove(&k);
                        }
                    } else if let Some(o) = base.as_object_mut() {
                        merge(o.entry(k).or_insert(Value::Null), v);
                    }
                }
            }
            other => *base = other,
        }
    }

    fn echo_pod_json() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "echo", "namespace": "default", "labels": {"app": "echo"}},
            "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1",
                                     "ports": [{"containerPort": 3000}]}]}
        })
    }

    fn pod(patch: Value) -> Pod {
        let mut v = echo_pod_json();
        merge(&mut v, patch);
        let mut p: Pod = serde_json::from_value(v).unwrap();
        default_pod(&mut p);
        p
    }

    fn raw_pod(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn echo_rs_json() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "echo-rs", "namespace": "default"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "echo"}},
                "template": {
                    "metadata": {"labels": {"app": "echo"}},
                    "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1"}]}
                }
            }
        })
    }

    fn rs(patch: Value) -> ReplicaSet {
        let mut v = echo_rs_json();
        merge(&mut v, patch);
        let mut r: ReplicaSet = serde_json::from_value(v).unwrap();
        default_replicaset(&mut r);
        r
    }

    fn keys(errs: &[FieldError]) -> Vec<(String, FieldErrorReason)> {
        let mut k: Vec<(String, FieldErrorReason)> =
            errs.iter().map(|e| (e.path.clone(), e.reason)).collect();
        k.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(format!("{:?}", a.1).cmp(&format!("{:?}", b.1)))
        });
        k
    }

    fn expect(name: &str, errs: &[FieldError], want: &[(&str, FieldErrorReason)]) {
        let mut w: Vec<(String, FieldErrorReason)> =
            want.iter().map(|(p, r)| (p.to_string(), *r)).collect();
        w.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(format!("{:?}", a.1).cmp(&format!("{:?}", b.1)))
        });
        assert_eq!(keys(errs), w, "case {name}: got {errs:#?}");
    }

    fn message_of<'a>(errs: &'a [FieldError], path: &str) -> &'a str {
        errs.iter()
            .find(|e| e.path == path)
            .map(|e| e.message.as_str())
            .unwrap_or_else(|| panic!("no error at {path}: {errs:#?}"))
    }

    #[test]
    fn pod_create_table() {
        let c0 = "spec.containers[0]";
        let cases: Vec<OwnedCase> = vec![
            ("valid echo pod", json!({}), vec![]),
            (
                "no containers",
                json!({"spec": {"containers": []}}),
                vec![("spec.containers".into(), Required)],
            ),
            (
                "container name missing",
                json!({"spec": {"containers": [{"name": "", "image": "nginx"}]}}),
                vec![(format!("{c0}.name"), Required)],
            ),
            (
                "container name not a label",
                json!({"spec": {"containers": [{"name": "App_1", "image": "nginx"}]}}),
                vec![(format!("{c0}.name"), Invalid)],
            ),
            (
                "duplicate container names",
                json!({"spec": {"containers": [
                {"name": "web", "image": "nginx"}, {"name": "web", "image": "nginx"}]}}),
                vec![("spec.containers[1].name".into(), Duplicate)],
            ),
            (
                "init container name clashes",
                json!({"spec": {"initContainers": [{"name": "app", "image": "busybox"}]}}),
                vec![("spec.initContainers[0].name".into(), Duplicate)],
            ),
            (
                "image missing",
                json!({"spec": {"containers": [{"name": "app"}]}}),
                vec![(format!("{c0}.image"), Required)],
            ),
            (
                "image whitespace",
                json!({"spec": {"containers": [{"name": "app", "image": " nginx"}]}}),
                vec![(format!("{c0}.image"), Invalid)],
            ),
            (
                "containerPort out of range",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 70000}]}]}}),
                vec![(format!("{c0}.ports[0].containerPort"), Invalid)],
            ),
            (
                "containerPort zero",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 0}]}]}}),
                vec![(format!("{c0}.ports[0].containerPort"), Required)],
            ),
            (
                "hostPort out of range",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": 70000}]}]}}),
                vec![(format!("{c0}.ports[0].hostPort"), Invalid)],
            ),
            (
                "bad protocol",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]}}),
                vec![(format!("{c0}.ports[0].protocol"), NotSupported)],
            ),
            (
                "bad port name",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80, "name": "a--b"}]}]}}),
                vec![(format!("{c0}.ports[0].name"), Invalid)],
            ),
            (
                "duplicate port names",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [
                {"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]}]}}),
                vec![(format!("{c0}.ports[1].name"), Duplicate)],
            ),
            (
                "host port conflict",
                json!({"spec": {"containers": [
                {"name": "a", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                {"name": "b", "image": "nginx", "ports": [{"containerPort": 81, "hostPort": 8080}]}]}}),
                vec![("spec.containers[1].ports[0].hostPort".into(), Duplicate)],
            ),
            (
                "env name with =",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A=B", "value": "x"}]}]}}),
                vec![(format!("{c0}.env[0].name"), Invalid)],
            ),
            (
                "env name relaxed (1.33) ok",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "1-my.VAR", "value": "x"}]}]}}),
                vec![],
            ),
            (
                "env name empty",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "", "value": "x"}]}]}}),
                vec![(format!("{c0}.env[0].name"), Required)],
            ),
            (
                "env valueFrom without source",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "valueFrom": {}}]}]}}),
                vec![(format!("{c0}.env[0].valueFrom"), Invalid)],
            ),
            (
                "env valueFrom two sources",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.name"}, "secretKeyRef": {"name": "s", "key": "k"}}}]}]}}),
                vec![(format!("{c0}.env[0].valueFrom"), Invalid)],
            ),
            (
                "env value and valueFrom",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "value": "x", "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.name"}}}]}]}}),
                vec![(format!("{c0}.env[0].valueFrom"), Invalid)],
            ),
            (
                "env fieldRef unsupported path",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "valueFrom": {
                "fieldRef": {"fieldPath": "spec.restartPolicy"}}}]}]}}),
                vec![(
                    format!("{c0}.env[0].valueFrom.fieldRef.fieldPath"),
                    NotSupported,
                )],
            ),
            (
                "volumeMount to unknown volume",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}),
                vec![(format!("{c0}.volumeMounts[0].name"), NotFound)],
            ),
            (
                "volumeMount without mountPath",
                json!({"spec": {"volumes": [{"name": "data"}], "containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": ""}]}]}}),
                vec![(format!("{c0}.volumeMounts[0].mountPath"), Required)],
            ),
            (
                "valid emptyDir volume mount",
                json!({"spec": {"volumes": [{"name": "data"}], "containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}),
                vec![],
            ),
            (
                "duplicate volume names",
                json!({"spec": {"volumes": [{"name": "data"}, {"name": "data"}]}}),
                vec![("spec.volumes[1].name".into(), Duplicate)],
            ),
            (
                "volume name not a label",
                json!({"spec": {"volumes": [{"name": "Data"}]}}),
                vec![("spec.volumes[0].name".into(), Invalid)],
            ),
            (
                "volume with two sources",
                json!({"spec": {"volumes": [{"name": "data", "emptyDir": {}, "hostPath": {"path": "/tmp"}}]}}),
                vec![("spec.volumes[0].hostPath".into(), Forbidden)],
            ),
            (
                "secret volume without name",
                json!({"spec": {"volumes": [{"name": "s", "secret": {}}]}}),
                vec![("spec.volumes[0].secret.secretName".into(), Required)],
            ),
            (
                "restartPolicy unsupported",
                json!({"spec": {"restartPolicy": "Sometimes"}}),
                vec![("spec.restartPolicy".into(), NotSupported)],
            ),
            (
                "dnsPolicy unsupported",
                json!({"spec": {"dnsPolicy": "Foo"}}),
                vec![("spec.dnsPolicy".into(), NotSupported)],
            ),
            (
                "imagePullPolicy unsupported",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "imagePullPolicy": "Sometimes"}]}}),
                vec![(format!("{c0}.imagePullPolicy"), NotSupported)],
            ),
            (
                "activeDeadlineSeconds zero",
                json!({"spec": {"activeDeadlineSeconds": 0}}),
                vec![("spec.activeDeadlineSeconds".into(), Invalid)],
            ),
            (
                "probe with two handlers",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "livenessProbe": {
                "httpGet": {"port": 80}, "tcpSocket": {"port": 80}}}]}}),
                vec![(format!("{c0}.livenessProbe.tcpSocket"), Forbidden)],
            ),
            (
                "probe without handler",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "readinessProbe": {"periodSeconds": 5}}]}}),
                vec![(format!("{c0}.readinessProbe"), Required)],
            ),
            (
                "liveness successThreshold must be 1",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "livenessProbe": {
                "exec": {"command": ["true"]}, "successThreshold": 2}}]}}),
                vec![(format!("{c0}.livenessProbe.successThreshold"), Invalid)],
            ),
            (
                "startup successThreshold must be 1",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "startupProbe": {
                "exec": {"command": ["true"]}, "successThreshold": 3}}]}}),
                vec![(format!("{c0}.startupProbe.successThreshold"), Invalid)],
            ),
            (
                "negative probe period",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "readinessProbe": {
                "tcpSocket": {"port": "http"}, "periodSeconds": -1}}]}}),
                vec![(format!("{c0}.readinessProbe.periodSeconds"), Invalid)],
            ),
            (
                "probe port out of range",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "readinessProbe": {
                "httpGet": {"port": 0}}}]}}),
                vec![(format!("{c0}.readinessProbe.httpGet.port"), Invalid)],
            ),
            (
                "exec probe without command",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "livenessProbe": {"exec": {}}}]}}),
                vec![(format!("{c0}.livenessProbe.exec.command"), Required)],
            ),
            (
                "requests above limits",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                "limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}]}}),
                vec![(format!("{c0}.resources.requests"), Invalid)],
            ),
            (
                "unparsable quantity",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                "requests": {"memory": "lots"}}}]}}),
                vec![(format!("{c0}.resources.requests[memory]"), Invalid)],
            ),
            (
                "negative quantity",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                "requests": {"memory": "-1Mi"}}}]}}),
                vec![(format!("{c0}.resources.requests[memory]"), Invalid)],
            ),
            (
                "unknown resource name",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                "requests": {"foo": "1"}}}]}}),
                vec![
                    (format!("{c0}.resources.requests[foo]"), Invalid),
                    (format!("{c0}.resources.requests[foo]"), Invalid),
                ],
            ),
            (
                "extended resource needs equal limit",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                "requests": {"example.com/gpu": "1"}}}]}}),
                vec![(format!("{c0}.resources.limits"), Required)],
            ),
            (
                "nodeSelector bad value",
                json!({"spec": {"nodeSelector": {"disk": "-ssd"}}}),
                vec![("spec.nodeSelector".into(), Invalid)],
            ),
            (
                "toleration bad operator",
                json!({"spec": {"tolerations": [{"key": "k", "operator": "Bogus"}]}}),
                vec![("spec.tolerations[0].operator".into(), NotSupported)],
            ),
            (
                "toleration bad effect",
                json!({"spec": {"tolerations": [{"key": "k", "operator": "Exists", "effect": "Sometimes"}]}}),
                vec![("spec.tolerations[0].effect".into(), NotSupported)],
            ),
            (
                "toleration empty key needs Exists",
                json!({"spec": {"tolerations": [{"operator": "Equal", "value": "v"}]}}),
                vec![("spec.tolerations[0].operator".into(), Invalid)],
            ),
            (
                "tolerationSeconds needs NoExecute",
                json!({"spec": {"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]}}),
                vec![("spec.tolerations[0].effect".into(), Invalid)],
            ),
            (
                "ephemeral containers on create",
                json!({"spec": {"ephemeralContainers": [{"name": "dbg", "image": "busybox"}]}}),
                vec![("spec.ephemeralContainers".into(), Forbidden)],
            ),
            (
                "bad hostname",
                json!({"spec": {"hostname": "Host_1"}}),
                vec![("spec.hostname".into(), Invalid)],
            ),
            (
                "regular container restartPolicy",
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "restartPolicy": "Always"}]}}),
                vec![(format!("{c0}.restartPolicy"), Forbidden)],
            ),
            (
                "init container probe without Always",
                json!({"spec": {"initContainers": [{"name": "init", "image": "busybox",
                "readinessProbe": {"exec": {"command": ["true"]}}}]}}),
                vec![("spec.initContainers[0].readinessProbe".into(), Forbidden)],
            ),
            (
                "sidecar init container ok",
                json!({"spec": {"initContainers": [{"name": "side", "image": "busybox", "restartPolicy": "Always",
                "readinessProbe": {"exec": {"command": ["true"]}}}]}}),
                vec![],
            ),
            (
                "deletion cost annotation",
                json!({"metadata": {"annotations": {"controller.kubernetes.io/pod-deletion-cost": "abc"}}}),
                vec![(
                    "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]".into(),
                    Invalid,
                )],
            ),
            (
                "name missing",
                json!({"metadata": {"name": null}}),
                vec![("metadata.name".into(), Required)],
            ),
            (
                "name not a subdomain",
                json!({"metadata": {"name": "Echo"}}),
                vec![("metadata.name".into(), Invalid)],
            ),
            (
                "namespace missing",
                json!({"metadata": {"namespace": null}}),
                vec![("metadata.namespace".into(), Required)],
            ),
            (
                "label key invalid",
                json!({"metadata": {"labels": {"-bad": "x"}}}),
                vec![("metadata.labels".into(), Invalid)],
            ),
            (
                "label value too long",
                json!({"metadata": {"labels": {"app": "a".repeat(64)}}}),
                vec![("metadata.labels".into(), Invalid)],
            ),
            (
                "annotations too large",
                json!({"metadata": {"annotations": {"big": "x".repeat(262_145)}}}),
                vec![("metadata.annotations".into(), TooLong)],
            ),
            (
                "annotation key invalid",
                json!({"metadata": {"annotations": {"a/b/c": "x"}}}),
                vec![("metadata.annotations".into(), Invalid)],
            ),
            (
                "finalizer not qualified",
                json!({"metadata": {"finalizers": ["foo"]}}),
                vec![("metadata.finalizers[0]".into(), Invalid)],
            ),
            (
                "owner reference incomplete",
                json!({"metadata": {"ownerReferences": [{"apiVersion": "", "kind": "", "name": "", "uid": ""}]}}),
                vec![
                    ("metadata.ownerReferences.apiVersion".into(), Invalid),
                    ("metadata.ownerReferences.kind".into(), Invalid),
                    ("metadata.ownerReferences.name".into(), Invalid),
                    ("metadata.ownerReferences.uid".into(), Invalid),
                ],
            ),
        ];
        for (name, patch, want) in cases {
            let p = pod(patch);
            let want: Vec<(&str, FieldErrorReason)> =
                want.iter().map(|(p, r)| (p.as_str(), *r)).collect();
            expect(name, &validate_pod(&p), &want);
        }
    }

    #[test]
    fn pod_messages_match_kubernetes() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                json!({"spec": {"containers": []}}),
                "spec.containers",
                "Required value",
            ),
            (
                json!({"metadata": {"name": "Foo"}}),
                "metadata.name",
                "Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ),
            (
                json!({"metadata": {"name": null}}),
                "metadata.name",
                "Required value: name or generateName is required",
            ),
            (
                json!({"spec": {"containers": [{"name": "web", "image": "a"}, {"name": "web", "image": "b"}]}}),
                "spec.containers[1].name",
                "Duplicate value: \"web\"",
            ),
            (
                json!({"spec": {"restartPolicy": "Sometimes"}}),
                "spec.restartPolicy",
                "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 70000}]}]}}),
                "spec.containers[0].ports[0].containerPort",
                "Invalid value: 70000: must be between 1 and 65535, inclusive",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}]}}),
                "spec.containers[0].resources.requests",
                "Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "volumeMounts": [{"name": "x", "mountPath": "/x"}]}]}}),
                "spec.containers[0].volumeMounts[0].name",
                "Not found: \"x\"",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "imagePullPolicy": "Sometimes"}]}}),
                "spec.containers[0].imagePullPolicy",
                "Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
            ),
            (
                json!({"spec": {"activeDeadlineSeconds": 0}}),
                "spec.activeDeadlineSeconds",
                "Invalid value: 0: must be between 1 and 2147483647, inclusive",
            ),
            (
                json!({"metadata": {"annotations": {"big": "x".repeat(262_145)}}}),
                "metadata.annotations",
                "Too long: may not be more than 262144 bytes",
            ),
            (
                json!({"metadata": {"labels": {"-bad": "x"}}}),
                "metadata.labels",
                "Invalid value: \"-bad\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "livenessProbe": {"exec": {"command": ["x"]}, "successThreshold": 2}}]}}),
                "spec.containers[0].livenessProbe.successThreshold",
                "Invalid value: 2: must be 1",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "env": [{"name": "A=B"}]}]}}),
                "spec.containers[0].env[0].name",
                "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            ),
            (
                json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80, "name": "HTTP"}]}]}}),
                "spec.containers[0].ports[0].name",
                "Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            ),
        ];
        for (patch, path, msg) in cases {
            let errs = validate_pod(&pod(patch));
            assert_eq!(message_of(&errs, path), msg, "{errs:#?}");
        }
    }

    #[test]
    fn undefaulted_pod_reports_required_defaults() {
        let p = raw_pod(echo_pod_json());
        expect(
            "raw pod",
            &validate_pod(&p),
            &[
                ("spec.terminationGracePeriodSeconds", Required),
                ("spec.restartPolicy", Required),
                ("spec.dnsPolicy", Required),
                ("spec.containers[0].terminationMessagePolicy", Required),
                ("spec.containers[0].imagePullPolicy", Required),
                ("spec.containers[0].ports[0].protocol", Required),
            ],
        );
    }

    #[test]
    fn pod_update_table() {
        let old = pod(json!({}));
        let forbidden_msg = "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";
        let cases: Vec<Case> = vec![
            ("no change", json!({}), vec![]),
            (
                "image change allowed",
                json!({"spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v2", "ports": [{"containerPort": 3000}]}]}}),
                vec![],
            ),
            (
                "port change forbidden",
                json!({"spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1", "ports": [{"containerPort": 3001}]}]}}),
                vec![("spec", Forbidden)],
            ),
            (
                "add container forbidden",
                json!({"spec": {"containers": [
                {"name": "app", "image": "ghcr.io/subicura/echo:v1", "ports": [{"containerPort": 3000}]},
                {"name": "side", "image": "busybox"}]}}),
                vec![("spec.containers", Forbidden)],
            ),
            (
                "activeDeadlineSeconds set allowed",
                json!({"spec": {"activeDeadlineSeconds": 60}}),
                vec![],
            ),
            (
                "restartPolicy change forbidden",
                json!({"spec": {"restartPolicy": "Never"}}),
                vec![("spec", Forbidden)],
            ),
            (
                "labels change allowed",
                json!({"metadata": {"labels": {"app": "echo", "tier": "web"}}}),
                vec![],
            ),
        ];
        for (name, patch, want) in cases {
            let new = pod(patch);
            let errs = validate_pod_update(&new, &old);
            expect(name, &errs, &want);
            if want == [("spec", Forbidden)] {
                assert_eq!(message_of(&errs, "spec"), forbidden_msg);
            }
        }
        // activeDeadlineSeconds may only decrease; tolerations may only be added.
        let old = pod(json!({"spec": {"activeDeadlineSeconds": 60}}));
        let new = pod(json!({"spec": {"activeDeadlineSeconds": 120}}));
        expect(
            "ads increase",
            &validate_pod_update(&new, &old),
            &[("spec.activeDeadlineSeconds", Invalid)],
        );
        let old = pod(json!({"spec": {"tolerations": [{"key": "a", "operator": "Exists"}]}}));
        let mut new = old.clone();
        if let Some(t) = new.spec.as_mut().and_then(|s| s.tolerations.as_mut()) {
            t.push(Toleration {
                key: Some("b".into()),
                operator: Some("Exists".into()),
                ..Default::default()
            });
        }
        expect("toleration added", &validate_pod_update(&new, &old), &[]);
        let mut new = old.clone();
        if let Some(t) = new.spec.as_mut().and_then(|s| s.tolerations.as_mut()) {
            t.remove(0);
        }
        expect(
            "toleration removed",
            &validate_pod_update(&new, &old),
            &[("spec.tolerations", Forbidden)],
        );
        // scheduling gates may only be removed
        let old = pod(json!({"spec": {"schedulingGates": [{"name": "example.com/gate"}]}}));
        let new = pod(json!({}));
        expect("gate removed", &validate_pod_update(&new, &old), &[]);
        let new = pod(
            json!({"spec": {"schedulingGates": [{"name": "example.com/gate"}, {"name": "example.com/other"}]}}),
        );
        expect(
            "gate added",
            &validate_pod_update(&new, &old),
            &[("spec.schedulingGates[1].name", Forbidden)],
        );
    }

    #[test]
    fn pod_status_update_table() {
        let old = pod(json!({}));
        let cases: Vec<Case> = vec![
            (
                "phase and conditions",
                json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}, {"type": "example.com/custom", "status": "True"}]}}),
                vec![],
            ),
            (
                "bad condition type",
                json!({"status": {"conditions": [{"type": "bad type!", "status": "True"}]}}),
                vec![("metadata.conditions[0].Type", Invalid)],
            ),
            (
                "qosClass immutable",
                json!({"status": {"qosClass": "Guaranteed"}}),
                vec![("status.qosClass", Invalid)],
            ),
            (
                "nodeName not via status",
                json!({"spec": {"nodeName": "node-1"}}),
                vec![("status.nodeName", Forbidden)],
            ),
            (
                "bad pod IP",
                json!({"status": {"podIPs": [{"ip": "10.0.0.300"}]}}),
                vec![("status.podIPs[0]", Invalid)],
            ),
            (
                "hostIP mismatch",
                json!({"status": {"hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.2"}]}}),
                vec![("status.hostIPs[0].ip", Invalid)],
            ),
        ];
        for (name, patch, want) in cases {
            let mut v = serde_json::to_value(&old).unwrap();
            merge(&mut v, patch);
            let new: Pod = serde_json::from_value(v).unwrap();
            expect(name, &validate_pod_status_update(&new, &old), &want);
        }
        // terminated containers of a Never pod cannot come back
        let mut old = pod(json!({"spec": {"restartPolicy": "Never"}}));
        let mut v = serde_json::to_value(&old).unwrap();
        merge(
            &mut v,
            json!({"status": {"containerStatuses": [{"name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0}}}]}}),
        );
        old = serde_json::from_value(v.clone()).unwrap();
        merge(
            &mut v,
            json!({"status": {"containerStatuses": [{"name": "app", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
            "state": {"running": {}}}]}}),
        );
        let new: Pod = serde_json::from_value(v).unwrap();
        expect(
            "terminated -> running",
            &validate_pod_status_update(&new, &old),
            &[("status.containerStatuses[0].state", Forbidden)],
        );
    }

    #[test]
    fn replicaset_table() {
        let cases: Vec<Case> = vec![
            ("valid echo-rs", json!({}), vec![]),
            (
                "negative replicas",
                json!({"spec": {"replicas": -1}}),
                vec![("spec.replicas", Invalid)],
            ),
            (
                "negative minReadySeconds",
                json!({"spec": {"minReadySeconds": -1}}),
                vec![("spec.minReadySeconds", Invalid)],
            ),
            (
                "selector mismatch",
                json!({"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}}),
                vec![("spec.template.metadata.labels", Invalid)],
            ),
            (
                "empty selector",
                json!({"spec": {"selector": {"matchLabels": {"app": null}}}}),
                vec![("spec.selector", Invalid)],
            ),
            (
                "missing selector",
                json!({"spec": {"selector": null}}),
                vec![
                    ("spec.selector", Required),
                    ("spec.template.metadata.labels", Invalid),
                ],
            ),
            (
                "template restartPolicy Never",
                json!({"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}),
                vec![("spec.template.spec.restartPolicy", NotSupported)],
            ),
            (
                "template activeDeadlineSeconds",
                json!({"spec": {"template": {"spec": {"activeDeadlineSeconds": 10}}}}),
                vec![("spec.template.spec.activeDeadlineSeconds", Forbidden)],
            ),
            (
                "template image missing",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "app"}]}}}}),
                vec![("spec.template.spec.containers[0].image", Required)],
            ),
            (
                "template label invalid",
                json!({"spec": {"selector": {"matchLabels": {"app": "echo"}}, "template": {"metadata": {"labels": {"app": "echo", "x": "-bad"}}}}}),
                vec![("spec.template.labels", Invalid)],
            ),
            (
                "matchExpressions In",
                json!({"spec": {"selector": {"matchLabels": null, "matchExpressions": [{"key": "app", "operator": "In", "values": ["echo", "x"]}]}}}),
                vec![],
            ),
            (
                "matchExpressions NotIn mismatch",
                json!({"spec": {"selector": {"matchLabels": null, "matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["echo"]}]}}}),
                vec![("spec.template.metadata.labels", Invalid)],
            ),
            (
                "matchExpressions Exists",
                json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}}),
                vec![],
            ),
            (
                "matchExpressions DoesNotExist",
                json!({"spec": {"selector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}}}),
                vec![],
            ),
            (
                "matchExpressions bad operator",
                json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "Has"}]}}}),
                vec![
                    ("spec.selector.matchExpressions[0].operator", Invalid),
                    ("spec.selector", Invalid),
                ],
            ),
            (
                "matchExpressions In without values",
                json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}}}),
                vec![
                    ("spec.selector.matchExpressions[0].values", Required),
                    ("spec.selector", Invalid),
                ],
            ),
            (
                "name invalid",
                json!({"metadata": {"name": "Echo_RS"}}),
                vec![("metadata.name", Invalid)],
            ),
        ];
        for (name, patch, want) in cases {
            expect(name, &validate_replicaset(&rs(patch)), &want);
        }
        let errs = validate_replicaset(&rs(
            json!({"spec": {"template": {"metadata": {"labels": {"app": "x"}}}}}),
        ));
        assert_eq!(
            message_of(&errs, "spec.template.metadata.labels"),
            "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
        );
        let errs = validate_replicaset(&rs(
            json!({"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}),
        ));
        assert_eq!(
            message_of(&errs, "spec.template.spec.restartPolicy"),
            "Unsupported value: \"Never\": supported values: \"Always\""
        );
        let errs = validate_replicaset(&rs(
            json!({"spec": {"selector": {"matchLabels": {"app": null}}}}),
        ));
        assert_eq!(
            message_of(&errs, "spec.selector"),
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
        );
        let errs = validate_replicaset(&rs(json!({"spec": {"replicas": -1}})));
        assert_eq!(
            message_of(&errs, "spec.replicas"),
            "Invalid value: -1: must be greater than or equal to 0"
        );
    }

    #[test]
    fn replicaset_update_selector_immutable() {
        let old = rs(json!({}));
        expect(
            "same",
            &validate_replicaset_update(&rs(json!({"spec": {"replicas": 5}})), &old),
            &[],
        );
        let new = rs(
            json!({"spec": {"selector": {"matchLabels": {"app": "echo", "v": "2"}},
            "template": {"metadata": {"labels": {"app": "echo", "v": "2"}}}}}),
        );
        let errs = validate_replicaset_update(&new, &old);
        expect("selector changed", &errs, &[("spec.selector", Invalid)]);
        assert!(message_of(&errs, "spec.selector").ends_with(": field is immutable"));
    }

    #[test]
    fn node_table() {
        let base = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}});
        let cases: Vec<Case> = vec![
            ("valid", json!({}), vec![]),
            (
                "valid taints",
                json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]}}),
                vec![],
            ),
            (
                "bad effect",
                json!({"spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}}),
                vec![("metadata.taints[0].effect", NotSupported)],
            ),
            (
                "missing effect",
                json!({"spec": {"taints": [{"key": "k", "effect": ""}]}}),
                vec![("metadata.taints[0].effect", Required)],
            ),
            (
                "bad key",
                json!({"spec": {"taints": [{"key": "bad key", "effect": "NoSchedule"}]}}),
                vec![("metadata.taints[0].key", Invalid)],
            ),
            (
                "duplicate key+effect",
                json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
                vec![("metadata.taints[1]", Duplicate)],
            ),
            (
                "bad name",
                json!({"metadata": {"name": "Node_1"}}),
                vec![("metadata.name", Invalid)],
            ),
            (
                "namespace forbidden",
                json!({"metadata": {"namespace": "default"}}),
                vec![("metadata.namespace", Forbidden)],
            ),
            // allocatable defaults to capacity, so both are reported
            (
                "negative capacity",
                json!({"status": {"capacity": {"cpu": "-1"}}}),
                vec![
                    ("status.capacity.cpu", Invalid),
                    ("status.allocatable.cpu", Invalid),
                ],
            ),
            (
                "bad podCIDR",
                json!({"spec": {"podCIDRs": ["10.0.0.0/33"]}}),
                vec![("spec.podCIDRs[0]", Invalid)],
            ),
        ];
        for (name, patch, want) in cases {
            let mut v = base.clone();
            merge(&mut v, patch);
            let mut n: Node = serde_json::from_value(v).unwrap();
            default_node(&mut n);
            expect(name, &validate_node(&n), &want);
        }
        let n: Node =
            serde_json::from_value(json!({"metadata": {"name": "n"}, "spec": {"taints": [
            {"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"}]}}))
            .unwrap();
        assert_eq!(
            message_of(&validate_node(&n), "metadata.taints[1]"),
            "Duplicate value: core.Taint{Key:\"k\", Value:\"\", Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair"
        );
    }

    #[test]
    fn namespace_table() {
        let cases: Vec<Case> = vec![
            ("valid", json!({"metadata": {"name": "team-a"}}), vec![]),
            (
                "uppercase",
                json!({"metadata": {"name": "Team"}}),
                vec![("metadata.name", Invalid)],
            ),
            (
                "dots",
                json!({"metadata": {"name": "team.a"}}),
                vec![("metadata.name", Invalid)],
            ),
            // the defaulted kubernetes.io/metadata.name label is then too long as well
            (
                "too long",
                json!({"metadata": {"name": "a".repeat(64)}}),
                vec![("metadata.name", Invalid), ("metadata.labels", Invalid)],
            ),
            (
                "bad finalizer",
                json!({"metadata": {"name": "ns"}, "spec": {"finalizers": ["foo"]}}),
                vec![("spec.finalizers", Invalid)],
            ),
            (
                "qualified finalizer",
                json!({"metadata": {"name": "ns"}, "spec": {"finalizers": ["example.com/x"]}}),
                vec![],
            ),
        ];
        for (name, v, want) in cases {
            let mut ns: Namespace = serde_json::from_value(v).unwrap();
            default_namespace(&mut ns);
            expect(name, &validate_namespace(&ns), &want);
        }
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": "team.a"}})).unwrap();
        assert_eq!(
            message_of(&validate_namespace(&ns), "metadata.name"),
            "Invalid value: \"team.a\": must not contain dots"
        );
    }

    #[test]
    fn event_table() {
        let base = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "echo.17f3a2b1c0d4e5f6", "namespace": "default"},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "echo", "namespace": "default"},
            "reason": "Scheduled", "message": "Successfully assigned default/echo to node-1",
            "type": "Normal", "count": 1, "source": {"component": "default-scheduler"}
        });
        let cases: Vec<Case> = vec![
            ("valid", json!({}), vec![]),
            (
                "namespace mismatch",
                json!({"involvedObject": {"namespace": "other"}}),
                vec![("involvedObject.namespace", Invalid)],
            ),
            (
                "cluster-scoped object in default ns",
                json!({"involvedObject": {"kind": "Node", "namespace": null}}),
                vec![],
            ),
            (
                "bad name",
                json!({"metadata": {"name": "a/b"}}),
                vec![("metadata.name", Invalid)],
            ),
            (
                "missing name",
                json!({"metadata": {"name": null}}),
                vec![("metadata.name", Required)],
            ),
            (
                "new-style event needs reporting fields",
                json!({"eventTime": "2024-01-01T00:00:00.000000Z", "reason": null}),
                vec![
                    ("reportingController", Required),
                    ("reportingController", Invalid),
                    ("reportingController", Invalid),
                    ("reportingInstance", Required),
                    ("action", Required),
                    ("reason", Required),
                ],
            ),
        ];
        for (name, patch, want) in cases {
            let mut v = base.clone();
            merge(&mut v, patch);
            let mut ev: Event = serde_json::from_value(v).unwrap();
            super::super::defaults::default_event(&mut ev);
            expect(name, &validate_event(&ev), &want);
        }
    }

    #[test]
    fn quantity_parse_and_canonical() {
        let cases = [
            ("1024Mi", "1Gi"),
            ("0.5", "500m"),
            ("1.5Gi", "1536Mi"),
            ("2000", "2k"),
            ("100m", "100m"),
            ("1e3", "1e3"),
            ("0.0001", "100u"),
            ("1536", "1536"),
            ("1.5Ki", "1536"),
            ("0", "0"),
            ("-1Mi", "-1Mi"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("129M", "129M"),
            ("123Mi", "123Mi"),
            ("+1", "1"),
            (".5", "500m"),
            ("1E", "1E"),
        ];
        for (input, want) in cases {
            let q = parse_quantity(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.canonical(), want, "{input}");
        }
        for bad in ["", "abc", "1.2.3", "1K", "1Gb", "e3", "1e", "--1"] {
            assert!(parse_quantity(bad).is_err(), "{bad} should not parse");
        }
        assert!(parse_quantity("1Gi").unwrap().nanos > parse_quantity("1G").unwrap().nanos);
    }

    #[test]
    fn format_helpers() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_map(None), "map[string]string(nil)");
        let m: BTreeMap<String, String> = [
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]
        .into();
        assert_eq!(
            go_map(Some(&m)),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        let e = FieldError {
            path: "spec".into(),
            reason: Forbidden,
            message: "Forbidden: x".into(),
        };
        assert_eq!(e.to_string(), "spec: Forbidden: x");
        let reasons = [
            (Required, "FieldValueRequired"),
            (Invalid, "FieldValueInvalid"),
            (Duplicate, "FieldValueDuplicate"),
            (NotSupported, "FieldValueNotSupported"),
            (Forbidden, "FieldValueForbidden"),
            (TooLong, "FieldValueTooLong"),
            (FieldErrorReason::TooMany, "FieldValueTooMany"),
            (NotFound, "FieldValueNotFound"),
        ];
        for (r, s) in reasons {
            assert_eq!(r.as_cause_reason(), s);
        }
        assert_eq!(
            too_many(&P::new("x"), 5, 3).message,
            "Too many: 5: must have at most 3 items"
        );
        assert_eq!(mask_trailing_dash("echo-"), "echa");
        assert!(name_is_dns_subdomain("echo-", true).is_empty());
    }

    #[test]
    fn validate_object_meta_generate_name() {
        let meta: ObjectMeta =
            serde_json::from_value(json!({"generateName": "echo-", "namespace": "default"}))
                .unwrap();
        expect(
            "generateName only",
            &validate_object_meta(&meta, true, NameKind::Subdomain, "metadata"),
            &[("metadata.name", Required)],
        );
        let meta: ObjectMeta = serde_json::from_value(
            json!({"name": "x", "generateName": "Bad_", "namespace": "default"}),
        )
        .unwrap();
        expect(
            "bad generateName",
            &validate_object_meta(&meta, true, NameKind::Subdomain, "metadata"),
            &[("metadata.generateName", Invalid)],
        );
        let meta: ObjectMeta = serde_json::from_value(json!({"name": "x", "ownerReferences": [
            {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": true},
            {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": true}]}))
        .unwrap();
        expect(
            "two controllers",
            &validate_object_meta(&meta, false, NameKind::Label, "metadata"),
            &[("metadata.ownerReferences", Invalid)],
        );
    }
}
