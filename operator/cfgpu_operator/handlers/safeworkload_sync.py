"""SafeWorkload's adapter for the pipeline: build the view (observe), carry out each action.

Observing reads the key's shared poll; a workload it does not list is looked up once by id
and by env tag, and one GET (the fields a PATCH may change, conditions, pods, nodes) is made
only when the spec changed or the workload moved.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import kopf
from pydantic.alias_generators import to_snake

from cfgpu_operator.clients.safe_wire import (
    CreateWorkloadRequest,
    PatchWorkloadRequest,
    WorkloadDetail,
    WorkloadItem,
)
from cfgpu_operator.errors import ApiError, NotFound
from cfgpu_operator.handlers import safe_mapping
from cfgpu_operator.handlers.pipeline import parse
from cfgpu_operator.handlers.runtime import CredentialsError, ObjectState, Runtime, SafeAccount
from cfgpu_operator.handlers.safeworkload_effects import hand_over
from cfgpu_operator.models.safeworkload import KIND, SafeWorkloadSpec, SafeWorkloadStatus
from cfgpu_operator.reconcile.decision import Decision
from cfgpu_operator.reconcile.safeworkload import (
    APPLICATION_KINDS,
    ENV_TAG,
    TERMINAL,
    workload_id,
)
from cfgpu_operator.reconcile.safeworkload_decide import decide
from cfgpu_operator.reconcile.safeworkload_view import (
    Act,
    Observed,
    Outcome,
    Space,
    View,
    Workload,
)

# The share of a key's calls per second that re-reading live workloads' details may take:
# the rest is for submits, changes and the listing. One GET per live workload per slow poll
# was 100 calls a second at 1,000 workloads, 200 times the shipped rate limit.
DETAILS_SHARE = 0.25


def details_every(live: int, rate_limit: float, poll_slow: float) -> float:
    """Seconds between two detail reads of one live workload: the slow poll interval, or
    longer when the key's ``live`` workloads would take more than their share of its
    ``rate_limit``."""
    return max(poll_slow, live / (DETAILS_SHARE * rate_limit))


class SafeWorkloadAdapter:
    kind = KIND

    def __init__(
        self,
        rt: Runtime,
        body: kopf.Body,
        status: Mapping[str, Any],
        state: ObjectState,
        *,
        gpu_ready: Mapping[tuple[str, str], bool] | None = None,
        workload_ids: Mapping[tuple[str, str], str] | None = None,
        deleting: bool = False,
    ) -> None:
        self.rt, self.body, self.state, self.deleting = rt, body, state, deleting
        meta = body["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        self.generation: int | None = meta.get("generation")
        self.gpu_ready, self.workload_ids = gpu_ready or {}, workload_ids or {}
        self.spec, self.status = parse(body, status, SafeWorkloadSpec, SafeWorkloadStatus)
        self.account: SafeAccount | None = None

    # -- observe ----------------------------------------------------------------------------

    async def observe(self) -> View:
        view = self._base()
        try:
            token = await self.rt.tokens.safe(self.namespace, self.spec.credentials_secret_ref)
            self.account = account = self.rt.safe_account(token, self.uid)
        except CredentialsError as exc:
            return replace(view, credentials=str(exc))
        if self.deleting:
            return replace(view, observed=await self._exists(account))
        if self.status.workload_id is None:  # before the submit: can the workspace take it?
            view = replace(view, space=await self._space(account))
        if view.space is None or view.space.found:  # a missing one is not listed in vain
            account.poller.watch(self.spec.workspace_id)
        return replace(view, observed=await self._observe(account, view))

    async def _space(self, account: SafeAccount) -> Space | None:
        known = await account.workspaces.get()
        if known is None:
            return None
        found = known.get(self.spec.workspace_id)
        return Space(found is not None, frozenset(found.scopes if found else ()))

    def _base(self) -> View:
        return View(
            spec=self.spec,
            status=self.status,
            generation=self.generation,
            workload_id=workload_id(self.namespace, self.name, self.uid),
            now=time.time(),
            grace=self.rt.settings.CFGPU_OPERATOR_SUBMIT_GRACE,
            gpu_missing=tuple(
                n for n in self.spec.gpu_instance_refs if self._key(n) not in self.gpu_ready
            ),
            gpu_not_ready=tuple(
                n for n in self.spec.gpu_instance_refs if not self.gpu_ready.get(self._key(n))
            ),
            deps_without_id=tuple(
                n for n in self.spec.depends_on if not self.workload_ids.get(self._key(n))
            ),
            submit_recorded=bool(self.status.submitted_at)
            and self.state.submit_recorded == self.status.submitted_at,
            resume_recorded=bool(self.status.resumed_at)
            and self.state.resume_recorded == self.status.resumed_at,
            deleting=self.deleting,
            deleted=bool(self.status.workload_id) and self.state.removed == self.status.workload_id,
            retry_at=self.state.retry_at,
        )

    def _key(self, name: str) -> tuple[str, str]:
        return (self.namespace, name)

    async def _observe(self, account: SafeAccount, view: View) -> Observed:
        snapshot = account.poller.snapshot
        if snapshot is None:
            return Observed(listed=False, error=account.poller.last_error)
        failed = snapshot.failed.get(self.spec.workspace_id)
        if failed is not None:
            return Observed(listed=False, error=failed)
        wid = self.status.workload_id
        ended = self.status.phase is not None and self.status.phase.value in TERMINAL
        if wid is None or ended:
            return Observed(listed=True)
        try:
            item = snapshot.items.get(wid) or await self._lookup(account, wid)
            if item is None:
                return Observed(listed=True, absent=True)
            workload = safe_mapping.workload(item)
            observed = Observed(listed=True, workload=workload)
            if view.unsettled or self._moved(workload) or self._details_stale(account):
                # A lookup by id has just read the detail: do not read it twice.
                detail = item if isinstance(item, WorkloadDetail) else None
                detail = detail or await account.client.get_workload(wid)
                platform = safe_mapping.platform(detail)
                if self.spec.kind in APPLICATION_KINDS and not item.ended:
                    found = await self._endpoint(account, wid)
                    platform = replace(platform, details={**platform.details, **found})
                observed = replace(observed, platform=platform)
                self.state.details_at = time.monotonic()
        except ApiError as exc:
            return Observed(listed=True, error=exc)
        return observed

    async def _endpoint(self, account: SafeAccount, wid: str) -> dict[str, str | None]:
        """The Service address of an inference workload; nothing known on a failed read
        (an extra, not worth failing the reconcile over)."""
        try:
            service = await account.client.get_workload_service(wid)
        except NotFound:  # no Service yet
            return {"endpoint": None}
        except ApiError:
            return {}
        return {"endpoint": service.address if service else None}

    async def _lookup(self, account: SafeAccount, wid: str) -> WorkloadItem | None:
        """Not in the listing: by id, then by the env tag (a workload under another id)."""
        try:
            return await account.client.get_workload(wid)
        except NotFound:
            page = await account.client.list_workloads(
                workspace_id=self.spec.workspace_id, env_key=ENV_TAG, env_value=self.uid
            )
            return page.items[0] if page.items else None

    def _moved(self, workload: Workload) -> bool:
        """The listing shows a step status does not: the conditions changed with it."""
        phase = self.status.phase.value if self.status.phase else None
        return workload.phase != phase or any(
            workload.facts[key] != getattr(self.status, to_snake(key))
            for key in safe_mapping.STEP_FACTS
        )

    def _details_stale(self, account: SafeAccount) -> bool:
        """Pods and conditions can change while the listing shows nothing new: read them
        again while the workload is live, within the key's share for such reads."""
        snapshot, settings = account.poller.snapshot, self.rt.settings
        live = len(snapshot.items) if snapshot is not None else 1
        every = details_every(
            live, settings.CFGPU_OPERATOR_RATE_LIMIT, settings.CFGPU_OPERATOR_POLL_SLOW
        )
        return time.monotonic() - self.state.details_at >= every

    async def _exists(self, account: SafeAccount) -> Observed:
        wid = self.status.workload_id
        if wid is None:
            return Observed(listed=True, absent=True)
        try:
            await account.client.get_workload(wid)
        except NotFound:
            return Observed(listed=True, absent=True)
        except ApiError as exc:
            return Observed(listed=True, error=exc)
        return Observed(listed=True)

    # -- decide and act ---------------------------------------------------------------------

    def decide(self, view: View) -> Decision[Act]:
        return decide(view)

    def with_outcome(self, view: View, outcome: Outcome) -> View:
        return replace(view, outcome=outcome)

    async def act(self, view: View, decision: Decision[Act]) -> Outcome | None:
        if decision.act is Act.RECORD_SUBMIT:
            self.state.submit_recorded = decision.status.get("submittedAt")
        if decision.act is Act.RECORD_RESUME:
            self.state.resume_recorded = decision.status.get("resumedAt")
        call = _CALLS.get(decision.act)
        account = self.account
        if call is None or account is None:
            return None
        try:
            await call(self, account, decision)
        except ApiError as exc:
            return Outcome(error=exc)
        finally:
            if decision.act is not Act.HAND_OVER:
                account.poller.kick()
        return Outcome()

    async def _submit(self, account: SafeAccount, decision: Decision[Act]) -> None:
        self.state.submit_recorded = None
        await account.client.create_workload(await self._create_request())

    async def _resume(self, account: SafeAccount, decision: Decision[Act]) -> None:
        self.state.resume_recorded = None
        request = await self._create_request()
        await account.client.resume_workload(str(self.status.workload_id), request)

    async def _create_request(self) -> CreateWorkloadRequest:
        return safe_mapping.create_request(
            self.spec,
            name=self.name,
            workload_id=str(self.status.workload_id),
            uid=self.uid,
            secret_env=await self._secret_env(),
            dependencies=[self.workload_ids[self._key(n)] for n in self.spec.depends_on],
        )

    async def _secret_env(self) -> dict[str, str]:
        return {
            item.name: await self.rt.secrets.value(
                self.namespace, item.secret_key_ref.name, item.secret_key_ref.key
            )
            for item in self.spec.secret_env
        }

    async def _patch(self, account: SafeAccount, decision: Decision[Act]) -> None:
        body = dict(decision.args["body"])
        if "env" in body:  # replaced whole on the platform: all of it, secrets and tag too
            body["env"] = {**body["env"], **await self._secret_env(), ENV_TAG: self.uid}
        patch = PatchWorkloadRequest.model_validate(body)
        await account.client.patch_workload(str(self.status.workload_id), patch)

    async def _stop(self, account: SafeAccount, decision: Decision[Act]) -> None:
        await account.client.stop_workload(str(self.status.workload_id))

    async def _delete(self, account: SafeAccount, decision: Decision[Act]) -> None:
        workload = str(self.status.workload_id)
        await account.client.delete_workload(workload)  # stops it too
        self.state.removed = workload

    async def _hand_over(self, account: SafeAccount, decision: Decision[Act]) -> None:
        await hand_over(self.rt, self.spec, self.namespace)


_Call = Callable[[SafeWorkloadAdapter, SafeAccount, Decision[Act]], Awaitable[None]]
_CALLS: dict[Act, _Call] = {
    Act.SUBMIT: SafeWorkloadAdapter._submit,
    Act.RESUME: SafeWorkloadAdapter._resume,
    Act.PATCH: SafeWorkloadAdapter._patch,
    Act.STOP: SafeWorkloadAdapter._stop,
    Act.DELETE: SafeWorkloadAdapter._delete,
    Act.HAND_OVER: SafeWorkloadAdapter._hand_over,
}
