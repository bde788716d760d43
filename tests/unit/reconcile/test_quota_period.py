"""A GpuQuota's period and what it used: calendar starts in the quota's time zone, counting
from each GpuInstance's status.usage, restarts and deletions losing nothing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cfgpu_operator.reconcile.quota_period import Book, Used, count, forget_gone, period_start


def at(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


STARTS = {
    "Day": ("Day", "UTC", "2027-01-15T13:00", "2027-01-15T00:00"),
    "Week begins on Monday": ("Week", "UTC", "2027-01-15T13:00", "2027-01-11T00:00"),
    "Month": ("Month", "UTC", "2027-01-15T13:00", "2027-01-01T00:00"),
    "in the quota's zone": ("Day", "Asia/Shanghai", "2027-01-15T01:00", "2027-01-15T00:00"),
}


@pytest.mark.parametrize(("period", "zone", "now", "start"), STARTS.values(), ids=STARTS.keys())
def test_period_start(period: str, zone: str, now: str, start: str) -> None:
    assert period_start(period, zone, at(now, zone)) == at(start, zone)


START = at("2027-01-01T00:00")


def test_usage_begun_within_the_period_counts_in_full_and_older_from_now() -> None:
    used = {
        "new": Used(3600, 2.0, since=START + 10),
        "old": Used(7200, 4.0, since=START - 86400),
    }
    book = count(Book(), used, START)
    assert (book.gpu_seconds, book.cost) == (3600, 2.0)
    grown = {"new": Used(5400, 3.0, START + 10), "old": Used(9000, 5.0, START - 86400)}
    book = count(book, grown, START)
    assert (book.gpu_seconds, book.cost) == (3600 + 1800 + 1800, 4.0)


def test_a_new_period_starts_from_zero_and_counts_on() -> None:
    book = count(Book(), {"a": Used(3600, 1.0, START + 10)}, START)
    later = at("2027-02-01T00:00")
    book = count(book, {"a": Used(4000, 1.5, START + 10)}, later)
    assert (book.start, book.gpu_seconds, book.cost) == (later, 400, 0.5)


def test_a_deleted_instance_keeps_its_part_of_the_totals() -> None:
    book = count(Book(), {"a": Used(3600, 1.0, START + 10)}, START)
    book = forget_gone(book, [])
    assert book.counted == {}
    assert book.gpu_seconds == 3600
