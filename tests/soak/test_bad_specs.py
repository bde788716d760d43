"""Property-based bad specs of both kinds (hypothesis): each is refused at apply with the
field named, or accepted and reported in a condition with a clear reason; never a create or a
submit, never a crash, never a hot loop. One operator run per trial takes every example."""

from __future__ import annotations

import copy
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from cfgpu_operator.emulators.kubernetes.status import ApiStatus
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World
from tests.integration.safeworkload.conftest import SafeWorld

pytestmark = pytest.mark.soak

EXAMPLES = 25
VALID: dict[str, Any] = {
    "region": "hz",
    "gpuType": "RTX 4090",
    "image": {"system": "Tensorflow/2.15.0/3.11(ubuntu20.04)/12.2"},
}
WORD = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
NOT_AN_INT = st.one_of(
    WORD, st.booleans(), st.floats(allow_nan=False).filter(lambda f: f != int(f))
)


def enum_but(*allowed: str) -> st.SearchStrategy[Any]:
    return st.one_of(WORD.filter(lambda w: w not in allowed), st.integers(), st.booleans())


# (field path under spec, strategy of values that are wrong there)
MUTATIONS: list[tuple[tuple[str, ...], st.SearchStrategy[Any]]] = [
    (("gpuCount",), st.one_of(st.integers(max_value=0), st.integers(min_value=9), NOT_AN_INT)),
    (("region",), WORD.map(lambda w: f"nowhere-{w}")),
    (("gpuType",), WORD.map(lambda w: f"no-such-gpu-{w}")),
    (
        ("image",),
        st.one_of(
            st.just({}),
            WORD.map(lambda w: {"system": f"No/Such/{w}"}),
            WORD.map(lambda w: {"id": f"image_{w}zz"}),
            WORD.map(lambda w: {"private": f"missing-{w}"}),
            WORD.map(lambda w: {"system": w, "id": f"image_{w}"}),
        ),
    ),
    (("adaptType",), enum_but("CONTAINER", "VM")),
    (("billing", "priceType"), enum_but("Usage", "Day", "Week", "Month")),
    (("billing", "serviceTime"), st.one_of(st.integers(max_value=0), NOT_AN_INT)),
    (("disks", "systemExpandGB"), st.one_of(st.integers(max_value=-1), NOT_AN_INT)),
    (("disks", "dataExpandGB"), st.one_of(st.integers(max_value=-1), NOT_AN_INT)),
    (("state",), enum_but("Running", "Stopped")),
    (("deletionPolicy",), enum_but("Release", "Orphan")),
    (("managementPolicy",), enum_but("Manage", "ObserveOnly")),
]


SAFE_VALID: dict[str, Any] = {
    "workspaceId": "ws-train",
    "resources": [{"replica": 1, "cpu": "16", "gpu": "8", "memory": "256Gi"}],
    "images": ["registry/ai/pytorch:2.4"],
    "entryPoints": ["python train.py"],
}
KINDS = ("PyTorchJob", "Deployment", "StatefulSet", "Authoring", "TorchFT", "RayJob")
SAFE_MUTATIONS: list[tuple[tuple[str, ...], st.SearchStrategy[Any]]] = [
    (("workspaceId",), WORD.map(lambda w: f"no-such-workspace-{w}")),
    (("kind",), st.one_of(enum_but(*KINDS), st.just("RayJob"))),  # RayJob: a scope ws-train lacks
    (
        ("resources",),
        st.one_of(
            st.just([]),
            st.integers(max_value=0).map(lambda r: [{"replica": r, "cpu": "1", "memory": "1Gi"}]),
            st.just([{"replica": 1, "cpu": "", "memory": "1Gi"}]),
            st.just([{"replica": 1, "gpu": "1"}]),
        ),
    ),
    (("priority",), st.one_of(st.integers(max_value=-1), st.integers(min_value=3), NOT_AN_INT)),
    (("timeout",), st.one_of(st.integers(max_value=-1), NOT_AN_INT)),
    (("maxRetry",), st.one_of(st.integers(max_value=-1), st.integers(min_value=51))),
    (("ttlSecondsAfterFinished",), st.integers(max_value=-1)),
    (("nodesAffinity",), enum_but("required", "preferred")),
    (("deletionPolicy",), enum_but("Delete", "Orphan")),
]
# What an accepted bad SafeWorkload may say: the operator finds it before submitting.
SAFE_REASONS = {"WorkspaceNotFound", "ScopeNotAllowed", "InvalidSpec"}


@st.composite
def bad_spec(
    draw: st.DrawFn,
    mutations: list[tuple[tuple[str, ...], st.SearchStrategy[Any]]] = MUTATIONS,
    valid: dict[str, Any] = VALID,
) -> tuple[str, dict[str, Any]]:
    path, values = draw(st.sampled_from(mutations))
    spec = copy.deepcopy(valid)
    at = spec
    for key in path[:-1]:
        at = at.setdefault(key, {})
    at[path[-1]] = draw(values)
    return "spec." + ".".join(path), spec


def examples(
    trial: int, strategy: st.SearchStrategy[tuple[str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []

    @seed(trial)
    @settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: tuple[str, dict[str, Any]]) -> None:
        found.append(example)

    collect()
    return found


async def test_bad_specs_are_refused_or_reported_never_rented(world: World, trial: int) -> None:
    accepted = apply_all(world, world.kind(), examples(trial, bad_spec()))
    await eventually(
        lambda: all(world.ready(name).get("reason") == "InvalidSpec" for name in accepted),
        within=60,
        what=f"every accepted bad spec reported: {accepted}",
    )
    for name, field in accepted.items():
        assert world.ready(name)["status"] == "False"
        assert world.ready(name).get("message"), f"{name} ({field}): no message"
    calls = world.cfgpu.emulator.calls
    assert not calls("instance/create"), "a bad spec was rented"
    before, writes = len(calls()), status_writes(world, accepted)
    await world.polls_ended(before, count=3)  # several reconcile intervals go by
    acting = [c.endpoint for c in calls()[before:] if c.endpoint not in POLLS]
    assert not acting, f"calls while nothing can change: {acting}"
    assert status_writes(world, accepted) == writes, "status rewritten: a hot loop"


async def test_bad_safe_workloads_are_refused_or_reported_never_submitted(
    sworld: SafeWorld, trial: int
) -> None:
    bad = examples(trial, bad_spec(SAFE_MUTATIONS, SAFE_VALID))
    accepted = apply_all(sworld, sworld.workloads_kind(), bad)
    await eventually(
        lambda: all(sworld.wready(name).get("reason") in SAFE_REASONS for name in accepted),
        within=60,
        what=f"every accepted bad spec reported: {accepted}",
    )
    for name, field in accepted.items():
        assert sworld.wready(name)["status"] == "False"
        assert sworld.wready(name).get("message"), f"{name} ({field}): no message"
    platform = sworld.safe.emulator
    assert not platform.state.workloads, "a bad spec was submitted"
    assert not [c for c in platform.calls() if c.method != "GET"], "a bad spec was sent"


POLLS = {"instance/status", "instance/page"}


def apply_all(
    world: World, kind: ResourceType, bad: list[tuple[str, dict[str, Any]]]
) -> dict[str, str]:
    """Apply each (field, spec); a refusal must name the field. The accepted ones, by object
    name, with the field made wrong."""
    accepted: dict[str, str] = {}
    for n, (field, spec) in enumerate(bad):
        name = f"bad-{n:02d}"
        refused = apply(world, kind, name, spec)
        if refused is None:
            accepted[name] = field
            continue
        assert refused.code == 422, refused.message
        assert field in refused.message, f"{field} not named: {refused.message}"
    return accepted


def apply(world: World, kind: ResourceType, name: str, spec: dict[str, Any]) -> ApiStatus | None:
    """None when the API server stored the object, else its refusal."""
    try:
        world.cluster.create(kind, "default", {"metadata": {"name": name}, "spec": spec})
    except ApiStatus as refused:
        return refused
    return None


def status_writes(world: World, names: dict[str, str]) -> int:
    return sum(
        1
        for r in list(world.kube.emulator.requests)
        if r.verb == "patch" and r.subresource == "status" and r.name in names
    )
