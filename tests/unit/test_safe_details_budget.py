"""How often a live SafeWorkload's details (pods, conditions) are read again: the slow poll
interval, stretched so the re-reads of all live workloads of a key stay within a quarter of
its rate limit."""

from __future__ import annotations

import pytest

from cfgpu_operator.handlers.safeworkload_sync import details_every


@pytest.mark.parametrize(
    ("live", "rate_limit", "poll_slow", "every"),
    [
        (1, 5.0, 30.0, 30.0),  # a few workloads: the slow poll interval
        (37, 5.0, 30.0, 30.0),  # 37 / 30 s = 1.23 calls/s, within 1.25 (a quarter of 5)
        (100, 5.0, 30.0, 80.0),  # 100 at 1.25 calls/s
        (1000, 5.0, 30.0, 800.0),  # 1,000 at the shipped rate limit: every 13 min
        (1000, 1000.0, 10.0, 10.0),  # a raised rate limit: the poll interval again
        (0, 5.0, 30.0, 30.0),  # nothing listed yet
    ],
)
def test_details_are_read_within_a_share_of_the_rate_limit(
    live: int, rate_limit: float, poll_slow: float, every: float
) -> None:
    assert details_every(live, rate_limit, poll_slow) == pytest.approx(every)
    assert live / details_every(live, rate_limit, poll_slow) <= rate_limit / 4
