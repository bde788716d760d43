"""`cfgpu-operator demo`: the operator against local emulators of Kubernetes, CFGPU and
Primus-SaFE.

Everything runs on 127.0.0.1: the emulators in this process, the operator as a real
`cfgpu-operator run` process. The samples are applied and their phases shown as they change
until every GpuInstance is Ready and every SafeWorkload has Succeeded; then they are deleted
and the instances shown released.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
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
from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from cfgpu_operator.emulators.safe import SafeConfig, SafeEmulator, Workspace

DEMO_TOKEN = "demo-token"  # noqa: S105 - the emulator's made-up token
OPERATOR_ENV = {
    "CFGPU_OPERATOR_POLL_FAST": "0.5",
    "CFGPU_OPERATOR_POLL_SLOW": "3",
    "CFGPU_OPERATOR_RECONCILE_INTERVAL": "0.5",
    "CFGPU_OPERATOR_BACKOFF_BASE": "1",
}
DEMO_SAFE_KEY = "ak-demo-key"  # the Primus-SaFE emulator's made-up API key
PLURALS = {"GpuInstance": "gpuinstances", "SafeWorkload": "safeworkloads"}
# A WARNING or ERROR line in the text or the JSON log format, or a traceback.
TROUBLE = re.compile(
    r'\[(WARNING|ERROR|CRITICAL) *\]|"level": "(WARNING|ERROR|CRITICAL)"|Traceback'
)
Ref = tuple[str, str, str]  # (plural, namespace, name)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
COLUMNS = "{time:<8}  {kind:<12}  {name:<9}  {phase:<11}  {ready:<5}  {reason:<23}  {external}"
KINDS = {plural: kind for kind, plural in PLURALS.items()}


def samples_dir() -> Path:
    """deploy/samples: shipped inside the wheel, or beside the source tree."""
    packaged = Path(__file__).parent / "samples"
    return packaged if packaged.is_dir() else Path(__file__).parents[2] / "deploy" / "samples"


def as_applied(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample as `kubectl apply` creates it: with the annotation holding what was applied,
    so a later `kubectl apply -f deploy/samples/` finds it and warns about nothing."""
    applied = json.dumps(sample, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    meta = dict(sample.get("metadata") or {})
    meta["annotations"] = {**(meta.get("annotations") or {}), LAST_APPLIED: applied + "\n"}
    return {**sample, "metadata": meta}


def load_samples() -> list[dict[str, Any]]:
    docs = [
        yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(samples_dir().glob("*.yaml"))
    ]
    # GpuInstances first: workloads refer to them.
    return sorted(docs, key=lambda d: d["kind"] != "GpuInstance")


class Demo:
    def __init__(
        self, transition_seconds: float, deadline: float, echo: Callable[[str], None]
    ) -> None:
        delay = transition_seconds
        config = EmulatorConfig(
            create_seconds=delay, start_seconds=delay, stop_seconds=delay, release_seconds=delay
        )
        self.cfgpu = CfgpuEmulator(config=config, tokens={DEMO_TOKEN: 10_000.0})
        self.safe = SafeEmulator(
            config=SafeConfig(
                visibility_lag=0.5,
                schedule_seconds=delay / 2,
                dispatch_seconds=delay / 2,
                start_seconds=delay,
                run_seconds=3 * delay,
            )
        )
        self.safe.state.add_workspace(Workspace("ws-train", "train"))
        self.safe.state.add_user(DEMO_SAFE_KEY, "demo", workspaces=("ws-train",))
        self.kube = KubernetesEmulator()
        self.deadline = deadline
        self.echo = echo
        self.workdir = Path(tempfile.mkdtemp(prefix="cfgpu-demo-"))
        self.shown: dict[str, tuple[str, ...]] = {}

    @property
    def cluster(self) -> Cluster:
        return self.kube.cluster

    def kind(self, plural: str) -> ResourceType:
        found = self.cluster.registry.get("cfgpu.io", "v1alpha1", plural)
        if found is None:
            raise RuntimeError(f"the CRD for {plural} is not installed")
        return found

    async def run(self, keep: bool) -> int:
        async with (
            self.kube.serve() as kube_url,
            self.cfgpu.serve() as cfgpu_url,
            self.safe.serve() as safe_url,
        ):
            kubeconfig = write_kubeconfig(self.workdir / "kubeconfig", kube_url)
            self.echo(
                f"emulators: Kubernetes {kube_url}  CFGPU {cfgpu_url}  Primus-SaFE {safe_url}"
            )
            self._install_crds()
            operator = await self._start_operator(kubeconfig, cfgpu_url, safe_url)
            try:
                return await self._script(keep, kubeconfig)
            finally:
                operator.terminate()
                await operator.wait()

    def _install_crds(self) -> None:
        crds = self.cluster.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        if crds is None:
            raise RuntimeError("the Kubernetes emulator serves no CRDs")
        for crd in crdgen.all_crds().values():
            self.cluster.create(crds, None, crd)

    async def _start_operator(self, kubeconfig: Path, cfgpu_url: str, safe_url: str) -> Any:
        env = {
            **os.environ,
            **OPERATOR_ENV,
            "KUBECONFIG": str(kubeconfig),
            "CFGPU_API_URL": cfgpu_url,
            "CFGPU_API_TOKEN": DEMO_TOKEN,
            "SAFE_API_URL": safe_url,
            "SAFE_API_TOKEN": DEMO_SAFE_KEY,
        }
        log = (self.workdir / "operator.log").open("wb")
        self.echo(f"operator log: {self.workdir / 'operator.log'} (removed when the demo ends)")
        port = free_port()
        self.echo(f"operator metrics: http://127.0.0.1:{port}/metrics")
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cfgpu_operator.cli",
            "run",
            "--all-namespaces",
            "--standalone",
            f"--metrics-port={port}",
            "--metrics-address=127.0.0.1",
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )

    async def _script(self, keep: bool, kubeconfig: Path) -> int:
        objects: list[Ref] = []
        for sample in load_samples():
            meta, plural = sample["metadata"], PLURALS[sample["kind"]]
            namespace = meta.get("namespace", "default")
            self.cluster.create(self.kind(plural), namespace, as_applied(sample))
            objects.append((plural, namespace, meta["name"]))
            self.echo(f"applied {sample['kind']} {meta['name']}")
        self.echo(_row("TIME", "KIND", "NAME", "PHASE", "READY", "REASON", "EXTERNAL ID"))
        if not await self._until(lambda: _every(objects, self._done)):
            self.echo("not every sample got there in time; see the operator log")
            return 1
        self.echo("every GpuInstance is Ready and every SafeWorkload has Succeeded")
        if keep:
            self.echo(f"export KUBECONFIG={kubeconfig}   # then: kubectl get cfgpu; Ctrl-C ends")
            await asyncio.Event().wait()
        for plural, namespace, name in reversed(objects):
            self.cluster.delete(self.kind(plural), namespace, name)
            self.echo(f"deleted {name}")
        gone = await self._until(lambda: _every(objects, self._gone))
        instances = [o for o in objects if o[0] == "gpuinstances"]
        released = [i for i in self.cfgpu.state.instances.values() if i.status == "RELEASED"]
        self.echo(f"instances released on CFGPU: {len(released)} of {len(instances)}")
        self._report_trouble()
        return 0 if gone and len(released) == len(instances) else 1

    def _report_trouble(self) -> None:
        """What in the operator's log a person would have to look at (a clean run: none)."""
        text = (self.workdir / "operator.log").read_text(encoding="utf-8", errors="replace")
        trouble = [line for line in text.splitlines() if TROUBLE.search(line)]
        if not trouble:
            self.echo("operator log: no WARNING or ERROR lines")
            return
        self.echo(f"operator log: {len(trouble)} WARNING or ERROR lines, the first:")
        for line in trouble[:5]:
            self.echo(f"  {line}")

    async def _until(self, done: Callable[[], bool]) -> bool:
        stop_at = time.monotonic() + self.deadline
        while time.monotonic() < stop_at:
            self.cfgpu.state.settle()
            self.safe.state.settle()
            if done():
                return True
            await asyncio.sleep(0.2)
        return False

    def _obj(self, ref: Ref) -> dict[str, Any] | None:
        plural, namespace, name = ref
        return self.cluster.store.get(self.kind(plural).key, namespace, name)

    def _done(self, ref: Ref) -> bool:
        status = (self._obj(ref) or {}).get("status", {})
        self._show(ref, status)
        if ref[0] == "safeworkloads":
            return bool(status.get("phase") == "Succeeded")
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
        return bool(ready) and ready[0]["status"] == "True"

    def _gone(self, ref: Ref) -> bool:
        obj = self._obj(ref)
        self._show(ref, obj.get("status", {}) if obj else {"phase": "deleted"})
        return obj is None

    def _show(self, ref: Ref, status: dict[str, Any]) -> None:
        ready: dict[str, Any] = next(
            (c for c in status.get("conditions", []) if c["type"] == "Ready"), {}
        )
        external = status.get("instanceId") or status.get("workloadId") or ""
        # The reason only while not Ready: a Ready one repeats the phase, and the phase can
        # move on a moment before the condition does.
        reason = ready.get("reason", "") if ready.get("status") == "False" else ""
        state = (status.get("phase", "-"), ready.get("status", "-"), reason, external)
        plural, _, name = ref
        if self.shown.get(name) != state:
            self.shown[name] = state
            self.echo(_row(time.strftime("%H:%M:%S"), KINDS[plural], name, *state))


def _row(*cells: str) -> str:
    keys = ("time", "kind", "name", "phase", "ready", "reason", "external")
    return COLUMNS.format(**dict(zip(keys, cells, strict=True))).rstrip()


def _every(objects: list[Ref], check: Callable[[Ref], bool]) -> bool:
    """Check every object (each check also prints its changes), not just up to a False."""
    results = [check(ref) for ref in objects]
    return all(results)


def main(keep: bool, transition_seconds: float, deadline: float) -> None:
    demo = Demo(transition_seconds, deadline, click.echo)
    try:
        code = asyncio.run(demo.run(keep))
    except KeyboardInterrupt:
        click.echo("stopped: the emulators and the operator are gone, and every object with them")
        code = 130
    finally:
        shutil.rmtree(demo.workdir, ignore_errors=True)
    raise SystemExit(code)


def free_port() -> int:
    """A port nothing listens on right now (the operator binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
