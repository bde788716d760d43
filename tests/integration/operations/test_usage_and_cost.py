"""Usage and cost through the real operator: status.usage counts the time an instance runs
and stops counting when it stops, the price table turns it into CNY, the metrics export it
by namespace and GPU type; what lifecycle rules do is counted too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import eventually, eventually_async
from tests.integration.gpuinstance.conftest import World
from tests.integration.operations.conftest import PodWorld, scrape, value

# CNY per GPU-hour: one per GPU-second, so that the first seconds already cost a whole
# cent (at a real price they round to 0.00, and the cost counter has nothing to add yet).
PRICE = 3600.0
LABELS = {"namespace": "default", "gpu_type": "RTX 4090"}


def usage(world: World, name: str) -> dict[str, Any]:
    return dict(world.status(name).get("usage") or {})


def counted_until_stop(world: World, name: str) -> dict[str, Any] | None:
    """status.usage once it says the instance no longer runs."""
    found = usage(world, name)
    return found if found.get("running") is False else None


@pytest.mark.parametrize(
    "pod_env",
    [
        {
            "CFGPU_OPERATOR_PRICES": json.dumps({"RTX 4090": {"Usage": PRICE}}),
            "CFGPU_OPERATOR_USAGE_INTERVAL": "1",
        }
    ],
)
async def test_usage_and_cost_are_counted_and_exported(pod: PodWorld) -> None:
    await pod.running("trainer", gpuCount=2)
    counted = await eventually(
        lambda: usage(pod, "trainer").get("gpuSeconds", 0) >= 4 and usage(pod, "trainer"),
        what="two seconds of two GPUs counted",
    )
    assert counted["gpuSeconds"] == 2 * counted["runningSeconds"]
    assert counted["estimatedCost"] == f"{counted['gpuSeconds'] / 3600 * PRICE:.2f}"
    series = await scrape(pod.endpoints.metrics)
    assert value(series, "cfgpu_operator_gpus_running", **LABELS) == 2
    exported = value(series, "cfgpu_operator_gpu_seconds_total", **LABELS)
    assert exported is not None
    assert exported >= 4
    cost = value(series, "cfgpu_operator_estimated_cost_cny_total", **LABELS)
    assert cost is not None
    assert cost >= 4
    pod.patch_spec("trainer", {"state": "Stopped"})
    await eventually(lambda: pod.cfgpu.emulator.calls("instance/{id}/stop"), what="stopping")
    pod.cfgpu.clock.advance(5)
    await pod.phase("trainer", "Stopped")
    stopped = await eventually(lambda: counted_until_stop(pod, "trainer"))
    assert stopped is not None
    await pod.polls_ended(since=len(pod.cfgpu.emulator.calls()), count=3)
    assert usage(pod, "trainer")["gpuSeconds"] == stopped["gpuSeconds"]  # no longer counting
    series = await scrape(pod.endpoints.metrics)
    assert value(series, "cfgpu_operator_gpus_running", **LABELS) == 0


async def test_lifecycle_actions_are_counted_by_action_and_rule(pod: PodWorld) -> None:
    await pod.running("notebook", lifecycle={"stopAfter": "1s"})
    await eventually(lambda: pod.cfgpu.emulator.calls("instance/{id}/stop"), what="stopped")
    metric = "cfgpu_operator_lifecycle_actions_total"

    async def counted() -> float | None:
        series = await scrape(pod.endpoints.metrics)
        return value(series, metric, action="stop", reason="StopAfter")

    assert await eventually_async(counted, what="the stop counted") == 1
