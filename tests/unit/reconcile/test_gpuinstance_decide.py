"""The GpuInstance decision, table-style: one view in, the action, phase, Ready reason, gate
and Events out. Every row is a promise the operator keeps without a process or a server."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from cfgpu_operator.errors import (
    Expired,
    InsufficientBalance,
    RejectedInput,
    Unavailable,
    WrongState,
)
from cfgpu_operator.reconcile.gpuinstance import decide, system_disk_expand
from cfgpu_operator.reconcile.gpuinstance_view import Act, Credentials, Observed, Outcome, View
from tests.unit.reconcile.gpuinstance_views import (
    HAS,
    ID,
    NAME,
    NOW,
    err,
    infos,
    inst,
    ready,
    ready_of,
    synced_of,
    view,
    warnings,
)


@dataclass(frozen=True)
class Row:
    view: View
    act: Act
    phase: str | None = None  # None: the decision does not set it
    reason: str | None = None  # Ready's reason; None: no status written
    ready: str = "False"
    gate: str = "none"
    warn: tuple[str, ...] = ()
    info: tuple[str, ...] = field(default_factory=tuple)


INTENT = {"instanceName": NAME, "observedGeneration": 1}
RUNNING = inst("RUNNING")
CLOSED = inst("CLOSED")
UNLISTED = Observed(listed=False)

ROWS = {
    # -- before any instance -------------------------------------------------------------
    "new: record the name first": Row(
        view({}), Act.RECORD_INTENT, "Creating", "Creating", gate="soon"
    ),
    "name recorded: rent": Row(view(INTENT), Act.CREATE, "Creating", "Creating"),
    "ObserveOnly never creates": Row(
        view({}, sp={"managementPolicy": "ObserveOnly"}), Act.NOTHING, "Pending", "ObserveOnly"
    ),
    "paused never creates": Row(view({}, paused=True), Act.NOTHING, "Pending", "Paused"),
    "adopt an unmanaged instance": Row(
        view({}, sp={"instanceId": ID}, seen=RUNNING),
        Act.ADOPT,
        "Running",
        "Adopting",
        gate="soon",
        info=("InstanceAdopted",),
    ),
    "adopt one another object manages": Row(
        view({}, sp={"instanceId": ID}, observed=Observed(True, RUNNING, owner="ns/other")),
        Act.NOTHING,
        "Pending",
        "AlreadyManaged",
        gate="never",
        warn=("AlreadyManaged",),
    ),
    "adopt an unknown id": Row(
        view({}, sp={"instanceId": ID}, observed=Observed(True, None, gone=True)),
        Act.NOTHING,
        "Pending",
        "InstanceNotFound",
        gate="slow",
        warn=("InstanceNotFound",),
    ),
    "adopt before the poll answered": Row(
        view({}, sp={"instanceId": ID}, observed=Observed(True)), Act.WAIT, "Pending", "Adopting"
    ),
    "no Secret, nothing rented": Row(
        view({}, credentials=Credentials("Secret ns/s is not found")),
        Act.NOTHING,
        "Pending",
        "CredentialsError",
        gate="slow",
        warn=("CredentialsError",),
    ),
    "no Secret, instance rented: phase kept": Row(
        view(HAS, credentials=Credentials("Secret ns/s is not found")),
        Act.NOTHING,
        None,
        "CredentialsError",
        gate="slow",
        warn=("CredentialsError",),
    ),
    # -- gates ---------------------------------------------------------------------------
    "InvalidSpec waits for a new generation": Row(
        view({**INTENT, "conditions": [ready("InvalidSpec")]}), Act.NOTHING, gate="keep"
    ),
    "a new generation lifts InvalidSpec": Row(
        view({**INTENT, "conditions": [ready("InvalidSpec")]}, generation=2),
        Act.CREATE,
        "Creating",
        "Creating",
    ),
    "backing off": Row(view(HAS, seen=CLOSED, retry_at=NOW + 5), Act.NOTHING, gate="keep"),
    "a spec change ends the backoff": Row(
        view(HAS, seen=CLOSED, retry_at=NOW + 5, generation=2), Act.START, "Starting", "Starting"
    ),
    # -- with an instance ----------------------------------------------------------------
    "in the desired state": Row(view(HAS, seen=RUNNING), Act.NOTHING, "Running", "Running", "True"),
    "stopped as wanted": Row(
        view(HAS, sp={"state": "Stopped"}, seen=CLOSED), Act.NOTHING, "Stopped", "Stopped", "True"
    ),
    "start": Row(view(HAS, seen=CLOSED), Act.START, "Starting", "Starting"),
    "stop": Row(view(HAS, sp={"state": "Stopped"}, seen=RUNNING), Act.STOP, "Stopping", "Stopping"),
    "a poll older than the last call: wait": Row(
        view(HAS, observed=Observed(True, CLOSED, fresh=False)), Act.WAIT, "Starting", "Starting"
    ),
    "transient: wait": Row(view(HAS, seen=inst("STARTING")), Act.WAIT, "Starting", "Starting"),
    "released elsewhere, under way": Row(
        view(HAS, seen=inst("RELEASING")), Act.WAIT, "Releasing", "Releasing"
    ),
    "CFGPU reports ERROR": Row(
        view(HAS, seen=inst("ERROR")), Act.NOTHING, "Failed", "InstanceFailed"
    ),
    "released outside the operator": Row(
        view(HAS, seen=inst("RELEASED")),
        Act.NOTHING,
        "Lost",
        "InstanceGone",
        warn=("InstanceGone",),
    ),
    "lost, already said": Row(
        view({**HAS, "conditions": [ready("InstanceGone")]}, observed=Observed(True, gone=True)),
        Act.NOTHING,
        "Lost",
        "InstanceGone",
    ),
    "not listed, not proven gone": Row(view(HAS, observed=Observed(True)), Act.WAIT),
    "stale image while running: stop first": Row(
        view(HAS, seen=RUNNING, wanted_image="image_b"), Act.STOP, "Reimaging", "Reimaging"
    ),
    "stale image while stopped: change it": Row(
        view(HAS, seen=CLOSED, wanted_image="image_b"), Act.CHANGE_IMAGE, "Reimaging", "Reimaging"
    ),
    "expired: never started again": Row(
        view(HAS, seen=inst("CLOSED", expired=True, prepaid=True)),
        Act.NOTHING,
        "Stopped",
        "InstanceExpired",
        warn=("InstanceExpired",),
    ),
    "expires soon: one Warning": Row(
        view(
            HAS, seen=inst("RUNNING", expiring=True, facts={"expireTime": "2027-02-01T00:00:00Z"})
        ),
        Act.NOTHING,
        "Running",
        "Running",
        "True",
        warn=("InstanceExpiring",),
    ),
    "expires soon, already warned": Row(
        view(
            {**HAS, "expiryWarned": "2027-02-01T00:00:00Z"},
            seen=inst("RUNNING", expiring=True, facts={"expireTime": "2027-02-01T00:00:00Z"}),
        ),
        Act.NOTHING,
        "Running",
        "Running",
        "True",
    ),
    "ObserveOnly reports drift": Row(
        view(HAS, sp={"managementPolicy": "ObserveOnly"}, seen=CLOSED),
        Act.NOTHING,
        "Stopped",
        "ObserveOnly",
    ),
    "unknown image name": Row(
        view(HAS, seen=RUNNING, image_error=err(RejectedInput, message="no image x")),
        Act.NOTHING,
        None,
        "InvalidSpec",
        gate="never",
        warn=("InvalidSpec",),
    ),
    # -- once more, on what the action answered ------------------------------------------
    "rented": Row(
        view(INTENT, outcome=Outcome(instance_id=ID)),
        Act.NOTHING,
        "Creating",
        "Creating",
        info=("InstanceCreated",),
    ),
    "found by name": Row(
        view(INTENT, outcome=Outcome(instance_id=ID, found_by_name=True)),
        Act.NOTHING,
        "Creating",
        "Creating",
        info=("InstanceCreated",),
    ),
    "several instances carry the name": Row(
        view(INTENT, outcome=Outcome(ambiguous=("a", "b"))),
        Act.NOTHING,
        "Pending",
        "AmbiguousInstance",
        gate="never",
        warn=("AmbiguousInstance",),
    ),
    "the name's instance is another object's": Row(
        view(INTENT, outcome=Outcome(instance_id=ID, owner="ns/first")),
        Act.NOTHING,
        "Pending",
        "AlreadyManaged",
        gate="never",
        warn=("AlreadyManaged",),
    ),
    "the image needs a larger disk": Row(
        view(INTENT, outcome=Outcome(instance_id=ID, system_disk=(0, 20))),
        Act.NOTHING,
        "Creating",
        "Creating",
        info=("InstanceCreated", "SystemDiskExpanded"),
    ),
    "no balance: Pending, slow retry": Row(
        view(INTENT, outcome=Outcome(error=err(InsufficientBalance, "52001"))),
        Act.NOTHING,
        "Pending",
        "InsufficientBalance",
        gate="slow",
        warn=("InsufficientBalance",),
    ),
    "an invalid spec is Pending, never Creating": Row(
        view(INTENT, outcome=Outcome(error=err(RejectedInput, "10001"))),
        Act.NOTHING,
        "Pending",
        "InvalidSpec",
        gate="never",
        warn=("InvalidSpec",),
    ),
    "start answered 'moved meanwhile'": Row(
        view(HAS, seen=CLOSED, outcome=Outcome(error=err(WrongState, "52002"))),
        Act.NOTHING,
        "Starting",
        "Starting",
        gate="backoff",
    ),
    "start answered 'expired'": Row(
        view(HAS, seen=CLOSED, outcome=Outcome(error=err(Expired, "52008"))),
        Act.NOTHING,
        None,
        "InstanceExpired",
        gate="slow",
        warn=("InstanceExpired",),
    ),
    "image change accepted": Row(
        view(HAS, seen=CLOSED, wanted_image="image_b", outcome=Outcome()),
        Act.NOTHING,
        "Reimaging",
        "Reimaging",
        info=("Reimaging",),
    ),
    "start accepted": Row(
        view(HAS, seen=CLOSED, outcome=Outcome()),
        Act.NOTHING,
        "Starting",
        "Starting",
        info=("Starting",),
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_decision_table(row: Row) -> None:
    d = decide(row.view)
    assert d.act is row.act
    assert d.status.get("phase") == row.phase
    if row.reason is None:
        assert "conditions" not in d.status
    else:
        assert (ready_of(d)["reason"], ready_of(d)["status"]) == (row.reason, row.ready)
    assert d.gate.retry == row.gate
    assert tuple(warnings(d)) == row.warn
    assert tuple(infos(d)) == row.info


def test_recording_the_name_writes_it() -> None:
    assert decide(view({})).status["instanceName"] == NAME


def test_create_and_change_image_carry_what_they_need() -> None:
    assert decide(view(INTENT)).args["name"] == NAME
    change = decide(view(HAS, seen=CLOSED, wanted_image="image_b"))
    assert change.args["image_id"] == "image_b"


def test_api_trouble_turns_only_synced_false() -> None:
    d = decide(view(HAS, seen=CLOSED, outcome=Outcome(error=err(Unavailable))))
    assert synced_of(d)["reason"] == "ApiUnavailable"
    assert synced_of(d)["status"] == "False"
    assert "phase" not in d.status
    assert d.gate.retry == "backoff"
    assert d.status["lastError"] == {"code": "", "message": "m"}


def test_an_unknown_id_is_said_in_english_with_the_api_text_as_detail() -> None:
    gone = Observed(True, None, gone=True, error=err(RejectedInput, "10001", "实例不存在"))
    d = decide(view({}, sp={"instanceId": ID}, observed=gone))
    message = ready_of(d)["message"]
    assert message.startswith(f"instance {ID} was not found on CFGPU")
    assert "实例不存在" in message


def test_the_poll_failing_before_any_answer_is_api_trouble() -> None:
    d = decide(view(HAS, observed=Observed(False, error=err(Unavailable))))
    assert synced_of(d)["reason"] == "ApiUnavailable"


def test_facts_and_expiry_warning_are_written() -> None:
    seen = inst("RUNNING", expiring=True, facts={"expireTime": "2027-02-01T00:00:00Z"})
    d = decide(view(HAS, seen=seen))
    assert d.status["expireTime"] == "2027-02-01T00:00:00Z"
    assert d.status["expiryWarned"] == "2027-02-01T00:00:00Z"


def test_every_action_has_a_row() -> None:
    from tests.unit.reconcile.test_gpuinstance_delete_decide import ROWS as DELETE_ROWS

    seen = {row.act for row in ROWS.values()} | {row.act for row in DELETE_ROWS.values()}
    assert seen == set(Act)


@pytest.mark.parametrize(
    ("asked", "image_min", "expand"),
    [(0, 0, 0), (10, 0, 10), (0, 50, 20), (30, 50, 30), (0, 30, 0)],
)
def test_system_disk_grows_to_the_image_minimum(asked: int, image_min: int, expand: int) -> None:
    assert system_disk_expand(asked, image_min) == expand
