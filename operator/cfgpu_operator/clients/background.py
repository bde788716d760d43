"""A coroutine that runs in the background until stopped (the pollers)."""

from __future__ import annotations

import asyncio
import contextlib


class Background:
    """Subclasses implement ``_run``; ``start`` and ``stop`` are idempotent."""

    _task: asyncio.Task[None] | None = None
    _name = "background"

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError
