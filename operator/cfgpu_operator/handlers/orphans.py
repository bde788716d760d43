"""The orphans of each account, reviewed after every poll of it (no call of its own):
counted in a metric, each announced once with a Warning Event on the cluster's ConfigMap,
and with the Release policy stopped, then released."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cfgpu_operator import metrics
from cfgpu_operator.clients.cfgpu_poller import Snapshot
from cfgpu_operator.errors import ApiError
from cfgpu_operator.handlers.accounts import Account
from cfgpu_operator.handlers.cluster import Cluster
from cfgpu_operator.reconcile.orphans import Known, Listed, review
from cfgpu_operator.reconcile.reasons import EventReason
from cfgpu_operator.settings import Settings

log = logging.getLogger("cfgpu_operator.orphans")

STOPPED = "CLOSED"


def fingerprint(token: str) -> str:
    """How an account is named in metrics and listings: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


PostEvent = Callable[[Mapping[str, Any], str, str], Awaitable[None]]


class OrphanWatch:
    def __init__(
        self, settings: Settings, cluster: Cluster, known: Callable[[], Known], post: PostEvent
    ) -> None:
        self.settings, self.cluster, self._known, self._post = settings, cluster, known, post
        self._tasks: dict[str, tuple[Account, asyncio.Task[None]]] = {}
        self._warned: set[str] = set()
        self._refused: dict[str, str] = {}  # orphan id -> what CFGPU last answered a call

    def watch(self, token: str, account: Account) -> None:
        key = fingerprint(token)
        if key not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._loop(key, account))
            self._tasks[key] = (account, task)

    async def stop(self, accounts: list[Account] | None = None) -> None:
        """Stop reviewing ``accounts`` (all when None)."""
        for key, (account, task) in list(self._tasks.items()):
            if accounts is None or any(account is a for a in accounts):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                del self._tasks[key]
                with contextlib.suppress(KeyError):  # no review ended for it yet
                    metrics.ORPHANS.remove(key)

    async def _loop(self, key: str, account: Account) -> None:
        first_seen: dict[str, float] = {}
        cycle = -1
        while True:
            snapshot = await account.poller.landed_after(cycle)
            cycle = snapshot.cycle
            if not snapshot.complete:
                continue  # a partial listing cannot tell which names are unrecorded
            try:
                first_seen = await self._review(key, account, snapshot, first_seen)
            except Exception as exc:  # the next poll tries again; the loop must not end
                log.warning("could not review orphans of account %s: %s", key, exc)

    async def _review(
        self, key: str, account: Account, snapshot: Snapshot, first_seen: dict[str, float]
    ) -> dict[str, float]:
        found = review(
            listing(snapshot),
            self._known(),
            self.cluster.id,
            first_seen,
            time.time(),
            self.settings.CFGPU_OPERATOR_ORPHAN_GRACE,
        )
        metrics.ORPHANS.labels(key).set(len(found.orphans))
        for orphan in found.orphans:
            await self._announce(key, orphan)
            if self.settings.CFGPU_OPERATOR_ORPHAN_POLICY == "Release":
                await self._release(account, orphan)
        return found.first_seen

    async def _announce(self, key: str, orphan: Listed) -> None:
        if orphan.instance_id in self._warned:
            return
        policy = self.settings.CFGPU_OPERATOR_ORPHAN_POLICY
        then = (
            "releasing it (CFGPU_OPERATOR_ORPHAN_POLICY=Release)"
            if policy == "Release"
            else "release it on CFGPU, or adopt it with a GpuInstance's spec.instanceId"
        )
        message = (
            f"instance {orphan.instance_id} ({orphan.name}, {orphan.status}, account {key}) "
            f"was named by this cluster but no GpuInstance records it: {then}"
        )
        log.warning("%s: %s", EventReason.ORPHANED_INSTANCE, message)
        await self._post(self.cluster.ref, EventReason.ORPHANED_INSTANCE, message)
        self._warned.add(orphan.instance_id)  # posted: not again (a failure tries next poll)

    async def _release(self, account: Account, orphan: Listed) -> None:
        """One step per poll: stop a running one, release a stopped one; transitions wait.
        A prepaid one is not stopped (that saves nothing): it is released once CFGPU allows,
        after it expires. A refusal is a WARNING once, then DEBUG while CFGPU says the same."""
        call = {"RUNNING": account.client.stop_instance, STOPPED: account.client.release_instance}
        act = call.get(orphan.status)
        if act is None or (orphan.prepaid and orphan.status == "RUNNING"):
            return
        try:
            await act(orphan.instance_id)
        except ApiError as exc:
            said = f"could not {act.__name__} orphan {orphan.instance_id}: {exc}"
            same = self._refused.get(orphan.instance_id) == str(exc)
            log.log(logging.DEBUG if same else logging.WARNING, "%s", said)
            self._refused[orphan.instance_id] = str(exc)
            return
        self._refused.pop(orphan.instance_id, None)
        log.info("%s orphan %s (%s)", act.__name__, orphan.instance_id, orphan.name)
        account.poller.refresh()


def listing(snapshot: Snapshot) -> list[Listed]:
    """An account's poll as the orphan review reads it: the latest status of each row."""
    return [
        Listed(
            r.instance_id,
            r.instance_name,
            snapshot.statuses.get(r.instance_id, r.status_code),
            r.create_time,
            r.gpu_type,
            r.gpu_name,
            r.gpus,
            r.consume_type_code == "Prepaid",
        )
        for r in snapshot.records.values()
    ]
