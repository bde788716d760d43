"""GpuQuota through the real operator: twenty GpuInstances applied at once against eight
GPUs end with exactly eight rented, also when the operator is killed in the middle; the
rest wait (QuotaExceeded, naming the quota and the numbers) and go ahead by themselves
when room is made; `kubectl get gpuq`'s columns come from the quota's status."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cfgpu_operator.emulators.kubernetes.status import ApiStatus
from cfgpu_operator.reconcile.decision import stamp
from tests.conftest import ServedKube
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World, install_crds
from tests.integration.gpuinstance.test_kubectl_with_operator import kubectl

COUNT, LIMIT = 20, 8


def apply_quota(world: World, name: str, max_gpus: int) -> None:
    body = {"metadata": {"name": name}, "spec": {"maxGpus": max_gpus}}
    world.cluster.create(world.kind(plural="gpuquotas"), "default", body)


def quota(world: World, name: str) -> dict[str, Any]:
    found = world.cluster.store.get(world.kind(plural="gpuquotas").key, "default", name) or {}
    return dict(found.get("status") or {})


def count(world: World, *, phase: str | None = None, reason: str | None = None) -> int:
    names = [f"gpu-{i}" for i in range(COUNT)]
    if phase is not None:
        return sum(world.status(n).get("phase") == phase for n in names)
    return sum(world.ready(n).get("reason") == reason for n in names)


async def settled(world: World, stopped: int = 0) -> None:
    await eventually(lambda: count(world, phase="Running") == LIMIT, within=60, what="8 Running")
    waiting = COUNT - LIMIT - stopped
    await eventually(
        lambda: count(world, reason="QuotaExceeded") == waiting, within=30, what="the rest wait"
    )


async def test_twenty_at_once_against_eight_gpus_rent_exactly_eight(world: World) -> None:
    config = world.cfgpu.emulator.config
    config.create_seconds = config.stop_seconds = 0
    apply_quota(world, "team", LIMIT)
    await eventually(lambda: quota(world, "team").get("gpus") == f"0/{LIMIT}", what="enforced")
    for i in range(COUNT):
        world.apply(f"gpu-{i}")
    await settled(world)
    assert len(world.cfgpu.emulator.calls("instance/create")) == LIMIT
    waiting = next(
        n for n in (f"gpu-{i}" for i in range(COUNT)) if world.status(n)["phase"] == "Pending"
    )
    assert world.ready(waiting)["message"].startswith(
        f"GpuQuota team allows {LIMIT} GPUs, {LIMIT} are in use and this instance needs 1"
    )
    status = await eventually(
        lambda: quota(world, "team").get("waiting") == COUNT - LIMIT and quota(world, "team")
    )
    assert status["gpus"] == f"{LIMIT}/{LIMIT}"
    exceeded = next(c for c in status["conditions"] if c["type"] == "Exceeded")
    assert (exceeded["status"], exceeded["reason"]) == ("True", "InstancesWaiting")
    code, out = await kubectl(world, "get", "gpuq")
    assert code == 0, out
    header, row = out.splitlines()
    assert header.split() == ["NAME", "GPUS", "WAITING", "GPU-HOURS", "COST", "EXCEEDED", "AGE"]
    assert row.split()[:6] == [
        "team",
        f"{LIMIT}/{LIMIT}",
        str(COUNT - LIMIT),
        "0.00",
        "0.00",
        "True",
    ]
    # Room made: exactly one waiting object takes it, by itself.
    running = next(
        n for n in (f"gpu-{i}" for i in range(COUNT)) if world.status(n)["phase"] == "Running"
    )
    world.patch_spec(running, {"state": "Stopped"})
    await eventually(
        lambda: len(world.cfgpu.emulator.calls("instance/create")) == LIMIT + 1, within=30
    )
    await settled(world, stopped=1)
    assert world.status(running)["phase"] == "Stopped"


async def test_a_kill_in_the_middle_rents_no_more_than_the_quota(world: World) -> None:
    world.cfgpu.emulator.config.create_seconds = 0
    apply_quota(world, "team", LIMIT)
    await eventually(lambda: quota(world, "team").get("gpus") == f"0/{LIMIT}", what="enforced")
    for i in range(COUNT):
        world.apply(f"gpu-{i}")
    creates = world.cfgpu.emulator.calls
    await eventually(lambda: len(creates("instance/create")) >= 3, what="renting under way")
    await world.operator.kill()
    await world.operator.start()
    await settled(world)
    assert len(creates("instance/create")) == LIMIT
    assert len(world.instances()) == LIMIT


COSTLY = {
    # One CNY per GPU-second: three seconds of running use up a 3 CNY period.
    "CFGPU_OPERATOR_PRICES": '{"RTX 4090": {"Usage": 3600}}',
    "CFGPU_OPERATOR_USAGE_INTERVAL": "1",
}


@pytest.mark.parametrize("operator_env", [COSTLY])
async def test_a_used_up_period_stops_the_newest_first_and_denies_new_ones(world: World) -> None:
    config = world.cfgpu.emulator.config
    config.create_seconds = config.stop_seconds = 0
    body = {"maxEstimatedCost": "3", "period": "Day", "onExceeded": "StopNewest"}
    world.cluster.create(
        world.kind(plural="gpuquotas"), "default", {"metadata": {"name": "budget"}, "spec": body}
    )
    await eventually(lambda: quota(world, "budget").get("gpus") == "0/-", what="enforced")
    created = world.apply("older")["metadata"]["creationTimestamp"]
    await world.phase("older", "Running")
    # Newest by creationTimestamp, which counts whole seconds.
    await eventually(lambda: stamp(time.time()) != created, what="the next second")
    world.apply("newer")
    await world.phase("newer", "Running")
    stops = world.cfgpu.emulator.calls
    await eventually(lambda: len(stops("instance/{id}/stop")) == 2, within=30, what="both stopped")
    first, second = (c.path for c in stops("instance/{id}/stop"))
    assert world.status("newer")["instanceId"] in first  # the newest first
    assert world.status("older")["instanceId"] in second
    for name in ("older", "newer"):
        await world.phase(name, "Stopped")
        assert world.ready(name)["reason"] == "QuotaExceeded"
    await eventually(lambda: len(world.events("QuotaStop")) == 2, what="an Event for each")
    assert all(e["type"] == "Warning" for e in world.events("QuotaStop"))
    status = quota(world, "budget")
    assert float(status["estimatedCostThisPeriod"]) >= 3
    exceeded = next(c for c in status["conditions"] if c["type"] == "Exceeded")
    assert (exceeded["status"], exceeded["reason"]) == ("True", "PeriodUsedUp")
    world.apply("later")
    await eventually(lambda: world.ready("later").get("reason") == "QuotaExceeded")
    assert world.ready("later")["message"].endswith("waiting for the next period")
    assert len(stops("instance/create")) == 2  # nothing more rented


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "a GpuQuota sets maxGpus, maxGpuHours or maxEstimatedCost"),
        ({"maxEstimatedCost": "lots"}, "spec.maxEstimatedCost in body should match"),
        ({"maxGpus": 1, "onExceeded": "StopAll"}, 'spec.onExceeded: Unsupported value: "StopAll"'),
    ],
)
def test_a_quota_that_limits_nothing_or_says_nonsense_is_refused_at_apply(
    kube: ServedKube, spec: dict[str, Any], message: str
) -> None:
    install_crds(kube.emulator.cluster)
    kind = kube.emulator.cluster.registry.get("cfgpu.io", "v1alpha1", "gpuquotas")
    assert kind is not None
    with pytest.raises(ApiStatus) as refused:
        kube.emulator.cluster.create(kind, "default", {"metadata": {"name": "q"}, "spec": spec})
    assert message in str(refused.value)
