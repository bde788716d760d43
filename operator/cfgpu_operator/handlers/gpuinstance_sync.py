"""GpuInstance's adapter for the pipeline: build the view (observe), carry out each action.

Observing reads the account's shared poll. After a call, it waits for the first poll that
began after the call; only when such a poll does not list the instance does it ask CFGPU
directly, once (to tell "gone" from a listing that missed it).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, cast

import kopf

from cfgpu_operator.clients.catalog import ResolvedImage
from cfgpu_operator.clients.cfgpu_poller import Snapshot
from cfgpu_operator.errors import (
    ApiError,
    NotFound,
    RejectedInput,
    Unavailable,
    WrongState,
)
from cfgpu_operator.handlers import cfgpu_mapping
from cfgpu_operator.handlers.gpuinstance_rent import Renter
from cfgpu_operator.handlers.objects import Quiet
from cfgpu_operator.handlers.pipeline import parse
from cfgpu_operator.handlers.runtime import Account, CredentialsError, ObjectState, Runtime
from cfgpu_operator.metrics import LIFECYCLE_ACTIONS
from cfgpu_operator.models.common import PAUSED_ANNOTATION
from cfgpu_operator.models.gpuinstance import GpuInstanceSpec, GpuInstanceStatus
from cfgpu_operator.reconcile.adoption import Match, match_by_name
from cfgpu_operator.reconcile.conditions import condition
from cfgpu_operator.reconcile.decision import Decision
from cfgpu_operator.reconcile.gpuinstance import decide
from cfgpu_operator.reconcile.gpuinstance_delete import left_alone
from cfgpu_operator.reconcile.gpuinstance_view import (
    Act,
    Credentials,
    Observed,
    Outcome,
    Search,
    View,
)
from cfgpu_operator.reconcile.naming import instance_name
from cfgpu_operator.reconcile.reasons import Reason
from cfgpu_operator.reconcile.status import epoch
from cfgpu_operator.reconcile.usage import Prices

KIND = "GpuInstance"
LANDING = 60.0  # seconds a moving poll may take to show this object's last call
# Acts after which the instance holds its GPUs against the namespace's GpuQuotas: the
# recorded name is the first step of renting.
TAKES_GPUS = frozenset({Act.RECORD_INTENT, Act.START})
# An unknown instance id answers 10001, whose wording CFGPU does not fix.
UNKNOWN_INSTANCE_CODE = "10001"


class GpuInstanceAdapter:
    kind = KIND

    def __init__(
        self,
        rt: Runtime,
        body: kopf.Body,
        status: Mapping[str, Any],
        state: ObjectState,
        *,
        deleting: bool = False,
    ) -> None:
        self.rt, self.body, self.state, self.deleting = rt, body, state, deleting
        meta = body["metadata"]
        self.namespace: str = meta["namespace"]
        self.me = f"{self.namespace}/{meta['name']}"
        self.uid: str = meta["uid"]
        self.generation: int | None = meta.get("generation")
        self.spec, self.status = parse(body, status, GpuInstanceSpec, GpuInstanceStatus)
        self.account: Account | None = None
        self.called = False  # a call that changes something on CFGPU went through
        self.observed: Observed | None = None
        self.row: tuple[str, object] | None = None  # the poll's row the decision read

    # -- observe ----------------------------------------------------------------------------

    async def observe(self) -> View:
        view = self._base()
        if self.deleting and left_alone(view) is not None:
            return view  # deleting leaves CFGPU alone: nothing to look at
        credentials, token = await self._credentials()
        view = replace(view, credentials=credentials)
        if token is None:
            return view
        self.account = account = self.rt.account(token, self.uid)
        snapshot = await self._snapshot(account)
        if snapshot is None:
            error = account.poller.last_error
            return replace(view, observed=Observed(listed=False, error=error))
        target, search = await self._target(account, view)
        observed = await self._observe(account, snapshot, target)
        if isinstance(search, ApiError):
            observed = replace(observed, error=search)
            search = None
        self.observed = observed
        view = replace(view, observed=observed, search=search)
        return await self._with_image(account, view)

    def _base(self) -> View:
        meta = self.body["metadata"]
        paused = (meta.get("annotations") or {}).get(PAUSED_ANNOTATION) == "true"
        policy = (
            self.spec.deletion_policy or self.rt.settings.CFGPU_OPERATOR_DEFAULT_DELETION_POLICY
        )
        created = meta.get("creationTimestamp")
        return View(
            spec=self.spec,
            status=self.status,
            generation=self.generation,
            intent_name=self.spec.instance_name
            or instance_name(self.namespace, meta["name"], self.uid, self.rt.cluster_id),
            now=time.time(),
            paused=paused,
            deleting=self.deleting,
            deletion_policy=policy,
            retry_at=self.state.retry_at,
            created_at=epoch(str(created)) if created else None,
            workloads_active=self.rt.directory.in_use((self.namespace, str(meta["name"]))),
            expiry_lead=self.rt.settings.CFGPU_OPERATOR_EXPIRY_WARNING,
            usage_interval=self.rt.settings.CFGPU_OPERATOR_USAGE_INTERVAL,
            # Price types are the Literal the settings checked; the decision reads str keys.
            prices=cast(Prices, self.rt.settings.CFGPU_OPERATOR_PRICES or {}),
        )

    async def _credentials(self) -> tuple[Credentials, str | None]:
        tokens = self.rt.tokens
        try:
            token = await tokens.cfgpu(self.namespace, self.spec.credentials_secret_ref)
        except CredentialsError as exc:
            fallback = tokens.default_cfgpu() if self.deleting else None
            # Deleting without the Secret: the operator's token may still release it.
            return Credentials(str(exc), fallback=fallback is not None), fallback
        return Credentials(), token

    async def _snapshot(self, account: Account) -> Snapshot | None:
        poller = account.poller
        return poller.snapshot or await poller.next_snapshot(
            -1, self.rt.settings.CFGPU_OPERATOR_POLL_FAST
        )

    async def _target(
        self, account: Account, view: View
    ) -> tuple[str | None, Search | ApiError | None]:
        """The instance this object is about, and a search by name when only that is known."""
        if self.status.instance_id:
            return self.status.instance_id, None
        if not self.deleting:
            return self.spec.instance_id, None
        name = self.status.instance_name
        if name is None:
            return None, None
        try:
            search = await self._search(account, name)
        except ApiError as exc:
            return None, exc
        return (search.ids[0] if len(search.ids) == 1 else None), search

    async def _search(self, account: Account, name: str) -> Search:
        """Instances with exactly this name that no other object manages."""
        found = await _named(account, name)
        return Search(tuple(i for i in found.instance_ids if self._owner(i) is None))

    def _owner(self, instance_id: str) -> str | None:
        owner = self.rt.directory.owners.get(instance_id)
        return owner if owner and owner != self.me else None

    async def _observe(self, account: Account, snapshot: Snapshot, target: str | None) -> Observed:
        if target is not None:
            snapshot = await self._after_last_call(account, snapshot) or snapshot
        fresh = snapshot.cycle > self.state.acted_cycle
        if target is None:
            return Observed(listed=True, fresh=fresh)
        owner = self._owner(target)
        code = snapshot.status_of(target)
        if code == "RELEASED":  # final: even an older poll proves it
            return Observed(listed=True, gone=True, fresh=fresh, owner=owner)
        if code is not None:
            record = snapshot.records.get(target)
            self.row = (code, record)
            found = cfgpu_mapping.instance(target, code, record)
            return Observed(listed=True, instance=found, fresh=fresh, owner=owner)
        if not fresh:
            # Not listed by a poll older than our last call: the next poll tells. Asking
            # CFGPU directly here is one call per object, which at scale starves that poll.
            return Observed(listed=True, fresh=False, owner=owner)
        if self.state.removed == target:
            # CFGPU accepted our release, and its status list (one call, every instance of
            # the account) begun since lacks it.
            return Observed(listed=True, gone=True, owner=owner)
        return await self._read(account, snapshot, target, owner)

    async def _after_last_call(
        self, account: Account, snapshot: Snapshot | None
    ) -> Snapshot | None:
        """``snapshot`` if it began after this object's last call (or there is none); else
        the first poll that did, when it lands soon (the call kicked the poller), or the
        snapshot at hand, which is then not fresh (the decision waits, never repeats)."""
        if snapshot is None or snapshot.cycle > self.state.acted_cycle:
            return snapshot
        # The kicked poll begins within the fast interval, and lands as long as it moves.
        quiet = 2 * (self.rt.settings.CFGPU_OPERATOR_POLL_FAST + account.poller.took)
        newer = await account.poller.first_after(self.state.acted_cycle, quiet, LANDING)
        return newer or snapshot

    async def _read(
        self, account: Account, snapshot: Snapshot, target: str, owner: str | None
    ) -> Observed:
        """Not listed by a poll that began after our last call: ask CFGPU directly, once."""
        try:
            found = await account.client.get_instance_status(target)
        except NotFound as exc:
            return Observed(listed=True, gone=True, owner=owner, error=exc)
        except RejectedInput as exc:
            # The account's complete listing lacks it and CFGPU rejects its id: gone,
            # whatever words the message uses.
            if exc.code == UNKNOWN_INSTANCE_CODE and snapshot.status_of(target) is None:
                return Observed(listed=True, gone=True, owner=owner, error=exc)
            return Observed(listed=True, error=exc, owner=owner)
        except ApiError as exc:
            return Observed(listed=True, error=exc, owner=owner)
        if found.status_code == "RELEASED":
            return Observed(listed=True, gone=True, owner=owner)
        record = snapshot.records.get(target)
        instance = cfgpu_mapping.instance(target, found.status_code, record)
        return Observed(listed=True, instance=instance, fresh=True, owner=owner)

    async def _with_image(self, account: Account, view: View) -> View:
        """The wanted image id, only when it can matter: an instance exists to re-image."""
        if not (self.status.instance_id and view.may_mutate and not self.deleting):
            return view
        try:
            image = await self._image(account)
        except ApiError as exc:
            return replace(view, image_error=exc)
        return replace(view, wanted_image=image.id)

    def quiet(self, decision: Decision[Act], full_every: float) -> Quiet | None:
        """What lets the next timer runs skip: this reconcile called nothing and found
        nothing due, on a fresh poll row of a pay-as-you-go instance (a prepaid one's expiry
        moves with the clock). Its row changing in a later poll, or the object changing,
        ends it; so does ``full_every`` seconds passing (for a Secret or the catalog)."""
        observed, account, row = self.observed, self.account, self.row
        if account is None or row is None or observed is None or observed.instance is None:
            return None
        if self.called or self.deleting or not observed.fresh or observed.instance.prepaid:
            return None
        if self.spec.lifecycle is not None or _waits_for_quota(decision):
            return None  # its rules, or the room it waits for, move with other objects

        if decision.act is not Act.NOTHING or decision.gate.retry != "none":
            return None
        poller, target = account.poller, observed.instance.instance_id

        def probe() -> object:
            snapshot = poller.snapshot
            if snapshot is None:
                return None
            return (snapshot.status_of(target), snapshot.records.get(target))

        version = str(self.body["metadata"].get("resourceVersion"))
        return Quiet(version, probe, row, time.monotonic() + full_every)

    # -- decide and act ---------------------------------------------------------------------

    def decide(self, view: View) -> Decision[Act]:
        quotas, gpus = self.rt.quotas, self.spec.gpu_count
        if view.may_mutate and not self.deleting:
            over = quotas.over(self.uid, self.namespace, gpus)
            view = replace(view, over_quota=over, quota_stop=quotas.stop_reason(self.uid))
        decision = decide(view)
        quotas.wait(self.uid, self.namespace, _waits_for_quota(decision))
        return decision

    def with_outcome(self, view: View, outcome: Outcome) -> View:
        return replace(view, outcome=outcome)

    async def act(self, view: View, decision: Decision[Act]) -> Outcome | None:
        act, account = decision.act, self.account
        if act in TAKES_GPUS:
            # In the same step of the event loop as the decision that read the room: no
            # other object can take it in between.
            self.rt.quotas.take(self.uid, self.namespace, self.spec.gpu_count)
        if act is Act.ADOPT and self.spec.instance_id:
            self.rt.claim(self.spec.instance_id, self.uid, self.me)
        if account is None or act not in _CALLS:
            return None
        try:
            outcome = await _CALLS[act](self, account, decision)
        except ApiError as exc:
            outcome = Outcome(error=exc)
        # Whatever it answered, the call may have acted (a failure may be an answer lost after
        # CFGPU committed): the next decision waits for a poll begun after it.
        self.state.acted_cycle = account.poller.begun
        if not isinstance(outcome.error, WrongState):
            # One prompt poll, listing and all, to see what it did. CFGPU refusing for the
            # state the poll showed is left to the poller's own cadence (no kick).
            account.poller.refresh()
        self.called = outcome.error is None
        rule = decision.args.get("lifecycle")
        if self.called and rule:
            LIFECYCLE_ACTIONS.labels(act.value, str(rule)).inc()
        return outcome

    async def _create(self, account: Account, decision: Decision[Act]) -> Outcome:
        name = str(decision.args["name"])
        found = await self._find(account, name)
        if found.kind == "ambiguous":
            return Outcome(ambiguous=found.instance_ids)
        if found.kind == "one":
            instance_id = found.instance_ids[0]
            owner = self._owner(instance_id)
            if owner is None:
                self.rt.claim(instance_id, self.uid, self.me)
            return Outcome(instance_id=instance_id, found_by_name=owner is None, owner=owner)
        unsure = self.state.create_unsure_until - time.monotonic()
        if unsure > 0:
            raise Unavailable(
                f"the answer to the last create was lost; waiting {unsure:.0f} s more for "
                "CFGPU to list the instance before renting again",
                api="cfgpu",
                endpoint="instance/create",
            )
        renter = Renter(
            self.rt.settings,
            self.spec,
            self.status.candidate,
            self.state,
            lambda instance_id: self.rt.claim(instance_id, self.uid, self.me),
            self._image,
        )
        return await renter.rent(account, name)

    async def _find(self, account: Account, name: str) -> Match:
        """Instances named ``name``: from the shared poll when it lists every instance and
        began after this object's last call (no call at all), else by CFGPU's search."""
        snapshot = await self._after_last_call(account, account.poller.snapshot)
        if snapshot and snapshot.complete and snapshot.cycle > self.state.acted_cycle:
            return match_by_name(snapshot.named.get(name, ()), name)
        return await _named(account, name)

    async def _image(self, account: Account) -> ResolvedImage:
        return await account.catalog.image(
            cfgpu_mapping.image_ref(self.spec.image), self.spec.adapt_type
        )

    async def _start(self, account: Account, decision: Decision[Act]) -> Outcome:
        await account.client.start_instance(self._id(decision))
        return Outcome()

    async def _stop(self, account: Account, decision: Decision[Act]) -> Outcome:
        await account.client.stop_instance(self._id(decision))
        return Outcome()

    async def _change_image(self, account: Account, decision: Decision[Act]) -> Outcome:
        await account.client.change_image(self._id(decision), str(decision.args["image_id"]))
        return Outcome()

    async def _release(self, account: Account, decision: Decision[Act]) -> Outcome:
        instance_id = self._id(decision)
        await account.client.release_instance(instance_id)
        self.state.removed = instance_id
        return Outcome()

    def _id(self, decision: Decision[Act]) -> str:
        return str(decision.args.get("instance_id") or self.status.instance_id)


def _waits_for_quota(decision: Decision[Act]) -> bool:
    ready = condition(list(decision.status.get("conditions") or []), "Ready") or {}
    return ready.get("reason") == Reason.QUOTA_EXCEEDED


async def _named(account: Account, name: str) -> Match:
    """What instance/page's keyWord search finds with exactly this name (not released)."""
    records = [
        (r.instance_id, r.instance_name, r.status_code)
        async for r in account.client.iter_instances(key_word=name)
    ]
    return match_by_name(records, name)


_Call = Callable[[GpuInstanceAdapter, Account, Decision[Act]], Awaitable[Outcome]]
_CALLS: dict[Act, _Call] = {
    Act.CREATE: GpuInstanceAdapter._create,
    Act.START: GpuInstanceAdapter._start,
    Act.STOP: GpuInstanceAdapter._stop,
    Act.CHANGE_IMAGE: GpuInstanceAdapter._change_image,
    Act.RELEASE: GpuInstanceAdapter._release,
}
