"""Finding an instance by its deterministic name before renting another."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Match:
    kind: Literal["none", "one", "ambiguous"]
    instance_ids: tuple[str, ...] = ()


def match_by_name(records: Iterable[tuple[str, str, str]], name: str) -> Match:
    """``records`` are (instance id, name, statusCode) from instance/page's keyWord search,
    which matches substrings: only exact names count, and released instances never do."""
    ids = tuple(sorted(i for i, n, code in records if n == name and code != "RELEASED"))
    if not ids:
        return Match("none")
    return Match("one", ids) if len(ids) == 1 else Match("ambiguous", ids)
