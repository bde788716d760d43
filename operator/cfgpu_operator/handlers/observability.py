"""What a reconcile tells the metrics: each object's phase, and when it became Ready."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

import kopf

from cfgpu_operator import logs, metrics
from cfgpu_operator.handlers.objects import ObjectState
from cfgpu_operator.reconcile.conditions import condition
from cfgpu_operator.reconcile.status import epoch


@contextlib.contextmanager
def reconciling(
    kind: str, uid: str, body: kopf.Body, patch: kopf.Patch, state: ObjectState
) -> Iterator[dict[str, Any]]:
    """Around one reconcile, which decides on the status it is handed (as this process last
    left it, not as the body shows it): log lines name the object, and whether it succeeded
    or raised, its outcome reaches the metrics and what it wrote is remembered."""
    before = state.view(body)
    with logs.about(kind, body.metadata.namespace, body.metadata.name):
        try:
            yield dict(before)  # a copy: the reconcile adds what it learns as it goes
        finally:
            meta = body.get("metadata", {})
            record_outcome(
                kind, uid, before, dict(patch.get("status") or {}), meta.get("creationTimestamp")
            )
            state.remember(patch, meta.get("resourceVersion"))


def record_outcome(
    kind: str,
    uid: str,
    before: Mapping[str, Any],
    written: Mapping[str, Any],
    created: str | None,
) -> None:
    """After a reconcile: the status it started from, and what it is about to write."""
    after = {**before, **written}
    was = condition(before.get("conditions") or [], "Ready") or {}
    now = condition(after.get("conditions") or [], "Ready") or {}
    phase = after.get("phase")
    if phase:
        since = now.get("lastTransitionTime") or created
        ready = now.get("status") == "True" or not since
        metrics.OBJECTS.set(uid, kind, str(phase), None if ready else epoch(str(since)))
    if now.get("status") == "True" and was.get("status") != "True":
        since = was.get("lastTransitionTime") or created
        if since:
            elapsed = time.time() - epoch(str(since))
            metrics.TIME_TO_READY.labels(kind).observe(max(0.0, elapsed))


def count_error(kind: str, reason: str) -> None:
    metrics.RECONCILE_ERRORS.labels(kind, reason).inc()
