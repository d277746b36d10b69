"""kr8s (its asyncio API) against kubetrail, on a ConfigMap: list, watch resumed from the
list's resourceVersion and again from the last one seen, create, merge and JSON patch (kr8s
sends no strategic merge patch and has no server-side apply), delete; each step reads back
what it wrote.

kr8s's `get` yields a list's items only, so the list's resourceVersion is read with its
`call_api`, the request `get` makes.

Usage: kr8s_client.py KUBECONFIG NAME   (prints one `ok: STEP` line per step)
"""

import asyncio
import sys

import kr8s.asyncio
from kr8s.asyncio.objects import ConfigMap

kubeconfig, name = sys.argv[1:3]
ns = "default"


def ok(step):
    print(f"ok: {step}", flush=True)


async def events_until(api, rv, done):
    """Watch the ConfigMap from `rv` until `done(type, cm)`; every (type, raw cm) seen."""
    seen = []

    async def run():
        async for kind, cm in api.watch("configmaps", namespace=ns, since=rv,
                                        field_selector=f"metadata.name={name}"):
            seen.append((kind, cm.raw))
            if done(kind, cm.raw):
                return

    try:
        await asyncio.wait_for(run(), 20)
    except asyncio.TimeoutError:
        raise AssertionError(f"no such event from {rv} in 20 s: {[t for t, _ in seen]}")
    return seen


async def main():
    api = await kr8s.asyncio.api(kubeconfig=kubeconfig, namespace=ns)

    names = [c.name async for c in api.get("configmaps", namespace=ns)]
    assert name not in names, names
    async with api.call_api("GET", url="configmaps", namespace=ns) as response:
        rv0 = response.json()["metadata"]["resourceVersion"]
    ok("list")

    cm = await ConfigMap({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {"client": "kr8s"}},
        "data": {"greeting": "hello"},
    }, api=api)
    await cm.create()
    assert cm.metadata.uid and cm.raw["data"] == {"greeting": "hello"}, cm.raw
    ok("create")

    seen = await events_until(api, rv0, lambda t, c: t == "ADDED")
    last_rv = seen[-1][1]["metadata"]["resourceVersion"]
    ok("watch from the list's resourceVersion")

    await cm.patch({"metadata": {"labels": {"merge": "yes"}}, "data": {"extra": "1"}})
    assert dict(cm.labels) == {"client": "kr8s", "merge": "yes"}, cm.raw
    assert cm.raw["data"] == {"greeting": "hello", "extra": "1"}, cm.raw
    ok("merge patch")

    await cm.patch([{"op": "add", "path": "/metadata/labels/json", "value": "yes"}], type="json")
    assert cm.labels["json"] == "yes", cm.raw
    # Read back from the server, not from the patch's answer.
    fetched = await ConfigMap.get(name, namespace=ns, api=api)
    assert fetched.labels["json"] == "yes" and fetched.labels["merge"] == "yes", fetched.raw
    ok("json patch")

    seen = await events_until(api, last_rv, lambda t, c: "json" in c["metadata"].get("labels", {}))
    assert [t for t, _ in seen] == ["MODIFIED", "MODIFIED"], [t for t, _ in seen]
    assert seen[0][1]["data"] == {"greeting": "hello", "extra": "1"}, seen[0][1]
    last_rv = seen[-1][1]["metadata"]["resourceVersion"]
    ok("watch resumed from the last resourceVersion seen")

    await cm.delete()
    await events_until(api, last_rv, lambda t, c: t == "DELETED")
    assert not await cm.exists(), "the ConfigMap is still there after its deletion"
    assert name not in [c.name async for c in api.get("configmaps", namespace=ns)]
    ok("delete")


asyncio.run(main())
