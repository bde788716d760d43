"""Background polling loops: poll, count failures, pause, repeat, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from cfgpu_operator import logs, metrics
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
