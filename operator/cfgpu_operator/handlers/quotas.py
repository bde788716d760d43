"""The GpuQuota ledger: the limits of each namespace and the GPUs each GpuInstance holds.

A GpuInstance's decision reads ``over`` and its create or start takes the GPUs with
``take`` in the same step of the event loop (no await between), so two objects can never
both take the last room: 20 applied at once against 8 GPUs end with exactly 8. What each
object holds follows the status its handler left (``saw``); at start-up every stored
GpuQuota and GpuInstance is read before any handler runs, so a restart does not forget
what is held either.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cfgpu_operator.metrics import PREFIX
from cfgpu_operator.reconcile.quota import Limit, denial, holds


@dataclass(frozen=True)
class Held:
    namespace: str
    gpus: int


class QuotaLedger:
    def __init__(self) -> None:
        self._limits: dict[str, dict[str, int]] = {}  # namespace -> quota name -> max GPUs
        self._held: dict[str, Held] = {}  # GpuInstance uid -> the GPUs it holds
        self._waiting: dict[str, str] = {}  # GpuInstance uid -> namespace, while denied

    # -- quotas ------------------------------------------------------------------------------

    def set_quota(self, namespace: str, name: str, max_gpus: int) -> None:
        self._limits.setdefault(namespace, {})[name] = max_gpus

    def drop_quota(self, namespace: str, name: str) -> None:
        self._limits.get(namespace, {}).pop(name, None)

    def limits(self, namespace: str) -> list[Limit]:
        return [Limit(n, m) for n, m in self._limits.get(namespace, {}).items()]

    def all_limits(self) -> list[tuple[str, Limit]]:
        return sorted((ns, Limit(n, m)) for ns, q in self._limits.items() for n, m in q.items())

    # -- what instances hold -----------------------------------------------------------------

    def used(self, namespace: str, but: str | None = None) -> int:
        return sum(
            h.gpus for uid, h in self._held.items() if h.namespace == namespace and uid != but
        )

    def waiting(self, namespace: str) -> int:
        return sum(1 for ns in self._waiting.values() if ns == namespace)

    def over(self, uid: str, namespace: str, gpus: int) -> str | None:
        """Why ``uid`` may not take ``gpus`` now (None: it may, or it holds them already)."""
        if uid in self._held:
            return None
        return denial(self.limits(namespace), self.used(namespace), gpus)

    def wait(self, uid: str, namespace: str, waiting: bool) -> None:
        """Whether ``uid``'s last decision waits for room (counted in the quota's status)."""
        if waiting:
            self._waiting[uid] = namespace
        else:
            self._waiting.pop(uid, None)

    def take(self, uid: str, namespace: str, gpus: int) -> None:
        self._held[uid] = Held(namespace, gpus)
        self._waiting.pop(uid, None)

    def saw(self, uid: str, namespace: str, status: Mapping[str, Any], gpus: int) -> None:
        """A GpuInstance as stored or as its handler left it."""
        if holds(status.get("phase")):
            self._held[uid] = Held(namespace, int(status.get("gpus") or gpus))
        else:
            self._held.pop(uid, None)

    def seed(self, kind: str, items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            meta = item.get("metadata") or {}
            namespace, spec = str(meta.get("namespace") or ""), item.get("spec") or {}
            if kind == "GpuQuota":
                self.set_quota(namespace, str(meta.get("name")), int(spec.get("maxGpus") or 0))
            else:
                gpus = int(spec.get("gpuCount") or 1)
                self.saw(str(meta.get("uid")), namespace, item.get("status") or {}, gpus)

    def forget(self, uid: str) -> None:
        self._held.pop(uid, None)
        self._waiting.pop(uid, None)


class QuotaMetrics(Collector):
    """Each GpuQuota's limit, what is held against it and what waits, at scrape time (a
    deleted quota simply drops out)."""

    def __init__(self) -> None:
        self._ledger: QuotaLedger | None = None

    def attach(self, ledger: QuotaLedger) -> None:
        self._ledger = ledger

    def collect(self) -> Iterator[Metric]:
        labels = ["namespace", "quota"]
        families = {
            "max": GaugeMetricFamily(
                PREFIX + "quota_max_gpus", "GPUs a GpuQuota allows.", labels=labels
            ),
            "used": GaugeMetricFamily(
                PREFIX + "quota_used_gpus", "GPUs held against a GpuQuota.", labels=labels
            ),
            "waiting": GaugeMetricFamily(
                PREFIX + "quota_waiting",
                "GpuInstances waiting for room under a GpuQuota's namespace.",
                labels=labels,
            ),
        }
        ledger = self._ledger
        if ledger is None:
            yield from families.values()
            return
        for namespace, limit in ledger.all_limits():
            values = {
                "max": limit.max_gpus,
                "used": ledger.used(namespace),
                "waiting": ledger.waiting(namespace),
            }
            for key, family in families.items():
                family.add_metric([namespace, limit.name], values[key])
        yield from families.values()


QUOTAS = QuotaMetrics()
REGISTRY.register(QUOTAS)
