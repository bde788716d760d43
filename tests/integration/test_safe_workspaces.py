"""The shared workspace list of one key: one read per TTL for any number of askers, and an
outage that neither blocks a submit nor brings a stampede."""

from __future__ import annotations

import asyncio

from cfgpu_operator.clients.safe_workspaces import Workspaces
from tests.conftest import ServedSafe


async def test_one_read_per_ttl_and_outages_answer_unknown(safe: ServedSafe) -> None:
    now = [0.0]
    async with safe.client() as client:
        cache = Workspaces(client, ttl=300, clock=lambda: now[0])
        safe.emulator.faults.http("workspaces.list", 500, times=10)
        assert await cache.get() is None  # never answered: unknown, not "none"
        now[0] = 10
        assert await cache.get() is None  # no new read before the TTL
        now[0] = 301
        safe.emulator.faults.clear()
        answers = await asyncio.gather(*(cache.get() for _ in range(20)))
        assert all(a is not None and set(a) == {"ws-train"} for a in answers)
        safe.emulator.faults.http("workspaces.list", 500, times=10)
        now[0] = 700
        kept = await cache.get()
        assert kept is not None  # the last good answer stays
        assert "ws-train" in kept
    statuses = [c.status for c in safe.emulator.calls("workspaces.list")]
    assert statuses.count(200) == 1
