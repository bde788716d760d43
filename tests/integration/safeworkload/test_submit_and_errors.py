"""Submitting exactly once across a crash, error reasons, and secretEnv secrecy."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from cfgpu_operator.emulators.faults import FaultKind
from tests.conftest import SAFE_KEY
from tests.helpers import eventually
from tests.integration.safeworkload.conftest import SafeWorld


async def test_killed_mid_submit_runs_exactly_one_workload(sworld: SafeWorld) -> None:
    safe = sworld.safe
    # The platform commits the create but the answer never comes: the operator dies waiting.
    safe.emulator.faults.kind(FaultKind.DELAY_AFTER_COMMIT, "workloads.create", delay=60)
    sworld.submit("crashy")
    await eventually(lambda: len(safe.emulator.state.workloads) == 1, what="committed")
    await sworld.operator.kill()
    await sworld.operator.start()
    safe.clock.advance(1)  # the platform's DB mirror catches up
    await sworld.wphase("crashy", "Pending", within=30)
    (workload,) = safe.emulator.state.workloads.values()
    assert workload.phase == "Pending"  # not stopped by a duplicate create
    assert len(safe.emulator.calls("workloads.create")) == 1
    safe.clock.advance(5)
    await sworld.wphase("crashy", "Running")


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"resources": [{"replica": 3, "cpu": "100", "memory": "1Gi"}]}, "QuotaExceeded"),
        ({"priority": 2}, "Forbidden"),  # high priority needs a workspace admin
        ({"displayName": "Not_Valid"}, "InvalidSpec"),
    ],
)
async def test_platform_refusals_become_reasons(
    sworld: SafeWorld, spec: dict[str, Any], reason: str
) -> None:
    sworld.submit("refused", **spec)
    await eventually(
        lambda: sworld.wready("refused").get("reason") == reason, what=f"reason {reason}"
    )
    assert sworld.wstatus("refused")["lastError"]["code"]
    await eventually(lambda: sworld.events(reason), what="Warning Event")
    assert sworld.safe.emulator.state.workloads == {}


async def test_secret_env_is_resolved_and_never_shown(sworld: SafeWorld) -> None:
    value = "hf-secret-value-7d1e2f3a4b5c6d7e8f9a"
    secrets = sworld.cluster.registry.get("", "v1", "secrets")
    assert secrets is not None
    sworld.cluster.create(
        secrets,
        "default",
        {"metadata": {"name": "hf"}, "data": {"token": base64.b64encode(value.encode()).decode()}},
    )
    sworld.submit(
        "private", secretEnv=[{"name": "HF_TOKEN", "secretKeyRef": {"name": "hf", "key": "token"}}]
    )
    workload = await sworld.only_workload()
    assert workload.env["HF_TOKEN"] == value
    sworld.safe.clock.advance(1)
    await sworld.wphase("private", "Pending")
    texts = [sworld.operator.log(), str(sworld.events()), str(sworld.wstatus("private"))]
    for secret in (value, SAFE_KEY):
        assert all(secret not in text for text in texts)


async def test_ended_workloads_are_not_polled_any_more(sworld: SafeWorld) -> None:
    safe = sworld.safe
    sworld.submit("short")
    workload = await sworld.only_workload()
    safe.clock.advance(6)
    await sworld.wphase("short", "Running")
    safe.emulator.state.finish(workload.id, "Succeeded")
    await sworld.wphase("short", "Succeeded")
    gets = len(safe.emulator.calls("workloads.get"))
    lists_before = safe.emulator.calls("workloads.list")
    await asyncio.sleep(1.0)  # several reconciles and polls: a window, not synchronisation
    assert len(safe.emulator.calls("workloads.get")) == gets
    await eventually(  # polling goes on, at the slow interval now nothing is live
        lambda: len(safe.emulator.calls("workloads.list")) > len(lists_before),
        within=5,
        what="another poll",
    )


async def test_orphan_and_unknown_deletions_finish(sworld: SafeWorld) -> None:
    safe = sworld.safe
    kind = sworld.workloads_kind()
    sworld.submit("kept", deletionPolicy="Orphan")
    sworld.submit("vanished")
    await eventually(lambda: len(safe.emulator.state.workloads) == 2)
    safe.clock.advance(1)
    await sworld.wphase("kept", "Pending")
    await sworld.wphase("vanished", "Pending")
    vanished = safe.emulator.state.workloads[sworld.wstatus("vanished")["workloadId"]]
    vanished.deleted = True  # deleted on the platform behind the operator's back
    for name in ("kept", "vanished"):
        sworld.cluster.delete(kind, "default", name)
    await eventually(
        lambda: all(
            sworld.cluster.store.get(kind.key, "default", n) is None for n in ("kept", "vanished")
        ),
        what="both deleted",
    )
    kept = safe.emulator.state.workloads[
        next(w for w in safe.emulator.state.workloads if w.startswith("swl-default-kept"))
    ]
    assert kept.phase == "Pending"
    assert not kept.deleted
    # Orphan sends nothing; the vanished one may get a DELETE by id (within the submit grace
    # window a 404 is no proof), which answers 200 for a record already deleted.
    assert all(kept.id not in c.path for c in safe.emulator.calls("workloads.delete"))


@pytest.mark.parametrize("sworld_env", [{"SAFE_API_TOKEN": "ak-revoked"}])
async def test_unauthorized_key(sworld: SafeWorld) -> None:
    sworld.submit("locked")
    await eventually(
        lambda: (
            sworld.wready("locked").get("reason") == "Unauthorized"
            or any(
                c.get("reason") == "Unauthorized"
                for c in sworld.wstatus("locked").get("conditions", [])
            )
        ),
        what="Unauthorized",
    )
    assert sworld.safe.emulator.state.workloads == {}


async def test_platform_outage_backs_off(sworld: SafeWorld) -> None:
    safe = sworld.safe
    safe.emulator.faults.kind(FaultKind.DROP, "*", times=100_000)
    sworld.submit("patient")
    before = len(safe.emulator.calls())
    await asyncio.sleep(5.0)  # the outage being measured, not synchronisation
    during = len(safe.emulator.calls()) - before
    print(f"Primus-SaFE calls during a 5 s outage: {during}")  # shown with -s
    # Poller backoff (0.2 s doubling to 1 s, 2 attempts a read): a handful per second at most.
    assert during < 40
    safe.emulator.faults.clear()
    await eventually(
        lambda: len(safe.emulator.state.workloads) == 1,
        within=30,
        what="submitted once the platform is back",
    )


async def test_a_lagging_watch_submits_and_deletes_once(sworld: SafeWorld) -> None:
    """Every handler until the watch catches up holds a body from before the last patch."""
    sworld.kube.emulator.watches.lag = 1.0
    safe = sworld.safe
    sworld.submit("train")
    await eventually(lambda: safe.emulator.state.workloads, what="submitted")
    safe.clock.advance(6)  # visible, scheduled, dispatched, running
    await sworld.wphase("train", "Running")
    (workload,) = safe.emulator.state.workloads.values()
    safe.emulator.state.finish(workload.id, "Failed")
    await sworld.wphase("train", "Failed")
    sworld.cluster.delete(sworld.workloads_kind(), "default", "train")
    await eventually(lambda: workload.deleted, what="deleted on the platform")
    assert len(safe.emulator.calls("workloads.create")) == 1
    assert len(sworld.events("Submitted")) == 1


@pytest.mark.parametrize(
    ("kind", "config", "code"),
    [
        ("DynamoDeployment", {"installed_kinds": frozenset({"PyTorchJob"})}, "Primus.00001"),
        ("Sandbox", {"enabled_features": frozenset()}, "Primus.00007"),
    ],
)
async def test_a_kind_the_platform_cannot_run_is_submitted_once(
    sworld: SafeWorld, kind: str, config: dict[str, Any], code: str
) -> None:
    """Template not installed (500) or feature off (501): permanent until the spec changes."""
    for key, value in config.items():
        setattr(sworld.safe.emulator.state.config, key, value)
    workspace = sworld.safe.emulator.state.workspaces["ws-train"]
    workspace.scopes = (*workspace.scopes, "Sandbox")  # the scope allows it; the platform not
    sworld.submit("unrunnable", kind=kind)
    await eventually(lambda: sworld.wready("unrunnable").get("reason") == "InvalidSpec")
    assert sworld.wstatus("unrunnable")["lastError"]["code"] == code
    await asyncio.sleep(4)  # a measurement window longer than the 3 s submit grace
    assert len(sworld.safe.emulator.calls("workloads.create")) == 1


async def test_the_new_kinds_run(sworld: SafeWorld) -> None:
    sworld.submit("dynamo", kind="DynamoDeployment")
    await eventually(lambda: sworld.safe.emulator.state.workloads, what="created")
    (workload,) = sworld.safe.emulator.state.workloads.values()
    assert workload.kind == "DynamoDeployment"
