"""Kopf wiring for GpuQuota: its limit goes into the ledger the GpuInstance decisions read,
and its status says what is held against it, refreshed every reconcile interval."""

from __future__ import annotations

import time
from typing import Any

import kopf

from cfgpu_operator.handlers.quotas import limit_of
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.models.gpuquota import PLURAL, GpuQuotaSpec
from cfgpu_operator.reconcile import status as status_fields
from cfgpu_operator.reconcile.conditions import Cond, set_condition
from cfgpu_operator.reconcile.decision import stamp
from cfgpu_operator.reconcile.quota import report
from cfgpu_operator.reconcile.quota_period import book_of, count, forget_gone, period_start
from cfgpu_operator.reconcile.reasons import Reason
from cfgpu_operator.reconcile.schedule import zone_problem as problem

RESOURCE = (GROUP, VERSION, PLURAL)


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    ledger = rt.quotas
    interval = rt.settings.CFGPU_OPERATOR_RECONCILE_INTERVAL

    def refresh(body: kopf.Body, patch: kopf.Patch) -> None:
        meta = body["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        spec = GpuQuotaSpec.model_validate(dict(body.get("spec") or {}))
        current = dict(body.get("status") or {})
        now = time.time()
        usage = ledger.usage(namespace)
        book = book_of(current)
        zone = problem(spec.time_zone)
        if zone is None:
            start = period_start(spec.period, spec.time_zone, now)
            book = forget_gone(count(book, usage, start), usage)
        limit = limit_of(name, spec, book)
        ledger.set_quota(namespace, limit, book)
        ledger.settle_stops(namespace)
        conditions = list(current.get("conditions") or [])
        desired = report(
            limit,
            ledger.used(namespace),
            ledger.waiting(namespace),
            book,
            conditions,
            meta.get("generation"),
            stamp(now),
        )
        if zone is not None:
            bad = Cond("Ready", "False", Reason.INVALID_SPEC, zone)
            desired["conditions"] = set_condition(
                desired["conditions"], bad, meta.get("generation"), stamp(now)
            )
        gone = {uid: None for uid in current.get("counted") or {} if uid not in book.counted}
        desired["counted"] = {**gone, **desired["counted"]}
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
