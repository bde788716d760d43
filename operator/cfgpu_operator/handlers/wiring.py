"""Registering one reconcile function for every trigger of a resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kopf

from cfgpu_operator.handlers import ticking

FINISH_RUN = 120.0


def register_reconcile(
    registry: kopf.OperatorRegistry,
    resource: tuple[str, str, str],
    prefix: str,
    reconcile: Callable[..., Any],
    interval: float,
    *,
    kind: str,
    write: ticking.WriteStatus,
    handled: Callable[[str], bool],
    tick: ticking.Tick | None = None,
) -> None:
    """create, update and resume run it at once; a daemon runs it every ``interval`` to keep
    it level-based (it reads shared polls and acts only when something must change), through
    ``tick`` when given (which may skip a run that can change nothing), and stores the
    status it reports with ``write``; the daemon starts once ``handled(uid)`` says one of
    the other triggers has run for the object in this process."""
    for decorator, event in (
        (kopf.on.create, "create"),
        (kopf.on.update, "update"),
        (kopf.on.resume, "resume"),
    ):
        decorator(*resource, id=f"{prefix}-{event}", registry=registry, backoff=interval)(reconcile)

    async def periodic(*, body: kopf.Body, uid: str, stopped: kopf.DaemonStopped, **_: Any) -> None:
        run = tick or reconcile
        await ticking.run(
            body=body,
            uid=uid,
            tick=run,
            interval=interval,
            write=write,
            kind=kind,
            handled=handled,
            stopped=stopped.wait(),
        )

    # Kopf cancels the loop at once when the object is deleted or the operator stops; a run
    # under way gets this long to finish (a call, then the poll that shows it).
    kopf.daemon(
        *resource,
        id=f"{prefix}-sync",
        registry=registry,
        cancellation_timeout=FINISH_RUN,
    )(periodic)
