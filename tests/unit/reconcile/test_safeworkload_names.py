"""SafeWorkload ids, names and PATCH bodies, table-style."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cfgpu_operator.reconcile.safeworkload import (
    NAME_BUDGET,
    display_name,
    patch_for,
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


def test_dynamo_and_infera_stay_editable_after_dispatch() -> None:
    for kind in ("DynamoDeployment", "InferaDeployment"):
        assert patch_for(WANTED, PLATFORM, dispatched=True, kind=kind)[1] == []
