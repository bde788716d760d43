"""Kopf wiring for SafeWorkload: every trigger, deletion included, funnels into one pipeline
run of the same decision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from cfgpu_operator.handlers import requeue
from cfgpu_operator.handlers.objects import ObjectState
from cfgpu_operator.handlers.pipeline import Build, Target, run_delete, run_sync, write_now
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.handlers.safeworkload_sync import SafeWorkloadAdapter
from cfgpu_operator.handlers.wiring import register_reconcile
from cfgpu_operator.models import safeworkload
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.reconcile.decision import Decision
from cfgpu_operator.reconcile.safeworkload_view import Act

KIND = safeworkload.KIND
RESOURCE = (GROUP, VERSION, safeworkload.PLURAL)
# Recording the id or the submit time is a status write: come straight back.
AFTER_RECORD = 0.1
RECORDS = (Act.RECORD_ID, Act.RECORD_SUBMIT, Act.RECORD_RESUME)
RECORDING_FAILED = "could not record the workload id or submit time yet"


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    interval = rt.settings.CFGPU_OPERATOR_RECONCILE_INTERVAL

    known = rt.directory

    async def sync(*, body: kopf.Body, patch: kopf.Patch, uid: str, **_: Any) -> None:
        def build(status: Mapping[str, Any], state: ObjectState) -> SafeWorkloadAdapter:
            return SafeWorkloadAdapter(
                rt, body, status, state, gpu_ready=known.gpu_ready, workload_ids=known.workload_ids
            )

        async def follow(adapter: Any, decision: Decision[Act], target: Target) -> bool:
            # Stored before the call it guards, then straight on to that call in this run
            # (a requeue per record cost a Kopf write, a wait and a re-read each).
            if decision.act not in RECORDS:
                return False
            await write_now(rt, safeworkload.PLURAL, target, RECORDING_FAILED)
            return True

        decision = await run_sync(rt, KIND, uid, body, patch, build, follow)
        known.saw_workload(uid, body["metadata"], rt.state(uid).view(body), body.get("spec"))
        if decision is not None and decision.act in RECORDS:
            requeue.wait(str(decision.args.get("message", "recorded")), AFTER_RECORD)

    register_reconcile(
        registry,
        RESOURCE,
        "safeworkload",
        sync,
        interval,
        kind=KIND,
        write=rt.status_writer(safeworkload.PLURAL),
        handled=lambda uid: rt.state(uid).handled,
    )

    @kopf.on.delete(*RESOURCE, id="safeworkload-delete", registry=registry)
    async def deleted(*, body: kopf.Body, patch: kopf.Patch, uid: str, **_: Any) -> None:
        def make(body: kopf.Body) -> Build:
            def build(status: Mapping[str, Any], state: ObjectState) -> SafeWorkloadAdapter:
                return SafeWorkloadAdapter(rt, body, status, state, deleting=True)

            return build

        await run_delete(rt, KIND, safeworkload.PLURAL, uid, body, patch, make, Act.FINISH)
