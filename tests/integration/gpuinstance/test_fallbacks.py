"""Capacity fallbacks through the real operator, driven by the CFGPU emulator's stock per
region and GPU type: the next offer is rented when the first is empty, an empty offer is
remembered so other objects do not try it, with every offer empty the object waits (one
Warning) and rents by itself once stock comes back, and a crash after a create on a
fallback finds that instance instead of renting another."""

from __future__ import annotations

import pytest

from cfgpu_operator.emulators.faults import FaultKind
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World

RTX4090, L40S = "nt8cyt3s", "ldo3kj09"
FALLBACKS = [{"gpuType": "L40S"}]


async def test_the_next_offer_is_rented_and_an_empty_one_is_not_tried_again(world: World) -> None:
    world.cfgpu.emulator.config.create_seconds = 0
    world.cfgpu.emulator.state.set_stock("hz", RTX4090, 0)
    world.apply("first", fallbacks=FALLBACKS)
    status = await world.phase("first", "Running")
    assert status["gpuTypeCode"] == L40S  # what was rented, not the spec's first choice
    (attempt,) = status["attempts"]
    assert (attempt["candidate"], attempt["code"]) == ("hz/RTX 4090", "BIZ_ERROR")
    creates = world.cfgpu.emulator.calls
    assert len(creates("instance/create")) == 2
    for i in range(4):
        world.apply(f"more-{i}", fallbacks=FALLBACKS)
    for i in range(4):
        await world.phase(f"more-{i}", "Running")
    # The empty offer was remembered: each later object rented on L40S with one call.
    assert len(creates("instance/create")) == 2 + 4


@pytest.mark.parametrize("operator_env", [{"CFGPU_OPERATOR_STOCK_MEMORY": "0.5"}])
async def test_with_every_offer_empty_it_waits_then_rents_by_itself(world: World) -> None:
    world.cfgpu.emulator.config.create_seconds = 0
    state = world.cfgpu.emulator.state
    state.set_stock("hz", RTX4090, 0)
    state.set_stock("hz", L40S, 0)
    world.apply("patient", fallbacks=FALLBACKS)
    await eventually(lambda: world.ready("patient").get("reason") == "WaitingForCapacity")
    assert world.status("patient")["phase"] == "Pending"
    assert world.ready("patient")["message"].startswith(
        "no capacity on any offer (hz/RTX 4090, hz/L40S)"
    )
    creates = world.cfgpu.emulator.calls
    await eventually(lambda: len(creates("instance/create")) >= 4, what="a second round")
    state.set_stock("hz", L40S, 8)
    status = await world.phase("patient", "Running")
    assert status["gpuTypeCode"] == L40S
    assert len(world.events("WaitingForCapacity")) == 1  # one Warning for the episode


async def test_a_crash_after_a_create_on_a_fallback_rents_nothing_more(world: World) -> None:
    faults = world.cfgpu.emulator.faults
    faults.error("instance/create", "51002", "GPU不足")  # the first offer: no capacity
    faults.kind(
        FaultKind.DELAY_AFTER_COMMIT, "instance/create", delay=60
    )  # then the answer is late
    world.apply("trainer", fallbacks=FALLBACKS)
    await eventually(lambda: len(world.instances()) == 1, what="rented on the fallback")
    await world.operator.kill()
    await world.operator.start()
    await eventually(lambda: world.status("trainer").get("instanceId"), what="found by name")
    (only,) = world.instances()
    assert world.status("trainer")["instanceId"] == only.id
    assert len(world.cfgpu.emulator.calls("instance/create")) == 2
    world.cfgpu.clock.advance(5)
    status = await world.phase("trainer", "Running")
    assert status["gpuTypeCode"] == L40S
    assert len(world.instances()) == 1
