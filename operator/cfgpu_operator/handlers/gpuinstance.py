"""Kopf wiring for GpuInstance: every trigger funnels into the same reconcile."""

from __future__ import annotations

from typing import Any

import kopf

from cfgpu_operator import logs
from cfgpu_operator.handlers.gpuinstance_delete import delete
from cfgpu_operator.handlers.gpuinstance_sync import Sync
from cfgpu_operator.handlers.observability import reconciling
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.handlers.wiring import register_reconcile
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.models.gpuinstance import KIND, PLURAL

RESOURCE = (GROUP, VERSION, PLURAL)


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    interval = rt.settings.CFGPU_OPERATOR_RECONCILE_INTERVAL

    async def reconcile(*, body: kopf.Body, patch: kopf.Patch, uid: str, **kwargs: Any) -> None:
        index: kopf.Index[str, str] = kwargs["managed_instances"]
        state = rt.state(uid)
        managed = {key: next(iter(owners), "") for key, owners in index.items()}
        async with state.lock:
            with reconciling(KIND, uid, body, patch, state) as status:
                await Sync(rt, body, patch, status, managed, state).run()

    register_reconcile(registry, RESOURCE, "gpuinstance", reconcile, interval)

    @kopf.index(*RESOURCE, id="managed_instances", registry=registry)
    def managed_instances(
        *, status: kopf.Status, namespace: str | None, name: str, **_: Any
    ) -> dict[str, str]:
        instance_id = status.get("instanceId")
        return {instance_id: f"{namespace}/{name}"} if instance_id else {}

    @kopf.on.delete(*RESOURCE, id="gpuinstance-delete", registry=registry)
    async def deleted(
        *, body: kopf.Body, patch: kopf.Patch, uid: str, retry: int, **_: Any
    ) -> None:
        state = rt.state(uid)
        async with state.lock:
            with logs.about(KIND, body.metadata.namespace, body.metadata.name):
                try:
                    await delete(rt, body, patch, retry, state)
                finally:
                    state.remember(patch)
        rt.forget(uid)
