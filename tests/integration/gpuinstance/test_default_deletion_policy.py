"""An operator-wide default deletion policy for GpuInstances that set none."""

from __future__ import annotations

import pytest

from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World


@pytest.fixture
def operator_env() -> dict[str, str]:
    return {"CFGPU_OPERATOR_DEFAULT_DELETION_POLICY": "Orphan"}


async def test_unset_policy_follows_the_operator_default_and_the_spec_wins(world: World) -> None:
    world.apply("kept")
    world.apply("released", deletionPolicy="Release")
    for name in ("kept", "released"):
        await eventually(lambda n=name: world.status(n).get("cfgpuStatus"), what=f"{name} created")  # type: ignore[misc]
    world.cfgpu.clock.advance(5)
    await world.phase("kept", "Running")
    await world.phase("released", "Running")
    kept_id = world.status("kept")["instanceId"]

    world.delete("kept")
    await eventually(lambda: world.get("kept") is None, what="kept: finalizer dropped")
    world.delete("released")
    await world.release_deleted("released")
    assert [i.id for i in world.instances()] == [kept_id]
