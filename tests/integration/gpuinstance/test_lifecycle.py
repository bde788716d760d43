"""Create, power and delete through the real operator."""

from __future__ import annotations

from cfgpu_operator.emulators.faults import FaultKind
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World


async def test_create_run_stop_start_and_release(world: World) -> None:
    world.apply("trainer")
    await eventually(lambda: world.status("trainer").get("cfgpuStatus") == "CREATING")
    assert world.status("trainer")["phase"] == "Creating"
    world.cfgpu.clock.advance(5)
    status = await world.phase("trainer", "Running")
    assert world.ready("trainer")["status"] == "True"
    instance = world.cfgpu.emulator.state.instances[status["instanceId"]]
    assert instance.name == status["instanceName"]
    assert status["gpuName"] == "RTX 4090"
    assert status["regionCode"] == "hz"

    world.patch_spec("trainer", {"state": "Stopped"})
    await eventually(lambda: instance.status == "STOPPING", what="stop call")
    world.cfgpu.clock.advance(3)
    await world.phase("trainer", "Stopped")

    world.patch_spec("trainer", {"state": "Running"})
    await eventually(lambda: instance.status == "STARTING", what="start call")
    world.cfgpu.clock.advance(3)
    await world.phase("trainer", "Running")

    world.delete("trainer")
    await eventually(lambda: instance.status == "STOPPING", what="stop on delete")
    await eventually(lambda: world.ready("trainer").get("reason") == "Deleting")
    assert world.ready("trainer")["status"] == "False"
    world.cfgpu.clock.advance(3)
    await eventually(lambda: instance.status == "RELEASING", what="release")
    world.cfgpu.clock.advance(3)
    await eventually(lambda: world.get("trainer") is None, what="finalizer dropped")
    assert [c.endpoint for c in world.cfgpu.emulator.calls("instance/create")] == [
        "instance/create"
    ]
    # Each call exactly once, however often the delete handler ran before the next poll.
    assert len(world.cfgpu.emulator.calls("instance/{id}/stop")) == 2  # spec change, delete
    assert len(world.cfgpu.emulator.calls("instance/{id}/release")) == 1
    await eventually(lambda: world.events("InstanceCreated"), what="Event (async)")


async def test_a_poll_under_way_does_not_repeat_a_stop(world: World) -> None:
    """A poll that began before the stop ends after it, still showing RUNNING: the reconcile
    must know that poll is older than its call, however late it arrived."""
    await world.running("busy")
    faults, calls = world.cfgpu.emulator.faults, world.cfgpu.emulator.calls
    faults.kind(FaultKind.DELAY_AFTER_COMMIT, "instance/status", times=1000, delay=1.5)
    await world.poll_under_way()
    world.patch_spec("busy", {"state": "Stopped"})
    await eventually(lambda: calls("instance/{id}/stop"), what="stop")
    await world.polls_ended(since=len(calls()))
    assert len(calls("instance/{id}/stop")) == 1
    world.cfgpu.clock.advance(3)
    await world.phase("busy", "Stopped")
