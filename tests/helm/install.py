"""Install a chart with Helm 4's own Go SDK (helm-python-sdk: libhelm_c over Helm's Go
packages, no helm binary), as `helm install` does: render, validate, create.

Usage: install.py KUBECONFIG CHART RELEASE [KEY=VALUE ...]
Prints one JSON line: {"installed": name, "manifest": ...} or {"error": kind, "message": text}.
Release records are kept in memory (the storage driver `memory`): what this checks is
validation and the writes of the chart's objects.
"""

import json
import sys

import helm_python as helm


def main() -> int:
    kubeconfig, chart, release, *sets = sys.argv[1:]
    values = {}
    for pair in sets:
        key, _, value = pair.partition("=")
        values[key] = int(value) if value.isdigit() else value
    config = helm.Config(kubeconfig_path=kubeconfig, storage_driver="memory", namespace="default")
    try:
        result = config.install(chart, release, values or None, timeout=60)
    except helm.HelmError as error:
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
        return 0
    print(json.dumps({"installed": release, "sdk": helm.helm_sdk_version(),
                      "manifest": result.get("manifest", "") if isinstance(result, dict) else ""}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
