"""Which listed instances are orphans: a table of listings and what the cluster records."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cfgpu_operator.reconcile.orphans import Known, Listed, review

CID = "c0ffee"
OURS = "k8sc-c0ffee-ml-trainer-5f0c3a1e"
GRACE = 600.0
NOTHING = Known()


@dataclass(frozen=True)
class Row:
    item: Listed
    known: Known = NOTHING
    first_seen: float | None = None  # when an earlier review first saw it unrecorded
    orphan: bool = False


def listed(name: str = OURS, status: str = "RUNNING", instance_id: str = "i-1") -> Listed:
    return Listed(instance_id, name, status)


ROWS = {
    "ours, unrecorded past the grace period": Row(listed(), first_seen=0.0, orphan=True),
    "ours, stopped, past the grace period": Row(
        listed(status="CLOSED"), first_seen=0.0, orphan=True
    ),
    "ours, unrecorded, seen only now": Row(listed()),
    "ours, unrecorded for less than the grace period": Row(listed(), first_seen=GRACE / 2),
    "ours, its id recorded": Row(listed(), Known(ids=frozenset({"i-1"})), first_seen=0.0),
    "ours, its name recorded before its id": Row(
        listed(), Known(names=frozenset({OURS})), first_seen=0.0
    ),
    "ours, released": Row(listed(status="RELEASED"), first_seen=0.0),
    "ours, being released": Row(listed(status="RELEASING"), first_seen=0.0),
    "another cluster's": Row(listed("k8sc-beef01-ml-trainer-5f0c3a1e"), first_seen=0.0),
    "the earlier form, no cluster id": Row(listed("k8s-c0ffee-trainer-5f0c3a1e"), first_seen=0.0),
    "a person's": Row(listed("My-GPU-Instance"), first_seen=0.0),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_orphans(row: Row) -> None:
    now = float(GRACE)
    seen = {} if row.first_seen is None else {row.item.instance_id: row.first_seen}
    result = review([row.item], row.known, CID, seen, now, GRACE)
    assert (result.orphans == (row.item,)) is row.orphan


def test_first_seen_is_kept_for_the_unrecorded_and_dropped_for_the_rest() -> None:
    a, b, c = listed(instance_id="a"), listed(instance_id="b"), listed("x", instance_id="c")
    first = review([a, b, c], Known(), CID, {}, now=10.0, grace=GRACE)
    assert first.first_seen == {"a": 10.0, "b": 10.0}
    later = review([a, b], Known(ids=frozenset({"b"})), CID, first.first_seen, 700.0, GRACE)
    assert later.first_seen == {"a": 10.0}  # b is recorded now
    assert later.orphans == (a,)
    gone = review([], Known(), CID, later.first_seen, 800.0, GRACE)
    assert gone.first_seen == {}
