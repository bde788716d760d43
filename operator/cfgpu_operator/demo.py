"""`cfgpu-operator demo`: the operator against local emulators of Kubernetes and CFGPU.

Everything runs on 127.0.0.1: the emulators in this process, the operator as a real
`cfgpu-operator run` process. The samples are applied, their phases shown as they change
until Ready, then deleted and shown released.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from cfgpu_operator import crdgen
from cfgpu_operator.emulators.cfgpu import CfgpuEmulator, EmulatorConfig
from cfgpu_operator.emulators.kubernetes import KubernetesEmulator, write_kubeconfig
from cfgpu_operator.emulators.kubernetes.cluster import Cluster

DEMO_TOKEN = "demo-token"  # noqa: S105 - the emulator's made-up token
OPERATOR_ENV = {
    "CFGPU_OPERATOR_POLL_FAST": "0.5",
    "CFGPU_OPERATOR_POLL_SLOW": "3",
    "CFGPU_OPERATOR_RECONCILE_INTERVAL": "0.5",
    "CFGPU_OPERATOR_BACKOFF_BASE": "1",
}
GPUI = ("cfgpu.io", "v1alpha1", "gpuinstances")


def samples_dir() -> Path:
    """deploy/samples: shipped inside the wheel, or beside the source tree."""
    packaged = Path(__file__).parent / "samples"
    return packaged if packaged.is_dir() else Path(__file__).parents[2] / "deploy" / "samples"


def load_samples() -> list[dict[str, Any]]:
    return [
        yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted(samples_dir().glob("gpuinstance-*.yaml"))
    ]


class Demo:
    def __init__(
        self, transition_seconds: float, deadline: float, echo: Callable[[str], None]
    ) -> None:
        config = EmulatorConfig(
            create_seconds=transition_seconds,
            start_seconds=transition_seconds,
            stop_seconds=transition_seconds,
            release_seconds=transition_seconds,
        )
        self.cfgpu = CfgpuEmulator(config=config, tokens={DEMO_TOKEN: 10_000.0})
        self.kube = KubernetesEmulator()
        self.deadline = deadline
        self.echo = echo
        self.workdir = Path(tempfile.mkdtemp(prefix="cfgpu-demo-"))
        self.shown: dict[str, str] = {}

    @property
    def cluster(self) -> Cluster:
        return self.kube.cluster

    def kind(self, group: str, version: str, plural: str) -> Any:
        return self.cluster.registry.get(group, version, plural)

    async def run(self, keep: bool) -> int:
        async with self.kube.serve() as kube_url, self.cfgpu.serve() as cfgpu_url:
            kubeconfig = write_kubeconfig(self.workdir / "kubeconfig", kube_url)
            self.echo(f"Kubernetes API emulator: {kube_url}   CFGPU emulator: {cfgpu_url}")
            for crd in crdgen.all_crds().values():
                self.cluster.create(
                    self.kind("apiextensions.k8s.io", "v1", "customresourcedefinitions"), None, crd
                )
            operator = await self._start_operator(kubeconfig, cfgpu_url)
            try:
                return await self._script(keep, kubeconfig)
            finally:
                operator.terminate()
                await operator.wait()

    async def _start_operator(self, kubeconfig: Path, cfgpu_url: str) -> Any:
        env = {
            **os.environ,
            **OPERATOR_ENV,
            "KUBECONFIG": str(kubeconfig),
            "CFGPU_API_URL": cfgpu_url,
            "CFGPU_API_TOKEN": DEMO_TOKEN,
        }
        log = (self.workdir / "operator.log").open("wb")
        self.echo(f"operator log: {self.workdir / 'operator.log'}")
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cfgpu_operator.cli",
            "run",
            "--all-namespaces",
            "--standalone",
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )

    async def _script(self, keep: bool, kubeconfig: Path) -> int:
        samples = load_samples()
        kind = self.kind(*GPUI)
        for sample in samples:
            meta = sample["metadata"]
            self.cluster.create(kind, meta.get("namespace", "default"), sample)
            self.echo(
                f"applied GpuInstance {meta['name']} ({sample['spec']['gpuType']}, "
                f"state {sample['spec'].get('state', 'Running')})"
            )
        names = [
            (s["metadata"].get("namespace", "default"), s["metadata"]["name"]) for s in samples
        ]
        if not await self._until(lambda: _every(names, self._ready)):
            self.echo("not every sample became Ready in time; see the operator log")
            return 1
        self.echo("all samples are Ready")
        if keep:
            self.echo(f"export KUBECONFIG={kubeconfig}   # then: kubectl get gpui; Ctrl-C ends")
            await asyncio.Event().wait()
        for namespace, name in names:
            self.cluster.delete(kind, namespace, name)
            self.echo(f"deleted GpuInstance {name}")
        gone = await self._until(lambda: _every(names, self._gone))
        released = [i for i in self.cfgpu.state.instances.values() if i.status == "RELEASED"]
        self.echo(f"instances released on CFGPU: {len(released)} of {len(names)}")
        return 0 if gone and len(released) == len(names) else 1

    async def _until(self, done: Callable[[], bool]) -> bool:
        stop_at = time.monotonic() + self.deadline
        while time.monotonic() < stop_at:
            self.cfgpu.state.settle()
            if done():
                return True
            await asyncio.sleep(0.2)
        return False

    def _obj(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.cluster.store.get(self.kind(*GPUI).key, namespace, name)

    def _ready(self, namespace: str, name: str) -> bool:
        status = (self._obj(namespace, name) or {}).get("status", {})
        self._show(name, status)
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
        return bool(ready) and ready[0]["status"] == "True"

    def _gone(self, namespace: str, name: str) -> bool:
        obj = self._obj(namespace, name)
        if obj is None:
            self._show(name, {"phase": "deleted"})
            return True
        self._show(name, obj.get("status", {}))
        return False

    def _show(self, name: str, status: dict[str, Any]) -> None:
        ready: dict[str, Any] = next(
            (c for c in status.get("conditions", []) if c["type"] == "Ready"), {}
        )
        line = (
            f"{status.get('phase', '-'):<10} cfgpu={status.get('cfgpuStatus') or '-':<10} "
            f"ready={ready.get('status', '-'):<6} {status.get('instanceId') or ''}"
        )
        if self.shown.get(name) != line:
            self.shown[name] = line
            self.echo(f"{time.strftime('%H:%M:%S')}  {name:<10} {line}")


def _every(names: list[tuple[str, str]], check: Callable[[str, str], bool]) -> bool:
    """Check every object (each check also prints its changes), not just up to a False."""
    results = [check(namespace, name) for namespace, name in names]
    return all(results)


def main(keep: bool, transition_seconds: float, deadline: float) -> None:
    demo = Demo(transition_seconds, deadline, click.echo)
    raise SystemExit(asyncio.run(demo.run(keep)))
