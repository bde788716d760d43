"""The chart's alerts and dashboard ask only for series the running operator exports, with
labels it puts on them: a renamed metric or label fails here, not silently in Prometheus."""

from __future__ import annotations

import json
import re

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.chart.render import objects
from tests.helpers import eventually
from tests.integration.operations.conftest import PodWorld

OURS = re.compile(r"\bcfgpu_operator_[a-z_]+\b")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\bcfgpu_operator_[a-z_]+\{([^}]*)\}")


def queries() -> dict[str, str]:
    """Every PromQL expression of the chart's alerts and dashboard, by where it is."""
    rendered = objects({"prometheusRule": {"enabled": True}, "grafanaDashboard": {"enabled": True}})
    found: dict[str, str] = {}
    for obj in rendered:
        if obj["kind"] == "PrometheusRule":
            for rule in obj["spec"]["groups"][0]["rules"]:
                found[f"alert {rule['alert']}"] = rule["expr"]
        elif obj["kind"] == "ConfigMap" and obj["metadata"]["name"].endswith("-dashboard"):
            dashboard = json.loads(obj["data"]["cfgpu-operator.json"])
            for panel in dashboard["panels"]:
                for target in panel["targets"]:
                    found[f"panel {panel['title']}/{target['refId']}"] = target["expr"]
    return found


async def exported(url: str) -> dict[str, set[str]]:
    """Sample name -> the label names its samples carry."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(url, timeout=5)).text
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


async def test_every_alert_and_panel_queries_what_the_operator_exports(pod: PodWorld) -> None:
    pod.apply("trainer")
    pod.apply("typo", gpuType="RTX 9999")  # a reconcile error, and an object never Ready
    await eventually(lambda: pod.status("trainer").get("cfgpuStatus") == "CREATING")
    pod.cfgpu.clock.advance(5)
    await pod.phase("trainer", "Running")
    await eventually(lambda: pod.ready("typo").get("reason") == "InvalidSpec")
    series = await exported(pod.endpoints.metrics)
    exprs = queries()
    assert len([k for k in exprs if k.startswith("alert")]) >= 5
    assert len([k for k in exprs if k.startswith("panel")]) >= 8
    for where, expr in exprs.items():
        names = set(OURS.findall(expr))
        missing = names - set(series)
        assert not missing, f"{where} asks for {missing}, which the operator does not export"
        known = set().union(*(series[n] for n in names)) if names else set()
        used = {
            label.strip()
            for group in GROUPING.findall(expr) + MATCHERS.findall(expr)
            for label in re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=|,|$)", group)
        }
        unknown = used - known - {"le"} if names else set()
        assert not unknown, f"{where} uses labels {unknown}; the series carry {known}"
