"""Every documented reason is one the decision tables (or the error verdicts) produce: a
reason nothing can write is a stale row in docs/operations.md, and one written by no tested row is
an untested path."""

from __future__ import annotations

from typing import Any

from cfgpu_operator.reconcile import gpuinstance, safeworkload_decide
from cfgpu_operator.reconcile.reasons import EventReason, Reason
from cfgpu_operator.reconcile.verdicts import _OTHER, _TABLE, CREDENTIALS
from tests.unit.reconcile import (
    test_gpuinstance_decide,
    test_gpuinstance_delete_decide,
    test_lifecycle_decide,
    test_quota_decide,
    test_safeworkload_decide,
)


def _written(rows: dict[str, Any], decide: Any) -> tuple[set[str], set[str]]:
    conditions: set[str] = set()
    events: set[str] = set()
    for row in rows.values():
        decision = decide(row.view)
        conditions |= {c["reason"] for c in decision.status.get("conditions", [])}
        events |= {e.reason for e in decision.events}
    return conditions, events


def _tables() -> list[tuple[set[str], set[str]]]:
    return [
        _written(test_gpuinstance_decide.ROWS, gpuinstance.decide),
        _written(test_gpuinstance_delete_decide.ROWS, gpuinstance.decide),
        _written(test_lifecycle_decide.ROWS, gpuinstance.decide),
        _written(test_quota_decide.ROWS, gpuinstance.decide),
        _written(test_safeworkload_decide.ROWS, safeworkload_decide.decide),
    ]


def test_every_reason_is_written_by_a_tested_row_or_a_verdict() -> None:
    tables = _tables()
    conditions = set().union(*(c for c, _ in tables))
    verdicts = {v.reason for _, v in _TABLE} | {_OTHER.reason, CREDENTIALS.reason}
    # Platform phases become reasons as they are (Pending, Updating, NotReady, ...).
    phases = {"Pending", "Running", "Updating", "NotReady", "Succeeded", "Stopped"}
    assert {r.value for r in Reason} - conditions - verdicts - phases == set()


def test_every_event_reason_is_posted_by_a_tested_row() -> None:
    events = set().union(*(e for _, e in _tables()))
    # Posted for the orphans test_orphans finds (tests/integration/gpuinstance/test_orphans.py).
    events.add(EventReason.ORPHANED_INSTANCE)
    assert {r.value for r in EventReason} - events == set()
