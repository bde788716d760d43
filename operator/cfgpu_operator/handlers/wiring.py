"""Registering one reconcile function for every trigger of a resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kopf


def register_reconcile(
    registry: kopf.OperatorRegistry,
    resource: tuple[str, str, str],
    prefix: str,
    reconcile: Callable[..., Any],
    interval: float,
    tick: Callable[..., Any] | None = None,
) -> None:
    """create, update and resume run it at once; a timer every ``interval`` keeps it
    level-based (it reads shared polls and acts only when something must change), through
    ``tick`` when given (which may skip a run that can change nothing)."""
    for decorator, event in (
        (kopf.on.create, "create"),
        (kopf.on.update, "update"),
        (kopf.on.resume, "resume"),
    ):
        decorator(*resource, id=f"{prefix}-{event}", registry=registry, backoff=interval)(reconcile)
    kopf.timer(
        *resource,
        id=f"{prefix}-sync",
        registry=registry,
        interval=interval,
        initial_delay=interval / 2,
        backoff=interval,
    )(tick or reconcile)
