"""Power windows: inside or not, and when the next one opens or closes, in the schedule's
time zone (daylight saving included), with overlapping and overnight windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cfgpu_operator.models.lifecycle import Schedule
from cfgpu_operator.reconcile import schedule as windows


def sched(*pairs: tuple[str, str], zone: str = "UTC") -> Schedule:
    spec: dict[str, Any] = {
        "timeZone": zone,
        "windows": [{"start": a, "stop": b} for a, b in pairs],
    }
    return Schedule.model_validate(spec)


def at(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


WEEKDAYS = sched(("0 9 * * 1-5", "0 19 * * 1-5"))
NIGHTS = sched(("0 19 * * *", "0 7 * * *"))
OVERLAP = sched(("0 9 * * *", "0 12 * * *"), ("0 11 * * *", "0 19 * * *"))
BERLIN = sched(("0 9 * * *", "0 19 * * *"), zone="Europe/Berlin")

INSIDE = {
    "weekday noon": (WEEKDAYS, at("2027-01-15T12:00"), True),
    "the opening minute": (WEEKDAYS, at("2027-01-15T09:00"), True),
    "the closing minute": (WEEKDAYS, at("2027-01-15T19:00"), False),
    "Saturday noon": (WEEKDAYS, at("2027-01-16T12:00"), False),
    "overnight, before midnight": (NIGHTS, at("2027-01-15T23:00"), True),
    "overnight, after midnight": (NIGHTS, at("2027-01-16T03:00"), True),
    "overnight window, at noon": (NIGHTS, at("2027-01-16T12:00"), False),
    "Berlin 09:30 in summer (07:30 UTC)": (BERLIN, at("2027-03-29T07:30"), True),
    "Berlin 08:30 in winter (07:30 UTC)": (BERLIN, at("2027-01-15T07:30"), False),
}


@pytest.mark.parametrize(("s", "now", "expected"), INSIDE.values(), ids=INSIDE.keys())
def test_inside(s: Schedule, now: float, expected: bool) -> None:
    assert windows.inside(s, now) is expected


def test_overlapping_windows_close_as_one() -> None:
    assert windows.next_close(OVERLAP, at("2027-01-15T10:00")) == at("2027-01-15T19:00")


def test_an_overnight_window_closes_the_next_morning() -> None:
    assert windows.next_close(NIGHTS, at("2027-01-15T23:00")) == at("2027-01-16T07:00")


def test_friday_evening_waits_for_monday() -> None:
    friday = at("2027-01-15T20:00")
    assert windows.next_open(WEEKDAYS, friday) == at("2027-01-18T09:00")
    assert windows.last_close(WEEKDAYS, friday) == at("2027-01-15T19:00")
    assert windows.next_close(WEEKDAYS, friday) is None
    assert not windows.opened_between(WEEKDAYS, friday, at("2027-01-18T08:59"))
    assert windows.opened_between(WEEKDAYS, friday, at("2027-01-18T09:00"))


PROBLEMS = {
    "not a number": (sched(("x 9 * * *", "0 19 * * *")), "windows[0].start"),
    "minute out of range": (sched(("0 9 * * *", "60 19 * * *")), "windows[0].stop"),
    "unknown zone": (sched(("0 9 * * *", "0 19 * * *"), zone="Mars/Olympus"), "timeZone"),
}


@pytest.mark.parametrize(("s", "where"), PROBLEMS.values(), ids=PROBLEMS.keys())
def test_problems_name_the_field(s: Schedule, where: str) -> None:
    problem = windows.problem(s)
    assert problem is not None
    assert problem.startswith(f"spec.lifecycle.schedule.{where}")


def test_shorthands_are_cron_too() -> None:
    assert windows.problem(sched(("@daily", "0 19 * * *"))) is None


def test_a_window_that_never_opens_is_never_inside() -> None:
    never = sched(("0 9 31 2 *", "0 19 * * *"))
    assert not windows.inside(never, at("2027-01-15T12:00"))
    assert windows.next_open(never, at("2027-01-15T12:00")) is None
