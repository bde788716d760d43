"""What the GpuInstance decision sees: one typed, frozen view, built by the handler per reconcile.

Wire types never get here: the handler maps what CFGPU answered into ``Instance`` at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from cfgpu_operator.errors import ApiError
from cfgpu_operator.models.gpuinstance import GpuInstanceSpec, GpuInstanceStatus, Phase
from cfgpu_operator.reconcile.reasons import Reason

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


def phase_of(status_code: str) -> Phase:
    """The phase for a CFGPU statusCode; one it does not document counts as Failed."""
    return PHASES.get(status_code, Phase.FAILED)


class Act(StrEnum):
    """The closed set of things a GpuInstance decision can ask for."""

    NOTHING = "nothing"  # report only (the timer comes back at its usual cadence)
    WAIT = "wait"  # report, and come back soon: a step is under way
    RECORD_INTENT = "record-intent"  # store the instance name before anything is rented
    CREATE = "create"  # search by the recorded name; adopt a match, else rent
    ADOPT = "adopt"  # record spec.instanceId, seen to exist and managed by no one else
    START = "start"
    STOP = "stop"
    CHANGE_IMAGE = "change-image"
    RELEASE = "release"
    FINISH = "finish"  # deletion: nothing is left to do; let the object go


MUTATING = frozenset({Act.CREATE, Act.START, Act.STOP, Act.CHANGE_IMAGE, Act.RELEASE})


@dataclass(frozen=True)
class Instance:
    """An instance as CFGPU showed it (the freshest status, the listing's facts)."""

    instance_id: str
    status_code: str
    image_id: str | None = None
    prepaid: bool = False
    expired: bool = False
    expiring: bool = False
    expire_at: float | None = None  # epoch seconds
    facts: Mapping[str, Any] = field(default_factory=dict)  # status fields, camelCase


@dataclass(frozen=True)
class Observed:
    """What the shared poll (and, where it cannot tell, one direct read) showed.

    ``instance`` is this object's instance (status.instanceId, or spec.instanceId while
    adopting); ``gone`` says CFGPU proved it does not exist: listed as RELEASED, or absent
    from a complete listing that began after this object's last call and either CFGPU
    accepted this object's release of it or its own status call answered "unknown instance"
    (or RELEASED).
    """

    listed: bool = False  # a poll has answered at least once
    instance: Instance | None = None
    gone: bool = False
    fresh: bool = True  # the observation began after this object's last call
    error: ApiError | None = None  # why nothing could be observed
    owner: str | None = None  # another GpuInstance managing the instance, "namespace/name"
    transient_elsewhere: bool = False  # informational: other instances of the account move


@dataclass(frozen=True)
class Credentials:
    problem: str | None = None  # why the object's token cannot be had
    fallback: bool = False  # deleting with the operator's token instead of a lost Secret


@dataclass(frozen=True)
class Search:
    """What a search by the recorded name found (during deletion, without an id)."""

    ids: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What the action just taken answered; the decision runs once more on it."""

    error: ApiError | None = None
    instance_id: str | None = None  # created, or found by name
    found_by_name: bool = False
    ambiguous: tuple[str, ...] = ()
    owner: str | None = None  # a match by name that another GpuInstance manages
    system_disk: tuple[int, int] | None = None  # (asked GB, raised to GB) for the image
    offer: int | None = None  # the offer a create tried (0: the spec's, then its fallbacks)


@dataclass(frozen=True)
class View:
    spec: GpuInstanceSpec
    status: GpuInstanceStatus
    generation: int | None
    intent_name: str  # spec.instanceName, or the one derived from namespace, name and uid
    now: float  # epoch seconds
    paused: bool = False
    deleting: bool = False
    deletion_policy: Literal["Release", "Orphan"] = "Release"
    credentials: Credentials = Credentials()
    observed: Observed = Observed()
    wanted_image: str | None = None  # spec.image resolved, when it matters
    image_error: ApiError | None = None  # spec.image could not be resolved
    search: Search | None = None
    retry_at: float = 0.0  # epoch seconds before which a failed step is not tried again
    outcome: Outcome | None = None
    created_at: float | None = None  # the object's creationTimestamp, epoch seconds
    workloads_active: bool = False  # a SafeWorkload referencing this object is active
    expiry_lead: float = 0.0  # seconds before a prepaid expiry that a Warning is due
    usage_interval: float = 300.0  # seconds a status.usage figure may age before a rewrite
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # CNY
    over_quota: str | None = None  # why taking this object's GPUs now exceeds a GpuQuota
    quota_stop: str | None = None  # why a GpuQuota (StopNewest) stops this instance now

    @property
    def changed(self) -> bool:
        """The spec changed since the last decision (a new generation)."""
        return self.status.observed_generation != self.generation

    @property
    def may_mutate(self) -> bool:
        return not self.paused and self.spec.management_policy == "Manage"

    @property
    def hold_reason(self) -> Reason:
        return Reason.PAUSED if self.paused else Reason.OBSERVE_ONLY
