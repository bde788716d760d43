"""Background polling loops: poll, count failures, pause, repeat, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from cfgpu_operator import logs, metrics
from cfgpu_operator.clients import turns
from cfgpu_operator.errors import ApiError

log = logging.getLogger("cfgpu_operator.poller")


class Background:
    """Subclasses implement ``poll_once``, ``interval`` and ``_pause``; ``start`` and
    ``stop`` are idempotent. A failed poll keeps the last good snapshot and counts towards
    the backoff that ``interval`` applies.

    Liveness asks ``stalled``: the loop died, or has not finished a cycle (successful or
    not) for ``stall_after`` seconds. An API outage is not a stall: failed polls still
    finish cycles, and restarting the pod would not bring the API back.
    """

    _task: asyncio.Task[None] | None = None
    _name = "poller"
    api = "unknown"
    failures = 0
    last_error: ApiError | None = None
    stall_after = 600.0
    heartbeat: float | None = None  # monotonic time the loop last started or ended a cycle

    def start(self) -> None:
        if self._task is None:
            self.heartbeat = time.monotonic()
            # One poller serves many objects: its lines must not carry the tag of the
            # object whose handler happened to start it.
            self._task = asyncio.create_task(self._run(), name=self._name, context=logs.detached())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def stalled(self, now: float | None = None) -> str | None:
        """Why this loop counts as stalled, or None while it is healthy (or not started)."""
        task = self._task
        if task is None or self.heartbeat is None:
            return None
        if task.done():
            return f"{self._name} stopped unexpectedly"
        quiet = (time.monotonic() if now is None else now) - self.heartbeat
        if quiet > self.stall_after:
            return f"{self._name} has not finished a poll for {quiet:.0f}s"
        return None

    async def poll_once(self) -> object:
        raise NotImplementedError

    def interval(self) -> float:
        raise NotImplementedError

    async def _pause(self, seconds: float) -> None:
        raise NotImplementedError

    def _before_poll(self) -> None:
        """Reset per-cycle flags (kicks) before polling."""

    async def _run(self) -> None:
        with turns.first():  # one poll answers every object: it goes before their own calls
            await self._loop()

    async def _loop(self) -> None:
        while True:
            self._before_poll()
            started = time.monotonic()
            result = "ok"
            try:
                await self.poll_once()
            except ApiError as exc:
                result = "error"
                self.failures += 1
                self.last_error = exc
                log.warning("%s failed (%d in a row): %s", self._name, self.failures, exc)
            self.heartbeat = time.monotonic()
            metrics.POLL_CYCLE.labels(self.api, result).observe(self.heartbeat - started)
            pause = self.interval()
            # The pause itself is not a stall: allow for it on top of the usual budget.
            self.heartbeat += pause
            await self._pause(pause)


JITTER = 0.1  # each interval varies by up to ±10%


class Polling(Background):
    """A Background loop on the shared cadence: every ``fast`` seconds while something is
    busy (transient) or an object asked for news (``kick``), every ``slow`` seconds otherwise,
    with jitter; after failures it backs off from fast towards slow, and then a kick waits for
    the backoff too (no hot loop during an outage)."""

    def __init__(
        self,
        *,
        fast: float,
        slow: float,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fast, self._slow = fast, slow
        self._jitter, self._clock = jitter, clock
        self._wake = asyncio.Event()
        self._urgent = False

    def busy(self) -> bool:
        """Whether the last snapshot shows something in a transient state."""
        raise NotImplementedError

    def kick(self) -> None:
        """Ask for a prompt next poll (an object just acted, or waits for news)."""
        self._urgent = True
        self._wake.set()

    def interval(self) -> float:
        base = self._fast if self._urgent or self.busy() else self._slow
        if self.failures:
            base = min(self._slow, self._fast * 2 ** min(self.failures, 20))
        return base * (1 + JITTER * (2 * self._jitter() - 1))

    def _before_poll(self) -> None:
        self._urgent = False
        self._wake.clear()

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake for a kick once at least the fast interval has passed."""
        deadline = self._clock() + seconds
        earliest = deadline if self.failures else self._clock() + min(seconds, self._fast)
        while (left := deadline - self._clock()) > 0:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # arrives as the wait ends (a kick just before stop), and stop() then hangs.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._wake.wait()
            if self._wake.is_set() and self._clock() >= earliest:
                return
            if self._wake.is_set():
                await asyncio.sleep(max(0.0, earliest - self._clock()))
                return
