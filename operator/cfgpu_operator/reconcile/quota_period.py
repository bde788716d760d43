"""A GpuQuota's period: when it began (calendar Day, Week from Monday, Month, in the
quota's time zone), and the GPU-hours and estimated cost its namespace's GpuInstances used
since, counted from their status.usage.

The count is kept in the quota's own status (``counted``: what each instance had used when
last counted), so it survives restarts and instances deleted during the period keep what
they used. An instance first seen whose counting began before the period counts from now
on; one that began within it counts in full. Pure: times are epoch seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cfgpu_operator.reconcile.status import epoch


def period_start(period: str, zone: str, now: float) -> float:
    local = datetime.fromtimestamp(now, ZoneInfo(zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "Week":
        midnight -= timedelta(days=midnight.weekday())
    elif period == "Month":
        midnight = midnight.replace(day=1)
    return midnight.timestamp()


@dataclass(frozen=True)
class Used:
    """What one GpuInstance's status.usage says it used so far."""

    gpu_seconds: int
    cost: float
    since: float | None  # when its counting began


@dataclass(frozen=True)
class Book:
    start: float | None = None  # the period counted
    gpu_seconds: int = 0
    cost: float = 0.0
    counted: Mapping[str, tuple[int, float]] = field(default_factory=dict)  # uid -> as counted

    @property
    def gpu_hours(self) -> float:
        return self.gpu_seconds / 3600


def count(book: Book, used: Mapping[str, Used], start: float) -> Book:
    """``book`` brought up to ``used``, in the period that began at ``start``."""
    new_period = book.start != start
    seconds, cost = (0, 0.0) if new_period else (book.gpu_seconds, book.cost)
    counted = dict(book.counted)
    for uid, now in used.items():
        before = counted.get(uid)
        if before is None:
            fresh = now.since is not None and now.since >= start
            before = (0, 0.0) if fresh else (now.gpu_seconds, now.cost)
        seconds += max(0, now.gpu_seconds - before[0])
        cost += max(0.0, now.cost - before[1])
        counted[uid] = (now.gpu_seconds, now.cost)
    return Book(start, seconds, round(cost, 2), counted)


def book_of(status: Mapping[str, object]) -> Book:
    """The book a GpuQuota's stored status holds."""
    start = status.get("periodStart")
    raw = status.get("counted")
    counted: dict[str, tuple[int, float]] = {}
    if isinstance(raw, Mapping):
        for uid, entry in raw.items():
            if isinstance(entry, Mapping):
                counted[str(uid)] = (
                    int(entry.get("gpuSeconds") or 0),
                    float(entry.get("cost") or 0),
                )
    return Book(
        epoch(str(start)) if start else None,
        int(status.get("gpuSecondsThisPeriod") or 0),  # type: ignore[call-overload]
        float(status.get("estimatedCostThisPeriod") or 0),  # type: ignore[arg-type]
        counted,
    )


def forget_gone(book: Book, live: Iterable[str]) -> Book:
    """Drop what deleted instances had used when last counted (their part of the totals
    stays): the status does not grow with every instance ever made."""
    keep = set(live)
    counted = {uid: v for uid, v in book.counted.items() if uid in keep}
    return Book(book.start, book.gpu_seconds, book.cost, counted)
