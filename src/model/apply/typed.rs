//! Walking objects against the schema: structured-merge-diff's `typed` package (field sets
//! of an object, merge of an applied configuration, compare, remove, prune).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use super::fieldpath::{Pe, Set, display_path};
use super::object::annotation;
use super::schema::{ListType, key_default, list_type, map_is_atomic};
use super::{LAST_APPLIED, Object};

// ---------------------------------------------------------------------------------------------
// Walking objects against the schema (structured-merge-diff's typed package).

#[derive(Clone, Copy)]
pub(super) struct Schema<'k> {
    pub(super) kind: &'k str,
}

/// How a value is walked.
enum Shape<'v> {
    /// A scalar, null, or an atomic list/map: owned and compared as one value.
    Leaf,
    Map(&'v Object),
    List(&'v [Value], ListType),
}

/// What `compare` treats a pair of values as.
enum NodeKind {
    Leaf,
    Map,
    List(ListType),
}

/// Added, removed and changed paths between two objects (`typed.Comparison`).
#[derive(Debug, Default)]
pub(super) struct Comparison {
    pub(super) added: Set,
    pub(super) removed: Set,
    pub(super) modified: Set,
}

impl Comparison {
    pub(super) fn excluding(self, ignored: &Set) -> Comparison {
        Comparison {
            added: self.added.recursive_difference(ignored),
            removed: self.removed.recursive_difference(ignored),
            modified: self.modified.recursive_difference(ignored),
        }
    }
}

impl Schema<'_> {
    fn shape<'v>(&self, names: &[&str], v: &'v Value) -> Shape<'v> {
        match v {
            Value::Object(map) if !map_is_atomic(self.kind, names) => Shape::Map(map),
            Value::Array(items) => match list_type(self.kind, names) {
                ListType::Atomic => Shape::Leaf,
                lt => Shape::List(items, lt),
            },
            _ => Shape::Leaf,
        }
    }

    /// The path element of a list element (`listItemToPathElement`).
    fn element_pe(&self, names: &[&str], lt: &ListType, item: &Value) -> Result<Pe, String> {
        match lt {
            ListType::Map(keys) => {
                let Value::Object(map) = item else {
                    return Err(if item.is_null() {
                        "associative list with keys may not have a null element".to_owned()
                    } else {
                        "associative list with keys may not have non-map elements".to_owned()
                    });
                };
                let mut fields = Vec::new();
                for key in keys.iter() {
                    if let Some(value) = map.get(*key) {
                        fields.push(((*key).to_owned(), value.clone()));
                    } else if let Some(default) = key_default(names, key) {
                        fields.push(((*key).to_owned(), default));
                    }
                }
                if fields.is_empty() {
                    return Err(format!(
                        "associative list with keys has an element that omits all key fields \
                         {keys:?} (and doesn't have default values for any key fields)"
                    ));
                }
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Pe::Key(fields))
            }
            ListType::Set | ListType::Atomic => match item {
                Value::Object(_) => {
                    Err("associative list without keys has an element that's a map type".to_owned())
                }
                Value::Array(_) => {
                    Err("not supported: associative list with lists as elements".to_owned())
                }
                Value::Null => Err(
                    "associative list without keys has an element that's an explicit null"
                        .to_owned(),
                ),
                scalar => Ok(Pe::Value(scalar.clone())),
            },
        }
    }

    /// The element path elements of a list, `None` where an element has none.
    fn element_pes(&self, names: &[&str], lt: &ListType, items: &[Value]) -> Vec<Option<Pe>> {
        items
            .iter()
            .map(|item| self.element_pe(names, lt, item).ok())
            .collect()
    }

    // --- ToFieldSet ---------------------------------------------------------------------------

    /// Every leaf, list element and empty/null field of `v` (`TypedValue.ToFieldSet`).
    /// `strict` rejects malformed list elements and duplicate keys, as for an applied config.
    pub(super) fn field_set(&self, v: &Value, strict: bool) -> Result<Set, String> {
        let mut set = Set::default();
        self.collect(&mut Vec::new(), &mut Vec::new(), v, strict, &mut set)?;
        Ok(set)
    }

    fn lenient_set(&self, v: &Value) -> Set {
        self.field_set(v, false).unwrap_or_default()
    }

    pub(super) fn collect<'a>(
        &self,
        names: &mut Vec<&'a str>,
        path: &mut Vec<Pe>,
        v: &'a Value,
        strict: bool,
        out: &mut Set,
    ) -> Result<(), String> {
        match self.shape(names, v) {
            Shape::Leaf => out.insert(path),
            Shape::Map(map) => {
                for (key, child) in map {
                    names.push(key);
                    path.push(Pe::Field(key.clone()));
                    let walked = if strict
                        && list_type(self.kind, names) != ListType::Atomic
                        && !(child.is_array() || child.is_null())
                    {
                        Err(format!(
                            "{}: expected list, got {child}",
                            display_path(path)
                        ))
                    } else {
                        self.collect(names, path, child, strict, out)
                    };
                    if child.is_null() || child.as_object().is_some_and(Object::is_empty) {
                        out.insert(path);
                    }
                    names.pop();
                    path.pop();
                    walked?;
                }
            }
            Shape::List(items, lt) => {
                let mut pes = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match self.element_pe(names, &lt, item) {
                        Ok(pe) => pes.push(Some(pe)),
                        Err(e) if strict => {
                            return Err(format!("{}: element {i}: {e}", display_path(path)));
                        }
                        Err(_) => pes.push(None),
                    }
                }
                let mut counts: BTreeMap<&Pe, usize> = BTreeMap::new();
                for pe in pes.iter().flatten() {
                    *counts.entry(pe).or_default() += 1;
                }
                for (item, pe) in items.iter().zip(&pes) {
                    let Some(pe) = pe else { continue };
                    let duplicated = counts.get(pe).is_some_and(|n| *n > 1);
                    if duplicated && strict {
                        return Err(format!(
                            "{}: duplicate entries for key {}",
                            display_path(path),
                            pe.display()
                        ));
                    }
                    path.push(pe.clone());
                    let walked = if duplicated {
                        Ok(())
                    } else {
                        self.collect(names, path, item, strict, out)
                    };
                    out.insert(path);
                    path.pop();
                    walked?;
                }
            }
        }
        Ok(())
    }

    // --- Merge --------------------------------------------------------------------------------

    /// Merge `config` over `live` (`TypedValue.Merge` with "keep RHS" on leaves).
    pub(super) fn merge<'a>(
        &self,
        names: &mut Vec<&'a str>,
        live: Option<&'a Value>,
        config: &'a Value,
    ) -> Value {
        let Some(live) = live else {
            return config.clone();
        };
        match self.shape(names, config) {
            Shape::Leaf => {
                // A null config over a non-empty granular value leaves it alone.
                if config.is_null() && self.is_nonempty_granular(names, live) {
                    live.clone()
                } else {
                    config.clone()
                }
            }
            Shape::Map(config_map) => {
                let Value::Object(live_map) = live else {
                    return config.clone();
                };
                let mut out = live_map.clone();
                for (key, value) in config_map {
                    names.push(key);
                    let merged = self.merge(names, live_map.get(key), value);
                    names.pop();
                    out.insert(key.clone(), merged);
                }
                Value::Object(out)
            }
            Shape::List(config_items, lt) => {
                let Value::Array(live_items) = live else {
                    return config.clone();
                };
                if config_items.is_empty() && live_items.is_empty() {
                    return config.clone();
                }
                Value::Array(self.merge_list(names, live_items, config_items, &lt))
            }
        }
    }

    fn is_nonempty_granular(&self, names: &[&str], v: &Value) -> bool {
        match self.shape(names, v) {
            Shape::Leaf => false,
            Shape::Map(map) => !map.is_empty(),
            Shape::List(items, _) => !items.is_empty(),
        }
    }

    /// The order-preserving list merge of `mergingWalker.visitListItems`: items shared with
    /// the config follow the config's order, live-only items keep their place.
    fn merge_list<'a>(
        &self,
        names: &mut Vec<&'a str>,
        lhs: &'a [Value],
        rhs: &'a [Value],
        lt: &ListType,
    ) -> Vec<Value> {
        let lhs_pes = self.element_pes(names, lt, lhs);
        let rhs_items: Vec<(Pe, &'a Value)> = self
            .element_pes(names, lt, rhs)
            .into_iter()
            .zip(rhs)
            .filter_map(|(pe, item)| pe.map(|pe| (pe, item)))
            .collect();

        let mut observed_lhs: BTreeMap<&Pe, Option<usize>> = BTreeMap::new();
        for (i, pe) in lhs_pes.iter().enumerate() {
            if let Some(pe) = pe {
                observed_lhs
                    .entry(pe)
                    .and_modify(|seen| *seen = None)
                    .or_insert(Some(i));
            }
        }
        let observed_rhs: BTreeSet<&Pe> = rhs_items.iter().map(|(pe, _)| pe).collect();
        let live_item = |pe: &Pe| -> Option<&'a Value> {
            observed_lhs
                .get(pe)
                .copied()
                .flatten()
                .and_then(|i| lhs.get(i))
        };

        let mut shared: VecDeque<&Pe> = rhs_items
            .iter()
            .map(|(pe, _)| pe)
            .filter(|pe| observed_lhs.contains_key(pe))
            .collect();
        let mut next_shared = shared.pop_front();
        let mut merged_rhs: BTreeSet<&Pe> = BTreeSet::new();
        let mut out = Vec::with_capacity(lhs.len().max(rhs_items.len()));
        let (mut li, mut ri) = (0, 0);
        while li < lhs.len() || ri < rhs_items.len() {
            if li < lhs.len()
                && ri < rhs_items.len()
                && let Some(pe) = &lhs_pes[li]
            {
                if *pe == rhs_items[ri].0 {
                    merged_rhs.insert(pe);
                    out.push(self.merge_item(names, lt, live_item(pe), rhs_items[ri].1));
                    li += 1;
                    ri += 1;
                    next_shared = shared.pop_front();
                    continue;
                }
                if observed_rhs.contains(pe) && next_shared.is_some_and(|n| n != pe) {
                    // Shared, but not the one the config wants next.
                    li += 1;
                    continue;
                }
            }
            if li < lhs.len() {
                match &lhs_pes[li] {
                    Some(pe) if observed_rhs.contains(pe) => {
                        if merged_rhs.contains(pe) {
                            li += 1;
                        }
                    }
                    _ => {
                        out.push(lhs[li].clone());
                        li += 1;
                        continue;
                    }
                }
            }
            if ri < rhs_items.len() {
                let (pe, item) = &rhs_items[ri];
                merged_rhs.insert(pe);
                out.push(self.merge_item(names, lt, live_item(pe), item));
                ri += 1;
                if next_shared.is_some_and(|n| n == pe) {
                    next_shared = shared.pop_front();
                }
            }
        }
        out
    }

    fn merge_item<'a>(
        &self,
        names: &mut Vec<&'a str>,
        lt: &ListType,
        live: Option<&'a Value>,
        config: &'a Value,
    ) -> Value {
        match lt {
            ListType::Map(_) => self.merge(names, live, config),
            _ => config.clone(),
        }
    }

    // --- Compare ------------------------------------------------------------------------------

    pub(super) fn compare(&self, old: &Value, new: &Value) -> Comparison {
        let mut out = Comparison::default();
        self.compare_node(
            &mut Vec::new(),
            &mut Vec::new(),
            Some(old),
            Some(new),
            &mut out,
        );
        out
    }

    fn node_kind(&self, names: &[&str], lhs: Option<&Value>, rhs: Option<&Value>) -> NodeKind {
        let present: Vec<&Value> = [lhs, rhs]
            .into_iter()
            .flatten()
            .filter(|v| !v.is_null())
            .collect();
        if !present.is_empty() && present.iter().all(|v| v.is_object()) {
            if map_is_atomic(self.kind, names) {
                NodeKind::Leaf
            } else {
                NodeKind::Map
            }
        } else if !present.is_empty() && present.iter().all(|v| v.is_array()) {
            match list_type(self.kind, names) {
                ListType::Atomic => NodeKind::Leaf,
                lt => NodeKind::List(lt),
            }
        } else {
            NodeKind::Leaf
        }
    }

    fn compare_node<'a>(
        &self,
        names: &mut Vec<&'a str>,
        path: &mut Vec<Pe>,
        lhs: Option<&'a Value>,
        rhs: Option<&'a Value>,
        out: &mut Comparison,
    ) {
        let leaf = match self.node_kind(names, lhs, rhs) {
            NodeKind::Leaf => true,
            NodeKind::Map => {
                let lm = lhs.and_then(Value::as_object);
                let rm = rhs.and_then(Value::as_object);
                if lm.is_none_or(Object::is_empty) && rm.is_none_or(Object::is_empty) {
                    true
                } else {
                    let keys: BTreeSet<&'a String> =
                        lm.into_iter().chain(rm).flat_map(|m| m.keys()).collect();
                    for key in keys {
                        names.push(key);
                        path.push(Pe::Field(key.clone()));
                        self.compare_node(
                            names,
                            path,
                            lm.and_then(|m| m.get(key)),
                            rm.and_then(|m| m.get(key)),
                            out,
                        );
                        names.pop();
                        path.pop();
                    }
                    false
                }
            }
            NodeKind::List(lt) => {
                let la = lhs
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let ra = rhs
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if la.is_empty() && ra.is_empty() {
                    true
                } else {
                    self.compare_list(names, path, la, ra, &lt, out);
                    false
                }
            }
        };
        match (lhs, rhs) {
            (None, _) => out.added.insert(path),
            (_, None) => out.removed.insert(path),
            (Some(l), Some(r)) if leaf && l != r => out.modified.insert(path),
            _ => {}
        }
    }

    fn compare_list<'a>(
        &self,
        names: &mut Vec<&'a str>,
        path: &mut Vec<Pe>,
        lhs: &'a [Value],
        rhs: &'a [Value],
        lt: &ListType,
        out: &mut Comparison,
    ) {
        let mut order: Vec<Pe> = Vec::new();
        let mut seen: BTreeSet<Pe> = BTreeSet::new();
        let mut left: BTreeMap<Pe, Vec<&'a Value>> = BTreeMap::new();
        let mut right: BTreeMap<Pe, Vec<&'a Value>> = BTreeMap::new();
        for (side, items) in [(&mut left, lhs), (&mut right, rhs)] {
            for (pe, item) in self.element_pes(names, lt, items).into_iter().zip(items) {
                let Some(pe) = pe else { continue };
                if seen.insert(pe.clone()) {
                    order.push(pe.clone());
                }
                side.entry(pe).or_default().push(item);
            }
        }
        for pe in order {
            let l = left.get(&pe).map(Vec::as_slice).unwrap_or_default();
            let r = right.get(&pe).map(Vec::as_slice).unwrap_or_default();
            path.push(pe);
            match (l.len(), r.len()) {
                (0 | 1, 0 | 1) => {
                    self.compare_node(names, path, l.first().copied(), r.first().copied(), out);
                }
                (2.., 2..) => {
                    if l != r {
                        out.modified.insert(path);
                    }
                }
                (2.., _) => {
                    if let Some(item) = r.first() {
                        self.compare_node(names, path, None, Some(item), out);
                    }
                    out.removed.insert(path);
                }
                (_, _) => {
                    if let Some(item) = l.first() {
                        self.compare_node(names, path, Some(item), None, out);
                    }
                    out.added.insert(path);
                }
            }
            path.pop();
        }
    }

    // --- RemoveItems --------------------------------------------------------------------------

    /// `v` without the paths in `set` (a member removes its whole subtree).
    fn remove_items(&self, v: &Value, set: &Set) -> Value {
        self.remove_walk(&mut Vec::new(), v, set)
            .unwrap_or_else(|| Value::Object(Object::new()))
    }

    /// `None` when nothing is left (kube turns that into null, i.e. the field disappears).
    fn remove_walk<'a>(&self, names: &mut Vec<&'a str>, v: &'a Value, set: &Set) -> Option<Value> {
        match self.shape(names, v) {
            Shape::Leaf => Some(v.clone()),
            Shape::Map(map) => {
                if map.is_empty() {
                    return None;
                }
                let mut out = Object::new();
                for (key, child) in map {
                    let pe = Pe::Field(key.clone());
                    if set.members.contains(&pe) {
                        continue;
                    }
                    let kept = match set.children.get(&pe) {
                        Some(sub) => {
                            names.push(key);
                            let kept = self.remove_walk(names, child, sub);
                            names.pop();
                            kept
                        }
                        None => Some(child.clone()),
                    };
                    if let Some(kept) = kept {
                        out.insert(key.clone(), kept);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Shape::List(items, lt) => {
                if items.is_empty() {
                    return None;
                }
                let mut out = Vec::with_capacity(items.len());
                for (item, pe) in items.iter().zip(self.element_pes(names, &lt, items)) {
                    let Some(pe) = pe else {
                        out.push(item.clone());
                        continue;
                    };
                    if set.members.contains(&pe) {
                        continue;
                    }
                    let kept = match set.children.get(&pe) {
                        Some(sub) => self.remove_walk(names, item, sub),
                        None => Some(item.clone()),
                    };
                    out.extend(kept);
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
        }
    }

    // --- Prune --------------------------------------------------------------------------------

    /// `Updater.prune`: remove what the applier applied last time (`last`) and no longer
    /// applies, unless a manager (the applier's new config included, via `owned`) owns it.
    pub(super) fn prune(&self, merged: &Value, owned: &Set, last: &Set) -> Value {
        if last.is_empty() {
            return merged.clone();
        }
        let last = last.ensure_named();
        let pruned = self.remove_items(merged, &last);
        // addBackOwnedItems
        let merged_set = self.lenient_set(merged).ensure_named();
        let pruned_set = self.lenient_set(&pruned).ensure_named();
        let pruned = self.remove_items(
            merged,
            &merged_set.difference(&pruned_set.union(&owned.ensure_named())),
        );
        // addBackDanglingItems
        let pruned_set = self.lenient_set(&pruned).ensure_named();
        self.remove_items(
            merged,
            &merged_set.difference(&pruned_set).intersection(&last),
        )
    }

    // --- Client-side apply upgrade ------------------------------------------------------------

    /// `lastAppliedManager.allowedConflictsFromLastApplied`: the fields in the live object's
    /// last-applied annotation whose live value still matches it.
    pub(super) fn allowed_by_last_applied(&self, live: &Value) -> Option<Set> {
        let text = annotation(live, LAST_APPLIED).filter(|s| !s.is_empty())?;
        let last_applied: Value = serde_json::from_str(text).ok()?;
        if !last_applied.is_object() {
            return None;
        }
        let set = self.field_set(&last_applied, true).ok()?;
        let cmp = self.compare(&last_applied, live);
        Some(set.difference(&cmp.modified))
    }
}
