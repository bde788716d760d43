"""SafeWorkload against the real server's semantics (primus-safe-api.md): what is sent, when
it is sent, and what a later edit, a quick delete or an unsuspend does on the platform."""

from __future__ import annotations

import pytest

from cfgpu_operator.emulators.safe import Workspace
from tests.conftest import SAFE_KEY
from tests.helpers import eventually
from tests.integration.safeworkload.conftest import SafeWorld


@pytest.fixture
def limited(sworld: SafeWorld) -> str:
    """A workspace whose training runs may last two hours at most."""
    state = sworld.safe.emulator.state
    state.add_workspace(Workspace("ws-limited", "limited", max_runtime={"Train": 2}))
    state.users[SAFE_KEY].workspaces.add("ws-limited")
    return "ws-limited"


async def test_unset_timeout_and_ttl_leave_the_platform_defaults(
    sworld: SafeWorld, limited: str
) -> None:
    state = sworld.safe.emulator.state
    sworld.submit("defaults", workspaceId=limited)
    sworld.submit("explicit", workspaceId=limited, timeout=0, ttlSecondsAfterFinished=0)
    await eventually(lambda: len(state.workloads) == 2, what="both submitted")
    defaults = state.workloads[sworld.wstatus("defaults")["workloadId"]]
    assert (defaults.timeout, defaults.ttl) == (7200, 60)  # the workspace's maximum runtime
    explicit = state.workloads[sworld.wstatus("explicit")["workloadId"]]
    assert (explicit.timeout, explicit.ttl) == (0, 0)


async def test_preferred_node_affinity_is_sent(sworld: SafeWorld) -> None:
    sworld.submit("placed", specifiedNodes=["ws-train-node-0"], nodesAffinity="preferred")
    create = await eventually(
        lambda: sworld.safe.emulator.calls("workloads.create"), what="submitted"
    )
    assert create[0].body["nodesAffinity"] == "preferred"
    assert create[0].body["specifiedNodes"] == ["ws-train-node-0"]
