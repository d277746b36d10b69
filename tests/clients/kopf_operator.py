"""A tiny kopf operator, run standalone (`kopf run --standalone`) against kubetrail: a ConfigMap
labelled `kubetrail.dev/greet=yes` gets its `greeting` data key copied into the annotation
`kubetrail.dev/greeting`, when created and whenever the key changes. kopf lists and watches
ConfigMaps, keeps its progress in annotations (no peering, no CRDs) and patches with merge
patches.

Usage: kopf run --standalone --namespace default kopf_operator.py   (KUBECONFIG in the environment)
"""

import kopf

SELECTED = {"kubetrail.dev/greet": "yes"}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    # Progress and the last handled state in annotations: kopf's default; named here so the
    # test's reading of them does not depend on kopf's defaults.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage()
    settings.watching.server_timeout = 30


@kopf.on.create("configmaps", labels=SELECTED)
@kopf.on.update("configmaps", labels=SELECTED, field="data.greeting")
def copy_greeting(body, patch, logger, **_):
    greeting = (body.get("data") or {}).get("greeting", "")
    patch.metadata.annotations["kubetrail.dev/greeting"] = greeting
    logger.info(f"copied greeting {greeting!r}")
