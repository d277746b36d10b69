// @kubernetes/client-node 1.4 against kubetrail, on a ConfigMap: list, watch resumed from the list's
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

// Watch the ConfigMap from `rv` until `done(type, cm)`: every [type, cm] seen on the way.
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
        `/api/v1/namespaces/${namespace}/configmaps`,
        { resourceVersion: rv, fieldSelector: `metadata.name=${name}`, timeoutSeconds: 20 },
        (type, cm) => {
          // Events of one read arrive together: those after the awaited one are not kept.
          if (finished) return;
          seen.push([type, cm]);
          if (done(type, cm)) {
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

const listed = await core.listNamespacedConfigMap({ namespace });
assert.ok(!listed.items.some((c) => c.metadata.name === name));
const rv0 = listed.metadata.resourceVersion;
assert.ok(rv0, "a list carries a resourceVersion");
ok("list");

const created = await core.createNamespacedConfigMap({
  namespace,
  body: {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, labels: { client: "client-node" } },
    data: { greeting: "hello" },
  },
});
assert.equal(created.metadata.name, name);
assert.ok(created.metadata.uid);
assert.deepEqual(created.data, { greeting: "hello" });
ok("create");

let seen = await eventsUntil(rv0, (type) => type === "ADDED");
let lastRv = seen.at(-1)[1].metadata.resourceVersion;
ok("watch from the list's resourceVersion");

let patched = await core.patchNamespacedConfigMap(
  { name, namespace, body: { metadata: { labels: { merge: "yes" } }, data: { extra: "1" } } },
  contentType(k8s.PatchStrategy.MergePatch),
);
assert.deepEqual(patched.metadata.labels, { client: "client-node", merge: "yes" });
assert.deepEqual(patched.data, { greeting: "hello", extra: "1" });
ok("merge patch");

// Strategic merge: `$patch: replace` replaces the whole map (a merge patch would take it for
// a key).
patched = await core.patchNamespacedConfigMap(
  { name, namespace, body: { data: { $patch: "replace", greeting: "hi" } } },
  contentType(k8s.PatchStrategy.StrategicMergePatch),
);
assert.deepEqual(patched.data, { greeting: "hi" });
ok("strategic merge patch");

patched = await core.patchNamespacedConfigMap(
  { name, namespace, body: [{ op: "add", path: "/metadata/labels/json", value: "yes" }] },
  contentType(k8s.PatchStrategy.JsonPatch),
);
assert.equal(patched.metadata.labels.json, "yes");
ok("json patch");

const applied = await core.patchNamespacedConfigMap(
  {
    name,
    namespace,
    body: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, labels: { applied: "yes" } },
      data: { applied: "yes" },
    },
    fieldManager: "client-node",
    force: true,
  },
  contentType(k8s.PatchStrategy.ServerSideApply),
);
assert.equal(applied.metadata.labels.applied, "yes");
assert.equal(applied.metadata.labels.merge, "yes");
assert.deepEqual(applied.data, { greeting: "hi", applied: "yes" });
assert.ok(applied.metadata.managedFields.some((m) => m.manager === "client-node"));
ok("server-side apply");

seen = await eventsUntil(lastRv, (type, cm) => "applied" in (cm.metadata.labels ?? {}));
assert.deepEqual(
  seen.map((e) => e[0]),
  ["MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED"],
);
assert.deepEqual(
  seen.slice(0, 2).map((e) => e[1].data),
  [{ greeting: "hello", extra: "1" }, { greeting: "hi" }],
);
lastRv = seen.at(-1)[1].metadata.resourceVersion;
ok("watch resumed from the last resourceVersion seen");

await core.deleteNamespacedConfigMap({ name, namespace });
await eventsUntil(lastRv, (type) => type === "DELETED");
await assert.rejects(core.readNamespacedConfigMap({ name, namespace }), (error) => {
  assert.equal(error.code, 404, String(error));
  return true;
});
const after = await core.listNamespacedConfigMap({ namespace });
assert.ok(!after.items.some((c) => c.metadata.name === name));
ok("delete");
