"""The workspaces one Primus-SaFE key may use, read at most once per TTL however many objects
ask (one shared read at a time), so checking a workspace before a submit costs no call per
object. A failed read keeps the last good answer, or none: the server checks the create
anyway, so an unknown answer must not hold a submit back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from cfgpu_operator.clients.safe import SafeClient
from cfgpu_operator.clients.safe_wire import Workspace
from cfgpu_operator.errors import ApiError


class Workspaces:
    def __init__(
        self, client: SafeClient, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client, self._ttl, self._clock = client, ttl, clock
        self._known: dict[str, Workspace] | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Workspace] | None:
        """Workspaces by id; None while the platform has never answered."""
        if self._fresh():
            return self._known
        async with self._lock:
            if not self._fresh():  # another caller may have read them meanwhile
                await self._read()
        return self._known

    def _fresh(self) -> bool:
        return self._clock() - self._read_at < self._ttl

    async def _read(self) -> None:
        try:
            found = await self._client.list_workspaces()
        except ApiError:
            return
        finally:
            # Stamped once the read ended: callers queued on the lock then find it fresh,
            # and a failure waits for the TTL too (no stampede on a platform in trouble).
            self._read_at = self._clock()
        self._known = {w.workspace_id: w for w in found}
