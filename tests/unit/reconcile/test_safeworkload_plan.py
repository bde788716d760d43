"""SafeWorkload decisions, table-style."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cfgpu_operator.models.safeworkload import Phase
from cfgpu_operator.reconcile.safeworkload import (
    NAME_BUDGET,
    Inputs,
    Seen,
    display_name,
    patch_for,
    plan,
    workload_id,
)

UID = "5f0c3a1e-8b2d-4c6e-9f1a-2b3c4d5e6f70"


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [("ml", "trainer", "swl-ml-trainer-5f0c3a1e"), ("ML", "a_b.c", "swl-ml-a-b-c-5f0c3a1e")],
)
def test_workload_ids(namespace: str, name: str, expected: str) -> None:
    assert workload_id(namespace, name, UID) == expected


def test_long_workload_ids_stay_valid_and_distinct() -> None:
    one, two = workload_id("n" * 60, "x" * 200, UID), workload_id("n" * 60, "x" * 199 + "y", UID)
    for wid in (one, two):
        assert len(wid) <= 50
        assert re.fullmatch(r"[a-z][-a-z0-9]*[a-z0-9]", wid)
    assert one != two


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("trainer", "PyTorchJob", "trainer"),
        ("9lives", "PyTorchJob", "w-9lives"),
        ("My.Job_1", "RayJob", "my-job-1"),
        ("a", "PyTorchJob", "a0"),
    ],
)
def test_display_names(name: str, kind: str, expected: str) -> None:
    assert display_name(name, kind) == expected


@pytest.mark.parametrize("kind", sorted(NAME_BUDGET))
def test_display_names_fit_every_kinds_rule(kind: str) -> None:
    name = display_name("x" * 100 + "-", kind)
    assert re.fullmatch(rf"[a-z][-a-z0-9]{{0,{NAME_BUDGET[kind]}}}[a-z0-9]", name)


NEW = Inputs(workload_id=None, seen=None, suspend=False)
HAS = Inputs(workload_id="swl-a", seen=Seen("Running", 1), suspend=False)


def with_(base: Inputs, **changes: Any) -> Inputs:
    return Inputs(**{**base.__dict__, **changes})


@pytest.mark.parametrize(
    ("inputs", "kind", "phase", "ready", "reason"),
    [
        (NEW, "submit", Phase.SUBMITTING, False, "Submitting"),
        (with_(NEW, suspend=True), "hold", Phase.WAITING, False, "Suspended"),
        (
            with_(NEW, gpu_not_ready=("trainer",)),
            "wait",
            Phase.WAITING,
            False,
            "WaitingForGpuInstances",
        ),
        (
            with_(NEW, deps_without_id=("prep",)),
            "wait",
            Phase.WAITING,
            False,
            "WaitingForDependencies",
        ),
        (with_(HAS, seen=None), "lookup", Phase.SUBMITTING, False, "Submitting"),
        (HAS, "observe", Phase.RUNNING, True, "Running"),
        (with_(HAS, seen=Seen("Pending")), "observe", Phase.PENDING, False, "Pending"),
        (with_(HAS, seen=Seen("NotReady", 1)), "observe", Phase.NOT_READY, False, "NotReady"),
        (with_(HAS, suspend=True), "stop", Phase.RUNNING, False, "Suspending"),
        (with_(HAS, patch={"priority": 1}), "patch", Phase.RUNNING, False, "Updating"),
        (with_(HAS, seen=Seen("Succeeded", 1)), "ended", Phase.SUCCEEDED, True, "Succeeded"),
        (with_(HAS, seen=Seen("Failed", 2)), "ended", Phase.FAILED, False, "WorkloadFailed"),
        (
            with_(HAS, seen=Seen("Stopped", 1), suspend=True),
            "ended",
            Phase.STOPPED,
            False,
            "Suspended",
        ),
        (with_(HAS, seen=Seen("Stopped", 1)), "ended", Phase.STOPPED, False, "CannotResume"),
    ],
)
def test_plan(inputs: Inputs, kind: str, phase: Phase, ready: bool, reason: str) -> None:
    step = plan(inputs)
    assert (step.kind, step.phase, step.ready, step.reason) == (kind, phase, ready, reason)


def test_waiting_names_what_it_waits_for() -> None:
    step = plan(with_(NEW, gpu_not_ready=("a", "b")))
    assert step.message.endswith("a, b")


WANTED = {"priority": 1, "description": "d", "images": ["img:2"], "env": {"A": "1"}}
PLATFORM = {"priority": 0, "description": "d", "images": ["img:1"], "env": {"A": "1"}}


@pytest.mark.parametrize(
    ("dispatched", "kind", "body", "frozen"),
    [
        (False, "PyTorchJob", {"priority": 1, "images": ["img:2"]}, []),
        (True, "PyTorchJob", {"priority": 1}, ["images"]),
        (True, "Deployment", {"priority": 1, "images": ["img:2"]}, []),
    ],
)
def test_patch_for(dispatched: bool, kind: str, body: dict[str, Any], frozen: list[str]) -> None:
    assert patch_for(WANTED, PLATFORM, dispatched=dispatched, kind=kind) == (body, frozen)
