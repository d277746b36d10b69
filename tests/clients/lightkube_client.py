"""lightkube against kubetrail: list, watch resumed from the list's resourceVersion and again
from the last one seen, create, merge / strategic / JSON patch, server-side apply, delete; each
step reads back what it wrote.

Usage: lightkube_client.py KUBECONFIG NAME   (prints one `ok: STEP` line per step)
"""

import sys
import time

from lightkube import ApiError, Client, KubeConfig
from lightkube.models.core_v1 import Container, ContainerPort, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

kubeconfig, name = sys.argv[1:3]
client = Client(config=KubeConfig.from_file(kubeconfig), namespace="default")
ns = "default"


def ok(step):
    print(f"ok: {step}", flush=True)


def events_until(rv, done):
    """Watch the pod from `rv` until `done(type, pod)`; every (type, pod) seen on the way."""
    seen = []
    for kind, pod in client.watch(Pod, namespace=ns, resource_version=rv, server_timeout=20,
                                  fields={"metadata.name": name}):
        seen.append((kind, pod))
        if done(kind, pod):
            return seen
    raise AssertionError(f"watch from {rv} ended before its event: {[t for t, _ in seen]}")


listed = client.list(Pod, namespace=ns)
assert name not in [p.metadata.name for p in listed]
rv0 = listed.resourceVersion
ok("list")

pod = Pod(metadata=ObjectMeta(name=name, labels={"client": "lightkube"}),
          spec=PodSpec(containers=[Container(name="app", image="ghcr.io/subicura/echo:v1",
                                             ports=[ContainerPort(containerPort=3000)])]))
created = client.create(pod)
assert created.metadata.name == name and created.metadata.uid, created
ok("create")

seen = events_until(rv0, lambda t, p: t == "ADDED")
last_rv = seen[-1][1].metadata.resourceVersion
ok("watch from the list's resourceVersion")

patched = client.patch(Pod, name, {"metadata": {"labels": {"merge": "yes"}}}, namespace=ns,
                       patch_type=PatchType.MERGE)
assert patched.metadata.labels == {"client": "lightkube", "merge": "yes"}, patched.metadata
ok("merge patch")

# Strategic merge: the containers list merges by name, so the port stays.
patched = client.patch(
    Pod, name, {"spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v2"}]}},
    namespace=ns, patch_type=PatchType.STRATEGIC)
assert len(patched.spec.containers) == 1, patched.spec.containers
assert patched.spec.containers[0].image == "ghcr.io/subicura/echo:v2", patched.spec
assert patched.spec.containers[0].ports[0].containerPort == 3000, patched.spec
ok("strategic merge patch")

patched = client.patch(Pod, name, [{"op": "add", "path": "/metadata/labels/json", "value": "yes"}],
                       namespace=ns, patch_type=PatchType.JSON)
assert patched.metadata.labels["json"] == "yes", patched.metadata
ok("json patch")

applied = client.apply(Pod(metadata=ObjectMeta(name=name, labels={"applied": "yes"})),
                       field_manager="lightkube", force=True)
assert applied.metadata.labels["applied"] == "yes", applied.metadata
assert applied.metadata.labels["merge"] == "yes", applied.metadata
assert "lightkube" in [m.manager for m in applied.metadata.managedFields or []]
ok("server-side apply")

seen = events_until(last_rv, lambda t, p: "applied" in (p.metadata.labels or {}))
assert {t for t, _ in seen} == {"MODIFIED"}, [t for t, _ in seen]
assert "ghcr.io/subicura/echo:v2" in [p.spec.containers[0].image for _, p in seen]
last_rv = seen[-1][1].metadata.resourceVersion
ok("watch resumed from the last resourceVersion seen")

client.delete(Pod, name, namespace=ns, grace_period=0)
events_until(last_rv, lambda t, p: t == "DELETED")
deadline = time.time() + 20
while True:
    try:
        client.get(Pod, name, namespace=ns)
    except ApiError as error:
        assert error.status.code == 404, error
        break
    assert time.time() < deadline, "the pod is still there 20 s after its deletion"
    time.sleep(0.2)
assert name not in [p.metadata.name for p in client.list(Pod, namespace=ns)]
ok("delete")
