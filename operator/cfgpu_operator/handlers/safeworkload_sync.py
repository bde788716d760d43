"""One reconcile of a SafeWorkload: observe (shared poll) -> decide (plan) -> act -> report."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

import kopf

from cfgpu_operator.clients.safe_poller import SafeSnapshot
from cfgpu_operator.clients.safe_wire import (
    CreateWorkloadRequest,
    PatchWorkloadRequest,
    WorkloadItem,
    format_time,
)
from cfgpu_operator.errors import ApiError, NotFound, WrongState
from cfgpu_operator.handlers import requeue
from cfgpu_operator.handlers.observability import count_error
from cfgpu_operator.handlers.runtime import CredentialsError, ObjectState, Runtime, SafeAccount
from cfgpu_operator.handlers.safeworkload_effects import details, hand_over
from cfgpu_operator.models.common import LABEL
from cfgpu_operator.models.safeworkload import KIND, Phase
from cfgpu_operator.reconcile import status as status_fields
from cfgpu_operator.reconcile.conditions import Cond, clip, condition, set_condition
from cfgpu_operator.reconcile.safeworkload import (
    ENV_TAG,
    TERMINAL,
    Inputs,
    Seen,
    Step,
    display_name,
    patch_for,
    plan,
    workload_id,
)
from cfgpu_operator.reconcile.verdicts import Verdict, verdict

STICKY = ("InvalidSpec", "ImmutableAfterDispatch", "CannotResume")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SyncWorkload:
    def __init__(
        self,
        rt: Runtime,
        body: kopf.Body,
        patch: kopf.Patch,
        status: dict[str, Any],
        state: ObjectState,
        gpu_ready: Mapping[tuple[str, str], bool],
        workload_ids: Mapping[tuple[str, str], str],
    ) -> None:
        self.rt, self.body, self.patch, self.state = rt, body, patch, state
        self.spec: Mapping[str, Any] = body.get("spec", {})
        self.status = status  # as this process last left it (see ``reconciling``)
        self.meta = body["metadata"]
        self.namespace: str = self.meta["namespace"]
        self.generation = self.meta.get("generation")
        self.gpu_ready, self.workload_ids = gpu_ready, workload_ids
        self._extra: dict[str, Any] = {}  # details from a GET, when the workload moved
        self.found: WorkloadItem | None = None  # found by a direct lookup, not the poll

    async def run(self) -> None:
        ready = condition(self.status.get("conditions", []), "Ready") or {}
        changed = self.status.get("observedGeneration") != self.generation
        if not changed and (ready.get("reason") in STICKY or time.time() < self.state.retry_at):
            return
        try:
            token = await self.rt.safe_token_for(
                self.namespace, self.spec.get("credentialsSecretRef")
            )
            account = self.rt.safe_account(token)
        except CredentialsError as exc:
            self._fail(Verdict("CredentialsError", "slow", warn=True), str(exc), "")
            return
        account.poller.watch(self.spec["workspaceId"])
        try:
            await self._sync(account, changed)
            self.state.attempts = 0
        except ApiError as exc:
            v = verdict(exc)
            if isinstance(exc, WrongState):  # Primus.00012: spec change after dispatch
                v = Verdict("ImmutableAfterDispatch", "never", warn=True)
            self._fail(v, exc.message, exc.code or "")

    # -- observe and decide -----------------------------------------------------------------

    async def _sync(self, account: SafeAccount, changed: bool) -> None:
        snapshot = account.poller.snapshot
        if snapshot is None:
            if account.poller.last_error is not None:
                raise account.poller.last_error
            return
        wid = self.status.get("workloadId")
        item = snapshot.items.get(wid) if wid else None
        seen = self._seen(item)
        # A spec change is compared with the platform (one GET) before it counts as seen.
        wanted = self._wanted() if changed and wid else {}
        inputs = Inputs(
            wid,
            seen,
            bool(self.spec.get("suspend")),
            self._gpu_not_ready(),
            self._deps_without_id(),
            wanted,
            self.spec.get("kind", "PyTorchJob"),
        )
        self.inputs = inputs
        step = await self._act(account, snapshot, plan(inputs), item)
        item = item or self.found
        if item is not None and wid and self._moved(item):
            self._extra = await details(account.client, wid)
        if step.kind == "ended":
            await hand_over(self.rt, self.body, self.status, self.patch)
        self._report(step, item)

    def _moved(self, item: WorkloadItem) -> bool:
        return (item.phase, item.dispatch_count) != (
            self.status.get("phase"),
            self.status.get("dispatchCount"),
        )

    def _seen(self, item: WorkloadItem | None) -> Seen | None:
        if item is not None:
            return Seen(item.phase, item.dispatch_count)
        phase = self.status.get("phase")
        if phase in TERMINAL:  # ended workloads are not polled: keep what was seen last
            return Seen(phase, self.status.get("dispatchCount") or 0)
        return None

    def _gpu_not_ready(self) -> tuple[str, ...]:
        refs = self.spec.get("gpuInstanceRefs") or []
        return tuple(n for n in refs if not self.gpu_ready.get((self.namespace, n)))

    def _deps_without_id(self) -> tuple[str, ...]:
        deps = self.spec.get("dependsOn") or []
        return tuple(n for n in deps if not self.workload_ids.get((self.namespace, n)))

    def _wanted(self) -> dict[str, Any]:
        """Mutable fields as the platform shows them (compared after a GET, in _act)."""
        spec = self.spec
        return {
            "priority": spec.get("priority", 0),
            "timeout": spec.get("timeout", 0),
            "maxRetry": spec.get("maxRetry", 0),
            "description": spec.get("description", ""),
            "images": list(spec.get("images") or []),
            "env": dict(spec.get("env") or {}),
        }

    # -- act -------------------------------------------------------------------------------------

    async def _act(
        self, account: SafeAccount, snapshot: SafeSnapshot, step: Step, item: WorkloadItem | None
    ) -> Step:
        client, wid = account.client, self.status.get("workloadId")
        if step.kind == "submit" and wid is None:
            return self._record_intent()
        if step.kind in ("lookup", "submit"):
            found = await self._lookup_or_submit(account, step)
            if isinstance(found, Step):
                return found
            # Found without the listing: decide again with what the platform showed.
            seen = Seen(found.phase, found.dispatch_count)
            self.found = found  # report what the platform showed, as if listed
            return await self._act(account, snapshot, plan(replace(self.inputs, seen=seen)), found)
        if step.kind == "patch" and wid:
            return await self._patch(account, wid, step)
        if step.kind == "stop" and wid:
            await client.stop_workload(wid)
            account.poller.kick()
            kopf.info(self.body, reason="Stopping", message=f"stopped workload {wid}")
        return step

    def _record_intent(self) -> Step:
        wid = workload_id(self.namespace, self.meta["name"], self.meta["uid"])
        self.patch.status["workloadId"] = wid
        self.patch.status["phase"] = "Submitting"
        requeue.wait(f"recorded workload id {wid}; submitting next", 0.1)

    async def _lookup_or_submit(self, account: SafeAccount, step: Step) -> Step | WorkloadItem:
        """The workload if it exists; else a step (waiting for it to show, or submitted)."""
        client, wid = account.client, self.status["workloadId"]
        try:
            found: WorkloadItem | None = await client.get_workload(wid)
        except NotFound:
            page = await client.list_workloads(
                workspace_id=self.spec["workspaceId"], env_key=ENV_TAG, env_value=self.meta["uid"]
            )
            found = page.items[0] if page.items else None
        if found is not None:
            return found
        submitted = self.status.get("submittedAt")
        if submitted and self.state.submit_recorded == submitted:
            return await self._submit(account, wid)  # this process recorded it a moment ago
        grace = self.rt.settings.CFGPU_OPERATOR_SUBMIT_GRACE
        if submitted and time.time() - status_fields.epoch(submitted) < grace:
            # A submit may have been sent before a crash; the platform shows new workloads
            # late. Only after the grace window does "not found" mean "never created".
            return Step(
                "wait",
                step.phase,
                reason="Submitting",
                message=f"waiting for workload {wid} to become visible",
            )
        return self._record_submit()

    def _record_submit(self) -> Step:
        """Store the submit time before the POST, so a crash during it is waited out."""
        stamp = _now()
        self.patch.status["submittedAt"] = stamp
        self.state.submit_recorded = stamp
        requeue.wait("recorded the submit time; submitting next", 0.1)

    async def _submit(self, account: SafeAccount, wid: str) -> Step:
        self.state.submit_recorded = None
        request = await self._request(wid)
        try:
            await account.client.create_workload(request)
        finally:
            account.poller.kick()
        kopf.info(self.body, reason="Submitted", message=f"submitted workload {wid}")
        return Step("wait", Phase.PENDING, reason="Submitted", message=f"submitted {wid}")

    async def _request(self, wid: str) -> CreateWorkloadRequest:
        spec, kind = self.spec, self.spec.get("kind", "PyTorchJob")
        env = dict(spec.get("env") or {})
        for item in spec.get("secretEnv") or []:
            ref = item["secretKeyRef"]
            env[item["name"]] = await self.rt.secret_value(self.namespace, ref["name"], ref["key"])
        env[ENV_TAG] = self.meta["uid"]
        deps = [self.workload_ids[(self.namespace, n)] for n in spec.get("dependsOn") or []]
        return CreateWorkloadRequest.model_validate(
            {
                "display_name": spec.get("displayName") or display_name(self.meta["name"], kind),
                "workspace_id": spec["workspaceId"],
                "group_version_kind": {"kind": kind},
                "resources": spec["resources"],
                "images": spec.get("images") or [],
                "entry_points": [
                    base64.b64encode(e.encode()).decode() for e in spec.get("entryPoints") or []
                ],
                "workload_id": wid,
                "description": spec.get("description"),
                "env": env,
                "priority": spec.get("priority"),
                "timeout": spec.get("timeout"),
                "max_retry": spec.get("maxRetry"),
                "ttl_seconds_after_finished": spec.get("ttlSecondsAfterFinished"),
                "specified_nodes": spec.get("specifiedNodes") or None,
                "excluded_nodes": spec.get("excludedNodes") or None,
                "customer_labels": spec.get("customerLabels") or None,
                "is_tolerate_all": spec.get("isTolerateAll"),
                "dependencies": deps or None,
                "service": spec.get("service"),
                "liveness": spec.get("liveness"),
                "readiness": spec.get("readiness"),
            }
        )

    async def _patch(self, account: SafeAccount, wid: str, step: Step) -> Step:
        detail = await account.client.get_workload(wid)
        platform = {
            "priority": detail.priority,
            "timeout": detail.timeout or 0,
            "maxRetry": detail.max_retry,
            "description": detail.description,
            "images": detail.images,
            "env": {k: v for k, v in detail.env.items() if k != ENV_TAG},
        }
        body, frozen = patch_for(
            self._wanted(),
            platform,
            dispatched=detail.dispatch_count > 0,
            kind=self.spec.get("kind", "PyTorchJob"),
        )
        if frozen:
            raise WrongState(
                f"{', '.join(frozen)} cannot change after the workload was dispatched",
                api="primus-safe",
                endpoint="workloads.patch",
                code="Primus.00012",
                http_status=409,
            )
        if body:
            if "env" in body:
                body["env"] = {**body["env"], ENV_TAG: self.meta["uid"]}
            await account.client.patch_workload(wid, PatchWorkloadRequest.model_validate(body))
            kopf.info(self.body, reason="Updated", message=f"updated {', '.join(sorted(body))}")
        return plan(
            Inputs(wid, Seen(detail.phase, detail.dispatch_count), bool(self.spec.get("suspend")))
        )

    # -- report ----------------------------------------------------------------------------------

    def _report(self, step: Step, item: WorkloadItem | None) -> None:
        desired: dict[str, Any] = {
            **self._extra,
            "phase": step.phase.value,
            "observedGeneration": self.generation,
            "lastError": None,
        }
        if item is not None:
            desired.update(
                {
                    "queuePosition": item.queue_position,
                    "message": item.message or None,
                    "dispatchCount": item.dispatch_count,
                    "startTime": format_time(item.start_time) or None,
                    "endTime": format_time(item.end_time) or None,
                    "duration": item.duration,
                }
            )
        stamp = _now()
        conditions = set_condition(
            self.status.get("conditions", []),
            Cond("Ready", "True" if step.ready else "False", step.reason, step.message),
            self.generation,
            stamp,
        )
        conditions = set_condition(
            conditions, Cond("Synced", "True", "Synced"), self.generation, stamp
        )
        desired["conditions"] = conditions
        status_fields.write_changes(self.patch.status, self.status, desired)

    def _fail(self, v: Verdict, message: str, code: str) -> None:
        conditions = self.status.get("conditions", [])
        kind: Literal["Ready", "Synced"] = "Synced" if v.api_trouble else "Ready"
        previous = condition(conditions, kind) or {}
        if v.warn and previous.get("reason") != v.reason:
            kopf.warn(self.body, reason=v.reason, message=message)
        stamp = _now()
        conditions = set_condition(
            conditions, Cond(kind, "False", v.reason, message), self.generation, stamp
        )
        desired = {
            "conditions": conditions,
            "lastError": {"code": clip(code, LABEL), "message": clip(message)},
            "observedGeneration": self.generation,
        }
        status_fields.write_changes(self.patch.status, self.status, desired)
        count_error(KIND, v.reason)
        self.rt.schedule_retry(self.state, v)
