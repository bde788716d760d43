"""Waiting on conditions with deadlines (never bare sleeps) and small shared builders."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

T = TypeVar("T")

DEADLINE = 20.0
POLL = 0.02


async def eventually(
    probe: Callable[[], T | Awaitable[T]], *, within: float = DEADLINE, what: str = ""
) -> T:
    """Return the first truthy value ``probe`` gives; fail the test after ``within`` s."""
    deadline = time.monotonic() + within
    last: object = None
    while True:
        value = probe()
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or probe}: {last!r}")
        await asyncio.sleep(POLL)


async def eventually_async(
    probe: Callable[[], Awaitable[T]], *, within: float = DEADLINE, what: str = ""
) -> T:
    """``eventually`` for a coroutine probe (a scrape, an HTTP check), typed for mypy."""
    found: object = await eventually(cast(Callable[[], object], probe), within=within, what=what)
    return cast(T, found)
