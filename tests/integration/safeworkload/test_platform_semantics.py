"""SafeWorkload against the real server's semantics (primus-safe-api.md): what is sent, when
it is sent, and what a later edit, a quick delete or an unsuspend does on the platform."""

from __future__ import annotations

import base64

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


def hf_secret(sworld: SafeWorld, value: str) -> list[dict[str, object]]:
    secrets = sworld.cluster.registry.get("", "v1", "secrets")
    assert secrets is not None
    data = {"token": base64.b64encode(value.encode()).decode()}
    sworld.cluster.create(secrets, "default", {"metadata": {"name": "hf"}, "data": data})
    return [{"name": "HF_TOKEN", "secretKeyRef": {"name": "hf", "key": "token"}}]


def edit(sworld: SafeWorld, name: str, **spec: object) -> None:
    sworld.cluster.patch(
        sworld.workloads_kind(), "default", name, "application/merge-patch+json", {"spec": spec}
    )


async def test_edits_keep_secret_env_and_send_only_what_changed(sworld: SafeWorld) -> None:
    value = "hf-secret-value-5b6c7d8e9f0a1b2c"
    safe = sworld.safe
    sworld.submit("edited", env={"A": "1"}, secretEnv=hf_secret(sworld, value))
    workload = await sworld.only_workload()
    safe.clock.advance(0.5)  # visible, not yet scheduled
    await sworld.wphase("edited", "Pending")
    edit(sworld, "edited", env={"A": "2"})  # before dispatch: env is sent, whole
    await eventually(lambda: workload.env.get("A") == "2", what="env patched")
    assert workload.env["HF_TOKEN"] == value
    safe.clock.advance(5)  # dispatched and running
    await sworld.wphase("edited", "Running")
    edit(sworld, "edited", description="second run")  # after dispatch: only the description
    await eventually(lambda: workload.description == "second run", what="description patched")
    assert workload.env["HF_TOKEN"] == value
    await eventually(lambda: sworld.wready("edited").get("reason") == "Running", what="Running")
    bodies = [c.body for c in safe.emulator.calls("workloads.patch")]
    assert bodies[-1] == {"description": "second run"}
    assert all(value not in text for text in (sworld.operator.log(), str(sworld.events())))


@pytest.mark.parametrize("sworld_env", [{"CFGPU_OPERATOR_SUBMIT_GRACE": "30"}])
async def test_a_delete_right_after_submit_stops_the_workload(sworld: SafeWorld) -> None:
    """The platform's record lags the create: a 404 then is no proof the workload is gone."""
    state = sworld.safe.emulator.state
    state.config.visibility_lag = 20
    sworld.submit("quick")
    workload = await sworld.only_workload()
    sworld.cluster.delete(sworld.workloads_kind(), "default", "quick")
    await eventually(lambda: not sworld.get_workload("quick"), what="object deleted")
    assert workload.phase == "Stopped"
    assert [c.status for c in sworld.safe.emulator.calls("workloads.delete")] == [200]


@pytest.mark.parametrize("sworld_env", [{"CFGPU_OPERATOR_POLL_SLOW": "30"}])
async def test_short_phases_and_each_step_are_mirrored(sworld: SafeWorld) -> None:
    """The poll stays fast while a workload is live, and a step the listing shows (here the
    scheduler admitting it) brings the platform's conditions along."""
    safe = sworld.safe
    sworld.submit("brief")
    workload = await sworld.only_workload()
    safe.clock.advance(0.5)  # visible, queued
    await eventually(lambda: sworld.wstatus("brief").get("queuePosition") == 1, what="queued")
    safe.clock.advance(1)  # admitted by the scheduler, not yet dispatched
    await eventually(
        lambda: (
            [c["type"] for c in sworld.wstatus("brief").get("platformConditions", [])]
            == ["AdminScheduled"]
        ),
        what="the scheduler's condition mirrored",
    )
    assert sworld.wstatus("brief")["dispatchCount"] == 0
    safe.clock.advance(5)
    await sworld.wphase("brief", "Running")
    safe.emulator.state.finish(workload.id, "Succeeded")  # a few seconds of running
    await sworld.wphase("brief", "Succeeded", within=10)


async def test_pull_secrets_and_platform_switches_are_passed_through(sworld: SafeWorld) -> None:
    sworld.submit(
        "private-image",
        imagePullSecrets=["registry-team-a"],
        isSupervised=True,
        useWorkspaceStorage=False,
        forceHostNetwork=True,
    )
    workload = await sworld.only_workload()
    assert workload.extra["secrets"] == [{"id": "registry-team-a", "type": "image"}]
    switches = ("isSupervised", "useWorkspaceStorage", "forceHostNetwork")
    assert [workload.extra[k] for k in switches] == [True, False, True]
    sworld.safe.clock.advance(1)  # visible: never submitted again
    sworld.submit("defaults")  # unset: nothing sent, the platform's defaults apply
    creates = sworld.safe.emulator.calls
    await eventually(lambda: len(creates("workloads.create")) == 2, what="second submit")
    (body,) = [c.body for c in creates("workloads.create") if c.body["displayName"] == "defaults"]
    assert not {"secrets", *switches} & set(body)


async def test_the_workspace_is_checked_before_submitting(sworld: SafeWorld) -> None:
    """From the key's workspace list, read once for all objects, never sent to be refused."""
    state = sworld.safe.emulator.state
    state.users[SAFE_KEY].workspaces.add("ws-ray")  # a member, but it allows only Ray
    sworld.submit("nowhere", workspaceId="ws-missing")
    sworld.submit("wrong-scope", workspaceId="ws-ray")
    sworld.submit("fine")
    await eventually(lambda: sworld.wready("nowhere").get("reason") == "WorkspaceNotFound")
    await eventually(lambda: sworld.wready("wrong-scope").get("reason") == "ScopeNotAllowed")
    assert "allowed: Ray" in sworld.wready("wrong-scope")["message"]
    await eventually(lambda: sworld.events("ScopeNotAllowed"), what="a Warning Event")
    await eventually(lambda: len(state.workloads) == 1, what="the fine one submitted")
    sworld.safe.clock.advance(1)  # the platform's record shows it
    await sworld.wphase("fine", "Pending")
    assert len(sworld.safe.emulator.calls("workloads.create")) == 1
    assert len(sworld.safe.emulator.calls("workspaces.list")) == 1


async def test_an_inference_workload_shows_its_endpoint(sworld: SafeWorld) -> None:
    safe = sworld.safe
    sworld.submit("serve", kind="Deployment")
    workload = await sworld.only_workload()
    safe.clock.advance(6)
    await sworld.wphase("serve", "Running")
    address = f"{workload.id}.ws-train.svc.cluster.local:8080"
    await eventually(lambda: sworld.wstatus("serve").get("endpoint") == address, what="endpoint")
    edit(sworld, "serve", suspend=True)
    await sworld.wphase("serve", "Stopped")
    await eventually(lambda: "endpoint" not in sworld.wstatus("serve"), what="endpoint cleared")


async def test_an_update_that_failed_is_sent_again(sworld: SafeWorld) -> None:
    safe = sworld.safe
    sworld.submit("retried")
    workload = await sworld.only_workload()
    safe.clock.advance(6)
    await sworld.wphase("retried", "Running")
    safe.emulator.faults.http("workloads.patch", 503, times=1)
    edit(sworld, "retried", priority=1)
    await eventually(lambda: workload.priority == 1, what="the PATCH sent again")
    assert [c.status for c in safe.emulator.calls("workloads.patch")] == [503, 200]
    await eventually(lambda: "lastError" not in sworld.wstatus("retried"), what="settled")
