"""lightkube against kubetrail, on a ConfigMap: list, watch resumed from the list's
resourceVersion and again from the last one seen, create, merge / strategic / JSON patch,
server-side apply, delete; each step reads back what it wrote.

Usage: lightkube_client.py KUBECONFIG NAME   (prints one `ok: STEP` line per step)
"""

import sys

from lightkube import ApiError, Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

kubeconfig, name = sys.argv[1:3]
client = Client(config=KubeConfig.from_file(kubeconfig), namespace="default")
ns = "default"


def ok(step):
    print(f"ok: {step}", flush=True)


def events_until(rv, done):
    """Watch the ConfigMap from `rv` until `done(type, cm)`; every (type, cm) on the way."""
    seen = []
    for kind, cm in client.watch(ConfigMap, namespace=ns, resource_version=rv,
                                 server_timeout=20, fields={"metadata.name": name}):
        seen.append((kind, cm))
        if done(kind, cm):
            return seen
    raise AssertionError(f"watch from {rv} ended before its event: {[t for t, _ in seen]}")


listed = client.list(ConfigMap, namespace=ns)
assert name not in [c.metadata.name for c in listed]
rv0 = listed.resourceVersion
ok("list")

created = client.create(ConfigMap(metadata=ObjectMeta(name=name, labels={"client": "lightkube"}),
                                  data={"greeting": "hello"}))
assert created.metadata.name == name and created.metadata.uid, created
assert created.data == {"greeting": "hello"}, created.data
ok("create")

seen = events_until(rv0, lambda t, c: t == "ADDED")
last_rv = seen[-1][1].metadata.resourceVersion
ok("watch from the list's resourceVersion")

patched = client.patch(ConfigMap, name,
                       {"metadata": {"labels": {"merge": "yes"}}, "data": {"extra": "1"}},
                       namespace=ns, patch_type=PatchType.MERGE)
assert patched.metadata.labels == {"client": "lightkube", "merge": "yes"}, patched.metadata
assert patched.data == {"greeting": "hello", "extra": "1"}, patched.data
ok("merge patch")

# Strategic merge: `$patch: replace` replaces the whole map.
patched = client.patch(ConfigMap, name, {"data": {"$patch": "replace", "greeting": "hi"}},
                       namespace=ns, patch_type=PatchType.STRATEGIC)
assert patched.data == {"greeting": "hi"}, patched.data
ok("strategic merge patch")

patched = client.patch(ConfigMap, name,
                       [{"op": "add", "path": "/metadata/labels/json", "value": "yes"}],
                       namespace=ns, patch_type=PatchType.JSON)
assert patched.metadata.labels["json"] == "yes", patched.metadata
ok("json patch")

applied = client.apply(ConfigMap(metadata=ObjectMeta(name=name, labels={"applied": "yes"}),
                                 data={"applied": "yes"}),
                       field_manager="lightkube", force=True)
assert applied.metadata.labels["applied"] == "yes", applied.metadata
assert applied.metadata.labels["merge"] == "yes", applied.metadata
assert applied.data == {"greeting": "hi", "applied": "yes"}, applied.data
assert "lightkube" in [m.manager for m in applied.metadata.managedFields or []]
ok("server-side apply")

seen = events_until(last_rv, lambda t, c: "applied" in (c.metadata.labels or {}))
assert [t for t, _ in seen] == ["MODIFIED"] * 4, [t for t, _ in seen]
assert [c.data for _, c in seen[:2]] == [{"greeting": "hello", "extra": "1"},
                                         {"greeting": "hi"}], seen
last_rv = seen[-1][1].metadata.resourceVersion
ok("watch resumed from the last resourceVersion seen")

client.delete(ConfigMap, name, namespace=ns)
events_until(last_rv, lambda t, c: t == "DELETED")
try:
    client.get(ConfigMap, name, namespace=ns)
    raise AssertionError("the ConfigMap is still there after its deletion")
except ApiError as error:
    assert error.status.code == 404, error
assert name not in [c.metadata.name for c in client.list(ConfigMap, namespace=ns)]
ok("delete")
