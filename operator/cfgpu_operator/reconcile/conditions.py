"""Status conditions: set one, keeping lastTransitionTime unless its status changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cfgpu_operator.models.common import LABEL, TEXT

ConditionStatus = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Cond:
    type: Literal["Ready", "Synced", "Exceeded"]
    status: ConditionStatus
    reason: str
    message: str = ""


def clip(text: str, limit: int = TEXT) -> str:
    """``text`` cut to what the CRD schema accepts, marked as cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def set_condition(
    existing: list[dict[str, Any]], cond: Cond, generation: int | None, now: str
) -> list[dict[str, Any]]:
    """A new conditions list with ``cond`` replacing the one of its type."""
    previous = next((c for c in existing if c.get("type") == cond.type), None)
    changed = previous is None or previous.get("status") != cond.status
    entry = {
        "type": cond.type,
        "status": cond.status,
        "reason": clip(cond.reason, LABEL),
        "message": clip(cond.message),
        "observedGeneration": generation,
        "lastTransitionTime": now if changed else previous.get("lastTransitionTime", now),  # type: ignore[union-attr]
    }
    others = [c for c in existing if c.get("type") != cond.type]
    return sorted([*others, entry], key=lambda c: str(c.get("type")))


def condition(existing: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((c for c in existing if c.get("type") == kind), None)
