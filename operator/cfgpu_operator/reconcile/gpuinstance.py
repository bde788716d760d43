"""The GpuInstance decision: from what is wanted and what CFGPU shows, the one next step.

Every trigger (create, update, resume, timer) ends here, so behaviour is level-based: the
same inputs give the same step whichever event fired. Each step is at most one mutating
call; the next reconcile, with fresh observations, takes the step after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cfgpu_operator.models.gpuinstance import Phase

TRANSIENT = frozenset({"CREATING", "STARTING", "STOPPING", "RELEASING"})
PHASES = {
    "CREATING": Phase.CREATING,
    "STARTING": Phase.STARTING,
    "RUNNING": Phase.RUNNING,
    "STOPPING": Phase.STOPPING,
    "CLOSED": Phase.STOPPED,
    "RELEASING": Phase.RELEASING,
    "RELEASED": Phase.RELEASED,
    "ERROR": Phase.FAILED,
}
STABLE_FOR = {"Running": "RUNNING", "Stopped": "CLOSED"}

StepKind = Literal[
    "adopt",
    "record-intent",
    "create",
    "confirm",
    "lost",
    "wait",
    "start",
    "stop",
    "change-image",
    "in-sync",
    "failed",
    "hold",
]


@dataclass(frozen=True)
class Seen:
    """The instance as the last batched poll (or a direct status call) showed it."""

    status_code: str
    image_id: str | None = None


@dataclass(frozen=True)
class Wanted:
    state: Literal["Running", "Stopped"]
    image_id: str | None  # resolved from spec.image; None while unknown
    adopt_id: str | None  # spec.instanceId
    may_mutate: bool  # Manage, and not paused
    hold_reason: str = "ObserveOnly"  # why not, when may_mutate is False


@dataclass(frozen=True)
class Known:
    instance_id: str | None  # status.instanceId
    intent_name: str | None  # status.instanceName: recorded before any create


@dataclass(frozen=True)
class Step:
    kind: StepKind
    phase: Phase
    ready: bool = False
    reason: str = ""
    message: str = ""
    image_id: str | None = None


def phase_of(status_code: str) -> Phase:
    return PHASES.get(status_code, Phase.FAILED)


def plan(wanted: Wanted, known: Known, seen: Seen | None) -> Step:
    if known.instance_id is None:
        return _before_instance(wanted, known)
    if seen is None:
        return Step(
            "confirm",
            Phase.PENDING,
            reason="Observing",
            message="instance not in the last listing; checking it directly",
        )
    if seen.status_code == "RELEASED":
        return Step(
            "lost",
            Phase.LOST,
            reason="InstanceGone",
            message=f"instance {known.instance_id} was released outside the operator",
        )
    phase = phase_of(seen.status_code)
    if seen.status_code in TRANSIENT:
        return Step("wait", phase, reason=phase.value, message=f"CFGPU: {seen.status_code}")
    if seen.status_code == "ERROR":
        return Step(
            "failed",
            Phase.FAILED,
            reason="InstanceFailed",
            message="CFGPU reports the instance in ERROR",
        )
    if not wanted.may_mutate:
        return _hold(wanted, seen, phase)
    return _drive(wanted, seen, phase)


def _before_instance(wanted: Wanted, known: Known) -> Step:
    if wanted.adopt_id:
        return Step(
            "adopt",
            Phase.PENDING,
            reason="Adopting",
            message=f"adopting instance {wanted.adopt_id}",
        )
    if not wanted.may_mutate:
        return Step(
            "hold",
            Phase.PENDING,
            reason=wanted.hold_reason,
            message="no instance to observe, and creating one is not allowed",
        )
    if known.intent_name is None:
        return Step(
            "record-intent",
            Phase.CREATING,
            reason="Creating",
            message="recording the instance name before renting",
        )
    return Step(
        "create", Phase.CREATING, reason="Creating", message=f"renting instance {known.intent_name}"
    )


def _drive(wanted: Wanted, seen: Seen, phase: Phase) -> Step:
    stale_image = (
        wanted.image_id is not None
        and seen.image_id is not None
        and wanted.image_id != seen.image_id
    )
    if stale_image:
        if seen.status_code == "RUNNING":
            return Step(
                "stop", Phase.REIMAGING, reason="Reimaging", message="stopping to change the image"
            )
        return Step(
            "change-image",
            Phase.REIMAGING,
            reason="Reimaging",
            message=f"changing the image to {wanted.image_id}",
            image_id=wanted.image_id,
        )
    target = STABLE_FOR[wanted.state]
    if seen.status_code == target:
        return Step("in-sync", phase, ready=True, reason=phase.value)
    if target == "RUNNING":
        return Step("start", Phase.STARTING, reason="Starting", message="starting the instance")
    return Step("stop", Phase.STOPPING, reason="Stopping", message="stopping the instance")


def _hold(wanted: Wanted, seen: Seen, phase: Phase) -> Step:
    """ObserveOnly or paused: report, never correct."""
    if seen.status_code == STABLE_FOR[wanted.state]:
        return Step("in-sync", phase, ready=True, reason=phase.value)
    message = (
        f"instance is {seen.status_code}, spec.state is {wanted.state}; "
        f"not corrected ({wanted.hold_reason})"
    )
    return Step("hold", phase, reason=wanted.hold_reason, message=message)
