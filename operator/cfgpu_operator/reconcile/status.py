"""Status times, and the minimal merge patch that brings a stored status to a decided one."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any


def rfc3339(ms: int | None) -> str | None:
    """CFGPU's millisecond timestamps as Kubernetes writes times."""
    return rfc3339_of(datetime.fromtimestamp(ms / 1000, UTC)) if ms else None


def rfc3339_of(value: datetime | None) -> str | None:
    """A time as Kubernetes writes it (UTC, with its ``Z``)."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def quantity(size: int | None) -> str | None:
    """Bytes as a Kubernetes quantity in the largest binary unit that divides them (60Gi)."""
    if size is None:
        return None
    for suffix, unit in (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def epoch(stamp: str) -> float:
    """Seconds since the epoch of a Kubernetes RFC 3339 time (``...Z``)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def changes(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """Only the keys whose value differs; None removes a field (merge-patch semantics), and
    is left out when the field is absent already."""
    return {key: value for key, value in desired.items() if not shows(current, key, value)}


def write_changes(
    target: MutableMapping[str, Any], current: dict[str, Any], desired: dict[str, Any]
) -> None:
    """Put into ``target`` (a handler's status patch) only what differs from ``current``:
    the status as this process last left it, so a patch still in flight is not sent twice
    (once it is no longer trusted, ``current`` is the stored status and a lost one is)."""
    target.update(changes(current, desired))


def shows(seen: Mapping[str, Any], key: str, value: Any) -> bool:
    """Whether a stored status already holds what a merge patch wrote to ``key``."""
    return key not in seen if value is None else seen.get(key) == pruned(value)


def pruned(value: Any) -> Any:
    """A merge patch's value as stored: None inside an object removes that field."""
    if isinstance(value, Mapping):
        return {k: pruned(v) for k, v in value.items() if v is not None}
    return value


# How long a patch the stored status does not show is trusted over it. Watch events are
# normally milliseconds late; past this, the stored status wins: someone edited it by hand
# (kubectl edit --subresource=status), or the patch never landed.
TRUST_UNSEEN = 5.0


def unseen(
    seen: Mapping[str, Any], written: Mapping[str, tuple[Any, float]], now: float
) -> dict[str, tuple[Any, float]]:
    """What was written (value, when) that the stored status does not show yet."""
    return {
        key: (value, at)
        for key, (value, at) in written.items()
        if not shows(seen, key, value) and now - at < TRUST_UNSEEN
    }


def overlay(seen: Mapping[str, Any], written: Mapping[str, Any]) -> dict[str, Any]:
    """``seen`` with ``written`` applied as a top-level merge patch (None removes)."""
    out = {**seen, **written}
    return {key: pruned(value) for key, value in out.items() if value is not None}
