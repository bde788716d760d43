"""Promises about money and identity that rare CFGPU answers used to break, each through the
real operator process: a deletion ends only when nothing is left billed, no instance is
managed twice, an expired instance is never started, and waiting always says why."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cfgpu_operator.emulators.cfgpu import actions
from tests.conftest import TOKEN
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World
from tests.integration.gpuinstance.test_delete_adopt_credentials import (
    instant,
    secret_seen_missing,
    team_secret,
)


def existing(world: World, name: str = "theirs", **body: Any) -> str:
    """An instance rented outside the operator; its id."""
    state = world.cfgpu.emulator.state
    created = actions.create(
        state,
        state.accounts[TOKEN],
        {
            "priceType": "Usage",
            "regionCode": "hz",
            "gpuType": "nt8cyt3s",
            "gpuNum": 1,
            "imageId": "image_exc6f72b",
            "instanceName": name,
            **body,
        },
    )
    state.settle()
    return created.id


def mutating_calls(world: World) -> list[str]:
    return [
        c.endpoint
        for c in world.cfgpu.emulator.calls()
        if c.endpoint.endswith(("/start", "/stop", "/release", "/changeImage"))
    ]


async def test_52009_on_a_pay_as_you_go_stop_does_not_end_the_deletion(world: World) -> None:
    instant(world)
    world.apply("payg")
    status = await world.phase("payg", "Running")
    world.cfgpu.emulator.faults.error("instance/{id}/stop", 52009, "未到期包年包月实例暂不支持释放")
    world.delete("payg")
    await eventually(lambda: world.get("payg") is None, within=30, what="deleted")
    assert world.cfgpu.emulator.state.instances[status["instanceId"]].status == "RELEASED"
    assert len(world.cfgpu.emulator.calls("instance/{id}/stop")) == 2
    assert world.events("PrepaidNotExpired") == []


async def test_observe_only_deletion_never_stops_or_releases(world: World) -> None:
    instant(world)
    instance_id = existing(world)
    world.apply("watcher", instanceId=instance_id, managementPolicy="ObserveOnly")
    await eventually(lambda: world.ready("watcher").get("status") == "True", what="adopted")
    world.delete("watcher")
    await eventually(lambda: world.get("watcher") is None, what="deleted")
    assert world.cfgpu.emulator.state.instances[instance_id].status == "RUNNING"
    assert mutating_calls(world) == []


async def test_two_objects_never_share_an_instance_by_name(world: World) -> None:
    instant(world)
    world.apply("first", instanceName="shared-name")
    first = await world.phase("first", "Running")
    world.apply("second", instanceName="shared-name")
    await eventually(lambda: world.ready("second").get("reason") == "AlreadyManaged")
    assert "GpuInstance default/first" in world.ready("second")["message"]
    assert "instanceId" not in world.status("second")
    world.delete("second")
    await eventually(lambda: world.get("second") is None, what="second deleted")
    assert world.cfgpu.emulator.state.instances[first["instanceId"]].status == "RUNNING"
    assert len(world.cfgpu.emulator.calls("instance/create")) == 1
    assert world.ready("first")["reason"] == "Running"


async def test_an_expired_instance_is_never_started(world: World) -> None:
    instant(world)
    world.apply("daily", billing={"priceType": "Day"}, state="Stopped")
    await world.phase("daily", "Stopped")
    world.cfgpu.clock.advance(24 * 3600 + 1)
    # Once a poll has shown it expired, no start may follow.
    await world.polls_ended(since=len(world.cfgpu.emulator.calls()), count=2)
    world.patch_spec("daily", {"state": "Running"})
    await eventually(lambda: world.ready("daily").get("reason") == "InstanceExpired")
    await world.polls_ended(since=len(world.cfgpu.emulator.calls()), count=4)
    assert world.cfgpu.emulator.calls("instance/{id}/start") == []
    assert world.status("daily")["phase"] == "Stopped"
    assert len(world.events("InstanceExpired")) == 1


async def test_an_instance_about_to_expire_is_warned_about_once(world: World) -> None:
    instant(world)
    world.apply("weekly", billing={"priceType": "Week"})
    await world.phase("weekly", "Running")
    world.cfgpu.clock.advance(7 * 24 * 3600 - 3600)  # an hour left
    warning = await eventually(lambda: world.events("InstanceExpiring"), what="a warning")
    assert warning[0]["type"] == "Warning"
    await world.polls_ended(since=len(world.cfgpu.emulator.calls()), count=3)
    assert len(world.events("InstanceExpiring")) == 1


async def test_a_deletion_waiting_on_credentials_is_not_ready(world: World) -> None:
    instant(world)
    secrets = team_secret(world)
    world.apply("team", credentialsSecretRef={"name": "team-token"})
    await world.phase("team", "Running")
    world.cluster.delete(secrets, "default", "team-token")
    await secret_seen_missing(world)
    world.delete("team")
    blocked = "not visible with the operator's token"
    await eventually(lambda: blocked in world.ready("team").get("message", ""), what="why")
    assert (world.ready("team")["status"], world.ready("team")["reason"]) == (
        "False",
        "CredentialsError",
    )


async def test_cfgpu_down_during_deletion_turns_synced_false(world: World) -> None:
    instant(world)
    world.apply("down")
    await world.phase("down", "Running")
    world.cfgpu.emulator.faults.http("*", 503, times=10_000)
    world.delete("down")
    await eventually(lambda: world.synced("down").get("reason") == "ApiUnavailable")
    assert world.synced("down")["status"] == "False"
    assert world.ready("down")["reason"] == "Deleting"


async def test_an_invalid_spec_is_pending_not_creating(world: World) -> None:
    world.apply("typo", gpuType="NOPE")
    await eventually(lambda: world.ready("typo").get("reason") == "InvalidSpec")
    assert world.status("typo")["phase"] == "Pending"


async def test_adopting_an_unknown_id_says_not_found_in_english(world: World) -> None:
    world.apply("stray", instanceId="instance-doesnotexist")
    await eventually(lambda: world.ready("stray").get("reason") == "InstanceNotFound")
    status = world.status("stray")
    assert status["phase"] == "Pending"
    message = world.ready("stray")["message"]
    assert message.startswith("instance instance-doesnotexist was not found on CFGPU")
    assert "实例不存在" in message


@pytest.mark.parametrize("wording", ["invalid instance id", "实例ID错误"])
async def test_a_vanished_instance_ends_deletion_whatever_the_wording(
    world: World, wording: str
) -> None:
    instant(world)
    world.cfgpu.emulator.config.unknown_instance_message = wording
    world.apply("vanish")
    status = await world.phase("vanish", "Running")
    del world.cfgpu.emulator.state.instances[status["instanceId"]]
    world.delete("vanish")
    await eventually(lambda: world.get("vanish") is None, what="deletion finished")


async def test_the_image_minimum_system_disk_is_met(world: World) -> None:
    instant(world)
    world.apply("vm", adaptType="VM", image={"id": "image_ubvm2204"})
    await world.phase("vm", "Running")
    create = world.cfgpu.emulator.calls("instance/create")[0]
    assert create.body["sysDiskExpandSize"] == 20  # 30 GB free + 20 = the image's 50 GB
    event = await eventually(lambda: world.events("SystemDiskExpanded"), what="an Event")
    assert "20 GB" in event[0]["message"]


async def test_one_object_refused_again_and_again_does_not_speed_up_the_poll(
    world: World,
) -> None:
    instant(world)
    world.apply("quiet", state="Stopped")
    world.apply("busy", state="Stopped")
    await world.phase("quiet", "Stopped")
    await world.phase("busy", "Stopped")
    # CFGPU keeps saying "already running" while its listing says CLOSED.
    world.cfgpu.emulator.faults.error("instance/{id}/start", 52003, "实例已开机", times=10_000)
    world.patch_spec("busy", {"state": "Running"})
    calls = world.cfgpu.emulator.calls
    await eventually(lambda: calls("instance/{id}/start"), what="a first start")
    since = len(calls())
    await asyncio.sleep(3)  # a measurement window, not a wait for anything
    polls = [c for c in calls()[since:] if c.endpoint == "instance/status"]
    starts = [c for c in calls()[since:] if c.endpoint == "instance/{id}/start"]
    # The slow cadence (1 s) gives about 3 polls; the fast one (0.2 s) would give about 15,
    # with a start after each.
    assert len(starts) <= len(polls) <= 6
