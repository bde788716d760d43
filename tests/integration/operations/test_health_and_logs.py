"""The liveness endpoint and the JSON log lines of a running operator."""

from __future__ import annotations

import json

import httpx

from tests.conftest import SAFE_KEY, TOKEN
from tests.helpers import eventually, eventually_async
from tests.integration.operations.conftest import PodWorld, reachable


async def test_liveness_reports_the_pollers(pod: PodWorld) -> None:
    pod.apply("trainer")  # starts the account's poller
    await eventually(lambda: pod.status("trainer").get("cfgpuStatus"), what="first poll")
    await eventually_async(lambda: reachable(pod.endpoints.liveness), what="probe endpoint")
    async with httpx.AsyncClient() as client:
        answer = await client.get(pod.endpoints.liveness, timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"pollers": "ok"}


async def test_json_lines_name_the_object_and_never_the_token(pod: PodWorld) -> None:
    pod.apply("trainer")
    await eventually(lambda: pod.status("trainer").get("cfgpuStatus"), what="created")
    pod.cfgpu.clock.advance(5)
    await pod.phase("trainer", "Running")
    await pod.operator.stop()
    text = pod.operator.log()
    assert TOKEN not in text
    assert SAFE_KEY not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)

    about = [line for line in lines if line.get("name") == "trainer"]
    assert {line["namespace"] for line in about} == {"default"}
    assert {line["kind"] for line in about} == {"GpuInstance"}
    # Kopf's own per-object lines and our client's lines inside a handler are both tagged...
    assert any(line["logger"] == "kopf.objects" for line in about)
    creates = [line for line in lines if "instance/create" in line["message"]]
    assert creates
    assert all(line.get("name") == "trainer" for line in creates)
    # ...but the shared poller's lines are about no single object.
    polls = [line for line in lines if "instance/status" in line["message"]]
    assert polls
    assert not any("name" in line for line in polls)
