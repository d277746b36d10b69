"""The official Python client (`kubernetes`) against kubetrail: list, watch resumed from the
list's resourceVersion and again from the last one seen, create, merge / strategic / JSON
patch, server-side apply, delete; each step reads back what it wrote.

Usage: kubernetes_python.py KUBECONFIG NAME   (prints one `ok: STEP` line per step)
"""

import sys
import time

from kubernetes import client, config, watch

kubeconfig, name = sys.argv[1:3]
config.load_kube_config(config_file=kubeconfig)
api = client.CoreV1Api()
ns = "default"


def ok(step):
    print(f"ok: {step}", flush=True)


def events_until(rv, done, timeout=20):
    """Watch pods from `rv` until `done(type, pod)`; every (type, pod) seen on the way."""
    seen = []
    w = watch.Watch()
    for event in w.stream(api.list_namespaced_pod, ns, resource_version=rv,
                          timeout_seconds=timeout, field_selector=f"metadata.name={name}"):
        seen.append((event["type"], event["object"]))
        if done(event["type"], event["object"]):
            w.stop()
            return seen
    raise AssertionError(f"watch from {rv} ended before its event: {[t for t, _ in seen]}")


listed = api.list_namespaced_pod(ns)
assert name not in [p.metadata.name for p in listed.items], listed
rv0 = listed.metadata.resource_version
assert rv0, "a list carries a resourceVersion"
ok("list")

body = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": name, "labels": {"client": "kubernetes-python"}},
    "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1",
                             "ports": [{"containerPort": 3000}]}]},
}
# kubernetes 37 sends a create's JSON body with no Content-Type, which kube-apiserver reads as
# JSON and kubetrail refuses (415: an untyped POST is what a browser page may send unasked);
# the type is named here.
created = api.create_namespaced_pod(ns, body, _headers={"Content-Type": "application/json"})
assert created.metadata.name == name and created.metadata.uid, created
ok("create")

seen = events_until(rv0, lambda t, p: t == "ADDED")
last_rv = seen[-1][1].metadata.resource_version
ok("watch from the list's resourceVersion")

# Each patch names its type: unnamed, the client picks one from the body's shape.
patched = api.patch_namespaced_pod(name, ns, {"metadata": {"labels": {"merge": "yes"}}},
                                   _content_type="application/merge-patch+json")
assert patched.metadata.labels == {"client": "kubernetes-python", "merge": "yes"}, patched.metadata
ok("merge patch")

# Strategic merge: the containers list merges by name, so the port stays.
patched = api.patch_namespaced_pod(
    name, ns, {"spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v2"}]}},
    _content_type="application/strategic-merge-patch+json")
container = patched.spec.containers[0]
assert len(patched.spec.containers) == 1, patched.spec.containers
assert container.image == "ghcr.io/subicura/echo:v2", container
assert container.ports[0].container_port == 3000, container
ok("strategic merge patch")

patched = api.patch_namespaced_pod(
    name, ns, [{"op": "add", "path": "/metadata/labels/json", "value": "yes"}],
    _content_type="application/json-patch+json")
assert patched.metadata.labels["json"] == "yes", patched.metadata
ok("json patch")

applied = api.patch_namespaced_pod(
    name, ns,
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"applied": "yes"}}},
    field_manager="kubernetes-python", force=True,
    _content_type="application/apply-patch+yaml")
assert applied.metadata.labels["applied"] == "yes", applied.metadata
assert applied.metadata.labels["merge"] == "yes", applied.metadata
managers = [m.manager for m in applied.metadata.managed_fields or []]
assert "kubernetes-python" in managers, managers
ok("server-side apply")

# Resume from the last event seen: the patches arrive, oldest first, ending with the apply.
seen = events_until(last_rv, lambda t, p: "applied" in (p.metadata.labels or {}))
types = {t for t, _ in seen}
assert types == {"MODIFIED"}, [t for t, _ in seen]
images = [p.spec.containers[0].image for _, p in seen]
assert "ghcr.io/subicura/echo:v2" in images, images
last_rv = seen[-1][1].metadata.resource_version
ok("watch resumed from the last resourceVersion seen")

api.delete_namespaced_pod(name, ns, grace_period_seconds=0)
seen = events_until(last_rv, lambda t, p: t == "DELETED")
deadline = time.time() + 20
while True:
    try:
        api.read_namespaced_pod(name, ns)
    except client.exceptions.ApiException as error:
        assert error.status == 404, error
        break
    assert time.time() < deadline, "the pod is still there 20 s after its deletion"
    time.sleep(0.2)
assert name not in [p.metadata.name for p in api.list_namespaced_pod(ns).items]
ok("delete")
