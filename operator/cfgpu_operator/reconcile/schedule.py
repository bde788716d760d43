"""Power windows: whether a time is inside one, and when the next opens or closes.

A window opens at a fire of its ``start`` expression and closes at the first fire of its
``stop`` after that, both read in the schedule's time zone (so a window follows daylight
saving time). Inside a window means: for some window, its latest start is later than its
latest stop. Pure: every function takes the time as epoch seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from cfgpu_operator.models.lifecycle import Schedule

CHAINED = 8  # windows followed one after another when looking for the close


def zone_problem(zone: str, field: str = "spec.timeZone") -> str | None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{field}: unknown time zone {zone!r}"
    return None


def problem(schedule: Schedule) -> str | None:
    """What is wrong with ``schedule``, naming the field; None when it can be used."""
    zone = zone_problem(schedule.time_zone, "spec.lifecycle.schedule.timeZone")
    if zone is not None:
        return zone
    for i, window in enumerate(schedule.windows):
        for field, expr in (("start", window.start), ("stop", window.stop)):
            if len(expr.split()) not in (1, 5) or not croniter.is_valid(expr):
                return (
                    f"spec.lifecycle.schedule.windows[{i}].{field}: {expr!r} is not a cron "
                    "expression of 5 fields (minute hour day-of-month month day-of-week)"
                )
    return None


def _fire(expr: str, zone: ZoneInfo, now: float, forward: bool) -> float | None:
    start = datetime.fromtimestamp(now, UTC).astimezone(zone)
    it = croniter(expr, start)
    try:
        found = it.get_next(datetime) if forward else it.get_prev(datetime)
    except (StopIteration, ValueError):  # an expression that never fires (30 Feb)
        return None
    return float(found.timestamp())


def _last(expr: str, zone: ZoneInfo, now: float) -> float:
    """The latest fire at or before ``now`` (croniter's previous is strictly before)."""
    fire = _fire(expr, zone, now + 1, forward=False)
    return -1.0 if fire is None or fire > now else fire


def inside(schedule: Schedule, now: float) -> bool:
    zone = ZoneInfo(schedule.time_zone)
    return any(_last(w.start, zone, now) > _last(w.stop, zone, now) for w in schedule.windows)


def next_open(schedule: Schedule, now: float) -> float | None:
    """The first time after ``now`` a window opens."""
    zone = ZoneInfo(schedule.time_zone)
    fires = [_fire(w.start, zone, now, forward=True) for w in schedule.windows]
    return min((f for f in fires if f is not None), default=None)


def last_close(schedule: Schedule, now: float) -> float:
    """The latest time at or before ``now`` a window closed (-1 when none did)."""
    zone = ZoneInfo(schedule.time_zone)
    return max(_last(w.stop, zone, now) for w in schedule.windows)


def next_close(schedule: Schedule, now: float) -> float | None:
    """When every window open at ``now`` has closed (overlapping or back-to-back windows
    count as one; None when none is open or they never close)."""
    zone = ZoneInfo(schedule.time_zone)
    t = now
    for _ in range(CHAINED):
        if not inside(schedule, t):
            return None if t == now else t
        fires = [_fire(w.stop, zone, t, forward=True) for w in schedule.windows]
        closes = [f for f in fires if f is not None]
        if not closes:
            return None
        t = min(closes)
    return t


def opened_between(schedule: Schedule, since: float, now: float) -> bool:
    """Whether a window opened after ``since``, up to ``now``."""
    first = next_open(schedule, since)
    return first is not None and first <= now
