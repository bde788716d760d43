"""The GpuInstance decision while deleting, table-style: release what was rented (or leave
it, per policy), never let go of what cannot be proven released, and say why it waits."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cfgpu_operator.errors import PrepaidNotExpired, Unavailable, WrongState
from cfgpu_operator.reconcile.gpuinstance import decide
from cfgpu_operator.reconcile.gpuinstance_view import (
    Act,
    Credentials,
    Observed,
    Outcome,
    Search,
    View,
)
from tests.unit.reconcile.gpuinstance_views import (
    HAS,
    ID,
    NAME,
    NOW,
    err,
    infos,
    inst,
    ready_of,
    synced_of,
    view,
    warnings,
)


@dataclass(frozen=True)
class Row:
    view: View
    act: Act
    reason: str | None = None  # Ready's reason; None: no conditions written
    gate: str = "soon"
    warn: tuple[str, ...] = ()
    info: tuple[str, ...] = ()


def deleting(st: dict[str, object] | None = None, **kw: object) -> View:
    return view(HAS if st is None else st, deleting=True, **kw)  # type: ignore[arg-type]


NO_SECRET = Credentials("Secret ns/s is not found")
FALLBACK = Credentials("Secret ns/s is not found", fallback=True)
GONE = Observed(True, None, gone=True)
PREPAID = inst("CLOSED", prepaid=True, expire_at=NOW + 3600, facts={"expireTime": "later"})
REFUSED = Outcome(error=err(PrepaidNotExpired, "52009"))

ROWS = {
    "Expired (released by releaseAfter): finishes at once": Row(
        deleting({**HAS, "phase": "Expired"}, observed=GONE),
        Act.FINISH,
        gate="none",
        info=("Deleted",),
    ),
    "ObserveOnly leaves the instance": Row(
        deleting(sp={"managementPolicy": "ObserveOnly"}, seen=inst("RUNNING")),
        Act.FINISH,
        gate="none",
        info=("Deleted",),
    ),
    "Orphan leaves the instance": Row(
        deleting(deletion_policy="Orphan", seen=inst("RUNNING")),
        Act.FINISH,
        gate="none",
        info=("Deleted",),
    ),
    "never created": Row(deleting({}), Act.FINISH, gate="none", info=("Deleted",)),
    "running: stop first": Row(deleting(seen=inst("RUNNING")), Act.STOP, "Deleting"),
    "stopped: release": Row(deleting(seen=inst("CLOSED")), Act.RELEASE, "Deleting"),
    "failed: release": Row(deleting(seen=inst("ERROR")), Act.RELEASE, "Deleting"),
    "transient: wait": Row(deleting(seen=inst("STOPPING")), Act.WAIT, "Deleting"),
    "a poll older than our call: wait": Row(
        deleting(observed=Observed(True, inst("RUNNING"), fresh=False)), Act.WAIT, "Deleting"
    ),
    "gone counts as released": Row(
        deleting(observed=GONE), Act.FINISH, gate="none", info=("Released",)
    ),
    "listed as released": Row(
        deleting(seen=inst("RELEASED")), Act.FINISH, gate="none", info=("Released",)
    ),
    "CFGPU down: Synced False, keep waiting": Row(
        deleting(observed=Observed(True, error=err(Unavailable))),
        Act.WAIT,
        "Deleting",
        gate="backoff",
    ),
    "Secret gone, no operator token": Row(
        deleting(seen=inst("RUNNING"), credentials=NO_SECRET),
        Act.WAIT,
        "CredentialsError",
        gate="slow",
        warn=("CredentialsError",),
    ),
    "Secret gone: the operator's token stops it": Row(
        deleting(seen=inst("RUNNING"), credentials=FALLBACK),
        Act.STOP,
        "Deleting",
        warn=("CredentialsError",),
    ),
    "the operator's token cannot see it": Row(
        deleting(observed=GONE, credentials=FALLBACK),
        Act.WAIT,
        "CredentialsError",
        gate="slow",
        warn=("CredentialsError",),
    ),
    "a name but no id, nothing found": Row(
        deleting({"instanceName": NAME}, search=Search(())),
        Act.FINISH,
        gate="none",
        info=("Deleted",),
    ),
    "a name but no id, one found": Row(
        deleting({"instanceName": NAME}, search=Search((ID,)), seen=inst("RUNNING")),
        Act.STOP,
        "Deleting",
    ),
    "a name but no id, several found": Row(
        deleting({"instanceName": NAME}, search=Search(("a", "b"))),
        Act.WAIT,
        "AmbiguousInstance",
        gate="slow",
        warn=("AmbiguousInstance",),
    ),
    "stop accepted": Row(
        deleting(seen=inst("RUNNING"), outcome=Outcome()), Act.WAIT, "Deleting", info=("Stopping",)
    ),
    "release accepted": Row(
        deleting(seen=inst("CLOSED"), outcome=Outcome()),
        Act.WAIT,
        "Deleting",
        info=("Releasing",),
    ),
    "release answered 'moved meanwhile'": Row(
        deleting(seen=inst("CLOSED"), outcome=Outcome(error=err(WrongState, "52007"))),
        Act.WAIT,
        "Deleting",
        gate="backoff",
    ),
    "52009 for a stopped prepaid instance: left to expire": Row(
        deleting(seen=PREPAID, outcome=REFUSED),
        Act.FINISH,
        gate="none",
        warn=("PrepaidNotExpired",),
    ),
    "52009 for pay-as-you-go: keep trying": Row(
        deleting(seen=inst("CLOSED", expire_at=NOW + 3600), outcome=REFUSED),
        Act.WAIT,
        "PrepaidNotExpired",
        gate="slow",
    ),
    "52009 with the expiry passed: keep trying": Row(
        deleting(seen=inst("CLOSED", prepaid=True, expire_at=NOW - 1), outcome=REFUSED),
        Act.WAIT,
        "PrepaidNotExpired",
        gate="slow",
    ),
    "52009 with no expiry known: keep trying": Row(
        deleting(seen=inst("CLOSED", prepaid=True), outcome=REFUSED),
        Act.WAIT,
        "PrepaidNotExpired",
        gate="slow",
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_deletion_table(row: Row) -> None:
    d = decide(row.view)
    assert d.act is row.act
    if row.reason is None:
        assert "conditions" not in d.status
    else:
        assert ready_of(d)["reason"] == row.reason
        assert ready_of(d)["status"] == "False"
    assert d.gate.retry == row.gate
    assert tuple(warnings(d)) == row.warn
    assert tuple(infos(d)) == row.info


def test_cfgpu_down_while_deleting_says_so_on_synced() -> None:
    d = decide(deleting(observed=Observed(True, error=err(Unavailable))))
    assert (synced_of(d)["status"], synced_of(d)["reason"]) == ("False", "ApiUnavailable")


def test_a_found_instance_is_recorded_before_it_is_released() -> None:
    d = decide(deleting({"instanceName": NAME}, search=Search((ID,)), seen=inst("CLOSED")))
    assert d.status["instanceId"] == ID
    assert d.args["instance_id"] == ID


def test_released_instance_shows_the_phase() -> None:
    assert decide(deleting(observed=GONE)).status["phase"] == "Released"
