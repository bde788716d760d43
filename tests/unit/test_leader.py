"""Who may take the leader Lease, decided from what a replica has seen of it."""

from __future__ import annotations

import pytest

from cfgpu_operator.handlers.leader import Seen, Timing, default_namespace, may_take

TIMING = Timing(lease=15)


@pytest.mark.parametrize(
    ("seen", "quiet_for", "allowed"),
    [
        (None, 0, True),  # no Lease yet: create it
        (Seen(None, "7"), 0, True),  # released by a clean shutdown
        (Seen("", "7"), 0, True),
        (Seen("me", "7"), 0, True),  # ours: renew
        (Seen("other", "7"), 14.9, False),  # another replica renews in time
        (Seen("other", "7"), 15.1, True),  # it stopped renewing: expired
    ],
)
def test_may_take(seen: Seen | None, quiet_for: float, allowed: bool) -> None:
    assert may_take(seen, "me", quiet_for, TIMING) is allowed


def test_timing_renews_well_before_expiry() -> None:
    assert TIMING.renew_deadline == 10
    assert TIMING.retry == 2
    assert TIMING.retry < TIMING.renew_deadline < TIMING.lease


def test_default_namespace_prefers_the_setting() -> None:
    assert default_namespace("ops") == "ops"
    assert default_namespace(None) == "default"  # not in a pod here
