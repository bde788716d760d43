"""Every reason the operator can write is in the operations guide's tables, and nothing else
is."""

from __future__ import annotations

import re
from pathlib import Path

from cfgpu_operator.reconcile.reasons import EventReason, Reason

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text("utf-8")


def _tables() -> list[set[str]]:
    """The names in the first column of each table in "Reasons and Events"."""
    section = GUIDE.split("## Reasons and Events", 1)[1].split("\n## ", 1)[0]
    tables: list[set[str]] = []
    in_table = False
    for line in section.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        if not in_table:
            tables.append(set())
            in_table = True
            continue  # the header row
        first = line.split("|")[1]
        tables[-1].update(re.findall(r"`([A-Za-z]+)`", first))
    return tables


def test_condition_reasons_match_the_guide_both_ways() -> None:
    conditions = _tables()[0]
    assert conditions == {r.value for r in Reason}


def test_event_reasons_match_the_guide_both_ways() -> None:
    events = _tables()[1]
    assert events == {r.value for r in EventReason}
