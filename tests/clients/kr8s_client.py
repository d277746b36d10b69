"""kr8s (its asyncio API) against kubetrail: list, watch resumed from the list's resourceVersion
and again from the last one seen, create, merge and JSON patch (kr8s sends no strategic merge
patch and has no server-side apply), delete; each step reads back what it wrote.

kr8s's `get` yields a list's items only, so the list's resourceVersion is read with its
`call_api`, the request `get` makes.

Usage: kr8s_client.py KUBECONFIG NAME   (prints one `ok: STEP` line per step)
"""

import asyncio
import sys

import kr8s.asyncio
from kr8s.asyncio.objects import Pod

kubeconfig, name = sys.argv[1:3]
ns = "default"


def ok(step):
    print(f"ok: {step}", flush=True)


async def events_until(api, rv, done):
    """Watch the pod from `rv` until `done(type, pod)`; every (type, raw pod) seen on the way."""
    seen = []

    async def run():
        async for kind, pod in api.watch("pods", namespace=ns, since=rv,
                                         field_selector=f"metadata.name={name}"):
            seen.append((kind, pod.raw))
            if done(kind, pod.raw):
                return

    try:
        await asyncio.wait_for(run(), 20)
    except asyncio.TimeoutError:
        raise AssertionError(f"no such event from {rv} in 20 s: {[t for t, _ in seen]}")
    return seen


async def main():
    api = await kr8s.asyncio.api(kubeconfig=kubeconfig, namespace=ns)

    names = [p.name async for p in api.get("pods", namespace=ns)]
    assert name not in names, names
    async with api.call_api("GET", url="pods", namespace=ns) as response:
        rv0 = response.json()["metadata"]["resourceVersion"]
    ok("list")

    pod = await Pod({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"client": "kr8s"}},
        "spec": {"containers": [{"name": "app", "image": "ghcr.io/subicura/echo:v1",
                                 "ports": [{"containerPort": 3000}]}]},
    }, api=api)
    await pod.create()
    assert pod.metadata.uid, pod.raw
    ok("create")

    seen = await events_until(api, rv0, lambda t, p: t == "ADDED")
    last_rv = seen[-1][1]["metadata"]["resourceVersion"]
    ok("watch from the list's resourceVersion")

    await pod.patch({"metadata": {"labels": {"merge": "yes"}}})
    assert dict(pod.labels) == {"client": "kr8s", "merge": "yes"}, pod.raw
    ok("merge patch")

    await pod.patch([{"op": "add", "path": "/metadata/labels/json", "value": "yes"}], type="json")
    assert pod.labels["json"] == "yes", pod.raw
    # Read back from the server, not from the patch's answer.
    fetched = await Pod.get(name, namespace=ns, api=api)
    assert fetched.labels["json"] == "yes" and fetched.labels["merge"] == "yes", fetched.raw
    ok("json patch")

    seen = await events_until(api, last_rv, lambda t, p: "json" in p["metadata"].get("labels", {}))
    assert {t for t, _ in seen} == {"MODIFIED"}, [t for t, _ in seen]
    labels = [p["metadata"].get("labels", {}) for _, p in seen]
    assert any("merge" in l and "json" not in l for l in labels), labels
    last_rv = seen[-1][1]["metadata"]["resourceVersion"]
    ok("watch resumed from the last resourceVersion seen")

    await pod.delete(force=True)
    await events_until(api, last_rv, lambda t, p: t == "DELETED")
    for _ in range(100):
        if not await pod.exists():
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the pod is still there 20 s after its deletion")
    assert name not in [p.name async for p in api.get("pods", namespace=ns)]
    ok("delete")


asyncio.run(main())
