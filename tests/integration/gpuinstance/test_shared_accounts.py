"""Accounts and credentials are shared by the objects that use them: Secrets are read once
per interval, not once per object and reconcile, and a token no object uses stops polling."""

from __future__ import annotations

import pytest

from tests.conftest import OTHER_TOKEN
from tests.integration.gpuinstance.conftest import World
from tests.integration.gpuinstance.test_delete_adopt_credentials import instant, team_secret


@pytest.mark.parametrize("operator_env", [{"CFGPU_OPERATOR_SECRET_TTL": "60"}])
async def test_objects_sharing_a_secret_read_it_once(world: World) -> None:
    instant(world)
    team_secret(world)
    names = [f"team-{n}" for n in range(5)]
    for name in names:
        world.apply(name, credentialsSecretRef={"name": "team-token"})
    for name in names:
        await world.phase(name, "Running")
    await world.polls_ended(since=len(world.cfgpu.emulator.calls()), count=2)
    reads = world.kube.emulator.calls("get", "secrets")
    # Five objects, dozens of reconciles between them: one read of the Secret.
    assert len(reads) == 1


async def test_a_token_no_object_uses_any_more_stops_polling(world: World) -> None:
    instant(world)
    team_secret(world)
    world.apply("mine")
    world.apply("team", credentialsSecretRef={"name": "team-token"})
    await world.phase("mine", "Running")
    await world.phase("team", "Running")
    team = world.cfgpu.emulator.state.accounts[OTHER_TOKEN].name
    calls = world.cfgpu.emulator.calls
    assert any(c.account == team and c.endpoint == "instance/status" for c in calls())
    world.delete("team")
    await world.release_deleted("team")
    since = len(calls())
    await world.polls_ended(since=since, count=3)  # the operator's own token polls on
    assert [c for c in calls()[since:] if c.account == team] == []
