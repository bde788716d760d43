"""The GpuInstance decision while the object is being deleted: from status alone plus what
CFGPU shows, release what it rented (or leave it, per policy), and say why while it waits.

``Act.FINISH`` lets the object go; every other decision keeps the finalizer and comes back.
A missing instance counts as released; one that cannot be proven released is never let go.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cfgpu_operator.errors import PrepaidNotExpired, WrongState
from cfgpu_operator.models.gpuinstance import Phase
from cfgpu_operator.reconcile.conditions import Cond
from cfgpu_operator.reconcile.decision import Decision, Event, Frame, Gate
from cfgpu_operator.reconcile.gpuinstance_view import (
    TRANSIENT,
    Act,
    Instance,
    Outcome,
    View,
    phase_of,
)
from cfgpu_operator.reconcile.reasons import EventReason, Reason
from cfgpu_operator.reconcile.verdicts import CREDENTIALS

D = Decision[Act]
SOON = Gate("soon")


def decide_delete(v: View, frame: Frame) -> D:
    left = left_alone(v)
    if left is not None:
        return Decision(Act.FINISH, events=(Event(EventReason.DELETED, left),))
    if v.credentials.problem and not v.credentials.fallback:
        message = f"{v.credentials.problem}; cannot release the instance yet"
        return _on_top(frame, message).fail(Act.WAIT, CREDENTIALS, message)
    if v.outcome is not None:
        return _after(v, frame, v.outcome)
    instance_id = v.status.instance_id
    if instance_id is None:
        return _unrecorded(v, frame)
    return _step(v, frame, instance_id)


def left_alone(v: View) -> str | None:
    """Why deleting the object leaves CFGPU alone, if it does."""
    if v.spec.management_policy == "ObserveOnly":
        return "managementPolicy ObserveOnly: the instance is left as it is"
    if v.deletion_policy == "Orphan":
        return "deletionPolicy Orphan: the instance is left as it is"
    if v.status.instance_id is None and v.status.instance_name is None:
        return "no instance was ever created"
    if v.status.phase == Phase.EXPIRED:
        return "the instance was released already (spec.lifecycle.releaseAfter)"
    return None


def _deleting(frame: Frame, message: str, phase: str | None = None) -> dict[str, Any]:
    """Status of a deletion step that went as planned: Ready False with the step."""
    return frame.report(phase, Cond("Ready", "False", Reason.DELETING, message))


def _unrecorded(v: View, frame: Frame) -> D:
    """A name was recorded but no id: an instance may have been rented before a crash."""
    name = v.status.instance_name
    if v.observed.error is not None or v.search is None:
        return _trouble(v, frame)
    ids = v.search.ids
    if not ids:
        return Decision(Act.FINISH, events=(Event(EventReason.DELETED, f"no instance {name}"),))
    if len(ids) > 1:
        message = f"several instances are named {name}: {', '.join(ids)}; release them by hand"
        return frame.held(Act.WAIT, None, Reason.AMBIGUOUS_INSTANCE, message, "slow")
    decision = _step(v, frame, ids[0])
    return replace(decision, status={**decision.status, "instanceId": ids[0]})


def _trouble(v: View, frame: Frame) -> D:
    """Nothing could be observed: say so (Synced False), keep the finalizer, back off."""
    error = v.observed.error
    if error is None:
        return Decision(Act.WAIT, gate=SOON)
    return _on_top(frame, "waiting to see the instance before releasing it").failed(Act.WAIT, error)


def _on_top(frame: Frame, message: str) -> Frame:
    """A frame whose Ready already says Deleting, so a failure on top leaves it so."""
    return frame.on_top(Cond("Ready", "False", Reason.DELETING, message))


def _step(v: View, frame: Frame, instance_id: str) -> D:
    obs = v.observed
    inst = obs.instance
    if inst is None and not obs.gone:
        return _trouble(v, frame)
    if inst is None or inst.status_code == "RELEASED":
        if v.credentials.fallback:
            return _invisible(frame, instance_id)
        message = f"instance {instance_id} is released"
        status = {"phase": Phase.RELEASED.value, "cfgpuStatus": "RELEASED"}
        return Decision(Act.FINISH, status, (Event(EventReason.RELEASED, message),))
    code = inst.status_code
    fallback = _fallback_warning(v, frame)
    if code in TRANSIENT or not obs.fresh:
        message = f"instance {instance_id} is {code}"
        status = _deleting(frame, message, phase_of(code).value)
        return Decision(Act.WAIT, {**status, "cfgpuStatus": code}, fallback, SOON)
    if code == "RUNNING":
        act, message = Act.STOP, f"stopping instance {instance_id} before releasing it"
    else:
        act, message = Act.RELEASE, f"releasing instance {instance_id}"
    status = {**_deleting(frame, message), "cfgpuStatus": code}
    return Decision(act, status, fallback, SOON, {"message": message, "instance_id": instance_id})


def _fallback_warning(v: View, frame: Frame) -> tuple[Event, ...]:
    if not v.credentials.fallback or not v.credentials.problem:
        return ()
    message = f"{v.credentials.problem}; releasing with the operator's token instead"
    return frame.once("Ready", Reason.CREDENTIALS_ERROR, message)


def _invisible(frame: Frame, instance_id: str) -> D:
    """The operator's stand-in token cannot see another account's instance: "not found"
    proves nothing, and letting go could leave it running and billed."""
    message = (
        f"instance {instance_id} is not visible with the operator's token; restore the "
        "Secret, or set deletionPolicy: Orphan to let go of it"
    )
    status, _ = frame.failure(CREDENTIALS, message)
    # A new situation even when the Secret was already missing: the deletion is blocked.
    said = frame.says("Ready", Reason.CREDENTIALS_ERROR, message)
    events = () if said else (Event(Reason.CREDENTIALS_ERROR, message, warning=True),)
    return Decision(Act.WAIT, status, events, Gate("slow", reason=Reason.CREDENTIALS_ERROR))


def _after(v: View, frame: Frame, outcome: Outcome) -> D:
    first = decide_delete(replace(v, outcome=None), frame)
    error = outcome.error
    if error is None:
        reason = EventReason.STOPPING if first.act is Act.STOP else EventReason.RELEASING
        phase = Phase.STOPPING if first.act is Act.STOP else Phase.RELEASING
        event = Event(reason, str(first.args.get("message", "")))
        status = {**first.status, "phase": phase.value}
        return Decision(Act.WAIT, status, (*first.events, event), SOON)
    if isinstance(error, WrongState):  # it moved meanwhile: observe again
        return replace(first, act=Act.WAIT, gate=Gate("backoff"))
    inst = v.observed.instance
    if isinstance(error, PrepaidNotExpired) and inst is not None and _left_to_expire(v, inst):
        message = (
            f"instance {inst.instance_id} is prepaid and stopped; CFGPU releases it at "
            f"{inst.facts.get('expireTime')}, with no further charge"
        )
        return Decision(Act.FINISH, events=(Event(Reason.PREPAID_NOT_EXPIRED, message, True),))
    message = str(first.args.get("message", "deleting"))
    return _on_top(frame, message).failed(Act.WAIT, error)


def _left_to_expire(v: View, inst: Instance) -> bool:
    """52009 may end a deletion only for a stopped prepaid instance whose expiry is still
    ahead: CFGPU then releases it by itself and charges nothing more. Anything else (a
    pay-as-you-go instance, one still running, an unknown expiry) is retried."""
    return (
        inst.status_code == "CLOSED"
        and inst.prepaid
        and inst.expire_at is not None
        and inst.expire_at > v.now
    )
