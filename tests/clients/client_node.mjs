// @kubernetes/client-node 1.4 against kubetrail: list, watch resumed from the list's
// resourceVersion and again from the last one seen, create, merge / strategic / JSON patch,
// server-side apply, delete; each step reads back what it wrote.
//
// Usage: node client_node.mjs NODE_MODULES KUBECONFIG NAME   (one `ok: STEP` line per step)
// NODE_MODULES holds @kubernetes/client-node (an ES module, so imported by its path).

import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [modules, kubeconfig, name] = process.argv.slice(2);
const k8s = await import(
  pathToFileURL(path.join(modules, "@kubernetes/client-node/dist/index.js")).href
);
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);
const namespace = "default";
const ok = (step) => console.log(`ok: ${step}`);
const contentType = (type) => k8s.setHeaderOptions("Content-Type", type);

// Watch the pod from `rv` until `done(type, pod)`: every [type, pod] seen on the way.
async function eventsUntil(rv, done) {
  const seen = [];
  const watch = new k8s.Watch(kc);
  let controller;
  let finished = false;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no such event from ${rv} in 20 s: ${seen.map((e) => e[0])}`)),
      20000,
    );
    watch
      .watch(
        `/api/v1/namespaces/${namespace}/pods`,
        { resourceVersion: rv, fieldSelector: `metadata.name=${name}`, timeoutSeconds: 20 },
        (type, pod) => {
          // Events of one read arrive together: those after the awaited one are not kept.
          if (finished) return;
          seen.push([type, pod]);
          if (done(type, pod)) {
            finished = true;
            clearTimeout(timer);
            resolve();
          }
        },
        (err) => {
          clearTimeout(timer);
          if (err && err.name !== "AbortError") reject(err);
          else resolve();
        },
      )
      .then((c) => (controller = c), reject);
  });
  controller?.abort();
  assert.ok(finished, `the watch from ${rv} ended early: ${seen.map((e) => e[0])}`);
  return seen;
}

const listed = await core.listNamespacedPod({ namespace });
assert.ok(!listed.items.some((p) => p.metadata.name === name));
const rv0 = listed.metadata.resourceVersion;
assert.ok(rv0, "a list carries a resourceVersion");
ok("list");

const created = await core.createNamespacedPod({
  namespace,
  body: {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { client: "client-node" } },
    spec: {
      containers: [
        { name: "app", image: "ghcr.io/subicura/echo:v1", ports: [{ containerPort: 3000 }] },
      ],
    },
  },
});
assert.equal(created.metadata.name, name);
assert.ok(created.metadata.uid);
ok("create");

let seen = await eventsUntil(rv0, (type) => type === "ADDED");
let lastRv = seen.at(-1)[1].metadata.resourceVersion;
ok("watch from the list's resourceVersion");

let patched = await core.patchNamespacedPod(
  { name, namespace, body: { metadata: { labels: { merge: "yes" } } } },
  contentType(k8s.PatchStrategy.MergePatch),
);
assert.deepEqual(patched.metadata.labels, { client: "client-node", merge: "yes" });
ok("merge patch");

// Strategic merge: the containers list merges by name, so the port stays.
patched = await core.patchNamespacedPod(
  {
    name,
    namespace,
    body: { spec: { containers: [{ name: "app", image: "ghcr.io/subicura/echo:v2" }] } },
  },
  contentType(k8s.PatchStrategy.StrategicMergePatch),
);
assert.equal(patched.spec.containers.length, 1);
assert.equal(patched.spec.containers[0].image, "ghcr.io/subicura/echo:v2");
assert.equal(patched.spec.containers[0].ports[0].containerPort, 3000);
ok("strategic merge patch");

patched = await core.patchNamespacedPod(
  { name, namespace, body: [{ op: "add", path: "/metadata/labels/json", value: "yes" }] },
  contentType(k8s.PatchStrategy.JsonPatch),
);
assert.equal(patched.metadata.labels.json, "yes");
ok("json patch");

const applied = await core.patchNamespacedPod(
  {
    name,
    namespace,
    body: { apiVersion: "v1", kind: "Pod", metadata: { name, labels: { applied: "yes" } } },
    fieldManager: "client-node",
    force: true,
  },
  contentType(k8s.PatchStrategy.ServerSideApply),
);
assert.equal(applied.metadata.labels.applied, "yes");
assert.equal(applied.metadata.labels.merge, "yes");
assert.ok(applied.metadata.managedFields.some((m) => m.manager === "client-node"));
ok("server-side apply");

seen = await eventsUntil(lastRv, (type, pod) => "applied" in (pod.metadata.labels ?? {}));
assert.deepEqual([...new Set(seen.map((e) => e[0]))], ["MODIFIED"]);
assert.ok(seen.some((e) => e[1].spec.containers[0].image === "ghcr.io/subicura/echo:v2"));
lastRv = seen.at(-1)[1].metadata.resourceVersion;
ok("watch resumed from the last resourceVersion seen");

await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
await eventsUntil(lastRv, (type) => type === "DELETED");
for (let i = 0; ; i++) {
  try {
    await core.readNamespacedPod({ name, namespace });
  } catch (error) {
    assert.equal(error.code, 404, String(error));
    break;
  }
  assert.ok(i < 100, "the pod is still there 20 s after its deletion");
  await new Promise((r) => setTimeout(r, 200));
}
const after = await core.listNamespacedPod({ namespace });
assert.ok(!after.items.some((p) => p.metadata.name === name));
ok("delete");
