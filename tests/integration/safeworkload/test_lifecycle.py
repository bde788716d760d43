"""SafeWorkload through the real operator: submit once, observe, suspend, delete."""

from __future__ import annotations

import base64

import pytest

from cfgpu_operator.emulators.faults import FaultKind
from tests.helpers import eventually
from tests.integration.safeworkload.conftest import SafeWorld


async def test_submit_observe_succeed_and_delete(sworld: SafeWorld) -> None:
    safe = sworld.safe
    sworld.submit("train", env={"NCCL_DEBUG": "INFO"})
    workload = await sworld.only_workload()
    assert workload.id == sworld.wstatus("train")["workloadId"]
    assert workload.env["NCCL_DEBUG"] == "INFO"
    assert workload.env["CFGPU_OPERATOR_ID"]
    assert base64.b64decode(workload.entry_points[0]) == b"python train.py"
    safe.clock.advance(1)  # visible
    await sworld.wphase("train", "Pending")
    safe.clock.advance(5)  # scheduled, dispatched, running
    status = await sworld.wphase("train", "Running")
    assert status["dispatchCount"] == 1
    assert sworld.wready("train")["status"] == "True"
    safe.emulator.state.finish(workload.id, "Succeeded")
    await sworld.wphase("train", "Succeeded")
    sworld.cluster.delete(sworld.workloads_kind(), "default", "train")
    await eventually(
        lambda: sworld.cluster.store.get(sworld.workloads_kind().key, "default", "train") is None,
        what="deleted",
    )
    assert workload.deleted
    assert len(safe.emulator.calls("workloads.create")) == 1


async def test_a_lost_create_answer_is_looked_up_not_resubmitted(sworld: SafeWorld) -> None:
    safe = sworld.safe
    safe.emulator.faults.kind(FaultKind.DROP_AFTER_COMMIT, "workloads.create")
    sworld.submit("careful")
    await eventually(lambda: len(safe.emulator.state.workloads) == 1, what="committed")
    safe.clock.advance(1)
    await sworld.wphase("careful", "Pending", within=30)
    assert len(safe.emulator.calls("workloads.create")) == 1
    (workload,) = safe.emulator.state.workloads.values()
    assert workload.phase == "Pending"  # not stopped by a duplicate create


async def test_suspend_stops_and_unsuspend_resumes(sworld: SafeWorld) -> None:
    safe = sworld.safe
    sworld.submit("pausable")
    await eventually(lambda: len(safe.emulator.state.workloads) == 1)
    safe.clock.advance(6)
    await sworld.wphase("pausable", "Running")
    sworld.cluster.patch(
        sworld.workloads_kind(),
        "default",
        "pausable",
        "application/merge-patch+json",
        {"spec": {"suspend": True}},
    )
    await sworld.wphase("pausable", "Stopped")
    assert sworld.wready("pausable")["reason"] == "Suspended"
    sworld.cluster.patch(
        sworld.workloads_kind(),
        "default",
        "pausable",
        "application/merge-patch+json",
        {"spec": {"suspend": False}},
    )
    await eventually(
        lambda: safe.emulator.calls("workloads.resume"), what="resumed under the same id"
    )
    safe.clock.advance(1)  # the platform's record shows the new run
    await sworld.wphase("pausable", "Pending")
    safe.clock.advance(5)
    await sworld.wphase("pausable", "Running")
    assert [c.status for c in safe.emulator.calls("workloads.resume")] == [200]
    assert len(safe.emulator.calls("workloads.create")) == 1
    assert sworld.events("Resumed")
    assert sworld.wstatus("pausable").get("suspended") is None


async def test_a_workload_stopped_on_the_platform_stays_stopped(sworld: SafeWorld) -> None:
    safe = sworld.safe
    sworld.submit("timed-out")
    workload = await sworld.only_workload()
    safe.clock.advance(6)
    await sworld.wphase("timed-out", "Running")
    async with safe.client() as platform_user:
        await platform_user.stop_workload(workload.id)
    await sworld.wphase("timed-out", "Stopped")
    await eventually(lambda: sworld.wready("timed-out").get("reason") == "StoppedOnPlatform")
    assert safe.emulator.calls("workloads.resume") == []


async def test_waits_for_gpu_instances(sworld: SafeWorld) -> None:
    sworld.submit("bound", gpuInstanceRefs=["trainer"])
    await eventually(lambda: sworld.wready("bound").get("reason") == "GpuInstanceNotFound")
    assert "no GpuInstance named trainer" in sworld.wready("bound")["message"]
    sworld.apply("trainer")  # creating takes the emulator's 5 s: not Ready meanwhile
    await eventually(lambda: sworld.wready("bound").get("reason") == "WaitingForGpuInstances")
    assert "trainer" in sworld.wready("bound")["message"]
    assert sworld.safe.emulator.state.workloads == {}
    sworld.cfgpu.clock.advance(5)
    await eventually(
        lambda: len(sworld.safe.emulator.state.workloads) == 1,
        what="submitted once the GpuInstance is Ready",
    )


async def test_depends_on_passes_platform_dependencies(sworld: SafeWorld) -> None:
    state = sworld.safe.emulator.state
    sworld.submit("second", dependsOn=["first"])
    await eventually(lambda: sworld.wready("second").get("reason") == "WaitingForDependencies")
    sworld.submit("first")
    await eventually(lambda: len(state.workloads) == 2, what="both submitted")
    first_id = sworld.wstatus("first")["workloadId"]
    second = state.workloads[sworld.wstatus("second")["workloadId"]]
    assert second.dependencies == [first_id]


async def test_updates_are_patched_and_refused_after_dispatch(sworld: SafeWorld) -> None:
    safe = sworld.safe
    sworld.submit("tuned")
    workload = await sworld.only_workload()
    safe.clock.advance(1)
    await sworld.wphase("tuned", "Pending")
    patch = "application/merge-patch+json"
    kind = sworld.workloads_kind()
    sworld.cluster.patch(kind, "default", "tuned", patch, {"spec": {"priority": 1}})
    await eventually(lambda: workload.priority == 1, what="priority patched")
    safe.clock.advance(5)
    await sworld.wphase("tuned", "Running")
    sworld.cluster.patch(kind, "default", "tuned", patch, {"spec": {"images": ["other:2"]}})
    await eventually(lambda: sworld.wready("tuned").get("reason") == "ImmutableAfterDispatch")
    assert "images" in sworld.wready("tuned")["message"]
    assert workload.images == ["registry/ai/pytorch:2.4"]


async def test_status_mirrors_conditions_pods_and_nodes(sworld: SafeWorld) -> None:
    safe = sworld.safe
    sworld.submit("mirror", resources=[{"replica": 2, "cpu": "16", "gpu": "8", "memory": "256Gi"}])
    await eventually(lambda: len(safe.emulator.state.workloads) == 1)
    safe.clock.advance(6)
    status = await sworld.wphase("mirror", "Running")
    await eventually(
        lambda: sworld.wstatus("mirror").get("pods") == {"total": 2, "running": 2},
        what="pods mirrored",
    )
    status = sworld.wstatus("mirror")
    types = [c["type"] for c in status["platformConditions"]]
    assert types == ["AdminScheduled", "AdminDispatched", "K8sRunning"]
    assert len(status["nodes"]) == 2
    assert status["startTime"]


async def test_the_id_and_submit_time_are_stored_on_the_way_to_the_submit(
    sworld: SafeWorld,
) -> None:
    """Both records are stored before the POST, in the handler run that sends it: no
    requeue per record (each cost Kopf a write, a wait and a re-read of the object)."""
    safe = sworld.safe
    sworld.submit("quick")
    workload = await sworld.only_workload()
    stored = sworld.wstatus("quick")
    assert stored["workloadId"] == workload.id
    assert stored["submittedAt"]
    safe.clock.advance(6)
    await sworld.wphase("quick", "Running")
    assert "will run again" not in sworld.operator.log()
    assert len(safe.emulator.calls("workloads.create")) == 1


async def test_a_running_workload_costs_no_status_writes(sworld: SafeWorld) -> None:
    """Its duration changes every second on the platform: stored only once it is final, or
    every object would write its status on every periodic run."""
    safe = sworld.safe
    sworld.submit("steady")
    workload = await sworld.only_workload()
    safe.clock.advance(6)
    await sworld.wphase("steady", "Running")
    assert "duration" not in sworld.wstatus("steady")  # startTime says since when
    kube = sworld.kube.emulator
    written = len([r for r in kube.requests if r.subresource == "status"])
    for _ in range(3):
        await _advance_to_next_details_read(sworld, 7)  # its duration moves on meanwhile
    assert len([r for r in kube.requests if r.subresource == "status"]) == written
    safe.emulator.state.finish(workload.id, "Succeeded")
    await eventually(lambda: sworld.wstatus("steady").get("duration") is not None)
    assert sworld.wstatus("steady")["phase"] == "Succeeded"


async def test_a_deletion_does_not_wait_for_a_periodic_run_under_way(sworld: SafeWorld) -> None:
    """Kopf runs the deletion handler only once the object's periodic loop has ended: the
    loop ends when told, after the run under way, and Kopf waits for it (it slept two
    minutes before it looked again)."""
    safe = sworld.safe
    sworld.submit("busy")
    await sworld.only_workload()
    safe.clock.advance(6)
    await sworld.wphase("busy", "Running")
    safe.emulator.faults.latency("workloads.get", 1.0, times=1000)  # each run reads slowly
    await eventually(lambda: safe.emulator.in_flight["workloads.get"] > 0, what="a run under way")
    sworld.cluster.delete(sworld.workloads_kind(), "default", "busy")
    await eventually(
        lambda: sworld.cluster.store.get(sworld.workloads_kind().key, "default", "busy") is None,
        within=30,
        what="deleted",
    )
    assert all(w.deleted for w in safe.emulator.state.workloads.values())


async def _advance_to_next_details_read(sworld: SafeWorld, seconds: float) -> None:
    """Move the platform's clock on, and wait for the operator to read a workload's details
    (a full reconcile on what the platform shows now)."""
    calls = sworld.safe.emulator.calls
    before = len(calls("workloads.get"))
    sworld.safe.clock.advance(seconds)
    await eventually(lambda: len(calls("workloads.get")) > before, what="a details read")


@pytest.mark.parametrize(("action", "check"), [("Stop", "stopped"), ("Release", "released")])
async def test_on_complete_hands_over_gpu_instances_once(
    sworld: SafeWorld, action: str, check: str
) -> None:
    config = sworld.cfgpu.emulator.config
    config.create_seconds = config.stop_seconds = config.release_seconds = 0
    sworld.apply("box")
    await sworld.phase("box", "Running")
    sworld.submit("job", gpuInstanceRefs=["box"], onComplete={"gpuInstances": action})
    safe = sworld.safe
    workload = await sworld.only_workload()
    safe.clock.advance(6)
    await sworld.wphase("job", "Running")
    safe.emulator.state.finish(workload.id, "Succeeded")
    await sworld.wphase("job", "Succeeded")
    if check == "stopped":
        await eventually(
            lambda: (sworld.get("box") or {}).get("spec", {}).get("state") == "Stopped",
            what="GpuInstance told to stop",
        )
    else:
        await eventually(lambda: sworld.get("box") is None, what="GpuInstance deleted")
    await eventually(lambda: sworld.wstatus("job").get("gpuInstancesApplied") is True)
    await eventually(lambda: sworld.events(f"GpuInstances{action}"), what="Event (async)")
    assert len(sworld.events(f"GpuInstances{action}")) == 1
