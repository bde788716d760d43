"""SafeWorkload decisions: ids, names, the next step, and what a PATCH must carry.

Submitting is the dangerous step: a create for an id that exists makes the real server delete
the existing workload. So the plan only says "submit" after a lookup by id and by env tag
found nothing, and a failed submit sends the object back to "lookup", never to "submit".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from cfgpu_operator.models.safeworkload import Phase

ENV_TAG = "CFGPU_OPERATOR_ID"  # value: the object's uid; survives the platform's TTL
MAX_ID = 50  # PyTorchJob pod names must stay under 63 characters
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
APPLICATION_KINDS = frozenset({"Deployment", "StatefulSet"})
# displayName must match ^[a-z][-a-z0-9]{0,N}[a-z0-9]$ with N per kind (primus-safe-api §3.1).
NAME_BUDGET = {
    "PyTorchJob": 44,
    "Authoring": 44,
    "Deployment": 40,
    "StatefulSet": 40,
    "TorchFT": 36,
    "RayJob": 36,
    "AutoscalingRunnerSet": 39,
    "MonarchJob": 48,
}
PHASES = {p.value: p for p in Phase}

StepKind = Literal["wait", "lookup", "submit", "observe", "patch", "stop", "hold", "ended", "lost"]


def _slug(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


def workload_id(namespace: str, name: str, uid: str) -> str:
    """``swl-<namespace>-<name>-<uid8>``: lowercase, starts with a letter, at most 50 chars."""
    suffix = uid.replace("-", "")[:8].lower()
    base = _slug(f"{namespace}-{name}")
    room = MAX_ID - len("swl-") - len(suffix) - 1
    if len(base) > room:
        digest = hashlib.sha256(base.encode()).hexdigest()[:6]
        base = f"{base[: room - len(digest) - 1].rstrip('-')}-{digest}"
    return f"swl-{base}-{suffix}"


def display_name(name: str, kind: str) -> str:
    """metadata.name made valid for the kind's displayName rule."""
    budget = NAME_BUDGET.get(kind, 57) + 2
    slug = _slug(name) or "workload"
    if not slug[0].isalpha():
        slug = f"w-{slug}"
    slug = slug[:budget].rstrip("-")
    return slug if len(slug) >= 2 else f"{slug}0"


@dataclass(frozen=True)
class Seen:
    """The platform's view of the workload (from a list row or a GET)."""

    phase: str
    dispatch_count: int = 0


@dataclass(frozen=True)
class Inputs:
    workload_id: str | None  # status.workloadId: set once the platform has it
    seen: Seen | None  # None: not in the last listing
    suspend: bool
    gpu_not_ready: tuple[str, ...] = ()
    deps_without_id: tuple[str, ...] = ()
    patch: dict[str, Any] = field(default_factory=dict)  # what differs from the platform
    kind: str = "PyTorchJob"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    phase: Phase
    ready: bool = False
    reason: str = ""
    message: str = ""


def plan(i: Inputs) -> Step:
    if i.workload_id is None:
        return _before_submit(i)
    if i.seen is None:
        return Step(
            "lookup",
            Phase.SUBMITTING,
            reason="Submitting",
            message=f"looking for workload {i.workload_id}",
        )
    phase = PHASES.get(i.seen.phase, Phase.PENDING)
    if i.seen.phase in TERMINAL:
        return _ended(i, phase)
    if i.suspend:
        return Step("stop", phase, reason="Suspending", message="spec.suspend is true")
    if i.patch:
        return Step(
            "patch", phase, reason="Updating", message=f"updating {', '.join(sorted(i.patch))}"
        )
    running = i.seen.phase == "Running"
    return Step("observe", phase, ready=running, reason=phase.value)


def _before_submit(i: Inputs) -> Step:
    if i.suspend:
        return Step(
            "hold", Phase.WAITING, reason="Suspended", message="spec.suspend is true: not submitted"
        )
    if i.gpu_not_ready:
        return Step(
            "wait",
            Phase.WAITING,
            reason="WaitingForGpuInstances",
            message=f"waiting for GpuInstances to be Ready: {', '.join(i.gpu_not_ready)}",
        )
    if i.deps_without_id:
        return Step(
            "wait",
            Phase.WAITING,
            reason="WaitingForDependencies",
            message=f"waiting for SafeWorkloads to be submitted: {', '.join(i.deps_without_id)}",
        )
    return Step(
        "submit",
        Phase.SUBMITTING,
        reason="Submitting",
        message="submitting after a lookup by id and env tag found nothing",
    )


def _ended(i: Inputs, phase: Phase) -> Step:
    if i.seen is not None and i.seen.phase == "Stopped" and not i.suspend:
        return Step(
            "ended",
            phase,
            reason="CannotResume",
            message="the workload was stopped; the platform cannot resume it under the "
            "same id: delete and re-create the SafeWorkload to run it again",
        )
    if phase is Phase.SUCCEEDED:
        return Step("ended", phase, ready=True, reason="Succeeded")
    if phase is Phase.FAILED:
        return Step("ended", phase, reason="WorkloadFailed", message="the workload failed")
    return Step("ended", phase, reason="Suspended", message="stopped as spec.suspend asks")


MUTABLE_ALWAYS = ("priority", "timeout", "maxRetry", "description")
MUTABLE_BEFORE_DISPATCH = ("resources", "images", "entryPoints", "env")


def patch_for(
    wanted: dict[str, Any], platform: dict[str, Any], *, dispatched: bool, kind: str
) -> tuple[dict[str, Any], list[str]]:
    """(PATCH body of what differs, fields that cannot change any more after dispatch)."""
    body: dict[str, Any] = {}
    frozen: list[str] = []
    for key in MUTABLE_ALWAYS + MUTABLE_BEFORE_DISPATCH:
        if key not in wanted or wanted[key] == platform.get(key):
            continue
        if key in MUTABLE_BEFORE_DISPATCH and dispatched and kind not in APPLICATION_KINDS:
            frozen.append(key)
        else:
            body[key] = wanted[key]
    return body, frozen
