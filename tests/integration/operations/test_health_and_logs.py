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


async def test_a_clean_run_logs_nothing_at_warning_or_above(pod: PodWorld) -> None:
    """Both kinds created, running and deleted with nothing wrong anywhere: every line is
    routine (INFO or DEBUG), waits of a deletion included; on-call staff read WARNING and
    ERROR as something to look at."""
    pod.apply("trainer")
    pod.submit("train")
    await eventually(lambda: pod.status("trainer").get("cfgpuStatus") == "CREATING")
    pod.cfgpu.clock.advance(5)
    await pod.phase("trainer", "Running")
    await eventually(lambda: pod.safe.emulator.calls("workloads.create"), what="submitted")
    pod.safe.clock.advance(6)
    await pod.wphase("train", "Running")
    pod.delete("trainer")
    pod.cluster.delete(pod.workloads_kind(), "default", "train")
    await eventually(lambda: pod.status("trainer").get("cfgpuStatus") == "STOPPING")
    pod.cfgpu.clock.advance(30)
    await eventually(lambda: pod.status("trainer").get("cfgpuStatus") == "RELEASING")
    pod.cfgpu.clock.advance(30)
    await eventually(lambda: pod.get("trainer") is None, within=60, what="trainer gone")
    await eventually(lambda: not pod.get_workload("train"), within=60, what="train gone")
    await pod.operator.stop()
    lines = [json.loads(line) for line in pod.operator.log().splitlines() if line.strip()]
    loud = [line for line in lines if line["level"] in ("WARNING", "ERROR", "CRITICAL")]
    assert not loud, loud
    assert any("deletion goes on in" in line["message"] for line in lines)  # waited in place
