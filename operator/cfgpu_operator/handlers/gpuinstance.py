"""Kopf wiring for GpuInstance: every trigger, deletion included, funnels into one pipeline
run of the same decision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from cfgpu_operator.handlers.gpuinstance_sync import KIND, GpuInstanceAdapter
from cfgpu_operator.handlers.objects import ObjectState
from cfgpu_operator.handlers.pipeline import Build, Target, run_delete, run_sync, write_now
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.handlers.usage_meter import USAGE
from cfgpu_operator.handlers.wiring import register_reconcile
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.models.gpuinstance import PLURAL
from cfgpu_operator.reconcile.decision import Decision
from cfgpu_operator.reconcile.gpuinstance_view import Act

RESOURCE = (GROUP, VERSION, PLURAL)
FULL_EVERY = 6  # timer intervals after which a quiet object is reconciled in full anyway


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    interval = rt.settings.CFGPU_OPERATOR_RECONCILE_INTERVAL

    async def sync(*, body: kopf.Body, patch: kopf.Patch, uid: str, **kwargs: Any) -> None:
        state = rt.state(uid)
        state.quiet = None
        built: list[GpuInstanceAdapter] = []

        def build(status: Mapping[str, Any], state: ObjectState) -> GpuInstanceAdapter:
            built.append(GpuInstanceAdapter(rt, body, status, state))
            return built[-1]

        async def follow(adapter: Any, decision: Decision[Act], target: Target) -> bool:
            if decision.act is Act.RECORD_INTENT:
                # The instance name must be stored before anything is rented: after a crash
                # it is how the instance is found again.
                await write_now(rt, PLURAL, target, "could not store the instance name yet")
                return True
            # A call went through: look at what it did (the look waits for the first poll
            # that began after it) and write that in the same status patch. An offer with no
            # capacity: the next one at once.
            return bool(adapter.called) or bool(decision.args.get("next_offer"))

        decision = await run_sync(rt, KIND, uid, body, patch, build, follow)
        seen = state.view(body)
        rt.directory.saw_gpu_instance(uid, body["metadata"], seen, body.get("spec"))
        namespace = str(body["metadata"]["namespace"])
        USAGE.saw(uid, namespace, seen)
        rt.quotas.saw(uid, body["metadata"], body.get("spec") or {}, seen)
        if decision is not None and built:
            state.quiet = built[-1].quiet(decision, FULL_EVERY * interval)

    async def tick(*, body: kopf.Body, patch: kopf.Patch, uid: str, **kwargs: Any) -> None:
        quiet = rt.state(uid).quiet
        if quiet is not None and quiet.holds(str(body.metadata.get("resourceVersion"))):
            return  # nothing it reads changed since a reconcile that found nothing to do
        await sync(body=body, patch=patch, uid=uid, **kwargs)

    register_reconcile(
        registry,
        RESOURCE,
        "gpuinstance",
        sync,
        interval,
        kind=KIND,
        write=rt.status_writer(PLURAL),
        handled=lambda uid: rt.state(uid).handled,
        tick=tick,
    )

    @kopf.on.delete(*RESOURCE, id="gpuinstance-delete", registry=registry)
    async def deleted(*, body: kopf.Body, patch: kopf.Patch, uid: str, **_: Any) -> None:
        def make(body: kopf.Body) -> Build:
            def build(status: Mapping[str, Any], state: ObjectState) -> GpuInstanceAdapter:
                return GpuInstanceAdapter(rt, body, status, state, deleting=True)

            return build

        async def follow(adapter: Any, decision: Decision[Act], target: Target) -> bool:
            # Stop, then release, then see it gone: one handler run when CFGPU is quick.
            return decision.act is not Act.FINISH and bool(adapter.called)

        await run_delete(rt, KIND, PLURAL, uid, body, patch, make, Act.FINISH, follow)
