"""The lifecycle rows of the GpuInstance decision, table-style, with the clock injected:
stopAfter, idleStopAfter, power windows, releaseAfter and the prepaid rules. Each row gives
one view and says what the operator does, what it announces in status.lifecycle and which
Events it posts. NOW is Friday 2027-01-15 08:00 UTC, an hour before the weekday window."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from cfgpu_operator.errors import Unavailable
from cfgpu_operator.reconcile.decision import stamp
from cfgpu_operator.reconcile.gpuinstance import decide
from cfgpu_operator.reconcile.gpuinstance_view import Act, Observed, Outcome, View
from tests.unit.reconcile.gpuinstance_views import HAS, NOW, err, infos, inst, view, warnings

H = 3600.0
IN = NOW + 4 * H  # Friday 12:00, inside the window
SATURDAY = NOW + 28 * H  # Saturday 12:00
WEEKDAYS = {"windows": [{"start": "0 9 * * 1-5", "stop": "0 19 * * 1-5"}]}
CREATED = NOW - 10 * H

RUNNING = inst("RUNNING")
CLOSED = inst("CLOSED")
GONE = Observed(listed=True, gone=True)


def lc(**fields: Any) -> dict[str, Any]:
    return {"lifecycle": fields}


def has(**lifecycle: Any) -> dict[str, Any]:
    return {**HAS, "lifecycle": lifecycle}


def hold(
    by: str, since: float = NOW - H, generation: int = 1, done: bool = False
) -> dict[str, Any]:
    return {"by": by, "since": stamp(since), "generation": generation, "done": done}


def on(st: dict[str, Any], sp: dict[str, Any], seen: Any = RUNNING, **kw: Any) -> View:
    kw.setdefault("created_at", CREATED)
    if "observed" in kw:
        return view(st, sp=sp, **kw)
    return view(st, sp=sp, seen=seen, **kw)


def prepaid(code: str, expires: float, **kw: Any) -> Any:
    return inst(code, prepaid=True, expire_at=expires, **kw)


@dataclass(frozen=True)
class Row:
    view: View
    act: Act
    phase: str | None = None
    reason: str | None = None  # Ready's reason
    info: tuple[str, ...] = ()
    warn: tuple[str, ...] = ()
    # Fields of status.lifecycle the decision writes (None: written as absent).
    lifecycle: dict[str, Any] = field(default_factory=dict)
    rule: str | None = None  # the rule the action is counted under


STOP8 = lc(stopAfter="8h")
IDLE = lc(idleStopAfter="30m")
SCHED = lc(schedule=WEEKDAYS)
RELEASE = lc(releaseAfter="72h")

ROWS = {
    # -- stopAfter -------------------------------------------------------------------------
    "first seen Running: the period starts now": Row(
        on(HAS, STOP8),
        Act.NOTHING,
        "Running",
        "Running",
        lifecycle={"runningSince": stamp(NOW), "nextAction": "Stop", "reason": "StopAfter"},
    ),
    "running 1h of 8h: announces the stop": Row(
        on(has(runningSince=stamp(NOW - H)), STOP8),
        Act.NOTHING,
        "Running",
        "Running",
        lifecycle={"nextActionTime": stamp(NOW + 7 * H), "hold": None},
    ),
    "running longer than stopAfter: stop, and hold": Row(
        on(has(runningSince=stamp(NOW - 9 * H)), STOP8),
        Act.STOP,
        "Stopping",
        "Stopping",
        info=("LifecycleStop",),
        lifecycle={"hold": hold("StopAfter", NOW), "nextAction": None},
        rule="StopAfter",
    ),
    "held and seen stopped: says so once": Row(
        on(has(hold=hold("StopAfter")), STOP8, seen=CLOSED),
        Act.NOTHING,
        "Stopped",
        "Stopped",
        info=("LifecycleStopped",),
        lifecycle={"hold": hold("StopAfter", done=True), "runningSince": None},
    ),
    "held, said already: nothing": Row(
        on(has(hold=hold("StopAfter", done=True)), STOP8, seen=CLOSED),
        Act.NOTHING,
        "Stopped",
        "Stopped",
    ),
    "a spec change ends the hold: start": Row(
        on(has(hold=hold("StopAfter", done=True)), STOP8, seen=CLOSED, generation=2),
        Act.START,
        "Starting",
        "Starting",
        lifecycle={"hold": None},
    ),
    "spec.state Stopped: no stop to announce": Row(
        on(HAS, {**STOP8, "state": "Stopped"}, seen=CLOSED),
        Act.NOTHING,
        "Stopped",
        "Stopped",
        lifecycle={"nextAction": None, "hold": None},
    ),
    # -- idleStopAfter ---------------------------------------------------------------------
    "newly idle: idle from now": Row(
        on(has(runningSince=stamp(NOW - 2 * H)), IDLE),
        Act.NOTHING,
        "Running",
        "Running",
        lifecycle={"idleSince": stamp(NOW), "nextActionTime": stamp(NOW + 1800)},
    ),
    "idle longer than idleStopAfter: stop": Row(
        on(has(runningSince=stamp(NOW - 2 * H), idleSince=stamp(NOW - 31 * 60)), IDLE),
        Act.STOP,
        "Stopping",
        "Stopping",
        info=("LifecycleStop",),
        lifecycle={"hold": hold("IdleStopAfter", NOW)},
        rule="IdleStopAfter",
    ),
    "a workload is active: not idle": Row(
        on(
            has(runningSince=stamp(NOW - 2 * H), idleSince=stamp(NOW - 31 * 60)),
            IDLE,
            workloads_active=True,
        ),
        Act.NOTHING,
        "Running",
        "Running",
        lifecycle={"idleSince": None, "nextAction": None},
    ),
    "idle counts from the latest start": Row(
        on(has(runningSince=stamp(NOW - 600), idleSince=stamp(NOW - 5 * H)), IDLE),
        Act.NOTHING,
        "Running",
        "Running",
        lifecycle={"nextActionTime": stamp(NOW + 1200)},
    ),
    # -- schedule --------------------------------------------------------------------------
    "inside a window: announces its close": Row(
        on(has(runningSince=stamp(IN - H)), SCHED, now=IN),
        Act.NOTHING,
        "Running",
        "Running",
        lifecycle={"nextAction": "Stop", "nextActionTime": stamp(NOW + 11 * H)},
    ),
    "outside every window: stop, and hold": Row(
        on(has(runningSince=stamp(NOW - H)), SCHED),
        Act.STOP,
        "Stopping",
        "Stopping",
        info=("LifecycleStop",),
        lifecycle={"hold": hold("Schedule", NOW)},
        rule="Schedule",
    ),
    "held by the schedule: announces the next window": Row(
        on(has(hold=hold("Schedule", NOW - 12 * H, done=True)), SCHED, seen=CLOSED),
        Act.NOTHING,
        "Stopped",
        "Stopped",
        lifecycle={"nextAction": "Start", "nextActionTime": stamp(NOW + H)},
    ),
    "a window opened since the stop: start": Row(
        on(has(hold=hold("StopAfter", NOW - 12 * H, done=True)), SCHED, seen=CLOSED, now=IN),
        Act.START,
        "Starting",
        "Starting",
        info=("LifecycleStart",),
        lifecycle={"hold": None},
        rule="Schedule",
    ),
    "an edit outside every window waives it until the next close": Row(
        on(has(hold=hold("Schedule", done=True)), SCHED, seen=CLOSED, now=SATURDAY, generation=2),
        Act.START,
        "Starting",
        "Starting",
        lifecycle={"scheduleWaivedAt": stamp(SATURDAY), "hold": None},
    ),
    "waived: left running outside the windows": Row(
        on(has(scheduleWaivedAt=stamp(SATURDAY - H)), SCHED, now=SATURDAY),
        Act.NOTHING,
        "Running",
        "Running",
        lifecycle={"nextAction": "Stop", "nextActionTime": stamp(NOW + 3 * 24 * H + 11 * H)},
    ),
    "waived before the last close: stopped": Row(
        on(has(scheduleWaivedAt=stamp(NOW - 14 * H)), SCHED, now=SATURDAY),
        Act.STOP,
        "Stopping",
        "Stopping",
        info=("LifecycleStop",),
        rule="Schedule",
    ),
    "new object outside every window: not rented": Row(
        on({}, SCHED, observed=Observed(listed=True)),
        Act.NOTHING,
        "Pending",
        "OutsideSchedule",
        lifecycle={"nextAction": "Create", "nextActionTime": stamp(NOW + H)},
    ),
    "new object inside a window: rented": Row(
        on({}, SCHED, observed=Observed(listed=True), now=IN), Act.RECORD_INTENT, "Creating"
    ),
    # -- prepaid ---------------------------------------------------------------------------
    "prepaid: stopAfter waits for the expiry, said once": Row(
        on(has(runningSince=stamp(NOW - 9 * H)), STOP8, seen=prepaid("RUNNING", NOW + 48 * H)),
        Act.NOTHING,
        "Running",
        "Running",
        info=("LifecycleDeferred",),
        lifecycle={"deferredNoticed": stamp(NOW + 48 * H), "nextActionTime": stamp(NOW + 48 * H)},
    ),
    "prepaid: deferral said already": Row(
        on(
            has(runningSince=stamp(NOW - 9 * H), deferredNoticed=stamp(NOW + 48 * H)),
            STOP8,
            seen=prepaid("RUNNING", NOW + 48 * H),
        ),
        Act.NOTHING,
        "Running",
        "Running",
    ),
    "prepaid: the schedule does not stop it either": Row(
        on(has(runningSince=stamp(NOW - H)), SCHED, seen=prepaid("RUNNING", NOW + 48 * H)),
        Act.NOTHING,
        "Running",
        "Running",
        info=("LifecycleDeferred",),
    ),
    "prepaid: releaseAfter waits for the expiry": Row(
        on(HAS, RELEASE, seen=prepaid("RUNNING", NOW + 24 * H), created_at=NOW - 80 * H),
        Act.NOTHING,
        "Running",
        "Running",
        lifecycle={"nextAction": "Release", "nextActionTime": stamp(NOW + 24 * H)},
    ),
    "prepaid, expired: releaseAfter releases it": Row(
        on(
            HAS,
            RELEASE,
            seen=prepaid("CLOSED", NOW - H, expired=True),
            created_at=NOW - 80 * H,
        ),
        Act.RELEASE,
        "Releasing",
        "Releasing",
        info=("LifecycleRelease",),
        rule="ReleaseAfter",
    ),
    "prepaid, expiry near: warned once": Row(
        on(
            HAS,
            {},
            seen=prepaid("RUNNING", NOW + H, facts={"expireTime": stamp(NOW + H)}),
            expiry_lead=24 * H,
        ),
        Act.NOTHING,
        "Running",
        "Running",
        warn=("InstanceExpiring",),
    ),
    # -- releaseAfter ----------------------------------------------------------------------
    "releaseAfter not due: announced": Row(
        on(HAS, RELEASE),
        Act.NOTHING,
        "Running",
        "Running",
        lifecycle={"nextAction": "Release", "nextActionTime": stamp(CREATED + 72 * H)},
    ),
    "releaseAfter due, running: stop first": Row(
        on(HAS, RELEASE, created_at=NOW - 73 * H),
        Act.STOP,
        "Releasing",
        "Releasing",
        info=("LifecycleRelease",),
        lifecycle={"hold": hold("ReleaseAfter", NOW), "nextAction": None},
        rule="ReleaseAfter",
    ),
    "releaseAfter due, stopped: release": Row(
        on(has(hold=hold("ReleaseAfter")), RELEASE, seen=CLOSED),
        Act.RELEASE,
        "Releasing",
        "Releasing",
        rule="ReleaseAfter",
    ),
    "released by releaseAfter: Expired": Row(
        on(has(hold=hold("ReleaseAfter")), RELEASE, observed=GONE),
        Act.NOTHING,
        "Expired",
        "Expired",
        info=("Expired",),
        lifecycle={"hold": hold("ReleaseAfter", done=True)},
    ),
    "Expired and said: a spec change rents nothing": Row(
        on(has(hold=hold("ReleaseAfter", done=True)), RELEASE, observed=GONE, generation=2),
        Act.NOTHING,
        "Expired",
        "Expired",
    ),
    # -- what the lifecycle never does -----------------------------------------------------
    "ObserveOnly: never acts": Row(
        on(has(runningSince=stamp(NOW - 9 * H)), {**STOP8, "managementPolicy": "ObserveOnly"}),
        Act.NOTHING,
        "Running",
        "Running",
    ),
    "lifecycle removed: its status goes": Row(
        on(has(runningSince=stamp(NOW - H)), {}), Act.NOTHING, "Running", "Running"
    ),
    "a cron field out of range: InvalidSpec": Row(
        on(HAS, lc(schedule={"windows": [{"start": "61 9 * * *", "stop": "0 19 * * *"}]})),
        Act.NOTHING,
        None,
        "InvalidSpec",
        warn=("InvalidSpec",),
    ),
    "an unknown time zone: InvalidSpec": Row(
        on(HAS, lc(schedule={**WEEKDAYS, "timeZone": "Mars/Olympus"})),
        Act.NOTHING,
        None,
        "InvalidSpec",
        warn=("InvalidSpec",),
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_lifecycle_table(row: Row) -> None:
    d = decide(row.view)
    assert d.act is row.act
    assert d.status.get("phase") == row.phase
    if row.reason is not None:
        ready = next(c for c in d.status["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == row.reason
    assert tuple(infos(d)) == row.info
    assert tuple(warnings(d)) == row.warn
    written = d.status.get("lifecycle") or {}
    for key, value in row.lifecycle.items():
        assert written.get(key) == value, key
    assert d.args.get("lifecycle") == row.rule


def test_a_failed_stop_keeps_the_hold_it_announced() -> None:
    v = on(has(runningSince=stamp(NOW - 9 * H)), STOP8, outcome=Outcome(error=err(Unavailable)))
    d = decide(v)
    assert d.status["lifecycle"]["hold"]["by"] == "StopAfter"
    assert infos(d) == ["LifecycleStop"]


def test_removing_the_lifecycle_removes_its_status() -> None:
    d = decide(on(has(runningSince=stamp(NOW - H)), {}))
    assert "lifecycle" in d.status
    assert d.status["lifecycle"] is None


def test_the_invalid_field_is_named() -> None:
    bad = lc(schedule={"windows": [{"start": "0 9 * * 1-5", "stop": "0 25 * * *"}]})
    d = decide(on(HAS, bad))
    message = next(c for c in d.status["conditions"] if c["type"] == "Ready")["message"]
    assert message.startswith("spec.lifecycle.schedule.windows[0].stop:")


def test_the_next_action_reads_in_one_line() -> None:
    d = decide(on(has(runningSince=stamp(NOW - H)), STOP8))
    assert d.status["lifecycle"]["next"] == "Stop at 2027-01-15T15:00:00Z (stopAfter)"


def test_a_window_closing_while_it_starts_keeps_it_stopped() -> None:
    d = decide(on(HAS, SCHED, seen=inst("STARTING")))
    assert d.act is Act.WAIT  # the start under way ends first; the hold then stops it
    assert d.status["lifecycle"]["hold"]["by"] == "Schedule"
    (event,) = d.events
    assert event.message.startswith("keeping the instance stopped: no power window")
