"""GpuQuota arithmetic: whether a GpuInstance may take its GPUs now, and what a quota
reports. Pure: the handler's ledger supplies the numbers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cfgpu_operator.reconcile.conditions import Cond, set_condition
from cfgpu_operator.reconcile.decision import stamp
from cfgpu_operator.reconcile.quota_period import Book

# Phases in which an instance holds its GPUs: rented or being rented, and not stopped.
# A stopped, released, expired or lost instance holds none; Pending has rented nothing.
FREE = frozenset({"Pending", "Stopped", "Released", "Expired", "Lost"})


@dataclass(frozen=True)
class Limit:
    name: str  # the GpuQuota's name
    max_gpus: int | None = None  # None: no limit on GPUs held
    used_up: str | None = None  # why the period's GPU-hours or cost allow nothing more now
    stop_newest: bool = False  # onExceeded: StopNewest


def holds(phase: str | None) -> bool:
    """Whether an instance in ``phase`` counts against its namespace's quotas."""
    return phase is not None and phase not in FREE


def denial(limits: Iterable[Limit], used: int, asking: int) -> str | None:
    """Why taking ``asking`` more GPUs with ``used`` held would exceed a quota (every quota
    of the namespace applies); None when it fits them all."""
    for limit in sorted(limits, key=lambda q: q.name):
        if limit.used_up is not None:
            return f"{limit.used_up}; waiting for the next period"
        if limit.max_gpus is not None and used + asking > limit.max_gpus:
            return (
                f"GpuQuota {limit.name} allows {limit.max_gpus} GPUs, {used} are in use and "
                f"this instance needs {asking}; waiting for room"
            )
    return None


def used_up(
    name: str,
    period: str,
    book: Book,
    max_gpu_hours: int | None,
    max_cost: str | None,
) -> str | None:
    """Why the period's GPU-hours or estimated cost allow nothing more, if they do not."""
    if max_gpu_hours is not None and book.gpu_hours >= max_gpu_hours:
        return (
            f"GpuQuota {name}: {book.gpu_hours:.2f} of {max_gpu_hours} GPU-hours used this {period}"
        )
    if max_cost is not None and book.cost >= float(max_cost):
        return f"GpuQuota {name}: {book.cost:.2f} of {max_cost} CNY estimated this {period}"
    return None


# Reasons of a GpuQuota's conditions.
ENFORCED = "Enforced"
WITHIN = "WithinLimit"
WAITING = "InstancesWaiting"
OVER = "OverLimit"
USED_UP = "PeriodUsedUp"


def report(
    limit: Limit,
    used: int,
    waiting: int,
    book: Book,
    conditions: list[dict[str, Any]],
    generation: int | None,
    now: str,
) -> dict[str, Any]:
    """A GpuQuota's status: what is held against it, what the period used, and whether
    anything waits for room."""
    ready = Cond("Ready", "True", ENFORCED, "checked before every create and start")
    allowed = "-" if limit.max_gpus is None else str(limit.max_gpus)
    if limit.used_up is not None:
        exceeded = Cond("Exceeded", "True", USED_UP, limit.used_up)
    elif limit.max_gpus is not None and used > limit.max_gpus:
        # Held before the quota was lowered (or made): nothing new starts until under it.
        message = f"{used} GPUs are held, above the {limit.max_gpus} allowed"
        exceeded = Cond("Exceeded", "True", OVER, message)
    elif waiting:
        message = f"{waiting} GpuInstances wait for room ({used}/{allowed} GPUs)"
        exceeded = Cond("Exceeded", "True", WAITING, message)
    else:
        exceeded = Cond("Exceeded", "False", WITHIN, f"{used}/{allowed} GPUs in use")
    for cond in (ready, exceeded):
        conditions = set_condition(conditions, cond, generation, now)
    return {
        "usedGpus": used,
        "gpus": f"{used}/{allowed}",
        "waiting": waiting,
        "periodStart": None if book.start is None else stamp(book.start),
        "gpuSecondsThisPeriod": book.gpu_seconds,
        "gpuHoursThisPeriod": f"{book.gpu_hours:.2f}",
        "estimatedCostThisPeriod": f"{book.cost:.2f}",
        "counted": {
            uid: {"gpuSeconds": seconds, "cost": cost}
            for uid, (seconds, cost) in book.counted.items()
        },
        "conditions": conditions,
        "observedGeneration": generation,
    }
