"""The docs stay in step with the code: links resolve, commands and options exist, field
names are fields of the CRDs, metrics and settings are the ones the operator has, and every
alert's runbook has its section."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from prometheus_client import REGISTRY

from cfgpu_operator import metrics
from cfgpu_operator.cli import main
from cfgpu_operator.handlers import quotas, usage_meter  # register metrics, as the operator
from cfgpu_operator.reconcile.safeworkload import ENV_TAG as WORKLOAD_TAG
from cfgpu_operator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "cfgpu-operator"
PAGES = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    CHART / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
IDS = [str(p.relative_to(ROOT)) for p in PAGES]


def text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    plain = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", plain).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    outside_code = re.sub(r"```.*?```", "", text(page), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", outside_code, flags=re.M)}


def code(page: Path) -> list[str]:
    """Code spans and the lines of code blocks."""
    body = text(page)
    blocks = re.findall(r"```[a-z]*\n(.*?)```", body, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", body, flags=re.S))
    return [line for block in blocks for line in block.splitlines()] + spans


def test_the_documentation_pages_exist() -> None:
    names = {p.name for p in PAGES}
    wanted = {"architecture.md", "configuration.md", "crds.md", "operations.md"}
    wanted |= {"upgrades.md", "gitops.md", "emulators.md", "CHANGELOG.md"}
    assert wanted <= names
    assert len(text(ROOT / "README.md").splitlines()) < 200  # what a user needs first
    assert "```mermaid" in text(ROOT / "docs" / "architecture.md")  # GitHub renders it


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", text(page)):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(linked), f"{page.name}: no heading for {target}"


def _command(words: list[str]) -> tuple[click.Command, list[str]]:
    """The command the words name, and the words after it."""
    command: click.Command = main
    while words and isinstance(command, click.Group):
        names = words[0].split("|")
        if not all(n in command.commands for n in names):
            break
        command = command.commands[names[0]]
        words = words[1:]
    return command, words


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_every_cfgpu_operator_command_and_option_exists(page: Path) -> None:
    start = re.compile(r"(?:^\s*(?:\$ )?|[|;&]\s*|^)cfgpu-operator ((?:[^`|;&#]|\|(?=[a-z]))+)")
    for snippet in code(page):
        for found in start.finditer(snippet):
            words = found.group(1).split()
            command, rest = _command(words)
            assert command is not main, f"{page.name}: `cfgpu-operator {found.group(1)}`"
            known = {o for p in command.params for o in p.opts + p.secondary_opts}
            for word in rest:
                option = word.strip("[]").split("=")[0]
                if option.startswith("-") and option not in ("-", "--"):
                    assert option in known, f"{page.name}: {command.name} has no {option}"


def _schemas() -> dict[str, Any]:
    found = {}
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        (version,) = crd["spec"]["versions"]
        found[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return found


def _resolves(schema: dict[str, Any], path: list[str]) -> bool:
    for name in path:
        while schema.get("type") == "array":
            schema = schema["items"]
        properties = schema.get("properties") or {}
        if name not in properties:
            return bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        schema = properties[name]
    return True


# The emulators' page quotes fields of its own test kinds.
OUR_KINDS = [p for p in PAGES if p.name != "emulators.md"]


@pytest.mark.parametrize("page", OUR_KINDS, ids=[str(p.relative_to(ROOT)) for p in OUR_KINDS])
def test_field_paths_are_fields_of_a_crd(page: Path) -> None:
    schemas = _schemas().values()
    for snippet in code(page):
        # A quoted path is a server's message about some object, not one of ours.
        for path in re.findall(
            r"(?<![\"'])\b((?:spec|status)(?:\.[A-Za-z][A-Za-z0-9]*)+)", snippet
        ):
            parts = path.split(".")
            assert any(_resolves(s, parts) for s in schemas), f"{page.name}: {path}"


def test_the_crd_reference_names_every_field() -> None:
    reference = text(ROOT / "docs" / "crds.md")
    for kind, schema in _schemas().items():
        for part in ("spec", "status"):
            for name in schema["properties"][part]["properties"]:
                named = re.search(rf"[`.]{name}\b|\b{name}:", reference)
                assert named, f"{kind}.{part}.{name} is not in docs/crds.md"


def test_settings_named_in_the_docs_exist() -> None:
    names = set(Settings.model_fields)
    for page in PAGES:
        for name in re.findall(r"\b((?:CFGPU_OPERATOR|CFGPU_API|SAFE_API)_[A-Z_]+)\b", text(page)):
            assert name in names | {WORKLOAD_TAG}, f"{page.name}: {name} is not a setting"


def _exported() -> set[str]:
    assert usage_meter.USAGE is not None
    assert quotas.QUOTAS is not None
    names = set()
    for collector in list(REGISTRY._collector_to_names):
        describe = getattr(collector, "describe", None)
        for family in (describe() if describe else None) or collector.collect():
            if not family.name.startswith(metrics.PREFIX):
                continue
            suffix = "_total" if family.type == "counter" else ""
            names.add(family.name + suffix)
    return names


def test_the_metrics_table_lists_exactly_what_is_exported() -> None:
    guide = text(ROOT / "docs" / "operations.md").split("## Metrics", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(cfgpu_operator_[a-z_]+)`", guide, flags=re.M))
    assert rows == _exported()


def test_every_alert_has_its_runbook_section() -> None:
    from tests.chart.render import objects

    (rule,) = [
        o for o in objects({"prometheusRule": {"enabled": True}}) if o["kind"] == "PrometheusRule"
    ]
    guide = ROOT / "docs" / "operations.md"
    for alert in rule["spec"]["groups"][0]["rules"]:
        anchor = alert["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchor in anchors(guide), alert["alert"]


def test_python_modules_named_in_the_docs_exist() -> None:
    for page in PAGES:
        for module in re.findall(r"python -m ([a-z_.]+)", text(page)):
            assert importlib.util.find_spec(module) is not None, f"{page.name}: {module}"


def test_the_argo_cd_example_syncs_the_operator_before_the_objects() -> None:
    example = ROOT / "deploy" / "argocd" / "applications.yaml"
    operator, objects_app = yaml.safe_load_all(example.read_text(encoding="utf-8"))
    wave = "argocd.argoproj.io/sync-wave"
    assert int(operator["metadata"]["annotations"][wave]) < int(
        objects_app["metadata"]["annotations"][wave]
    )
    assert (ROOT / operator["spec"]["source"]["path"]) == CHART
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))

    def known(given: dict[str, Any], defaults: dict[str, Any], where: str = "") -> None:
        for key, value in given.items():
            assert key in defaults, f"{where}{key} is not a chart value"
            if isinstance(value, dict) and defaults[key]:
                known(value, defaults[key], f"{where}{key}.")

    known(operator["spec"]["source"]["helm"]["valuesObject"], values)
    assert "SkipDryRunOnMissingResource=true" in objects_app["spec"]["syncPolicy"]["syncOptions"]
