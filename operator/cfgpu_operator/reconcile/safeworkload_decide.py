"""The SafeWorkload decision: from one view, the one next action and the complete new status.

Submitting is the dangerous step: a create for an id that exists makes the real server delete
the existing workload. So the decision only submits after a lookup by id and by env tag found
nothing, with the submit time recorded first, and never twice within the grace window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from cfgpu_operator.errors import WrongState
from cfgpu_operator.models.safeworkload import Phase
from cfgpu_operator.reconcile.conditions import Cond
from cfgpu_operator.reconcile.decision import KEEP, Decision, Event, Frame, Gate, as_dicts, stamp
from cfgpu_operator.reconcile.reasons import EventReason, Reason
from cfgpu_operator.reconcile.safeworkload import KIND_SCOPE, TERMINAL, patch_for
from cfgpu_operator.reconcile.safeworkload_view import Act, Observed, Outcome, View, Workload
from cfgpu_operator.reconcile.status import epoch
from cfgpu_operator.reconcile.verdicts import CREDENTIALS, Verdict

D = Decision[Act]
PHASES = {p.value: p for p in Phase}
SOON = Gate("soon")
IMMUTABLE = Verdict(Reason.IMMUTABLE_AFTER_DISPATCH, "never", warn=True)


def frame_of(v: View) -> Frame:
    return Frame(tuple(as_dicts(v.status.conditions)), v.generation, v.now)


def decide(v: View) -> D:
    frame = frame_of(v)
    if v.deleting:
        return _deleting(v, frame)
    if not v.changed and (frame.sticky() or v.now < v.retry_at):
        return Decision(Act.NOTHING, gate=KEEP)
    if v.credentials:
        return frame.fail(Act.NOTHING, CREDENTIALS, v.credentials)
    if v.outcome is not None:
        return _after(v, frame, v.outcome)
    obs = v.observed
    if not obs.listed:
        return frame.failed(Act.NOTHING, obs.error) if obs.error else Decision(Act.NOTHING)
    if v.status.workload_id is None:
        return _before_submit(v, frame)
    workload = obs.workload or _ended_before(v)
    if workload is None:
        return _unseen(v, frame)
    return _seen(v, frame, workload)


def _step(
    act: Act, frame: Frame, phase: Phase, reason: str, message: str = "", ready: bool = False
) -> D:
    cond = Cond("Ready", "True" if ready else "False", reason, message)
    return Decision(act, frame.report(phase.value, cond), args={"message": message})


def _before_submit(v: View, frame: Frame) -> D:
    if v.spec.suspend:
        return _step(
            Act.NOTHING, frame, Phase.WAITING, Reason.SUSPENDED, "not submitted: suspended"
        )
    if v.gpu_missing:
        # Not sticky: GitOps may apply the GpuInstance after the workload that names it.
        names = ", ".join(v.gpu_missing)
        message = f"no GpuInstance named {names} in this namespace (spec.gpuInstanceRefs)"
        return _step(Act.NOTHING, frame, Phase.WAITING, Reason.GPU_INSTANCE_NOT_FOUND, message)
    if v.gpu_not_ready:
        message = f"waiting for GpuInstances to be Ready: {', '.join(v.gpu_not_ready)}"
        return _step(Act.NOTHING, frame, Phase.WAITING, Reason.WAITING_FOR_GPU_INSTANCES, message)
    if v.deps_without_id:
        message = f"waiting for SafeWorkloads to be submitted: {', '.join(v.deps_without_id)}"
        return _step(Act.NOTHING, frame, Phase.WAITING, Reason.WAITING_FOR_DEPENDENCIES, message)
    refused = _workspace_refusal(v)
    if refused is not None:
        return frame.held(Act.NOTHING, Phase.WAITING.value, *refused, retry="slow")
    decision = _step(Act.RECORD_ID, frame, Phase.SUBMITTING, Reason.SUBMITTING, "recording the id")
    status = {**decision.status, "workloadId": v.workload_id}
    return replace(decision, status=status, gate=SOON)


def _workspace_refusal(v: View) -> tuple[str, str] | None:
    """Why the workspace cannot take this workload, as the key's workspace list shows it."""
    space, workspace, kind = v.space, v.spec.workspace_id, v.spec.kind
    if space is None:
        return None
    if not space.found:
        message = f"workspace {workspace} does not exist or this API key cannot use it"
        return Reason.WORKSPACE_NOT_FOUND, message
    scope = KIND_SCOPE.get(kind)
    if space.scopes and scope not in space.scopes:
        allowed = ", ".join(sorted(space.scopes))
        message = f"workspace {workspace} does not allow {kind} (scope {scope}; allowed: {allowed})"
        return Reason.SCOPE_NOT_ALLOWED, message
    return None


def _ended_before(v: View) -> Workload | None:
    """Ended workloads drop out of the listing: keep what was seen of them last."""
    phase = v.status.phase
    if phase is None or phase.value not in TERMINAL or v.status.workload_id is None:
        return None
    return Workload(v.status.workload_id, phase.value, v.status.dispatch_count or 0)


def _unseen(v: View, frame: Frame) -> D:
    """Neither listed nor found by id or env tag: submit, exactly once."""
    obs, wid = v.observed, v.status.workload_id
    if obs.error is not None:
        return frame.failed(Act.NOTHING, obs.error)
    if not obs.absent:
        message = f"looking for workload {wid}"
        return _step(Act.NOTHING, frame, Phase.SUBMITTING, Reason.SUBMITTING, message)
    return _once(v, frame, SUBMIT_ONCE, v.status.submitted_at, v.submit_recorded)


@dataclass(frozen=True)
class Once:
    """A call that creates the workload, which the platform must never receive twice (one
    sent while the workload exists is answered 409 *and* deletes it)."""

    field: str  # the status field the time of the attempt is recorded in, before it
    record: Act
    send: Act
    reason: Reason
    phase: Phase  # while recording and sending
    waiting: Phase  # while waiting for the platform to show what was sent
    verb: str  # submit | resume
    sending: str  # the message while sending


SUBMIT_ONCE = Once(
    "submittedAt",
    Act.RECORD_SUBMIT,
    Act.SUBMIT,
    Reason.SUBMITTING,
    Phase.SUBMITTING,
    Phase.SUBMITTING,
    "submit",
    "submitting workload",
)
# Waiting looks Pending, not Stopped: the workload is then looked up until it shows.
RESUME_ONCE = Once(
    "resumedAt",
    Act.RECORD_RESUME,
    Act.RESUME,
    Reason.RESUMING,
    Phase.STOPPED,
    Phase.PENDING,
    "resume",
    "resuming workload",
)


def _once(v: View, frame: Frame, once: Once, at: str | None, recorded: bool) -> D:
    """Record the time first; send only from the process that recorded it. A call may have
    been sent before a crash, and the platform's record lags what was sent: within the
    grace window after a recorded time, "not seen yet" means wait, never send again."""
    wid = v.status.workload_id
    if at and recorded:
        return _step(once.send, frame, once.phase, once.reason, f"{once.sending} {wid}")
    if at and v.now - epoch(at) < v.grace:
        message = f"waiting for workload {wid} to show after its {once.verb}"
        return _step(Act.NOTHING, frame, once.waiting, once.reason, message)
    message = f"recording the {once.verb} time"
    decision = _step(once.record, frame, once.phase, once.reason, message)
    return replace(decision, status={**decision.status, once.field: stamp(v.now)}, gate=SOON)


def _seen(v: View, frame: Frame, workload: Workload) -> D:
    decision = _on_platform(v, frame, workload)
    status = {**workload.facts, **_details(v.observed), **decision.status}
    if workload.phase not in TERMINAL and v.status.suspended:
        status["suspended"] = None  # resumed: running again
    if workload.phase in TERMINAL and v.status.endpoint:
        status["endpoint"] = None  # its Service went with it
    return replace(decision, status=status)


def _details(obs: Observed) -> dict[str, Any]:
    return dict(obs.platform.details) if obs.platform else {}


def _on_platform(v: View, frame: Frame, workload: Workload) -> D:
    phase = PHASES.get(workload.phase, Phase.PENDING)
    if workload.phase in TERMINAL:
        return _ended(v, frame, phase)
    if v.spec.suspend:
        wid = workload.workload_id
        message = f"stopped workload {wid}"
        return _step(Act.STOP, frame, phase, Reason.SUSPENDING, message)
    platform = v.observed.platform
    if v.unsettled and platform is not None:
        body, frozen = patch_for(
            wanted(v, platform.mutable.get("env") or {}),
            dict(platform.mutable),
            dispatched=platform.dispatched,
            kind=v.spec.kind,
        )
        if frozen:
            message = f"{', '.join(frozen)} cannot change after the workload was dispatched"
            return frame.fail(Act.NOTHING, IMMUTABLE, message, "Primus.00012")
        if "env" in body:
            body["env"] = dict(v.spec.env)
        if body:
            message = f"updated {', '.join(sorted(body))}"
            decision = _step(Act.PATCH, frame, phase, Reason.UPDATING, message)
            return replace(decision, args={**decision.args, "body": body})
    running = workload.phase == "Running"
    message = f"workload {workload.workload_id} is {workload.phase}"
    return _step(Act.NOTHING, frame, phase, phase.value, message, ready=running)


def wanted(v: View, platform_env: Mapping[str, str]) -> dict[str, Any]:
    """The PATCHable fields as the spec wants them, named as the platform shows them.

    secretEnv values were resolved at submit and are not read again: a secret variable the
    platform has counts as wanted as it is, a missing one makes env differ. The env a PATCH
    then carries is the plain part; the adapter adds the secret values (the platform replaces
    env whole), so they never pass through a decision.
    """
    spec = v.spec
    secrets = {e.name: platform_env.get(e.name) for e in spec.secret_env}
    fields: dict[str, Any] = {
        "priority": spec.priority,
        "maxRetry": spec.max_retry,
        "description": spec.description or "",
        "images": list(spec.images),
        "env": {**spec.env, **secrets},
    }
    if spec.timeout is not None:  # unset leaves the platform's (the workspace maximum)
        fields["timeout"] = spec.timeout
    return fields


def _ended(v: View, frame: Frame, phase: Phase) -> D:
    if phase is Phase.STOPPED and not v.spec.suspend and v.status.suspended:
        return _resume(v, frame)
    if phase is Phase.STOPPED and not v.spec.suspend:
        message = (
            "the workload was stopped on the platform (a timeout or a person): set "
            "spec.suspend to true and back to false to run it again"
        )
        decision = _step(Act.NOTHING, frame, phase, Reason.STOPPED_ON_PLATFORM, message)
    elif phase is Phase.SUCCEEDED:
        message = f"workload {v.status.workload_id} succeeded"
        decision = _step(Act.NOTHING, frame, phase, Reason.SUCCEEDED, message, ready=True)
    elif phase is Phase.FAILED:
        decision = _step(Act.NOTHING, frame, phase, Reason.WORKLOAD_FAILED, "the workload failed")
    else:
        message = "stopped as spec.suspend asks"
        decision = _step(Act.NOTHING, frame, phase, Reason.SUSPENDED, message)
        if phase is Phase.STOPPED:
            decision = replace(decision, status={**decision.status, "suspended": True})
    action = v.spec.on_complete.gpu_instances
    if action != "Keep" and v.spec.gpu_instance_refs and not v.status.gpu_instances_applied:
        return replace(decision, act=Act.HAND_OVER)
    return decision


def _resume(v: View, frame: Frame) -> D:
    """Unsuspended: resume under the same id, with the care of a submit (a resume re-creates
    the workload; its record shows Stopped until the platform's mirror catches up)."""
    return _once(v, frame, RESUME_ONCE, v.status.resumed_at, v.resume_recorded)


def _after(v: View, frame: Frame, outcome: Outcome) -> D:
    first = decide(replace(v, outcome=None))
    error = outcome.error
    if isinstance(error, WrongState):  # Primus.00012: the change came after dispatch
        return frame.fail(Act.NOTHING, IMMUTABLE, error.message, error.code or "")
    if error is not None:
        return frame.failed(Act.NOTHING, error)
    return _accepted(v, first)


ANNOUNCED = {Act.STOP: EventReason.STOPPING, Act.PATCH: EventReason.UPDATED}
HANDED_OVER = {"Stop": EventReason.GPU_INSTANCES_STOP, "Release": EventReason.GPU_INSTANCES_RELEASE}


def _accepted(v: View, first: D) -> D:
    """Status and Events once the platform (or the cluster) accepted the action."""
    wid = v.status.workload_id
    if first.act is Act.SUBMIT:
        ready = Cond("Ready", "False", Reason.SUBMITTED, f"submitted {wid}")
        status = frame_of(v).report(Phase.PENDING.value, ready)
        return Decision(Act.NOTHING, status, (Event(EventReason.SUBMITTED, f"submitted {wid}"),))
    if first.act is Act.RESUME:
        ready = Cond("Ready", "False", Reason.RESUMING, f"resumed {wid}")
        status = frame_of(v).report(Phase.PENDING.value, ready)
        return Decision(Act.NOTHING, status, (Event(EventReason.RESUMED, f"resumed {wid}"),))
    if first.act is Act.HAND_OVER:
        action = v.spec.on_complete.gpu_instances
        verb = "stopped" if action == "Stop" else "released"
        message = f"{verb} GpuInstances {', '.join(v.spec.gpu_instance_refs)} as onComplete asks"
        status = {**first.status, "gpuInstancesApplied": True}
        events = (*first.events, Event(HANDED_OVER[action], message))
        return Decision(Act.NOTHING, status, events)
    announced = ANNOUNCED.get(first.act)
    if announced is None:
        return replace(first, act=Act.NOTHING)
    event = Event(announced, str(first.args.get("message", "")))
    return replace(first, act=Act.NOTHING, events=(*first.events, event))


def _deleting(v: View, frame: Frame) -> D:
    wid, policy = v.status.workload_id, v.spec.deletion_policy
    if wid is None or not v.status.submitted_at:
        return Decision(
            Act.FINISH, events=(Event(EventReason.DELETED, "nothing to delete on the platform"),)
        )
    if policy == "Orphan":
        message = "deletionPolicy Orphan: the workload is left as it is"
        return Decision(Act.FINISH, events=(Event(EventReason.DELETED, message),))
    if v.credentials:
        # Deleting retries sooner than reconciling would: the object is on its way out.
        return frame.fail(Act.WAIT, CREDENTIALS, v.credentials, retry="backoff")
    if v.deleted and v.outcome is None:
        # A handler run on a body older than the one that recorded our DELETE: the platform
        # already answered 200 (and the Event was posted), so only let go.
        return Decision(Act.FINISH)
    if v.outcome is not None:
        if v.outcome.error is not None:
            return replace(frame.failed(Act.WAIT, v.outcome.error), act=Act.WAIT)
        # DELETE by id answers 200 only once the workload is stopped and its record marked
        # deleted (or it never existed): done, without waiting to see it gone.
        message = f"stopped and deleted workload {wid}"
        return Decision(Act.FINISH, events=(Event(EventReason.DELETING, message),))
    obs = v.observed
    if obs.error is not None:
        return replace(frame.failed(Act.WAIT, obs.error), act=Act.WAIT)
    if obs.absent and v.now - epoch(v.status.submitted_at) >= v.grace:
        return Decision(Act.FINISH, events=(Event(EventReason.DELETED, f"workload {wid} is gone"),))
    # Seen, or not found within the submit grace window, where the platform's record may
    # simply lag the create: only the DELETE by id can tell, and it stops what it finds.
    return Decision(Act.DELETE, args={"workload_id": wid})
