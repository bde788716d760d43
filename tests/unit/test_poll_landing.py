"""Waiting for the poll that shows an object's last call: as long as the poller moves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from cfgpu_operator.clients.cfgpu_poller import Poller, Snapshot

QUIET = 0.05
CAP = 30.0  # far beyond the test's own deadline: reaching it would fail the test


class GatedClient:
    """A CFGPU client whose status list answers only when the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def list_instance_statuses(self) -> list[Any]:
        await self.gate.wait()
        return []

    async def iter_instances(self, page_size: int) -> AsyncIterator[Any]:
        for _ in ():
            yield


def poller(client: GatedClient, acted: int) -> Poller:
    """A poller whose cycle ``acted`` had landed when the call came."""
    p = Poller(client, fast=QUIET, slow=QUIET)  # type: ignore[arg-type]
    p.snapshot, p.begun = Snapshot(acted, {}), acted
    return p


async def test_a_cycle_slower_than_the_last_one_is_waited_for() -> None:
    client = GatedClient()
    p = poller(client, acted=3)
    cycle = asyncio.create_task(p.poll_once())  # cycle 4 begins after the call
    waiter = asyncio.create_task(p.first_after(3, QUIET, CAP))
    await asyncio.sleep(10 * QUIET)  # the cycle takes ten quiet windows: CFGPU is slow
    client.gate.set()
    found = await asyncio.wait_for(waiter, 5)
    await cycle
    assert found is not None
    assert found.cycle == 4


async def test_a_slow_cycle_under_way_at_the_call_is_waited_for_and_the_next_one() -> None:
    client = GatedClient()
    p = poller(client, acted=2)
    under_way = asyncio.create_task(p.poll_once())  # cycle 3 began before the call...
    await asyncio.sleep(0)
    waiter = asyncio.create_task(p.first_after(3, QUIET, CAP))  # ...which came during it
    await asyncio.sleep(10 * QUIET)  # and takes ten quiet windows
    client.gate.set()
    await under_way
    await p.poll_once()  # cycle 4, begun after the call
    found = await asyncio.wait_for(waiter, 5)
    assert found is not None
    assert found.cycle == 4


async def test_a_poller_that_begins_nothing_is_not_waited_for() -> None:
    p = poller(GatedClient(), acted=3)
    found = await asyncio.wait_for(p.first_after(3, QUIET, CAP), 5)
    assert found is not None
    assert found.cycle == 3  # the snapshot at hand: not fresh


async def test_a_failing_poller_is_not_waited_for() -> None:
    p = poller(GatedClient(), acted=3)
    p.begun, p.failures = 4, 1  # a cycle after the call began, and polls are failing
    found = await asyncio.wait_for(p.first_after(3, QUIET, CAP), 5)
    assert found is not None
    assert found.cycle == 3
