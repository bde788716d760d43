"""What every decision returns, and the status pieces both kinds build the same way.

A decision names one action from its kind's closed set, the complete new status (a merge
patch: None removes a field), the Events to post, and the gate: when to try again. The
handlers' pipeline carries it out; nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from cfgpu_operator.errors import ApiError
from cfgpu_operator.models.common import LABEL, Condition
from cfgpu_operator.reconcile.conditions import Cond, clip, condition, set_condition
from cfgpu_operator.reconcile.reasons import Reason
from cfgpu_operator.reconcile.verdicts import Retry, Verdict, verdict

A = TypeVar("A")

# After these, nothing is tried again until the spec changes (a new generation).
STICKY = frozenset(
    {
        Reason.INVALID_SPEC,
        Reason.AMBIGUOUS_INSTANCE,
        Reason.ALREADY_MANAGED,
        Reason.IMMUTABLE_AFTER_DISPATCH,
        Reason.STOPPED_ON_PLATFORM,
        Reason.EXPIRED,
    }
)


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    warning: bool = False


@dataclass(frozen=True)
class Gate:
    """When the next attempt may come. ``none``: the usual cadence (nothing failed);
    ``soon``: come back shortly (a step is under way); ``keep``: leave a backoff already
    running as it is; the rest as ``Verdict.retry``."""

    retry: Literal["none", "soon", "keep"] | Retry = "none"
    retry_after: float | None = None
    reason: str = ""  # what failed, for the error metric

    @property
    def failed(self) -> bool:
        return self.retry not in ("none", "soon", "keep")


KEEP = Gate("keep")


@dataclass(frozen=True)
class Decision(Generic[A]):
    act: A
    status: dict[str, Any] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    gate: Gate = Gate()
    args: Mapping[str, Any] = field(default_factory=dict)


def stamp(now: float) -> str:
    """``now`` (epoch seconds) as Kubernetes writes times."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_dicts(conditions: Sequence[Condition]) -> list[dict[str, Any]]:
    return [c.wire() for c in conditions]


@dataclass(frozen=True)
class Frame:
    """What every status built for one object shares: its conditions before, generation,
    and the time to stamp transitions with."""

    conditions: tuple[dict[str, Any], ...]
    generation: int | None
    now: float
    # The conditions as stored, when ``conditions`` already holds this decision's own
    # changes: whether an episode is new is judged against what users saw before.
    stored: tuple[dict[str, Any], ...] | None = None

    def on_top(self, *conds: Cond) -> Frame:
        """This frame with ``conds`` set first (a failure then changes the rest)."""
        return replace(self, conditions=tuple(self.conditions_with(*conds)), stored=self.was)

    @property
    def was(self) -> tuple[dict[str, Any], ...]:
        return self.conditions if self.stored is None else self.stored

    def reason(self, kind: Literal["Ready", "Synced"]) -> str | None:
        found = condition(list(self.was), kind)
        return None if found is None else str(found.get("reason"))

    def says(self, kind: Literal["Ready", "Synced"], reason: str, message: str) -> bool:
        """Whether users already see exactly this reason and message."""
        found = condition(list(self.was), kind) or {}
        return (found.get("reason"), found.get("message")) == (reason, message)

    def sticky(self) -> bool:
        """Whether the last decision waits for a spec change (callers check that none came)."""
        return self.reason("Ready") in STICKY

    def conditions_with(self, *conds: Cond) -> list[dict[str, Any]]:
        out = list(self.conditions)
        for cond in conds:
            out = set_condition(out, cond, self.generation, stamp(self.now))
        return out

    def report(self, phase: str | None, ready: Cond) -> dict[str, Any]:
        """Status after a step that went as planned: Synced, no lastError."""
        out: dict[str, Any] = {
            "observedGeneration": self.generation,
            "lastError": None,
            "conditions": self.conditions_with(ready, Cond("Synced", "True", Reason.SYNCED)),
        }
        if phase is not None:
            out["phase"] = phase
        return out

    def failure(
        self, v: Verdict, message: str, code: str = "", phase: str | None = None
    ) -> tuple[dict[str, Any], tuple[Event, ...]]:
        """Status and Events for a failed step: API trouble turns only Synced False (Ready
        keeps what it was), anything else Ready False; one Warning per episode."""
        conds: tuple[Cond, ...]
        if v.api_trouble:
            conds = (Cond("Synced", "False", v.reason, message),)
        else:
            synced = Cond("Synced", "True", Reason.SYNCED)
            conds = (Cond("Ready", "False", v.reason, message), synced)
        events = (
            self.once("Synced" if v.api_trouble else "Ready", v.reason, message) if v.warn else ()
        )
        status: dict[str, Any] = {
            "conditions": self.conditions_with(*conds),
            "lastError": {"code": clip(code, LABEL), "message": clip(message)},
            "observedGeneration": self.generation,
        }
        if phase is not None:
            status["phase"] = phase
        return status, events

    def fail(
        self,
        act: A,
        v: Verdict,
        message: str,
        code: str = "",
        phase: str | None = None,
        retry: Retry | None = None,
    ) -> Decision[A]:
        """A decision for a failed step, gated as the verdict says (or as ``retry``)."""
        status, events = self.failure(v, message, code, phase)
        return Decision(act, status, events, Gate(retry or v.retry, v.retry_after, v.reason))

    def failed(self, act: A, error: ApiError, phase: str | None = None) -> Decision[A]:
        return self.fail(act, verdict(error), error.message, error.code or "", phase)

    def held(
        self,
        act: A,
        phase: str | None,
        reason: str,
        message: str,
        retry: Literal["none"] | Retry = "none",
    ) -> Decision[A]:
        """Nothing will change until a person (or the external system) acts: Ready False
        with why, and one Warning per episode."""
        status = self.report(phase, Cond("Ready", "False", reason, message))
        return Decision(act, status, self.once("Ready", reason, message), Gate(retry, None, reason))

    def once(
        self, kind: Literal["Ready", "Synced"], reason: str, message: str
    ) -> tuple[Event, ...]:
        """A Warning Event unless ``reason`` is already the condition's (one per episode)."""
        return () if self.reason(kind) == reason else (Event(reason, message, warning=True),)
