"""One reconcile of any kind: observe -> decide -> act -> report.

Per-kind code is an ``Adapter``: how to observe (build the view), how to carry out each
action, and how to put an action's outcome into the view. A reconcile runs exactly one
action, decides once more on its outcome, puts the status into the handler's patch, posts
the decision's Events, and sets the gate (backoff) on the object's in-memory state. A kind
may ask for a few reconciles back to back (``Follow``), each on the status the ones before
left; Kopf writes the status once, when the handler returns.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar, cast

import kopf
from pydantic import BaseModel, ValidationError

from cfgpu_operator import logs
from cfgpu_operator.handlers import requeue
from cfgpu_operator.handlers.objects import ObjectState
from cfgpu_operator.handlers.observability import count_error, reconciling
from cfgpu_operator.handlers.runtime import Runtime, write_failure
from cfgpu_operator.models.common import FINALIZER
from cfgpu_operator.reconcile import status as status_fields
from cfgpu_operator.reconcile.decision import Decision, Gate
from cfgpu_operator.reconcile.verdicts import retry_delay
from cfgpu_operator.settings import Settings

log = logging.getLogger("cfgpu_operator.objects")

V = TypeVar("V")
A = TypeVar("A")
O = TypeVar("O")  # noqa: E741 - an action's outcome


class Adapter(Protocol[V, A, O]):
    kind: str

    async def observe(self) -> V: ...

    def decide(self, view: V) -> Decision[A]: ...

    async def act(self, view: V, decision: Decision[A]) -> O | None: ...

    def with_outcome(self, view: V, outcome: O) -> V: ...


@dataclass
class Target:
    """The object one reconcile writes to: its body, Kopf's patch, and its memory."""

    body: kopf.Body
    patch: kopf.Patch
    state: ObjectState
    current: dict[str, Any]  # status as this process last left it
    settings: Settings


Build = Callable[[Mapping[str, Any], ObjectState], Adapter[Any, Any, Any]]


# Whether to reconcile again at once, on the status written so far (it may store part of
# that status first): the step just taken is one whose result is worth waiting for.
Follow = Callable[[Adapter[Any, Any, Any], Decision[Any], "Target"], Awaitable[bool]]
FOLLOW_UPS = 3  # back-to-back reconciles in one handler run: intent, create, first look
WRITE_RETRY = 2.0  # seconds before a handler tries again a record it could not store


async def run_sync(
    rt: Runtime,
    kind: str,
    uid: str,
    body: kopf.Body,
    patch: kopf.Patch,
    build: Build,
    follow: Follow | None = None,
) -> Decision[Any] | None:
    """One reconcile under the object's lock, and the follow-ups ``follow`` asks for; None
    when the stored object cannot be read. Kopf writes the status once, when the handler
    returns."""
    state = rt.state(uid)
    async with state.lock:
        with reconciling(kind, uid, body, patch, state) as status:
            target = Target(body, patch, state, status, rt.settings)
            try:
                return await _reconcile_on(build, target, follow)
            except InvalidObject as exc:
                log.error("cannot read the stored object (%s); not acting on it", exc)
                return None
            finally:
                state.handled = True


MakeBuild = Callable[[kopf.Body], Build]  # a deletion's builder, for the body as read now


async def run_delete(
    rt: Runtime,
    kind: str,
    plural: str,
    uid: str,
    body: kopf.Body,
    patch: kopf.Patch,
    make: MakeBuild,
    finish: object,
    follow: Follow | None = None,
) -> None:
    """Deletion steps (each with its follow-ups) until the decision is ``finish``; Kopf then
    drops the finalizer. Between steps the handler waits in place, storing each new status
    once: Kopf's own way back (a TemporaryError) wrote its retry count and then a wake-up
    field on every wait, so ``kubectl get -w`` printed each step of a deletion three times."""
    while True:
        decision = await _delete_step(rt, kind, uid, body, patch, make(body), follow)
        if decision.act is finish:
            break
        message = _ready_message(decision.status) or f"waiting to delete {kind}"
        fresh = await _wait_in_place(rt, (kind, plural), body, patch, message, decision.gate)
        if fresh is None:
            return  # gone: someone else removed the finalizer
        body = fresh
        # Kopf removes the finalizer with a JSON patch that tests the resourceVersion of the
        # body it handed over, which the writes made while waiting have outdated: each such
        # patch was refused (422) and tried again on a later event. Point it at the body as
        # read now (Kopf keeps no public way to; a test counts the refusals).
        patch._original = fresh
    if list(body.metadata.get("finalizers") or []) == [FINALIZER]:
        # The object is gone once Kopf drops the finalizer: a last status write is unread.
        patch.pop("status", None)
    await rt.forget(uid)


async def _delete_step(
    rt: Runtime,
    kind: str,
    uid: str,
    body: kopf.Body,
    patch: kopf.Patch,
    build: Build,
    follow: Follow | None,
) -> Decision[Any]:
    state = rt.state(uid)
    async with state.lock:
        with logs.about(kind, body.metadata.namespace, body.metadata.name):
            status = state.view(body)
            try:
                target = Target(body, patch, state, status, rt.settings)
                return await _reconcile_on(build, target, follow)
            finally:
                state.remember(patch, body.metadata.get("resourceVersion"))


async def _wait_in_place(
    rt: Runtime,
    kind: tuple[str, str],  # the kind and its plural
    body: kopf.Body,
    patch: kopf.Patch,
    message: str,
    g: Gate,
) -> kopf.Body | None:
    """Store the status decided so far, wait the gate's delay, and read the object again (a
    person may change its deletion policy meanwhile). When the API server cannot be written
    or read, fall back to Kopf's way back, which keeps the status in its patch."""
    state = rt.state(str(body.metadata.uid))
    delay = requeue_delay(g, state, rt.settings)
    (name_of_kind, plural), meta = kind, body.metadata
    namespace, name = str(meta.namespace), str(meta.name)
    try:
        if patch.get("status"):
            await _store_patched_status(rt, plural, body, patch, state)
        with logs.about(name_of_kind, namespace, name):
            log.info("deletion goes on in %.0fs: %s", delay, message)
        await asyncio.sleep(delay)
        found = await rt.read_object(plural, namespace, name)
    except Exception as exc:  # nothing is lost: Kopf stores the status and comes back
        requeue.wait(f"{message} ({write_failure(exc)})", delay)
    return None if found is None else kopf.Body(cast(kopf.RawBody, found))


async def _reconcile_on(build: Build, target: Target, follow: Follow | None) -> Decision[Any]:
    """Reconcile, then again while ``follow`` asks, each time on the status written so far."""
    adapter = build(target.current, target.state)
    decision = await reconcile(adapter, target)
    for _ in range(FOLLOW_UPS):
        if follow is None or not await follow(adapter, decision, target):
            break
        status = status_fields.overlay(target.current, dict(target.patch.get("status") or {}))
        target = replace(target, current=status)
        adapter = build(status, target.state)
        decision = await reconcile(adapter, target)
    return decision


async def write_now(rt: Runtime, plural: str, target: Target, failed: str) -> None:
    """Store the status decided so far now, not in Kopf's patch when the handler returns:
    for a record that must be stored before a call that cannot be repeated safely (an
    instance name before renting, a workload id or submit time before submitting). The
    follow-up reconcile starts from it. ``failed`` opens the wait's message when the write
    fails; nothing further is done then."""
    try:
        written = await _store_patched_status(rt, plural, target.body, target.patch, target.state)
    except Exception as exc:  # whatever failed, nothing is stored: do not call
        requeue.wait(f"{failed} ({write_failure(exc)})", WRITE_RETRY)
    merged = status_fields.overlay(target.current, written)
    target.current.clear()
    target.current.update(merged)


async def _store_patched_status(
    rt: Runtime, plural: str, body: kopf.Body, patch: kopf.Patch, state: ObjectState
) -> dict[str, Any]:
    """Write the status in Kopf's patch now and return it; when the write fails it stays in
    the patch (Kopf writes it when the handler returns) and the error propagates."""
    written = dict(patch.pop("status", None) or {})
    meta = body.metadata
    try:
        stored = await rt.write_status(plural, str(meta.namespace), str(meta.name), written)
    except Exception:
        patch.setdefault("status", {}).update(written)
        raise
    # The version it stored predates the handler's own patch at the end, like the body.
    state.remember({"status": written}, meta.get("resourceVersion"), stored)
    return written


def _ready_message(status: Mapping[str, Any]) -> str:
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "False":
            return str(cond.get("message") or cond.get("reason") or "")
    return ""


async def reconcile(adapter: Adapter[V, A, O], target: Target) -> Decision[A]:
    view = await adapter.observe()
    decision = adapter.decide(view)
    outcome = await adapter.act(view, decision)
    if outcome is not None:
        decision = adapter.decide(adapter.with_outcome(view, outcome))
    report(adapter.kind, target, decision)
    return decision


class InvalidObject(Exception):
    """The stored object does not parse; the message says which field."""


S = TypeVar("S", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)


def parse(
    body: kopf.Body, status: Mapping[str, Any], spec_model: type[S], status_model: type[T]
) -> tuple[S, T]:
    """The stored spec and status as the models; the API server validated both against the
    same schema, so a failure here means an object from an incompatible CRD version."""
    try:
        spec = spec_model.model_validate(dict(body.get("spec") or {}))
        return spec, status_model.model_validate(dict(status))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidObject(f"{where}: {first['msg']}") from None


def report(kind: str, target: Target, decision: Decision[A]) -> None:
    status_fields.write_changes(target.patch.status, target.current, decision.status)
    for event in decision.events:
        if event.warning:
            # Each Warning Event is also one WARNING line, for alerts built on the logs.
            log.warning("%s: %s", event.reason, event.message)
            kopf.warn(target.body, reason=event.reason, message=event.message)
        else:
            kopf.info(target.body, reason=event.reason, message=event.message)
    gate(kind, target, decision.gate)


def gate(kind: str, target: Target, g: Gate) -> None:
    """Remember when the next attempt may come: a failure backs off; a run that went as
    planned (nothing to do, or a step accepted or under way) starts the count again, so
    the failures of one step of a deletion do not lengthen the waits of the next (as
    controller-runtime forgets an item that reconciled); "keep" leaves a backoff alone."""
    state, settings = target.state, target.settings
    if not g.failed:
        if g.retry != "keep":
            state.attempts, state.retry_at = 0, 0.0
        return
    if g.reason:
        count_error(kind, g.reason)
    delay = retry_delay(
        g.retry,
        state.attempts,
        base=settings.CFGPU_OPERATOR_BACKOFF_BASE,
        slow=settings.CFGPU_OPERATOR_SLOW_RETRY,
        cap=settings.CFGPU_OPERATOR_BACKOFF_MAX,
        retry_after=g.retry_after,
    )
    state.attempts += 1
    state.retry_at = math.inf if delay is None else time.time() + delay
    state.last_delay = 0.0 if delay is None else delay


def requeue_delay(g: Gate, state: ObjectState, settings: Settings) -> float:
    """Seconds until a handler that must come back (deletion) runs again: soon while a
    step is under way, else the backoff the gate just set (slow for "never": deletion
    cannot wait for a spec change)."""
    soon = settings.CFGPU_OPERATOR_POLL_FAST
    if not g.failed:
        return soon
    if g.retry == "never":
        return settings.CFGPU_OPERATOR_SLOW_RETRY
    return max(soon, state.last_delay)
