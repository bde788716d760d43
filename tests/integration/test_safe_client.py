"""The Primus-SaFE client against the emulator: every endpoint and error class over HTTP."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from cfgpu_operator.clients.safe import SafeClient
from cfgpu_operator.clients.safe_wire import CreateWorkloadRequest, PatchWorkloadRequest
from cfgpu_operator.emulators.faults import FaultKind
from cfgpu_operator.emulators.safe import Workspace
from cfgpu_operator.errors import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
    RejectedInput,
    Unauthorized,
    Unavailable,
    WrongState,
)
from tests.conftest import SAFE_ADMIN_KEY, SAFE_KEY, SAFE_OTHER_KEY, ServedSafe


def job(name: str = "train-a", **overrides: Any) -> CreateWorkloadRequest:
    fields: dict[str, Any] = {
        "display_name": name,
        "workspace_id": "ws-train",
        "resources": [{"replica": 1, "cpu": "16", "gpu": "8", "memory": "256Gi"}],
        "images": ["registry/ai/pytorch:2.4"],
        "entry_points": [base64.b64encode(b"python train.py").decode()],
        "env": {"NCCL_DEBUG": "INFO"},
    }
    return CreateWorkloadRequest.model_validate({**fields, **overrides})


@pytest.fixture
async def client(safe: ServedSafe) -> Any:
    async with safe.client() as c:
        yield c


async def visible(safe: ServedSafe) -> None:
    safe.clock.advance(0.5)  # past the DB mirror's lag


async def test_create_get_and_the_phase_machine(safe: ServedSafe, client: SafeClient) -> None:
    workload_id = await client.create_workload(job(workload_id="Train_A-1"))
    assert workload_id == "train-a-1"  # lowercased, _ -> -
    with pytest.raises(NotFound):  # the DB mirror lags behind the create
        await client.get_workload(workload_id)
    await visible(safe)
    detail = await client.get_workload(workload_id)
    assert (detail.phase, detail.queue_position, detail.dispatch_count) == ("Pending", 1, 0)
    assert detail.message.startswith("In queue")
    assert detail.entry_points == ["python train.py"]  # decoded for GET
    assert detail.resources[0].ephemeral_storage == "50Gi"
    assert detail.ttl_seconds_after_finished == 60
    safe.clock.advance(2)
    dispatched = await client.get_workload(workload_id)
    assert dispatched.dispatch_count == 1
    assert [c.type for c in dispatched.conditions] == ["AdminScheduled", "AdminDispatched"]
    safe.clock.advance(2)
    running = await client.get_workload(workload_id)
    assert running.phase == "Running"
    assert running.start_time is not None
    assert running.pods
    safe.emulator.state.finish(workload_id, "Succeeded")
    done = await client.get_workload(workload_id)
    assert (done.phase, done.ended) == ("Succeeded", True)
    assert done.end_time is not None


async def test_generated_ids_and_list_filters(safe: ServedSafe, client: SafeClient) -> None:
    generated = await client.create_workload(job("gen"))
    assert generated.startswith("gen-")
    assert len(generated) == len("gen-") + 5
    safe.clock.advance(1)  # distinct creation times, for the sort order below
    await client.create_workload(
        job(
            "tagged", workload_id="tagged-1", env={"CFGPU_OPERATOR_ID": "abc"}, description="team x"
        )
    )
    await client.create_workload(
        job("dep", workload_id="dep-1", group_version_kind={"kind": "Deployment"})
    )
    await visible(safe)
    everything = await client.list_workloads(workspace_id="ws-train")
    assert everything.total_count == 3
    by_tag = await client.list_workloads(
        workspace_id="ws-train", env_key="CFGPU_OPERATOR_ID", env_value="abc"
    )
    assert [w.workload_id for w in by_tag.items] == ["tagged-1"]
    by_kind = await client.list_workloads(workspace_id="ws-train", kind="Deployment")
    assert [w.workload_id for w in by_kind.items] == ["dep-1"]
    by_text = await client.list_workloads(workspace_id="ws-train", description="team")
    assert [w.workload_id for w in by_text.items] == ["tagged-1"]
    by_phase = await client.list_workloads(workspace_id="ws-train", phase="Running,Pending")
    assert by_phase.total_count == 3
    oldest_first = await client.list_workloads(workspace_id="ws-train", order="asc")
    assert oldest_first.items[0].workload_id == generated


async def test_iterating_pages(safe: ServedSafe, client: SafeClient) -> None:
    for n in range(7):
        await client.create_workload(
            job(
                f"p{n}",
                workload_id=f"p-{n}",
                resources=[{"replica": 1, "cpu": "1", "memory": "1Gi"}],
            )
        )
    await visible(safe)
    seen = [
        w.workload_id async for w in client.iter_workloads(page_size=3, workspace_id="ws-train")
    ]
    assert sorted(seen) == [f"p-{n}" for n in range(7)]


async def test_patch_stop_delete(safe: ServedSafe, client: SafeClient) -> None:
    workload_id = await client.create_workload(job(workload_id="w-1"))
    await client.patch_workload(workload_id, PatchWorkloadRequest(priority=1, env={"A": "b"}))
    await visible(safe)
    assert (await client.get_workload(workload_id)).env == {"A": "b"}
    safe.clock.advance(2)  # dispatched: spec changes are refused
    with pytest.raises(WrongState) as caught:
        await client.patch_workload(workload_id, PatchWorkloadRequest(images=["other:1"]))
    assert (caught.value.http_status, caught.value.code) == (409, "Primus.00012")
    await client.patch_workload(workload_id, PatchWorkloadRequest(description="still ok"))
    await client.stop_workload(workload_id)
    stopped = await client.get_workload(workload_id)
    assert stopped.phase == "Stopped"
    assert any(c.type == "AdminStopped" for c in stopped.conditions)
    with pytest.raises(Unavailable) as gone:  # the CR is gone: PATCH answers 500
        await client.patch_workload(workload_id, PatchWorkloadRequest(priority=0))
    assert gone.value.code == "Primus.00001"
    await client.delete_workload(workload_id)
    with pytest.raises(NotFound):
        await client.get_workload(workload_id)
    await client.stop_workload("never-existed")  # 200 for unknown ids
    await client.delete_workload("never-existed")


async def test_duplicate_create_answers_409_and_stops_the_existing_one(
    safe: ServedSafe, client: SafeClient
) -> None:
    await client.create_workload(job(workload_id="dup-1"))
    with pytest.raises(Conflict) as caught:
        await client.create_workload(job(workload_id="dup-1"))
    assert caught.value.code == "AlreadyExists"
    await visible(safe)
    assert (await client.get_workload("dup-1")).phase == "Stopped"


@pytest.mark.parametrize(
    ("overrides", "kind", "status", "code"),
    [
        ({"display_name": "Bad_Name"}, RejectedInput, 400, "Primus.00002"),
        ({"display_name": "x" * 50}, RejectedInput, 400, "Primus.00002"),
        (
            {"resources": [{"replica": 0, "cpu": "1", "memory": "1Gi"}]},
            RejectedInput,
            400,
            "Primus.00002",
        ),
        (
            {"resources": [{"replica": 1, "cpu": "lots", "memory": "1Gi"}]},
            RejectedInput,
            400,
            "Primus.00002",
        ),
        ({"workspace_id": "ws-ray"}, Forbidden, 403, "Primus.00003"),
        ({"priority": 2}, Forbidden, 403, "Primus.00003"),
        (
            {"resources": [{"replica": 1, "cpu": "16", "gpu": "16", "memory": "1Gi"}]},
            Forbidden,
            403,
            "Primus.00003",
        ),
        (
            {"resources": [{"replica": 3, "cpu": "100", "memory": "1Gi"}]},
            QuotaExceeded,
            503,
            "Primus.00008",
        ),
        ({"group_version_kind": {"kind": "MysteryJob"}}, RejectedInput, 500, "Primus.00001"),
    ],
)
async def test_create_validation(
    client: SafeClient, overrides: dict[str, Any], kind: type[ApiError], status: int, code: str
) -> None:
    with pytest.raises(kind) as caught:
        await client.create_workload(job(**overrides))
    assert (caught.value.http_status, caught.value.code) == (status, code)


async def test_workspace_scope_refuses_a_kind(safe: ServedSafe) -> None:
    async with safe.client(SAFE_ADMIN_KEY) as admin:
        with pytest.raises(Forbidden, match="does not support the Train scope"):
            await admin.create_workload(job(workspace_id="ws-ray"))


async def test_workspaces_nodes_and_self(safe: ServedSafe, client: SafeClient) -> None:
    assert [w.workspace_id for w in await client.list_workspaces()] == ["ws-train"]
    workspace = await client.get_workspace("ws-train")
    assert workspace.total_quota["amd.com/gpu"] == 16
    assert "Train" in workspace.scopes
    with pytest.raises(NotFound) as missing:
        await client.get_workspace("ws-none")
    assert missing.value.code == "NotFound"
    with pytest.raises(Forbidden):
        await client.get_workspace("ws-ray")
    nodes = await client.list_nodes("ws-train")
    assert len(nodes) == 2
    assert await client.list_nodes() == []  # a member sees nodes only per workspace
    me = await client.whoami()
    assert (me.name, [w.id for w in me.workspaces]) == ("alice", ["ws-train"])


async def test_permissions(safe: ServedSafe, client: SafeClient) -> None:
    workload_id = await client.create_workload(job(workload_id="mine-1"))
    async with safe.client(SAFE_OTHER_KEY) as bob:
        with pytest.raises(Forbidden):
            await bob.stop_workload(workload_id)
        with pytest.raises(Forbidden):
            await bob.list_workloads()  # a non-admin must name a workspace
    async with safe.client("ak-not-a-key") as nobody:
        with pytest.raises(Unauthorized) as caught:
            await nobody.whoami()
    assert (caught.value.http_status, caught.value.code) == (401, "Primus.00009")


async def test_unknown_route_is_not_found_with_a_url_hint(safe: ServedSafe) -> None:
    async with SafeClient(SAFE_KEY, base_url=safe.url + "/wrong") as wrong:
        with pytest.raises(NotFound, match="check SAFE_API_URL"):
            await wrong.get_workload("x")


async def test_reads_retried_writes_not(safe: ServedSafe, client: SafeClient) -> None:
    faults = safe.emulator.faults
    faults.http("workloads.list", 502)
    faults.kind(FaultKind.MALFORMED, "workloads.list")
    await client.list_workloads(workspace_id="ws-train")
    assert [c.status for c in safe.emulator.calls("workloads.list")] == [502, 200, 200]
    faults.http("workloads.create", 500, times=3)
    with pytest.raises(Unavailable):
        await client.create_workload(job())
    assert len(safe.emulator.calls("workloads.create")) == 1


async def test_the_key_never_shows(safe: ServedSafe, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    safe.emulator.faults.http("users.self", 500, times=5, message=f"echo Bearer {SAFE_KEY}")
    errors: list[Exception] = []
    async with safe.client() as client:
        try:
            await client.whoami()
        except ApiError as exc:
            errors.append(exc)
    assert errors
    texts = [str(errors[0]), repr(errors[0])] + [r.getMessage() for r in caplog.records]
    assert all(SAFE_KEY not in text for text in texts)


async def test_a_workspace_without_nodes_has_an_empty_quota(safe: ServedSafe) -> None:
    """The real server sends null quotas for an empty workspace; the client reads them."""
    safe.emulator.state.add_workspace(Workspace("ws-empty", "empty", node_count=0))
    async with safe.client(SAFE_ADMIN_KEY) as admin:
        workspace = await admin.get_workspace("ws-empty")
    assert (workspace.total_quota, workspace.avail_quota) == ({}, {})


async def test_a_create_of_a_kind_the_platform_lacks_is_rejected_not_retried(
    safe: ServedSafe, client: SafeClient
) -> None:
    safe.emulator.state.config.installed_kinds = frozenset({"PyTorchJob"})
    with pytest.raises(RejectedInput) as caught:
        await client.create_workload(job(group_version_kind={"kind": "Deployment"}))
    assert (caught.value.http_status, caught.value.code) == (500, "Primus.00001")
    safe.emulator.state.config.installed_kinds = None
    safe.emulator.state.config.enabled_features = frozenset()
    with pytest.raises(RejectedInput) as off:
        await client.create_workload(job(group_version_kind={"kind": "Sandbox"}))
    assert (off.value.http_status, off.value.code) == (501, "Primus.00007")
    assert len(safe.emulator.calls("workloads.create")) == 2  # sent once each
