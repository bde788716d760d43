"""One periodic run: what it writes, when it comes back, and what it says when it fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf
import pytest

from cfgpu_operator.handlers import requeue, ticking

BODY = kopf.Body({"metadata": {"namespace": "ml", "name": "trainer", "uid": "u1"}})


class Writes:
    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    async def __call__(self, body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append(dict(status))


def _tick(status: dict[str, Any] | None = None, raises: Exception | None = None) -> ticking.Tick:
    async def tick(*, body: kopf.Body, patch: kopf.Patch, uid: str) -> None:
        if status:
            patch.setdefault("status", {}).update(status)
        if raises is not None:
            raise raises

    return tick


class Failing(Exception):
    status, reason = 409, "Conflict"


@pytest.mark.parametrize(
    ("tick", "fail", "delay", "written", "level", "said"),
    [
        # nothing to do: no write, no line, back after the interval
        (_tick(), None, 10.0, [], None, None),
        (_tick({"phase": "Running"}), None, 10.0, [{"phase": "Running"}], None, None),
        # a wait the reconcile asked for: its delay, its status written, an INFO line
        (
            _tick({"phase": "Pending"}, requeue.Waiting("creating", delay=2.0)),
            None,
            2.0,
            [{"phase": "Pending"}],
            logging.INFO,
            "runs again in 2 s: creating",
        ),
        # a defect: one ERROR line naming it, the loop goes on after the interval
        (_tick(raises=KeyError("spec")), None, 10.0, [], logging.ERROR, "KeyError('spec')"),
        # a failed write: a WARNING naming the HTTP answer, never the body
        (
            _tick({"phase": "Running"}),
            Failing(),
            10.0,
            [],
            logging.WARNING,
            "could not write the status (HTTP 409 Conflict)",
        ),
    ],
)
def test_one_periodic_run(
    tick: ticking.Tick,
    fail: Exception | None,
    delay: float,
    written: list[dict[str, Any]],
    level: int | None,
    said: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write = Writes(fail)
    with caplog.at_level(logging.DEBUG, logger="cfgpu_operator.objects"):
        got = asyncio.run(
            ticking.once(
                body=BODY, uid="u1", tick=tick, interval=10.0, write=write, kind="GpuInstance"
            )
        )
    assert got == delay
    assert write.calls == written
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    if level is None or said is None:
        assert lines == []
    else:
        assert [lvl for lvl, _ in lines] == [level]
        assert said in lines[0][1]
        assert "Traceback" not in caplog.text


class Stopped:
    """A daemon's ``stopped`` flag that is set after ``waits`` waits."""

    def __init__(self, waits: int) -> None:
        self.waits, self.left = 0, waits

    async def wait(self, delay: float) -> None:
        self.waits += 1

    def __bool__(self) -> bool:
        return self.waits > self.left


@pytest.mark.parametrize(("handled_after", "runs"), [(None, 0), (0, 5), (3, 2)])
def test_periodic_runs_wait_for_the_objects_first_handler(
    handled_after: int | None, runs: int
) -> None:
    """In a burst Kopf reaches an object's create handler late: the periodic runs leave the
    object alone until then instead of doing the creation a second time beside it."""
    ran: list[str] = []
    stopped = Stopped(waits=5)

    async def tick(*, body: kopf.Body, patch: kopf.Patch, uid: str) -> None:
        ran.append(uid)

    def handled(uid: str) -> bool:
        return handled_after is not None and stopped.waits > handled_after

    asyncio.run(
        ticking.run(
            stopped=stopped,  # type: ignore[arg-type]
            body=BODY,
            uid="u1",
            tick=tick,
            interval=10.0,
            write=Writes(),
            kind="GpuInstance",
            handled=handled,
        )
    )
    assert len(ran) == runs
