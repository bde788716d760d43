"""The GpuQuota ledger: the limits of each namespace and the GPUs each GpuInstance holds.

A GpuInstance's decision reads ``over`` and its create or start takes the GPUs with
``take`` in the same step of the event loop (no await between), so two objects can never
both take the last room: 20 applied at once against 8 GPUs end with exactly 8. What each
object holds follows the status its handler left (``saw``); at start-up every stored
GpuQuota and GpuInstance is read before any handler runs, so a restart does not forget
what is held either.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cfgpu_operator.metrics import PREFIX
from cfgpu_operator.models.gpuquota import GpuQuotaSpec
from cfgpu_operator.reconcile.quota import Limit, denial, holds, used_up
from cfgpu_operator.reconcile.quota_period import Book, Used, book_of, period_start
from cfgpu_operator.reconcile.status import epoch


@dataclass(frozen=True)
class Held:
    namespace: str
    gpus: int


@dataclass(frozen=True)
class Seen:
    """What a GpuQuota needs of one GpuInstance: its usage, and whether StopNewest may stop it."""

    namespace: str
    used: Used
    created: str  # creationTimestamp: the newest sorts last
    running: bool
    prepaid: bool


def limit_of(name: str, spec: GpuQuotaSpec, book: Book) -> Limit:
    spent = used_up(name, spec.period, book, spec.max_gpu_hours, spec.max_estimated_cost)
    return Limit(name, spec.max_gpus, spent, spec.on_exceeded == "StopNewest")


def current(spec: GpuQuotaSpec, book: Book) -> Book:
    """``book`` if it counts the period under way, else an empty one (a stored status from
    an earlier period must not keep denying after it ended)."""
    try:
        start = period_start(spec.period, spec.time_zone, time.time())
    except (ZoneInfoNotFoundError, ValueError):
        return book
    return book if book.start == start else Book(start)


class QuotaLedger:
    def __init__(self) -> None:
        self._limits: dict[str, dict[str, Limit]] = {}  # namespace -> quota name -> limit
        self._held: dict[str, Held] = {}  # GpuInstance uid -> the GPUs it holds
        self._waiting: dict[str, str] = {}  # GpuInstance uid -> namespace, while denied
        self._seen: dict[str, Seen] = {}  # GpuInstance uid -> its usage
        self._stopping: dict[str, str] = {}  # GpuInstance uid -> why a quota stops it
        self._books: dict[tuple[str, str], Book] = {}  # (namespace, quota) -> its period

    # -- quotas ------------------------------------------------------------------------------

    def set_quota(self, namespace: str, limit: Limit, book: Book | None = None) -> None:
        self._limits.setdefault(namespace, {})[limit.name] = limit
        self._books[(namespace, limit.name)] = book or Book()

    def book(self, namespace: str, name: str) -> Book:
        return self._books.get((namespace, name)) or Book()

    def drop_quota(self, namespace: str, name: str) -> None:
        self._limits.get(namespace, {}).pop(name, None)
        self._books.pop((namespace, name), None)
        self.settle_stops(namespace)

    def limits(self, namespace: str) -> list[Limit]:
        return list(self._limits.get(namespace, {}).values())

    def all_limits(self) -> list[tuple[str, Limit]]:
        found = [(ns, q) for ns, quotas in self._limits.items() for q in quotas.values()]
        return sorted(found, key=lambda pair: (pair[0], pair[1].name))

    # -- what instances hold and use ---------------------------------------------------------

    def used(self, namespace: str, but: str | None = None) -> int:
        return sum(
            h.gpus for uid, h in self._held.items() if h.namespace == namespace and uid != but
        )

    def usage(self, namespace: str) -> dict[str, Used]:
        return {uid: s.used for uid, s in self._seen.items() if s.namespace == namespace}

    def waiting(self, namespace: str) -> int:
        return sum(1 for ns in self._waiting.values() if ns == namespace)

    def over(self, uid: str, namespace: str, gpus: int) -> str | None:
        """Why ``uid`` may not take ``gpus`` now (None: it may, or it holds them already)."""
        limits = self.limits(namespace)
        if uid in self._held or not limits:
            return None  # no quota: no sum over the namespace's instances either
        return denial(limits, self.used(namespace), gpus)

    def wait(self, uid: str, namespace: str, waiting: bool) -> None:
        """Whether ``uid``'s last decision waits for room (counted in the quota's status)."""
        if waiting:
            self._waiting[uid] = namespace
        else:
            self._waiting.pop(uid, None)

    def take(self, uid: str, namespace: str, gpus: int) -> None:
        self._held[uid] = Held(namespace, gpus)
        self._waiting.pop(uid, None)

    def saw(
        self,
        uid: str,
        meta: Mapping[str, Any],
        spec: Mapping[str, Any],
        status: Mapping[str, Any],
    ) -> None:
        """A GpuInstance as stored or as its handler left it."""
        namespace = str(meta.get("namespace") or "")
        gpus = int(status.get("gpus") or spec.get("gpuCount") or 1)
        if holds(status.get("phase")):
            self._held[uid] = Held(namespace, gpus)
        else:
            self._held.pop(uid, None)
        usage = status.get("usage") or {}
        since = usage.get("since")
        used = Used(
            int(usage.get("gpuSeconds") or 0),
            float(usage.get("estimatedCost") or 0),
            epoch(str(since)) if since else None,
        )
        billing = (spec.get("billing") or {}).get("priceType", "Usage")
        running = status.get("cfgpuStatus") == "RUNNING"
        created = str(meta.get("creationTimestamp") or "")
        self._seen[uid] = Seen(namespace, used, created, running, billing != "Usage")

    def seed(self, kind: str, items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            meta, spec = item.get("metadata") or {}, item.get("spec") or {}
            status = item.get("status") or {}
            if kind == "GpuQuota":
                name = str(meta.get("name"))
                parsed = GpuQuotaSpec.model_validate(dict(spec))
                book = current(parsed, book_of(status))
                namespace = str(meta.get("namespace") or "")
                self.set_quota(namespace, limit_of(name, parsed, book), book)
            else:
                self.saw(str(meta.get("uid")), meta, spec, status)

    def forget(self, uid: str) -> None:
        for table in (self._held, self._waiting, self._seen, self._stopping):
            table.pop(uid, None)

    # -- StopNewest --------------------------------------------------------------------------

    def stop_reason(self, uid: str) -> str | None:
        """Why a quota stops this GpuInstance now, if one does."""
        return self._stopping.get(uid)

    def settle_stops(self, namespace: str) -> None:
        """Stop the newest running pay-as-you-go instance of ``namespace`` not stopped yet
        while a StopNewest quota's period is used up (one more per call); release them all
        once none is."""
        spent = [q for q in self.limits(namespace) if q.stop_newest and q.used_up]
        mine = {u for u, s in self._seen.items() if s.namespace == namespace}
        if not spent:
            for uid in mine & set(self._stopping):
                del self._stopping[uid]
            return
        running = [
            (s.created, uid)
            for uid, s in self._seen.items()
            if uid in mine and s.running and not s.prepaid and uid not in self._stopping
        ]
        if running:
            newest = max(running)[1]
            self._stopping[newest] = f"{spent[0].used_up}: stopping the newest running instances"


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
            "hours": GaugeMetricFamily(
                PREFIX + "quota_gpu_hours",
                "GPU-hours a GpuQuota's namespace used in its current period.",
                labels=labels,
            ),
            "cost": GaugeMetricFamily(
                PREFIX + "quota_estimated_cost_cny",
                "Estimated CNY a GpuQuota's namespace cost in its current period.",
                labels=labels,
            ),
        }
        ledger = self._ledger
        if ledger is None:
            yield from families.values()
            return
        for namespace, limit in ledger.all_limits():
            values = {
                "max": -1 if limit.max_gpus is None else limit.max_gpus,
                "used": ledger.used(namespace),
                "waiting": ledger.waiting(namespace),
                "hours": ledger.book(namespace, limit.name).gpu_hours,
                "cost": ledger.book(namespace, limit.name).cost,
            }
            for key, family in families.items():
                family.add_metric([namespace, limit.name], values[key])
        yield from families.values()


QUOTAS = QuotaMetrics()
REGISTRY.register(QUOTAS)
