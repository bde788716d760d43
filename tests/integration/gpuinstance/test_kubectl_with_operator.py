"""What a newcomer types after `demo --keep`, with the pinned kubectl 1.35 against the real
operator: apply a sample, wait for Ready, describe it with its Events, diff, delete it (the
finalizer holds it until the instance is released)."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from pathlib import Path
from typing import Any

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
    code, out = await kubectl(world, "get", "gpui", "trainer", "-o", "wide")
    header, row = out.splitlines()[:2]
    assert header.split()[-1] == "NEXT"
    assert row.endswith("(stopAfter)")  # the sample's lifecycle, announced
    assert f"Stop at {world.status('trainer')['lifecycle']['nextActionTime']}" in row
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


def _noticeable(obj: dict[str, Any]) -> dict[str, Any]:
    """What a person could see change in an object: not its version, not Kopf's records."""
    meta = {
        k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "managedFields")
    }
    status = {k: v for k, v in (obj.get("status") or {}).items() if k != "kopf"}
    return {**obj, "metadata": meta, "status": status}


async def test_get_watch_prints_each_change_of_a_deletion_once(world: World) -> None:
    """`kubectl get -w` prints a line per write: every write the operator makes while it
    stops and releases must change something a person can see (Kopf's retry records and
    wake-up writes printed each deletion step three times)."""
    code, out = await kubectl(world, "apply", "-f", str(SAMPLE))
    assert code == 0, out
    await eventually(lambda: world.status("trainer").get("cfgpuStatus") == "CREATING")
    world.cfgpu.clock.advance(5)
    await eventually(lambda: world.ready("trainer").get("status") == "True")
    watch = await asyncio.create_subprocess_exec(
        kube_tools().kubectl,
        # as listed, then every change from that version on
        *("get", "gpui", "trainer", "-w", "--output-watch-events", "-o", "json"),
        stdout=asyncio.subprocess.PIPE,
        env=tool_env(world.kube.kubeconfig),
    )
    printed = bytearray()

    async def read() -> None:
        assert watch.stdout is not None
        while chunk := await watch.stdout.read(65536):
            printed.extend(chunk)

    reader = asyncio.ensure_future(read())
    try:
        world.delete("trainer")
        await eventually(lambda: world.status("trainer").get("cfgpuStatus") == "STOPPING")
        world.cfgpu.clock.advance(30)  # stopped
        await eventually(lambda: world.status("trainer").get("cfgpuStatus") == "RELEASING")
        world.cfgpu.clock.advance(30)  # released
        await eventually(
            lambda: [e for e in _events(printed) if e["type"] == "DELETED"],
            within=60,
            what="kubectl printing the deletion",
        )
    finally:
        watch.terminate()
        await watch.wait()
        reader.cancel()
    seen = [e["object"] for e in _events(printed)]
    steps = [_noticeable(o) for o in seen]
    repeats = [b["status"] for a, b in itertools.pairwise(steps) if a == b]
    assert not repeats, f"writes that changed nothing a person sees: {repeats}"
    phases = [o.get("status", {}).get("phase") for o in seen]
    assert "Stopping" in phases
    assert "Releasing" in phases
    # The finalizer went on the first try: no patch refused for an outdated resourceVersion.
    patches = world.kube.emulator.calls("patch", "gpuinstances")
    assert [p.status for p in patches if p.status >= 400] == []


def _events(printed: bytes | bytearray) -> list[dict[str, Any]]:
    """The watch events printed so far, without one still being written."""
    text, decoder, events, at = bytes(printed).decode(), json.JSONDecoder(), [], 0
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        try:
            found, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            break
        events.append(found)
    return events
