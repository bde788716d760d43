"""Kopf wiring for SafeWorkload: every trigger, deletion included, funnels into one pipeline
run of the same decision."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from cfgpu_operator import logs
from cfgpu_operator.handlers import requeue
from cfgpu_operator.handlers.observability import reconciling
from cfgpu_operator.handlers.pipeline import InvalidObject, Target, reconcile, requeue_delay
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.handlers.safeworkload_sync import SafeWorkloadAdapter
from cfgpu_operator.handlers.wiring import register_reconcile
from cfgpu_operator.models import gpuinstance, safeworkload
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.reconcile.safeworkload_view import Act

KIND = safeworkload.KIND
RESOURCE = (GROUP, VERSION, safeworkload.PLURAL)
GPU_RESOURCE = (GROUP, VERSION, gpuinstance.PLURAL)
# Recording the id or the submit time is a status write: come straight back.
AFTER_RECORD = 0.1

log = logging.getLogger("cfgpu_operator.safeworkload")


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    interval = rt.settings.CFGPU_OPERATOR_RECONCILE_INTERVAL

    async def sync(*, body: kopf.Body, patch: kopf.Patch, uid: str, **kwargs: Any) -> None:
        ready = _first(kwargs["gpu_instance_ready"])
        ids = _first(kwargs["safe_workload_ids"])
        state = rt.state(uid)
        async with state.lock:
            with reconciling(KIND, uid, body, patch, state) as status:
                try:
                    adapter = SafeWorkloadAdapter(
                        rt, body, status, state, gpu_ready=ready, workload_ids=ids
                    )
                except InvalidObject as exc:
                    log.error("cannot read the stored object (%s); not acting on it", exc)
                    return
                target = Target(body, patch, state, status, rt.settings)
                decision = await reconcile(adapter, target)
        if decision.act in (Act.RECORD_ID, Act.RECORD_SUBMIT):
            requeue.wait(str(decision.args.get("message", "recorded")), AFTER_RECORD)

    register_reconcile(registry, RESOURCE, "safeworkload", sync, interval)

    @kopf.index(*GPU_RESOURCE, id="gpu_instance_ready", registry=registry)
    def gpu_instance_ready(
        *, status: kopf.Status, namespace: str | None, name: str, **_: Any
    ) -> dict[tuple[str, str], bool]:
        conditions = status.get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        return {(namespace or "", name): ready}

    @kopf.index(*RESOURCE, id="safe_workload_ids", registry=registry)
    def safe_workload_ids(
        *, status: kopf.Status, namespace: str | None, name: str, **_: Any
    ) -> dict[tuple[str, str], str]:
        wid = status.get("workloadId")
        return {(namespace or "", name): wid} if wid and status.get("submittedAt") else {}

    @kopf.on.delete(*RESOURCE, id="safeworkload-delete", registry=registry)
    async def deleted(*, body: kopf.Body, patch: kopf.Patch, uid: str, **_: Any) -> None:
        state = rt.state(uid)
        async with state.lock:
            with logs.about(KIND, body.metadata.namespace, body.metadata.name):
                status = state.view(body)
                try:
                    adapter = SafeWorkloadAdapter(rt, body, status, state, deleting=True)
                    target = Target(body, patch, state, status, rt.settings)
                    decision = await reconcile(adapter, target)
                finally:
                    state.remember(patch)
        if decision.act is not Act.FINISH:
            wid = status.get("workloadId")
            message = f"waiting for workload {wid} to be gone"
            requeue.wait(message, requeue_delay(decision.gate, state, rt.settings))
        await rt.forget(uid)


def _first(index: Any) -> dict[Any, Any]:
    return {key: next(iter(values), None) for key, values in index.items()}
