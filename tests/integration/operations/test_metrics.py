"""/metrics scraped while the operator runs both kinds against the emulators."""

from __future__ import annotations

import time

from tests.conftest import SAFE_KEY, TOKEN
from tests.helpers import eventually, eventually_async
from tests.integration.operations.conftest import PodWorld, Series, scrape, value

P = "cfgpu_operator_"


async def test_metrics_show_calls_objects_readiness_and_errors(pod: PodWorld) -> None:
    started = time.time()
    pod.cfgpu.emulator.faults.http("instance/status", 503, times=1)
    pod.apply("trainer")
    pod.apply("typo", gpuType="RTX 9999")
    pod.submit("train")
    await eventually(lambda: pod.status("trainer").get("cfgpuStatus") == "CREATING")
    pod.cfgpu.clock.advance(5)
    await pod.phase("trainer", "Running")
    await eventually(lambda: pod.ready("typo").get("reason") == "InvalidSpec")
    await eventually(lambda: pod.safe.emulator.calls("workloads.create"), what="submitted")

    safe_ok = {"api": "primus-safe", "endpoint": "workloads.create", "outcome": "ok"}

    async def settled() -> Series | None:
        series = await scrape(pod.endpoints.metrics)
        ready = value(series, P + "time_to_ready_seconds_count", kind="GpuInstance")
        running = value(series, P + "objects", kind="GpuInstance", phase="Running")
        submitted = value(series, P + "api_requests_total", **safe_ok)
        return series if ready == running == submitted == 1 else None

    series = await eventually_async(settled, what="Ready and Running in the metrics")
    assert series is not None
    elapsed = time.time() - started

    ok = {"api": "cfgpu", "endpoint": "instance/create", "outcome": "ok"}
    assert value(series, P + "api_requests_total", **ok) == 1
    failed = {"api": "cfgpu", "endpoint": "instance/status", "outcome": "unavailable"}
    assert value(series, P + "api_requests_total", **failed) == 1
    assert value(series, P + "api_retries_total", api="cfgpu", endpoint="instance/status") == 1
    assert value(series, P + "api_requests_total", **safe_ok) == 1

    status = {"api": "cfgpu", "endpoint": "instance/status"}
    calls = value(series, P + "api_request_duration_seconds_count", **status) or 0
    latency = value(series, P + "api_request_duration_seconds_sum", **status) or 0
    assert calls >= 2
    assert 0 < latency / calls < 2  # loopback calls, under the 2 s test timeout
    sent = sum(
        v
        for (name, labels), v in series.items()
        if name == P + "api_requests_total" and ("api", "cfgpu") in labels
    )
    waits = value(series, P + "rate_limit_wait_seconds_count", api="cfgpu") or 0
    assert waits >= sent  # every request passed the limiter (retries included)

    to_ready = value(series, P + "time_to_ready_seconds_sum", kind="GpuInstance") or 0
    # Measured from creationTimestamp, which has whole seconds: up to 1 s before the apply.
    assert 0 < to_ready <= elapsed + 1
    longest = value(series, P + "not_ready_max_seconds", kind="GpuInstance")
    assert longest is not None
    assert 0 < longest <= time.time() - started + 1  # the typo, never Ready
    errors = {"kind": "GpuInstance", "reason": "InvalidSpec"}
    assert (value(series, P + "reconcile_errors_total", **errors) or 0) >= 1
    workloads = {
        dict(labels)["phase"]: v
        for (name, labels), v in series.items()
        if name == P + "objects" and ("kind", "SafeWorkload") in labels
    }
    assert list(workloads.values()) == [1]  # one workload, in whichever phase it has reached
    cycles = value(series, P + "poller_cycle_duration_seconds_count", api="cfgpu", result="ok")
    assert (cycles or 0) >= 1
    assert value(series, "process_resident_memory_bytes")  # the client's own collectors
    text = str(series)
    assert TOKEN not in text
    assert SAFE_KEY not in text


async def test_a_deleted_object_leaves_the_objects_gauge(pod: PodWorld) -> None:
    pod.apply("typo", gpuType="RTX 9999")
    await eventually(lambda: pod.ready("typo").get("reason") == "InvalidSpec")

    async def counted(expected: float | None) -> bool:
        series = await scrape(pod.endpoints.metrics)
        found = [v for (n, labels), v in series.items() if n == P + "objects"]
        return (sum(found) if found else None) == expected

    await eventually_async(lambda: counted(1), what="one object counted")
    pod.delete("typo")
    await eventually(lambda: pod.get("typo") is None, what="deleted")
    await eventually_async(lambda: counted(None), what="no object counted")
    series = await scrape(pod.endpoints.metrics)
    assert value(series, P + "not_ready_max_seconds", kind="GpuInstance") is None
