"""What a SafeWorkload does beyond its platform workload: details mirrored into status, and
the hand-over of its GpuInstances when it ends."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import kopf

from cfgpu_operator.clients.safe import SafeClient
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.models.gpuinstance import PLURAL as GPU_PLURAL

MAX_CONDITIONS = 20


async def details(client: SafeClient, workload_id: str) -> dict[str, Any]:
    """Status fields only a GET shows: platform conditions, pods and nodes (one call, made
    when the phase or the dispatch count changes, not on every poll)."""
    detail = await client.get_workload(workload_id)
    conditions = [
        {
            "type": c.type,
            "status": c.status,
            "reason": c.reason,
            "message": c.message,
            "lastTransitionTime": c.last_transition_time,
        }
        for c in detail.conditions
    ][-MAX_CONDITIONS:]
    running = sum(1 for pod in detail.pods if pod.phase == "Running")
    return {
        "platformConditions": conditions,
        "nodes": detail.nodes[-1] if detail.nodes else [],
        "pods": {"total": len(detail.pods), "running": running},
    }


async def hand_over(
    rt: Runtime, body: kopf.Body, status: Mapping[str, Any], patch: kopf.Patch
) -> None:
    """Apply onComplete.gpuInstances once: Stop sets their spec.state, Release deletes them.
    Both are idempotent, so a crash before the status flag is written repeats them safely."""
    spec = body.get("spec", {})
    action = (spec.get("onComplete") or {}).get("gpuInstances", "Keep")
    refs = spec.get("gpuInstanceRefs") or []
    if action == "Keep" or not refs or status.get("gpuInstancesApplied"):
        return
    namespace, api = body["metadata"]["namespace"], rt.custom_objects()
    for name in refs:
        await asyncio.to_thread(_apply, api, action, namespace, name)
    patch.status["gpuInstancesApplied"] = True
    verb = "stopped" if action == "Stop" else "released"
    kopf.info(
        body,
        reason=f"GpuInstances{action.title()}",
        message=f"{verb} GpuInstances {', '.join(refs)} as onComplete asks",
    )


def _apply(api: Any, action: str, namespace: str, name: str) -> None:
    from kubernetes.client import ApiException

    try:
        if action == "Stop":
            api.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, GPU_PLURAL, name, {"spec": {"state": "Stopped"}}
            )
        else:
            api.delete_namespaced_custom_object(GROUP, VERSION, namespace, GPU_PLURAL, name)
    except ApiException as exc:
        if exc.status != 404:  # already gone is what Release wants, and Stop cannot help
            raise
