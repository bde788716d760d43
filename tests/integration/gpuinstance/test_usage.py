"""status.usage through the real operator: written once while the instance runs on (not per
poll), and counting the time the operator was away when it comes back."""

from __future__ import annotations

import time
from typing import Any

from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World


def usage(world: World, name: str) -> dict[str, Any]:
    return dict(world.status(name).get("usage") or {})


def counted_until_stop(world: World, name: str) -> dict[str, Any] | None:
    """status.usage once it says the instance no longer runs."""
    found = usage(world, name)
    return found if found.get("running") is False else None


async def test_usage_survives_a_restart_without_a_write_per_poll(world: World) -> None:
    await world.running("trainer")
    first = await eventually(
        lambda: usage(world, "trainer").get("asOf") and usage(world, "trainer")
    )
    assert "estimatedCost" not in first  # no price table: no cost invented
    await world.polls_ended(since=len(world.cfgpu.emulator.calls()), count=3)
    assert usage(world, "trainer") == first  # running on: nothing written per poll
    await world.operator.stop()
    away = time.monotonic()
    await eventually(lambda: time.monotonic() > away + 3, what="three seconds with no operator")
    await world.operator.start()
    world.patch_spec("trainer", {"state": "Stopped"})
    await eventually(lambda: world.cfgpu.emulator.calls("instance/{id}/stop"), what="stopping")
    after = await eventually(
        lambda: counted_until_stop(world, "trainer"), what="counted up to the stop"
    )
    assert after is not None
    assert after["since"] == first["since"]
    assert after["runningSeconds"] >= 3  # the time the operator was away counts
