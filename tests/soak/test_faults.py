"""CFGPU misbehaving on 30 % of all calls (server errors, 429s, timeouts, malformed, empty and
HTML bodies, dropped connections before and after acting, and every business error code of
the reference) while 20 objects are created, stopped, started, re-imaged and deleted:
everything converges, nothing is rented twice or left behind, the operator never calls in a
hot loop, and the faults show in Events while they last. ``[seedN]`` replays a trial."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from cfgpu_operator.emulators.faults import Fault, FaultKind
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import FAST_SETTINGS, World
from tests.soak.test_kill9 import all_phase

pytestmark = pytest.mark.soak

OBJECTS = 20
SHARE = 0.3
TIMEOUT = float(FAST_SETTINGS["CFGPU_OPERATOR_HTTP_TIMEOUT"])
BUSINESS_CODES = ("50001", "51001", "51002", *(str(c) for c in range(52001, 52010)))
OTHER_IMAGE = {"system": None, "id": "image_pt241c12"}
STEP = 120.0  # seconds a step of 20 objects may take with every third call failing
MUTATIONS = {
    "instance/create",
    "instance/{id}/start",
    "instance/{id}/stop",
    "instance/{id}/release",
    "instance/{id}/changeImage",
}
# The calls that act when nothing fails: 20 creates; 30 stops (5 asked for, 5 to re-image,
# 20 to delete); 10 starts (the 5 stopped, the 5 re-imaged); 5 re-images; 20 releases.
IDEAL_ACTS = 20 + 30 + 10 + 5 + 20
RETRIES_AT_MOST = 3  # a 30 % failure rate needs 1.4 attempts per act on average
# The shared poll reads at most twice per fast interval; a hot loop reads at the rate limit.
MOST_READS_PER_SECOND = 2 * 2 / float(FAST_SETTINGS["CFGPU_OPERATOR_POLL_FAST"])
API_TROUBLE = {"ApiUnavailable", "RateLimited", "ApiError", "WaitingForCapacity"}


def chaos() -> list[Fault]:
    """Each kind of trouble, equally likely."""
    transport = [
        Fault(FaultKind.HTTP, status=500),
        Fault(FaultKind.HTTP, status=503),
        Fault(FaultKind.HTTP, status=429, headers={"Retry-After": "1"}),
        Fault(FaultKind.LATENCY, delay=TIMEOUT + 0.5),  # the client times out
        Fault(FaultKind.MALFORMED),
        Fault(FaultKind.HTML),
        Fault(FaultKind.EMPTY),
        Fault(FaultKind.DROP),
        Fault(FaultKind.DROP_AFTER_COMMIT),  # acted, but the answer is lost
    ]
    business = [
        Fault(FaultKind.ERROR, code=code, message=f"injected business error {code}")
        for code in BUSINESS_CODES
    ]
    return transport + business


# An injected "no capacity" would hold the one offer empty for a minute (the stock memory),
# longer than a step may take: here it is short, as the faults are not real shortages.
@pytest.mark.parametrize(
    "operator_env", [{"CFGPU_OPERATOR_RATE_LIMIT": "50", "CFGPU_OPERATOR_STOCK_MEMORY": "1"}]
)
async def test_thirty_percent_faults_converge_with_nothing_lost(world: World, trial: int) -> None:
    emulator = world.cfgpu.emulator
    config = emulator.config
    config.create_seconds = config.start_seconds = config.stop_seconds = 0
    config.release_seconds = 0
    emulator.state.set_stock("hz", "nt8cyt3s", 4 * OBJECTS)
    names = [f"f{n:02d}" for n in range(OBJECTS)]
    started = time.monotonic()
    emulator.faults.chaos(SHARE, chaos(), seed=trial)
    first = len(emulator.requests)

    for name in names:
        world.apply(name)
    await all_phase(world, names, "Running", within=STEP)

    stopped, reimaged = names[:5], names[5:10]
    for name in stopped:
        world.patch_spec(name, {"state": "Stopped"})
    for name in reimaged:
        world.patch_spec(name, {"image": OTHER_IMAGE})
    await all_phase(world, stopped, "Stopped", within=STEP)
    await eventually(
        lambda: all(
            world.status(n).get("imageId") == OTHER_IMAGE["id"]
            and world.status(n).get("phase") == "Running"
            for n in reimaged
        ),
        within=STEP,
        what="re-imaged and running",
    )
    for name in stopped:
        world.patch_spec(name, {"state": "Running"})
    await all_phase(world, stopped, "Running", within=STEP)

    for name in names:
        world.delete(name)
    await eventually(lambda: all(world.get(n) is None for n in names), within=STEP, what="gone")
    emulator.faults.chaos(0, [], seed=trial)
    took = time.monotonic() - started

    assert emulator.faults.chaos_fired > 0
    state = emulator.state
    state.settle()
    mine = [i for i in state.instances.values() if any(n in i.name for n in names)]
    per_name = Counter(i.name for i in mine)
    assert all(count == 1 for count in per_name.values()), f"rented twice: {per_name}"
    assert len(per_name) == OBJECTS, f"not rented: {sorted(per_name)}"
    left = {i.name: i.status for i in mine if i.status != "RELEASED"}
    assert not left, f"left running or stopped: {left}"
    # Kopf posts Events from a queue, in the background: some land after the objects went.
    await eventually(
        lambda: warned(world) & API_TROUBLE,
        within=STEP,
        what=f"a fault reported where a user looks (Warning Events: {warned(world)})",
    )
    calls = Counter(c.endpoint for c in list(emulator.requests)[first:])
    acts = sum(n for endpoint, n in calls.items() if endpoint in MUTATIONS)
    assert acts <= RETRIES_AT_MOST * IDEAL_ACTS, f"{acts} calls that act: {calls}"
    reads = calls["instance/status"] + calls["instance/page"]
    assert reads / took <= MOST_READS_PER_SECOND, f"{reads} reads in {took:.0f} s"


def warned(world: World) -> set[str]:
    """Reasons of the Warning Events posted so far."""
    return {str(e.get("reason")) for e in world.events() if e.get("type") == "Warning"}
