"""GpuQuota through the real operator: twenty GpuInstances applied at once against eight
GPUs end with exactly eight rented, also when the operator is killed in the middle; the
rest wait (QuotaExceeded, naming the quota and the numbers) and go ahead by themselves
when room is made; `kubectl get gpuq`'s columns come from the quota's status."""

from __future__ import annotations

from typing import Any

from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World
from tests.integration.gpuinstance.test_kubectl_with_operator import kubectl

COUNT, LIMIT = 20, 8


def apply_quota(world: World, name: str, max_gpus: int) -> None:
    body = {"metadata": {"name": name}, "spec": {"maxGpus": max_gpus}}
    world.cluster.create(world.kind(plural="gpuquotas"), "default", body)


def quota(world: World, name: str) -> dict[str, Any]:
    found = world.cluster.store.get(world.kind(plural="gpuquotas").key, "default", name) or {}
    return dict(found.get("status") or {})


def count(world: World, *, phase: str | None = None, reason: str | None = None) -> int:
    names = [f"gpu-{i}" for i in range(COUNT)]
    if phase is not None:
        return sum(world.status(n).get("phase") == phase for n in names)
    return sum(world.ready(n).get("reason") == reason for n in names)


async def settled(world: World, stopped: int = 0) -> None:
    await eventually(lambda: count(world, phase="Running") == LIMIT, within=60, what="8 Running")
    waiting = COUNT - LIMIT - stopped
    await eventually(
        lambda: count(world, reason="QuotaExceeded") == waiting, within=30, what="the rest wait"
    )


async def test_twenty_at_once_against_eight_gpus_rent_exactly_eight(world: World) -> None:
    config = world.cfgpu.emulator.config
    config.create_seconds = config.stop_seconds = 0
    apply_quota(world, "team", LIMIT)
    await eventually(lambda: quota(world, "team").get("gpus") == f"0/{LIMIT}", what="enforced")
    for i in range(COUNT):
        world.apply(f"gpu-{i}")
    await settled(world)
    assert len(world.cfgpu.emulator.calls("instance/create")) == LIMIT
    waiting = next(
        n for n in (f"gpu-{i}" for i in range(COUNT)) if world.status(n)["phase"] == "Pending"
    )
    assert world.ready(waiting)["message"].startswith(
        f"GpuQuota team allows {LIMIT} GPUs, {LIMIT} are in use and this instance needs 1"
    )
    status = await eventually(
        lambda: quota(world, "team").get("waiting") == COUNT - LIMIT and quota(world, "team")
    )
    assert status["gpus"] == f"{LIMIT}/{LIMIT}"
    exceeded = next(c for c in status["conditions"] if c["type"] == "Exceeded")
    assert (exceeded["status"], exceeded["reason"]) == ("True", "InstancesWaiting")
    code, out = await kubectl(world, "get", "gpuq")
    assert code == 0, out
    header, row = out.splitlines()
    assert header.split() == ["NAME", "GPUS", "WAITING", "EXCEEDED", "AGE"]
    assert row.split()[:4] == ["team", f"{LIMIT}/{LIMIT}", str(COUNT - LIMIT), "True"]
    # Room made: exactly one waiting object takes it, by itself.
    running = next(
        n for n in (f"gpu-{i}" for i in range(COUNT)) if world.status(n)["phase"] == "Running"
    )
    world.patch_spec(running, {"state": "Stopped"})
    await eventually(
        lambda: len(world.cfgpu.emulator.calls("instance/create")) == LIMIT + 1, within=30
    )
    await settled(world, stopped=1)
    assert world.status(running)["phase"] == "Stopped"


async def test_a_kill_in_the_middle_rents_no_more_than_the_quota(world: World) -> None:
    world.cfgpu.emulator.config.create_seconds = 0
    apply_quota(world, "team", LIMIT)
    await eventually(lambda: quota(world, "team").get("gpus") == f"0/{LIMIT}", what="enforced")
    for i in range(COUNT):
        world.apply(f"gpu-{i}")
    creates = world.cfgpu.emulator.calls
    await eventually(lambda: len(creates("instance/create")) >= 3, what="renting under way")
    await world.operator.kill()
    await world.operator.start()
    await settled(world)
    assert len(creates("instance/create")) == LIMIT
    assert len(world.instances()) == LIMIT
