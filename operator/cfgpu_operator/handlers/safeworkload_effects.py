"""What a SafeWorkload does beyond its platform workload: the hand-over of its GpuInstances
when it ends (onComplete.gpuInstances)."""

from __future__ import annotations

import asyncio
from typing import Any

from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.models.gpuinstance import PLURAL as GPU_PLURAL
from cfgpu_operator.models.safeworkload import SafeWorkloadSpec


async def hand_over(rt: Runtime, spec: SafeWorkloadSpec, namespace: str) -> None:
    """Stop sets the GpuInstances' spec.state, Release deletes them. Both are idempotent, so
    a crash before status records it repeats them safely."""
    api = rt.custom_objects()
    for name in spec.gpu_instance_refs:
        await asyncio.to_thread(_apply, api, spec.on_complete.gpu_instances, namespace, name)


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
