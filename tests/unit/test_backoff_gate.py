"""How a run's gate moves an object's backoff: failures in a row grow it, a step that went
as planned starts it over (so a deletion's stop and release do not add up their 429s)."""

from __future__ import annotations

import kopf
import pytest

from cfgpu_operator.handlers.objects import ObjectState
from cfgpu_operator.handlers.pipeline import Target, gate, requeue_delay
from cfgpu_operator.reconcile.decision import Gate
from cfgpu_operator.settings import Settings

BASE, CAP = 2.0, 300.0


def target() -> Target:
    settings = Settings(CFGPU_OPERATOR_BACKOFF_BASE=BASE, CFGPU_OPERATOR_BACKOFF_MAX=CAP)
    return Target(kopf.Body({}), kopf.Patch(), ObjectState(), {}, settings)


@pytest.mark.parametrize(
    ("gates", "attempts"),
    [
        (["backoff", "backoff", "backoff"], [1, 2, 3]),
        # A stop refused twice, then accepted: the release's first refusal waits ~BASE.
        (["backoff", "backoff", "soon", "backoff"], [1, 2, 0, 1]),
        (["backoff", "none", "backoff"], [1, 0, 1]),
        # Nothing done while the backoff runs: it is neither reset nor grown.
        (["backoff", "keep", "backoff"], [1, 1, 2]),
        (["slow", "soon"], [1, 0]),
    ],
)
def test_attempts_count_failures_in_a_row(gates: list[str], attempts: list[int]) -> None:
    t = target()
    seen = []
    for retry in gates:
        gate("GpuInstance", t, Gate(retry))  # type: ignore[arg-type]
        seen.append(t.state.attempts)
    assert seen == attempts


def test_a_failure_after_a_step_waits_the_first_backoff_again() -> None:
    t = target()
    for _ in range(6):  # the stop: refused six times in a row
        gate("GpuInstance", t, Gate("backoff"))
    assert t.state.last_delay >= BASE * 2**5 / 2
    gate("GpuInstance", t, Gate("soon"))  # accepted
    assert t.state.retry_at == 0.0
    gate("GpuInstance", t, Gate("backoff", retry_after=1.0))  # the release: one 429
    assert BASE / 2 <= t.state.last_delay <= BASE
    assert requeue_delay(Gate("backoff"), t.state, t.settings) == max(
        t.settings.CFGPU_OPERATOR_POLL_FAST, t.state.last_delay
    )


def test_retry_after_longer_than_the_backoff_is_honoured() -> None:
    t = target()
    gate("GpuInstance", t, Gate("backoff", retry_after=45.0))
    assert t.state.last_delay == 45.0
