"""One background poll per token, shared by every object that uses the token.

Each cycle is instance/status plus instance/page (one page per 100 instances), however many
GpuInstances there are. It polls fast while anything is in a transient state or an object
asked for news, slowly otherwise, with jitter; after failures it backs off towards the slow
interval and keeps serving the last good snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cfgpu_operator.clients.background import Background
from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.cfgpu_wire import TRANSIENT_STATUSES, InstanceRecord
from cfgpu_operator.errors import ApiError

JITTER = 0.1  # each interval varies by up to ±10%


@dataclass(frozen=True)
class Snapshot:
    cycle: int  # numbered when the cycle began: it shows nothing done after that
    statuses: dict[str, str]
    records: dict[str, InstanceRecord] = field(default_factory=dict)

    def status_of(self, instance_id: str) -> str | None:
        return self.statuses.get(instance_id)

    @property
    def transient(self) -> bool:
        return any(code in TRANSIENT_STATUSES for code in self.statuses.values())


class Poller(Background):
    _name = "cfgpu-poller"
    api = "cfgpu"

    def __init__(
        self,
        client: CfgpuClient,
        *,
        fast: float,
        slow: float,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._fast, self._slow = fast, slow
        self._jitter, self._clock = jitter, clock
        self.snapshot: Snapshot | None = None
        self.last_error: ApiError | None = None
        self.failures = 0
        self.begun = 0  # cycles started so far
        self._wake = asyncio.Event()
        self._urgent = False
        self._changed = asyncio.Condition()

    def kick(self) -> None:
        """Ask for a fast next poll (an object just acted, or is waiting for news)."""
        self._urgent = True
        self._wake.set()

    async def next_snapshot(self, after_cycle: int, within: float) -> Snapshot | None:
        """Wait for a snapshot newer than ``after_cycle`` (or give up after ``within`` s)."""
        self.kick()
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(
                        lambda: self.snapshot is not None and self.snapshot.cycle > after_cycle
                    ),
                    within,
                )
        return self.snapshot

    async def poll_once(self) -> Snapshot:
        # Counted at the start: a cycle that began before a call and ended after it may not
        # show the call, so it must not look newer than the call.
        self.begun += 1
        cycle = self.begun
        statuses = {
            s.instance_id: s.status_code for s in await self.client.list_instance_statuses()
        }
        records = {r.instance_id: r async for r in self.client.iter_instances(page_size=100)}
        for instance_id, record in records.items():
            statuses.setdefault(instance_id, record.status_code)
        snapshot = Snapshot(cycle, statuses, records)
        self.snapshot, self.last_error, self.failures = snapshot, None, 0
        async with self._changed:
            self._changed.notify_all()
        return snapshot

    def interval(self) -> float:
        urgent = self._urgent or (self.snapshot is not None and self.snapshot.transient)
        base = self._fast if urgent else self._slow
        if self.failures:
            base = min(self._slow, self._fast * 2 ** min(self.failures, 20))
        return base * (1 + JITTER * (2 * self._jitter() - 1))

    def _before_poll(self) -> None:
        self._urgent = False
        self._wake.clear()

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake for a kick once at least the fast interval has passed; while the
        API is failing, kicks wait for the backoff too (no hot loop during an outage)."""
        deadline = self._clock() + seconds
        earliest = deadline if self.failures else self._clock() + min(seconds, self._fast)
        while (left := deadline - self._clock()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)
            if self._wake.is_set() and self._clock() >= earliest:
                return
            if self._wake.is_set():
                await asyncio.sleep(max(0.0, earliest - self._clock()))
                return
