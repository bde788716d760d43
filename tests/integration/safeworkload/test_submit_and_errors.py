"""Submitting exactly once across a crash, error reasons, and secretEnv secrecy."""

from __future__ import annotations

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
        ({"workspaceId": "ws-ray"}, "Forbidden"),
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
    await eventually(lambda: len(sworld.safe.emulator.state.workloads) == 1)
    (workload,) = sworld.safe.emulator.state.workloads.values()
    assert workload.env["HF_TOKEN"] == value
    sworld.safe.clock.advance(1)
    await sworld.wphase("private", "Pending")
    texts = [sworld.operator.log(), str(sworld.events()), str(sworld.wstatus("private"))]
    for secret in (value, SAFE_KEY):
        assert all(secret not in text for text in texts)
