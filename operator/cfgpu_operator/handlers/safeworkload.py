"""Kopf wiring for SafeWorkload: every trigger funnels into the same reconcile; deletion
stops and deletes the platform workload (or leaves it, per policy)."""

from __future__ import annotations

from typing import Any

import kopf

from cfgpu_operator import logs
from cfgpu_operator.errors import ApiError, NotFound
from cfgpu_operator.handlers import requeue
from cfgpu_operator.handlers.observability import reconciling
from cfgpu_operator.handlers.runtime import CredentialsError, Runtime
from cfgpu_operator.handlers.safeworkload_sync import SyncWorkload
from cfgpu_operator.handlers.wiring import register_reconcile
from cfgpu_operator.models import gpuinstance, safeworkload
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.reconcile.verdicts import backoff_delay

KIND = safeworkload.KIND
RESOURCE = (GROUP, VERSION, safeworkload.PLURAL)
GPU_RESOURCE = (GROUP, VERSION, gpuinstance.PLURAL)


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    interval = rt.settings.CFGPU_OPERATOR_RECONCILE_INTERVAL

    async def reconcile(*, body: kopf.Body, patch: kopf.Patch, uid: str, **kwargs: Any) -> None:
        ready: kopf.Index[tuple[str, str], bool] = kwargs["gpu_instance_ready"]
        ids: kopf.Index[tuple[str, str], str] = kwargs["safe_workload_ids"]
        state = rt.state(uid)
        async with state.lock:
            with reconciling(KIND, uid, body, patch, state) as status:
                await SyncWorkload(rt, body, patch, status, state, _first(ready), _first(ids)).run()

    register_reconcile(registry, RESOURCE, "safeworkload", reconcile, interval)

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
    async def deleted(*, body: kopf.Body, uid: str, retry: int, **_: Any) -> None:
        state = rt.state(uid)
        async with state.lock:
            with logs.about(KIND, body.metadata.namespace, body.metadata.name):
                await _delete(rt, body, state.view(body), retry)
        rt.forget(uid)


def _first(index: Any) -> dict[Any, Any]:
    return {key: next(iter(values), None) for key, values in index.items()}


async def _delete(rt: Runtime, body: kopf.Body, status: dict[str, Any], retry: int) -> None:
    spec = body.get("spec", {})
    wid = status.get("workloadId")
    if spec.get("deletionPolicy") == "Orphan" or wid is None or not status.get("submittedAt"):
        kopf.info(
            body,
            reason="Deleted",
            message="nothing to delete on the platform"
            if wid is None or not status.get("submittedAt")
            else "deletionPolicy Orphan: the workload is left as it is",
        )
        return
    try:
        token = await rt.safe_token_for(
            body["metadata"]["namespace"], spec.get("credentialsSecretRef")
        )
        client = rt.safe_account(token).client
        try:
            await client.get_workload(wid)
        except NotFound:
            kopf.info(body, reason="Deleted", message=f"workload {wid} is gone")
            return
        await client.delete_workload(wid)  # stops it too; 200 for unknown ids
        kopf.info(body, reason="Deleting", message=f"stopped and deleted workload {wid}")
    except (ApiError, CredentialsError) as exc:
        settings = rt.settings
        delay = backoff_delay(
            retry,
            base=settings.CFGPU_OPERATOR_BACKOFF_BASE,
            cap=settings.CFGPU_OPERATOR_BACKOFF_MAX,
        )
        raise kopf.TemporaryError(f"deleting workload {wid}: {exc}", delay=delay) from None
    requeue.wait(f"waiting for workload {wid} to be gone", rt.settings.CFGPU_OPERATOR_POLL_FAST)
