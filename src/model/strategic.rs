//! Strategic merge patch (`application/strategic-merge-patch+json`) for Pod, ReplicaSet, Node,
//! Namespace and Event objects held as `serde_json::Value`: apimachinery's
//! `strategicpatch.StrategicMergePatch` algorithm plus the table of patch strategies and merge
//! keys of those kinds' fields. Pure: no I/O, no HTTP types; callers map `PatchError` to a status.

use serde_json::{Map, Value};
use std::borrow::Borrow;
use std::mem;

type Object = Map<String, Value>;

const DIRECTIVE: &str = "$patch";
const REPLACE: &str = "replace";
const DELETE: &str = "delete";
const MERGE: &str = "merge";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

const ERR_BAD_JSON_DOC: &str = "invalid JSON document";
const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
const ERR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_RETAIN_KEYS_CONTENT: &str = "patch content doesn't match retainKeys list";
const ERR_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";
const GO_MAP: &str = "map[string]interface {}";

/// Why a patch could not be applied; the message follows apimachinery's wording.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatchError {
    #[error("{0}")]
    Invalid(String),
}

/// How a field takes a patch (its `patchStrategy`/`patchMergeKey` tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldStrategy {
    /// The patch value replaces the field whole (`patchStrategy:"replace"` or an atomic list).
    Replace,
    /// A list of objects merged element-wise by `key`; `retain_keys` marks union types
    /// (volume sources) whose patches carry `$retainKeys`.
    MergeList {
        key: &'static str,
        retain_keys: bool,
    },
    /// A list of scalars merged as a set (`metadata.finalizers`).
    MergePrimitives,
    /// A struct or map, merged key by key. Paths the table does not name get this; a list there
    /// has no strategy and is replaced wholesale.
    Map,
    /// A map replaced whole by the patch (e.g. `nodeSelector`).
    AtomicMap,
}

/// Apply `patch` to `original` for an object of `kind` ("Pod", "ReplicaSet", "Node",
/// "Namespace", "Event"). Both must be JSON objects. Every `$` directive is consumed; none is
/// left in the result.
///
/// Where apimachinery copies patch content raw and leaves the cleanup to decoding into the Go
/// type (a value new to the object, a `$patch: replace` map), the patch is merged into an empty
/// value instead, so its nulls, directives and delete markers are consumed too. `$patch: delete`
/// on a map removes the field (apimachinery leaves `{}`).
///
/// Merged lists are ordered as apimachinery orders them: by `$setElementOrder` when the patch
/// has one (kubectl's always do); otherwise the items the patch names follow the patch's order and
/// one new to the list lands ahead of the live items it was not ordered against (so a plain
/// `kubectl patch` adding a container puts it first, as a real server does).
pub fn strategic_merge(kind: &str, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let (Value::Object(original), Value::Object(patch)) = (original, patch) else {
        return Err(invalid(ERR_BAD_JSON_DOC));
    };
    let merged = Merger { kind }.merge_map(&mut Vec::new(), original.clone(), patch)?;
    Ok(Value::Object(merged.unwrap_or_default()))
}

/// The patch strategy of a field, by its path of field names from the object root (list
/// elements do not add a path segment), e.g. `["spec","template","spec","containers"]` for a
/// ReplicaSet.
pub fn field_strategy(kind: &str, path: &[&str]) -> FieldStrategy {
    let found = match (kind, path) {
        (_, ["metadata", rest @ ..]) => find(OBJECT_META, rest),
        ("Pod", ["spec", rest @ ..]) => pod_spec(rest),
        ("Pod", ["status", rest @ ..]) => find(POD_STATUS, rest),
        ("ReplicaSet", ["spec", "template", "metadata", rest @ ..]) => find(OBJECT_META, rest),
        ("ReplicaSet", ["spec", "template", "spec", rest @ ..]) => pod_spec(rest),
        ("ReplicaSet" | "Namespace", ["status", rest @ ..]) => find(STATUS_CONDITIONS, rest),
        ("Node", _) => find(NODE, path),
        ("ServiceAccount", _) => find(SERVICE_ACCOUNT, path),
        _ => None,
    };
    found.cloned().unwrap_or(FieldStrategy::Map)
}

// ---------------------------------------------------------------------------------------------
// Schema table (from the types' patchStrategy/patchMergeKey tags; everything else: maps merge,
// lists replace).

type Table = &'static [(&'static [&'static str], FieldStrategy)];

const fn by(key: &'static str) -> FieldStrategy {
    FieldStrategy::MergeList {
        key,
        retain_keys: false,
    }
}

const fn by_retaining(key: &'static str) -> FieldStrategy {
    FieldStrategy::MergeList {
        key,
        retain_keys: true,
    }
}

/// ServiceAccount: `secrets` merge by name (`imagePullSecrets` is atomic, replaced whole);
/// ConfigMap and Secret `data` are plain maps, merged key by key.
const SERVICE_ACCOUNT: Table = &[(&["secrets"], by("name"))];

/// ObjectMeta, relative to `metadata`.
const OBJECT_META: Table = &[
    (&["finalizers"], FieldStrategy::MergePrimitives),
    (&["ownerReferences"], by("uid")),
    (&["managedFields"], FieldStrategy::Replace),
];

/// PodSpec, relative to the spec.
const POD_SPEC: Table = &[
    (&["containers"], by("name")),
    (&["initContainers"], by("name")),
    (&["ephemeralContainers"], by("name")),
    (&["volumes"], by_retaining("name")),
    (&["imagePullSecrets"], by("name")),
    (&["hostAliases"], by("ip")),
    (&["topologySpreadConstraints"], by("topologyKey")),
    (
        &["topologySpreadConstraints", "matchLabelKeys"],
        FieldStrategy::Replace,
    ),
    (&["schedulingGates"], by("name")),
    (&["resourceClaims"], by_retaining("name")),
    (&["tolerations"], FieldStrategy::Replace),
    (&["nodeSelector"], FieldStrategy::AtomicMap),
];

/// Container (and EphemeralContainer), relative to the container.
const CONTAINER: Table = &[
    (&["env"], by("name")),
    (&["ports"], by("containerPort")),
    (&["volumeMounts"], by("mountPath")),
    (&["volumeDevices"], by("devicePath")),
    (&["resizePolicy"], FieldStrategy::Replace),
];

/// PodStatus, relative to `status`.
const POD_STATUS: Table = &[
    (&["conditions"], by("type")),
    (&["podIPs"], by("ip")),
    (&["hostIPs"], by("ip")),
    (&["resourceClaimStatuses"], by_retaining("name")),
    (&["containerStatuses"], FieldStrategy::Replace),
    (&["initContainerStatuses"], FieldStrategy::Replace),
    (&["ephemeralContainerStatuses"], FieldStrategy::Replace),
];

/// ReplicaSetStatus and NamespaceStatus, relative to `status`.
const STATUS_CONDITIONS: Table = &[(&["conditions"], by("type"))];

/// Node, from the root.
const NODE: Table = &[
    (&["spec", "taints"], FieldStrategy::Replace),
    (&["spec", "podCIDRs"], FieldStrategy::MergePrimitives),
    (&["status", "conditions"], by("type")),
    (&["status", "addresses"], by("type")),
];

fn pod_spec(rest: &[&str]) -> Option<&'static FieldStrategy> {
    match rest {
        [
            "containers" | "initContainers" | "ephemeralContainers",
            field @ ..,
        ] if !field.is_empty() => find(CONTAINER, field),
        _ => find(POD_SPEC, rest),
    }
}

fn find(table: Table, path: &[&str]) -> Option<&'static FieldStrategy> {
    table
        .iter()
        .find(|(fields, _)| *fields == path)
        .map(|(_, strategy)| strategy)
}

// ---------------------------------------------------------------------------------------------
// The merge (apimachinery's mergeMap / mergeSlice / mergePatchIntoOriginal).

struct Merger<'k> {
    kind: &'k str,
}

/// A merged list plus what apimachinery's ordering step sees as the "server order".
struct ListMerge {
    merged: Vec<Value>,
    /// apimachinery deletes and appends on the live list in place, so the caller's view of the
    /// live list (which `$setElementOrder` uses as the server order) ends up holding the surviving
    /// items, then items appended into the freed slots, then stale leftovers. Its test vectors
    /// depend on that (e.g. a server-only item stays ahead of a newly added one), so it is
    /// reproduced here.
    server_view: Vec<Value>,
}

impl Merger<'_> {
    fn strategy(&self, path: &[&str]) -> FieldStrategy {
        field_strategy(self.kind, path)
    }

    /// Merge `patch` into `original`; `None` when the patch deletes the whole map.
    fn merge_map<'p>(
        &self,
        path: &mut Vec<&'p str>,
        original: Object,
        patch: &'p Object,
    ) -> Result<Option<Object>, PatchError> {
        match patch.get(DIRECTIVE) {
            None => self.merge_fields(path, original, patch).map(Some),
            // The map becomes the patch; merging it into nothing consumes its own directives.
            Some(Value::String(d)) if d == REPLACE => {
                self.merge_fields(path, Object::new(), patch).map(Some)
            }
            Some(Value::String(d)) if d == DELETE => Ok(None),
            Some(other) => Err(bad_patch_type(other, patch)),
        }
    }

    /// Merge every key of `patch` except `$patch` into `original`.
    fn merge_fields<'p>(
        &self,
        path: &mut Vec<&'p str>,
        mut original: Object,
        patch: &'p Object,
    ) -> Result<Object, PatchError> {
        apply_retain_keys(&mut original, patch)?;

        let mut ordered: Vec<&str> = Vec::new();
        for (key, order) in patch {
            if !key.starts_with(SET_ELEMENT_ORDER) {
                continue;
            }
            let field = directive_field(key, SET_ELEMENT_ORDER, ERR_SET_ELEMENT_ORDER)?;
            path.push(field);
            let list = self.ordered_list(path, &mut original, patch, field, order);
            path.pop();
            if let Some(list) = list? {
                original.insert(field.to_owned(), Value::Array(list));
                ordered.push(field);
            }
        }

        let mut deletions = Vec::new();
        for (key, value) in patch {
            if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
                let field = directive_field(key, DELETE_FROM_PRIMITIVE_LIST, ERR_PRIMITIVE_LIST)?;
                deletions.push((field, value));
                continue;
            }
            if key.starts_with('$') || ordered.contains(&key.as_str()) {
                continue;
            }
            path.push(key.as_str());
            let merged = self.merge_field(path, &mut original, key, value);
            path.pop();
            merged?;
        }

        // After the list itself is merged, so a value both added and removed ends up removed.
        for (field, values) in deletions {
            let Value::Array(values) = values else {
                return Err(invalid(ERR_PRIMITIVE_LIST));
            };
            // A missing list stays missing (apimachinery used to create it from the deletions).
            if let Some(Value::Array(list)) = original.get_mut(field) {
                list.retain(|v| !values.iter().any(|d| json_eq(v, d)));
            }
        }
        Ok(original)
    }

    /// Merge one patch field (`path` ends with `key`) into `original`.
    fn merge_field<'p>(
        &self,
        path: &mut Vec<&'p str>,
        original: &mut Object,
        key: &str,
        value: &'p Value,
    ) -> Result<(), PatchError> {
        match value {
            Value::Null => remove_key(original, key),
            Value::Object(patch) => {
                let base = match self.strategy(path) {
                    FieldStrategy::Replace | FieldStrategy::AtomicMap => Object::new(),
                    _ => match original.get_mut(key) {
                        Some(Value::Object(live)) => mem::take(live),
                        _ => Object::new(),
                    },
                };
                match self.merge_map(path, base, patch)? {
                    Some(merged) => {
                        original.insert(key.to_owned(), Value::Object(merged));
                    }
                    None => remove_key(original, key),
                }
            }
            Value::Array(patch) => {
                let list = match self.strategy(path) {
                    FieldStrategy::MergeList { key: merge_key, .. } => {
                        self.merge_live_list(path, original, key, patch, Some(merge_key))?
                    }
                    FieldStrategy::MergePrimitives => {
                        self.merge_live_list(path, original, key, patch, None)?
                    }
                    _ => patch.iter().map(clean).collect(),
                };
                original.insert(key.to_owned(), Value::Array(list));
            }
            scalar => {
                original.insert(key.to_owned(), scalar.clone());
            }
        }
        Ok(())
    }

    fn merge_live_list<'p>(
        &self,
        path: &mut Vec<&'p str>,
        original: &mut Object,
        key: &str,
        patch: &'p [Value],
        merge_key: Option<&'static str>,
    ) -> Result<Vec<Value>, PatchError> {
        let live = match original.get_mut(key) {
            Some(Value::Array(live)) => mem::take(live),
            _ => Vec::new(),
        };
        Ok(self.merge_list(path, live, patch, merge_key)?.merged)
    }

    /// `$setElementOrder/<field>`: merge the field's list (if patched) and order the result.
    /// `None` when the directive does not apply and the field is merged as usual.
    fn ordered_list<'p>(
        &self,
        path: &mut Vec<&'p str>,
        original: &mut Object,
        patch: &'p Object,
        field: &str,
        order: &Value,
    ) -> Result<Option<Vec<Value>>, PatchError> {
        let merge_key = match self.strategy(path) {
            FieldStrategy::MergeList { key, .. } => Some(key),
            FieldStrategy::MergePrimitives => None,
            _ => return Ok(None),
        };
        let Value::Array(order) = order else {
            return Err(invalid(ERR_SET_ELEMENT_ORDER));
        };
        let patch_list = match patch.get(field) {
            None => None,
            Some(Value::Array(list)) => Some(list.as_slice()),
            Some(_) => return Ok(None),
        };
        validate_set_element_order(patch_list.unwrap_or_default(), order, merge_key)?;
        let live = match original.get_mut(field) {
            Some(Value::Array(live)) => Some(mem::take(live)),
            _ => None,
        };
        let (merged, server_order) = match (live, patch_list) {
            (None, None) => return Ok(None),
            (Some(live), None) => (live.clone(), live),
            (live, Some(patch_list)) => {
                let result =
                    self.merge_list(path, live.unwrap_or_default(), patch_list, merge_key)?;
                (result.merged, result.server_view)
            }
        };
        let order: Vec<&Value> = order.iter().collect();
        let server_order: Vec<&Value> = server_order.iter().collect();
        let (patch_items, server_only) = partition(merged, &order, merge_key)?;
        normalize_element_order(patch_items, server_only, &order, &server_order, merge_key)
            .map(Some)
    }

    /// apimachinery's mergeSlice: merge `patch` into the live list, by `merge_key` for lists of
    /// objects or as a set for scalars, then order it (patch order first, see
    /// `merge_sorted_slice`).
    fn merge_list<'p>(
        &self,
        path: &mut Vec<&'p str>,
        original: Vec<Value>,
        patch: &'p [Value],
        merge_key: Option<&'static str>,
    ) -> Result<ListMerge, PatchError> {
        if original.is_empty() && patch.is_empty() {
            return Ok(ListMerge {
                merged: original,
                server_view: Vec::new(),
            });
        }
        if !elements_are_objects(&original, patch)? {
            if merge_key.is_some() {
                let scalar = original.iter().chain(patch).find(|v| !v.is_object());
                return Err(bad_arg_type(GO_MAP, scalar.unwrap_or(&Value::Null)));
            }
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for value in original.iter().chain(patch) {
                if !merged.iter().any(|m| json_eq(m, value)) {
                    merged.push(value.clone());
                }
            }
            let patch_order: Vec<&Value> = patch.iter().collect();
            let server_order: Vec<&Value> = original.iter().collect();
            let (patch_items, server_only) = partition(merged, &patch_order, None)?;
            let merged = normalize_element_order(
                patch_items,
                server_only,
                &patch_order,
                &server_order,
                None,
            )?;
            return Ok(ListMerge {
                merged,
                server_view: original,
            });
        }
        let Some(key) = merge_key else {
            return Err(invalid(format!(
                "cannot merge lists without merge key for {}",
                path.join(".")
            )));
        };

        // Special elements first: deletions (on the live list, in place) and replace markers.
        let live_len = original.len();
        let mut view = original;
        let mut len = live_len;
        let mut plain: Vec<&'p Value> = Vec::new();
        let mut replace = false;
        for element in patch {
            let Value::Object(fields) = element else {
                return Err(bad_arg_type(GO_MAP, element));
            };
            match fields.get(DIRECTIVE) {
                None => plain.push(element),
                Some(Value::String(d)) if d == DELETE => {
                    let value = fields.get(key).ok_or_else(|| no_merge_key(element, key))?;
                    while let Some(i) = find_by_key(&view[..len], key, value)? {
                        // Go's append(s[:i], s[i+1:]...): shift left, the last slot keeps its
                        // old value.
                        let last = view[len - 1].clone();
                        view.remove(i);
                        view.insert(len - 1, last);
                        len -= 1;
                    }
                }
                Some(Value::String(d)) if d == REPLACE => replace = true,
                Some(Value::String(d)) if d == MERGE => {
                    return Err(invalid(
                        "merging lists cannot yet be specified in the patch",
                    ));
                }
                Some(other) => return Err(bad_patch_type(other, fields)),
            }
        }
        if replace {
            let mut merged = Vec::with_capacity(plain.len());
            for element in plain {
                let fields = require_merge_key(element, key)?;
                let fields = self.merge_fields(path, Object::new(), fields)?;
                merged.push(Value::Object(fields));
            }
            return Ok(ListMerge {
                merged,
                server_view: view,
            });
        }

        let server_order: Vec<Value> = view[..len].to_vec();
        let mut current = server_order.clone();
        for &element in &plain {
            let fields = require_merge_key(element, key)?;
            let value = fields.get(key).unwrap_or(&Value::Null);
            match find_by_key(&current, key, value)? {
                Some(i) => {
                    let live = match &mut current[i] {
                        Value::Object(live) => mem::take(live),
                        _ => Object::new(),
                    };
                    current[i] = Value::Object(self.merge_fields(path, live, fields)?);
                }
                None => {
                    // Appending writes into a slot freed by a deletion, if any.
                    if current.len() < live_len {
                        view[current.len()] = element.clone();
                    }
                    current.push(Value::Object(self.merge_fields(
                        path,
                        Object::new(),
                        fields,
                    )?));
                }
            }
        }
        let server_order: Vec<&Value> = server_order.iter().collect();
        let (patch_items, server_only) = partition(current, &plain, Some(key))?;
        let merged =
            normalize_element_order(patch_items, server_only, &plain, &server_order, Some(key))?;
        Ok(ListMerge {
            merged,
            server_view: view,
        })
    }
}

/// `$retainKeys`: drop every live key the list does not name (the patch may only set named keys).
fn apply_retain_keys(original: &mut Object, patch: &Object) -> Result<(), PatchError> {
    let Some(retain) = patch.get(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(invalid(ERR_RETAIN_KEYS));
    };
    let kept = |key: &str| retain.iter().any(|r| r.as_str() == Some(key));
    let stray = patch
        .iter()
        .any(|(key, value)| !value.is_null() && !key.starts_with('$') && !kept(key));
    if stray {
        return Err(invalid(ERR_RETAIN_KEYS_CONTENT));
    }
    original.retain(|key, _| kept(key));
    Ok(())
}

/// The field a `<prefix>/<field>` directive key names.
fn directive_field<'a>(key: &'a str, prefix: &str, error: &str) -> Result<&'a str, PatchError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field),
        _ => Err(invalid(error)),
    }
}

/// The patch's non-deleted items must appear in the `$setElementOrder` list, in the same order.
fn validate_set_element_order(
    patch: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), PatchError> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let mut items = Vec::with_capacity(patch.len());
    for item in patch {
        if merge_key.is_some() && !item.is_object() {
            return Err(bad_arg_type(GO_MAP, item));
        }
        if directive_of(item) != Some(DELETE) {
            items.push(item);
        }
    }
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if items[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if merge_key_value_equal(items[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() && o >= order.len() {
        return Err(invalid(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_fmt_list(patch),
            go_fmt_list(order)
        )));
    }
    Ok(())
}

fn merge_key_value_equal(
    left: &Value,
    right: &Value,
    merge_key: Option<&str>,
) -> Result<bool, PatchError> {
    let Some(key) = merge_key else {
        return Ok(json_eq(left, right));
    };
    let left = require_merge_key(left, key)?;
    let right = require_merge_key(right, key)?;
    Ok(matches!((left.get(key), right.get(key)), (Some(l), Some(r)) if json_eq(l, r)))
}

/// Split `items` into those present in `by` (by merge key, or by value for scalars) and the rest.
fn partition(
    items: Vec<Value>,
    by: &[&Value],
    merge_key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = Vec::with_capacity(items.len());
    let mut absent = Vec::with_capacity(items.len());
    for item in items {
        let found = match merge_key {
            None => by.iter().any(|b| json_eq(b, &item)),
            Some(key) => {
                let value = require_merge_key(&item, key)?
                    .get(key)
                    .unwrap_or(&Value::Null);
                find_by_key(by, key, value)?.is_some()
            }
        };
        if found {
            present.push(item);
        } else {
            absent.push(item);
        }
    }
    Ok((present, absent))
}

/// The first object in `list` whose `key` equals `value`.
fn find_by_key<V: Borrow<Value>>(
    list: &[V],
    key: &str,
    value: &Value,
) -> Result<Option<usize>, PatchError> {
    for (i, item) in list.iter().enumerate() {
        let Value::Object(fields) = item.borrow() else {
            return Err(invalid(format!("value for key {i} is not a map.")));
        };
        if fields.get(key).is_some_and(|v| json_eq(v, value)) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// Ordering (apimachinery's normalizeElementOrder, normalizeSliceOrder and mergeSortedSlice).

/// Sort the patch items by `patch_order` and the server-only items by `server_order`, then
/// interleave them with `merge_sorted_slice`.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[&Value],
    server_order: &[&Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key)?;
    Ok(merge_sorted_slice(
        server_only,
        patch_items,
        server_order,
        merge_key,
    ))
}

/// Stable-sort `items` by their position in `order`, with Go's `sort.SliceStable` and
/// apimachinery's comparator (an item missing from `order` compares as "less").
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[&Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let (items, deleted) = match merge_key {
        None => (items, Vec::new()),
        Some(key) => {
            for item in items.iter().chain(order.iter().copied()) {
                require_merge_key(item, key)?;
            }
            items
                .into_iter()
                .partition(|item| directive_of(item) != Some(DELETE))
        }
    };
    let mut ranked: Vec<(Option<usize>, Value)> = items
        .into_iter()
        .map(|item| (position(order, &item, merge_key), item))
        .collect();
    go_stable_sort(&mut ranked, |a, b| match (a.0, b.0) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    });
    Ok(ranked
        .into_iter()
        .map(|(_, item)| item)
        .chain(deleted)
        .collect())
}

/// Merge the sorted server-only items (`left`) into the sorted patch items (`right`). A left
/// item goes first only when both are in `server_order` and it comes earlier there, so an item
/// new to the server is placed as soon as it is next in `right`.
fn merge_sorted_slice(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[&Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    let rank = |items: Vec<Value>| -> Vec<(Option<usize>, Value)> {
        items
            .into_iter()
            .map(|item| (position(server_order, &item, merge_key), item))
            .collect()
    };
    let mut left = rank(left).into_iter().peekable();
    let mut right = rank(right).into_iter().peekable();
    let mut merged = Vec::with_capacity(left.len() + right.len());
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((l, _)), Some((r, _))) => matches!((l, r), (Some(l), Some(r)) if l < r),
        };
        let next = if take_left { left.next() } else { right.next() };
        merged.extend(next.map(|(_, item)| item));
    }
    merged
}

/// Where `item` sits in `list`: by merge-key value for objects, by value for scalars.
fn position(list: &[&Value], item: &Value, merge_key: Option<&str>) -> Option<usize> {
    let wanted = identity(item, merge_key);
    list.iter()
        .position(|v| match (identity(v, merge_key), wanted) {
            (Some(a), Some(b)) => json_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        })
}

/// What ordering compares: the merge-key value of an object, or a scalar itself.
fn identity<'v>(item: &'v Value, merge_key: Option<&str>) -> Option<&'v Value> {
    match merge_key {
        None => Some(item),
        Some(key) => item.get(key),
    }
}

/// Go's `sort.SliceStable` (insertion-sorted blocks of 20, then SymMerge), step for step, so an
/// inconsistent comparator orders exactly as apimachinery does (and never panics).
fn go_stable_sort<T>(data: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let n = data.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(data, a, b, &less);
        a = b;
        b += block;
    }
    insertion_sort(data, a, n, &less);
    while block < n {
        a = 0;
        b = 2 * block;
        while b <= n {
            sym_merge(data, a, a + block, b, &less);
            a = b;
            b += 2 * block;
        }
        if a + block < n {
            sym_merge(data, a, a + block, n, &less);
        }
        block *= 2;
    }
}

fn insertion_sort<T>(data: &mut [T], a: usize, b: usize, less: &impl Fn(&T, &T) -> bool) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&data[j], &data[j - 1]) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sym_merge<T>(data: &mut [T], a: usize, m: usize, b: usize, less: &impl Fn(&T, &T) -> bool) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if less(&data[h], &data[a]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for k in a..i - 1 {
            data.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !less(&data[m], &data[h]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            data.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !less(&data[p - c], &data[c]) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(data, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(data, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(data, mid, end, b, less);
    }
}

fn rotate<T>(data: &mut [T], a: usize, m: usize, b: usize) {
    let (mut i, mut j) = (m - a, b - m);
    while i != j {
        if i > j {
            swap_range(data, m - i, m, j);
            i -= j;
        } else {
            swap_range(data, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(data, m - i, m, i);
}

fn swap_range<T>(data: &mut [T], a: usize, b: usize, n: usize) {
    for k in 0..n {
        data.swap(a + k, b + k);
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

/// Whether the elements of both lists are objects; mixed element types and nested lists are
/// rejected like apimachinery's sliceElementType. Nulls are ignored.
fn elements_are_objects(original: &[Value], patch: &[Value]) -> Result<bool, PatchError> {
    let mut first: Option<&Value> = None;
    for value in original.iter().chain(patch) {
        match value {
            Value::Null => continue,
            Value::Array(_) => return Err(invalid(ERR_NO_LIST_OF_LISTS)),
            _ => {}
        }
        match first {
            None => first = Some(value),
            Some(prev) if mem::discriminant(prev) != mem::discriminant(value) => {
                return Err(invalid(format!(
                    "list element types are not identical: [{} {}]",
                    go_fmt_list(original),
                    go_fmt_list(patch)
                )));
            }
            Some(_) => {}
        }
    }
    Ok(first.is_some_and(Value::is_object))
}

fn require_merge_key<'v>(item: &'v Value, key: &str) -> Result<&'v Object, PatchError> {
    match item {
        Value::Object(fields) if fields.contains_key(key) => Ok(fields),
        Value::Object(_) => Err(no_merge_key(item, key)),
        _ => Err(bad_arg_type(GO_MAP, item)),
    }
}

fn directive_of(item: &Value) -> Option<&str> {
    item.get(DIRECTIVE).and_then(Value::as_str)
}

/// A patch value taken as is: directives and null fields dropped, like decoding into the type.
fn clean(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(key, v)| !key.starts_with('$') && !v.is_null())
                .map(|(key, v)| (key.clone(), clean(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(clean).collect()),
        scalar => scalar.clone(),
    }
}

/// Remove `key`, keeping the order of the others (`Map::remove` swaps under `preserve_order`).
fn remove_key(map: &mut Object, key: &str) {
    if map.contains_key(key) {
        map.retain(|k, _| k != key);
    }
}

/// JSON equality with numbers compared by value, as Go compares decoded `float64`s.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn invalid(message: impl Into<String>) -> PatchError {
    PatchError::Invalid(message.into())
}

fn bad_patch_type(directive: &Value, map: &Object) -> PatchError {
    invalid(format!(
        "unknown patch type: {} in map: {}",
        go_fmt(directive),
        go_fmt_map(map)
    ))
}

fn no_merge_key(map: &Value, key: &str) -> PatchError {
    invalid(format!(
        "map: {} does not contain declared merge key: {key}",
        go_fmt(map)
    ))
}

fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    let actual = match actual {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => GO_MAP,
    };
    invalid(format!("expected a {expected}, but received a {actual}"))
}

/// A value as Go's `%v` prints a decoded JSON value (for error messages).
fn go_fmt(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), go_float),
        Value::String(s) => s.clone(),
        Value::Array(items) => go_fmt_list(items),
        Value::Object(fields) => go_fmt_map(fields),
    }
}

fn go_fmt_list(items: &[Value]) -> String {
    let items: Vec<String> = items.iter().map(go_fmt).collect();
    format!("[{}]", items.join(" "))
}

fn go_fmt_map(fields: &Object) -> String {
    let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let entries: Vec<String> = entries
        .into_iter()
        .map(|(k, v)| format!("{k}:{}", go_fmt(v)))
        .collect();
    format!("map[{}]", entries.join(" "))
}

/// Go's `%v` for a float64: shortest digits, exponent form outside 1e-4 <= |f| < 1e6 ("1e+06").
fn go_float(f: f64) -> String {
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if f == 0.0 || (-4..6).contains(&exponent) {
        return f.to_string();
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Case {
        name: &'static str,
        kind: &'static str,
        original: Value,
        patch: Value,
        expected: Value,
    }

    fn case(
        name: &'static str,
        kind: &'static str,
        original: Value,
        patch: Value,
        expected: Value,
    ) -> Case {
        Case {
            name,
            kind,
            original,
            patch,
            expected,
        }
    }

    fn run(cases: Vec<Case>) {
        for c in cases {
            let got = strategic_merge(c.kind, &c.original, &c.patch)
                .unwrap_or_else(|e| panic!("{}: unexpected error: {e}", c.name));
            assert_eq!(
                got,
                c.expected,
                "{}:\n got {}\nwant {}",
                c.name,
                serde_json::to_string_pretty(&got).unwrap(),
                serde_json::to_string_pretty(&c.expected).unwrap()
            );
            assert_no_directives(&got, c.name);
        }
    }

    fn assert_no_directives(value: &Value, name: &str) {
        match value {
            Value::Object(fields) => {
                for (key, v) in fields {
                    assert!(
                        !key.starts_with('$'),
                        "{name}: directive {key} left in output"
                    );
                    assert_no_directives(v, name);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| assert_no_directives(v, name)),
            _ => {}
        }
    }

    /// The names (merge keys) of a list, to compare orders.
    fn names(list: &Value, key: &str) -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| match v {
                Value::Object(_) => v[key].as_str().unwrap().to_owned(),
                other => other.as_str().unwrap().to_owned(),
            })
            .collect()
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "nginx", "namespace": "default", "uid": "u-1"},
               "spec": spec})
    }

    fn pod_containers(containers: Value) -> Value {
        pod(json!({"containers": containers}))
    }

    fn rs(template_spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": template_spec}}})
    }

    #[test]
    fn maps_merge_and_map_directives() {
        run(vec![
            case(
                "adds and changes fields, merging nested maps",
                "Pod",
                json!({"metadata": {"name": "p", "labels": {"a": "1"}},
                       "spec": {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}),
                json!({"metadata": {"labels": {"b": "2"}}, "spec": {"restartPolicy": "Never"}}),
                json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
                       "spec": {"restartPolicy": "Never", "dnsPolicy": "ClusterFirst"}}),
            ),
            case(
                "null deletes a label",
                "Pod",
                json!({"metadata": {"name": "p", "labels": {"tier": "fe", "app": "web"}}}),
                json!({"metadata": {"labels": {"tier": null}}}),
                json!({"metadata": {"name": "p", "labels": {"app": "web"}}}),
            ),
            case(
                "null for a missing key changes nothing",
                "Pod",
                json!({"metadata": {"name": "p"}}),
                json!({"metadata": {"labels": {"tier": null}, "annotations": null}}),
                json!({"metadata": {"name": "p", "labels": {}}}),
            ),
            case(
                "a new map drops its nulls",
                "Pod",
                json!({"spec": {}}),
                json!({"spec": {"securityContext": {"runAsUser": 1000, "runAsGroup": null}}}),
                json!({"spec": {"securityContext": {"runAsUser": 1000}}}),
            ),
            case(
                "$patch: replace replaces the map",
                "Pod",
                json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}}}),
                json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
                json!({"metadata": {"name": "p", "labels": {"c": "3"}}}),
            ),
            case(
                "$patch: delete removes the map",
                "Pod",
                json!({"spec": {"affinity": {"nodeAffinity": {}}, "hostname": "h"}}),
                json!({"spec": {"affinity": {"$patch": "delete"}}}),
                json!({"spec": {"hostname": "h"}}),
            ),
            case(
                "$patch: replace on the whole object",
                "Event",
                json!({"metadata": {"name": "e"}, "count": 1, "reason": "Pulled"}),
                json!({"$patch": "replace", "metadata": {"name": "e"}, "count": 2}),
                json!({"metadata": {"name": "e"}, "count": 2}),
            ),
            case(
                "nodeSelector is replaced whole",
                "Pod",
                json!({"spec": {"nodeSelector": {"disk": "ssd", "zone": "a"}}}),
                json!({"spec": {"nodeSelector": {"zone": "b", "disk": null}}}),
                json!({"spec": {"nodeSelector": {"zone": "b"}}}),
            ),
            case(
                "type change takes the patch value",
                "Event",
                json!({"metadata": {"name": "e"}, "series": "x", "count": {"a": 1}}),
                json!({"series": {"count": 2}, "count": 3}),
                json!({"metadata": {"name": "e"}, "series": {"count": 2}, "count": 3}),
            ),
            case(
                "cordon and uncordon a node",
                "Node",
                json!({"metadata": {"name": "node-1"}, "spec": {"unschedulable": true,
                       "podCIDRs": ["10.0.0.0/24"]}}),
                json!({"spec": {"unschedulable": null}}),
                json!({"metadata": {"name": "node-1"}, "spec": {"podCIDRs": ["10.0.0.0/24"]}}),
            ),
        ]);
    }

    #[test]
    fn list_strategies() {
        run(vec![
            case(
                "tolerations are replaced",
                "Pod",
                pod(json!({"tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                     "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                     "effect": "NoExecute", "tolerationSeconds": 300}]})),
                json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Equal",
                                                 "value": "gpu", "effect": null}]}}),
                pod(
                    json!({"tolerations": [{"key": "dedicated", "operator": "Equal",
                                            "value": "gpu"}]}),
                ),
            ),
            case(
                "command is replaced",
                "Pod",
                pod_containers(json!([{"name": "c", "command": ["sh", "-c", "a"]}])),
                json!({"spec": {"containers": [{"name": "c", "command": ["b"]}]}}),
                pod_containers(json!([{"name": "c", "command": ["b"]}])),
            ),
            case(
                "node taints are replaced, podCIDRs merged as a set",
                "Node",
                json!({"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}],
                                "podCIDRs": ["10.0.0.0/24"]}}),
                json!({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}],
                                "podCIDRs": ["fd00::/64"]}}),
                json!({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}],
                                "podCIDRs": ["fd00::/64", "10.0.0.0/24"]}}),
            ),
            case(
                "node status addresses and conditions merge by type",
                "Node",
                json!({"status": {
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                                  {"type": "Hostname", "address": "node-1"}],
                    "conditions": [{"type": "MemoryPressure", "status": "False"},
                                   {"type": "Ready", "status": "False", "reason": "Starting"}]}}),
                json!({"status": {
                    "$setElementOrder/conditions": [{"type": "MemoryPressure"}, {"type": "Ready"}],
                    "conditions": [{"type": "Ready", "status": "True",
                                    "reason": "KubeletReady"}],
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}}),
                json!({"status": {
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.2"},
                                  {"type": "Hostname", "address": "node-1"}],
                    "conditions": [{"type": "MemoryPressure", "status": "False"},
                                   {"type": "Ready", "status": "True",
                                    "reason": "KubeletReady"}]}}),
            ),
            case(
                "pod status conditions merge by type, podIPs by ip, containerStatuses replace",
                "Pod",
                json!({"status": {
                    "conditions": [{"type": "PodScheduled", "status": "True"}],
                    "podIPs": [{"ip": "10.1.0.5"}],
                    "containerStatuses": [{"name": "a", "ready": false},
                                          {"name": "b", "ready": false}]}}),
                json!({"status": {
                    "conditions": [{"type": "PodScheduled", "status": "True"},
                                   {"type": "Ready", "status": "True"}],
                    "podIPs": [{"ip": "fd00::5"}],
                    "containerStatuses": [{"name": "a", "ready": true}]}}),
                json!({"status": {
                    "conditions": [{"type": "PodScheduled", "status": "True"},
                                   {"type": "Ready", "status": "True"}],
                    "podIPs": [{"ip": "fd00::5"}, {"ip": "10.1.0.5"}],
                    "containerStatuses": [{"name": "a", "ready": true}]}}),
            ),
            case(
                "namespace and replicaset conditions merge by type",
                "Namespace",
                json!({"status": {"phase": "Active",
                       "conditions": [{"type": "A", "status": "True"}]}}),
                json!({"status": {"$setElementOrder/conditions": [{"type": "A"}, {"type": "B"}],
                       "conditions": [{"type": "B", "status": "False"}]}}),
                json!({"status": {"phase": "Active",
                       "conditions": [{"type": "A", "status": "True"},
                                      {"type": "B", "status": "False"}]}}),
            ),
            case(
                "ownerReferences merge by uid",
                "ReplicaSet",
                json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a", "kind": "D"}]}}),
                json!({"metadata": {"ownerReferences": [{"uid": "1", "controller": true}]}}),
                json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a", "kind": "D",
                                                          "controller": true}]}}),
            ),
            case(
                "managedFields are replaced",
                "Pod",
                json!({"metadata": {"managedFields": [{"manager": "a"}, {"manager": "b"}]}}),
                json!({"metadata": {"managedFields": [{"manager": "c"}]}}),
                json!({"metadata": {"managedFields": [{"manager": "c"}]}}),
            ),
            case(
                "event maps merge, finalizers merge as a set",
                "Event",
                json!({"metadata": {"name": "e", "finalizers": ["x"]}, "count": 1,
                       "involvedObject": {"kind": "Pod", "name": "p"}}),
                json!({"count": 2, "involvedObject": {"uid": "u"},
                       "metadata": {"finalizers": ["y"]}}),
                json!({"metadata": {"name": "e", "finalizers": ["y", "x"]}, "count": 2,
                       "involvedObject": {"kind": "Pod", "name": "p", "uid": "u"}}),
            ),
        ]);
    }

    #[test]
    fn merge_list_elements() {
        let nginx = json!({"name": "nginx", "image": "nginx:1.27",
                           "terminationMessagePath": "/dev/termination-log"});
        run(vec![
            case(
                "nested container merge in a ReplicaSet template",
                "ReplicaSet",
                rs(json!({"containers": [
                    {"name": "nginx", "image": "nginx:1.27",
                     "env": [{"name": "A", "value": "1"}],
                     "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                    {"name": "side", "image": "busybox"}]})),
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "nginx", "env": [{"name": "A", "value": "2"}],
                     "ports": [{"containerPort": 80, "name": "http"}]}]}}}}),
                rs(json!({"containers": [
                    {"name": "nginx", "image": "nginx:1.27",
                     "env": [{"name": "A", "value": "2"}],
                     "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]},
                    {"name": "side", "image": "busybox"}]})),
            ),
            case(
                "kubectl set image (§8.3)",
                "ReplicaSet",
                rs(json!({"containers": [nginx.clone(), {"name": "side", "image": "busybox"}]})),
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "side"}],
                    "containers": [{"image": "nginx:2", "name": "nginx"}]}}}}),
                rs(json!({"containers": [
                    {"name": "nginx", "image": "nginx:2",
                     "terminationMessagePath": "/dev/termination-log"},
                    {"name": "side", "image": "busybox"}]})),
            ),
            case(
                "kubectl apply appends a new container (its $setElementOrder puts it last)",
                "Pod",
                pod_containers(json!([nginx.clone()])),
                json!({"spec": {"$setElementOrder/containers": [{"name": "nginx"},
                                                                {"name": "side"}],
                                "containers": [{"name": "side", "image": "busybox"}]}}),
                pod_containers(json!([nginx.clone(), {"name": "side", "image": "busybox"}])),
            ),
            case(
                "without $setElementOrder a new element goes first (apimachinery, k8s docs)",
                "Pod",
                pod_containers(json!([nginx.clone()])),
                json!({"spec": {"containers": [{"name": "side", "image": "busybox"}]}}),
                pod_containers(json!([{"name": "side", "image": "busybox"}, nginx.clone()])),
            ),
            case(
                "new elements keep their directives out",
                "Pod",
                pod(json!({})),
                json!({"spec": {"containers": [
                    {"name": "a", "env": [{"name": "X", "value": "1"},
                                          {"$patch": "delete", "name": "Y"}],
                     "$setElementOrder/env": [{"name": "X"}]},
                    {"$patch": "delete", "name": "gone"}]}}),
                pod(json!({"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]})),
            ),
            case(
                "$patch: delete removes an element",
                "Pod",
                pod(json!({"imagePullSecrets": [{"name": "a"}, {"name": "b"}]})),
                json!({"spec": {"imagePullSecrets": [{"$patch": "delete", "name": "a"}]}}),
                pod(json!({"imagePullSecrets": [{"name": "b"}]})),
            ),
            case(
                "$patch: delete removes every duplicate",
                "Pod",
                pod(json!({"hostAliases": [{"ip": "1"}, {"ip": "1"},
                                           {"ip": "2", "hostnames": ["a"]}, {"ip": "3"}]})),
                json!({"spec": {"hostAliases": [{"ip": "1", "$patch": "delete"},
                                                {"ip": "3", "$patch": "delete"}]}}),
                pod(json!({"hostAliases": [{"ip": "2", "hostnames": ["a"]}]})),
            ),
            case(
                "a $patch: replace element replaces the list",
                "Pod",
                pod(json!({"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b"}]})),
                json!({"spec": {"volumes": [{"name": "c", "emptyDir": {"medium": "Memory"}},
                                            {"$patch": "replace"}]}}),
                pod(json!({"volumes": [{"name": "c", "emptyDir": {"medium": "Memory"}}]})),
            ),
            case(
                "a lone $patch: replace element empties the list",
                "Pod",
                pod(json!({"schedulingGates": [{"name": "a"}, {"name": "b"}]})),
                json!({"spec": {"schedulingGates": [{"$patch": "replace"}]}}),
                pod(json!({"schedulingGates": []})),
            ),
            case(
                "ports merge by containerPort, numerically",
                "Pod",
                pod_containers(json!([{"name": "c", "ports": [{"containerPort": 80}]}])),
                json!({"spec": {"containers": [{"name": "c",
                                                "ports": [{"containerPort": 80.0,
                                                           "name": "http"}]}]}}),
                pod_containers(json!([{"name": "c", "ports": [{"containerPort": 80.0,
                                                              "name": "http"}]}])),
            ),
            case(
                "volumeMounts, volumeDevices, topologySpreadConstraints, resourceClaims",
                "Pod",
                pod(json!({
                    "containers": [{"name": "c",
                        "volumeMounts": [{"mountPath": "/a", "name": "v"}],
                        "volumeDevices": [{"devicePath": "/dev/x", "name": "d"}],
                        "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]}],
                    "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 1,
                                                   "matchLabelKeys": ["a"]}],
                    "resourceClaims": [{"name": "gpu", "resourceClaimName": "x"}]})),
                json!({"spec": {
                    "containers": [{"name": "c",
                        "volumeMounts": [{"mountPath": "/a", "readOnly": true}],
                        "volumeDevices": [{"devicePath": "/dev/y", "name": "e"}],
                        "resizePolicy": [{"resourceName": "memory",
                                          "restartPolicy": "RestartContainer"}]}],
                    "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2,
                                                   "matchLabelKeys": ["b"]}],
                    "resourceClaims": [{"$retainKeys": ["name", "resourceClaimTemplateName"],
                                        "name": "gpu", "resourceClaimName": null,
                                        "resourceClaimTemplateName": "t"}]}}),
                pod(json!({
                    "containers": [{"name": "c",
                        "volumeMounts": [{"mountPath": "/a", "name": "v", "readOnly": true}],
                        "volumeDevices": [{"devicePath": "/dev/y", "name": "e"},
                                          {"devicePath": "/dev/x", "name": "d"}],
                        "resizePolicy": [{"resourceName": "memory",
                                          "restartPolicy": "RestartContainer"}]}],
                    "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2,
                                                   "matchLabelKeys": ["b"]}],
                    "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "t"}]})),
            ),
        ]);
    }

    /// The three real client-side-apply patches of kubectl-wire.md §8.1, in sequence on a live
    /// ReplicaSet carrying server-set fields the patches never mention.
    #[test]
    fn kubectl_apply_patches() {
        let live = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web", "namespace": "default", "uid": "u-1",
                         "resourceVersion": "41", "generation": 1,
                         "labels": {"app": "web"},
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                         "containers": [
                             {"name": "nginx", "image": "nginx:1.27",
                              "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                              "ports": [{"containerPort": 80, "protocol": "TCP"}],
                              "resources": {},
                              "terminationMessagePath": "/dev/termination-log",
                              "imagePullPolicy": "IfNotPresent"},
                             {"name": "side", "image": "busybox", "command": ["sleep", "3600"]}],
                         "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}},
            "status": {"replicas": 2, "observedGeneration": 1}
        });
        let first = json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "v2"}},
            "spec": {"replicas": 3, "template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}, {"name": "side"}],
                "containers": [{"$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                                "env": [{"name": "B", "value": "22"}], "name": "nginx"}]}}}});
        let after_first = strategic_merge("ReplicaSet", &live, &first).unwrap();
        let mut expected = live.clone();
        expected["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
            json!("v2");
        expected["spec"]["replicas"] = json!(3);
        expected["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "22"}]);
        assert_eq!(after_first, expected, "first patch: change env B");

        let second = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [{"$setElementOrder/env": [{"name": "B"}],
                            "$setElementOrder/ports": [{"containerPort": 8080}],
                            "env": [{"$patch": "delete", "name": "A"}],
                            "image": "nginx:1.28", "name": "nginx",
                            "ports": [{"containerPort": 8080},
                                      {"$patch": "delete", "containerPort": 80}]},
                           {"$patch": "delete", "name": "side"}]}}}});
        let after_second = strategic_merge("ReplicaSet", &after_first, &second).unwrap();
        expected["spec"]["template"]["spec"]["containers"] = json!([
            {"name": "nginx", "image": "nginx:1.28",
             "env": [{"name": "B", "value": "22"}],
             "ports": [{"containerPort": 8080}],
             "resources": {},
             "terminationMessagePath": "/dev/termination-log",
             "imagePullPolicy": "IfNotPresent"}]);
        assert_eq!(
            after_second, expected,
            "second patch: drop env A, port 80, side"
        );
        assert_no_directives(&after_second, "second patch");

        let with_finalizers = {
            let mut v = after_second.clone();
            v["metadata"]["finalizers"] = json!(["a/b", "c/d"]);
            v["spec"]["template"]["spec"]["volumes"] =
                json!([{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}]);
            v
        };
        let third = json!({
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["c/d"],
                         "$setElementOrder/finalizers": ["a/b"]},
            "spec": {"template": {"spec": {"$setElementOrder/volumes": [{"name": "data"}],
                "volumes": [{"$retainKeys": ["hostPath", "name"], "emptyDir": null,
                             "hostPath": {"path": "/tmp"}, "name": "data"}]}}}});
        let after_third = strategic_merge("ReplicaSet", &with_finalizers, &third).unwrap();
        expected["metadata"]["finalizers"] = json!(["a/b"]);
        expected["spec"]["template"]["spec"]["volumes"] =
            json!([{"name": "data", "hostPath": {"path": "/tmp"}}]);
        assert_eq!(
            after_third, expected,
            "third patch: finalizer and volume source"
        );
        assert_no_directives(&after_third, "third patch");
    }

    #[test]
    fn kubectl_edit_patch_replaces_container_statuses() {
        run(vec![case(
            "kubectl edit pod (§8.1 capture)",
            "Pod",
            json!({"spec": {"containers": [{"name": "nginx", "image": "nginx:1.29"}]},
                   "status": {"containerStatuses": [{"name": "nginx", "image": "nginx:1.29",
                                                     "ready": true, "restartCount": 0}]}}),
            json!({"spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                            "containers": [{"image": "nginx:1.30", "name": "nginx"}]},
                   "status": {"containerStatuses": [{"containerID": "containerd://abc",
                       "image": "nginx:1.30", "imageID": "", "name": "nginx", "ready": true,
                       "restartCount": 0, "started": true,
                       "state": {"running": {"startedAt": "2026-11-27T23:35:43Z"}}}]}}),
            json!({"spec": {"containers": [{"name": "nginx", "image": "nginx:1.30"}]},
                   "status": {"containerStatuses": [{"containerID": "containerd://abc",
                       "image": "nginx:1.30", "imageID": "", "name": "nginx", "ready": true,
                       "restartCount": 0, "started": true,
                       "state": {"running": {"startedAt": "2026-11-27T23:35:43Z"}}}]}}),
        )]);
    }

    /// Ordering vectors from apimachinery's patch_test.go (current + three-way patch => result),
    /// with `mergingList` as Pod containers and `mergingIntList` as finalizers.
    #[test]
    fn element_order_matches_apimachinery() {
        let c = |name: &str| json!({"name": name});
        let cv = |name: &str, value: &str| json!({"name": name, "image": value});
        let cases: Vec<(&str, Value, Value, Vec<&str>)> = vec![
            (
                "preserve the order from the patch in a merging list",
                json!([c("1"), cv("2", "b"), c("3")]),
                json!([cv("3", "c"), cv("1", "a"), {"name": "2", "command": ["x"]}]),
                vec!["3", "1", "2"],
            ),
            (
                "preserve the order from the patch in a merging list 2",
                json!([c("1"), cv("2", "b"), c("3")]),
                json!([cv("3", "c"), cv("1", "a")]),
                vec!["2", "3", "1"],
            ),
            (
                "merge lists of maps",
                json!([c("1"), cv("2", "2")]),
                json!({"$setElementOrder": [c("4"), c("1"), c("2"), c("3")],
                       "list": [cv("4", "4"), cv("3", "3")]}),
                vec!["4", "1", "2", "3"],
            ),
            (
                "add field to map in merging list with conflict (server-only 3 stays last)",
                json!([c("1"), cv("3", "2")]),
                json!({"$setElementOrder": [c("1"), c("2")],
                       "list": [cv("1", "1"), cv("2", "2")]}),
                vec!["1", "2", "3"],
            ),
            (
                "delete missing map from merging list with conflict",
                json!([c("3")]),
                json!({"$setElementOrder": [c("2")],
                       "list": [c("2"), {"name": "1", "$patch": "delete"}]}),
                vec!["2", "3"],
            ),
            (
                "add map and delete map from merging list (server-only 4 keeps its place)",
                json!([c("1"), cv("2", "b"), cv("4", "c")]),
                json!({"$setElementOrder": [c("2"), c("3")],
                       "list": [c("3"), {"name": "1", "$patch": "delete"}]}),
                vec!["2", "4", "3"],
            ),
            (
                "add map and delete map from merging list with conflict",
                json!([c("1"), cv("4", "c")]),
                json!({"$setElementOrder": [c("2"), c("3")],
                       "list": [c("2"), c("3"), {"name": "1", "$patch": "delete"}]}),
                vec!["4", "2", "3"],
            ),
            (
                "$setElementOrder names an item missing from the list",
                json!([c("1"), c("3")]),
                json!({"$setElementOrder": [c("3"), c("2"), c("1")],
                       "list": [cv("3", "3"), cv("1", "1")]}),
                vec!["3", "1"],
            ),
            (
                "server-only items keep their relative positions",
                json!([c("s1"), c("a"), c("s2"), c("b"), c("s3")]),
                json!({"$setElementOrder": [c("b"), c("a")], "list": [cv("a", "x")]}),
                vec!["s1", "s2", "b", "a", "s3"],
            ),
        ];
        for (name, live, patch, want) in cases {
            let patch = match patch {
                Value::Object(p) => json!({"spec": {
                    "$setElementOrder/containers": p["$setElementOrder"],
                    "containers": p["list"]}}),
                list => json!({"spec": {"containers": list}}),
            };
            let got = strategic_merge("Pod", &pod_containers(live), &patch)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(names(&got["spec"]["containers"], "name"), want, "{name}");
            assert_no_directives(&got, name);
        }

        let meta = |finalizers: Value| json!({"metadata": {"finalizers": finalizers}});
        let scalar_cases: Vec<(&str, Value, Value, Vec<&str>)> = vec![
            (
                "unique scalars when merging lists",
                json!(["1", "2"]),
                json!({"finalizers": ["2", "3"]}),
                vec!["1", "2", "3"],
            ),
            (
                "preserve the order from the patch in a merging int list",
                json!(["1", "2", "3"]),
                json!({"finalizers": ["3", "1"]}),
                vec!["2", "3", "1"],
            ),
            (
                "a new finalizer lands before server-only ones it was not ordered against",
                json!(["a", "b"]),
                json!({"finalizers": ["a", "c"]}),
                vec!["a", "c", "b"],
            ),
            (
                "delete items in lists of scalars",
                json!(["1", "2", "3", "4"]),
                json!({"$setElementOrder/finalizers": ["1", "2"],
                       "$deleteFromPrimitiveList/finalizers": ["3"]}),
                vec!["1", "2", "4"],
            ),
            (
                "delete all duplicate items in lists of scalars",
                json!(["1", "2", "3", "3", "4"]),
                json!({"$setElementOrder/finalizers": ["1", "2"],
                       "$deleteFromPrimitiveList/finalizers": ["3"]}),
                vec!["1", "2", "4"],
            ),
            (
                "add and delete items in lists of scalars",
                json!(["1", "2", "3"]),
                json!({"$setElementOrder/finalizers": ["1", "2", "4"],
                       "$deleteFromPrimitiveList/finalizers": ["3"],
                       "finalizers": ["4"]}),
                vec!["1", "2", "4"],
            ),
            (
                "$setElementOrder names a scalar missing from the list",
                json!(["1", "3"]),
                json!({"$setElementOrder/finalizers": ["3", "2", "1"]}),
                vec!["3", "1"],
            ),
            (
                "deleting a value that is not there",
                json!(["1", "2"]),
                json!({"$deleteFromPrimitiveList/finalizers": ["3"]}),
                vec!["1", "2"],
            ),
        ];
        for (name, live, patch, want) in scalar_cases {
            let got = strategic_merge("Pod", &meta(live), &json!({"metadata": patch}))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(names(&got["metadata"]["finalizers"], ""), want, "{name}");
            assert_no_directives(&got, name);
        }
    }

    #[test]
    fn delete_from_a_missing_primitive_list_adds_nothing() {
        run(vec![case(
            "no finalizers",
            "Pod",
            json!({"metadata": {"name": "p"}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}),
            json!({"metadata": {"name": "p"}}),
        )]);
    }

    /// More than 20 items exercises the SymMerge half of Go's stable sort.
    #[test]
    fn set_element_order_on_long_lists() {
        let live: Vec<Value> = (0..45)
            .map(|i| json!({"name": format!("E{i:02}"), "value": "v"}))
            .collect();
        let order: Vec<Value> = (0..45)
            .rev()
            .filter(|i| i % 3 != 0)
            .map(|i| json!({"name": format!("E{i:02}")}))
            .collect();
        let patch = json!({"spec": {"containers": [{"name": "c",
            "$setElementOrder/env": order,
            "env": [{"name": "E44", "value": "w"}, {"name": "E01", "value": "w"}]}]}});
        let got = strategic_merge(
            "Pod",
            &pod_containers(json!([{"name": "c", "env": live}])),
            &patch,
        )
        .unwrap();
        let got = names(&got["spec"]["containers"][0]["env"], "name");
        // Patch items follow the requested (reversed) order; each server-only item (multiples
        // of 3) is emitted as soon as it precedes, in the live order, the next patch item.
        let mut want: Vec<String> = Vec::new();
        let mut server_only: Vec<usize> = (0..45).filter(|i| i % 3 == 0).collect();
        for i in (0..45).rev().filter(|i| i % 3 != 0) {
            while let Some(&s) = server_only.first().filter(|&&s| s < i) {
                want.push(format!("E{s:02}"));
                server_only.remove(0);
            }
            want.push(format!("E{i:02}"));
        }
        want.extend(server_only.iter().map(|s| format!("E{s:02}")));
        assert_eq!(got, want);
    }

    #[test]
    fn go_stable_sort_is_stable_and_sorted() {
        for n in [0, 1, 5, 20, 21, 39, 40, 41, 97, 200] {
            let mut items: Vec<(u32, usize)> =
                (0..n).map(|i| (((i * 7919) % 13) as u32, i)).collect();
            let mut want = items.clone();
            want.sort_by_key(|item| item.0);
            go_stable_sort(&mut items, |a, b| a.0 < b.0);
            assert_eq!(items, want, "n = {n}");
        }
    }

    #[test]
    fn errors() {
        let cases: Vec<(&str, Value, Value, &str)> = vec![
            (
                "unknown $patch in a map",
                json!({"metadata": {"labels": {"a": "1"}}}),
                json!({"metadata": {"labels": {"$patch": "foo"}}}),
                "unknown patch type: foo in map: map[$patch:foo]",
            ),
            (
                "unknown $patch in a list element",
                pod_containers(json!([{"name": "nginx"}])),
                json!({"spec": {"containers": [{"$patch": "bar", "name": "nginx"}]}}),
                "unknown patch type: bar in map: map[$patch:bar name:nginx]",
            ),
            (
                "$patch: merge in a list",
                pod_containers(json!([{"name": "nginx"}])),
                json!({"spec": {"containers": [{"$patch": "merge", "name": "nginx"}]}}),
                "merging lists cannot yet be specified in the patch",
            ),
            (
                "missing merge key",
                pod_containers(json!([{"name": "nginx"}])),
                json!({"spec": {"containers": [{"image": "httpd"}]}}),
                "map: map[image:httpd] does not contain declared merge key: name",
            ),
            (
                "delete element without merge key",
                pod_containers(json!([{"name": "nginx"}])),
                json!({"spec": {"containers": [{"$patch": "delete"}]}}),
                "map: map[$patch:delete] does not contain declared merge key: name",
            ),
            (
                "order in patch list and $setElementOrder differ",
                pod_containers(json!([{"name": "1"}, {"name": "3"}, {"name": "2"}])),
                json!({"spec": {"$setElementOrder/containers": [{"name": "1"}, {"name": "2"},
                                                                {"name": "3"}],
                                "containers": [{"name": "3", "image": "x"},
                                               {"name": "1", "image": "y"}]}}),
                "doesn't match $setElementOrder list",
            ),
            (
                "scalar order in patch list and $setElementOrder differ",
                json!({"metadata": {"finalizers": ["1", "3", "2"]}}),
                json!({"metadata": {"$setElementOrder/finalizers": ["1", "2", "3"],
                                    "finalizers": ["3", "1"]}}),
                "doesn't match $setElementOrder list",
            ),
            (
                "$setElementOrder is not a list",
                pod_containers(json!([{"name": "1"}])),
                json!({"spec": {"$setElementOrder/containers": {"name": "1"}}}),
                "invalid patch format of setElementOrder list",
            ),
            (
                "$setElementOrder without a field",
                pod_containers(json!([{"name": "1"}])),
                json!({"spec": {"$setElementOrderContainers": []}}),
                "invalid patch format of setElementOrder list",
            ),
            (
                "$setElementOrder item without merge key",
                pod_containers(json!([{"name": "1"}])),
                json!({"spec": {"$setElementOrder/containers": [{"image": "x"}]}}),
                "does not contain declared merge key: name",
            ),
            (
                "$deleteFromPrimitiveList is not a list",
                json!({"metadata": {"finalizers": ["a"]}}),
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
                "invalid patch format of primitive list",
            ),
            (
                "$retainKeys is not a list",
                pod(json!({"volumes": [{"name": "v"}]})),
                json!({"spec": {"volumes": [{"name": "v", "$retainKeys": "name"}]}}),
                "invalid patch format of retainKeys",
            ),
            (
                "$retainKeys does not name a patched key",
                pod(json!({"volumes": [{"name": "v", "emptyDir": {}}]})),
                json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name"],
                                             "hostPath": {"path": "/"}}]}}),
                "patch content doesn't match retainKeys list",
            ),
            (
                "lists of lists",
                json!({"metadata": {"finalizers": ["a"]}}),
                json!({"metadata": {"finalizers": [["b"]]}}),
                "lists of lists are not supported",
            ),
            (
                "mixed element types",
                json!({"metadata": {"finalizers": ["a"]}}),
                json!({"metadata": {"finalizers": [{"b": 1}]}}),
                "list element types are not identical: [[a] [map[b:1]]]",
            ),
            (
                "scalars in a list merged by key",
                pod(json!({"containers": ["nginx"]})),
                json!({"spec": {"containers": ["side"]}}),
                "expected a map[string]interface {}, but received a string",
            ),
            (
                "a live element that is not an object",
                pod(json!({"containers": [{"name": "a"}, 7]})),
                json!({"spec": {"containers": [{"name": "b"}]}}),
                "list element types are not identical",
            ),
            (
                "patch is not an object",
                json!({}),
                json!([1]),
                "invalid JSON document",
            ),
        ];
        for (name, original, patch, want) in cases {
            let err = strategic_merge("Pod", &original, &patch)
                .expect_err(name)
                .to_string();
            assert!(err.contains(want), "{name}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn field_strategies() {
        use FieldStrategy as FS;
        let cases: Vec<(&str, &[&str], FieldStrategy)> = vec![
            ("Pod", &["spec", "containers"], by("name")),
            ("Pod", &["spec", "initContainers", "env"], by("name")),
            (
                "Pod",
                &["spec", "ephemeralContainers", "volumeMounts"],
                by("mountPath"),
            ),
            ("Pod", &["spec", "containers", "ports"], by("containerPort")),
            (
                "Pod",
                &["spec", "containers", "volumeDevices"],
                by("devicePath"),
            ),
            ("Pod", &["spec", "containers", "resizePolicy"], FS::Replace),
            ("Pod", &["spec", "containers", "command"], FS::Map),
            ("Pod", &["spec", "volumes"], by_retaining("name")),
            ("Pod", &["spec", "resourceClaims"], by_retaining("name")),
            ("Pod", &["spec", "hostAliases"], by("ip")),
            (
                "Pod",
                &["spec", "topologySpreadConstraints"],
                by("topologyKey"),
            ),
            ("Pod", &["spec", "schedulingGates"], by("name")),
            ("Pod", &["spec", "imagePullSecrets"], by("name")),
            ("Pod", &["spec", "tolerations"], FS::Replace),
            ("Pod", &["spec", "nodeSelector"], FS::AtomicMap),
            ("Pod", &["spec", "nodeSelector", "containers"], FS::Map),
            ("Pod", &["status", "conditions"], by("type")),
            ("Pod", &["status", "podIPs"], by("ip")),
            ("Pod", &["status", "containerStatuses"], FS::Replace),
            ("Pod", &["metadata", "finalizers"], FS::MergePrimitives),
            ("Pod", &["metadata", "ownerReferences"], by("uid")),
            ("Pod", &["metadata", "managedFields"], FS::Replace),
            ("Pod", &["metadata", "labels", "finalizers"], FS::Map),
            (
                "ReplicaSet",
                &["spec", "template", "spec", "containers"],
                by("name"),
            ),
            (
                "ReplicaSet",
                &["spec", "template", "spec", "containers", "env"],
                by("name"),
            ),
            (
                "ReplicaSet",
                &["spec", "template", "metadata", "finalizers"],
                FS::MergePrimitives,
            ),
            ("ReplicaSet", &["spec", "containers"], FS::Map),
            ("ReplicaSet", &["status", "conditions"], by("type")),
            ("Node", &["spec", "taints"], FS::Replace),
            ("Node", &["spec", "podCIDRs"], FS::MergePrimitives),
            ("Node", &["status", "addresses"], by("type")),
            ("Node", &["status", "conditions"], by("type")),
            ("Node", &["metadata", "ownerReferences"], by("uid")),
            ("Namespace", &["status", "conditions"], by("type")),
            ("Namespace", &["spec", "finalizers"], FS::Map),
            ("Event", &["metadata", "finalizers"], FS::MergePrimitives),
            ("Event", &["related"], FS::Map),
            ("ServiceAccount", &["secrets"], by("name")),
            ("ServiceAccount", &["imagePullSecrets"], FS::Map),
            ("ConfigMap", &["data"], FS::Map),
            ("Secret", &["data"], FS::Map),
        ];
        for (kind, path, want) in cases {
            assert_eq!(field_strategy(kind, path), want, "{kind} {path:?}");
        }
    }

    #[test]
    fn go_formatting() {
        assert_eq!(go_fmt(&json!(8080)), "8080");
        assert_eq!(go_fmt(&json!(0.5)), "0.5");
        assert_eq!(go_fmt(&json!(1000000)), "1e+06");
        assert_eq!(go_fmt(&json!(1234567)), "1.234567e+06");
        assert_eq!(go_fmt(&json!(0.00001)), "1e-05");
        assert_eq!(go_fmt(&json!(null)), "<nil>");
        assert_eq!(
            go_fmt(&json!({"b": [1, "x"], "a": {"c": true}})),
            "map[a:map[c:true] b:[1 x]]"
        );
    }
}
