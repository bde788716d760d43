"""The pinned Helm 4 installs, upgrades and uninstalls the project's chart against
`cfgpu-operator emulate kubernetes` (server-side apply, as Helm 4 installs by default)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import eventually
from tests.kubetools import HELM_VERSION, kube_tools

CHART = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "cfgpu-operator"
NS = "cfgpu-system"


class Tools:
    def __init__(self, tmp: Path, kubeconfig: Path) -> None:
        tools = kube_tools()
        self.helm, self.kubectl = str(tools.helm), str(tools.kubectl)
        self.env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "HOME": str(tmp),
            "HELM_CACHE_HOME": str(tmp / "helm-cache"),
            "HELM_CONFIG_HOME": str(tmp / "helm-config"),
            "HELM_DATA_HOME": str(tmp / "helm-data"),
        }

    async def run(self, binary: str, *args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            binary,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 120)
        return process.returncode or 0, out.decode()

    async def get(self, *args: str) -> dict[str, object]:
        code, out = await self.run(self.kubectl, "get", *args, "-o", "json")
        assert code == 0, out
        found: dict[str, object] = json.loads(out)
        return found


@pytest.fixture
async def tools(tmp_path: Path) -> AsyncIterator[Tools]:
    """`cfgpu-operator emulate kubernetes` on a free port, and the pinned tools for it."""
    kubeconfig = tmp_path / "kubeconfig"
    script = shutil.which("cfgpu-operator", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "cfgpu_operator.cli"]
    process = await asyncio.create_subprocess_exec(
        *command,
        "emulate",
        "kubernetes",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await eventually(kubeconfig.exists, within=30, what="the emulator's kubeconfig")
        yield Tools(tmp_path, kubeconfig)
    finally:
        process.terminate()
        await process.wait()


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
