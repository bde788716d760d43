"""One background poll per Primus-SaFE key: a batched list per watched workspace of the
operator's own (env-tagged), non-terminal workloads. Terminal ones drop out of the listing and
are not polled any more; an object whose workload vanished from it asks once directly.
Polled at the fast interval while any watched workload is live."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from cfgpu_operator.clients.background import Polling
from cfgpu_operator.clients.safe import SafeClient
from cfgpu_operator.clients.safe_wire import WorkloadItem
from cfgpu_operator.errors import ApiError

LIVE_PHASES = "Pending,Running,Updating,NotReady"


@dataclass(frozen=True)
class SafeSnapshot:
    cycle: int
    items: dict[str, WorkloadItem] = field(default_factory=dict)
    workspaces: frozenset[str] = frozenset()
    failed: dict[str, ApiError] = field(default_factory=dict)  # workspaces whose list failed


class SafePoller(Polling):
    _name = "safe-poller"
    api = "primus-safe"

    def __init__(
        self,
        client: SafeClient,
        *,
        tag_key: str,
        fast: float,
        slow: float,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(fast=fast, slow=slow, jitter=jitter)
        self.client, self.tag_key = client, tag_key
        self.workspaces: set[str] = set()
        self.snapshot: SafeSnapshot | None = None
        self.last_error: ApiError | None = None
        self.failures = 0
        self._cycle = 0

    def watch(self, workspace_id: str) -> None:
        if workspace_id not in self.workspaces:
            self.workspaces.add(workspace_id)
            self.kick()

    def busy(self) -> bool:
        """Fast while any workload is live (the listing holds only those): a job that runs
        for seconds must not go from Pending to Succeeded unseen. Still one list per
        workspace per interval, however many workloads."""
        snapshot = self.snapshot
        return snapshot is None or bool(snapshot.items)

    async def poll_once(self) -> SafeSnapshot:
        """One list per watched workspace; a workspace whose list fails (the key lost its
        membership, say) fails only the objects in it, unless every one failed."""
        items: dict[str, WorkloadItem] = {}
        failed: dict[str, ApiError] = {}
        watched = frozenset(self.workspaces)
        for workspace_id in sorted(watched):
            try:
                async for item in self.client.iter_workloads(
                    workspace_id=workspace_id, env_key=self.tag_key, phase=LIVE_PHASES
                ):
                    items[item.workload_id] = item
            except ApiError as exc:
                failed[workspace_id] = exc
        if failed and len(failed) == len(watched):
            raise next(iter(failed.values()))
        self._cycle += 1
        self.snapshot = SafeSnapshot(self._cycle, items, watched, failed)
        self.last_error, self.failures = None, 0
        return self.snapshot
