"""One periodic run: what it writes, when it comes back, and what it says when it fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import kopf
import pytest

from cfgpu_operator.handlers import requeue, ticking
from cfgpu_operator.handlers.kube_session import WriteFailed

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
        # over Kopf's session: the answer's status, or what kept it from answering
        (
            _tick({"phase": "Running"}),
            WriteFailed(422, "Unprocessable Entity"),
            10.0,
            [],
            logging.WARNING,
            "could not write the status (HTTP 422 Unprocessable Entity)",
        ),
        (
            _tick({"phase": "Running"}),
            WriteFailed(0, "ClientConnectorError"),
            10.0,
            [],
            logging.WARNING,
            "could not write the status (ClientConnectorError)",
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


@pytest.mark.parametrize(("handled_after", "runs"), [(None, 0), (0.0, 4), (2.0, 2)])
def test_periodic_runs_wait_for_the_objects_first_handler(
    handled_after: float | None, runs: int
) -> None:
    """In a burst Kopf reaches an object's create handler late: the periodic runs leave the
    object alone until then instead of doing the creation a second time beside it."""
    ran: list[str] = []

    async def tick(*, body: kopf.Body, patch: kopf.Patch, uid: str) -> None:
        ran.append(uid)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()

        def handled(uid: str) -> bool:
            return handled_after is not None and loop.time() - started > handled_after

        daemon = _loop(tick, Writes(), handled)
        await asyncio.sleep(4.2)  # virtual time: see the event loop's clock below
        daemon.cancel()
        await daemon  # an ordinary end: Kopf would log a cancelled daemon as a WARNING

    _run_fast(scenario())
    assert len(ran) == runs


def test_a_run_under_way_is_finished_before_the_loop_ends() -> None:
    """Kopf cancels the loop when the object is deleted: a run that may have rented an
    instance still gets to report (and store) what it did."""
    finished: list[bool] = []

    async def tick(*, body: kopf.Body, patch: kopf.Patch, uid: str) -> None:
        await asyncio.sleep(5.0)
        patch.setdefault("status", {})["instanceId"] = "i-1"
        finished.append(True)

    async def scenario() -> list[dict[str, Any]]:
        write = Writes()
        daemon = _loop(tick, write, lambda uid: True)
        await asyncio.sleep(1.0)  # the first run is under way
        daemon.cancel()
        await daemon  # an ordinary end: Kopf would log a cancelled daemon as a WARNING
        return write.calls

    assert _run_fast(scenario()) == [{"instanceId": "i-1"}]
    assert finished == [True]


@pytest.mark.parametrize(
    ("stop_at", "ends_at", "runs"),
    [
        (1.0, 5.5, 1),  # the run begun at 0.5 s takes 5 s: finished, then the end
        (6.0, 6.0, 1),  # between runs (the next at 6.5 s): the end at once
    ],
)
def test_the_loop_ends_when_kopf_stops_it(stop_at: float, ends_at: float, runs: int) -> None:
    """Kopf runs the deletion handler only once the loop has ended, and does not look again
    for two minutes if it has not: it ends when told, after a run under way."""

    async def tick(*, body: kopf.Body, patch: kopf.Patch, uid: str) -> None:
        await asyncio.sleep(5.0)
        patch.setdefault("status", {})["phase"] = "Running"

    async def scenario() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        stop: asyncio.Future[object] = loop.create_future()
        write = Writes()
        daemon = _loop(tick, write, lambda uid: True, stopped=stop)
        await asyncio.sleep(stop_at)
        stop.set_result(None)
        await daemon  # ends by itself: Kopf does not cancel it
        return loop.time(), len(write.calls)

    assert _run_fast(scenario()) == (ends_at, runs)


def _loop(
    tick: ticking.Tick,
    write: Writes,
    handled: Callable[[str], bool],
    stopped: asyncio.Future[object] | None = None,
) -> asyncio.Future[None]:
    """One object's periodic loop as Kopf's daemon would run it, every second."""
    return asyncio.ensure_future(
        ticking.run(
            body=BODY,
            uid="u1",
            tick=tick,
            interval=1.0,
            write=write,
            kind="GpuInstance",
            handled=handled,
            stopped=stopped,
        )
    )


def _run_fast(coro: Any) -> Any:
    """Run with a clock that jumps to the next timer: seconds of sleeps take no time."""
    loop = asyncio.new_event_loop()
    now = [0.0]
    loop.time = lambda: now[0]  # type: ignore[method-assign]
    original = loop._run_once  # type: ignore[attr-defined]

    def run_once() -> None:
        scheduled = loop._scheduled  # type: ignore[attr-defined]
        if not loop._ready and scheduled:  # type: ignore[attr-defined]
            now[0] = max(now[0], scheduled[0].when())
        original()

    loop._run_once = run_once  # type: ignore[attr-defined]
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
