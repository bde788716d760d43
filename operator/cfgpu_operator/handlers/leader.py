"""Leader election on a coordination.k8s.io Lease: only the replica holding it runs handlers.

Kopf's own peering freezes every replica when several run with the same priority (as all
replicas of one Deployment do), so it gives no failover. Instead, as client-go's leader
election does: a replica waits until the Lease is free or expired, takes it, renews it every
``retry`` seconds and, when it cannot renew for ``renew_deadline`` seconds, exits at once
(the pod restarts as a standby) so that it never acts while another replica may lead.
Expiry is judged on this replica's own clock, from when it last saw the Lease change, so
clock skew between nodes does not matter.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("cfgpu_operator.leader")

SA_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


@dataclass(frozen=True)
class Timing:
    """client-go's proportions: renew well before the others may take over."""

    lease: float = 15.0

    @property
    def renew_deadline(self) -> float:
        return self.lease * 2 / 3

    @property
    def retry(self) -> float:
        return self.lease / 7.5


@dataclass(frozen=True)
class Seen:
    """What matters of a Lease as read: who holds it, and a token that changes on renewal."""

    holder: str | None
    version: str


def may_take(seen: Seen | None, me: str, quiet_for: float, timing: Timing) -> bool:
    """Whether this replica may write itself into the Lease now: it is absent, free, ours,
    or unchanged for longer than the lease duration (its holder stopped renewing)."""
    if seen is None or not seen.holder or seen.holder == me:
        return True
    return quiet_for > timing.lease


def identity() -> str:
    """Pod name plus a random suffix: a restarted container is a new candidate."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def default_namespace(configured: str | None) -> str:
    if configured:
        return configured
    try:
        with open(SA_NAMESPACE, encoding="utf-8") as handle:
            return handle.read().strip() or "default"
    except OSError:
        return "default"


class Elector:
    """Acquire, renew and release one Lease through the Kubernetes Python client."""

    def __init__(
        self,
        coordination: Any,
        *,
        namespace: str,
        name: str,
        timing: Timing,
        me: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api, self.namespace, self.name = coordination, namespace, name
        self.timing, self.me, self._clock = timing, me or identity(), clock
        self._seen: Seen | None = None
        self._seen_at = clock()
        self._stop = threading.Event()

    def try_acquire(self) -> bool:
        """One attempt to take or renew the Lease; False when another replica leads or
        the API server did not answer."""
        try:
            return self._attempt()
        except Exception as exc:  # transport errors: the API server may be restarting
            log.warning("Lease %s: %s", self._where(), type(exc).__name__)
            return False

    def _attempt(self) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("reading Lease %s: HTTP %s", self._where(), exc.status)
                return False
            return self._create()
        self._observe(Seen(lease.spec.holder_identity, lease.metadata.resource_version))
        if not may_take(self._seen, self.me, self._clock() - self._seen_at, self.timing):
            return False
        return self._update(lease)

    async def wait_until_leader(self) -> None:
        log.info("waiting to lead: Lease %s (this replica is %s)", self._where(), self.me)
        # The Lease is polled, as client-go does: there is no event to wait on.
        while not await asyncio.to_thread(self.try_acquire):  # noqa: ASYNC110
            await asyncio.sleep(self.timing.retry)
        log.info("leading: this replica holds Lease %s", self._where())

    def keep(self, on_lost: Callable[[], None]) -> threading.Thread:
        """Renew on a thread of its own (a busy event loop cannot delay it); ``on_lost``
        runs once renewal has failed for the whole renew deadline."""
        thread = threading.Thread(target=self._renew_loop, args=(on_lost,), daemon=True)
        thread.start()
        return thread

    def release(self) -> None:
        """On a clean shutdown: hand the Lease over at once instead of after expiry."""
        self._stop.set()
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity == self.me:
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                self._api.replace_namespaced_lease(self.name, self.namespace, lease)
                log.info("released Lease %s", self._where())
        except Exception as exc:  # best effort: the Lease expires anyway
            log.warning("releasing Lease %s: %s", self._where(), type(exc).__name__)

    def _renew_loop(self, on_lost: Callable[[], None]) -> None:
        renewed = self._clock()
        while not self._stop.wait(self.timing.retry):
            if self.try_acquire():
                renewed = self._clock()
            elif self._clock() - renewed > self.timing.renew_deadline:
                log.error("lost Lease %s: could not renew it in time", self._where())
                on_lost()
                return

    def _observe(self, seen: Seen) -> None:
        if seen != self._seen:
            self._seen, self._seen_at = seen, self._clock()

    def _create(self) -> bool:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        now = datetime.now(UTC)
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=client.V1LeaseSpec(
                holder_identity=self.me,
                lease_duration_seconds=max(1, round(self.timing.lease)),
                acquire_time=now,
                renew_time=now,
                lease_transitions=0,
            ),
        )
        try:
            self._api.create_namespaced_lease(self.namespace, body)
        except ApiException as exc:  # 409: another replica created it first
            log.info("creating Lease %s: HTTP %s", self._where(), exc.status)
            return False
        return True

    def _update(self, lease: Any) -> bool:
        from kubernetes.client.exceptions import ApiException

        spec, now = lease.spec, datetime.now(UTC)
        if spec.holder_identity != self.me:
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
            spec.acquire_time = now
        spec.holder_identity = self.me
        spec.renew_time = now
        spec.lease_duration_seconds = max(1, round(self.timing.lease))
        try:
            # resourceVersion is sent along: if another replica wrote first, this is a 409.
            updated = self._api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:
            log.info("updating Lease %s: HTTP %s", self._where(), exc.status)
            return False
        self._observe(Seen(self.me, updated.metadata.resource_version))
        return True

    def _where(self) -> str:
        return f"{self.namespace}/{self.name}"


def exit_now() -> None:
    """Leave without running handlers, cleanup or finally blocks: nothing may act after
    leadership is lost."""
    logging.shutdown()
    os._exit(1)
