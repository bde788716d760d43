"""What a newcomer types after `demo --keep`, with the pinned kubectl 1.35 against the real
operator: apply a sample, wait for Ready, describe it with its Events, diff, delete it (the
finalizer holds it until the instance is released)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World
from tests.kubetools import kube_tools, run_tool, tool_env

SAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "samples" / "gpuinstance-trainer.yaml"


async def kubectl(world: World, *args: str) -> tuple[int, str]:
    env = tool_env(world.kube.kubeconfig)
    return await run_tool(kube_tools().kubectl, *args, env=env, within=90)


async def test_a_sample_applied_waited_for_described_and_deleted(world: World) -> None:
    config = world.cfgpu.emulator.config
    config.stop_seconds = config.release_seconds = 0
    code, out = await kubectl(world, "apply", "-f", str(SAMPLE))
    assert code == 0, out
    waiting = asyncio.ensure_future(
        kubectl(world, "wait", "--for=condition=Ready", "gpui/trainer", "--timeout=60s")
    )
    await eventually(lambda: world.status("trainer").get("cfgpuStatus") == "CREATING")
    world.cfgpu.clock.advance(5)  # CFGPU finishes creating
    code, out = await waiting
    assert code == 0, out
    assert "condition met" in out
    code, out = await kubectl(world, "get", "gpui", "trainer")
    _, row = out.splitlines()[:2]
    assert "1x RTX 4090" in row  # the GPU column: what was rented, not the spec's text
    ready = world.ready("trainer")
    assert ready["message"] == f"instance {world.status('trainer')['instanceId']} is RUNNING"

    (created,) = await eventually(
        lambda: world.events("InstanceCreated"), what="the InstanceCreated Event"
    )
    assert created["source"]["component"] == "cfgpu-operator"  # not Kopf's "kopf"
    assert created["reportingComponent"] == "cfgpu-operator"
    assert created["reportingInstance"] == socket.gethostname()  # the pod, in a cluster
    assert created["metadata"]["name"].startswith("cfgpu-operator-")
    code, out = await kubectl(world, "describe", "gpui", "trainer")
    assert code == 0, out
    assert "InstanceCreated" in out.split("Events:", 1)[1]
    code, out = await kubectl(world, "events", "--for", "gpui/trainer")
    assert code == 0, out
    assert "InstanceCreated" in out

    code, out = await kubectl(world, "diff", "-f", str(SAMPLE))
    assert (code, out) == (0, "")  # nothing drifted, and the diff changed nothing
    code, out = await kubectl(world, "delete", "gpui", "trainer", "--timeout=60s")
    assert code == 0, out
    assert world.get("trainer") is None  # kubectl returned once the object was gone
    assert len(world.cfgpu.emulator.calls("instance/{id}/release")) == 1
