"""Scale benchmark for SafeWorkloads: the real operator process against the project's
Kubernetes and Primus-SaFE emulators (served in this process; the platform schedules,
dispatches and starts at once, its listing lags a create by 0.5 s as the real one's DB mirror
does), N PyTorchJobs applied at once, then deleted at once.

    python -m tests.benchmarks.safeworkloads [--objects 100 1000] [--rate-limit 1000 5]
                                             [--steady 35]

Prints, per rate limit and N: apply -> submit latency (p50, p99), apply -> all Ready
(seconds, objects per second) and the operator's CPU seconds for it, Primus-SaFE calls per
object by endpoint, Kubernetes writes per object by verb, Events per object by reason,
Primus-SaFE calls per object per minute and operator CPU seconds per minute in steady state,
the operator's RSS, delete -> all gone with its calls and writes, request timeouts in the
operator log, and the growth from the previous N; then one JSON line with every figure.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from cfgpu_operator.emulators.cfgpu import CfgpuEmulator
from cfgpu_operator.emulators.kubernetes import KubernetesEmulator, write_kubeconfig
from cfgpu_operator.emulators.safe import SafeConfig, SafeEmulator, Workspace
from tests.benchmarks.scale import (
    LOG,
    Bench,
    arguments,
    benchmarked_operator,
    percentile,
    report,
    rss_mb,
    until,
)
from tests.conftest import SAFE_KEY, TOKEN, ServedCfgpu, ServedKube, ServedSafe
from tests.integration.gpuinstance.conftest import install_crds
from tests.integration.safeworkload.conftest import SafeWorld

WORKSPACE = "ws-train"
GROWTH = (
    "ready_seconds",
    "apply_to_submit_p99_ms",
    "steady_operator_cpu_seconds_per_minute",
    "operator_rss_mb",
    "delete_seconds",
)


class SafeRun(Bench):
    plural = "safeworkloads"
    world: SafeWorld

    def __init__(self, world: SafeWorld, n: int) -> None:
        super().__init__(world, n)
        self.safe = world.safe.emulator
        self.names = [f"swl-{i:05d}" for i in range(n)]

    def marks(self) -> tuple[int, int, Counter[str]]:
        return len(self.safe.requests), len(self.kube.requests), self.event_reasons()

    def since(
        self, mark: tuple[int, int, Counter[str]]
    ) -> tuple[Counter[str], Counter[str], Counter[str]]:
        calls = Counter(r.endpoint for r in list(self.safe.requests)[mark[0] :])
        return calls, self.writes_since(mark[1]), self.event_reasons() - mark[2]

    def per_object(self, counts: Counter[str]) -> dict[str, float]:
        return {k: round(v / self.n, 2) for k, v in sorted(counts.items())}

    def submit_latencies(self, applied: dict[str, float]) -> list[float]:
        """Seconds from each apply to the platform's create of its workload."""
        out = []
        for workload in self.safe.state.workloads.values():
            name = workload.display_name
            if name in applied:
                out.append(workload.creation_time - applied[name])
        return out

    async def measure(self, steady: float) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "SafeWorkload", "objects": self.n}
        await until(self.watching, "the operator to watch SafeWorkloads", within=60)
        mark, cpu = self.marks(), self.operator_cpu()
        applied = {}
        for name in self.names:
            applied[name] = time.time()
            self.world.submit(name)
        took = await until(lambda: self.ready() == self.n, "all Ready", every=self.every)
        calls, writes, reasons = self.since(mark)
        latencies = self.submit_latencies(applied)
        out.update(
            apply_to_submit_p50_ms=round(1000 * percentile(latencies, 0.5)),
            apply_to_submit_p99_ms=round(1000 * percentile(latencies, 0.99)),
            ready_seconds=round(took, 2),
            ready_per_second=round(self.n / took, 1),
            ready_operator_cpu_seconds=round(self.operator_cpu() - cpu, 1),
            safe_calls_per_object=self.per_object(calls),
            k8s_writes_per_object=self.per_object(writes),
            events_per_object=self.per_object(reasons),
            submitted=len(self.safe.state.workloads),
        )
        mark, cpu = self.marks(), self.operator_cpu()
        await asyncio.sleep(steady)  # a measurement window of steady state, not a wait
        calls, writes, _ = self.since(mark)
        minutes = steady / 60
        out["steady_safe_calls_per_object_per_minute"] = {
            k: round(v / self.n / minutes, 2) for k, v in sorted(calls.items())
        }
        out["steady_k8s_writes_per_minute"] = round(sum(writes.values()) / minutes, 1)
        out["steady_operator_cpu_seconds_per_minute"] = round(
            (self.operator_cpu() - cpu) / minutes, 2
        )
        process = self.world.operator.process
        out["operator_rss_mb"] = round(rss_mb(process.pid), 1) if process else None
        out.update(await self.delete_all())
        text = self.world.operator.log()
        out["timeouts_in_log"] = text.count("timed out")
        out["warnings_in_log"] = text.count(" WARNING ") + text.count("[WARNING")
        return out

    async def delete_all(self) -> dict[str, Any]:
        mark = self.marks()
        for name in self.names:
            self.world.cluster.delete(self.world.workloads_kind(), "default", name)
        took = await until(lambda: self.left() == 0, "all deleted", every=self.every)
        await self.writes_settled()  # Events are posted from a queue, after the object went
        calls, writes, reasons = self.since(mark)
        live = [w for w in self.safe.state.workloads.values() if w.cr_exists and not w.deleted]
        return {
            "delete_seconds": round(took, 2),
            "delete_safe_calls_per_object": self.per_object(calls),
            "delete_k8s_writes_per_object": self.per_object(writes),
            "delete_events_per_object": self.per_object(reasons),
            "left_on_platform": len(live),
        }


async def one(n: int, rate_limit: float, steady: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="cfgpu-scale-swl-"))
    kube = KubernetesEmulator(bookmark_interval=5, log_size=LOG, history_size=4 * n + 1000)
    config = SafeConfig(visibility_lag=0.5, schedule_seconds=0, dispatch_seconds=0, start_seconds=0)
    safe = SafeEmulator(config=config, log_size=LOG)
    safe.state.add_workspace(Workspace(WORKSPACE, "train", node_count=n))
    safe.state.add_user(SAFE_KEY, "alice", workspaces=(WORKSPACE,))
    cfgpu = CfgpuEmulator(tokens={TOKEN: 1e12})  # configured, never called
    async with kube.serve() as kube_url, safe.serve() as safe_url, cfgpu.serve() as cfgpu_url:
        served_kube = ServedKube(kube, kube_url, write_kubeconfig(workdir / "kubeconfig", kube_url))
        install_crds(kube.cluster)
        served_cfgpu = ServedCfgpu(cfgpu, cfgpu_url, None)  # type: ignore[arg-type]
        safe_env = {"SAFE_API_URL": safe_url, "SAFE_API_TOKEN": SAFE_KEY}
        operator = benchmarked_operator(served_kube, served_cfgpu, workdir, rate_limit, safe_env)
        await operator.start()
        try:
            world = SafeWorld(served_kube, served_cfgpu, operator)
            world.safe = ServedSafe(safe, safe_url, None)  # type: ignore[arg-type]
            out: dict[str, Any] = {"rate_limit": rate_limit}
            out.update(await SafeRun(world, n).measure(steady))
            return out
        finally:
            await operator.stop()


def main() -> None:
    parser = arguments(__doc__, "calls per second per token (the shipped default is 5)")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for rate in args.rate_limit:
        for n in args.objects:
            report(results, asyncio.run(one(n, rate, args.steady)), ("rate_limit",), GROWTH)
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
