"""kill -9 of the operator at random moments while several objects are created, stopped,
re-imaged and released; after a restart everything converges: no instance rented twice,
none left running, no object stuck, every finalizer gone. Each trial is a test named by its
seed (``[seed7]``); ``--soak-seed 7 --soak-trials 1`` replays it."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World

pytestmark = pytest.mark.soak

OBJECTS = 3
OTHER_IMAGE = {"system": None, "id": "image_pt241c12"}


async def kill_somewhere(world: World, rng: random.Random) -> None:
    """SIGKILL once the API servers have seen a random number of further requests (0 to 8):
    between any two calls of a step, wherever that falls."""
    seen = len(world.cfgpu.emulator.requests) + len(world.kube.emulator.requests)
    wanted = seen + rng.randint(0, 8)
    await eventually(
        lambda: len(world.cfgpu.emulator.requests) + len(world.kube.emulator.requests) >= wanted,
        within=30,
        what="the moment to kill",
    )
    await world.operator.kill()
    await world.operator.start()


async def test_kill9_at_random_moments_loses_and_doubles_nothing(world: World, trial: int) -> None:
    config = world.cfgpu.emulator.config
    config.create_seconds = config.start_seconds = config.stop_seconds = 0
    config.release_seconds = 0
    rng = random.Random(trial)  # noqa: S311 - reproducible kill points, not secrets
    await one_trial(world, rng, [f"k{n}" for n in range(OBJECTS)])


async def one_trial(world: World, rng: random.Random, names: list[str]) -> None:
    for name in names:
        world.apply(name)
    await kill_somewhere(world, rng)  # while renting
    await all_phase(world, names, "Running")

    world.patch_spec(names[0], {"image": OTHER_IMAGE})
    world.patch_spec(names[1], {"state": "Stopped"})
    await kill_somewhere(world, rng)  # while stopping and re-imaging
    await eventually(
        lambda: (
            world.status(names[0]).get("imageId") == OTHER_IMAGE["id"]
            and world.status(names[0]).get("phase") == "Running"
        ),
        within=60,
        what="re-imaged and running again",
    )
    await all_phase(world, names[1:2], "Stopped")

    for name in names:
        world.delete(name)
    await kill_somewhere(world, rng)  # while stopping and releasing
    await eventually(
        lambda: all(world.get(name) is None for name in names), within=60, what="all gone"
    )
    state = world.cfgpu.emulator.state
    state.settle()
    mine = [i for i in state.instances.values() if any(n in i.name for n in names)]
    per_name = Counter(i.name for i in mine)
    assert all(count == 1 for count in per_name.values()), f"rented twice: {per_name}"
    assert len(per_name) == len(names), f"not rented: {sorted(per_name)}"
    left = {i.name: i.status for i in mine if i.status != "RELEASED"}
    assert not left, f"left running or stopped: {left}"


async def all_phase(world: World, names: list[str], phase: str, within: float = 60) -> None:
    await eventually(
        lambda: all(world.status(n).get("phase") == phase for n in names),
        within=within,
        what=f"{names} {phase}",
    )
