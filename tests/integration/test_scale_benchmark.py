"""The scale benchmark keeps working (its figures come from a real run: tests/benchmarks)."""

from __future__ import annotations

from cfgpu_operator.settings import Settings
from tests.benchmarks import safeworkloads
from tests.benchmarks.scale import SINGLES, one


async def test_the_benchmark_measures_a_small_run() -> None:
    result = await one(3, rate_limit=1000, steady=1)
    assert result["objects"] == 3
    assert result["cfgpu_calls_per_object"]["instance/create"] == 1  # no duplicate rent
    # nothing leaked: the burst, the singles applied to the idle operator, the late arrival
    assert result["released"] == 3 + SINGLES + 1
    assert 0 < result["idle_apply_to_create_p50_ms"] <= result["idle_apply_to_create_max_ms"]
    assert result["restart_to_new_object_created_s"] > 0  # a restarted operator serves it
    assert result["timeouts_in_log"] == 0
    assert result["ready_per_second"] > 0


async def test_the_benchmark_measures_a_run_against_a_cfgpu_refusing_a_third_of_calls() -> None:
    result = await one(3, rate_limit=1000, steady=1, trouble="429")
    assert result["cfgpu_answered_429_share"] > 0  # the trouble was there
    assert result["cfgpu_calls_per_object"]["instance/create"] >= 1
    assert result["released"] == 3 + SINGLES + 1  # every object converged, created and deleted
    assert result["cfgpu_max_in_flight"] <= Settings().CFGPU_OPERATOR_MAX_IN_FLIGHT


async def test_the_safeworkload_benchmark_measures_a_small_run() -> None:
    result = await safeworkloads.one(3, rate_limit=1000, steady=1)
    assert result["kind"] == "SafeWorkload"
    assert result["submitted"] == 3  # each submitted once
    assert result["safe_calls_per_object"]["workloads.create"] == 1
    assert result["left_on_platform"] == 0  # every workload deleted on the platform
    assert result["apply_to_submit_p99_ms"] > 0
    assert result["timeouts_in_log"] == 0
