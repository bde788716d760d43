"""Clocks that drive the emulators' state machines (wall time, or moved by hand in tests)."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """Time that only moves when a test says so. It starts at the real time, so what the
    operator compares with its own clock (a prepaid instance's expireTime ahead or behind)
    reads as it would against the real API."""

    def __init__(self, start: float | None = None) -> None:
        self._now = float(int(time.time())) if start is None else start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds
