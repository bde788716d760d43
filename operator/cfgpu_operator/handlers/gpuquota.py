"""Kopf wiring for GpuQuota: its limit goes into the ledger the GpuInstance decisions read,
and its status says what is held against it, refreshed every reconcile interval."""

from __future__ import annotations

import time
from typing import Any

import kopf

from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.models.gpuquota import PLURAL, GpuQuotaSpec
from cfgpu_operator.reconcile import status as status_fields
from cfgpu_operator.reconcile.decision import stamp
from cfgpu_operator.reconcile.quota import Limit, report

RESOURCE = (GROUP, VERSION, PLURAL)


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    ledger = rt.quotas
    interval = rt.settings.CFGPU_OPERATOR_RECONCILE_INTERVAL

    def refresh(body: kopf.Body, patch: kopf.Patch) -> None:
        meta = body["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        spec = GpuQuotaSpec.model_validate(dict(body.get("spec") or {}))
        ledger.set_quota(namespace, name, spec.max_gpus)
        current = dict(body.get("status") or {})
        desired = report(
            Limit(name, spec.max_gpus),
            ledger.used(namespace),
            ledger.waiting(namespace),
            list(current.get("conditions") or []),
            meta.get("generation"),
            stamp(time.time()),
        )
        status_fields.write_changes(patch.status, current, desired)

    @kopf.on.resume(*RESOURCE, id="gpuquota-resume", registry=registry)
    @kopf.on.create(*RESOURCE, id="gpuquota-create", registry=registry)
    @kopf.on.update(*RESOURCE, id="gpuquota-update", registry=registry)
    async def changed(*, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        refresh(body, patch)

    @kopf.timer(*RESOURCE, id="gpuquota-status", interval=interval, registry=registry)
    async def tick(*, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        refresh(body, patch)

    # No finalizer: a deleted quota only stops limiting; nothing outside needs cleaning up.
    @kopf.on.delete(*RESOURCE, id="gpuquota-delete", registry=registry, optional=True)
    async def deleted(*, body: kopf.Body, **_: Any) -> None:
        meta = body["metadata"]
        ledger.drop_quota(str(meta["namespace"]), str(meta["name"]))
