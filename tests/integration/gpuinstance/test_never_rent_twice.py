"""Never rent twice: a crash between the create call and the status write, names, adoption."""

from __future__ import annotations

import itertools

import pytest

from cfgpu_operator.emulators.faults import FaultKind
from cfgpu_operator.reconcile.status import TRUST_UNSEEN
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import FAST_SETTINGS, World


async def test_crash_after_create_finds_the_instance_instead_of_renting_again(
    world: World,
) -> None:
    # CFGPU commits the create but answers only much later: the operator dies waiting.
    world.cfgpu.emulator.faults.kind(FaultKind.DELAY_AFTER_COMMIT, "instance/create", delay=60)
    world.apply("trainer")
    await eventually(lambda: len(world.instances()) == 1, what="instance committed")
    assert world.status("trainer").get("instanceName")  # the intent was stored first
    assert "instanceId" not in world.status("trainer")
    await world.operator.kill()

    await world.operator.start()
    await eventually(lambda: world.status("trainer").get("instanceId"), what="adopted by name")
    (only,) = world.instances()
    assert world.status("trainer")["instanceId"] == only.id
    assert len(world.cfgpu.emulator.calls("instance/create")) == 1
    world.cfgpu.clock.advance(5)
    await world.phase("trainer", "Running")
    assert len(world.instances()) == 1


TIMEOUT = float(FAST_SETTINGS["CFGPU_OPERATOR_HTTP_TIMEOUT"])


@pytest.mark.parametrize(
    ("fault", "delay"),
    [
        # CFGPU rents, then the connection drops: polls begun before the call cannot show it.
        (FaultKind.DROP_AFTER_COMMIT, 0.0),
        # CFGPU rents only long after the client gave up: polls begun after the timeout
        # cannot show it either, for a while.
        (FaultKind.LATENCY, 2.75 * TIMEOUT),
    ],
)
async def test_a_create_whose_answer_is_lost_is_found_not_repeated(
    world: World, fault: FaultKind, delay: float
) -> None:
    world.cfgpu.emulator.config.create_seconds = 0
    world.apply("warm")  # the account's poll is under way before the create below
    await world.phase("warm", "Running")
    world.cfgpu.emulator.faults.kind(fault, "instance/create", delay=delay)
    world.apply("lost-answer")
    status = await world.phase("lost-answer", "Running")
    calls = world.cfgpu.emulator.calls
    await eventually(
        lambda: any(c.fault == fault.value for c in calls("instance/create")),
        what="the lost create served",
    )
    named = [i for i in world.instances() if "lost-answer" in i.name]
    assert [i.id for i in named] == [status["instanceId"]]
    assert len(world.cfgpu.emulator.calls("instance/create")) == 2  # warm + the lost one


async def test_two_instances_with_our_name_stop_everything(world: World) -> None:
    state = world.cfgpu.emulator.state
    account = state.accounts[next(iter(state.accounts))]
    body = {
        "priceType": "Usage",
        "regionCode": "hz",
        "gpuType": "nt8cyt3s",
        "gpuNum": 1,
        "imageId": "image_exc6f72b",
    }
    world.apply("twin", instanceName="shared-name")
    await eventually(lambda: world.status("twin").get("instanceId"), what="first create")
    # Someone rents a second instance under the same name, and the object forgets its id.
    from cfgpu_operator.emulators.cfgpu import actions

    actions.create(state, account, {**body, "instanceName": "shared-name"})
    world.cluster.patch(
        world.kind(),
        "default",
        "twin",
        "application/merge-patch+json",
        {"status": {"instanceId": None}},
        subresource="status",
    )
    await eventually(
        lambda: world.ready("twin").get("reason") == "AmbiguousInstance", what="AmbiguousInstance"
    )
    await eventually(lambda: world.events("AmbiguousInstance"), what="Warning event")
    assert len(world.cfgpu.emulator.calls("instance/create")) == 1


async def test_a_lagging_watch_repeats_no_call(world: World) -> None:
    """Every handler until the watch catches up holds a body from before the last patch."""
    world.kube.emulator.watches.lag = 1.0
    await world.running("trainer")
    world.delete("trainer")
    await world.release_deleted("trainer")
    calls = world.cfgpu.emulator.calls
    counts = [
        len(calls(e)) for e in ("instance/create", "instance/{id}/stop", "instance/{id}/release")
    ]
    assert counts == [1, 1, 1]
    assert [e["message"].split()[0] for e in world.events("InstanceCreated")] == ["rented"]


async def test_a_watch_later_than_the_trust_window_repeats_no_write(world: World) -> None:
    """Under load the watch brings bodies back seconds late, later than the operator trusts
    a write the body does not show: a body that predates its own writes must not make it
    decide again (record the name again, adopt its own instance) or write again."""
    config = world.cfgpu.emulator.config
    config.create_seconds = config.start_seconds = 0
    world.kube.emulator.watches.lag = TRUST_UNSEEN + 1
    world.apply("late")
    await world.phase("late", "Running", within=40)
    running = world.cluster.store.resource_version
    # Long enough for the watch to bring every body back and periodic runs to read them.
    await world.polls_ended(since=len(world.cfgpu.emulator.calls()), count=15)
    # Only Kopf's own record of the handled spec may follow (when the periodic run did the
    # creation before Kopf's create handler saw the object).
    assert changes_since(world, running) <= {"kopf"}
    assert [e["message"].split()[0] for e in world.events("InstanceCreated")] == ["rented"]
    assert len(world.cfgpu.emulator.calls("instance/create")) == 1


def changes_since(world: World, version: int) -> set[str]:
    """Status fields of the objects changed by writes after ``version``."""
    history = list(world.cluster.store.bucket(world.kind().key).history)
    changed: set[str] = set()
    for before, after in itertools.pairwise(history):
        if after.rv > version:
            a, b = before.object.get("status") or {}, after.object.get("status") or {}
            changed |= {k for k in {*a, *b} if a.get(k) != b.get(k)}
    return changed


async def test_nothing_is_rented_until_the_name_is_stored(world: World) -> None:
    """The name is stored with a status write of its own before the create call; when the
    API server refuses that write, nothing is rented until a later attempt stores it."""
    world.kube.emulator.faults.http("patch:gpuinstances.cfgpu.io/status", 500, times=1)
    world.apply("careful")
    await eventually(lambda: world.status("careful").get("instanceId"), what="rented")
    assert "could not store the instance name yet (HTTP 500" in world.operator.log()
    assert len(world.cfgpu.emulator.calls("instance/create")) == 1
    (instance,) = world.instances()
    assert instance.name == world.status("careful")["instanceName"]
