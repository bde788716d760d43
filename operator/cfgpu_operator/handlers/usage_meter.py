"""GPU usage and estimated cost as Prometheus metrics, by namespace and GPU type.

Fed with each GpuInstance's status as its handler left it. The counters grow by what
``status.usage`` grew since this process last saw it; an object first seen with figures
counted before this process started adds nothing for them (they were exported by the
process that counted them), one whose counting began since adds all of it. GPUs running
now are computed at scrape time, so a deleted object simply drops out.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cfgpu_operator.metrics import PREFIX
from cfgpu_operator.reconcile.status import epoch

GPU_SECONDS = Counter(
    PREFIX + "gpu_seconds",
    "GPU-seconds GpuInstances ran (RUNNING, as observed), by namespace and GPU type.",
    ["namespace", "gpu_type"],
)
ESTIMATED_COST = Counter(
    PREFIX + "estimated_cost_cny",
    "Estimated cost in CNY from the price table (CFGPU_OPERATOR_PRICES), by namespace and "
    "GPU type; nothing without a table.",
    ["namespace", "gpu_type"],
)


@dataclass(frozen=True)
class _Seen:
    labels: tuple[str, str]
    gpu_seconds: int
    cost: float
    running_gpus: int


class UsageMeter(Collector):
    def __init__(self, started: float | None = None) -> None:
        self._lock = threading.Lock()  # scrapes run on the HTTP server's thread
        self._seen: dict[str, _Seen] = {}
        self._started = time.time() if started is None else started

    def saw(self, uid: str, namespace: str, status: Mapping[str, Any]) -> None:
        usage = status.get("usage")
        if not usage:
            return
        gpu_type = str(status.get("gpuName") or status.get("gpuTypeCode") or "unknown")
        now = _Seen(
            (namespace, gpu_type),
            int(usage.get("gpuSeconds") or 0),
            float(usage.get("estimatedCost") or 0),
            int(status.get("gpus") or 0) if status.get("cfgpuStatus") == "RUNNING" else 0,
        )
        with self._lock:
            before = self._seen.get(uid) or self._baseline(now, usage)
            self._seen[uid] = now
        if now.gpu_seconds > before.gpu_seconds:
            GPU_SECONDS.labels(*now.labels).inc(now.gpu_seconds - before.gpu_seconds)
        if now.cost > before.cost:
            ESTIMATED_COST.labels(*now.labels).inc(now.cost - before.cost)

    def _baseline(self, now: _Seen, usage: Mapping[str, Any]) -> _Seen:
        """What counts as already exported for an object seen for the first time."""
        since = usage.get("since")
        if since and epoch(str(since)) >= self._started:
            return _Seen(now.labels, 0, 0.0, 0)
        return now

    def forget(self, uid: str) -> None:
        with self._lock:
            self._seen.pop(uid, None)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            PREFIX + "gpus_running",
            "GPUs of GpuInstances seen RUNNING now, by namespace and GPU type.",
            labels=["namespace", "gpu_type"],
        )
        with self._lock:
            running = Tally[tuple[str, str]]()
            for seen in self._seen.values():
                running[seen.labels] += seen.running_gpus
        for labels, gpus in sorted(running.items()):
            family.add_metric(list(labels), gpus)
        yield family


USAGE = UsageMeter()
REGISTRY.register(USAGE)
