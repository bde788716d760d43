"""The usage metrics: counters grow by what status.usage grew while this process watched,
an object counted before the process started adds nothing for that past, and GPUs running
now follow the last status seen."""

from __future__ import annotations

from typing import Any

from cfgpu_operator.handlers.usage_meter import ESTIMATED_COST, GPU_SECONDS, UsageMeter
from cfgpu_operator.reconcile.decision import stamp

STARTED = 1_800_000_000.0


def status(gpu_seconds: int, since: float, code: str = "RUNNING", cost: str = "") -> dict[str, Any]:
    usage: dict[str, Any] = {"gpuSeconds": gpu_seconds, "since": stamp(since)}
    if cost:
        usage["estimatedCost"] = cost
    return {"usage": usage, "gpuName": "H100", "gpus": 2, "cfgpuStatus": code}


def counter(metric: Any, namespace: str) -> float:
    return float(metric.labels(namespace, "H100")._value.get())


def running(meter: UsageMeter) -> dict[tuple[str, ...], float]:
    (family,) = meter.collect()
    return {tuple(s.labels.values()): s.value for s in family.samples}


def test_counting_begun_here_counts_in_full_and_then_by_growth() -> None:
    meter = UsageMeter(started=STARTED)
    meter.saw("u1", "fresh", status(100, STARTED + 1, cost="0.50"))
    assert counter(GPU_SECONDS, "fresh") == 100
    meter.saw("u1", "fresh", status(160, STARTED + 1, cost="0.80"))
    assert counter(GPU_SECONDS, "fresh") == 160
    assert counter(ESTIMATED_COST, "fresh") == 0.8


def test_figures_from_before_the_start_are_not_counted_again() -> None:
    meter = UsageMeter(started=STARTED)
    meter.saw("u2", "older", status(5000, STARTED - 3600))
    assert counter(GPU_SECONDS, "older") == 0
    meter.saw("u2", "older", status(5060, STARTED - 3600))
    assert counter(GPU_SECONDS, "older") == 60


def test_gpus_running_follow_the_last_status_and_deletion() -> None:
    meter = UsageMeter(started=STARTED)
    meter.saw("a", "team", status(0, STARTED + 1))
    meter.saw("b", "team", status(0, STARTED + 1))
    assert running(meter) == {("team", "H100"): 4}
    meter.saw("b", "team", status(10, STARTED + 1, code="CLOSED"))
    assert running(meter) == {("team", "H100"): 2}
    meter.forget("a")
    assert running(meter) == {("team", "H100"): 0}
