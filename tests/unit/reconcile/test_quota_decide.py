"""GpuQuota rows of the GpuInstance decision, the quota arithmetic and a quota's status,
table-style; and the ledger that makes the check and the taking one step."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cfgpu_operator.handlers.quotas import QuotaLedger
from cfgpu_operator.reconcile.gpuinstance import decide
from cfgpu_operator.reconcile.gpuinstance_view import Act, View
from cfgpu_operator.reconcile.quota import Limit, denial, report
from cfgpu_operator.reconcile.quota_period import Book
from tests.unit.reconcile.gpuinstance_views import HAS, inst, ready_of, view

OVER = "GpuQuota team allows 8 GPUs, 8 are in use and this instance needs 1; waiting for room"


@dataclass(frozen=True)
class Row:
    view: View
    act: Act
    phase: str
    reason: str


ROWS = {
    "no room: nothing is rented": Row(
        view({}, over_quota=OVER), Act.NOTHING, "Pending", "QuotaExceeded"
    ),
    "room: the name is recorded (and the GPUs taken)": Row(
        view({}), Act.RECORD_INTENT, "Creating", "Creating"
    ),
    "no room: a stopped instance stays stopped": Row(
        view(HAS, seen=inst("CLOSED"), over_quota=OVER), Act.NOTHING, "Stopped", "QuotaExceeded"
    ),
    "a running one keeps running (it holds its GPUs)": Row(
        view(HAS, seen=inst("RUNNING")), Act.NOTHING, "Running", "Running"
    ),
    "a StopNewest quota stops a running one": Row(
        view(HAS, seen=inst("RUNNING"), quota_stop="GpuQuota team: used up"),
        Act.STOP,
        "Stopping",
        "QuotaExceeded",
    ),
    "a stop is never held back": Row(
        view(HAS, sp={"state": "Stopped"}, seen=inst("RUNNING"), over_quota=OVER),
        Act.STOP,
        "Stopping",
        "Stopping",
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_quota_rows(row: Row) -> None:
    d = decide(row.view)
    assert d.act is row.act
    assert d.status["phase"] == row.phase
    assert ready_of(d)["reason"] == row.reason


def test_the_message_names_the_quota_and_the_numbers() -> None:
    d = decide(view({}, over_quota=OVER))
    assert ready_of(d)["message"] == OVER


DENIALS = {
    "fits": ([Limit("team", 8)], 6, 2, None),
    "one too many": ([Limit("team", 8)], 7, 2, "GpuQuota team allows 8 GPUs, 7 are in use"),
    "every quota applies": ([Limit("a", 16), Limit("b", 4)], 3, 2, "GpuQuota b allows 4"),
    "no quota: no limit": ([], 1000, 8, None),
    "zero allows nothing": ([Limit("frozen", 0)], 0, 1, "GpuQuota frozen allows 0"),
}


@pytest.mark.parametrize(
    ("limits", "used", "asking", "starts"), DENIALS.values(), ids=DENIALS.keys()
)
def test_denial(limits: list[Limit], used: int, asking: int, starts: str | None) -> None:
    found = denial(limits, used, asking)
    if starts is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(starts)


def test_the_last_room_goes_to_one_object_only() -> None:
    ledger = QuotaLedger()
    ledger.set_quota("ml", Limit("team", 2))
    assert ledger.over("a", "ml", 2) is None
    ledger.take("a", "ml", 2)
    assert ledger.over("b", "ml", 1) is not None
    assert ledger.over("a", "ml", 2) is None  # what it holds, it keeps
    ledger.saw("a", {"namespace": "ml"}, {"gpuCount": 2}, {"phase": "Stopped"})  # room again
    assert ledger.over("b", "ml", 1) is None


def test_a_restart_reads_what_is_held_from_the_stored_objects() -> None:
    ledger = QuotaLedger()
    ledger.seed(
        "GpuQuota", [{"metadata": {"namespace": "ml", "name": "team"}, "spec": {"maxGpus": 4}}]
    )
    objects = [
        {"metadata": {"namespace": "ml", "uid": u}, "spec": {"gpuCount": 2}, "status": {"phase": p}}
        for u, p in (("a", "Running"), ("b", "Creating"), ("c", "Stopped"), ("d", "Pending"))
    ]
    ledger.seed("GpuInstance", objects)
    assert ledger.used("ml") == 4
    assert ledger.over("e", "ml", 1) is not None


def test_a_quota_reports_what_is_held_and_what_waits() -> None:
    within = report(Limit("team", 8), 3, 0, Book(), [], 1, "2027-01-15T08:00:00Z")
    assert (within["gpus"], within["usedGpus"], within["waiting"]) == ("3/8", 3, 0)
    exceeded = {c["type"]: c for c in within["conditions"]}["Exceeded"]
    assert (exceeded["status"], exceeded["reason"]) == ("False", "WithinLimit")
    waiting = report(
        Limit("team", 8), 8, 12, Book(), within["conditions"], 1, "2027-01-15T08:01:00Z"
    )
    exceeded = {c["type"]: c for c in waiting["conditions"]}["Exceeded"]
    assert (exceeded["status"], exceeded["reason"]) == ("True", "InstancesWaiting")
    assert exceeded["lastTransitionTime"] == "2027-01-15T08:01:00Z"
    over = report(Limit("team", 2), 3, 0, Book(), [], 1, "2027-01-15T08:00:00Z")
    assert {c["type"]: c for c in over["conditions"]}["Exceeded"]["reason"] == "OverLimit"


def test_each_quota_is_exported_with_what_is_held_and_what_waits() -> None:
    from cfgpu_operator.handlers.quotas import QuotaMetrics

    ledger = QuotaLedger()
    ledger.set_quota("ml", Limit("team", 8), Book(0.0, 5400, 4.25))
    ledger.take("a", "ml", 3)
    ledger.wait("b", "ml", True)
    exported = QuotaMetrics()
    exported.attach(ledger)
    samples = {(f.name, s.labels["quota"]): s.value for f in exported.collect() for s in f.samples}
    assert samples == {
        ("cfgpu_operator_quota_max_gpus", "team"): 8,
        ("cfgpu_operator_quota_used_gpus", "team"): 3,
        ("cfgpu_operator_quota_waiting", "team"): 1,
        ("cfgpu_operator_quota_gpu_hours", "team"): 1.5,
        ("cfgpu_operator_quota_estimated_cost_cny", "team"): 4.25,
    }


STOP = (
    "GpuQuota team: 500.00 of 500 GPU-hours used this Month: stopping the newest running instances"
)


def test_a_stop_newest_quota_stops_a_running_instance_and_keeps_it_stopped() -> None:
    running = decide(view(HAS, seen=inst("RUNNING"), quota_stop=STOP))
    assert running.act is Act.STOP
    assert ready_of(running)["reason"] == "QuotaExceeded"
    assert [(e.reason, e.warning) for e in running.events] == [("QuotaStop", True)]
    stopped = decide(view(HAS, seen=inst("CLOSED"), quota_stop=STOP))
    assert stopped.act is Act.NOTHING
    assert (stopped.status["phase"], ready_of(stopped)["reason"]) == ("Stopped", "QuotaExceeded")


def test_a_used_up_period_denies_creates_and_starts() -> None:
    spent = Limit("team", None, "GpuQuota team: 500.00 of 500 GPU-hours used this Month")
    assert denial([spent], 0, 1) == (
        "GpuQuota team: 500.00 of 500 GPU-hours used this Month; waiting for the next period"
    )


def test_stop_newest_stops_the_newest_pay_as_you_go_one_at_a_time() -> None:
    ledger = QuotaLedger()
    for uid, created, billing in (
        ("old", "01", "Usage"),
        ("new", "03", "Usage"),
        ("paid", "04", "Day"),
    ):
        meta = {"namespace": "ml", "creationTimestamp": f"2027-01-{created}T00:00:00Z"}
        spec = {"billing": {"priceType": billing}}
        ledger.saw(uid, meta, spec, {"phase": "Running", "cfgpuStatus": "RUNNING"})
    ledger.set_quota("ml", Limit("team", None, "used up", stop_newest=True))
    ledger.settle_stops("ml")
    assert [ledger.stop_reason(u) is not None for u in ("old", "new", "paid")] == [
        False,
        True,
        False,
    ]
    ledger.settle_stops("ml")
    assert ledger.stop_reason("old") is not None
    assert ledger.stop_reason("paid") is None  # prepaid: stopping it saves nothing
    ledger.set_quota("ml", Limit("team", None, None, stop_newest=True))  # a new period
    ledger.settle_stops("ml")
    assert ledger.stop_reason("old") is None
    assert ledger.stop_reason("new") is None


def test_a_stored_period_that_ended_does_not_deny_after_a_restart() -> None:
    spent = {"periodStart": "2000-01-01T00:00:00Z", "estimatedCostThisPeriod": "99.00"}
    quota = {"metadata": {"namespace": "ml", "name": "budget"}, "spec": {"maxEstimatedCost": "3"}}
    ledger = QuotaLedger()
    ledger.seed("GpuQuota", [{**quota, "status": spent}])
    assert ledger.over("a", "ml", 1) is None
