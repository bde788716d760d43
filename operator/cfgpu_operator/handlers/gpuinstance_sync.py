"""One reconcile of a GpuInstance: observe (shared poll) -> decide (plan) -> act -> report."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf

from cfgpu_operator.clients.catalog import ImageRef
from cfgpu_operator.clients.cfgpu_poller import Snapshot
from cfgpu_operator.clients.cfgpu_wire import CreateInstanceRequest
from cfgpu_operator.errors import ApiError, NotFound, WrongState
from cfgpu_operator.handlers.observability import count_error
from cfgpu_operator.handlers.runtime import Account, CredentialsError, ObjectState, Runtime
from cfgpu_operator.models.common import LABEL, PAUSED_ANNOTATION
from cfgpu_operator.models.gpuinstance import KIND
from cfgpu_operator.reconcile import status as status_fields
from cfgpu_operator.reconcile.adoption import match_by_name
from cfgpu_operator.reconcile.conditions import Cond, clip, condition, set_condition
from cfgpu_operator.reconcile.gpuinstance import Known, Seen, Step, Wanted, plan
from cfgpu_operator.reconcile.naming import instance_name
from cfgpu_operator.reconcile.verdicts import Verdict, verdict

MUTATING = frozenset({"start", "stop", "change-image"})


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sync:
    """Holds one object's inputs for one reconcile; at most one mutating call per run."""

    def __init__(
        self,
        rt: Runtime,
        body: kopf.Body,
        patch: kopf.Patch,
        status: dict[str, Any],
        managed: Mapping[str, Any],
        state: ObjectState,
    ) -> None:
        self.rt, self.body, self.patch, self.state = rt, body, patch, state
        self.spec: Mapping[str, Any] = body.get("spec", {})
        self.status = status  # as this process last left it (see ``reconciling``)
        self.meta = body["metadata"]
        self.generation = self.meta.get("generation")
        self.managed = managed  # index: instanceId -> "namespace/name"

    # -- entry -------------------------------------------------------------------------------

    async def run(self) -> None:
        if self._waiting_for_spec_change() or self._backing_off():
            return
        try:
            token = await self.rt.token_for(
                self.meta["namespace"], self.spec.get("credentialsSecretRef")
            )
        except CredentialsError as exc:
            self._fail(Verdict("CredentialsError", "slow", warn=True), str(exc), code="")
            return
        account = self.rt.account(token)
        try:
            await self._sync(account)
            self.state.attempts = 0
        except ApiError as exc:
            self._fail(verdict(exc), exc.message, code=exc.code or "")

    def _waiting_for_spec_change(self) -> bool:
        ready = condition(self.status.get("conditions", []), "Ready") or {}
        return (
            ready.get("reason") in ("InvalidSpec", "AmbiguousInstance", "AlreadyManaged")
            and self.status.get("observedGeneration") == self.generation
        )

    def _backing_off(self) -> bool:
        changed = self.status.get("observedGeneration") != self.generation
        return not changed and time.monotonic() < self.state.retry_at

    # -- observe and decide ---------------------------------------------------------------

    async def _sync(self, account: Account) -> None:
        snapshot = account.poller.snapshot or await account.poller.next_snapshot(
            -1, self.rt.settings.CFGPU_OPERATOR_POLL_FAST
        )
        if snapshot is None:
            error = account.poller.last_error
            if error is not None:
                raise error
            return
        wanted = await self._wanted(account)
        known = Known(self.status.get("instanceId"), self.status.get("instanceName"))
        step = plan(wanted, known, _seen(snapshot, known.instance_id))
        if step.kind == "confirm":
            step = plan(wanted, known, await self._confirm(account, known.instance_id or ""))
        await self._act(account, snapshot, step)

    async def _wanted(self, account: Account) -> Wanted:
        paused = self.meta.get("annotations", {}).get(PAUSED_ANNOTATION) == "true"
        observe_only = self.spec.get("managementPolicy") == "ObserveOnly"
        image_id = None
        if self.status.get("instanceId") and not (paused or observe_only):
            image = await account.catalog.image(
                ImageRef(**self.spec["image"]), self.spec.get("adaptType", "CONTAINER")
            )
            image_id = image.id
        return Wanted(
            self.spec.get("state", "Running"),
            image_id,
            self.spec.get("instanceId"),
            not (paused or observe_only),
            "Paused" if paused else "ObserveOnly",
        )

    async def _confirm(self, account: Account, instance_id: str) -> Seen:
        """Not in the batched listing: ask once directly before calling it gone."""
        try:
            found = await account.client.get_instance_status(instance_id)
        except NotFound:
            return Seen("RELEASED")
        return Seen(found.status_code, self.status.get("imageId"))

    # -- act ---------------------------------------------------------------------------------

    async def _act(self, account: Account, snapshot: Snapshot, step: Step) -> None:
        kind = step.kind
        if kind in MUTATING and snapshot.cycle <= self.state.acted_cycle:
            return  # our last call is not in a poll yet: wait for news, do not repeat it
        if kind == "record-intent":
            await self._record_intent()
        elif kind == "create":
            step = await self._create(account, snapshot, step)
        elif kind == "adopt":
            step = await self._adopt(account, snapshot, step)
        elif kind in MUTATING:
            await self._mutate(account, snapshot, step)
        elif kind == "lost" and self.status.get("phase") != "Lost":
            kopf.warn(self.body, reason="InstanceGone", message=step.message)
        self._report(step, snapshot)

    async def _record_intent(self) -> None:
        name = self.spec.get("instanceName") or instance_name(
            self.meta["namespace"], self.meta["name"], self.meta["uid"]
        )
        self.patch.status["instanceName"] = name
        self.patch.status["phase"] = "Creating"
        # The name must be stored before anything is rented: retry at once, with it stored.
        raise kopf.TemporaryError(f"recorded instance name {name}; renting next", delay=0.1)

    async def _create(self, account: Account, snapshot: Snapshot, step: Step) -> Step:
        name = self.status["instanceName"]
        records = [
            (r.instance_id, r.instance_name, r.status_code)
            async for r in account.client.iter_instances(key_word=name)
        ]
        found = match_by_name(records, name)
        if found.kind == "ambiguous":
            message = (
                f"{len(found.instance_ids)} instances are named {name}: "
                f"{', '.join(found.instance_ids)}; resolve by hand, or set spec.instanceId"
            )
            kopf.warn(self.body, reason="AmbiguousInstance", message=message)
            return Step("hold", step.phase, reason="AmbiguousInstance", message=message)
        if found.kind == "one":
            self._record_id(found.instance_ids[0], f"adopted instance {name} found by name")
            return step
        request = await self._create_request(account, name)
        instance_id = await account.client.create_instance(request)
        self.state.acted_cycle = account.poller.begun
        account.poller.kick()
        self._record_id(instance_id, f"rented instance {instance_id} ({name})")
        return step

    async def _create_request(self, account: Account, name: str) -> CreateInstanceRequest:
        spec, catalog = self.spec, account.catalog
        adapt = spec.get("adaptType", "CONTAINER")
        region = await catalog.region(spec["region"])
        gpu = await catalog.gpu_type(spec["gpuType"])
        image = await catalog.image(ImageRef(**spec["image"]), adapt)
        billing, disks = spec.get("billing", {}), spec.get("disks", {})
        return CreateInstanceRequest(
            price_type=billing.get("priceType", "Usage"),
            region_code=region.code,
            gpu_type=gpu.code,
            gpu_num=spec.get("gpuCount", 1),
            image_id=image.id,
            service_time=billing.get("serviceTime", 1),
            instance_name=name,
            expand_size=disks.get("dataExpandGB", 0),
            sys_disk_expand_size=disks.get("systemExpandGB", 0),
        )

    def _record_id(self, instance_id: str, message: str) -> None:
        self.status["instanceId"] = instance_id
        self.patch.status["instanceId"] = instance_id
        kopf.info(self.body, reason="InstanceCreated", message=message)

    async def _adopt(self, account: Account, snapshot: Snapshot, step: Step) -> Step:
        instance_id = self.spec["instanceId"]
        owner = self.managed.get(instance_id)
        me = f"{self.meta['namespace']}/{self.meta['name']}"
        if owner and owner != me:
            message = f"instance {instance_id} is already managed by GpuInstance {owner}"
            kopf.warn(self.body, reason="AlreadyManaged", message=message)
            return Step("hold", step.phase, reason="AlreadyManaged", message=message)
        found = await account.client.get_instance_status(instance_id)
        self.status["instanceId"] = instance_id
        self.patch.status["instanceId"] = instance_id
        kopf.info(
            self.body,
            reason="InstanceAdopted",
            message=f"adopted instance {instance_id} ({found.status_code})",
        )
        return plan(
            await self._wanted(account),
            Known(instance_id, None),
            _seen(snapshot, instance_id) or Seen(found.status_code),
        )

    async def _mutate(self, account: Account, snapshot: Snapshot, step: Step) -> None:
        instance_id, client = self.status["instanceId"], account.client
        try:
            if step.kind == "start":
                await client.start_instance(instance_id)
            elif step.kind == "stop":
                await client.stop_instance(instance_id)
            else:
                await client.change_image(instance_id, step.image_id or "")
        except WrongState:
            pass  # it moved meanwhile: the next poll shows where it is
        else:
            kopf.info(self.body, reason=step.reason, message=step.message)
        self.state.acted_cycle = account.poller.begun
        account.poller.kick()

    # -- report ------------------------------------------------------------------------------

    def _report(self, step: Step, snapshot: Snapshot) -> None:
        instance_id = self.status.get("instanceId")
        code = snapshot.status_of(instance_id) if instance_id else None
        record = snapshot.records.get(instance_id) if instance_id else None
        desired: dict[str, Any] = {
            **(status_fields.facts(record, code) if instance_id else {}),
            "phase": step.phase.value,
            "observedGeneration": self.generation,
            "lastError": None,
        }
        conditions = self.status.get("conditions", [])
        stamp = now_rfc3339()
        ready = Cond("Ready", "True" if step.ready else "False", step.reason, step.message)
        conditions = set_condition(conditions, ready, self.generation, stamp)
        conditions = set_condition(
            conditions, Cond("Synced", "True", "Synced"), self.generation, stamp
        )
        desired["conditions"] = conditions
        self._write(desired)

    def _fail(self, v: Verdict, message: str, code: str) -> None:
        conditions = self.status.get("conditions", [])
        previous = condition(conditions, "Synced" if v.api_trouble else "Ready") or {}
        if v.warn and previous.get("reason") != v.reason:
            kopf.warn(self.body, reason=v.reason, message=message)
        stamp = now_rfc3339()
        if v.api_trouble:
            cond = Cond("Synced", "False", v.reason, message)
        else:
            cond = Cond("Ready", "False", v.reason, message)
            conditions = set_condition(
                conditions, Cond("Synced", "True", "Synced"), self.generation, stamp
            )
        desired = {
            "conditions": set_condition(conditions, cond, self.generation, stamp),
            "lastError": {"code": clip(code, LABEL), "message": clip(message)},
            "observedGeneration": self.generation,
        }
        self._write(desired)
        count_error(KIND, v.reason)
        self.rt.schedule_retry(self.state, v)

    def _write(self, desired: dict[str, Any]) -> None:
        status_fields.write_changes(self.patch.status, self.status, desired)


def _seen(snapshot: Snapshot, instance_id: str | None) -> Seen | None:
    if instance_id is None:
        return None
    code = snapshot.status_of(instance_id)
    if code is None:
        return None
    record = snapshot.records.get(instance_id)
    return Seen(code, record.image_id if record else None)
