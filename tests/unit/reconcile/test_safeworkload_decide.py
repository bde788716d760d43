"""The SafeWorkload decision, table-style: one view in, the action, phase, Ready reason, gate
and Events out. Submitting exactly once is the promise most rows are about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from cfgpu_operator.errors import ApiError, QuotaExceeded, Unavailable, WrongState
from cfgpu_operator.models.safeworkload import SafeWorkloadSpec, SafeWorkloadStatus
from cfgpu_operator.reconcile.safeworkload_decide import decide
from cfgpu_operator.reconcile.safeworkload_view import (
    Act,
    Observed,
    Outcome,
    Platform,
    Space,
    View,
    Workload,
)

NOW = 1_800_000_000.0
WID = "swl-ns-w-12345678"
SUBMITTED_LONG_AGO = "2027-01-15T07:00:00Z"  # NOW is 2027-01-15T08:00:00Z
SUBMITTED_NOW = "2027-01-15T08:00:00Z"


def view(
    status: dict[str, Any] | None = None, spec: dict[str, Any] | None = None, **kw: Any
) -> View:
    base = {"workspaceId": "ws", "resources": [{"cpu": "1", "memory": "1Gi"}]}
    return View(
        spec=SafeWorkloadSpec.model_validate({**base, **(spec or {})}),
        status=SafeWorkloadStatus.model_validate(status or {}),
        generation=kw.pop("generation", 1),
        workload_id=WID,
        now=NOW,
        grace=60,
        observed=kw.pop("observed", Observed(listed=True)),
        **kw,
    )


def listed(phase: str, dispatch: int = 1, platform: Platform | None = None) -> Observed:
    return Observed(True, Workload(WID, phase, dispatch), platform=platform)


def err(kind: type[ApiError], code: str = "") -> ApiError:
    return kind("m", api="primus-safe", endpoint="e", code=code or None)


HAS = {"workloadId": WID, "submittedAt": SUBMITTED_LONG_AGO, "observedGeneration": 1}
RECORDED = {"workloadId": WID, "observedGeneration": 1}
ABSENT = Observed(True, absent=True)
DISPATCHED = Platform(
    {"priority": 0, "timeout": 0, "maxRetry": 0, "description": "", "images": [], "env": {}},
    dispatched=True,
)


@dataclass(frozen=True)
class Row:
    view: View
    act: Act
    phase: str | None = None
    reason: str | None = None
    ready: str = "False"
    gate: str = "none"
    events: tuple[str, ...] = ()


ROWS = {
    "new: record the id first": Row(view(), Act.RECORD_ID, "Submitting", "Submitting", gate="soon"),
    "suspended before submit": Row(
        view(spec={"suspend": True}), Act.NOTHING, "Waiting", "Suspended"
    ),
    "waiting for GpuInstances": Row(
        view(gpu_not_ready=("a", "b")), Act.NOTHING, "Waiting", "WaitingForGpuInstances"
    ),
    "a referenced GpuInstance does not exist": Row(
        view(gpu_missing=("gone",), gpu_not_ready=("gone", "b")),
        Act.NOTHING,
        "Waiting",
        "GpuInstanceNotFound",
    ),
    "waiting for dependencies": Row(
        view(deps_without_id=("prep",)), Act.NOTHING, "Waiting", "WaitingForDependencies"
    ),
    "workspace not in the key's list": Row(
        view(space=Space(found=False)),
        Act.NOTHING,
        "Waiting",
        "WorkspaceNotFound",
        gate="slow",
        events=("WorkspaceNotFound",),
    ),
    "workspace does not allow the kind's scope": Row(
        view(space=Space(True, frozenset({"Ray"}))),
        Act.NOTHING,
        "Waiting",
        "ScopeNotAllowed",
        gate="slow",
        events=("ScopeNotAllowed",),
    ),
    "workspace allows it: record the id": Row(
        view(space=Space(True, frozenset({"Train", "Infer"}))),
        Act.RECORD_ID,
        "Submitting",
        "Submitting",
        gate="soon",
    ),
    "id recorded, not looked up yet": Row(view(RECORDED), Act.NOTHING, "Submitting", "Submitting"),
    "absent, no submit time: record it first": Row(
        view(RECORDED, observed=ABSENT), Act.RECORD_SUBMIT, "Submitting", "Submitting", gate="soon"
    ),
    "absent, submit time recorded by this process: submit": Row(
        view({**RECORDED, "submittedAt": SUBMITTED_NOW}, observed=ABSENT, submit_recorded=True),
        Act.SUBMIT,
        "Submitting",
        "Submitting",
    ),
    "absent within the grace window: never submit again": Row(
        view({**RECORDED, "submittedAt": SUBMITTED_NOW}, observed=ABSENT),
        Act.NOTHING,
        "Submitting",
        "Submitting",
    ),
    "absent after the grace window: record a new submit time": Row(
        view(HAS, observed=ABSENT), Act.RECORD_SUBMIT, "Submitting", "Submitting", gate="soon"
    ),
    "running": Row(
        view(HAS, observed=listed("Running")), Act.NOTHING, "Running", "Running", "True"
    ),
    "pending": Row(view(HAS, observed=listed("Pending", 0)), Act.NOTHING, "Pending", "Pending"),
    "suspend: stop": Row(
        view(HAS, spec={"suspend": True}, observed=listed("Running")),
        Act.STOP,
        "Running",
        "Suspending",
    ),
    "spec change: patch what differs": Row(
        view(HAS, spec={"priority": 1}, generation=2, observed=listed("Running", 1, DISPATCHED)),
        Act.PATCH,
        "Running",
        "Updating",
    ),
    "spec change the platform already shows: nothing": Row(
        view(HAS, generation=2, observed=listed("Running", 1, DISPATCHED)),
        Act.NOTHING,
        "Running",
        "Running",
        "True",
    ),
    "image change after dispatch": Row(
        view(
            HAS, spec={"images": ["x:2"]}, generation=2, observed=listed("Running", 1, DISPATCHED)
        ),
        Act.NOTHING,
        None,
        "ImmutableAfterDispatch",
        gate="never",
        events=("ImmutableAfterDispatch",),
    ),
    "succeeded": Row(
        view(HAS, observed=listed("Succeeded")), Act.NOTHING, "Succeeded", "Succeeded", "True"
    ),
    "failed": Row(view(HAS, observed=listed("Failed")), Act.NOTHING, "Failed", "WorkloadFailed"),
    "stopped as asked": Row(
        view(HAS, spec={"suspend": True}, observed=listed("Stopped")),
        Act.NOTHING,
        "Stopped",
        "Suspended",
    ),
    "stopped on the platform": Row(
        view(HAS, observed=listed("Stopped")), Act.NOTHING, "Stopped", "StoppedOnPlatform"
    ),
    "stopped for suspend, then unsuspended: record the resume time first": Row(
        view({**HAS, "suspended": True}, observed=listed("Stopped")),
        Act.RECORD_RESUME,
        "Stopped",
        "Resuming",
        gate="soon",
    ),
    "resume time recorded by this process: resume": Row(
        view(
            {**HAS, "suspended": True, "resumedAt": SUBMITTED_NOW},
            observed=listed("Stopped"),
            resume_recorded=True,
        ),
        Act.RESUME,
        "Stopped",
        "Resuming",
    ),
    "resumed within the grace window, still shown Stopped: wait, looking it up": Row(
        view({**HAS, "suspended": True, "resumedAt": SUBMITTED_NOW}, observed=listed("Stopped")),
        Act.NOTHING,
        "Pending",
        "Resuming",
    ),
    "resumed": Row(
        view(
            {**HAS, "suspended": True, "resumedAt": SUBMITTED_NOW},
            observed=listed("Stopped"),
            resume_recorded=True,
            outcome=Outcome(),
        ),
        Act.NOTHING,
        "Pending",
        "Resuming",
        events=("Resumed",),
    ),
    "ended, not listed any more: keep what was seen": Row(
        view({**HAS, "phase": "Succeeded"}), Act.NOTHING, "Succeeded", "Succeeded", "True"
    ),
    "ended with a hand-over to do": Row(
        view(
            HAS,
            spec={"gpuInstanceRefs": ["g"], "onComplete": {"gpuInstances": "Stop"}},
            observed=listed("Succeeded"),
        ),
        Act.HAND_OVER,
        "Succeeded",
        "Succeeded",
        "True",
    ),
    "hand-over already done": Row(
        view(
            {**HAS, "gpuInstancesApplied": True},
            spec={"gpuInstanceRefs": ["g"], "onComplete": {"gpuInstances": "Stop"}},
            observed=listed("Succeeded"),
        ),
        Act.NOTHING,
        "Succeeded",
        "Succeeded",
        "True",
    ),
    "no key": Row(
        view(credentials="Secret ns/k is not found"),
        Act.NOTHING,
        None,
        "CredentialsError",
        gate="slow",
        events=("CredentialsError",),
    ),
    "sticky until the spec changes": Row(
        view(
            {
                **HAS,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "StoppedOnPlatform",
                        "lastTransitionTime": SUBMITTED_NOW,
                    }
                ],
            }
        ),
        Act.NOTHING,
        gate="keep",
    ),
    "backing off": Row(view(HAS, retry_at=NOW + 5), Act.NOTHING, gate="keep"),
    # -- once more, on what the action answered ------------------------------------------
    "submitted": Row(
        view(
            {**RECORDED, "submittedAt": SUBMITTED_NOW},
            observed=ABSENT,
            submit_recorded=True,
            outcome=Outcome(),
        ),
        Act.NOTHING,
        "Pending",
        "Submitted",
        events=("Submitted",),
    ),
    "quota refused the submit": Row(
        view(
            {**RECORDED, "submittedAt": SUBMITTED_NOW},
            observed=ABSENT,
            submit_recorded=True,
            outcome=Outcome(err(QuotaExceeded)),
        ),
        Act.NOTHING,
        None,
        "QuotaExceeded",
        gate="slow",
        events=("QuotaExceeded",),
    ),
    "the platform refused a change after dispatch": Row(
        view(
            HAS,
            spec={"priority": 1},
            generation=2,
            observed=listed("Running", 1, DISPATCHED),
            outcome=Outcome(err(WrongState, "Primus.00012")),
        ),
        Act.NOTHING,
        None,
        "ImmutableAfterDispatch",
        gate="never",
        events=("ImmutableAfterDispatch",),
    ),
    "patched": Row(
        view(
            HAS,
            spec={"priority": 1},
            generation=2,
            observed=listed("Running", 1, DISPATCHED),
            outcome=Outcome(),
        ),
        Act.NOTHING,
        "Running",
        "Updating",
        events=("Updated",),
    ),
    "handed over (Stop)": Row(
        view(
            HAS,
            spec={"gpuInstanceRefs": ["g"], "onComplete": {"gpuInstances": "Stop"}},
            observed=listed("Succeeded"),
            outcome=Outcome(),
        ),
        Act.NOTHING,
        "Succeeded",
        "Succeeded",
        "True",
        events=("GpuInstancesStop",),
    ),
    "stopped on request": Row(
        view(HAS, spec={"suspend": True}, observed=listed("Running"), outcome=Outcome()),
        Act.NOTHING,
        "Running",
        "Suspending",
        events=("Stopping",),
    ),
    "handed over": Row(
        view(
            HAS,
            spec={"gpuInstanceRefs": ["g"], "onComplete": {"gpuInstances": "Release"}},
            observed=listed("Succeeded"),
            outcome=Outcome(),
        ),
        Act.NOTHING,
        "Succeeded",
        "Succeeded",
        "True",
        events=("GpuInstancesRelease",),
    ),
    # -- deletion ----------------------------------------------------------------------------
    "delete: never submitted": Row(view(RECORDED, deleting=True), Act.FINISH, events=("Deleted",)),
    "delete: Orphan": Row(
        view(HAS, spec={"deletionPolicy": "Orphan"}, deleting=True), Act.FINISH, events=("Deleted",)
    ),
    "delete: still there": Row(view(HAS, deleting=True), Act.DELETE),
    "delete: gone": Row(view(HAS, deleting=True, observed=ABSENT), Act.FINISH, events=("Deleted",)),
    "delete: not found within the submit grace window: delete by id": Row(
        view({**HAS, "submittedAt": SUBMITTED_NOW}, deleting=True, observed=ABSENT), Act.DELETE
    ),
    "delete: accepted": Row(
        view(HAS, deleting=True, outcome=Outcome()), Act.FINISH, events=("Deleting",)
    ),
    "delete: accepted in an earlier run of this process (a stale body): no second DELETE": Row(
        view(HAS, deleting=True, deleted=True), Act.FINISH
    ),
    "delete: the platform is down": Row(
        view(HAS, deleting=True, observed=Observed(True, error=err(Unavailable))),
        Act.WAIT,
        gate="backoff",
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_decision_table(row: Row) -> None:
    d = decide(row.view)
    assert d.act is row.act
    assert d.status.get("phase") == row.phase
    ready = next((c for c in d.status.get("conditions", []) if c["type"] == "Ready"), None)
    if row.reason is None:
        assert ready is None
    else:
        assert ready is not None
        assert (ready["reason"], ready["status"]) == (row.reason, row.ready)
    assert d.gate.retry == row.gate
    assert tuple(e.reason for e in d.events) == row.events


def test_every_action_has_a_row() -> None:
    assert {row.act for row in ROWS.values()} == set(Act)


def test_record_steps_write_what_they_record() -> None:
    assert decide(view()).status["workloadId"] == WID
    recorded = decide(view(RECORDED, observed=ABSENT))
    assert recorded.status["submittedAt"] == SUBMITTED_NOW


def test_the_patch_carries_only_what_differs() -> None:
    d = decide(
        view(HAS, spec={"priority": 1}, generation=2, observed=listed("Running", 1, DISPATCHED))
    )
    assert d.args["body"] == {"priority": 1}


SECRET = [{"name": "S", "secretKeyRef": {"name": "sec", "key": "k"}}]


def platform_with(env: dict[str, str], dispatched: bool) -> Platform:
    mutable = {**DISPATCHED.mutable, "env": env}
    return Platform(mutable, dispatched=dispatched)


@pytest.mark.parametrize(
    ("spec", "env", "dispatched", "body"),
    [
        # The platform has the secret variable: a description edit sends only the description.
        (
            {"env": {"A": "1"}, "description": "v2"},
            {"A": "1", "S": "x"},
            True,
            {"description": "v2"},
        ),
        # A plain variable changed before dispatch: env is sent (the adapter adds secrets).
        ({"env": {"A": "2"}}, {"A": "1", "S": "x"}, False, {"env": {"A": "2"}}),
        # The secret variable went missing on the platform: env is sent again.
        ({"env": {"A": "1"}}, {"A": "1"}, False, {"env": {"A": "1"}}),
        # A variable no longer wanted.
        ({"env": {}}, {"A": "1", "S": "x"}, False, {"env": {}}),
    ],
)
def test_secret_env_counts_as_wanted_and_never_enters_the_decision(
    spec: dict[str, Any], env: dict[str, str], dispatched: bool, body: dict[str, Any]
) -> None:
    d = decide(
        view(
            HAS,
            spec={**spec, "secretEnv": SECRET},
            generation=2,
            observed=listed(
                "Running" if dispatched else "Pending", 1, platform_with(env, dispatched)
            ),
        )
    )
    assert (d.act, d.args["body"]) == (Act.PATCH, body)


def test_suspend_marks_the_stop_and_running_again_clears_it() -> None:
    stopped = decide(view(HAS, spec={"suspend": True}, observed=listed("Stopped")))
    assert stopped.status["suspended"] is True
    running = decide(view({**HAS, "suspended": True}, observed=listed("Running")))
    assert running.status["suspended"] is None
    resumed_late = decide(
        view(
            {**HAS, "suspended": True, "resumedAt": SUBMITTED_LONG_AGO}, observed=listed("Stopped")
        )
    )
    assert resumed_late.act is Act.RECORD_RESUME  # the grace window passed: try again
    assert resumed_late.status["resumedAt"] == SUBMITTED_NOW


def test_a_failed_patch_is_owed_until_it_lands() -> None:
    """The failure wrote observedGeneration (to gate the backoff); lastError keeps it owed."""
    failed = {**HAS, "lastError": {"code": "Primus.00001", "message": "down"}}
    d = decide(view(failed, spec={"priority": 1}, observed=listed("Running", 1, DISPATCHED)))
    assert (d.act, d.args["body"]) == (Act.PATCH, {"priority": 1})
    settled = decide(view(HAS, spec={"priority": 1}, observed=listed("Running", 1, DISPATCHED)))
    assert settled.act is Act.NOTHING
