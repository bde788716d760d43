"""Usage and cost, table-style: what status.usage a GpuInstance decision writes, and when it
writes none (the figures are batched: on a start or stop, else once per interval)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from cfgpu_operator.reconcile.decision import stamp
from cfgpu_operator.reconcile.gpuinstance import decide
from cfgpu_operator.reconcile.gpuinstance_view import View
from cfgpu_operator.reconcile.usage import hourly, price
from tests.unit.reconcile.gpuinstance_views import HAS, NOW, inst, view

FACTS = {"gpus": 2, "gpuTypeCode": "rtx4090", "gpuName": "RTX 4090"}
RUNNING = inst("RUNNING", facts=FACTS)
CLOSED = inst("CLOSED", facts=FACTS)
PRICES = {"RTX 4090": {"Usage": 3.6, "Day": 42.0}}


def counted(ago: float, running: bool = True, seconds: int = 100, **kw: Any) -> dict[str, Any]:
    usage = {
        "since": stamp(NOW - 86400),
        "runningSeconds": seconds,
        "gpuSeconds": 2 * seconds,
        "running": running,
        "asOf": stamp(NOW - ago),
        **kw,
    }
    return {**HAS, "usage": usage}


@dataclass(frozen=True)
class Row:
    view: View
    usage: dict[str, Any] | None  # fields of the written status.usage; None: none written


ROWS = {
    "first sight: counting starts": Row(
        view(HAS, seen=RUNNING),
        {"since": stamp(NOW), "runningSeconds": 0, "running": True, "asOf": stamp(NOW)},
    ),
    "running, counted lately: nothing written": Row(view(counted(10), seen=RUNNING), None),
    "running, the interval passed: the time is added": Row(
        view(counted(400), seen=RUNNING), {"runningSeconds": 500, "gpuSeconds": 1000}
    ),
    "seen stopped: the time up to now is added at once": Row(
        view(counted(10), seen=CLOSED), {"runningSeconds": 110, "running": False}
    ),
    "seen started: counting resumes, nothing added": Row(
        view(counted(10, running=False), seen=RUNNING), {"runningSeconds": 100, "running": True}
    ),
    "stopped for long: nothing written": Row(view(counted(5000, running=False), seen=CLOSED), None),
    "after a restart, the time the operator was away counts": Row(
        view(counted(600), seen=RUNNING), {"runningSeconds": 700, "asOf": stamp(NOW)}
    ),
    "pay as you go, with a price: GPU-hours times the price": Row(
        view(counted(400), seen=RUNNING, prices=PRICES), {"estimatedCost": "1.00"}
    ),
    "prepaid, with a price: the periods bought": Row(
        view(
            counted(400),
            sp={"billing": {"priceType": "Day", "serviceTime": 2}, "gpuCount": 2},
            seen=RUNNING,
            prices=PRICES,
        ),
        {"estimatedCost": "168.00"},
    ),
    "no price for the type: no cost invented": Row(
        view(counted(400), seen=RUNNING, prices={"A100": {"Usage": 9.0}}), {"estimatedCost": None}
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_usage_table(row: Row) -> None:
    written = decide(row.view).status.get("usage")
    if row.usage is None:
        assert written is None
        return
    assert written is not None
    for key, expected in row.usage.items():
        assert written.get(key) == expected, key


def test_names_match_without_case_or_spacing() -> None:
    assert price({"rtx 4090": {"Usage": 2.0}}, ["RTX4090"], "Usage") == 2.0
    assert price({"rtx 4090": {"Usage": 2.0}}, [None, "RTX-4090"], "Day") is None


def test_hourly_spreads_a_prepaid_period_over_its_hours() -> None:
    assert hourly(PRICES, ["rtx4090"], "Usage", 2) == pytest.approx(7.2)
    assert hourly(PRICES, ["rtx4090"], "Day", 1) == pytest.approx(42 / 24)
