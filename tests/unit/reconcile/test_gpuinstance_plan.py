"""The GpuInstance decision, table-style: (wanted, known, seen) -> the next step."""

from __future__ import annotations

import pytest

from cfgpu_operator.models.gpuinstance import Phase
from cfgpu_operator.reconcile.gpuinstance import Known, Seen, Wanted, plan

RUN = Wanted("Running", "image_a", None, True)
STOP = Wanted("Stopped", "image_a", None, True)
OBSERVE = Wanted("Running", "image_a", None, False, "ObserveOnly")
PAUSED = Wanted("Running", "image_a", None, False, "Paused")
ADOPT = Wanted("Running", "image_a", "instance-x", True)
NEW = Known(None, None)
INTENT = Known(None, "k8s-ns-n-12345678")
HAS = Known("instance-1", "k8s-ns-n-12345678")


@pytest.mark.parametrize(
    ("wanted", "known", "seen", "kind", "phase", "ready"),
    [
        # before any instance exists
        (RUN, NEW, None, "record-intent", Phase.CREATING, False),
        (RUN, INTENT, None, "create", Phase.CREATING, False),
        (ADOPT, NEW, None, "adopt", Phase.PENDING, False),
        (OBSERVE, NEW, None, "hold", Phase.PENDING, False),
        (PAUSED, INTENT, None, "hold", Phase.PENDING, False),
        # observing
        (RUN, HAS, None, "confirm", Phase.PENDING, False),
        (RUN, HAS, Seen("RELEASED"), "lost", Phase.LOST, False),
        (OBSERVE, HAS, Seen("RELEASED"), "lost", Phase.LOST, False),
        (RUN, HAS, Seen("ERROR", "image_a"), "failed", Phase.FAILED, False),
        # transient states mean "observe again"
        (RUN, HAS, Seen("CREATING"), "wait", Phase.CREATING, False),
        (RUN, HAS, Seen("STARTING", "image_a"), "wait", Phase.STARTING, False),
        (STOP, HAS, Seen("STOPPING", "image_a"), "wait", Phase.STOPPING, False),
        (RUN, HAS, Seen("RELEASING", "image_a"), "wait", Phase.RELEASING, False),
        # power state
        (RUN, HAS, Seen("RUNNING", "image_a"), "in-sync", Phase.RUNNING, True),
        (STOP, HAS, Seen("CLOSED", "image_a"), "in-sync", Phase.STOPPED, True),
        (RUN, HAS, Seen("CLOSED", "image_a"), "start", Phase.STARTING, False),
        (STOP, HAS, Seen("RUNNING", "image_a"), "stop", Phase.STOPPING, False),
        # re-image: stop, change, then the power state again
        (RUN, HAS, Seen("RUNNING", "image_old"), "stop", Phase.REIMAGING, False),
        (RUN, HAS, Seen("CLOSED", "image_old"), "change-image", Phase.REIMAGING, False),
        (STOP, HAS, Seen("CLOSED", "image_old"), "change-image", Phase.REIMAGING, False),
        (RUN, HAS, Seen("RUNNING", None), "in-sync", Phase.RUNNING, True),  # image unknown yet
        # drift is only reported when not managing
        (OBSERVE, HAS, Seen("CLOSED", "image_a"), "hold", Phase.STOPPED, False),
        (PAUSED, HAS, Seen("RUNNING", "image_old"), "in-sync", Phase.RUNNING, True),
        (OBSERVE, HAS, Seen("RUNNING", "image_a"), "in-sync", Phase.RUNNING, True),
    ],
)
def test_plan(
    wanted: Wanted, known: Known, seen: Seen | None, kind: str, phase: Phase, ready: bool
) -> None:
    step = plan(wanted, known, seen)
    assert (step.kind, step.phase, step.ready) == (kind, phase, ready)
    assert step.reason


def test_change_image_carries_the_wanted_image() -> None:
    assert plan(RUN, HAS, Seen("CLOSED", "image_old")).image_id == "image_a"


def test_hold_says_why_and_what_differs() -> None:
    step = plan(PAUSED, HAS, Seen("CLOSED", "image_a"))
    assert step.reason == "Paused"
    assert "CLOSED" in step.message
    assert "Running" in step.message
