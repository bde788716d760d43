"""When a timer run may skip: only while nothing a reconcile reads has changed."""

from __future__ import annotations

import time

import pytest

from cfgpu_operator.handlers.objects import Quiet

ROW = ("RUNNING", None)


@pytest.mark.parametrize(
    ("version", "row_now", "seconds_left", "skips"),
    [
        ("7", ROW, 60, True),  # nothing changed
        ("8", ROW, 60, False),  # the object changed (a spec edit, a status write, a label)
        ("7", ("CLOSED", None), 60, False),  # its instance changed on CFGPU
        ("7", None, 60, False),  # no poll to compare with
        ("7", ROW, -1, False),  # time for a full reconcile (a Secret, the catalog)
    ],
)
def test_quiet_holds(version: str, row_now: object, seconds_left: float, skips: bool) -> None:
    quiet = Quiet("7", lambda: row_now, ROW, time.monotonic() + seconds_left)
    assert quiet.holds(version) is skips
