"""Turns: at most N holders; priority waiters first, otherwise first come, first served; a
cancelled waiter never loses a slot."""

from __future__ import annotations

import asyncio

from cfgpu_operator.clients import turns
from cfgpu_operator.clients.turns import Turns


async def _hold(t: Turns, name: str, log: list[str], release: asyncio.Event) -> None:
    async with t.turn():
        log.append(name)
        await release.wait()


async def test_priority_waiters_go_first_then_arrival_order() -> None:
    t, release = Turns(1), asyncio.Event()
    log: list[str] = []
    holder = asyncio.create_task(_hold(t, "holder", log, release))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(_hold(t, f"plain-{i}", log, release)) for i in range(3)]
    await asyncio.sleep(0)

    async def urgent() -> None:
        with turns.first():
            await _hold(t, "urgent", log, release)

    waiting.append(asyncio.create_task(urgent()))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(holder, *waiting)
    assert log == ["holder", "urgent", "plain-0", "plain-1", "plain-2"]


async def test_a_cancelled_waiter_does_not_lose_the_slot() -> None:
    t, release = Turns(1), asyncio.Event()
    log: list[str] = []
    holder = asyncio.create_task(_hold(t, "holder", log, release))
    await asyncio.sleep(0)
    gone = asyncio.create_task(_hold(t, "gone", log, release))
    after = asyncio.create_task(_hold(t, "after", log, release))
    await asyncio.sleep(0)
    release.set()
    gone.cancel()  # cancelled while it waits
    await asyncio.gather(holder, after, gone, return_exceptions=True)
    assert log == ["holder", "after"]
    assert t.queued == 0
    async with asyncio.timeout(1):  # the slot came back: a new holder gets it at once
        async with t.turn():
            pass


async def test_never_more_holders_than_slots() -> None:
    t, live, most = Turns(3), 0, 0

    async def one() -> None:
        nonlocal live, most
        async with t.turn():
            live += 1
            most = max(most, live)
            await asyncio.sleep(0)
            live -= 1

    await asyncio.gather(*(one() for _ in range(50)))
    assert most == 3


async def test_a_waiter_cancelled_as_it_is_handed_the_slot_passes_it_on() -> None:
    t = Turns(1)
    async with t.turn():
        waiter = asyncio.create_task(t._acquire(1))
        await asyncio.sleep(0)  # it waits
    # Leaving the block handed the slot to the waiter, which has not run yet: cancel it now.
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert t.queued == 0
    async with asyncio.timeout(1):  # the slot was passed on, not lost
        async with t.turn():
            pass
