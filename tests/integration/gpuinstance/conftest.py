"""The real operator (a `cfgpu-operator run` process) against the emulators over HTTP."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from cfgpu_operator.emulators.kubernetes.cluster import Cluster
from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from tests.conftest import TOKEN, ServedCfgpu, ServedKube
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[3]
MERGE = "application/merge-patch+json"
FAST_SETTINGS = {
    "CFGPU_OPERATOR_POLL_FAST": "0.2",
    "CFGPU_OPERATOR_POLL_SLOW": "1",
    "CFGPU_OPERATOR_RECONCILE_INTERVAL": "0.3",
    "CFGPU_OPERATOR_BACKOFF_BASE": "0.2",
    "CFGPU_OPERATOR_BACKOFF_MAX": "2",
    "CFGPU_OPERATOR_SLOW_RETRY": "2",
    "CFGPU_OPERATOR_HTTP_TIMEOUT": "2",
    "CFGPU_OPERATOR_RATE_LIMIT": "200",
    "CFGPU_OPERATOR_RETRY_ATTEMPTS": "2",
    "CFGPU_OPERATOR_RETRY_MAX_WAIT": "0.2",
    "CFGPU_OPERATOR_SECRET_TTL": "0.3",
}


def _command() -> list[str]:
    script = shutil.which("cfgpu-operator", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "cfgpu_operator.cli"]


@dataclass
class OperatorProcess:
    kube: ServedKube
    cfgpu: ServedCfgpu
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ("--standalone", "--metrics-port=0")
    scope: tuple[str, ...] = ("--all-namespaces",)
    process: asyncio.subprocess.Process | None = None
    verbose: bool = True

    async def start(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kube.kubeconfig),
            "CFGPU_API_URL": self.cfgpu.url,
            "CFGPU_API_TOKEN": TOKEN,
            **FAST_SETTINGS,
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *_command(),
            "run",
            *self.scope,
            *self.args,
            *(("--verbose",) if self.verbose else ()),
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )

    async def kill(self) -> None:
        """SIGKILL: no clean shutdown, as a crashed or evicted pod."""
        if self.process and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                await self.kill()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@dataclass
class World:
    kube: ServedKube
    cfgpu: ServedCfgpu
    operator: OperatorProcess

    @property
    def cluster(self) -> Cluster:
        return self.kube.emulator.cluster

    def kind(
        self, group: str = "cfgpu.io", version: str = "v1alpha1", plural: str = "gpuinstances"
    ) -> ResourceType:
        found = self.cluster.registry.get(group, version, plural)
        assert found is not None
        return found

    def apply(self, name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
        body = {
            "region": "hz",
            "gpuType": "RTX 4090",
            "image": {"system": "Tensorflow/2.15.0/3.11(ubuntu20.04)/12.2"},
            **spec,
        }
        return self.cluster.create(
            self.kind(), namespace, {"metadata": {"name": name}, "spec": body}
        )

    def get(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        return self.cluster.store.get(self.kind().key, namespace, name)

    def status(self, name: str, namespace: str = "default") -> dict[str, Any]:
        status: dict[str, Any] = (self.get(name, namespace) or {}).get("status", {})
        return status

    def patch_spec(self, name: str, spec: dict[str, Any], namespace: str = "default") -> None:
        self.cluster.patch(self.kind(), namespace, name, MERGE, {"spec": spec})

    def delete(self, name: str, namespace: str = "default") -> None:
        self.cluster.delete(self.kind(), namespace, name)

    def condition(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        for cond in self.status(name, namespace).get("conditions", []):
            if cond["type"] == kind:
                return dict(cond)
        return {}

    def ready(self, name: str, namespace: str = "default") -> dict[str, Any]:
        return self.condition("Ready", name, namespace)

    def synced(self, name: str, namespace: str = "default") -> dict[str, Any]:
        return self.condition("Synced", name, namespace)

    async def phase(
        self, name: str, phase: str, namespace: str = "default", within: float = 20
    ) -> dict[str, Any]:
        await eventually(
            lambda: self.status(name, namespace).get("phase") == phase,
            within=within,
            what=f"{name} phase {phase} (log: {self.operator.log_path})",
        )
        return self.status(name, namespace)

    async def running(self, name: str, **spec: Any) -> dict[str, Any]:
        """Apply an instance and walk it through CREATING to Running; its status."""
        self.apply(name, **spec)
        await eventually(lambda: self.status(name).get("cfgpuStatus") == "CREATING")
        self.cfgpu.clock.advance(5)
        return await self.phase(name, "Running")

    async def poll_under_way(self) -> None:
        """Wait until a poll's faulted call has begun (a fault fires as its request arrives)."""
        await eventually(lambda: self.cfgpu.emulator.faults.fired, what="a poll under way")

    async def polls_ended(self, since: int, count: int = 2) -> None:
        """Wait until ``count`` polls ended after the first ``since`` logged CFGPU calls."""
        calls = self.cfgpu.emulator.calls
        await eventually(
            lambda: sum(c.endpoint == "instance/status" for c in calls()[since:]) >= count,
            what=f"{count} polls ended",
        )

    async def release_deleted(self, name: str, namespace: str = "default") -> None:
        """Walk a deleted, running instance through stop and release until the object goes."""
        calls = self.cfgpu.emulator.calls
        await eventually(lambda: calls("instance/{id}/stop"), what=f"{name}: stop")
        self.cfgpu.clock.advance(5)
        await eventually(lambda: calls("instance/{id}/release"), what=f"{name}: release")
        self.cfgpu.clock.advance(5)
        await eventually(lambda: self.get(name, namespace) is None, what=f"{name}: gone")

    def events(self, reason: str | None = None) -> list[dict[str, Any]]:
        events_kind = self.cluster.registry.get("", "v1", "events")
        assert events_kind is not None
        return [
            e
            for e in self.cluster.list_objects(events_kind, None)
            if reason is None or e.get("reason") == reason
        ]

    def instances(self) -> list[Any]:
        self.cfgpu.emulator.state.settle()
        return [i for i in self.cfgpu.emulator.state.instances.values() if i.status != "RELEASED"]


def install_crds(cluster: Cluster) -> None:
    crds = cluster.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert crds is not None
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        cluster.create(crds, None, yaml.safe_load(path.read_text(encoding="utf-8")))


@pytest.fixture
def operator_env() -> dict[str, str]:
    """Extra environment for the operator process (tests override this fixture)."""
    return {}


@pytest.fixture
async def world(
    kube: ServedKube, cfgpu: ServedCfgpu, tmp_path: Path, operator_env: dict[str, str]
) -> AsyncIterator[World]:
    install_crds(kube.emulator.cluster)
    operator = OperatorProcess(kube, cfgpu, tmp_path / "operator.log", operator_env)
    await operator.start()
    yield World(kube, cfgpu, operator)
    await operator.stop()
