"""`cfgpu-operator plan` against the emulators: offers resolved in the order a create tries
them, each with its hourly cost from the price table, the namespace's GpuQuotas checked
against the cluster, nothing rented, and exit 1 when something could not be rented now."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import TOKEN, ServedCfgpu, ServedKube
from tests.integration.gpuinstance.conftest import install_crds
from tests.integration.test_cli_commands import cli

IMAGE = {"system": "Tensorflow/2.15.0/3.11(ubuntu20.04)/12.2"}


def instance(name: str, namespace: str, **spec: object) -> dict[str, object]:
    body = {"region": "hz", "gpuType": "RTX 4090", "image": IMAGE, **spec}
    meta = {"name": name, "namespace": namespace}
    return {
        "apiVersion": "cfgpu.io/v1alpha1",
        "kind": "GpuInstance",
        "metadata": meta,
        "spec": body,
    }


async def run_plan(kube: ServedKube, cfgpu: ServedCfgpu, path: Path, *args: str) -> tuple[int, str]:
    env = {
        "KUBECONFIG": str(kube.kubeconfig),
        "CFGPU_API_URL": cfgpu.url,
        "CFGPU_API_TOKEN": TOKEN,
        "CFGPU_OPERATOR_PRICES": json.dumps({"RTX 4090": {"Usage": 1.89}, "L40S": {"Usage": 2.99}}),
    }
    return await cli("plan", "-f", str(path), *args, env=env, within=60)


async def test_a_plan_shows_offers_quotas_and_cost_and_rents_nothing(
    kube: ServedKube, cfgpu: ServedCfgpu, tmp_path: Path
) -> None:
    cluster = kube.emulator.cluster
    install_crds(cluster)
    quotas = cluster.registry.get("cfgpu.io", "v1alpha1", "gpuquotas")
    assert quotas is not None
    namespaces = cluster.registry.get("", "v1", "namespaces")
    assert namespaces is not None
    cluster.create(namespaces, None, {"metadata": {"name": "frozen"}})
    cluster.create(quotas, "frozen", {"metadata": {"name": "none-left"}, "spec": {"maxGpus": 0}})
    fallbacks = [{"gpuType": "L40S"}, {"region": "mars"}]
    documents = [
        instance("trainer", "default", gpuCount=2, fallbacks=fallbacks),
        instance("blocked", "frozen"),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ignored"}},
    ]
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump_all(documents), encoding="utf-8")
    code, out = await run_plan(kube, cfgpu, path, "-o", "json")
    assert code == 1, out  # the frozen namespace's instance cannot be rented now
    trainer, blocked = json.loads(out)
    assert trainer["ok"] is True
    assert [(o["offer"], o["resolved"], o["costPerHour"]) for o in trainer["offers"]] == [
        ("hz/RTX 4090", "hz/nt8cyt3s", "3.78"),
        ("hz/L40S", "hz/ldo3kj09", "5.98"),
        ("mars/RTX 4090", None, None),
    ]
    assert "mars" in trainer["offers"][2]["problem"]
    assert trainer["image"].startswith("image_")
    assert trainer["quotas"] == {"checked": True, "why": None, "limits": []}
    assert blocked["ok"] is False
    assert blocked["problems"] == [
        "GpuQuota none-left allows 0 GPUs, 0 are in use and this instance needs 1; waiting for room"
    ]
    assert TOKEN not in out
    assert cfgpu.emulator.calls("instance/create") == []  # a plan rents nothing
    code, text = await run_plan(kube, cfgpu, path)
    assert code == 1
    assert "GpuInstance default/trainer: 2 GPU(s)" in text
    assert "3.78 CNY" in text
    assert "=> can be rented now" in text
    assert "GpuQuota none-left: 0/0 GPUs in use, does not allow it now" in text


async def test_a_plan_that_can_succeed_exits_0(
    kube: ServedKube, cfgpu: ServedCfgpu, tmp_path: Path
) -> None:
    install_crds(kube.emulator.cluster)
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(instance("solo", "default")), encoding="utf-8")
    code, out = await run_plan(kube, cfgpu, path)
    assert code == 0, out
    assert out.rstrip().endswith("=> can be rented now")
