"""What deleting a GpuInstance does next, from status alone plus what CFGPU shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cfgpu_operator.reconcile.gpuinstance import TRANSIENT, Seen

DeleteKind = Literal["done", "search", "stop", "release", "wait"]


@dataclass(frozen=True)
class DeleteStep:
    kind: DeleteKind
    message: str


def plan_delete(
    policy: str, instance_id: str | None, intent_name: str | None, seen: Seen | None
) -> DeleteStep:
    """``seen`` None means CFGPU does not know the instance (a missing one counts as deleted)."""
    if policy == "Orphan":
        return DeleteStep("done", "deletionPolicy Orphan: the instance is left as it is")
    if instance_id is None:
        if intent_name is None:
            return DeleteStep("done", "no instance was ever created")
        return DeleteStep("search", f"looking for instance {intent_name} created before a crash")
    if seen is None or seen.status_code == "RELEASED":
        return DeleteStep("done", f"instance {instance_id} is released")
    if seen.status_code in TRANSIENT:
        return DeleteStep("wait", f"instance {instance_id} is {seen.status_code}")
    if seen.status_code == "RUNNING":
        return DeleteStep("stop", f"stopping instance {instance_id} before releasing it")
    return DeleteStep("release", f"releasing instance {instance_id}")
