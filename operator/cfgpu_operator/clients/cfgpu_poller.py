"""One background poll per token, shared by every object that uses the token.

Each cycle is instance/status, however many GpuInstances there are; the listing behind it
(instance/page, one page per 100 instances: names, images, expiry) is read again only when
the statuses show something it does not (a new instance, a changed status), when an object
changed something, once it is ``RECORDS_MAX_AGE`` old, and every cycle while a prepaid
instance has not expired (CFGPU's expiry flags change with its clock, not with the status).
It polls fast while anything is in a transient state or an object asked for news, slowly
otherwise, with jitter; after failures it backs off towards the slow interval and keeps
serving the last good snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from cfgpu_operator.clients.background import Polling
from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.cfgpu_wire import TRANSIENT_STATUSES, InstanceRecord
from cfgpu_operator.errors import ApiError


@dataclass(frozen=True)
class Snapshot:
    cycle: int  # numbered when the cycle began: it shows nothing done after that
    statuses: dict[str, str]
    records: dict[str, InstanceRecord] = field(default_factory=dict)
    # Every instance of the status list has its page row. Paging is not atomic: a row can
    # move to a page already read when instances before it are released meanwhile.
    complete: bool = False

    def status_of(self, instance_id: str) -> str | None:
        return self.statuses.get(instance_id)

    @cached_property
    def named(self) -> dict[str, list[tuple[str, str, str]]]:
        """(id, name, statusCode) of the rows, by name: looked up once per create."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        for r in self.records.values():
            out.setdefault(r.instance_name, []).append(
                (r.instance_id, r.instance_name, r.status_code)
            )
        return out

    @property
    def transient(self) -> bool:
        return any(code in TRANSIENT_STATUSES for code in self.statuses.values())


# The listing is read again at least this often: what changes without a status change (an
# expiry renewed on the console) shows within this time.
RECORDS_MAX_AGE = 600.0


class Poller(Polling):
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
        super().__init__(fast=fast, slow=slow, jitter=jitter, clock=clock)
        self.client = client
        self.snapshot: Snapshot | None = None
        self.last_error: ApiError | None = None
        self.failures = 0
        self.begun = 0  # cycles started so far
        self.took = 0.0  # seconds the last successful cycle took
        self._changed = asyncio.Condition()
        self._records: dict[str, InstanceRecord] = {}
        self._records_at = float("-inf")  # clock time the listing was last read
        self._refresh = True  # an object changed something: read the listing next cycle
        self._expiry_ahead = False  # a listed prepaid instance has not expired yet

    def busy(self) -> bool:
        return self.snapshot is not None and self.snapshot.transient

    def refresh(self) -> None:
        """An object changed something on CFGPU: the next cycle, soon, reads the listing."""
        self._refresh = True
        self.kick()

    async def next_snapshot(self, after_cycle: int, within: float) -> Snapshot | None:
        """Wait for a snapshot newer than ``after_cycle`` (or give up after ``within`` s)."""
        self.kick()
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):  # not wait_for: see Polling._pause
                    await self._changed.wait_for(
                        lambda: self.snapshot is not None and self.snapshot.cycle > after_cycle
                    )
        return self.snapshot

    async def landed_after(self, cycle: int) -> Snapshot:
        """The next snapshot newer than ``cycle``, whenever the poller takes one on its own
        cadence (no kick: for a reader that must not make it poll sooner)."""
        async with self._changed:
            while self.snapshot is None or self.snapshot.cycle <= cycle:
                await self._changed.wait()
            return self.snapshot

    async def first_after(self, cycle: int, quiet: float, cap: float) -> Snapshot | None:
        """The first snapshot of a cycle begun after ``cycle``, waited for while the poller
        moves (a cycle is under way, or one landed within ``quiet`` s) and polls succeed, for
        at most ``cap`` s; else the snapshot at hand. Under load a cycle takes longer than
        the last one did, and giving up on it costs a requeue and a write."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + cap
        while True:
            landed = self.snapshot
            window = max(0.0, min(quiet, deadline - loop.time()))
            found = await self.next_snapshot(cycle, window)
            if found is not None and found.cycle > cycle:
                return found
            under_way = self.snapshot is None or self.begun > self.snapshot.cycle
            moving = under_way or self.snapshot is not landed
            if not moving or self.failures or loop.time() >= deadline:
                return found

    async def poll_once(self) -> Snapshot:
        # Counted at the start: a cycle that began before a call and ended after it may not
        # show the call, so it must not look newer than the call.
        self.begun += 1
        cycle, started = self.begun, self._clock()
        statuses = {
            s.instance_id: s.status_code for s in await self.client.list_instance_statuses()
        }
        if self._listing_due(statuses, started):
            self._refresh = False
            self._records = {
                r.instance_id: r async for r in self.client.iter_instances(page_size=100)
            }
            self._records_at = started
            self._expiry_ahead = any(
                r.expire_time and r.expired_code != 1 for r in self._records.values()
            )
        records = self._records
        complete = all(i in records for i, code in statuses.items() if code != "RELEASED")
        for instance_id, record in records.items():
            statuses.setdefault(instance_id, record.status_code)
        snapshot = Snapshot(cycle, statuses, records, complete)
        self.snapshot, self.last_error, self.failures = snapshot, None, 0
        self.took = self._clock() - started
        async with self._changed:
            self._changed.notify_all()
        return snapshot

    def _listing_due(self, statuses: dict[str, str], now: float) -> bool:
        if self._refresh or self._expiry_ahead or now - self._records_at >= RECORDS_MAX_AGE:
            return True
        known = self._records
        return any(
            code != "RELEASED" and (i not in known or known[i].status_code != code)
            for i, code in statuses.items()
        ) or any(i not in statuses for i in known)
