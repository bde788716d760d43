"""Scale benchmark: the real operator process against the project's Kubernetes and CFGPU
emulators (served in this process, zero latency, transitions instant), N GpuInstances applied
at once, then deleted at once.

    python -m tests.benchmarks.scale [--objects 100 1000 10000] [--rate-limit 1000 5]
                                     [--steady 35] [--trouble none slow 429]

Prints, per rate limit and N: apply -> create latency (p50, p99), apply -> all Ready
(seconds, objects per second) and the operator's CPU seconds for it, CFGPU calls per object
by endpoint, Kubernetes writes per object by verb, CFGPU calls per poll cycle and operator
CPU seconds per minute in steady state, the operator's RSS, delete -> all gone with its calls
and writes, request timeouts in the operator log, and the growth of the main figures from the
previous N; then one JSON line with every figure. ``--trouble slow`` makes CFGPU answer every
call 2 s late, ``--trouble 429`` answers a third of all calls 429 (Retry-After: 1); the run
then also reports the most calls CFGPU served at once and the share answered 429. Figures of
one run on one machine: compare ratios across N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from cfgpu_operator.emulators.cfgpu import CfgpuEmulator, EmulatorConfig
from cfgpu_operator.emulators.cfgpu.catalog import CatalogData
from cfgpu_operator.emulators.faults import Fault, FaultKind
from cfgpu_operator.emulators.kubernetes import KubernetesEmulator, write_kubeconfig
from cfgpu_operator.settings import Settings
from tests.conftest import TOKEN, ServedCfgpu, ServedKube
from tests.integration.gpuinstance.conftest import OperatorProcess, World, install_crds

WRITES = ("create", "update", "patch", "delete")
LOG = 1_000_000  # request-log entries kept: enough to count every call of a run
DEADLINE = 1800.0
VERBOSE = False
SINGLES = 10  # objects applied one by one to the idle operator


async def until(
    probe: Callable[[], object], what: str, within: float = DEADLINE, every: float = 0.05
) -> float:
    """Seconds until ``probe`` holds (polled every ``every`` s); fails after ``within``."""
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > within:
            raise SystemExit(f"gave up after {within:.0f} s waiting for {what}")
        await asyncio.sleep(every)
    return time.monotonic() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Bench:
    """What both kinds' benchmarks count: objects of ``plural`` Ready and left, the operator's
    CPU, the Kubernetes writes since a mark, and quiet on the API server."""

    plural = ""

    def __init__(self, world: World, n: int) -> None:
        self.world, self.n = world, n
        self.kube = world.kube.emulator
        self.key = world.kind(plural=self.plural).key
        # Counting is O(N) and runs in the emulators' process: not more than 5 % of it.
        self.every = max(0.05, n / 20_000)

    def ready(self) -> int:
        count = 0
        for obj in self.world.cluster.store.items(self.key):
            conditions = (obj.get("status") or {}).get("conditions") or []
            count += any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        return count

    def left(self) -> int:
        return sum(1 for _ in self.world.cluster.store.items(self.key))

    def operator_cpu(self) -> float:
        process = self.world.operator.process
        return cpu_seconds(process.pid) if process else 0.0

    def event_reasons(self) -> Counter[str]:
        """Events posted so far, by reason: which decisions cost the Event writes."""
        return Counter(str(e.get("reason")) for e in self.world.events())

    def writes_since(self, mark: int) -> Counter[str]:
        """Kubernetes writes after the ``mark``-th request, by verb and resource."""
        return Counter(
            f"{r.verb} {r.resource}{'/' + r.subresource if r.subresource else ''}"
            for r in list(self.kube.requests)[mark:]
            if r.verb in WRITES
        )

    async def writes_settled(self, quiet: float = 2.0) -> None:
        """Wait until the operator has written nothing to the API server for ``quiet`` s."""
        last, since = len(self.kube.requests), time.monotonic()
        while time.monotonic() - since < quiet:
            await asyncio.sleep(0.1)  # a sampling period, not a synchronisation
            if len(self.kube.requests) != last:
                last, since = len(self.kube.requests), time.monotonic()

    def watching(self) -> bool:
        """The operator watches the kind: objects applied now are a burst, not a listing."""
        return any(
            r.verb == "watch" and r.resource == self.plural for r in list(self.kube.requests)
        )


class Run(Bench):
    plural = "gpuinstances"

    def __init__(self, world: World, n: int) -> None:
        super().__init__(world, n)
        self.cfgpu = world.cfgpu.emulator

    def create_latencies(self, applied: dict[str, float]) -> list[float]:
        """Seconds from each apply to CFGPU's create of its instance (named after it)."""
        out = []
        for instance in self.cfgpu.state.instances.values():
            # k8sc-<cluster id>-default-<name>-<uid8>
            name = instance.name.partition("-default-")[2].rsplit("-", 1)[0]
            if name in applied:
                out.append(instance.create_time - applied[name])
        return out

    def marks(self) -> tuple[int, int]:
        return len(self.cfgpu.requests), len(self.kube.requests)

    def since(self, mark: tuple[int, int]) -> tuple[Counter[str], Counter[str]]:
        calls = Counter(r.endpoint for r in list(self.cfgpu.requests)[mark[0] :])
        return calls, self.writes_since(mark[1])

    async def singles(self, count: int = SINGLES) -> dict[str, Any]:
        """An idle operator (N objects Ready, nothing else under way): ``count`` objects
        applied one at a time, each once the one before was created."""
        latencies = []
        for i in range(count):
            name = f"single-{i:02d}"
            applied = {name: time.time()}
            self.world.apply(name)
            await until(partial(self.create_latencies, applied), f"{name}'s instance")
            latencies.extend(self.create_latencies(applied))
        await until(lambda: self.ready() == self.n + count, "the singles Ready")
        return {
            "idle_apply_to_create_p50_ms": round(1000 * percentile(latencies, 0.5)),
            "idle_apply_to_create_max_ms": round(1000 * max(latencies)),
        }

    async def restart(self) -> dict[str, Any]:
        """An upgrade or a rescheduled pod: a new operator process finds N objects; how soon
        does it serve a new one, and what does resuming the N cost?"""
        operator = self.world.operator
        await operator.stop()
        watches = sum(r.verb == "watch" for r in list(self.kube.requests))
        mark = self.marks()
        started = time.monotonic()
        await operator.start()
        cpu = self.operator_cpu()
        await until(
            lambda: sum(r.verb == "watch" for r in list(self.kube.requests)) > watches,
            "the restarted operator to watch",
            within=60,
        )
        self.world.apply("late-arrival")
        created = await until(
            lambda: bool(self.world.status("late-arrival").get("instanceId")), "its instance"
        )
        calls, writes = self.since(mark)
        # Settled before the deletion is measured: the late arrival is Ready.
        await until(lambda: self.world.ready("late-arrival").get("status") == "True", "Ready")
        return {
            "restart_to_new_object_created_s": round(time.monotonic() - started, 2),
            "restart_new_object_apply_to_created_s": round(created, 2),
            "restart_operator_cpu_seconds": round(self.operator_cpu() - cpu, 1),
            "restart_cfgpu_calls": sum(calls.values()),
            "restart_k8s_writes": sum(writes.values()),
        }

    async def measure(self, steady: float) -> dict[str, Any]:
        n = self.n
        out: dict[str, Any] = {"objects": n}
        await until(self.watching, "the operator to watch GpuInstances", within=60)
        mark, cpu, own = self.marks(), self.operator_cpu(), time.process_time()
        applied = {}
        for i in range(n):
            name = f"gi-{i:05d}"
            applied[name] = time.time()
            self.world.apply(name)
        took = await until(lambda: self.ready() == n, f"{n} Ready", every=self.every)
        calls, writes = self.since(mark)
        reasons = self.event_reasons()
        latencies = self.create_latencies(applied)
        out.update(
            apply_to_create_p50_ms=round(1000 * percentile(latencies, 0.5)),
            apply_to_create_p99_ms=round(1000 * percentile(latencies, 0.99)),
            ready_operator_cpu_seconds=round(self.operator_cpu() - cpu, 1),
            # The emulators serve from this process: near 1 CPU second per second, they are
            # the bottleneck and the figures measure them rather than the operator.
            ready_emulators_cpu_seconds=round(time.process_time() - own, 1),
            ready_seconds=round(took, 2),
            ready_per_second=round(n / took, 1),
            cfgpu_calls_per_object={k: round(v / n, 2) for k, v in sorted(calls.items())},
            k8s_writes_per_object={k: round(v / n, 2) for k, v in sorted(writes.items())},
            events_per_object={k: round(v / n, 2) for k, v in sorted(reasons.items())},
        )
        mark, cpu = self.marks(), self.operator_cpu()
        await asyncio.sleep(steady)  # a measurement window of steady state, not a wait
        calls, _ = self.since(mark)
        out["steady_operator_cpu_seconds_per_minute"] = round(
            60 * (self.operator_cpu() - cpu) / max(steady, 1e-9), 2
        )
        cycles = calls["instance/status"]  # each poll cycle reads the account's statuses once
        out["steady_poll_cycles"] = cycles
        out["steady_cfgpu_calls_per_cycle"] = round(sum(calls.values()) / max(cycles, 1), 2)
        process = self.world.operator.process
        out["operator_rss_mb"] = round(rss_mb(process.pid), 1) if process else None
        out.update(await self.singles())
        out.update(await self.restart())
        mark, posted = self.marks(), self.event_reasons()
        names = [obj["metadata"]["name"] for obj in self.world.cluster.store.items(self.key)]
        for name in names:
            self.world.cluster.delete(self.world.kind(), "default", name)
        took = await until(lambda: self.left() == 0, "all deleted", every=self.every)
        await self.writes_settled()  # Events are posted from a queue, after the object went
        calls, writes = self.since(mark)
        reasons = self.event_reasons() - posted
        deleted = len(names)  # with the singles and the late arrival of the restart
        out.update(
            delete_seconds=round(took, 2),
            delete_cfgpu_calls_per_object={
                k: round(v / deleted, 2) for k, v in sorted(calls.items())
            },
            delete_k8s_writes_per_object={
                k: round(v / deleted, 2) for k, v in sorted(writes.items())
            },
            delete_events_per_object={k: round(v / deleted, 2) for k, v in sorted(reasons.items())},
            released=sum(i.status == "RELEASED" for i in self.cfgpu.state.instances.values()),
        )
        text = self.world.operator.log()
        out["timeouts_in_log"] = text.count("timed out")
        # Reconciles that asked to come back, through Kopf or waiting in place.
        waits = ("will run again", "runs again in", "deletion goes on in")
        out["waits_in_log"] = sum(text.count(w) for w in waits)
        return out


# The tests' operator backs off in fractions of a second and gives up on a Retry-After longer
# than 0.2 s: a benchmark measures the shipped backoff and retries instead.
SHIPPED_BACKOFF = {
    name: str(getattr(Settings(), name))
    for name in (
        "CFGPU_OPERATOR_RETRY_MAX_WAIT",
        "CFGPU_OPERATOR_BACKOFF_BASE",
        "CFGPU_OPERATOR_BACKOFF_MAX",
        "CFGPU_OPERATOR_SLOW_RETRY",
    )
}


def benchmarked_operator(
    kube: ServedKube,
    cfgpu: ServedCfgpu,
    workdir: Path,
    rate_limit: float,
    extra: dict[str, str] | None = None,
) -> OperatorProcess:
    """The operator process as both benchmarks run it: the shipped backoff, 10 s reconciles,
    INFO logs (DEBUG lines for every call would cost more than they show)."""
    env = {
        **SHIPPED_BACKOFF,
        "CFGPU_OPERATOR_RATE_LIMIT": str(rate_limit),
        "CFGPU_OPERATOR_HTTP_TIMEOUT": "10",
        "CFGPU_OPERATOR_RETRY_ATTEMPTS": "4",
        "CFGPU_OPERATOR_RECONCILE_INTERVAL": "10",
        "CFGPU_OPERATOR_POLL_FAST": "1",
        "CFGPU_OPERATOR_POLL_SLOW": "10",
        "CFGPU_OPERATOR_LOG_LEVEL": "INFO",
        **(extra or {}),
    }
    operator = OperatorProcess(kube, cfgpu, workdir / "operator.log", env)
    operator.verbose = VERBOSE
    return operator


TROUBLES: dict[str, tuple[float, Fault]] = {
    "none": (0.0, Fault(FaultKind.LATENCY)),
    "slow": (1.0, Fault(FaultKind.LATENCY, delay=2.0)),
    "429": (1 / 3, Fault(FaultKind.HTTP, status=429, headers={"Retry-After": "1"})),
}


async def one(
    n: int, rate_limit: float, steady: float, trouble: str = "none", transition: float = 0.0
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="cfgpu-scale-"))
    kube = KubernetesEmulator(bookmark_interval=5, log_size=LOG, history_size=4 * n + 1000)
    config = EmulatorConfig(
        create_seconds=transition,
        start_seconds=transition,
        stop_seconds=transition,
        release_seconds=transition,
    )
    cfgpu = CfgpuEmulator(
        config=config,
        catalog=CatalogData(default_stock=10 * n),
        tokens={TOKEN: 1e12},
        log_size=LOG,
    )
    async with kube.serve() as kube_url, cfgpu.serve() as cfgpu_url:
        served_kube = ServedKube(kube, kube_url, write_kubeconfig(workdir / "kubeconfig", kube_url))
        served_cfgpu = ServedCfgpu(cfgpu, cfgpu_url, None)  # type: ignore[arg-type]
        install_crds(kube.cluster)
        share, fault = TROUBLES[trouble]
        cfgpu.faults.chaos(share, [fault], seed=1)
        operator = benchmarked_operator(served_kube, served_cfgpu, workdir, rate_limit)
        await operator.start()
        try:
            world = World(served_kube, served_cfgpu, operator)
            out = {"rate_limit": rate_limit, "trouble": trouble, "transition_seconds": transition}
            out.update(await Run(world, n).measure(steady))
            calls = list(cfgpu.requests)
            out["cfgpu_max_in_flight"] = cfgpu.max_in_flight
            out["cfgpu_answered_429_share"] = round(
                sum(c.status == 429 for c in calls) / max(1, len(calls)), 3
            )
            return out
        finally:
            await operator.stop()


GROWTH = (
    "ready_seconds",
    "apply_to_create_p99_ms",
    "steady_cfgpu_calls_per_cycle",
    "operator_rss_mb",
    "delete_seconds",
)


def growth(
    before: dict[str, Any], after: dict[str, Any], keys: tuple[str, ...] = GROWTH
) -> dict[str, float]:
    """How each figure grew from the previous N to this one (ratios)."""
    out = {"objects": round(after["objects"] / before["objects"], 2)}
    for key in keys:
        if before.get(key) and after.get(key) is not None:
            out[key] = round(after[key] / before[key], 2)
    return out


def arguments(doc: str, rate_help: str) -> argparse.ArgumentParser:
    """The options both benchmarks take: N, rate limits, seconds of steady state."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--objects", type=int, nargs="+", default=[100])
    parser.add_argument("--rate-limit", type=float, nargs="+", default=[1000.0], help=rate_help)
    parser.add_argument("--steady", type=float, default=35.0, help="seconds of steady state")
    return parser


def report(
    results: list[dict[str, Any]],
    result: dict[str, Any],
    series: tuple[str, ...],
    keys: tuple[str, ...] = GROWTH,
) -> None:
    """Print one run's figures, with the growth from the previous N of the same ``series``
    (the figures that must be equal), and keep it in ``results``."""
    previous = next((r for r in results if all(r[k] == result[k] for k in series)), None)
    if previous is not None:
        result["growth_vs_previous_n"] = growth(previous, result, keys)
    results.append(result)
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:{width}} {value}")
    print(flush=True)


def main() -> None:
    parser = arguments(
        __doc__,
        "calls per second per token; several values run each N at each (the shipped default is 5)",
    )
    parser.add_argument("--trouble", choices=sorted(TROUBLES), nargs="+", default=["none"])
    parser.add_argument(
        "--transition-seconds",
        type=float,
        default=0.0,
        help="how long CFGPU takes to create, start, stop and release (0: at once)",
    )
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for trouble in args.trouble:
        for rate in args.rate_limit:
            for n in args.objects:
                result = asyncio.run(one(n, rate, args.steady, trouble, args.transition_seconds))
                report(results, result, ("rate_limit", "trouble"))
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
