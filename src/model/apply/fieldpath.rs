//! Path elements and field sets: structured-merge-diff's `fieldpath` package, with the
//! `FieldsV1` encoding (`f:`, `k:`, `v:`, `i:`, `.`) and the display form used in conflicts.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Number, Value};

use super::Object;

// ---------------------------------------------------------------------------------------------
// Path elements and field sets (structured-merge-diff's fieldpath package).

/// One step of a field path.
#[derive(Debug, Clone)]
pub(super) enum Pe {
    /// A struct field or map key: `f:name`.
    Field(String),
    /// A list-map element, by its key fields sorted by name: `k:{"name":"app"}`.
    Key(Vec<(String, Value)>),
    /// A set element: `v:"a/b"`.
    Value(Value),
    /// A positional element: `i:0` (only ever decoded, never produced).
    Index(usize),
}

pub(super) fn field(name: &str) -> Pe {
    Pe::Field(name.to_owned())
}

impl Pe {
    fn rank(&self) -> u8 {
        match self {
            Pe::Field(_) => 0,
            Pe::Key(_) => 1,
            Pe::Value(_) => 2,
            Pe::Index(_) => 3,
        }
    }

    /// The `FieldsV1` key.
    fn fields_key(&self) -> String {
        match self {
            Pe::Field(name) => format!("f:{name}"),
            Pe::Key(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{}:{value}", Value::String(name.clone())))
                    .collect();
                format!("k:{{{}}}", inner.join(","))
            }
            Pe::Value(value) => format!("v:{value}"),
            Pe::Index(index) => format!("i:{index}"),
        }
    }

    fn parse(key: &str) -> Option<Pe> {
        let (prefix, rest) = key.split_at_checked(2)?;
        match prefix {
            "f:" => Some(Pe::Field(rest.to_owned())),
            "k:" => {
                let Value::Object(map) = serde_json::from_str(rest).ok()? else {
                    return None;
                };
                let mut fields: Vec<(String, Value)> = map.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Some(Pe::Key(fields))
            }
            "v:" => serde_json::from_str(rest).ok().map(Pe::Value),
            "i:" => rest.parse().ok().map(Pe::Index),
            _ => None,
        }
    }

    /// The display form (`fieldpath.PathElement.String()`).
    pub(super) fn display(&self) -> String {
        match self {
            Pe::Field(name) => format!(".{name}"),
            Pe::Key(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={}", display_value(value)))
                    .collect();
                format!("[{}]", inner.join(","))
            }
            Pe::Value(value) => format!("[={}]", display_value(value)),
            Pe::Index(index) => format!("[{index}]"),
        }
    }
}

impl Ord for Pe {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Pe::Field(a), Pe::Field(b)) => a.cmp(b),
            (Pe::Key(a), Pe::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let c = an.cmp(bn).then_with(|| cmp_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (Pe::Value(a), Pe::Value(b)) => cmp_values(a, b),
            (Pe::Index(a), Pe::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Pe {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Pe {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pe {}

/// structured-merge-diff's total order on values: numbers, strings, booleans, lists, maps, null.
fn cmp_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let c = cmp_values(p, q);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(&ys) {
                let c = xk.cmp(yk).then_with(|| cmp_values(xv, yv));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn cmp_numbers(x: &Number, y: &Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    x.as_f64()
        .partial_cmp(&y.as_f64())
        .unwrap_or(Ordering::Equal)
}

/// `value.ToString`: strings quoted, everything else as JSON.
fn display_value(value: &Value) -> String {
    value.to_string()
}

pub(super) fn display_path(path: &[Pe]) -> String {
    path.iter().map(Pe::display).collect()
}

/// A set of field paths, as a tree: `members` are paths ending here, `children` go deeper.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Set {
    pub(super) members: BTreeSet<Pe>,
    pub(super) children: BTreeMap<Pe, Set>,
}

impl Set {
    pub(super) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    pub(super) fn insert(&mut self, path: &[Pe]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    #[cfg(test)]
    pub(super) fn has(&self, path: &[Pe]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    pub(super) fn union_in_place(&mut self, other: &Set) {
        self.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            self.children
                .entry(pe.clone())
                .or_default()
                .union_in_place(child);
        }
    }

    pub(super) fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.union_in_place(other);
        out
    }

    /// Paths in `self` but not in `other` (members compared exactly, not by prefix).
    pub(super) fn difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            let rest = match other.children.get(pe) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(pe.clone(), rest);
            }
        }
        Set { members, children }
    }

    /// Paths in `self` that are neither in `other` nor below one of its members.
    pub(super) fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let rest = match other.children.get(pe) {
                Some(o) => child.recursive_difference(o),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(pe.clone(), rest);
            }
        }
        Set { members, children }
    }

    pub(super) fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let both = child.intersection(o);
                if !both.is_empty() {
                    children.insert(pe.clone(), both);
                }
            }
        }
        Set { members, children }
    }

    /// `EnsureNamedFieldsAreMembers`: every field that has owned descendants is itself a
    /// member, so removing it removes the whole struct.
    pub(super) fn ensure_named(&self) -> Set {
        let mut members = self.members.clone();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if matches!(pe, Pe::Field(_)) {
                members.insert(pe.clone());
            }
            children.insert(pe.clone(), child.ensure_named());
        }
        Set { members, children }
    }

    /// Every path, members before deeper paths, each level in path-element order.
    pub(super) fn paths(&self) -> Vec<Vec<Pe>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<Pe>, out: &mut Vec<Vec<Pe>>) {
        for pe in &self.members {
            let mut path = prefix.clone();
            path.push(pe.clone());
            out.push(path);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` encoding.
    pub(super) fn to_fields(&self) -> Value {
        let mut out = Object::new();
        for pe in &self.members {
            if !self.children.contains_key(pe) {
                out.insert(pe.fields_key(), Value::Object(Object::new()));
            }
        }
        for (pe, child) in &self.children {
            let mut inner = match child.to_fields() {
                Value::Object(map) => map,
                _ => Object::new(),
            };
            if self.members.contains(pe) {
                inner.insert(".".to_owned(), Value::Object(Object::new()));
            }
            out.insert(pe.fields_key(), Value::Object(inner));
        }
        Value::Object(out)
    }

    /// Decode `FieldsV1`; `None` when it is malformed.
    pub(super) fn from_fields(fields: &Object) -> Option<Set> {
        let mut set = Set::default();
        for (key, value) in fields {
            if key == "." {
                continue;
            }
            let pe = Pe::parse(key)?;
            let Value::Object(inner) = value else {
                return None;
            };
            if inner.is_empty() || inner.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let child = Set::from_fields(inner)?;
            if !child.is_empty() {
                set.children.insert(pe, child);
            }
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_keys_round_trip_and_display() {
        let cases: Vec<(&str, Pe, &str)> = vec![
            ("f:image", field("image"), ".image"),
            (
                "k:{\"name\":\"app\"}",
                Pe::Key(vec![("name".into(), json!("app"))]),
                "[name=\"app\"]",
            ),
            (
                "k:{\"containerPort\":80,\"protocol\":\"TCP\"}",
                Pe::Key(vec![
                    ("containerPort".into(), json!(80)),
                    ("protocol".into(), json!("TCP")),
                ]),
                "[containerPort=80,protocol=\"TCP\"]",
            ),
            ("v:\"a/b\"", Pe::Value(json!("a/b")), "[=\"a/b\"]"),
            ("v:10", Pe::Value(json!(10)), "[=10]"),
            ("i:3", Pe::Index(3), "[3]"),
        ];
        for (key, pe, display) in cases {
            assert_eq!(Pe::parse(key).as_ref(), Some(&pe), "{key}");
            assert_eq!(pe.fields_key(), key);
            assert_eq!(pe.display(), display);
        }
        // Keys decode regardless of the order of their fields.
        assert_eq!(
            Pe::parse("k:{\"protocol\":\"TCP\",\"containerPort\":80}"),
            Pe::parse("k:{\"containerPort\":80,\"protocol\":\"TCP\"}")
        );
        assert_eq!(Pe::parse("x:y"), None);

        let encoded = json!({
            "f:metadata": {"f:finalizers": {".": {}, "v:\"a/b\"": {}}, "f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}}}}
        });
        let set = Set::from_fields(encoded.as_object().unwrap()).unwrap();
        assert!(set.has(&[field("metadata"), field("finalizers")]));
        assert!(set.has(&[
            field("metadata"),
            field("finalizers"),
            Pe::Value(json!("a/b"))
        ]));
        assert!(!set.has(&[field("metadata"), field("labels")]));
        assert_eq!(set.to_fields(), encoded);
        let paths: Vec<String> = set.paths().iter().map(|p| display_path(p)).collect();
        assert_eq!(
            paths,
            vec![
                ".metadata.finalizers",
                ".metadata.finalizers[=\"a/b\"]",
                ".metadata.labels.app",
                ".spec.containers[name=\"app\"]",
                ".spec.containers[name=\"app\"].image",
            ]
        );
    }
}
