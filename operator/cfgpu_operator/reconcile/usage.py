"""Usage and estimated cost of a GpuInstance, from the states the operator observed.

Counting is pure arithmetic on the stored ``status.usage``: the time since ``asOf`` is added
when the instance was RUNNING then. A new figure is written only when the instance starts or
stops running, or once the last one is ``interval`` seconds old, so usage costs no status
write per poll and survives a restart (the time the operator was down counts as the state it
last saw). A price table turns GPU-seconds into CNY; without one no cost is invented.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cfgpu_operator.models.lifecycle import Usage
from cfgpu_operator.reconcile.decision import stamp
from cfgpu_operator.reconcile.gpuinstance_view import Instance, View
from cfgpu_operator.reconcile.status import epoch

Prices = Mapping[str, Mapping[str, float]]  # GPU type -> price type -> CNY
PERIOD_HOURS = {"Day": 24, "Week": 7 * 24, "Month": 30 * 24}


def _key(name: str) -> str:
    """GPU type names and codes compare without case, spaces or punctuation."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def price(prices: Prices, names: Iterable[str | None], price_type: str) -> float | None:
    """The table's price for the first of ``names`` (code, model, spec text) it lists."""
    table = {_key(k): v for k, v in prices.items()}
    for name in names:
        found = table.get(_key(name)) if name else None
        if found is not None and price_type in found:
            return float(found[price_type])
    return None


def hourly(prices: Prices, names: Iterable[str | None], price_type: str, gpus: int) -> float | None:
    """What an instance costs per hour: GPUs times the Usage price, or a prepaid period's
    price spread over its hours."""
    each = price(prices, names, price_type)
    if each is None:
        return None
    return gpus * each / PERIOD_HOURS.get(price_type, 1)


def account(v: View, inst: Instance) -> dict[str, Any] | None:
    """``status.usage`` to write now, or None when nothing is due yet."""
    stored, now = v.status.usage, v.now
    running = inst.status_code == "RUNNING"
    if stored is None or stored.as_of is None:
        return _figures(v, inst, Usage(since=stamp(now)), running, 0.0)
    elapsed = max(0.0, now - epoch(stored.as_of))
    if running == stored.running and (not running or elapsed < v.usage_interval):
        return None  # nothing changed, and nothing (or too little) to add
    return _figures(v, inst, stored, running, elapsed if stored.running else 0.0)


def _figures(v: View, inst: Instance, base: Usage, running: bool, ran: float) -> dict[str, Any]:
    gpus = int(inst.facts.get("gpus") or v.spec.gpu_count)
    counted = base.model_copy(
        update={
            "running_seconds": base.running_seconds + round(ran),
            "gpu_seconds": base.gpu_seconds + round(ran) * gpus,
            "running": running,
            "as_of": stamp(v.now),
        }
    )
    cost = _cost(v, inst, counted, gpus)
    counted = counted.model_copy(update={"estimated_cost": None if cost is None else f"{cost:.2f}"})
    return counted.model_dump(by_alias=True, mode="json")


def _cost(v: View, inst: Instance, usage: Usage, gpus: int) -> float | None:
    billing = v.spec.billing
    names = (inst.facts.get("gpuTypeCode"), inst.facts.get("gpuName"), v.spec.gpu_type)
    each = price(v.prices, names, billing.price_type)
    if each is None:
        return None
    if billing.price_type == "Usage":
        return usage.gpu_seconds / 3600 * each
    return billing.service_time * gpus * each  # bought up front, whatever it runs
