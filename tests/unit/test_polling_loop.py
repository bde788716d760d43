"""The shared polling loop stops when asked, even when a kick woke it just before."""

from __future__ import annotations

import asyncio

import pytest

from cfgpu_operator.clients.background import Polling


class Idle(Polling):
    api = "test"

    def busy(self) -> bool:
        return False

    async def poll_once(self) -> object:
        return None


@pytest.mark.parametrize("yields", range(4))
async def test_stop_right_after_a_kick_returns(yields: int) -> None:
    loop = Idle(fast=0.01, slow=60, jitter=lambda: 0.5)
    loop.start()
    for _ in range(3):  # into the long pause
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    loop.kick()
    for _ in range(yields):  # the wake lands, the loop has not resumed yet
        await asyncio.sleep(0)
    stopping = asyncio.create_task(loop.stop())
    await asyncio.wait({stopping}, timeout=5)
    assert stopping.done(), "stop() hung: the loop swallowed its cancellation"
