"""spec.lifecycle through the real operator against the emulators, with short durations on
the real clock: stopAfter stops and holds until the spec changes, releaseAfter leaves an
Expired object that rents nothing again, and one real power window (a minute long) rents,
runs and stops an instance."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World


def calls(world: World, endpoint: str) -> int:
    return len(world.cfgpu.emulator.calls(endpoint))


def lifecycle(world: World, name: str) -> dict[str, object]:
    return dict(world.status(name).get("lifecycle") or {})


async def test_stop_after_stops_and_holds_until_the_spec_changes(world: World) -> None:
    status = await world.running("notebook", lifecycle={"stopAfter": "3s"})
    assert status["lifecycle"]["nextAction"] == "Stop"
    assert status["lifecycle"]["next"].endswith("(stopAfter)")
    await eventually(lambda: calls(world, "instance/{id}/stop") == 1, within=15, what="stopped")
    (stop,) = await eventually(lambda: world.events("LifecycleStop"), what="the stop said")
    assert "Running for 3s (stopAfter)" in stop["message"]
    world.cfgpu.clock.advance(5)
    await world.phase("notebook", "Stopped")
    await eventually(lambda: world.events("LifecycleStopped"), what="said once stopped")
    hold = lifecycle(world, "notebook")["hold"]
    assert isinstance(hold, dict)
    assert (hold["by"], hold["done"]) == ("StopAfter", True)
    # The stop holds: polls come and go, and nothing starts it against spec.state Running.
    await world.polls_ended(since=len(world.cfgpu.emulator.calls()), count=3)
    assert calls(world, "instance/{id}/start") == 0
    assert world.ready("notebook")["status"] == "True"  # Stopped is what the lifecycle wants
    world.patch_spec("notebook", {"lifecycle": {"stopAfter": "1h"}})  # a person's edit wins
    await eventually(lambda: calls(world, "instance/{id}/start") == 1, what="started again")
    world.cfgpu.clock.advance(5)
    await world.phase("notebook", "Running")
    assert lifecycle(world, "notebook").get("hold") is None


async def test_release_after_expires_the_object_and_deletion_finishes_at_once(
    world: World,
) -> None:
    world.apply("short", lifecycle={"releaseAfter": "2s"})
    await eventually(lambda: world.status("short").get("cfgpuStatus") == "CREATING")
    world.cfgpu.clock.advance(5)  # running; due two seconds after the object was created
    await eventually(lambda: calls(world, "instance/{id}/stop") == 1, within=15, what="stopped")
    (event,) = await eventually(lambda: world.events("LifecycleRelease"), what="said")
    assert "releaseAfter" in event["message"]
    world.cfgpu.clock.advance(5)
    await eventually(lambda: calls(world, "instance/{id}/release") == 1, what="released")
    world.cfgpu.clock.advance(5)
    status = await world.phase("short", "Expired")
    assert world.ready("short")["reason"] == "Expired"
    assert world.instances() == []
    await eventually(lambda: world.events("Expired"), what="the Expired Event")
    # Never rents again by itself, not even when the spec changes.
    world.patch_spec("short", {"state": "Stopped"})
    await world.polls_ended(since=len(world.cfgpu.emulator.calls()), count=3)
    assert calls(world, "instance/create") == 1
    assert world.status("short")["instanceId"] == status["instanceId"]
    before = len(world.cfgpu.emulator.calls())
    world.delete("short")
    await eventually(lambda: world.get("short") is None, what="deleted at once")
    mutating = [c for c in world.cfgpu.emulator.calls()[before:] if c.endpoint != "instance/status"]
    assert [c.endpoint for c in mutating if "instance/{id}" in c.endpoint] == []


def _one_minute_window() -> tuple[str, datetime]:
    """A window of one whole minute, in UTC: the current one when enough of it is left for
    the instance to come up, else the next. Returns its cron start and its close time."""
    now = datetime.now(UTC)
    minute = now.replace(second=0, microsecond=0)
    if now.second > 30:
        minute += timedelta(minutes=1)
    close = minute + timedelta(minutes=1)
    return f"{minute.minute} {minute.hour} * * *", close


async def test_a_real_power_window_rents_runs_and_stops_at_its_close(world: World) -> None:
    config = world.cfgpu.emulator.config
    config.create_seconds = config.stop_seconds = config.start_seconds = 0
    start, close = _one_minute_window()
    stop = f"{close.minute} {close.hour} * * *"
    world.apply("windowed", lifecycle={"schedule": {"windows": [{"start": start, "stop": stop}]}})
    await world.phase("windowed", "Running", within=75)
    assert lifecycle(world, "windowed")["nextAction"] == "Stop"
    assert lifecycle(world, "windowed")["nextActionTime"] == close.strftime("%Y-%m-%dT%H:%M:%SZ")
    await world.phase("windowed", "Stopped", within=75)
    assert time.time() >= close.timestamp()  # not before the window closed
    (event,) = world.events("LifecycleStop")
    assert "no power window" in event["message"]
    status = lifecycle(world, "windowed")
    assert status["hold"]["by"] == "Schedule"  # type: ignore[index]
    assert status["nextAction"] == "Start"  # tomorrow, when the window opens again


@pytest.mark.parametrize("operator_env", [{"CFGPU_OPERATOR_EXPIRY_WARNING": str(2 * 86400)}])
async def test_a_prepaid_instance_is_not_stopped_before_it_expires(world: World) -> None:
    await world.running("daily", billing={"priceType": "Day"}, lifecycle={"stopAfter": "1s"})
    (deferred,) = await eventually(lambda: world.events("LifecycleDeferred"), what="said once")
    assert "prepaid until" in deferred["message"]
    # A day's instance expires within the two days' warning: one Warning Event.
    (warning,) = await eventually(lambda: world.events("InstanceExpiring"), what="warned")
    assert warning["type"] == "Warning"
    running = time.monotonic()
    await eventually(lambda: time.monotonic() > running + 3, what="well past stopAfter")
    await world.polls_ended(since=len(world.cfgpu.emulator.calls()), count=2)
    assert calls(world, "instance/{id}/stop") == 0
    status = world.status("daily")
    assert status["lifecycle"]["nextActionTime"] == status["expireTime"]
    assert len(world.events("LifecycleDeferred")) == 1
