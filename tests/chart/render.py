"""Render the Helm chart with Helm's own engine (helm-python-sdk; no helm binary), and
write the plain manifests in deploy/manifests/ from it.

    python -m tests.chart.render --write     # after changing the chart or the CRDs
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "cfgpu-operator"
MANIFESTS = ROOT / "deploy" / "manifests"
RELEASE, NAMESPACE = "cfgpu-operator", "cfgpu-system"
# What the plain manifests are rendered with: the defaults, plus a Secret name to create.
# The CRDs go into a file of their own, applied first.
MANIFEST_VALUES: dict[str, Any] = {
    "credentials": {"existingSecret": "cfgpu-operator-credentials"},
    "crds": {"enabled": False},
}
HEADER = (
    "# Rendered from deploy/helm/cfgpu-operator with {what} by "
    "`python -m tests.chart.render --write`; do not edit by hand.\n"
)


def _rendered(values: dict[str, Any] | None) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` would produce it."""
    with helm.Chart.load(CHART) as chart:
        return chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)


def render(values: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Template path -> the objects it rendered (empty documents dropped)."""
    return {
        path: [doc for doc in yaml.safe_load_all(text) if doc]
        for path, text in _rendered(values).items()
        if path.endswith(".yaml")
    }


def is_hook(obj: dict[str, Any]) -> bool:
    """Run by Helm at a moment of its own (``helm test``), not installed with the rest."""
    return "helm.sh/hook" in (obj["metadata"].get("annotations") or {})


def objects(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [obj for docs in render(values).values() for obj in docs]


def notes(values: dict[str, Any] | None = None) -> str:
    return _rendered(values)[f"{RELEASE}/templates/NOTES.txt"]


def chart_crds() -> dict[str, str]:
    """The CRD files the chart's crds template installs, by file name."""
    return {p.name: p.read_text(encoding="utf-8") for p in (CHART / "files" / "crds").glob("*")}


def manifest_files() -> dict[str, str]:
    """The contents deploy/manifests/ should hold."""
    crds = "---\n".join(text for _, text in sorted(chart_crds().items()))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    docs = [namespace, *(o for o in objects(MANIFEST_VALUES) if not is_hook(o))]
    body = "---\n".join(yaml.safe_dump(doc, sort_keys=False) for doc in docs)
    values = "default values and credentials.existingSecret=cfgpu-operator-credentials"
    return {
        "crds.yaml": HEADER.format(what="its CRDs") + crds,
        "cfgpu-operator.yaml": HEADER.format(what=values) + body,
    }


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print(__doc__)
        return 2
    MANIFESTS.mkdir(parents=True, exist_ok=True)
    for name, text in manifest_files().items():
        (MANIFESTS / name).write_text(text, encoding="utf-8")
        print(f"wrote {MANIFESTS / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
