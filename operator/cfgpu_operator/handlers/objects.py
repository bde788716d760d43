"""What this process remembers about one object between reconciles (lost on restart, which is
safe: the worst case is one early retry, answered by an "observe again")."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cfgpu_operator.reconcile import status as status_fields


@dataclass(frozen=True)
class Quiet:
    """A reconcile that found nothing to do, and what would make the next one find otherwise:
    a timer run may skip while this holds (at 10,000 objects, timer runs that change nothing
    were most of the operator's steady-state CPU)."""

    version: str  # the object's resourceVersion it read: any change to the object ends it
    probe: Callable[[], object]  # what the external system shows for the object now
    seen: object  # what it showed to that reconcile
    until: float  # monotonic time after which a timer run reconciles in full anyway

    def holds(self, version: str) -> bool:
        return (
            version == self.version and time.monotonic() < self.until and self.probe() == self.seen
        )


@dataclass
class ObjectState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    acted_cycle: int = -1  # poll cycles begun by the last call; trust only later ones
    # The external id whose release (CFGPU) or DELETE (Primus-SaFE) this process sent and
    # had accepted: a later look at a stale listing or body must not send it again.
    removed: str | None = None
    # Monotonic time until which no new create is sent: the last one's answer was lost, and
    # CFGPU may still be renting it (a request can be served after the client gave up).
    create_unsure_until: float = 0.0
    attempts: int = 0  # consecutive failures, for backoff
    retry_at: float = 0.0  # epoch time before which no new attempt is made
    last_delay: float = 0.0  # the backoff last chosen (deletion requeues after it)
    submit_recorded: str | None = None  # a submit time this process stored, not yet sent
    resume_recorded: str | None = None  # the same for a resume
    details_at: float = float("-inf")  # monotonic time of the last GET of the workload
    # status fields patched (value, monotonic time) that the body may not show yet
    written: dict[str, tuple[Any, float]] = field(default_factory=dict)
    quiet: Quiet | None = None  # set by a reconcile with nothing to do; any other clears it
    # A create, update or resume handler ran for it in this process: until then periodic
    # runs leave the object to that handler (in a burst Kopf reaches an object's create
    # handler seconds late, and a periodic run doing the create meanwhile doubled the work).
    handled: bool = False

    # The newest resourceVersion known to predate the last status write of this process: a
    # body no newer cannot show that write however late the watch brings the next one
    # (under load, later than status_fields.TRUST_UNSEEN), so the write is trusted over it.
    before: str | None = None

    def view(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The status as this process last left it. A handler queued behind the lock (or
        woken by a late watch event) holds a body from before the previous handler's patch;
        deciding on that would repeat its warnings and calls and skip its backoff."""
        seen = dict(body.get("status") or {})
        now = time.monotonic()
        if not_newer(_version(body), self.before):
            now = -math.inf  # a body older than the write: nothing written can show in it
        self.written = status_fields.unseen(seen, self.written, now)
        if not self.written:
            self.before = None
        return status_fields.overlay(seen, {k: v for k, (v, _) in self.written.items()})

    def remember(self, patch: Mapping[str, Any], *older: str | None) -> None:
        """Call with the handler's patch once it is done (Kopf applies it afterwards), and the
        resourceVersions known to predate it (the body it decided on)."""
        now = time.monotonic()
        status = patch.get("status") or {}
        if status:  # a run that wrote nothing makes no body older than anything
            self.written.update({k: (v, now) for k, v in status.items()})
            for version in older:
                if version and not not_newer(version, self.before):
                    self.before = version


def not_newer(version: str | None, than: str | None) -> bool:
    """Whether an object at ``version`` is no newer than at ``than``. Kubernetes 1.35 made
    resourceVersions comparable integers (KEP-5504); any other form compares for equality
    only, as older servers promised."""
    if version is None or than is None:
        return False
    if version.isdigit() and than.isdigit():
        return int(version) <= int(than)
    return version == than


def _version(body: Mapping[str, Any]) -> str | None:
    version = (body.get("metadata") or {}).get("resourceVersion")
    return None if version is None else str(version)
