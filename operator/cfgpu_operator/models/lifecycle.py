"""GpuInstance lifecycle: when the operator stops or releases an instance by itself, and
what it remembers to do so. The CRD schema is generated from these models."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from cfgpu_operator.models.common import LABEL, TEXT, CrdModel, time_field

DURATION = r"^[0-9]{1,7}(s|m|h|d)$"
# Five cron fields (minute granularity) or one of the named shorthands; the operator checks
# each field's values itself (InvalidSpec naming the field), as a schema pattern cannot.
CRON = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+( \S+){4})$"
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    """``90s``, ``30m``, ``8h``, ``3d`` in seconds (the schema admits nothing else)."""
    found = re.fullmatch(DURATION, duration)
    if found is None:
        raise ValueError(f"not a duration: {duration!r}")
    return int(duration[:-1]) * _UNIT[duration[-1]]


def _duration(description: str) -> Any:
    return Field(default=None, description=description, pattern=DURATION, max_length=8)


class PowerWindow(CrdModel):
    start: str = Field(
        description="Cron expression (5 fields, minute granularity) at which a window opens.",
        pattern=CRON,
        max_length=LABEL,
    )
    stop: str = Field(
        description="Cron expression at which the window closes.", pattern=CRON, max_length=LABEL
    )


class Schedule(CrdModel):
    time_zone: str = Field(
        default="UTC",
        description="IANA time zone the cron expressions are read in (e.g. Asia/Shanghai).",
        min_length=1,
        max_length=LABEL,
    )
    windows: list[PowerWindow] = Field(
        description="Power windows: outside every window the instance is stopped.",
        min_length=1,
        max_length=16,
    )


class Lifecycle(CrdModel):
    """When the operator stops or releases the instance by itself. Durations: 90s, 30m,
    8h, 3d. A prepaid instance is never stopped before it expires (that saves nothing)."""

    stop_after: str | None = _duration("Stop the instance once it has been Running this long.")
    release_after: str | None = _duration(
        "Release the instance this long after the object was created (a prepaid one not "
        "before it expires); the object then stays, phase Expired."
    )
    idle_stop_after: str | None = _duration(
        "Stop the instance once no SafeWorkload referencing it (spec.gpuInstanceRefs) has "
        "been active (submitted, not finished) for this long."
    )
    schedule: Schedule | None = Field(
        default=None, description="Power windows; outside every window the instance stops."
    )


LifecycleReason = Literal["StopAfter", "IdleStopAfter", "Schedule", "ReleaseAfter"]


class Hold(CrdModel):
    """A stop the operator made that holds until a window opens or the spec changes."""

    by: LifecycleReason = Field(description="The rule that stopped (or released) the instance.")
    since: str | None = time_field("When the operator acted.")
    generation: int | None = Field(default=None, description="The generation it acted on.")
    done: bool = Field(default=False, description="The instance was seen stopped or released.")


class LifecycleStatus(CrdModel):
    next_action: Literal["Create", "Start", "Stop", "Release"] | None = Field(
        default=None, description="What the operator will do next by itself."
    )
    next_action_time: str | None = time_field("When it will.")
    reason: LifecycleReason | None = Field(default=None, description="The rule behind it.")
    next: str | None = Field(
        default=None, max_length=TEXT, description="The next action and its time, in one line."
    )
    running_since: str | None = time_field("When the instance was first seen Running, lately.")
    idle_since: str | None = time_field(
        "Since when no SafeWorkload referencing the instance has been active."
    )
    schedule_waived_at: str | None = time_field(
        "When the spec was edited outside every window: the schedule waits for the next close."
    )
    hold: Hold | None = Field(default=None, description="The stop that holds, if any.")
    deferred_noticed: str | None = time_field(
        "The expireTime an Event said lifecycle stops wait for (prepaid)."
    )


class Usage(CrdModel):
    """What the instance ran, from the states the operator observed. Written when the
    instance starts or stops running and at most every CFGPU_OPERATOR_USAGE_INTERVAL
    seconds, never per poll; ``asOf`` and ``running`` let a restarted operator count the
    time in between."""

    since: str | None = time_field("When the operator began counting.")
    running_seconds: int = Field(default=0, ge=0, description="Seconds seen RUNNING.")
    gpu_seconds: int = Field(default=0, ge=0, description="runningSeconds times the GPUs.")
    running: bool = Field(default=False, description="Whether it was RUNNING at asOf.")
    as_of: str | None = time_field("When these figures were counted up to.")
    estimated_cost: str | None = Field(
        default=None,
        max_length=LABEL,
        description="CNY, from the operator's price table (CFGPU_OPERATOR_PRICES): GPU-hours "
        "times the Usage price, or the prepaid periods bought; absent without a price.",
    )
