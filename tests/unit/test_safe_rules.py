"""Primus-SaFE: error classification, and the emulator's phase machine, table-style."""

from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.clients.safe_errors import classify
from cfgpu_operator.clients.safe_wire import parse_time
from cfgpu_operator.emulators.clock import ManualClock
from cfgpu_operator.emulators.safe.model import SafeError, Workspace
from cfgpu_operator.emulators.safe.state import SafeConfig, SafeState
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


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "Primus.00009", Unauthorized),
        (401, "Primus.00011", Unauthorized),
        (403, "Primus.00003", Forbidden),
        (403, "Forbidden", Forbidden),
        (400, "Primus.00002", RejectedInput),
        (422, "Invalid", RejectedInput),
        (404, "Primus.01001", NotFound),
        (404, "Primus.00005", NotFound),
        (404, "Primus.02001", NotFound),
        (404, "NotFound", NotFound),
        (409, "Primus.00012", WrongState),
        (409, "AlreadyExists", Conflict),
        (500, "Primus.00001", Unavailable),
        (503, "Primus.00008", QuotaExceeded),
        (503, None, QuotaExceeded),
        (503, "ServiceUnavailable", Unavailable),
        (502, None, Unavailable),
        (418, None, ApiError),
    ],
)
def test_status_first_then_code(status: int, code: str | None, kind: type[ApiError]) -> None:
    assert classify(status, code) is kind


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2025-01-15T10:31:00", "2025-01-15T10:31:00+00:00"),
        ("2025-01-15T10:31:00Z", "2025-01-15T10:31:00+00:00"),
        ("", None),
    ],
)
def test_times(text: str, iso: str | None) -> None:
    parsed = parse_time(text)
    assert (parsed.isoformat() if parsed else None) == iso


BODY: dict[str, Any] = {
    "displayName": "job",
    "workspaceId": "ws",
    "resources": [{"replica": 1, "cpu": "1", "memory": "1Gi"}],
}


class World:
    def __init__(self, **config: Any) -> None:
        self.clock = ManualClock()
        defaults = {
            "visibility_lag": 0,
            "schedule_seconds": 1,
            "dispatch_seconds": 1,
            "start_seconds": 1,
        }
        self.state = SafeState(self.clock, SafeConfig(**{**defaults, **config}))
        self.state.add_workspace(Workspace("ws", "ws"))
        self.user = self.state.add_user("ak-x", "alice", workspaces=("ws",))

    def create(self, **overrides: Any) -> str:
        return self.state.create(self.user, {**BODY, **overrides}).id

    def phase(self, workload_id: str) -> str:
        self.state.settle()
        return self.state.workloads[workload_id].phase


def test_job_path_and_retries_back_to_pending() -> None:
    world = World()
    workload_id = world.create(maxRetry=1)
    world.clock.advance(3)
    assert world.phase(workload_id) == "Running"
    world.state.finish(workload_id, "Failed")
    assert world.phase(workload_id) == "Pending"  # one retry left
    workload = world.state.workloads[workload_id]
    assert workload.dispatch_count == 1
    world.clock.advance(2)
    assert world.phase(workload_id) == "Running"
    assert workload.dispatch_count == 2
    world.state.finish(workload_id, "Failed")
    assert world.phase(workload_id) == "Failed"


def test_run_seconds_succeed_and_ttl_removes_the_cr() -> None:
    world = World(run_seconds=5)
    workload_id = world.create(ttlSecondsAfterFinished=10)
    world.clock.advance(8)
    assert world.phase(workload_id) == "Succeeded"
    world.clock.advance(10)
    world.state.settle()
    with pytest.raises(SafeError) as caught:
        world.state.patch(world.user, workload_id, {"priority": 1})
    assert (caught.value.status, caught.value.code) == (500, "Primus.00001")


def test_timeout_stops_a_running_workload() -> None:
    world = World()
    workload_id = world.create(timeout=30)
    world.clock.advance(3)
    assert world.phase(workload_id) == "Running"
    world.clock.advance(30)
    assert world.phase(workload_id) == "Stopped"
    assert world.state.workloads[workload_id].conditions[-1]["type"] == "AdminStopped"


def test_deployments_keep_running_and_stay_patchable() -> None:
    world = World(run_seconds=1)
    workload_id = world.create(groupVersionKind={"kind": "Deployment"}, maxRetry=5)
    world.clock.advance(100)
    assert world.phase(workload_id) == "Running"
    assert world.state.workloads[workload_id].max_retry == 0  # forced for Deployment
    world.state.patch(world.user, workload_id, {"images": ["new:2"]})
    assert world.state.workloads[workload_id].images == ["new:2"]


def test_visibility_lag_hides_a_new_workload_from_reads() -> None:
    world = World(visibility_lag=2)
    workload_id = world.create()
    assert world.state.visible(workload_id) is None
    world.clock.advance(2)
    assert world.state.visible(workload_id) is not None


def test_plain_entry_points_are_encoded_and_base64_kept() -> None:
    world = World()
    workload_id = world.create(entryPoints=["python train.py", "bHM="])
    assert world.state.workloads[workload_id].entry_points == ["cHl0aG9uIHRyYWluLnB5", "bHM="]
