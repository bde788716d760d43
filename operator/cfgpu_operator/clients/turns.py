"""Whose request goes next when more want to be sent than may be in flight.

A shared account poll answers every object at once, so it must not queue behind hundreds of
per-object calls: while its snapshot is stale, objects wait on it (or, before, each asked on
its own and kept it stale). Calls made inside ``first()`` (the pollers' tasks) take the next
free slot before any other waiting call; among equals it is first come, first served.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

_FIRST: contextvars.ContextVar[bool] = contextvars.ContextVar("cfgpu_operator_first", default=False)


@contextmanager
def first() -> Iterator[None]:
    """Calls made in this block (and tasks it starts) go before ordinary ones."""
    token = _FIRST.set(True)
    try:
        yield
    finally:
        _FIRST.reset(token)


class Turns:
    """At most ``size`` holders at once; waiting priority calls are served before others."""

    def __init__(self, size: int) -> None:
        self._free = size
        # Waiters in order; a cancelled one stays in the heap until popped, so ``queued``
        # counts the live ones (read on every acquire: no walk of the heap).
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.queued = 0

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        await self._acquire(0 if _FIRST.get() else 1)
        try:
            yield
        finally:
            self._hand_on()

    async def _acquire(self, rank: int) -> None:
        if self._free > 0 and not self.queued:
            self._free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (rank, next(self._order), fut))
        self.queued += 1
        try:
            await fut
        except asyncio.CancelledError:
            if fut.cancelled():
                self.queued -= 1  # gave up waiting; its heap entry is skipped when popped
            else:
                self._hand_on()  # handed the slot in the same step as the cancel: pass it on
            raise

    def _hand_on(self) -> None:
        while self._waiting:
            *_, fut = heapq.heappop(self._waiting)
            if not fut.done():
                self.queued -= 1
                fut.set_result(None)
                return
        self._free += 1
