"""Orphans: instances this cluster named that no GpuInstance records.

Only names this cluster gave (``k8sc-<cluster id>-...``) can be proved ours: names of the
earlier form (``k8s-<namespace>-...``), of other clusters sharing the account and of
people are never orphans. An instance counts once it has gone unrecorded for the grace
period, as seen by this process, so a create whose id is not stored yet, or an adoption not
yet reconciled, is not one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Statuses that cost nothing and need nothing done.
GONE = frozenset({"RELEASED", "RELEASING"})


@dataclass(frozen=True)
class Listed:
    """One instance of an account's listing."""

    instance_id: str
    name: str
    status: str
    created_ms: int | None = None  # when CFGPU created it (its milliseconds)
    gpu_type: str | None = None  # code
    gpu_name: str | None = None
    gpus: int | None = None
    prepaid: bool = False


@dataclass(frozen=True)
class Known:
    """What the GpuInstances of this cluster record or claim."""

    ids: frozenset[str] = frozenset()  # status.instanceId and spec.instanceId
    names: frozenset[str] = frozenset()  # status.instanceName


@dataclass(frozen=True)
class Review:
    orphans: tuple[Listed, ...]
    first_seen: dict[str, float]  # instance id -> when seen unrecorded first


def prefix(cluster_id: str) -> str:
    return f"k8sc-{cluster_id}-"


def review(
    listing: Iterable[Listed],
    known: Known,
    cluster_id: str,
    first_seen: Mapping[str, float],
    now: float,
    grace: float,
) -> Review:
    """The orphans of one listing; ``first_seen`` carries over from the review before (an
    instance recorded meanwhile, or gone, drops out of it)."""
    ours = prefix(cluster_id)
    seen: dict[str, float] = {}
    orphans: list[Listed] = []
    for item in listing:
        if not item.name.startswith(ours) or item.status in GONE:
            continue
        if item.instance_id in known.ids or item.name in known.names:
            continue
        since = seen[item.instance_id] = first_seen.get(item.instance_id, now)
        if now - since >= grace:
            orphans.append(item)
    return Review(tuple(orphans), seen)
