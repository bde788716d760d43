"""The pinned Helm 4 installs, upgrades and uninstalls the project's chart against
`cfgpu-operator emulate kubernetes` (server-side apply, as Helm 4 installs by default)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

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
    await tools.get("crd", "gpuinstances.cfgpu.io")  # kept, as Helm keeps crds/
