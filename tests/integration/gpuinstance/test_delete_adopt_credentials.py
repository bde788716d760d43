"""Deletion paths, adoption, observe-only, pause, and per-object credentials."""

from __future__ import annotations

import asyncio
import base64

import pytest

from cfgpu_operator.emulators.faults import Fault, FaultKind
from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from tests.conftest import OTHER_TOKEN, TOKEN
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World


def team_secret(world: World) -> ResourceType:
    """A Secret "team-token" holding the other account's token; returns the secrets kind."""
    secrets = world.cluster.registry.get("", "v1", "secrets")
    assert secrets is not None
    token = base64.b64encode(OTHER_TOKEN.encode()).decode()
    world.cluster.create(
        secrets, "default", {"metadata": {"name": "team-token"}, "data": {"token": token}}
    )
    return secrets


async def secret_seen_missing(world: World) -> None:
    """Wait until the operator has read the deleted Secret (its value is cached briefly)."""
    reads = world.kube.emulator.calls
    await eventually(
        lambda: any(c.status == 404 for c in reads("get", "secrets")), what="Secret re-read"
    )


def instant(world: World) -> None:
    config = world.cfgpu.emulator.config
    config.create_seconds = config.stop_seconds = config.release_seconds = 0
    config.start_seconds = 0


async def test_never_created_object_is_deleted_at_once(world: World) -> None:
    world.cfgpu.emulator.state.set_stock("hz", "nt8cyt3s", 0)
    world.apply("never", gpuType="NOPE")
    await eventually(lambda: world.ready("never").get("reason") == "InvalidSpec")
    world.delete("never")
    await eventually(lambda: world.get("never") is None, what="deleted without an instance")


async def test_orphan_policy_leaves_the_instance(world: World) -> None:
    instant(world)
    world.apply("keep", deletionPolicy="Orphan")
    status = await world.phase("keep", "Running")
    world.delete("keep")
    await eventually(lambda: world.get("keep") is None)
    assert world.cfgpu.emulator.state.instances[status["instanceId"]].status == "RUNNING"
    assert world.cfgpu.emulator.calls("instance/{id}/release") == []


async def test_already_released_instance_finishes_deletion(world: World) -> None:
    instant(world)
    world.apply("done")
    status = await world.phase("done", "Running")
    world.cfgpu.emulator.state.force_status(status["instanceId"], "RELEASED")
    world.delete("done")
    await eventually(lambda: world.get("done") is None)


async def test_prepaid_instance_is_stopped_and_left_to_expire(world: World) -> None:
    instant(world)
    world.apply("prepaid", billing={"priceType": "Day", "serviceTime": 1})
    status = await world.phase("prepaid", "Running")
    world.delete("prepaid")
    await eventually(lambda: world.get("prepaid") is None, what="no stuck deletion")
    assert world.cfgpu.emulator.state.instances[status["instanceId"]].status == "CLOSED"
    warning = await eventually(lambda: world.events("PrepaidNotExpired"), what="Warning Event")
    assert "releases it at" in warning[0]["message"]


async def test_adoption_and_already_managed(world: World) -> None:
    instant(world)
    world.apply("first")
    status = await world.phase("first", "Running")
    world.apply("second", instanceId=status["instanceId"])
    await eventually(lambda: world.ready("second").get("reason") == "AlreadyManaged")
    world.apply("observer", instanceId=status["instanceId"], managementPolicy="ObserveOnly")
    await eventually(lambda: world.ready("observer").get("reason") == "AlreadyManaged")
    assert len(world.cfgpu.emulator.calls("instance/create")) == 1


async def test_a_starting_operator_knows_who_manages_what_before_any_handler(
    world: World,
) -> None:
    # Applied while the operator is down, "second" names the instance "first" manages. On
    # start, "second" must not adopt it, however the two objects' handlers are ordered.
    instant(world)
    world.apply("first")
    status = await world.phase("first", "Running")
    await world.operator.stop()
    world.apply("second", instanceId=status["instanceId"])
    await world.operator.start()
    await eventually(lambda: world.ready("second").get("reason") == "AlreadyManaged")
    assert "instanceId" not in world.status("second")


async def test_observe_only_reports_drift_without_calling_mutating_endpoints(
    world: World,
) -> None:
    instant(world)
    state = world.cfgpu.emulator.state
    from cfgpu_operator.emulators.cfgpu import actions

    account = state.accounts[TOKEN]
    existing = actions.create(
        state,
        account,
        {
            "priceType": "Usage",
            "regionCode": "hz",
            "gpuType": "nt8cyt3s",
            "gpuNum": 1,
            "imageId": "image_exc6f72b",
            "instanceName": "theirs",
        },
    )
    state.settle()
    world.apply("watcher", instanceId=existing.id, managementPolicy="ObserveOnly", state="Stopped")
    await eventually(lambda: world.ready("watcher").get("reason") == "ObserveOnly")
    assert "not corrected" in world.ready("watcher")["message"]
    await asyncio.sleep(1.0)  # several reconciles, none of which may act
    mutating = [
        c
        for c in world.cfgpu.emulator.calls()
        if c.method == "POST" and c.endpoint not in ("instance/page",)
    ]
    assert mutating == []
    world.delete("watcher")  # Release policy, but deleting needs no create either


async def test_paused_stops_actions_but_not_deletion(world: World) -> None:
    instant(world)
    world.apply("paused")
    status = await world.phase("paused", "Running")
    world.cluster.patch(
        world.kind(),
        "default",
        "paused",
        "application/merge-patch+json",
        {"metadata": {"annotations": {"cfgpu.io/paused": "true"}}, "spec": {"state": "Stopped"}},
    )
    await eventually(lambda: world.ready("paused").get("reason") == "Paused")
    assert world.cfgpu.emulator.calls("instance/{id}/stop") == []
    world.delete("paused")
    await eventually(lambda: world.get("paused") is None)
    instance = world.cfgpu.emulator.state.instances.get(status["instanceId"])
    assert instance is None or instance.status == "RELEASED"


async def test_per_object_secret_and_no_token_anywhere(world: World) -> None:
    instant(world)
    team_secret(world)
    world.apply("team", credentialsSecretRef={"name": "team-token"})
    status = await world.phase("team", "Running")
    owner = world.cfgpu.emulator.state.instances[status["instanceId"]].account
    assert owner is world.cfgpu.emulator.state.accounts[OTHER_TOKEN]

    world.apply("orphaned-secret", credentialsSecretRef={"name": "missing"})
    await eventually(lambda: world.ready("orphaned-secret").get("reason") == "CredentialsError")
    assert "default/missing" in world.ready("orphaned-secret")["message"]
    world.delete("orphaned-secret")  # never created: goes at once despite the missing Secret
    await eventually(lambda: world.get("orphaned-secret") is None)

    texts = [world.operator.log()] + [str(e) for e in world.events()] + [str(world.get("team"))]
    for token in (TOKEN, OTHER_TOKEN):
        assert all(token not in text for text in texts)


async def test_deleted_secret_does_not_leak_an_instance(world: World) -> None:
    instant(world)
    secrets = team_secret(world)
    world.apply("team", credentialsSecretRef={"name": "team-token"})
    status = await world.phase("team", "Running")
    instance = world.cfgpu.emulator.state.instances[status["instanceId"]]
    world.cluster.delete(secrets, "default", "team-token")
    await secret_seen_missing(world)
    world.delete("team")
    await eventually(
        lambda: any(
            "not visible with the operator's token" in e["message"]
            for e in world.events("CredentialsError")
        ),
        what="waits and says why",
    )
    assert world.get("team") is not None
    assert instance.status == "RUNNING"
    # The user lets go of it explicitly:
    world.patch_spec("team", {"deletionPolicy": "Orphan"})
    await eventually(lambda: world.get("team") is None, within=60, what="orphaned")


@pytest.mark.parametrize(
    "slow",
    [
        # the poll ends long after the handler's call: retries must not act on the old one
        # (its status list is read 1.5 s after the poll began; a steady poll pages nothing)
        Fault(FaultKind.LATENCY, "instance/status", delay=1.5, times=1000),
        # each poll's statuses are read as it begins and arrive 1.5 s later: a poll that
        # began before the call ends after it, still showing the instance RUNNING
        Fault(FaultKind.DELAY_AFTER_COMMIT, "instance/status", delay=1.5, times=1000),
    ],
    ids=["slow-poll", "old-news"],
)
async def test_delete_never_repeats_a_call_while_the_poll_is_stale(
    world: World, slow: Fault
) -> None:
    await world.running("slow-news")
    world.cfgpu.emulator.faults.add(slow)
    # Delete while a poll is under way (its slow call has begun), so it ends after the stop.
    await world.poll_under_way()
    world.delete("slow-news")
    calls = world.cfgpu.emulator.calls
    await eventually(lambda: calls("instance/{id}/stop"), what="stop")
    # Still STOPPING while two polls end (the first began before the stop), with the delete
    # handler retrying every 0.2 s meanwhile; only then does CFGPU's clock move on.
    await world.polls_ended(since=len(calls()))
    await world.release_deleted("slow-news")
    assert len(world.cfgpu.emulator.calls("instance/{id}/stop")) == 1
    assert len(world.cfgpu.emulator.calls("instance/{id}/release")) == 1


async def test_deleting_calls_stop_and_release_and_nothing_more(world: World) -> None:
    """CFGPU accepted our release and a complete listing begun after it lacks the instance:
    that is proof enough, so a quick CFGPU costs exactly two calls per deleted object (each
    object asking after its own instance would double the time 1,000 deletions take)."""
    await world.running("brief")
    config = world.cfgpu.emulator.config
    config.stop_seconds = config.release_seconds = 0
    calls = world.cfgpu.emulator.calls
    since = len(calls())
    world.delete("brief")
    await eventually(lambda: world.get("brief") is None, what="brief gone")
    own = [c.endpoint for c in calls()[since:] if "{id}" in c.endpoint]
    assert own == ["instance/{id}/stop", "instance/{id}/release"]
    (instance,) = world.cfgpu.emulator.state.instances.values()
    assert instance.status == "RELEASED"
    await eventually(lambda: world.events("Released"), what="the Released Event")


@pytest.mark.parametrize("operator_env", [{"CFGPU_OPERATOR_BACKOFF_MAX": "60"}])
async def test_refusals_of_the_stop_do_not_lengthen_the_release_wait(world: World) -> None:
    """The backoff counts failures in a row: once the stop is accepted, a refused release
    waits the first backoff (0.1-0.2 s here), not the one the stop's five refusals reached
    (3.2-6.4 s); under 429s that sum made a 1,000-object deletion's tail minutes long."""
    await world.running("refused")
    instant(world)
    faults = world.cfgpu.emulator.faults
    faults.add(Fault(FaultKind.HTTP, "instance/{id}/stop", status=429, times=5))
    faults.add(Fault(FaultKind.HTTP, "instance/{id}/release", status=429, times=1))
    world.delete("refused")
    calls = world.cfgpu.emulator.calls
    await eventually(
        lambda: any(c.status == 429 for c in calls("instance/{id}/release")),
        within=30,
        what="the release refused",
    )
    await eventually(
        lambda: any(c.status == 200 for c in calls("instance/{id}/release")),
        within=2.5,
        what="the release sent again within the first backoff",
    )
    await eventually(lambda: world.get("refused") is None, what="refused gone")
    assert [c.status for c in calls("instance/{id}/stop")] == [429] * 5 + [200]


async def test_a_deletion_waiting_in_place_survives_kubernetes_refusing_it(world: World) -> None:
    """Between steps the deletion handler stores its status and re-reads the object itself:
    when the API server refuses either, the deletion goes on through Kopf's retry, and the
    instance is released exactly once."""
    world.apply("flaky")
    await eventually(lambda: world.status("flaky").get("cfgpuStatus") == "CREATING")
    world.cfgpu.clock.advance(5)
    status = await world.phase("flaky", "Running")
    faults = world.kube.emulator.faults
    faults.error("get:gpuinstances.cfgpu.io", 500, "etcd is slow", times=2)
    faults.error("patch:gpuinstances.cfgpu.io/status", 500, "etcd is slow", times=2)
    world.delete("flaky")
    await eventually(lambda: world.status("flaky").get("cfgpuStatus") == "STOPPING")
    world.cfgpu.clock.advance(30)
    await eventually(lambda: world.status("flaky").get("cfgpuStatus") == "RELEASING")
    world.cfgpu.clock.advance(30)
    await eventually(lambda: world.get("flaky") is None, within=60, what="deleted")
    refused = [c for c in world.kube.emulator.calls() if c.status == 500]
    assert len(refused) == 4  # each fault was met: both fallbacks were taken
    released = world.cfgpu.emulator.calls("instance/{id}/release")
    assert [c.status for c in released] == [200]
    assert world.cfgpu.emulator.state.instances[status["instanceId"]].status == "RELEASED"
