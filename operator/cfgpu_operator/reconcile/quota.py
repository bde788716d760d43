"""GpuQuota arithmetic: whether a GpuInstance may take its GPUs now, and what a quota
reports. Pure: the handler's ledger supplies the numbers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cfgpu_operator.reconcile.conditions import Cond, set_condition

# Phases in which an instance holds its GPUs: rented or being rented, and not stopped.
# A stopped, released, expired or lost instance holds none; Pending has rented nothing.
FREE = frozenset({"Pending", "Stopped", "Released", "Expired", "Lost"})


@dataclass(frozen=True)
class Limit:
    name: str  # the GpuQuota's name
    max_gpus: int


def holds(phase: str | None) -> bool:
    """Whether an instance in ``phase`` counts against its namespace's quotas."""
    return phase is not None and phase not in FREE


def denial(limits: Iterable[Limit], used: int, asking: int) -> str | None:
    """Why taking ``asking`` more GPUs with ``used`` held would exceed a quota (every quota
    of the namespace applies); None when it fits them all."""
    for limit in sorted(limits, key=lambda q: q.name):
        if used + asking > limit.max_gpus:
            return (
                f"GpuQuota {limit.name} allows {limit.max_gpus} GPUs, {used} are in use and "
                f"this instance needs {asking}; waiting for room"
            )
    return None


# Reasons of a GpuQuota's conditions.
ENFORCED = "Enforced"
WITHIN = "WithinLimit"
WAITING = "InstancesWaiting"
OVER = "OverLimit"


def report(
    limit: Limit,
    used: int,
    waiting: int,
    conditions: list[dict[str, Any]],
    generation: int | None,
    now: str,
) -> dict[str, Any]:
    """A GpuQuota's status: what is held against it, and whether anything waits for room."""
    ready = Cond("Ready", "True", ENFORCED, "checked before every create and start")
    if used > limit.max_gpus:
        # Held before the quota was lowered (or made): nothing new starts until under it.
        message = f"{used} GPUs are held, above the {limit.max_gpus} allowed"
        exceeded = Cond("Exceeded", "True", OVER, message)
    elif waiting:
        message = f"{waiting} GpuInstances wait for room ({used}/{limit.max_gpus} GPUs)"
        exceeded = Cond("Exceeded", "True", WAITING, message)
    else:
        exceeded = Cond("Exceeded", "False", WITHIN, f"{used}/{limit.max_gpus} GPUs in use")
    for cond in (ready, exceeded):
        conditions = set_condition(conditions, cond, generation, now)
    return {
        "usedGpus": used,
        "gpus": f"{used}/{limit.max_gpus}",
        "waiting": waiting,
        "conditions": conditions,
        "observedGeneration": generation,
    }
