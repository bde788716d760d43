"""Where the emulated Primus-SaFE must answer as the real server does (primus-safe-api.md,
read from its source), each seen through the real client over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.clients.safe import SafeClient
from cfgpu_operator.clients.safe_wire import PatchWorkloadRequest
from cfgpu_operator.emulators.safe import Workspace
from cfgpu_operator.errors import Conflict, Forbidden, NotFound, WrongState
from tests.conftest import SAFE_ADMIN_KEY, SAFE_KEY, SAFE_OTHER_KEY, ServedSafe
from tests.integration.test_safe_client import job, visible


@pytest.fixture
async def client(safe: ServedSafe) -> Any:
    async with safe.client() as c:
        yield c


@pytest.fixture
def limited(safe: ServedSafe) -> str:
    """A workspace whose training runs may last two hours at most; alice is a member."""
    state = safe.emulator.state
    state.add_workspace(Workspace("ws-limited", "limited", max_runtime={"Train": 2}))
    state.users[SAFE_KEY].workspaces.add("ws-limited")
    return "ws-limited"


async def test_timeout_and_ttl_are_defaulted_only_when_absent(
    safe: ServedSafe, client: SafeClient, limited: str
) -> None:
    await client.create_workload(job(workload_id="absent", workspace_id=limited))
    await client.create_workload(
        job(workload_id="zero", workspace_id=limited, timeout=0, ttl_seconds_after_finished=0)
    )
    await visible(safe)
    absent = await client.get_workload("absent")
    assert (absent.timeout, absent.ttl_seconds_after_finished) == (7200, 60)
    zero = await client.get_workload("zero")
    assert (zero.timeout, zero.ttl_seconds_after_finished) == (None, 0)  # 0 is shown as null


async def test_patch_needs_high_priority_rights_for_priority_2_and_long_timeouts(
    safe: ServedSafe, client: SafeClient, limited: str
) -> None:
    await client.create_workload(job(workload_id="w", workspace_id=limited))
    with pytest.raises(Forbidden):
        await client.patch_workload("w", PatchWorkloadRequest(priority=2))
    for timeout in (7201, 0):  # above the workspace's maximum runtime, or none at all
        with pytest.raises(Forbidden):
            await client.patch_workload("w", PatchWorkloadRequest(timeout=timeout))
    await client.patch_workload("w", PatchWorkloadRequest(timeout=3600, priority=1))
    await client.patch_workload("w", PatchWorkloadRequest(timeout=3600))  # unchanged: no check
    async with safe.client(SAFE_ADMIN_KEY) as admin:
        await admin.patch_workload("w", PatchWorkloadRequest(priority=2, timeout=0))
    await visible(safe)
    patched = await client.get_workload("w")
    assert (patched.priority, patched.timeout) == (2, None)


async def test_a_dispatched_workload_refuses_only_real_spec_changes(
    safe: ServedSafe, client: SafeClient
) -> None:
    await client.create_workload(job(workload_id="w", env={"A": "1"}))
    safe.clock.advance(2.5)  # dispatched
    same = PatchWorkloadRequest(images=["registry/ai/pytorch:2.4"], env={"A": "1"})
    await client.patch_workload("w", same)
    with pytest.raises(WrongState):
        await client.patch_workload("w", PatchWorkloadRequest(env={"A": "2"}))


async def test_stop_and_delete_check_the_owner_of_what_is_left(
    safe: ServedSafe, client: SafeClient
) -> None:
    await client.create_workload(job(workload_id="w"))
    await visible(safe)
    await client.stop_workload("w")
    async with safe.client(SAFE_OTHER_KEY) as bob:
        await bob.stop_workload("w")  # ended: a no-op, no permission asked
        with pytest.raises(Forbidden):
            await bob.delete_workload("w")  # the record is still alice's
        await bob.stop_workload("never-was")
        await bob.delete_workload("never-was")
    assert (await client.get_workload("w")).phase == "Stopped"


async def test_a_delete_before_the_mirror_caught_up_stops_but_cannot_hide(
    safe: ServedSafe, client: SafeClient
) -> None:
    await client.create_workload(job(workload_id="quick"))
    await client.delete_workload("quick")  # the CR is stopped; the row does not exist yet
    await visible(safe)
    assert (await client.get_workload("quick")).phase == "Stopped"


async def test_an_id_once_deleted_stays_hidden_when_created_again(
    safe: ServedSafe, client: SafeClient
) -> None:
    await client.create_workload(job(workload_id="again"))
    await visible(safe)
    await client.delete_workload("again")
    await client.create_workload(job(workload_id="again"))
    await visible(safe)
    with pytest.raises(NotFound):
        await client.get_workload("again")
    assert safe.emulator.state.workloads["again"].phase == "Pending"  # running, unseen


async def test_duration_and_seconds_until_timeout(safe: ServedSafe, client: SafeClient) -> None:
    await client.create_workload(job(workload_id="timed", timeout=7200))
    await visible(safe)
    pending = await client.get_workload("timed")
    assert (pending.duration, pending.seconds_until_timeout) == ("0s", -1)
    safe.clock.advance(3.5)  # running since 4 s after the create
    safe.clock.advance(3723)
    running = await client.get_workload("timed")
    assert running.phase == "Running"
    assert (running.duration, running.seconds_until_timeout) == ("1h2m3s", 7200 - 3723)


async def test_resume_runs_a_stopped_workload_again_under_its_id(
    safe: ServedSafe, client: SafeClient
) -> None:
    request = job(workload_id="pausable")
    await client.create_workload(request)
    await visible(safe)
    with pytest.raises(Conflict):  # its object still exists
        await client.resume_workload("pausable", request)
    assert (await client.get_workload("pausable")).phase == "Stopped"  # and the 409 stopped it
    async with safe.client(SAFE_OTHER_KEY) as bob:
        with pytest.raises(Forbidden):
            await bob.resume_workload("pausable", request)
    await client.resume_workload("pausable", request)
    assert (await client.get_workload("pausable")).phase == "Stopped"  # the mirror lags
    await visible(safe)
    assert (await client.get_workload("pausable")).phase == "Pending"
    with pytest.raises(NotFound):
        await client.resume_workload("never-was", request)
    assert [c.status for c in safe.emulator.calls("workloads.resume")] == [409, 403, 200, 404]


async def test_the_service_of_an_inference_workload(safe: ServedSafe, client: SafeClient) -> None:
    await client.create_workload(
        job("serve", workload_id="serve", group_version_kind={"kind": "Deployment"})
    )
    with pytest.raises(NotFound):  # no Service before the dispatch
        await client.get_workload_service("serve")
    safe.clock.advance(4)
    service = await client.get_workload_service("serve")
    assert service is not None
    assert service.address == "serve.ws-train.svc.cluster.local:8080"
    safe.emulator.state.config.system_host = "safe.example.com"
    external = await client.get_workload_service("serve")
    assert external is not None
    assert external.address == "https://safe.example.com/cluster-a/ws-train/serve/"
    await client.stop_workload("serve")
    assert await client.get_workload_service("serve") is None  # the server answers null
