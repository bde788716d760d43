"""Two replicas against one cluster: one acts, the other waits, and takes over on a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAFE_KEY, ServedCfgpu, ServedKube, ServedSafe
from tests.helpers import eventually, eventually_async
from tests.integration.gpuinstance.conftest import OperatorProcess, World, install_crds
from tests.integration.operations.conftest import Endpoints, reachable
from tests.integration.safeworkload.conftest import SafeWorld

LEADING = "leading: this replica holds Lease"
# Short leases so that a takeover happens within a test's deadline.
LEASE = {"CFGPU_OPERATOR_LEASE_SECONDS": "2", "CFGPU_OPERATOR_LEASE_NAMESPACE": "default"}


def replica(kube: ServedKube, cfgpu: ServedCfgpu, safe: ServedSafe, log: Path) -> OperatorProcess:
    env = {**LEASE, "SAFE_API_URL": safe.url, "SAFE_API_TOKEN": SAFE_KEY}
    return OperatorProcess(kube, cfgpu, log, env, args=Endpoints.pick().args())


@pytest.fixture
async def replicas(
    kube: ServedKube, cfgpu: ServedCfgpu, safe: ServedSafe, tmp_path: Path
) -> AsyncIterator[tuple[SafeWorld, OperatorProcess, OperatorProcess]]:
    install_crds(kube.emulator.cluster)
    first = replica(kube, cfgpu, safe, tmp_path / "first.log")
    second = replica(kube, cfgpu, safe, tmp_path / "second.log")
    await first.start()
    await eventually(lambda: LEADING in first.log(), what="the first replica leads")
    await second.start()
    await eventually(lambda: "waiting to lead" in second.log(), what="the second one waits")
    world = SafeWorld(kube, cfgpu, first)
    world.safe = safe
    yield world, first, second
    await first.stop()
    await second.stop()


def lease(world: World) -> dict[str, object]:
    kind = world.cluster.registry.get("coordination.k8s.io", "v1", "leases")
    assert kind is not None
    found = world.cluster.store.get(kind.key, "default", "cfgpu-operator")
    assert found is not None
    spec: dict[str, object] = found["spec"]
    return spec


async def test_only_the_leader_acts_and_the_standby_takes_over_after_a_crash(
    replicas: tuple[SafeWorld, OperatorProcess, OperatorProcess],
) -> None:
    world, first, second = replicas
    for name in ("a", "b", "c"):
        world.apply(name)
    world.submit("job")
    await eventually(lambda: len(world.cfgpu.emulator.calls("instance/create")) == 3)
    # Sent, not just recorded: a leader killed between recording and sending leaves the
    # submit to the grace window (tested elsewhere), longer than this test.
    await eventually(lambda: world.safe.emulator.calls("workloads.create"), what="submitted")
    world.cfgpu.clock.advance(5)
    for name in ("a", "b", "c"):
        await world.phase(name, "Running")
    assert LEADING not in second.log()
    assert "gpuinstance-" not in second.log()  # no handler ever ran on the standby
    holder = lease(world)["holderIdentity"]

    await first.kill()  # no clean shutdown: the Lease must expire
    await eventually(lambda: LEADING in second.log(), within=15, what="takeover")
    assert lease(world)["holderIdentity"] != holder
    assert lease(world)["leaseTransitions"] == 1

    world.operator = second
    world.delete("a")
    instance_id = world.status("a").get("instanceId")
    await world.release_deleted("a")
    assert len(world.cfgpu.emulator.calls("instance/create")) == 3  # nothing rented twice
    assert len(world.cfgpu.emulator.calls("instance/{id}/release")) == 1
    assert len(world.safe.emulator.calls("workloads.create")) == 1  # nor submitted twice
    assert instance_id is not None


async def test_the_standby_answers_liveness_and_a_clean_stop_hands_over_at_once(
    replicas: tuple[SafeWorld, OperatorProcess, OperatorProcess],
) -> None:
    _, first, second = replicas
    liveness = second.args[-1].removeprefix("--liveness=")
    await eventually_async(lambda: reachable(liveness), what="standby probe")
    async with httpx.AsyncClient() as client:
        answer = await client.get(liveness, timeout=5)
    assert answer.status_code == 200
    assert "standby" in answer.json()

    await first.stop()  # SIGTERM: releases the Lease instead of letting it expire
    assert "released Lease default/cfgpu-operator" in first.log()
    await eventually(lambda: LEADING in second.log(), within=5, what="quick takeover")
