//! Parsing and matching of Kubernetes label selectors (`labels.Parse`) and field selectors
//! (`fields.ParseSelector`), with apimachinery's grammar, canonical form and error wording.
//! Pure: no I/O.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

/// A malformed selector; the message is worded like apimachinery's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

impl SelectorError {
    fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

/// The operator of one label requirement (apimachinery's `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LabelOp {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    Exists,
    DoesNotExist,
}

/// One label requirement. `values` is sorted and free of duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: LabelOp,
    values: Vec<String>,
}

impl Requirement {
    /// apimachinery's `NewRequirement`: validates the key, the number of values for the
    /// operator, integer values for `gt`/`lt`, and every value as a label value.
    fn new(key: &str, op: LabelOp, vals: Vec<String>) -> Result<Self, SelectorError> {
        let mut errs: Vec<String> = Vec::new();
        if let Some(e) = validate_label_key(key, "key") {
            errs.push(e);
        }
        match op {
            LabelOp::In | LabelOp::NotIn => {
                if vals.is_empty() {
                    errs.push(invalid_list(
                        "values",
                        &vals,
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            LabelOp::Equals | LabelOp::DoubleEquals | LabelOp::NotEquals => {
                if vals.len() != 1 {
                    errs.push(invalid_list(
                        "values",
                        &vals,
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            LabelOp::Exists | LabelOp::DoesNotExist => {
                if !vals.is_empty() {
                    errs.push(invalid_list(
                        "values",
                        &vals,
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            LabelOp::GreaterThan | LabelOp::LessThan => {
                if vals.len() != 1 {
                    errs.push(invalid_list(
                        "values",
                        &vals,
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in vals.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid_str(
                            &format!("values[{i}]"),
                            v,
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, v) in vals.iter().enumerate() {
            let msgs = label_value_errors(v);
            if !msgs.is_empty() {
                errs.push(invalid_str(
                    &format!("values[{i}][{key}]"),
                    v,
                    &msgs.join("; "),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(SelectorError::new(aggregate(errs)));
        }
        let values: BTreeSet<String> = vals.into_iter().collect();
        Ok(Self {
            key: key.to_string(),
            op,
            values: values.into_iter().collect(),
        })
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_value(labels.get(&self.key).map(String::as_str))
    }

    /// Whether the requirement holds when the label has value `actual` (None: no such label).
    fn matches_value(&self, actual: Option<&str>) -> bool {
        match self.op {
            LabelOp::In | LabelOp::Equals | LabelOp::DoubleEquals => {
                actual.is_some_and(|v| self.has_value(v))
            }
            LabelOp::NotIn | LabelOp::NotEquals => actual.is_none_or(|v| !self.has_value(v)),
            LabelOp::Exists => actual.is_some(),
            LabelOp::DoesNotExist => actual.is_none(),
            LabelOp::GreaterThan | LabelOp::LessThan => {
                let Some(Ok(have)) = actual.map(|v| v.parse::<i64>()) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.op == LabelOp::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// apimachinery's `Requirement.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == LabelOp::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, parens) = match self.op {
            LabelOp::Exists | LabelOp::DoesNotExist => return Ok(()),
            LabelOp::Equals => ("=", false),
            LabelOp::DoubleEquals => ("==", false),
            LabelOp::NotEquals => ("!=", false),
            LabelOp::GreaterThan => (">", false),
            LabelOp::LessThan => ("<", false),
            LabelOp::In => (" in ", true),
            LabelOp::NotIn => (" notin ", true),
        };
        f.write_str(op)?;
        if parens {
            f.write_str("(")?;
        }
        f.write_str(&self.values.join(","))?;
        if parens {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector: requirements sorted by key, all of which must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses a label selector string the way apimachinery's `labels.Parse` does.
    /// An empty or all-whitespace string selects everything.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser {
            items: lex(s),
            pos: 0,
        };
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements })
    }

    /// Whether every requirement holds for `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether every requirement holds for the labels `label` reads (the value of a key, `None`
    /// when there is no such label).
    pub fn matches_with<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements
            .iter()
            .all(|r| r.matches_value(label(&r.key)))
    }

    /// Whether every requirement holds for the labels of a stored object, read in place (a
    /// label whose value is not a string counts as absent, as in `meta::labels`).
    pub fn matches_object(&self, object: &Value) -> bool {
        let labels = object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        self.requirements
            .iter()
            .all(|r| r.matches_value(labels.and_then(|l| l.get(&r.key)).and_then(Value::as_str)))
    }

    /// True when the selector has no requirement, i.e. selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Converts a structured `metav1.LabelSelector` (`matchLabels` + `matchExpressions`) the way
    /// apimachinery's `LabelSelectorAsSelector` does.
    pub fn from_label_selector(sel: &metav1::LabelSelector) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            requirements.push(Requirement::new(k, LabelOp::Equals, vec![v.clone()])?);
        }
        for expr in sel.match_expressions.iter().flatten() {
            let op = match expr.operator.as_str() {
                "In" => LabelOp::In,
                "NotIn" => LabelOp::NotIn,
                "Exists" => LabelOp::Exists,
                "DoesNotExist" => LabelOp::DoesNotExist,
                other => {
                    return Err(SelectorError::new(format!(
                        "{other:?} is not a valid label selector operator"
                    )));
                }
            };
            let vals = expr.values.clone().unwrap_or_default();
            requirements.push(Requirement::new(&expr.key, op, vals)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements })
    }
}

impl fmt::Display for LabelSelector {
    /// The canonical form apimachinery prints: requirements sorted by key, joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// --- lexer -----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    tok: Tok,
    lit: &'a str,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn symbol_token(s: &[u8]) -> Option<Tok> {
    Some(match s {
        b")" => Tok::ClosedPar,
        b"," => Tok::Comma,
        b"!" => Tok::DoesNotExist,
        b"==" => Tok::DoubleEquals,
        b"=" => Tok::Equals,
        b">" => Tok::GreaterThan,
        b"<" => Tok::LessThan,
        b"!=" => Tok::NotEquals,
        b"(" => Tok::OpenPar,
        _ => return None,
    })
}

/// Splits the input into tokens, always ending with `Tok::End`. Operators are matched
/// greedily (`!=` over `!`, `==` over `=`); `in`/`notin` are keywords; anything else up to
/// whitespace or a special symbol is an identifier.
fn lex(input: &str) -> Vec<Item<'_>> {
    let bytes = input.as_bytes();
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        if pos >= bytes.len() {
            items.push(Item {
                tok: Tok::End,
                lit: "",
            });
            return items;
        }
        let start = pos;
        if is_special_symbol(bytes[pos]) {
            pos += 1;
            let mut tok = symbol_token(&bytes[start..pos]).unwrap_or(Tok::End);
            // Two-character operators (`!=`, `==`) win over their one-character prefixes.
            if let Some(longer) = bytes.get(start..=pos).and_then(symbol_token) {
                tok = longer;
                pos += 1;
            }
            items.push(Item {
                tok,
                lit: &input[start..pos],
            });
        } else {
            while pos < bytes.len() && !is_whitespace(bytes[pos]) && !is_special_symbol(bytes[pos])
            {
                pos += 1;
            }
            let lit = &input[start..pos];
            let tok = match lit {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Identifier,
            };
            items.push(Item { tok, lit });
        }
    }
}

// --- parser ----------------------------------------------------------------------------------

/// In the `Values` context the keywords `in`/`notin` are plain identifiers (`in in (in)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser<'a> {
    items: Vec<Item<'a>>,
    pos: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl<'a> Parser<'a> {
    fn item(&self, at: usize, ctx: Ctx) -> (Tok, &'a str) {
        let (tok, lit) = self
            .items
            .get(at)
            .map_or((Tok::End, ""), |it| (it.tok, it.lit));
        match (ctx, tok) {
            (Ctx::Values, Tok::In | Tok::NotIn) => (Tok::Identifier, lit),
            _ => (tok, lit),
        }
    }

    fn lookahead(&self, ctx: Ctx) -> (Tok, &'a str) {
        self.item(self.pos, ctx)
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, &'a str) {
        let out = self.item(self.pos, ctx);
        self.pos += 1;
        out
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self.parse_requirement().map_err(|e| {
                        SelectorError::new(format!("unable to parse requirement: {e}"))
                    })?;
                    requirements.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::End => return Ok(requirements),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(SelectorError::new(format!(
                                    "found '{l2}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(SelectorError::new(format!(
                                "found '{l}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                Tok::End => return Ok(requirements),
                _ => {
                    return Err(SelectorError::new(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, SelectorError> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(op) = inferred {
            return Requirement::new(key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            LabelOp::In | LabelOp::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(key, op, values.into_iter().collect())
    }

    /// Reads `[!]key`; infers `Exists`/`DoesNotExist` when no operator follows.
    /// `!key` followed by anything else stays `DoesNotExist` (the caller then complains about
    /// the trailing token).
    fn parse_key_and_infer_operator(
        &mut self,
    ) -> Result<(&'a str, Option<LabelOp>), SelectorError> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        if tok == Tok::DoesNotExist {
            op = Some(LabelOp::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return Err(SelectorError::new(format!(
                "found '{lit}', expected: identifier"
            )));
        }
        if let Some(e) = validate_label_key(lit, "<nil>") {
            return Err(SelectorError::new(e));
        }
        let (next, _) = self.lookahead(Ctx::Values);
        if (next == Tok::End || next == Tok::Comma) && op.is_none() {
            op = Some(LabelOp::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<LabelOp, SelectorError> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => LabelOp::In,
            Tok::Equals => LabelOp::Equals,
            Tok::DoubleEquals => LabelOp::DoubleEquals,
            Tok::GreaterThan => LabelOp::GreaterThan,
            Tok::LessThan => LabelOp::LessThan,
            Tok::NotIn => LabelOp::NotIn,
            Tok::NotEquals => LabelOp::NotEquals,
            _ => {
                return Err(SelectorError::new(format!(
                    "found '{lit}', expected: {BINARY_OPERATORS}"
                )));
            }
        })
    }

    /// `( v1, v2, ... )`; `()` is the set holding the empty value, as in apimachinery.
    fn parse_values(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(SelectorError::new(format!("found '{lit}' expected: '('")));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Identifier | Tok::Comma => {
                let set = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Ctx::Values);
                if tok != Tok::ClosedPar {
                    return Err(SelectorError::new(format!("found '{lit}', expected: ')'")));
                }
                Ok(set)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(SelectorError::new(format!(
                "found '{lit}', expected: ',', ')' or identifier"
            ))),
        }
    }

    /// A possibly empty, comma-separated list of possibly empty identifiers.
    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let mut set = BTreeSet::new();
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    set.insert(lit.to_string());
                    let (tok2, lit2) = self.lookahead(Ctx::Values);
                    match tok2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(set),
                        _ => {
                            return Err(SelectorError::new(format!(
                                "found '{lit2}', expected: ',' or ')'"
                            )));
                        }
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        set.insert(String::new());
                    }
                    let (tok2, _) = self.lookahead(Ctx::Values);
                    if tok2 == Tok::ClosedPar {
                        set.insert(String::new());
                        return Ok(set);
                    }
                    if tok2 == Tok::Comma {
                        self.consume(Ctx::Values);
                        set.insert(String::new());
                    }
                }
                _ => {
                    return Err(SelectorError::new(format!(
                        "found '{lit}', expected: ',', or identifier"
                    )));
                }
            }
        }
    }

    /// The single value after `=`, `==`, `!=`, `>`, `<`; empty when the requirement ends.
    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::End || tok == Tok::Comma {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            return Ok(BTreeSet::from([lit.to_string()]));
        }
        Err(SelectorError::new(format!(
            "found '{lit}', expected: identifier"
        )))
    }
}

// --- validation (apimachinery's util/validation, field.Invalid, errors.Aggregate) -------------

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', \
     and must start and end with an alphanumeric character";
const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of \
     alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric \
     character";
const LABEL_VALUE_MAX_LENGTH: usize = 63;
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower \
     case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
     character";
const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut out = msg.to_string();
    if examples.is_empty() {
        out.push_str(&format!(" (regex used for validation is '{fmt}')"));
        return out;
    }
    out.push_str(" (e.g. ");
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{ex}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`
fn is_dns1123_subdomain(s: &str) -> bool {
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        b.first().is_some_and(edge)
            && b.last().is_some_and(edge)
            && b.iter().all(|c| edge(c) || *c == b'-')
    };
    s.split('.').all(label_ok)
}

fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !is_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// apimachinery's `IsQualifiedName`: `[prefix/]name`.
fn qualified_name_errors(value: &str) -> Vec<String> {
    let name_examples = ["MyName", "my.name", "123-abc"];
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. \
                 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_ERR_MSG, QUALIFIED_NAME_FMT, &name_examples)
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LENGTH)
        ));
    }
    if !is_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(QUALIFIED_NAME_ERR_MSG, QUALIFIED_NAME_FMT, &name_examples)
        ));
    }
    errs
}

/// apimachinery's `IsValidLabelValue`.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `validateLabelKey`: a `field.Invalid` error at `path`, or `None` when the key is valid.
fn validate_label_key(key: &str, path: &str) -> Option<String> {
    let msgs = qualified_name_errors(key);
    (!msgs.is_empty()).then(|| invalid_str(path, key, &msgs.join("; ")))
}

/// `field.Invalid(path, <string>, detail).Error()`.
fn invalid_str(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value:?}: {detail}")
}

/// `field.Invalid(path, <[]string>, detail).Error()` (the value rendered as JSON).
fn invalid_list(path: &str, values: &[String], detail: &str) -> String {
    let rendered = serde_json::to_string(values).unwrap_or_else(|_| "[]".to_string());
    format!("{path}: Invalid value: {rendered}: {detail}")
}

/// `errors.NewAggregate(..).Error()`: one message as is, several de-duplicated in brackets.
fn aggregate(errs: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    if seen.len() == 1 {
        seen.pop().unwrap_or_default()
    } else {
        format!("[{}]", seen.join(", "))
    }
}

// ---------------------------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------------------------

/// The operator of a field requirement (`=`/`==` are both `Equals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    Equals,
    NotEquals,
}

/// One `field=value` / `field!=value` term, with the value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub op: FieldOp,
    pub value: String,
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            FieldOp::Equals => "=",
            FieldOp::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_field_value(&self.value))
    }
}

/// A parsed field selector: requirements (in the order apimachinery sorts the raw terms), all
/// of which must hold. Field names are not checked here; the caller rejects unsupported ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses a field selector the way apimachinery's `fields.ParseSelector` does: terms split
    /// on unescaped `,`, each `field=value`, `field==value` or `field!=value`, with `\,`, `\=`
    /// and `\\` unescaped in values. Nothing is trimmed. An empty string selects everything.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut terms = split_terms(s);
        terms.sort_unstable();
        let mut requirements = Vec::new();
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, op, raw)) = split_term(term) else {
                return Err(SelectorError::new(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                )));
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                op,
                value: unescape_field_value(raw)?,
            });
        }
        Ok(Self { requirements })
    }

    /// The requirements, all of which must hold.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// True when the selector has no requirement, i.e. selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// `value_of(field)` returns the object's value for that field ("" when absent).
    pub fn matches(&self, value_of: impl Fn(&str) -> String) -> bool {
        self.requirements.iter().all(|r| {
            let actual = value_of(&r.field);
            match r.op {
                FieldOp::Equals => actual == r.value,
                FieldOp::NotEquals => actual != r.value,
            }
        })
    }

    /// If the selector pins `field` to a single value with `=`/`==`, that value (used to narrow
    /// queries, e.g. metadata.name).
    pub fn exact_value(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.op == FieldOp::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    /// apimachinery's `String()`: terms joined by `,`, values escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Splits on commas not preceded by a backslash escape; escapes are kept in the terms.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits a term at the first operator (`!=`, `==`, then `=` at each position).
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    let b = term.as_bytes();
    (0..b.len()).find_map(|i| match (b[i], b.get(i + 1)) {
        (b'!', Some(b'=')) => Some((&term[..i], FieldOp::NotEquals, &term[i + 2..])),
        (b'=', Some(b'=')) => Some((&term[..i], FieldOp::Equals, &term[i + 2..])),
        (b'=', _) => Some((&term[..i], FieldOp::Equals, &term[i + 1..])),
        _ => None,
    })
}

/// apimachinery's `fields.UnescapeValue`, including its error wording (an unescaped rune is
/// printed as its code point, as Go's `%v` of a rune does).
fn unescape_field_value(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::new(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(SelectorError::new(format!(
                    "invalid field selector: unescaped character in value: {}",
                    u32::from(c)
                )));
            }
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError::new(
            "invalid field selector: invalid escape sequence: \\",
        ));
    }
    Ok(out)
}

/// apimachinery's `fields.EscapeValue`.
fn escape_field_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use metav1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// (input, canonical Display form)
    const LABEL_PARSE_CASES: &[(&str, &str)] = &[
        ("", ""),
        ("   ", ""),
        ("\t\r\n", ""),
        ("app", "app"),
        ("!app", "!app"),
        (" ! app ", "!app"),
        ("app=web", "app=web"),
        ("app==web", "app==web"),
        ("app!=web", "app!=web"),
        ("app = web", "app=web"),
        ("  app  ==  web  ", "app==web"),
        ("app=", "app="),
        ("app!=", "app!="),
        ("app=,tier=db", "app=,tier=db"),
        ("tier in (b,a)", "tier in (a,b)"),
        ("tier in ( b , a , b )", "tier in (a,b)"),
        ("tier in(a)", "tier in (a)"),
        ("tier notin (x, y)", "tier notin (x,y)"),
        ("tier notin(x)", "tier notin (x)"),
        ("tier in ()", "tier in ()"),
        ("tier in (,a)", "tier in (,a)"),
        ("tier in (a,)", "tier in (,a)"),
        ("tier in (a,,b)", "tier in (,a,b)"),
        (
            "x in (foo,,baz),y,z notin ()",
            "x in (,baz,foo),y,z notin ()",
        ),
        ("in in (in, notin)", "in in (in,notin)"),
        ("notin=in", "notin=in"),
        ("replicas>3", "replicas>3"),
        ("replicas < 10", "replicas<10"),
        ("z=1,a=2,m", "a=2,m,z=1"),
        ("b,!a", "!a,b"),
        ("example.com/app=web", "example.com/app=web"),
        (
            "app.kubernetes.io/name=nginx",
            "app.kubernetes.io/name=nginx",
        ),
        ("a_b.c-d=E_f.G-h", "a_b.c-d=E_f.G-h"),
        (
            "app=web,tier in (frontend,backend),!legacy",
            "app=web,!legacy,tier in (backend,frontend)",
        ),
    ];

    #[test]
    fn label_parse_and_display() {
        for (input, want) in LABEL_PARSE_CASES {
            let sel = LabelSelector::parse(input)
                .unwrap_or_else(|e| panic!("parse({input:?}) failed: {e}"));
            assert_eq!(sel.to_string(), *want, "display of parse({input:?})");
            assert_eq!(sel.is_empty(), want.is_empty(), "is_empty of {input:?}");
            // Round trip: the canonical form parses back to the same selector.
            let again = LabelSelector::parse(&sel.to_string())
                .unwrap_or_else(|e| panic!("re-parse of {want:?} failed: {e}"));
            assert_eq!(again, sel, "round trip of {input:?}");
            let via_from_str: LabelSelector = input.parse().expect("FromStr");
            assert_eq!(via_from_str, sel);
        }
    }

    /// (selector, labels, matches?)
    #[allow(clippy::type_complexity)]
    const LABEL_MATCH_CASES: &[(&str, &[(&str, &str)], bool)] = &[
        ("", &[], true),
        ("", &[("a", "b")], true),
        // Equals / DoubleEquals
        ("app=web", &[("app", "web")], true),
        ("app=web", &[("app", "db")], false),
        ("app=web", &[], false),
        ("app==web", &[("app", "web")], true),
        ("app==web", &[("app", "db")], false),
        ("app=", &[("app", "")], true),
        ("app=", &[], false),
        ("app=", &[("app", "x")], false),
        // NotEquals: absent key matches
        ("app!=web", &[("app", "db")], true),
        ("app!=web", &[("app", "web")], false),
        ("app!=web", &[], true),
        ("app!=", &[("app", "")], false),
        // In
        ("tier in (a,b)", &[("tier", "a")], true),
        ("tier in (a,b)", &[("tier", "b")], true),
        ("tier in (a,b)", &[("tier", "c")], false),
        ("tier in (a,b)", &[], false),
        ("tier in ()", &[("tier", "")], true),
        ("tier in ()", &[("tier", "a")], false),
        ("tier in (,a)", &[("tier", "")], true),
        // NotIn: absent key matches
        ("tier notin (a,b)", &[("tier", "c")], true),
        ("tier notin (a,b)", &[("tier", "a")], false),
        ("tier notin (a,b)", &[], true),
        // Exists / DoesNotExist
        ("app", &[("app", "")], true),
        ("app", &[("app", "x")], true),
        ("app", &[("other", "x")], false),
        ("!app", &[], true),
        ("!app", &[("app", "")], false),
        // Gt / Lt
        ("n>3", &[("n", "4")], true),
        ("n>3", &[("n", "3")], false),
        ("n>3", &[("n", "-5")], false),
        ("n>3", &[], false),
        ("n>3", &[("n", "four")], false),
        ("n<3", &[("n", "2")], true),
        ("n<3", &[("n", "-2")], true),
        ("n<3", &[("n", "3")], false),
        ("n<3", &[("n", "x")], false),
        ("n<3", &[], false),
        ("n>0", &[("n", "+1")], true),
        ("n<1", &[("n", "99999999999999999999")], false),
        // AND of several
        ("app=web,tier=db", &[("app", "web"), ("tier", "db")], true),
        ("app=web,tier=db", &[("app", "web"), ("tier", "fe")], false),
        ("app=web,!legacy", &[("app", "web"), ("legacy", "")], false),
        ("app=web,!legacy", &[("app", "web")], true),
        ("a,b,c", &[("a", ""), ("b", ""), ("c", "")], true),
        ("a,b,c", &[("a", ""), ("b", "")], false),
        ("app in (in)", &[("app", "in")], true),
    ];

    #[test]
    fn label_matching() {
        for (sel, ls, want) in LABEL_MATCH_CASES {
            let parsed = LabelSelector::parse(sel).expect("valid selector");
            assert_eq!(
                parsed.matches(&labels(ls)),
                *want,
                "{sel:?} matching {ls:?}"
            );
            let object = serde_json::json!({"metadata": {"labels": labels(ls)}});
            assert_eq!(
                parsed.matches_object(&object),
                *want,
                "{sel:?} matching the object labelled {ls:?}"
            );
        }
    }

    #[test]
    fn objects_without_labels_or_with_non_string_values_lack_those_labels() {
        let parsed = LabelSelector::parse("!app,tier!=db").expect("valid selector");
        assert!(parsed.matches_object(&serde_json::json!({"metadata": {}})));
        assert!(parsed.matches_object(&serde_json::json!({"metadata": {"labels": {"app": 1}}})));
        assert!(!parsed.matches_object(&serde_json::json!({"metadata": {"labels": {"app": "x"}}})));
    }

    const NAME_RE_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must \
        start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or \
        '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const VALUE_RE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric \
        characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. \
        'MyValue',  or 'my_value',  or '12345', regex used for validation is \
        '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    /// (input, exact error message)
    const LABEL_ERROR_CASES: &[(&str, &str)] = &[
        ("app=web,", "found '', expected: identifier after ','"),
        ("app=web, ", "found '', expected: identifier after ','"),
        (
            ",",
            "found ',', expected: !, identifier, or 'end of string'",
        ),
        (
            ",app",
            "found ',', expected: !, identifier, or 'end of string'",
        ),
        ("app,,b", "found ',', expected: identifier after ','"),
        ("app=web,=x", "found '=', expected: identifier after ','"),
        (
            "=x",
            "found '=', expected: !, identifier, or 'end of string'",
        ),
        (
            "(",
            "found '(', expected: !, identifier, or 'end of string'",
        ),
        (
            "a b",
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "in (a",
            "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "x in (a",
            "unable to parse requirement: found '', expected: ',' or ')'",
        ),
        (
            "x in (a b)",
            "unable to parse requirement: found 'b', expected: ',' or ')'",
        ),
        (
            "x in a",
            "unable to parse requirement: found 'a' expected: '('",
        ),
        (
            "x in",
            "unable to parse requirement: found '' expected: '('",
        ),
        (
            "x notin",
            "unable to parse requirement: found '' expected: '('",
        ),
        (
            "x in (=)",
            "unable to parse requirement: found '=', expected: ',', ')' or identifier",
        ),
        (
            "x in (a,=)",
            "unable to parse requirement: found '=', expected: ',', or identifier",
        ),
        ("x in (a))", "found ')', expected: ',' or 'end of string'"),
        (
            "x=(",
            "unable to parse requirement: found '(', expected: identifier",
        ),
        (
            "x==!",
            "unable to parse requirement: found '!', expected: identifier",
        ),
        ("x=a=b", "found '=', expected: ',' or 'end of string'"),
        ("x=a b", "found 'b', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        (
            "!",
            "unable to parse requirement: found '', expected: identifier",
        ),
        (
            "!!a",
            "unable to parse requirement: found '!', expected: identifier",
        ),
        (
            "!=a",
            "found '!=', expected: !, identifier, or 'end of string'",
        ),
        (
            "a!b",
            "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "n>abc",
            "unable to parse requirement: values[0]: Invalid value: \"abc\": for 'Gt', 'Lt' \
             operators, the value must be an integer",
        ),
        (
            "n<",
            "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' \
             operators, the value must be an integer",
        ),
    ];

    #[test]
    fn label_errors_exact() {
        for (input, want) in LABEL_ERROR_CASES {
            let err = LabelSelector::parse(input).expect_err(input);
            assert_eq!(err.0, *want, "error for {input:?}");
            assert_eq!(err.to_string(), *want);
        }
    }

    #[test]
    fn label_validation_errors() {
        let long = "a".repeat(64);
        let long_value = format!("v={long}");
        let cases: Vec<(&str, String)> = vec![
            (
                "-app=x",
                format!(
                    "unable to parse requirement: <nil>: Invalid value: \"-app\": name part \
                     {NAME_RE_ERR}"
                ),
            ),
            (
                "app-=x",
                format!(
                    "unable to parse requirement: <nil>: Invalid value: \"app-\": name part \
                     {NAME_RE_ERR}"
                ),
            ),
            (
                "a/b/c",
                format!(
                    "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified \
                     name {NAME_RE_ERR} with an optional DNS subdomain prefix and '/' (e.g. \
                     'example.com/MyName')"
                ),
            ),
            (
                "/a",
                "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must \
                 be non-empty"
                    .to_string(),
            ),
            (
                "a/",
                format!(
                    "unable to parse requirement: <nil>: Invalid value: \"a/\": name part must \
                     be non-empty; name part {NAME_RE_ERR}"
                ),
            ),
            (
                "Example.com/a",
                "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix \
                 part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
                 characters, '-' or '.', and must start and end with an alphanumeric character \
                 (e.g. 'example.com', regex used for validation is \
                 '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                    .to_string(),
            ),
            (
                long.as_str(),
                format!(
                    "unable to parse requirement: <nil>: Invalid value: \"{long}\": name part \
                     must be no more than 63 characters"
                ),
            ),
            (
                "app=-web",
                format!(
                    "unable to parse requirement: values[0][app]: Invalid value: \"-web\": \
                     {VALUE_RE_ERR}"
                ),
            ),
            (
                "app in (z/b,a)",
                format!(
                    "unable to parse requirement: values[1][app]: Invalid value: \"z/b\": \
                     {VALUE_RE_ERR}"
                ),
            ),
            (
                long_value.as_str(),
                format!(
                    "unable to parse requirement: values[0][v]: Invalid value: \"{long}\": must \
                     be no more than 63 characters"
                ),
            ),
            (
                "n>a/b",
                format!(
                    "unable to parse requirement: [values[0]: Invalid value: \"a/b\": for 'Gt', \
                     'Lt' operators, the value must be an integer, values[0][n]: Invalid value: \
                     \"a/b\": {VALUE_RE_ERR}]"
                ),
            ),
        ];
        for (input, want) in cases {
            let err = LabelSelector::parse(input).expect_err(input);
            assert_eq!(err.0, want, "error for {input:?}");
        }
        // Boundary lengths are accepted.
        let k63 = "k".repeat(63);
        let v63 = "v".repeat(63);
        let prefix = format!("{}.com", "p".repeat(60));
        let ok = format!("{prefix}/{k63}={v63}");
        let sel = LabelSelector::parse(&ok).expect("63-char key and value");
        assert_eq!(sel.to_string(), ok);
    }

    /// Malformed inputs that must be rejected (message not checked).
    const MALFORMED: &[&str] = &[
        "app=web,",
        "in (a",
        "=x",
        "a b",
        "a=b c",
        "a in",
        "a in (",
        "a in (b",
        "a in b)",
        "a notin b",
        "a (b)",
        "a=b,,c=d",
        ",",
        "!",
        "!a b",
        "a!",
        "a<",
        "a>b",
        "a>1.5",
        "a=b)",
        "a==b==c",
        "a=\"b\"",
        "a=b;c=d",
        "a.=b",
        "_a",
        "a=b_",
        "a in (b c)",
        "a in ((b))",
        "app=wéb",
        "ключ=v",
        "a\u{b}=b",
    ];

    #[test]
    fn label_malformed_inputs_error() {
        for input in MALFORMED {
            assert!(
                LabelSelector::parse(input).is_err(),
                "{input:?} should be rejected"
            );
        }
    }

    #[test]
    fn label_requirements_sorted_and_values_deduplicated() {
        let a = LabelSelector::parse("z in (c,a,b,a),a=1").expect("valid");
        let b = LabelSelector::parse("a=1 , z in (a,b,c)").expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "a=1,z in (a,b,c)");
        assert!(LabelSelector::default().is_empty());
        assert_eq!(LabelSelector::default().to_string(), "");
        assert_eq!(
            LabelSelector::parse("").expect("empty"),
            LabelSelector::default()
        );
    }

    fn expr(key: &str, op: &str, values: Option<&[&str]>) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_string(),
            operator: op.to_string(),
            values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn structured(
        match_labels: Option<&[(&str, &str)]>,
        exprs: Option<Vec<LabelSelectorRequirement>>,
    ) -> metav1::LabelSelector {
        metav1::LabelSelector {
            match_labels: match_labels.map(labels),
            match_expressions: exprs,
        }
    }

    #[test]
    fn from_label_selector_ok() {
        // (selector, canonical form, labels that match, labels that don't)
        #[allow(clippy::type_complexity)]
        let cases: Vec<(
            metav1::LabelSelector,
            &str,
            &[(&str, &str)],
            &[(&str, &str)],
        )> = vec![
            (structured(None, None), "", &[], &[]),
            (structured(Some(&[]), Some(vec![])), "", &[("a", "b")], &[]),
            (
                structured(Some(&[("app", "web")]), None),
                "app=web",
                &[("app", "web"), ("x", "y")],
                &[("app", "db")],
            ),
            (
                structured(Some(&[("tier", "fe"), ("app", "web")]), None),
                "app=web,tier=fe",
                &[("app", "web"), ("tier", "fe")],
                &[("app", "web")],
            ),
            (
                structured(None, Some(vec![expr("tier", "In", Some(&["b", "a"]))])),
                "tier in (a,b)",
                &[("tier", "a")],
                &[("tier", "c")],
            ),
            (
                structured(None, Some(vec![expr("tier", "NotIn", Some(&["a"]))])),
                "tier notin (a)",
                &[("other", "a")],
                &[("tier", "a")],
            ),
            (
                structured(None, Some(vec![expr("tier", "Exists", None)])),
                "tier",
                &[("tier", "")],
                &[],
            ),
            (
                structured(None, Some(vec![expr("tier", "Exists", Some(&[]))])),
                "tier",
                &[("tier", "x")],
                &[("x", "tier")],
            ),
            (
                structured(None, Some(vec![expr("legacy", "DoesNotExist", None)])),
                "!legacy",
                &[("app", "web")],
                &[("legacy", "true")],
            ),
            (
                structured(
                    Some(&[("app", "web")]),
                    Some(vec![
                        expr("tier", "In", Some(&["fe", "be"])),
                        expr("env", "NotIn", Some(&["prod"])),
                        expr("beta", "DoesNotExist", None),
                    ]),
                ),
                "app=web,!beta,env notin (prod),tier in (be,fe)",
                &[("app", "web"), ("tier", "fe"), ("env", "dev")],
                &[("app", "web"), ("tier", "fe"), ("env", "prod")],
            ),
        ];
        for (sel, want, yes, no) in cases {
            let got =
                LabelSelector::from_label_selector(&sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
            assert_eq!(got.to_string(), want);
            assert_eq!(got.is_empty(), want.is_empty());
            assert!(got.matches(&labels(yes)), "{want:?} should match {yes:?}");
            if !want.is_empty() {
                assert!(
                    !got.matches(&labels(no)),
                    "{want:?} should not match {no:?}"
                );
            }
            assert_eq!(LabelSelector::parse(want).expect("canonical parses"), got);
        }
    }

    #[test]
    fn from_label_selector_errors() {
        let cases: Vec<(metav1::LabelSelector, String)> =
            vec![
            (
                structured(None, Some(vec![expr("tier", "Equals", Some(&["a"]))])),
                "\"Equals\" is not a valid label selector operator".to_string(),
            ),
            (
                structured(None, Some(vec![expr("tier", "in", Some(&["a"]))])),
                "\"in\" is not a valid label selector operator".to_string(),
            ),
            (
                structured(None, Some(vec![expr("tier", "In", None)])),
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be \
                 empty"
                    .to_string(),
            ),
            (
                structured(None, Some(vec![expr("tier", "NotIn", Some(&[]))])),
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be \
                 empty"
                    .to_string(),
            ),
            (
                structured(None, Some(vec![expr("tier", "Exists", Some(&["a"]))])),
                "values: Invalid value: [\"a\"]: values set must be empty for exists and does \
                 not exist"
                    .to_string(),
            ),
            (
                structured(None, Some(vec![expr("tier", "DoesNotExist", Some(&["a", "b"]))])),
                "values: Invalid value: [\"a\",\"b\"]: values set must be empty for exists and \
                 does not exist"
                    .to_string(),
            ),
            (
                structured(Some(&[("bad key", "v")]), None),
                format!("key: Invalid value: \"bad key\": name part {NAME_RE_ERR}"),
            ),
            (
                structured(Some(&[("app", "bad value")]), None),
                format!("values[0][app]: Invalid value: \"bad value\": {VALUE_RE_ERR}"),
            ),
            (
                structured(None, Some(vec![expr("", "Exists", None)])),
                format!(
                    "key: Invalid value: \"\": name part must be non-empty; name part \
                     {NAME_RE_ERR}"
                ),
            ),
        ];
        for (sel, want) in cases {
            let err = LabelSelector::from_label_selector(&sel).expect_err("must fail");
            assert_eq!(err.0, want, "{sel:?}");
        }
    }

    // --- field selectors ---

    fn req(field: &str, op: FieldOp, value: &str) -> FieldRequirement {
        FieldRequirement {
            field: field.to_string(),
            op,
            value: value.to_string(),
        }
    }

    #[test]
    fn field_parse() {
        use FieldOp::{Equals, NotEquals};
        let cases: Vec<(&str, Vec<FieldRequirement>)> = vec![
            ("", vec![]),
            (",", vec![]),
            (",,", vec![]),
            (
                "metadata.name=foo",
                vec![req("metadata.name", Equals, "foo")],
            ),
            (
                "metadata.name==foo",
                vec![req("metadata.name", Equals, "foo")],
            ),
            (
                "metadata.name!=foo",
                vec![req("metadata.name", NotEquals, "foo")],
            ),
            ("metadata.name=", vec![req("metadata.name", Equals, "")]),
            ("metadata.name!=", vec![req("metadata.name", NotEquals, "")]),
            ("=x", vec![req("", Equals, "x")]),
            (
                "involvedObject.namespace=,involvedObject.name=web",
                vec![
                    req("involvedObject.name", Equals, "web"),
                    req("involvedObject.namespace", Equals, ""),
                ],
            ),
            (
                "status.phase!=Running,spec.nodeName=n1",
                vec![
                    req("spec.nodeName", Equals, "n1"),
                    req("status.phase", NotEquals, "Running"),
                ],
            ),
            ("a=b,", vec![req("a", Equals, "b")]),
            // No trimming, as in apimachinery.
            (" a = b ", vec![req(" a ", Equals, " b ")]),
            // Escapes.
            ("a=x\\,y", vec![req("a", Equals, "x,y")]),
            ("a=x\\=y", vec![req("a", Equals, "x=y")]),
            ("a=x\\\\y", vec![req("a", Equals, "x\\y")]),
            ("a=\\\\", vec![req("a", Equals, "\\")]),
            ("a!=\\,\\=\\\\", vec![req("a", NotEquals, ",=\\")]),
            (
                "a=1\\,2,b=3",
                vec![req("a", Equals, "1,2"), req("b", Equals, "3")],
            ),
            (
                "a=ü,b=ß",
                vec![req("a", Equals, "ü"), req("b", Equals, "ß")],
            ),
            // The first operator wins; `!` elsewhere is data.
            ("a!b=c", vec![req("a!b", Equals, "c")]),
            ("a=!b", vec![req("a", Equals, "!b")]),
        ];
        for (input, want) in cases {
            let sel = FieldSelector::parse(input)
                .unwrap_or_else(|e| panic!("parse({input:?}) failed: {e}"));
            assert_eq!(sel.requirements(), want.as_slice(), "{input:?}");
            assert_eq!(sel.is_empty(), want.is_empty(), "{input:?}");
            let again = FieldSelector::parse(&sel.to_string()).expect("display re-parses");
            assert_eq!(again, sel, "round trip of {input:?}");
            let via_from_str: FieldSelector = input.parse().expect("FromStr");
            assert_eq!(via_from_str, sel);
        }
    }

    #[test]
    fn field_display() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("b=2,a==1", "a=1,b=2"),
            ("a!=x", "a!=x"),
            ("a=x\\,y", "a=x\\,y"),
            ("a=x\\=y\\\\", "a=x\\=y\\\\"),
        ];
        for (input, want) in cases {
            let sel = FieldSelector::parse(input).expect("valid");
            assert_eq!(sel.to_string(), *want, "{input:?}");
        }
    }

    #[test]
    fn field_errors() {
        let cases: &[(&str, &str)] = &[
            ("x", "invalid selector: 'x'; can't understand 'x'"),
            ("a=b,x", "invalid selector: 'a=b,x'; can't understand 'x'"),
            ("a!b", "invalid selector: 'a!b'; can't understand 'a!b'"),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a==b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a=b\\",
                "invalid field selector: invalid escape sequence: \\",
            ),
            (
                "a=b\\n",
                "invalid field selector: invalid escape sequence: \\n",
            ),
            (
                "a=\\x",
                "invalid field selector: invalid escape sequence: \\x",
            ),
        ];
        for (input, want) in cases {
            let err = FieldSelector::parse(input).expect_err(input);
            assert_eq!(err.0, *want, "{input:?}");
        }
    }

    #[test]
    fn field_matching() {
        let obj = |field: &str| -> String {
            match field {
                "metadata.name" => "web-1".to_string(),
                "metadata.namespace" => "default".to_string(),
                "status.phase" => "Running".to_string(),
                _ => String::new(),
            }
        };
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("metadata.name=web-1", true),
            ("metadata.name==web-1", true),
            ("metadata.name=web-2", false),
            ("metadata.name!=web-2", true),
            ("metadata.name!=web-1", false),
            ("spec.nodeName=", true),
            ("spec.nodeName!=", false),
            ("spec.nodeName!=n1", true),
            ("spec.nodeName=n1", false),
            ("metadata.name=web-1,status.phase=Running", true),
            ("metadata.name=web-1,status.phase!=Running", false),
            ("metadata.namespace=default,metadata.name!=x", true),
        ];
        for (input, want) in cases {
            let sel = FieldSelector::parse(input).expect("valid");
            assert_eq!(sel.matches(obj), *want, "{input:?}");
        }
    }

    #[test]
    fn field_exact_value() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("", "metadata.name", None),
            ("metadata.name=foo", "metadata.name", Some("foo")),
            ("metadata.name==foo", "metadata.name", Some("foo")),
            ("metadata.name=", "metadata.name", Some("")),
            ("metadata.name!=foo", "metadata.name", None),
            ("metadata.name=foo", "metadata.namespace", None),
            (
                "metadata.namespace=ns,metadata.name=foo",
                "metadata.name",
                Some("foo"),
            ),
            (
                "metadata.name!=a,metadata.name=b",
                "metadata.name",
                Some("b"),
            ),
            ("metadata.name=a\\,b", "metadata.name", Some("a,b")),
        ];
        for (input, field, want) in cases {
            let sel = FieldSelector::parse(input).expect("valid");
            assert_eq!(sel.exact_value(field), *want, "{input:?} / {field}");
        }
    }
}
