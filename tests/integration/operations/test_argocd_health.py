"""The Argo CD health check (deploy/argocd/health.lua) run by Lua 5.1, the Lua Argo CD
embeds, on objects as the real operator leaves them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from lupa import lua51

from tests.helpers import eventually
from tests.integration.operations.conftest import PodWorld

SCRIPT = (Path(__file__).resolve().parents[3] / "deploy" / "argocd" / "health.lua").read_text()


def health(obj: dict[str, Any]) -> tuple[str, str]:
    lua = lua51.LuaRuntime()
    lua.globals().obj = lua.table_from(copy.deepcopy(obj), recursive=True)
    result = lua.execute(SCRIPT)
    return str(result["status"]), str(result["message"])


async def test_health_follows_the_operator(pod: PodWorld) -> None:
    pod.apply("trainer")
    pod.apply("typo", gpuType="RTX 9999")
    # CREATING on CFGPU, not just the recorded intent: the clock moves only after the create.
    await eventually(lambda: pod.status("trainer").get("cfgpuStatus") == "CREATING")
    creating = pod.get("trainer")
    assert creating is not None
    assert health(creating)[0] == "Progressing"
    await eventually(lambda: pod.ready("typo").get("reason") == "InvalidSpec")
    typo = pod.get("typo")
    assert typo is not None
    status, message = health(typo)
    assert status == "Degraded"
    assert "RTX 9999" in message
    pod.cfgpu.clock.advance(5)
    await pod.phase("trainer", "Running")
    running = pod.get("trainer")
    assert running is not None
    assert health(running)[0] == "Healthy"
    pod.submit("job", gpuInstanceRefs=["missing"])
    await eventually(lambda: pod.wstatus("job").get("phase") == "Waiting")
    waiting = pod.get_workload("job")
    status, message = health(waiting)
    assert status == "Progressing"
    assert "missing" in message


def _obj(generation: int = 1, **ready: Any) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = [{"type": "Synced", "status": "True"}]
    if ready:
        conditions.append({"type": "Ready", "observedGeneration": 1, **ready})
    return {"metadata": {"generation": generation}, "status": {"conditions": conditions}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"metadata": {"generation": 1}}, "Progressing"),  # not seen by the operator yet
        (_obj(), "Progressing"),  # no Ready condition yet
        (_obj(status="True", reason="Running"), "Healthy"),
        (_obj(generation=2, status="True", reason="Running"), "Progressing"),  # stale
        (_obj(status="False", reason="Starting"), "Progressing"),
        (_obj(status="False", reason="WaitingForCapacity"), "Progressing"),
        (_obj(status="False", reason="InsufficientBalance"), "Degraded"),
        (_obj(status="False", reason="WorkloadFailed"), "Degraded"),
        (_obj(status="False", reason="Paused"), "Suspended"),
        (_obj(status="False", reason="Suspended"), "Suspended"),
    ],
)
def test_health_table(obj: dict[str, Any], expected: str) -> None:
    assert health(obj)[0] == expected
