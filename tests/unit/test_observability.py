"""Pure pieces behind metrics, liveness and logs."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from cfgpu_operator import logs, metrics
from cfgpu_operator.clients.background import Background
from cfgpu_operator.errors import ApiTimeout, RateLimited, Unavailable
from cfgpu_operator.handlers.observability import record_outcome


@pytest.mark.parametrize(
    ("exc", "label"),
    [
        (None, "ok"),
        (Unavailable("x", api="cfgpu", endpoint="e"), "unavailable"),
        (ApiTimeout("x", api="cfgpu", endpoint="e"), "api_timeout"),
        (RateLimited("x", api="cfgpu", endpoint="e"), "rate_limited"),
    ],
)
def test_outcome_labels(exc: BaseException | None, label: str) -> None:
    assert metrics.outcome_of(exc) == label


def test_object_phases_count_by_kind_and_phase() -> None:
    phases = metrics.ObjectPhases()
    phases.set("a", "GpuInstance", "Creating")
    phases.set("b", "GpuInstance", "Creating")
    phases.set("a", "GpuInstance", "Running")
    phases.set("c", "SafeWorkload", "Pending")
    phases.forget("b")
    phases.forget("never-seen")
    assert dict(phases.counts()) == {
        ("GpuInstance", "Running"): 1,
        ("SafeWorkload", "Pending"): 1,
    }


NOW = "2026-12-01T00:00:00Z"


def test_the_longest_not_ready_object_of_each_kind() -> None:
    phases = metrics.ObjectPhases()
    phases.set("a", "GpuInstance", "Creating", not_ready_since=100.0)
    phases.set("b", "GpuInstance", "Pending", not_ready_since=40.0)
    phases.set("c", "SafeWorkload", "Running")  # Ready
    phases.set("d", "SafeWorkload", "Waiting", not_ready_since=90.0)
    phases.set("d", "SafeWorkload", "Running")  # Ready now
    assert phases.longest_not_ready(now=160.0) == {"GpuInstance": 120.0, "SafeWorkload": 0.0}
    phases.forget("b")
    assert phases.longest_not_ready(now=160.0) == {"GpuInstance": 60.0, "SafeWorkload": 0.0}
    phases.forget("a")
    assert phases.longest_not_ready(now=160.0) == {"SafeWorkload": 0.0}


def _ready(status: str, since: str) -> dict[str, Any]:
    return {"type": "Ready", "status": status, "lastTransitionTime": since}


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("before", "after", "observed"),
    [
        ([], [_ready("False", NOW)], False),
        ([], [_ready("True", NOW)], True),  # from creationTimestamp
        ([_ready("False", "2020-01-01T00:00:00Z")], [_ready("True", NOW)], True),
        ([_ready("True", "2020-01-01T00:00:00Z")], [_ready("True", NOW)], False),
    ],
)
def test_time_to_ready_is_observed_once_per_transition(
    before: list[dict[str, Any]], after: list[dict[str, Any]], observed: bool
) -> None:
    kind = "UnitTestKind"
    count = "cfgpu_operator_time_to_ready_seconds_count"
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    written = {"conditions": after, "phase": "Running"}
    was = _sample(count, kind=kind)
    record_outcome(kind, "uid-1", {"conditions": before}, written, created)
    assert _sample(count, kind=kind) - was == (1 if observed else 0)
    metrics.OBJECTS.forget("uid-1")


class _Loop(Background):
    _name = "test-poller"

    def __init__(self, poll: Any) -> None:
        self._poll = poll

    async def poll_once(self) -> object:
        return await self._poll()

    def interval(self) -> float:
        return 0.01

    async def _pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_a_dead_poller_is_stalled() -> None:
    async def crash() -> None:
        raise RuntimeError("bug")

    loop = _Loop(crash)
    assert loop.stalled() is None  # not started: nothing to report
    loop.start()
    assert loop._task is not None
    with pytest.raises(RuntimeError):
        await loop._task
    assert loop.stalled() == "test-poller stopped unexpectedly"


async def test_a_hung_poll_is_stalled_after_the_budget_but_an_outage_is_not() -> None:
    hang = asyncio.Event()

    async def failing() -> None:
        raise Unavailable("down", api="cfgpu", endpoint="e")

    outage = _Loop(failing)
    outage.stall_after = 5
    outage.start()
    await asyncio.sleep(0.05)  # several failed cycles
    assert outage.failures > 1
    assert outage.stalled(now=time.monotonic() + 4) is None
    await outage.stop()

    hung = _Loop(hang.wait)
    hung.stall_after = 5
    hung.start()
    await asyncio.sleep(0)
    assert hung.stalled(now=time.monotonic() + 4) is None
    reason = hung.stalled(now=time.monotonic() + 6)
    assert reason is not None
    assert "has not finished a poll" in reason
    await hung.stop()


def _record(message: str, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("cfgpu_operator.clients", logging.INFO, "f", 1, message, None, None)
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_the_object_from_kopf_or_the_handler_context() -> None:
    formatter, tag = logs.Json(), logs.ObjectTag()
    kopf_line = _record("created", k8s_ref={"kind": "GpuInstance", "namespace": "ml", "name": "a"})
    assert tag.filter(kopf_line)
    with logs.about("SafeWorkload", "ml", "b"):
        ours = _record("POST workloads.create")
        tag.filter(ours)
    loose = _record("poll")
    tag.filter(loose)

    first, second, third = (json.loads(formatter.format(r)) for r in (kopf_line, ours, loose))
    assert first["name"] == "a"
    assert first["kind"] == "GpuInstance"
    assert (second["kind"], second["namespace"], second["name"]) == ("SafeWorkload", "ml", "b")
    assert "name" not in third
    assert third["logger"] == "cfgpu_operator.clients"
    assert {"time", "level", "message"} <= third.keys()


async def test_background_tasks_do_not_inherit_the_object_tag() -> None:
    seen: list[object] = []

    async def capture() -> None:
        record = _record("x")
        logs.ObjectTag().filter(record)
        seen.append(getattr(record, "k8s_ref", None))
        await asyncio.Event().wait()

    loop = _Loop(capture)
    with logs.about("GpuInstance", "ml", "first"):
        loop.start()
    await asyncio.sleep(0.01)
    await loop.stop()
    assert seen == [None]


async def test_liveness_names_a_stuck_api_client() -> None:
    from cfgpu_operator.handlers.runtime import Runtime
    from cfgpu_operator.settings import Settings

    rt = Runtime(Settings(CFGPU_API_URL="http://127.0.0.1:9"))  # never called
    account = rt.account("t0ken-of-the-test", "uid-1")
    try:
        assert rt.stalled_pollers() == []
        stuck = "the cfgpu client sent nothing for 61s while 3 calls wait"
        account.client._http.stuck = lambda now=None: stuck  # type: ignore[method-assign]
        assert rt.stalled_pollers() == [stuck]
    finally:
        await rt.close()


def test_json_lines_keep_chinese_readable() -> None:
    line = logs.Json().format(_record("CFGPU said: token无效或已过期"))
    assert "token无效或已过期" in line
    assert json.loads(line)["message"] == "CFGPU said: token无效或已过期"
