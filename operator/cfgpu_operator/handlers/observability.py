"""What a reconcile tells the metrics: each object's phase, and when it became Ready."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import kopf

from cfgpu_operator import logs, metrics
from cfgpu_operator.reconcile.conditions import condition
from cfgpu_operator.reconcile.status import epoch


@contextlib.contextmanager
def reconciling(kind: str, uid: str, body: kopf.Body, patch: kopf.Patch) -> Iterator[None]:
    """Around one reconcile: log lines name the object, and the outcome reaches the metrics
    whether it succeeded or raised."""
    with logs.about(kind, body.metadata.namespace, body.metadata.name):
        try:
            yield
        finally:
            record_outcome(kind, uid, body, patch)


def record_outcome(kind: str, uid: str, body: kopf.Body, patch: kopf.Patch) -> None:
    """Call after a reconcile: ``patch.status`` holds what it is about to write."""
    before: dict[str, Any] = dict(body.get("status") or {})
    after = {**before, **dict(patch.get("status") or {})}
    phase = after.get("phase")
    if phase:
        metrics.OBJECTS.set(uid, kind, str(phase))
    was = condition(before.get("conditions") or [], "Ready") or {}
    now = condition(after.get("conditions") or [], "Ready") or {}
    if now.get("status") == "True" and was.get("status") != "True":
        since = was.get("lastTransitionTime") or body.get("metadata", {}).get("creationTimestamp")
        if since:
            elapsed = time.time() - epoch(str(since))
            metrics.TIME_TO_READY.labels(kind).observe(max(0.0, elapsed))


def count_error(kind: str, reason: str) -> None:
    metrics.RECONCILE_ERRORS.labels(kind, reason).inc()
