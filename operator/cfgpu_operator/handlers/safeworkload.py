"""Kopf wiring for SafeWorkload: every trigger, deletion included, funnels into one pipeline
run of the same decision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from cfgpu_operator.handlers import requeue
from cfgpu_operator.handlers.objects import ObjectState
from cfgpu_operator.handlers.pipeline import FirstValues, run_delete, run_sync
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
RECORDS = (Act.RECORD_ID, Act.RECORD_SUBMIT, Act.RECORD_RESUME)


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    interval = rt.settings.CFGPU_OPERATOR_RECONCILE_INTERVAL

    async def sync(*, body: kopf.Body, patch: kopf.Patch, uid: str, **kwargs: Any) -> None:
        ready = FirstValues(kwargs["gpu_instance_ready"])
        ids = FirstValues(kwargs["safe_workload_ids"])

        def build(status: Mapping[str, Any], state: ObjectState) -> SafeWorkloadAdapter:
            return SafeWorkloadAdapter(rt, body, status, state, gpu_ready=ready, workload_ids=ids)

        decision = await run_sync(rt, KIND, uid, body, patch, build)
        if decision is not None and decision.act in RECORDS:
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
        def build(status: Mapping[str, Any], state: ObjectState) -> SafeWorkloadAdapter:
            return SafeWorkloadAdapter(rt, body, status, state, deleting=True)

        await run_delete(rt, KIND, uid, body, patch, build, Act.FINISH)
