"""The operator's traffic to the Kubernetes API server: a burst of objects shares a bounded
pool of connections instead of opening one per concurrent request."""

from __future__ import annotations

import pytest

from cfgpu_operator.handlers.kube_session import watches
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World

LIMIT = 3
BURST = 16  # the emulator's stock of one GPU type in one region


@pytest.mark.parametrize("operator_env", [{"CFGPU_OPERATOR_KUBE_CONNECTIONS": str(LIMIT)}])
async def test_a_burst_of_objects_shares_a_few_connections(world: World) -> None:
    names = [f"burst-{i:02d}" for i in range(BURST)]
    for name in names:
        world.apply(name)
    await eventually(
        lambda: all(world.status(n).get("instanceId") for n in names), what="all created"
    )
    assert len(world.instances()) == BURST  # each rented once, none lost in a queue
    kopf_requests = [r for r in world.kube.emulator.requests if r.agent.startswith("kopf/")]
    connections = {r.connection for r in kopf_requests}
    # Watches (GpuInstances in all namespaces, and Kopf's observers) hold one each.
    assert 0 < len(connections) <= LIMIT + watches(kinds=1, namespaces=0)
    assert sum(r.verb == "patch" for r in kopf_requests) >= BURST  # the burst went through it
