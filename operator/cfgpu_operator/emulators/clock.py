"""Clocks that drive the emulators' state machines (wall time, or moved by hand in tests)."""

from __future__ import annotations

import time
from typing import Protocol

# 2026-01-01T00:00:00Z: a fixed start makes manual-clock timestamps reproducible.
MANUAL_EPOCH = 1_767_225_600.0


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """Time that only moves when a test says so."""

    def __init__(self, start: float = MANUAL_EPOCH) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds
