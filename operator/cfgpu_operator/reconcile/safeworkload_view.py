"""What the SafeWorkload decision sees: one typed, frozen view, built by the handler per
reconcile. Wire types never get here: the handler maps the platform's answers at the edge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cfgpu_operator.errors import ApiError
from cfgpu_operator.models.safeworkload import SafeWorkloadSpec, SafeWorkloadStatus


class Act(StrEnum):
    """The closed set of things a SafeWorkload decision can ask for."""

    NOTHING = "nothing"
    WAIT = "wait"  # come back soon: a step is under way
    RECORD_ID = "record-id"  # store the workload id before anything is sent
    RECORD_SUBMIT = "record-submit"  # store the submit time before the POST
    SUBMIT = "submit"
    RECORD_RESUME = "record-resume"  # store the resume time before the resume
    RESUME = "resume"  # run a workload stopped for spec.suspend again, under its id
    PATCH = "patch"
    STOP = "stop"
    HAND_OVER = "hand-over"  # apply onComplete.gpuInstances
    DELETE = "delete"
    FINISH = "finish"  # deletion: nothing is left to do; let the object go


@dataclass(frozen=True)
class Workload:
    """The platform's workload, as its listing or a direct lookup showed it."""

    workload_id: str
    phase: str
    dispatch_count: int = 0
    facts: Mapping[str, Any] = field(default_factory=dict)  # status fields, camelCase


@dataclass(frozen=True)
class Platform:
    """What only a GET shows: the fields a PATCH may change, and details for status."""

    mutable: Mapping[str, Any]  # priority, timeout, maxRetry, description, images, env
    dispatched: bool
    details: Mapping[str, Any] = field(default_factory=dict)  # platformConditions, pods, nodes


@dataclass(frozen=True)
class Space:
    """What the key's list of workspaces says of spec.workspaceId."""

    found: bool
    scopes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Observed:
    listed: bool = False  # a poll has answered at least once
    workload: Workload | None = None
    absent: bool = False  # looked up by id and by env tag: the platform has none
    platform: Platform | None = None
    error: ApiError | None = None


@dataclass(frozen=True)
class Outcome:
    error: ApiError | None = None


@dataclass(frozen=True)
class View:
    spec: SafeWorkloadSpec
    status: SafeWorkloadStatus
    generation: int | None
    workload_id: str  # the deterministic id to record
    now: float  # epoch seconds
    grace: float  # seconds a submitted workload may stay invisible
    credentials: str | None = None  # why the key cannot be had
    observed: Observed = Observed()
    space: Space | None = None  # None: not known (the check is the server's then)
    gpu_missing: tuple[str, ...] = ()  # referenced GpuInstances with no such object
    gpu_not_ready: tuple[str, ...] = ()
    deps_without_id: tuple[str, ...] = ()
    submit_recorded: bool = False  # this process stored status.submittedAt, not yet sent
    resume_recorded: bool = False  # the same for status.resumedAt
    deleting: bool = False
    deleted: bool = False  # this process's DELETE of the recorded id was answered 200
    retry_at: float = 0.0
    outcome: Outcome | None = None

    @property
    def changed(self) -> bool:
        return self.status.observed_generation != self.generation

    @property
    def unsettled(self) -> bool:
        """The spec changed, or the last attempt failed (a PATCH that failed is owed still,
        although the failure recorded the generation to gate its backoff)."""
        return self.changed or self.status.last_error is not None
