"""idleStopAfter through the real operator: a GpuInstance a running SafeWorkload references is
not idle, however long it runs; once the workload finishes, it stops after the idle time.
Idleness comes from the operator's own view of the SafeWorkloads, not from API calls."""

from __future__ import annotations

import time

from tests.helpers import eventually
from tests.integration.safeworkload.conftest import SafeWorld

IDLE = 4.0


async def test_an_instance_in_use_is_not_idle_and_stops_once_its_workload_ends(
    sworld: SafeWorld,
) -> None:
    config = sworld.cfgpu.emulator.config
    config.create_seconds = config.stop_seconds = 0
    sworld.apply("box", lifecycle={"idleStopAfter": f"{IDLE:.0f}s"})
    await sworld.phase("box", "Running")
    sworld.submit("job", gpuInstanceRefs=["box"])
    workload = await sworld.only_workload()
    sworld.safe.clock.advance(6)
    await sworld.wphase("job", "Running")
    await eventually(lambda: "idleSince" not in sworld.status("box")["lifecycle"], what="in use")
    busy = time.monotonic()
    await eventually(lambda: time.monotonic() > busy + IDLE + 1, what="longer than the idle time")
    stops = sworld.cfgpu.emulator.calls
    assert stops("instance/{id}/stop") == []
    assert sworld.status("box")["phase"] == "Running"
    sworld.safe.emulator.state.finish(workload.id, "Succeeded")
    await sworld.wphase("job", "Succeeded")
    finished = time.monotonic()
    await eventually(lambda: stops("instance/{id}/stop"), within=20, what="stopped when idle")
    assert time.monotonic() - finished >= IDLE - 1  # the idle time, not at once
    (event,) = await eventually(lambda: sworld.events("LifecycleStop"), what="the Event")
    assert "idleStopAfter" in event["message"]
    await sworld.phase("box", "Stopped")
    assert sworld.status("box")["lifecycle"]["hold"]["by"] == "IdleStopAfter"
