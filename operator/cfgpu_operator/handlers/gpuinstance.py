"""Kopf wiring for GpuInstance: every trigger, deletion included, funnels into one pipeline
run of the same decision."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from cfgpu_operator import logs
from cfgpu_operator.handlers import requeue
from cfgpu_operator.handlers.gpuinstance_sync import KIND, GpuInstanceAdapter
from cfgpu_operator.handlers.observability import reconciling
from cfgpu_operator.handlers.pipeline import InvalidObject, Target, reconcile, requeue_delay
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.handlers.wiring import register_reconcile
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.models.gpuinstance import PLURAL
from cfgpu_operator.reconcile.gpuinstance_view import Act

RESOURCE = (GROUP, VERSION, PLURAL)
# Recording the name is a status write: come straight back to rent.
AFTER_INTENT = 0.1

log = logging.getLogger("cfgpu_operator.gpuinstance")


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    interval = rt.settings.CFGPU_OPERATOR_RECONCILE_INTERVAL

    async def sync(*, body: kopf.Body, patch: kopf.Patch, uid: str, **kwargs: Any) -> None:
        owners = _owners(kwargs["managed_instances"])
        state = rt.state(uid)
        async with state.lock:
            with reconciling(KIND, uid, body, patch, state) as status:
                try:
                    adapter = GpuInstanceAdapter(rt, body, status, state, owners)
                except InvalidObject as exc:
                    log.error("cannot read the stored object (%s); not acting on it", exc)
                    return
                target = Target(body, patch, state, status, rt.settings)
                decision = await reconcile(adapter, target)
        if decision.act is Act.RECORD_INTENT:
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
        owners = _owners(kwargs["managed_instances"])
        state = rt.state(uid)
        async with state.lock:
            with logs.about(KIND, body.metadata.namespace, body.metadata.name):
                status = state.view(body)
                try:
                    adapter = GpuInstanceAdapter(rt, body, status, state, owners, deleting=True)
                    target = Target(body, patch, state, status, rt.settings)
                    decision = await reconcile(adapter, target)
                finally:
                    state.remember(patch)
        if decision.act is not Act.FINISH:
            message = _waiting_message(decision.status) or "waiting for the instance"
            requeue.wait(message, requeue_delay(decision.gate, state, rt.settings))
        await rt.forget(uid)


def _owners(index: kopf.Index[str, str]) -> dict[str, str]:
    return {key: next(iter(owners), "") for key, owners in index.items()}


def _waiting_message(status: dict[str, Any]) -> str:
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "False":
            return str(cond.get("message") or cond.get("reason") or "")
    return ""
