"""Capacity fallbacks, table-style: after an offer had no capacity the decision moves to the
next offer at once (no Warning), and after the last waits with backoff and starts over;
status.attempts keeps the latest ten."""

from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.errors import NoCapacity
from cfgpu_operator.reconcile.fallbacks import offers
from cfgpu_operator.reconcile.gpuinstance import decide
from cfgpu_operator.reconcile.gpuinstance_view import Act, Outcome, View
from tests.unit.reconcile.gpuinstance_views import NAME, err, ready, ready_of, spec, view, warnings

FALLBACKS = [{"gpuType": "L40S"}, {"region": "cq"}]
INTENT = {"instanceName": NAME, "observedGeneration": 1}


def tried(offer: int, st: dict[str, Any] | None = None, **sp: Any) -> View:
    outcome = Outcome(error=err(NoCapacity, "51002", "GPU不足"), offer=offer)
    return view({**INTENT, **(st or {})}, sp={"fallbacks": FALLBACKS, **sp}, outcome=outcome)


def test_offers_default_to_the_spec() -> None:
    assert offers(spec(fallbacks=FALLBACKS)) == [
        ("hz", "RTX 4090"),
        ("hz", "L40S"),
        ("cq", "RTX 4090"),
    ]


ROWS = {
    "first offer empty: the next at once, no Warning": (tried(0), 1, "Creating", "soon", ()),
    "second empty: the third": (tried(1), 2, "Creating", "soon", ()),
    "last empty: wait with backoff, start over": (
        tried(2),
        0,
        "WaitingForCapacity",
        "backoff",
        ("WaitingForCapacity",),
    ),
    "a later round keeps the episode's reason (one Warning)": (
        tried(0, {"conditions": [ready("WaitingForCapacity")]}),
        1,
        "WaitingForCapacity",
        "soon",
        (),
    ),
}


@pytest.mark.parametrize(
    ("v", "candidate", "reason", "gate", "warn"), ROWS.values(), ids=ROWS.keys()
)
def test_fallback_rows(
    v: View, candidate: int, reason: str, gate: str, warn: tuple[str, ...]
) -> None:
    d = decide(v)
    assert d.act is Act.NOTHING
    assert d.status["candidate"] == candidate
    assert ready_of(d)["reason"] == reason
    assert d.gate.retry == gate
    assert tuple(warnings(d)) == warn


def test_the_messages_say_what_was_tried() -> None:
    moving = decide(tried(0))
    assert ready_of(moving)["message"] == "hz/RTX 4090 has no capacity; trying hz/L40S"
    assert moving.status["attempts"][-1]["candidate"] == "hz/RTX 4090"
    assert moving.status["attempts"][-1]["code"] == "51002"
    done = decide(tried(2))
    assert ready_of(done)["message"].startswith(
        "no capacity on any offer (hz/RTX 4090, hz/L40S, cq/RTX 4090)"
    )


def test_attempts_are_bounded() -> None:
    earlier = [{"candidate": f"hz/x{i}", "code": "51002", "message": "m"} for i in range(10)]
    d = decide(tried(0, {"attempts": earlier}))
    assert len(d.status["attempts"]) == 10
    assert d.status["attempts"][0]["candidate"] == "hz/x1"


def test_without_fallbacks_no_capacity_waits_as_before() -> None:
    outcome = Outcome(error=err(NoCapacity, "51002", "GPU不足"), offer=0)
    d = decide(view(INTENT, outcome=outcome))
    assert (d.status["candidate"], ready_of(d)["reason"], d.gate.retry) == (
        0,
        "WaitingForCapacity",
        "backoff",
    )
    assert ready_of(d)["message"] == "GPU不足"
