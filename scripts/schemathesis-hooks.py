"""Schemathesis hooks for the runs against kubetrail's OpenAPI documents (tests/e2e/schemathesis.rs).

- A watch (or a followed log) is a stream that lasts until its timeout: one generated
  `watch=true` would hold a worker for as long as the server allows. Such requests get
  `timeoutSeconds=1`, so they end like any other answer.
- Generated namespaces and names almost never exist, so the server answers 404 before it reads
  a body. Half of the cases (chosen by a hash of the case, so a seed reproduces the run) are
  pointed at the objects the test created first: namespace `default`, objects named
  `fixture`. The other half keep the generated path, odd names included. Deletes always keep
  theirs: one delete (of a collection too) would take the fixtures away from every later case.
"""

import zlib

import schemathesis

FIXTURE = "fixture"


def _wants_fixture(case):
    key = repr((case.method, case.path, sorted((case.path_parameters or {}).items()), case.query))
    return zlib.crc32(key.encode()) % 2 == 0


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    query = case.query if isinstance(case.query, dict) else None
    if query is not None and ("watch" in query or "follow" in query):
        query["timeoutSeconds"] = 1
    params = case.path_parameters
    if not params or case.method.upper() == "DELETE" or not _wants_fixture(case):
        return
    if "namespace" in params:
        params["namespace"] = "default"
    if "resource" in params:
        params["resource"] = "pods" if "namespace" in params else "namespaces"
    if "name" in params:
        params["name"] = FIXTURE
