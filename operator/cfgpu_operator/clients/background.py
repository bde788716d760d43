"""Background polling loops: poll, count failures, pause, repeat, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from cfgpu_operator.errors import ApiError

log = logging.getLogger("cfgpu_operator.poller")


class Background:
    """Subclasses implement ``poll_once``, ``interval`` and ``_pause``; ``start`` and
    ``stop`` are idempotent. A failed poll keeps the last good snapshot and counts towards
    the backoff that ``interval`` applies."""

    _task: asyncio.Task[None] | None = None
    _name = "poller"
    failures = 0
    last_error: ApiError | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

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
            try:
                await self.poll_once()
            except ApiError as exc:
                self.failures += 1
                self.last_error = exc
                log.warning("%s failed (%d in a row): %s", self._name, self.failures, exc)
            await self._pause(self.interval())
