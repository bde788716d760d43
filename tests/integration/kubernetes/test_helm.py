"""The pinned Helm 4 installs, upgrades and uninstalls the project's chart against
`cfgpu-operator emulate kubernetes` (server-side apply, as Helm 4 installs by default)."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.benchmarks.kubernetes_emulator import emulator
from tests.kubetools import HELM_VERSION, kube_tools, run_tool, tool_env

CHART = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "cfgpu-operator"
NS = "cfgpu-system"


class Tools:
    def __init__(self, tmp: Path, kubeconfig: Path) -> None:
        tools = kube_tools()
        self.helm, self.kubectl = str(tools.helm), str(tools.kubectl)
        self.env = {
            **tool_env(kubeconfig, home=tmp),
            "HELM_CACHE_HOME": str(tmp / "helm-cache"),
            "HELM_CONFIG_HOME": str(tmp / "helm-config"),
            "HELM_DATA_HOME": str(tmp / "helm-data"),
        }

    async def run(self, binary: str, *args: str) -> tuple[int, str]:
        return await run_tool(binary, *args, env=self.env, within=120)

    async def get(self, *args: str) -> dict[str, object]:
        code, out = await self.run(self.kubectl, "get", *args, "-o", "json")
        assert code == 0, out
        found: dict[str, object] = json.loads(out)
        return found


@pytest.fixture
async def tools(tmp_path: Path) -> AsyncIterator[Tools]:
    """`cfgpu-operator emulate kubernetes` on a free port, and the pinned tools for it."""
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig):
        yield Tools(tmp_path, kubeconfig)


@pytest.mark.parametrize("server_side", ["true", "false"])
async def test_install_upgrade_and_uninstall_the_chart(tools: Tools, server_side: str) -> None:
    """Helm 4 applies server-side by default; with --server-side=false it creates, then
    upgrades with strategic merge patches (containers and env merged by name)."""
    code, out = await tools.run(tools.helm, "version", "--short")
    assert (code, out.startswith(HELM_VERSION)) == (0, True), out
    mode = f"--server-side={server_side}"
    code, out = await tools.run(
        tools.helm, "install", "op", str(CHART), "-n", NS, "--create-namespace", mode
    )
    assert code == 0, out
    assert "STATUS: deployed" in out
    deployment = await tools.get("deployment", "op-cfgpu-operator", "-n", NS)
    assert deployment["kind"] == "Deployment"
    for crd in ("gpuinstances.cfgpu.io", "safeworkloads.cfgpu.io"):
        await tools.get("crd", crd)
    code, out = await tools.run(tools.kubectl, "get", "gpuinstances", "-A")
    assert code == 0, out  # the CRDs Helm installed are served
    await tools.get("clusterrole", "op-cfgpu-operator")
    await tools.get("service", "op-cfgpu-operator-metrics", "-n", NS)

    code, out = await tools.run(
        tools.helm, "upgrade", "op", str(CHART), "-n", NS, mode, "--set", "logLevel=DEBUG"
    )
    assert code == 0, out
    assert "unknown field" not in out  # no patch directive was taken for a field
    upgraded: Any = await tools.get("deployment", "op-cfgpu-operator", "-n", NS)
    (container,) = upgraded["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("ghcr.io/")  # kept: not replaced by a partial item
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CFGPU_OPERATOR_LOG_LEVEL"] == "DEBUG"
    assert len(env) == len(container["env"])  # each variable once
    code, out = await tools.run(tools.helm, "history", "op", "-n", NS, "-o", "json")
    assert [r["revision"] for r in json.loads(out)] == [1, 2]

    code, out = await tools.run(tools.helm, "uninstall", "op", "-n", NS)
    assert code == 0, out
    code, out = await tools.run(tools.kubectl, "get", "deployments,services,secrets", "-n", NS)
    assert "No resources found" in out
    code, out = await tools.run(tools.helm, "list", "-A", "-q")
    assert (code, out.strip()) == (0, "")
    await tools.get("crd", "gpuinstances.cfgpu.io")  # kept: crds.keep


async def test_upgrade_changes_the_crds_and_uninstall_keeps_them(
    tools: Tools, tmp_path: Path
) -> None:
    """The CRDs are templates: `helm upgrade` applies a changed CRD (Helm never upgrades
    crds/), and `helm uninstall` leaves them (crds.keep), so no GpuInstance is lost."""
    code, out = await tools.run(
        tools.helm, "install", "op", str(CHART), "-n", NS, "--create-namespace"
    )
    assert code == 0, out
    crd: Any = await tools.get("crd", "gpuinstances.cfgpu.io")
    assert crd["metadata"]["annotations"]["meta.helm.sh/release-name"] == "op"
    newer = tmp_path / "chart"
    shutil.copytree(CHART, newer)
    path = newer / "files" / "crds" / "gpuinstances.cfgpu.io.yaml"
    changed = yaml.safe_load(path.read_text(encoding="utf-8"))
    (version,) = changed["spec"]["versions"]
    column = {"name": "Note", "type": "string", "jsonPath": ".metadata.annotations.note"}
    version["additionalPrinterColumns"].append(column)
    path.write_text(yaml.safe_dump(changed), encoding="utf-8")

    code, out = await tools.run(tools.helm, "upgrade", "op", str(newer), "-n", NS)
    assert code == 0, out
    crd = await tools.get("crd", "gpuinstances.cfgpu.io")
    (served,) = crd["spec"]["versions"]
    assert served["additionalPrinterColumns"][-1] == column
    code, out = await tools.run(tools.kubectl, "get", "gpuinstances", "-A")
    assert code == 0, out

    code, out = await tools.run(tools.helm, "uninstall", "op", "-n", NS)
    assert code == 0, out
    assert "kept due to the resource policy" in out
    await tools.get("crd", "gpuinstances.cfgpu.io")
    await tools.get("crd", "safeworkloads.cfgpu.io")


async def test_lint_strict_and_template_with_the_real_helm(tools: Tools) -> None:
    code, out = await tools.run(tools.helm, "lint", "--strict", str(CHART))
    assert code == 0, out
    assert "0 chart(s) failed" in out
    code, out = await tools.run(tools.helm, "show", "readme", str(CHART))
    assert code == 0, out
    assert out.startswith("# cfgpu-operator")
    code, out = await tools.run(tools.helm, "template", "op", str(CHART), "-n", NS)
    assert code == 0, out
    kinds = {doc["kind"] for doc in yaml.safe_load_all(out) if doc}
    assert {"CustomResourceDefinition", "Deployment", "PodDisruptionBudget", "Pod"} <= kinds
    code, out = await tools.run(
        tools.helm, "template", "op", str(CHART), "--set", "leaderElection.enabled=false"
    )
    assert code != 0
    assert "replicaCount is 2 but leaderElection.enabled is false" in out
