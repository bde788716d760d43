"""The real operator with Primus-SaFE configured, against all three emulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from cfgpu_operator.emulators.safe.model import Workload
from tests.conftest import SAFE_KEY, ServedCfgpu, ServedKube, ServedSafe
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import OperatorProcess, World, install_crds


class SafeWorld(World):
    safe: ServedSafe

    def workloads_kind(self) -> ResourceType:
        return self.kind(plural="safeworkloads")

    def submit(self, name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
        body = {
            "workspaceId": "ws-train",
            "resources": [{"replica": 1, "cpu": "16", "gpu": "8", "memory": "256Gi"}],
            "images": ["registry/ai/pytorch:2.4"],
            "entryPoints": ["python train.py"],
            **spec,
        }
        return self.cluster.create(
            self.workloads_kind(), namespace, {"metadata": {"name": name}, "spec": body}
        )

    def get_workload(self, name: str, namespace: str = "default") -> dict[str, Any]:
        found: dict[str, Any] = (
            self.cluster.store.get(self.workloads_kind().key, namespace, name) or {}
        )
        return found

    def wstatus(self, name: str, namespace: str = "default") -> dict[str, Any]:
        status: dict[str, Any] = self.get_workload(name, namespace).get("status", {})
        return status

    def wready(self, name: str) -> dict[str, Any]:
        return next(
            (dict(c) for c in self.wstatus(name).get("conditions", []) if c["type"] == "Ready"), {}
        )

    async def only_workload(self) -> Workload:
        """The platform's one workload, once the operator has submitted it."""
        workloads = self.safe.emulator.state.workloads
        await eventually(lambda: len(workloads) == 1, what="submitted")
        (workload,) = workloads.values()
        return workload

    async def wphase(self, name: str, phase: str, within: float = 20) -> dict[str, Any]:
        await eventually(
            lambda: self.wstatus(name).get("phase") == phase,
            within=within,
            what=f"{name} phase {phase} (log: {self.operator.log_path})",
        )
        return self.wstatus(name)


@pytest.fixture
def sworld_env() -> dict[str, str]:
    """Extra operator environment (tests override this fixture)."""
    return {}


@pytest.fixture
async def sworld(
    kube: ServedKube,
    cfgpu: ServedCfgpu,
    safe: ServedSafe,
    tmp_path: Path,
    sworld_env: dict[str, str],
) -> AsyncIterator[SafeWorld]:
    install_crds(kube.emulator.cluster)
    env = {
        "SAFE_API_URL": safe.url,
        "SAFE_API_TOKEN": SAFE_KEY,
        "CFGPU_OPERATOR_SUBMIT_GRACE": "3",
        **sworld_env,
    }
    operator = OperatorProcess(kube, cfgpu, tmp_path / "operator.log", env)
    await operator.start()
    world = SafeWorld(kube, cfgpu, operator)
    world.safe = safe
    yield world
    await operator.stop()
