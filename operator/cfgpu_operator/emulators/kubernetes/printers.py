"""Server-side printing of built-in kinds: the columns a real API server's printers give.

Only Events so far (``kubectl get events``); other built-ins print NAME and AGE. Events of
``events.k8s.io/v1`` are printed from their own fields (regarding, note, deprecated*), which
the real server converts to the core fields before it prints.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

Human = Callable[[float], str]  # seconds -> "5m", as the AGE column shows them
Row = Callable[[dict[str, Any], float, Human], list[Any]]

_EVENT_COLUMNS = (
    ("Last Seen", 0, ""),
    ("Type", 0, ""),
    ("Reason", 0, ""),
    ("Object", 0, ""),
    ("Subobject", 1, ""),
    ("Source", 1, ""),
    ("Message", 0, ""),
    ("First Seen", 1, ""),
    ("Count", 1, ""),
    ("Name", 1, "name"),
)
EVENT_COLUMNS = [
    {"name": name, "type": "string", "format": fmt, "description": "", "priority": priority}
    for name, priority, fmt in _EVENT_COLUMNS
]


def since(stamp: Any, now: float, human: Human) -> str | None:
    """translateTimestampSince: the age of an RFC 3339 time; None for none (or no time)."""
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return human(now - at)


def event_row(obj: dict[str, Any], now: float, human: Human) -> list[Any]:
    """printEvent of the Kubernetes printers, wide (kubectl hides priority 1 columns)."""
    new_api = "regarding" in obj or "note" in obj
    ref = obj.get("regarding" if new_api else "involvedObject") or {}
    source = obj.get("deprecatedSource" if new_api else "source") or {}
    first_key, last_key, count_key = (
        ("deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount")
        if new_api
        else ("firstTimestamp", "lastTimestamp", "count")
    )
    first = since(obj.get(first_key), now, human) or since(obj.get("eventTime"), now, human)
    last = since(obj.get(last_key), now, human) or first
    count = obj.get(count_key) or 1
    series = obj.get("series")
    if isinstance(series, dict):
        last = since(series.get("lastObservedTime"), now, human) or last
        count = series.get("count") or count
    kind = str(ref.get("kind") or "").lower()
    target = f"{kind}/{ref['name']}" if ref.get("name") else kind
    component = source.get("component") or obj.get("reportingController") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    message = str(obj.get("note" if new_api else "message") or "").strip()
    return [
        last or "<unknown>",
        obj.get("type") or "",
        obj.get("reason") or "",
        target,
        ref.get("fieldPath") or "",
        f"{component}, {instance}" if instance else component,
        message,
        first or "<unknown>",
        int(count),
        obj["metadata"]["name"],
    ]


PRINTERS: dict[tuple[str, str], tuple[list[dict[str, Any]], Row]] = {
    ("", "events"): (EVENT_COLUMNS, event_row),
    ("events.k8s.io", "events"): (EVENT_COLUMNS, event_row),
}
