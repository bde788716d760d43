"""The GpuInstance decision: from one view, the one next action and the complete new status.

Every trigger (create, update, resume, timer, delete) ends here, so behaviour is level-based:
the same view gives the same decision whichever event fired. Each decision takes at most one
call that changes something on CFGPU; the next reconcile, with fresh observations, takes the
step after it. No I/O and no clock: ``view.now`` is the time.
"""

from __future__ import annotations

from dataclasses import replace

from cfgpu_operator.errors import NoCapacity, WrongState
from cfgpu_operator.models.gpuinstance import Phase
from cfgpu_operator.reconcile import fallbacks, lifecycle, usage
from cfgpu_operator.reconcile.conditions import Cond
from cfgpu_operator.reconcile.decision import KEEP, Decision, Event, Frame, Gate, as_dicts, stamp
from cfgpu_operator.reconcile.gpuinstance_delete import decide_delete
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

STABLE_FOR = {"Running": "RUNNING", "Stopped": "CLOSED"}
FREE_SYSTEM_DISK_GB = 30  # every instance gets this much system disk without expansion
# The Event posted once CFGPU accepted each call.
ANNOUNCED = {
    Act.START: EventReason.STARTING,
    Act.STOP: EventReason.STOPPING,
    Act.CHANGE_IMAGE: EventReason.REIMAGING,
    Act.RELEASE: EventReason.RELEASING,
}

D = Decision[Act]


def frame_of(v: View) -> Frame:
    return Frame(tuple(as_dicts(v.status.conditions)), v.generation, v.now)


def decide(v: View) -> D:
    frame = frame_of(v)
    if v.deleting:
        return decide_delete(v, frame)
    if not v.changed and (frame.sticky() or v.now < v.retry_at):
        return Decision(Act.NOTHING, gate=KEEP)  # waiting for a spec change, or backing off
    if v.credentials.problem:
        return frame.fail(Act.NOTHING, CREDENTIALS, v.credentials.problem, phase=_pending(v))
    problem = lifecycle.problem(v.spec.lifecycle)
    if problem is not None:
        return frame.held(Act.NOTHING, _pending(v), Reason.INVALID_SPEC, problem, "never")
    if v.outcome is not None:
        return _after(v, frame, v.outcome)
    if v.image_error is not None:
        return frame.failed(Act.NOTHING, v.image_error, phase=_pending(v))
    if v.status.instance_id is None:
        return _before_instance(v, frame)
    return _with_instance(v, frame)


def _pending(v: View) -> str | None:
    """Before any instance exists, the phase is Pending whatever went wrong."""
    return Phase.PENDING if v.status.instance_id is None else None


def _step(act: Act, frame: Frame, phase: str | None, reason: str, message: str = "") -> D:
    ready = Cond("Ready", "False", reason, message)
    return Decision(act, frame.report(phase, ready), args={"message": message})


def _before_instance(v: View, frame: Frame) -> D:
    if v.spec.instance_id:
        return _adopting(v, frame, v.spec.instance_id)
    if not v.may_mutate:
        message = "no instance to observe, and creating one is not allowed"
        return _step(Act.NOTHING, frame, Phase.PENDING, v.hold_reason, message)
    if v.status.instance_name is None:
        outside = lifecycle.outside_windows(v)
        if outside is not None:
            return _outside_windows(frame, *outside)
        if v.over_quota is not None:
            return _step(Act.NOTHING, frame, Phase.PENDING, Reason.QUOTA_EXCEEDED, v.over_quota)
        decision = _step(
            Act.RECORD_INTENT,
            frame,
            Phase.CREATING,
            Reason.CREATING,
            "recording the instance name before renting",
        )
        status = {**decision.status, "instanceName": v.intent_name}
        return replace(decision, status=status, gate=Gate("soon"))
    name = v.status.instance_name
    decision = _step(Act.CREATE, frame, Phase.CREATING, Reason.CREATING, f"renting {name}")
    return replace(decision, args={**decision.args, "name": name})


def _outside_windows(frame: Frame, opens: float | None, waived: float | None) -> D:
    """Nothing rented yet, and no window open: renting now would pay for a stop."""
    message = "not rented until a power window of spec.lifecycle.schedule opens"
    decision = _step(Act.NOTHING, frame, Phase.PENDING, Reason.OUTSIDE_SCHEDULE, message)
    announced = lifecycle.summary("Create", opens, "Schedule")
    waiver = {"scheduleWaivedAt": None if waived is None else stamp(waived)}
    return replace(decision, status={**decision.status, "lifecycle": {**announced, **waiver}})


def _adopting(v: View, frame: Frame, instance_id: str) -> D:
    obs = v.observed
    if obs.owner:
        message = f"instance {instance_id} is already managed by GpuInstance {obs.owner}"
        return frame.held(Act.NOTHING, Phase.PENDING, Reason.ALREADY_MANAGED, message, "never")
    if obs.gone:
        message = (
            f"instance {instance_id} was not found on CFGPU with this token; check "
            "spec.instanceId (delete and re-create the object to change it)"
        )
        if obs.error is not None:
            message += f" (CFGPU said: {obs.error.message})"
        return frame.held(Act.NOTHING, Phase.PENDING, Reason.INSTANCE_NOT_FOUND, message, "slow")
    if obs.instance is None:
        if obs.error is not None:
            return frame.failed(Act.NOTHING, obs.error, phase=Phase.PENDING)
        message = f"looking for instance {instance_id}"
        return _step(Act.WAIT, frame, Phase.PENDING, Reason.ADOPTING, message)
    decision = _step(
        Act.ADOPT,
        frame,
        phase_of(obs.instance.status_code),
        Reason.ADOPTING,
        f"adopted instance {instance_id} ({obs.instance.status_code})",
    )
    status = {**decision.status, **obs.instance.facts, "instanceId": instance_id}
    event = Event(EventReason.INSTANCE_ADOPTED, decision.args["message"])
    return replace(decision, status=status, events=(event,), gate=Gate("soon"))


def _with_instance(v: View, frame: Frame) -> D:
    obs, instance_id = v.observed, v.status.instance_id
    inst = obs.instance
    if inst is None or inst.status_code == "RELEASED":
        if obs.gone or inst is not None:
            if lifecycle.expired_hold(v) is not None:
                return _expired(v, frame)
            message = f"instance {instance_id} was released outside the operator"
            lost = frame.held(Act.NOTHING, Phase.LOST, Reason.INSTANCE_GONE, message)
            return replace(lost, status={**lost.status, "cfgpuStatus": "RELEASED"})
        if obs.error is not None:
            return frame.failed(Act.NOTHING, obs.error)
        return Decision(Act.WAIT)  # not listed, not proven gone: the next poll tells
    plan = lifecycle.plan(v, inst)
    decision = _observed(v, frame, inst, plan)
    if not decision.status:
        return decision
    status = {**inst.facts, **decision.status, **plan.patch}
    counted = usage.account(v, inst)
    if counted is not None:
        status["usage"] = counted
    expiring = _expiring(v, inst)
    if expiring:
        status["expiryWarned"] = inst.facts.get("expireTime")
    return replace(decision, status=status, events=decision.events + plan.events + expiring)


def _planned(v: View, decision: D) -> D:
    """``decision`` with what the lifecycle remembers and announces, for a decision made
    on a call's failure (the lifecycle's own record must not be lost with it)."""
    inst = v.observed.instance
    if inst is None or v.status.instance_id is None or not decision.status:
        return decision
    plan = lifecycle.plan(v, inst)
    status = {**decision.status, **plan.patch}
    return replace(decision, status=status, events=decision.events + plan.events)


def _expired(v: View, frame: Frame) -> D:
    """releaseAfter released the instance: the object stays, and rents nothing again."""
    stored = v.status.lifecycle
    after = v.spec.lifecycle.release_after if v.spec.lifecycle else None
    message = f"instance {v.status.instance_id} was released by spec.lifecycle.releaseAfter"
    if after:
        message += f" ({after} after the object was created)"
    status = frame.report(Phase.EXPIRED, Cond("Ready", "False", Reason.EXPIRED, message))
    status["cfgpuStatus"] = "RELEASED"
    hold = stored.hold if stored else None
    if stored is None or hold is None or hold.done:
        return Decision(Act.NOTHING, status)
    record = stored.model_copy(update={"hold": hold.model_copy(update={"done": True})})
    lifecycle_status = {**record.model_dump(by_alias=True, mode="json"), **lifecycle.NO_NEXT}
    status["lifecycle"] = lifecycle_status
    return Decision(Act.NOTHING, status, (Event(EventReason.EXPIRED, message),))


def _observed(v: View, frame: Frame, inst: Instance, plan: lifecycle.Plan) -> D:
    code, phase = inst.status_code, phase_of(inst.status_code)
    if code in TRANSIENT:
        return _step(Act.WAIT, frame, phase, phase.value, f"CFGPU: {code}")
    if code == "ERROR":
        message = "CFGPU reports the instance in ERROR"
        return _step(Act.NOTHING, frame, phase, Reason.INSTANCE_FAILED, message)
    if inst.expired and code == "CLOSED" and not (plan.releasing and v.may_mutate):
        message = (
            f"instance {inst.instance_id} expired at {inst.facts.get('expireTime') or 'its end'}"
            "; CFGPU cannot start it again and releases it later"
        )
        return frame.held(Act.NOTHING, phase, Reason.INSTANCE_EXPIRED, message)
    if not v.may_mutate:
        return _hold(v, frame, inst)
    decision = _drive(v, frame, inst, plan)
    if decision.act is not Act.NOTHING and not v.observed.fresh:
        # The last call is not in a poll yet: wait for news rather than repeat it.
        return replace(decision, act=Act.WAIT)
    return decision


def _drive(v: View, frame: Frame, inst: Instance, plan: lifecycle.Plan) -> D:
    if plan.releasing:
        return _release_expired(v, frame, inst)
    if v.quota_stop is not None and plan.wanted == "Running":
        return _quota_stop(frame, inst, v.quota_stop)
    decision = _power(v, frame, inst, plan.wanted)
    if plan.cause and decision.act in (Act.START, Act.STOP):
        return replace(decision, args={**decision.args, "lifecycle": plan.cause})
    return decision


def _quota_stop(frame: Frame, inst: Instance, why: str) -> D:
    """A StopNewest GpuQuota's period is used up: stop, and stay stopped while it is."""
    if inst.status_code != "RUNNING":
        return _step(Act.NOTHING, frame, phase_of(inst.status_code), Reason.QUOTA_EXCEEDED, why)
    decision = _step(Act.STOP, frame, Phase.STOPPING, Reason.QUOTA_EXCEEDED, why)
    return replace(decision, events=(Event(EventReason.QUOTA_STOP, why, warning=True),))


def _release_expired(v: View, frame: Frame, inst: Instance) -> D:
    """releaseAfter is due: stop first, then release (phase Releasing throughout)."""
    message = "releasing the instance (spec.lifecycle.releaseAfter)"
    act = Act.STOP if inst.status_code == "RUNNING" else Act.RELEASE
    # Not Expired yet: that reason is final (nothing more is done), this step is not.
    decision = _step(act, frame, Phase.RELEASING, Reason.RELEASING, message)
    return replace(decision, args={**decision.args, "lifecycle": "ReleaseAfter"})


def _power(v: View, frame: Frame, inst: Instance, state: str) -> D:
    phase = phase_of(inst.status_code)
    wanted = v.wanted_image
    if wanted is not None and inst.image_id is not None and wanted != inst.image_id:
        if inst.status_code == "RUNNING":
            message = "stopping to change the image"
            return _step(Act.STOP, frame, Phase.REIMAGING, Reason.REIMAGING, message)
        decision = _step(
            Act.CHANGE_IMAGE,
            frame,
            Phase.REIMAGING,
            Reason.REIMAGING,
            f"changing the image to {wanted}",
        )
        return replace(decision, args={**decision.args, "image_id": wanted})
    if inst.status_code == STABLE_FOR[state]:
        return Decision(Act.NOTHING, frame.report(phase, _ready(inst, phase)))
    if state == "Running":
        if v.over_quota is not None:
            return _step(Act.NOTHING, frame, phase, Reason.QUOTA_EXCEEDED, v.over_quota)
        return _step(Act.START, frame, Phase.STARTING, Reason.STARTING, "starting the instance")
    return _step(Act.STOP, frame, Phase.STOPPING, Reason.STOPPING, "stopping the instance")


def _ready(inst: Instance, phase: Phase) -> Cond:
    """Ready, with a message too: `kubectl describe` never shows an empty one."""
    return Cond("Ready", "True", phase.value, f"instance {inst.instance_id} is {inst.status_code}")


def _hold(v: View, frame: Frame, inst: Instance) -> D:
    """ObserveOnly or paused: report, never correct."""
    phase = phase_of(inst.status_code)
    if inst.status_code == STABLE_FOR[v.spec.state]:
        return Decision(Act.NOTHING, frame.report(phase, _ready(inst, phase)))
    message = (
        f"instance is {inst.status_code}, spec.state is {v.spec.state}; "
        f"not corrected ({v.hold_reason})"
    )
    return _step(Act.NOTHING, frame, phase, v.hold_reason, message)


def _expiring(v: View, inst: Instance) -> tuple[Event, ...]:
    """One Warning per expiry time, when CFGPU says the instance expires soon."""
    expires = inst.facts.get("expireTime")
    near = inst.expire_at is not None and inst.prepaid and inst.expire_at - v.now <= v.expiry_lead
    if not (inst.expiring or near) or inst.expired or v.status.expiry_warned == expires:
        return ()
    return (
        Event(
            EventReason.INSTANCE_EXPIRING,
            f"instance {inst.instance_id} expires at {expires}; renew it on CFGPU to keep it",
            warning=True,
        ),
    )


def _after(v: View, frame: Frame, outcome: Outcome) -> D:
    """The decision once more, on what the action just taken answered."""
    if isinstance(outcome.error, WrongState):
        # CFGPU says the instance moved meanwhile: nothing failed, observe again. Backing
        # off keeps a listing that lags behind CFGPU from making the operator repeat a call.
        first = decide(replace(v, outcome=None))
        return replace(first, act=Act.NOTHING, gate=Gate("backoff"))
    if isinstance(outcome.error, NoCapacity) and outcome.offer is not None:
        return fallbacks.after_no_capacity(v, frame, outcome.error, outcome.offer)
    if outcome.error is not None:
        return _planned(v, frame.failed(Act.NOTHING, outcome.error, phase=_pending(v)))
    if outcome.ambiguous:
        name = v.status.instance_name
        message = (
            f"{len(outcome.ambiguous)} instances are named {name}: "
            f"{', '.join(outcome.ambiguous)}; resolve by hand, or set spec.instanceId"
        )
        return frame.held(Act.NOTHING, Phase.PENDING, Reason.AMBIGUOUS_INSTANCE, message, "never")
    if outcome.owner:
        message = (
            f"instance {outcome.instance_id} named {v.status.instance_name} is already "
            f"managed by GpuInstance {outcome.owner}"
        )
        return frame.held(Act.NOTHING, Phase.PENDING, Reason.ALREADY_MANAGED, message, "never")
    if outcome.instance_id is not None:
        return _recorded(v, frame, outcome)
    first = decide(replace(v, outcome=None))
    announced = ANNOUNCED.get(first.act)
    if announced is None:
        return first
    event = Event(announced, str(first.args.get("message", "")))
    return replace(first, act=Act.NOTHING, events=(*first.events, event))


def _recorded(v: View, frame: Frame, outcome: Outcome) -> D:
    instance_id = str(outcome.instance_id)
    name = v.status.instance_name
    if outcome.found_by_name:
        message = f"adopted instance {instance_id} found by name {name}"
    else:
        message = f"rented instance {instance_id} ({name})"
    events = [Event(EventReason.INSTANCE_CREATED, message)]
    if outcome.system_disk is not None:
        asked, used = outcome.system_disk
        events.append(
            Event(
                EventReason.SYSTEM_DISK_EXPANDED,
                f"the image needs a larger system disk: expanded by {used} GB instead of "
                f"the {asked} GB asked (spec.disks.systemExpandGB)",
            )
        )
    ready = Cond("Ready", "False", Reason.CREATING, message)
    status = {**frame.report(Phase.CREATING, ready), "instanceId": instance_id, "candidate": None}
    return Decision(Act.NOTHING, status, tuple(events))


def system_disk_expand(asked_gb: int, image_min_gb: int) -> int:
    """GB to add to the free system disk so that the image fits: what the spec asks, or
    more when the image's minimum system disk is larger than the free disk plus that."""
    return max(asked_gb, image_min_gb - FREE_SYSTEM_DISK_GB)
