"""The official Python client (`kubernetes`) against kubetrail, on a ConfigMap: list, watch
resumed from the list's resourceVersion and again from the last one seen, create, merge /
strategic / JSON patch, server-side apply, delete; each step reads back what it wrote.

Usage: kubernetes_python.py KUBECONFIG NAME   (prints one `ok: STEP` line per step)
"""

import sys

from kubernetes import client, config, watch

kubeconfig, name = sys.argv[1:3]
config.load_kube_config(config_file=kubeconfig)
api = client.CoreV1Api()
ns = "default"


def ok(step):
    print(f"ok: {step}", flush=True)


def events_until(rv, done, timeout=20):
    """Watch the ConfigMap from `rv` until `done(type, cm)`; every (type, cm) on the way."""
    seen = []
    w = watch.Watch()
    for event in w.stream(api.list_namespaced_config_map, ns, resource_version=rv,
                          timeout_seconds=timeout, field_selector=f"metadata.name={name}"):
        seen.append((event["type"], event["object"]))
        if done(event["type"], event["object"]):
            w.stop()
            return seen
    raise AssertionError(f"watch from {rv} ended before its event: {[t for t, _ in seen]}")


listed = api.list_namespaced_config_map(ns)
assert name not in [c.metadata.name for c in listed.items], listed
rv0 = listed.metadata.resource_version
assert rv0, "a list carries a resourceVersion"
ok("list")

body = {
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": name, "labels": {"client": "kubernetes-python"}},
    "data": {"greeting": "hello"},
}
# kubernetes 37 sends a create's JSON body with no Content-Type; an authenticated untyped
# POST is read as JSON, as kube-apiserver reads it.
created = api.create_namespaced_config_map(ns, body)
assert created.metadata.name == name and created.metadata.uid, created
assert created.data == {"greeting": "hello"}, created.data
ok("create")

seen = events_until(rv0, lambda t, c: t == "ADDED")
assert seen[-1][1].data == {"greeting": "hello"}, seen
last_rv = seen[-1][1].metadata.resource_version
ok("watch from the list's resourceVersion")

# Each patch names its type: unnamed, the client picks one from the body's shape.
patched = api.patch_namespaced_config_map(
    name, ns, {"metadata": {"labels": {"merge": "yes"}}, "data": {"extra": "1"}},
    _content_type="application/merge-patch+json")
assert patched.metadata.labels == {"client": "kubernetes-python", "merge": "yes"}, patched.metadata
assert patched.data == {"greeting": "hello", "extra": "1"}, patched.data
ok("merge patch")

# Strategic merge: `$patch: replace` replaces the whole map (a merge patch would take it for
# a key).
patched = api.patch_namespaced_config_map(
    name, ns, {"data": {"$patch": "replace", "greeting": "hi"}},
    _content_type="application/strategic-merge-patch+json")
assert patched.data == {"greeting": "hi"}, patched.data
ok("strategic merge patch")

patched = api.patch_namespaced_config_map(
    name, ns, [{"op": "add", "path": "/metadata/labels/json", "value": "yes"}],
    _content_type="application/json-patch+json")
assert patched.metadata.labels["json"] == "yes", patched.metadata
ok("json patch")

applied = api.patch_namespaced_config_map(
    name, ns,
    {"apiVersion": "v1", "kind": "ConfigMap",
     "metadata": {"name": name, "labels": {"applied": "yes"}}, "data": {"applied": "yes"}},
    field_manager="kubernetes-python", force=True,
    _content_type="application/apply-patch+yaml")
assert applied.metadata.labels["applied"] == "yes", applied.metadata
assert applied.metadata.labels["merge"] == "yes", applied.metadata
assert applied.data == {"greeting": "hi", "applied": "yes"}, applied.data
managers = [m.manager for m in applied.metadata.managed_fields or []]
assert "kubernetes-python" in managers, managers
ok("server-side apply")

# Resume from the last event seen: the patches arrive, oldest first, ending with the apply.
seen = events_until(last_rv, lambda t, c: "applied" in (c.metadata.labels or {}))
assert [t for t, _ in seen] == ["MODIFIED"] * 4, [t for t, _ in seen]
assert [c.data for _, c in seen[:2]] == [{"greeting": "hello", "extra": "1"},
                                         {"greeting": "hi"}], seen
last_rv = seen[-1][1].metadata.resource_version
ok("watch resumed from the last resourceVersion seen")

api.delete_namespaced_config_map(name, ns)
events_until(last_rv, lambda t, c: t == "DELETED")
try:
    api.read_namespaced_config_map(name, ns)
    raise AssertionError("the ConfigMap is still there after its deletion")
except client.exceptions.ApiException as error:
    assert error.status == 404, error
assert name not in [c.metadata.name for c in api.list_namespaced_config_map(ns).items]
ok("delete")
