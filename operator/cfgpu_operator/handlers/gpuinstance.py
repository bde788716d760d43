"""Kopf wiring for GpuInstance: every trigger, deletion included, funnels into one pipeline
run of the same decision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from cfgpu_operator.handlers import requeue
from cfgpu_operator.handlers.gpuinstance_sync import KIND, GpuInstanceAdapter
from cfgpu_operator.handlers.objects import ObjectState
from cfgpu_operator.handlers.pipeline import first_values, run_delete, run_sync
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.handlers.wiring import register_reconcile
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.models.gpuinstance import PLURAL
from cfgpu_operator.reconcile.gpuinstance_view import Act

RESOURCE = (GROUP, VERSION, PLURAL)
# Recording the name is a status write: come straight back to rent.
AFTER_INTENT = 0.1


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    interval = rt.settings.CFGPU_OPERATOR_RECONCILE_INTERVAL

    async def sync(*, body: kopf.Body, patch: kopf.Patch, uid: str, **kwargs: Any) -> None:
        owners = first_values(kwargs["managed_instances"])

        def build(status: Mapping[str, Any], state: ObjectState) -> GpuInstanceAdapter:
            return GpuInstanceAdapter(rt, body, status, state, owners)

        decision = await run_sync(rt, KIND, uid, body, patch, build)
        if decision is not None and decision.act is Act.RECORD_INTENT:
            requeue.wait("recorded the instance name; renting next", AFTER_INTENT)

    register_reconcile(registry, RESOURCE, "gpuinstance", sync, interval)

    @kopf.index(*RESOURCE, id="managed_instances", registry=registry)
    def managed_instances(
        *, status: kopf.Status, namespace: str | None, name: str, **_: Any
    ) -> dict[str, str]:
        instance_id = status.get("instanceId")
        return {instance_id: f"{namespace}/{name}"} if instance_id else {}

    @kopf.on.delete(*RESOURCE, id="gpuinstance-delete", registry=registry)
    async def deleted(*, body: kopf.Body, patch: kopf.Patch, uid: str, **kwargs: Any) -> None:
        owners = first_values(kwargs["managed_instances"])

        def build(status: Mapping[str, Any], state: ObjectState) -> GpuInstanceAdapter:
            return GpuInstanceAdapter(rt, body, status, state, owners, deleting=True)

        await run_delete(rt, KIND, uid, body, patch, build, Act.FINISH)
