"""What the handlers share while the operator runs, by concern: accounts (one client and
poller per token, counted by the objects using it), credentials (Secrets through a short
cache), per-object memory, and which object claimed which instance."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cfgpu_operator import metrics
from cfgpu_operator.clients.http import ClientOptions
from cfgpu_operator.handlers import accounts
from cfgpu_operator.handlers.accounts import Account, SafeAccount
from cfgpu_operator.handlers.cluster import Cluster
from cfgpu_operator.handlers.credentials import CredentialsError, Secrets, Tokens
from cfgpu_operator.handlers.directory import Directory
from cfgpu_operator.handlers.kube_session import StatusPatcher, WriteFailed
from cfgpu_operator.handlers.objects import ObjectState
from cfgpu_operator.handlers.orphans import OrphanWatch
from cfgpu_operator.handlers.quotas import QUOTAS, QuotaLedger
from cfgpu_operator.handlers.usage_meter import USAGE
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.settings import Settings

__all__ = ["Account", "CredentialsError", "ObjectState", "Runtime", "SafeAccount"]

KEEPER = "cfgpu-operator/orphans"  # the user that keeps the operator-wide account polled
RETIRED = 1000  # finished deletions whose memory is kept (a few hundred bytes each)


class Runtime:
    def __init__(self, settings: Settings, kube: Any | None = None) -> None:
        self.settings = settings
        self.options = ClientOptions.from_settings(settings)
        stall = self.stall_after()
        self._cfgpu = accounts.cfgpu_pool(settings, self.options, stall)
        self._safe = accounts.safe_pool(settings, self.options, stall)
        self._objects: dict[str, ObjectState] = {}
        # Memory of objects whose deletion finished, kept a while: Kopf may run the delete
        # handler once more on an older body before it drops the finalizer, and that run
        # must know the DELETE or release already went through.
        self._retired: OrderedDict[str, ObjectState] = OrderedDict()
        self._kube = kube  # a kubernetes.client.CoreV1Api, created on first Secret read
        self._api: Any = None
        self.secrets = Secrets(self._core, ttl=settings.CFGPU_OPERATOR_SECRET_TTL)
        self.tokens = Tokens(settings, self.secrets)
        self.directory = Directory()
        self.quotas = QuotaLedger()
        QUOTAS.attach(self.quotas)
        self.patcher = StatusPatcher()  # given Kopf's session when Kopf logs in
        # Set at start-up (handlers/cluster.py); without one (tests driving handlers
        # directly) names have the earlier form and no orphan is looked for.
        self.cluster: Cluster | None = None
        self.orphans: OrphanWatch | None = None

    @property
    def cluster_id(self) -> str | None:
        return None if self.cluster is None else self.cluster.id

    def watch_orphans(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.orphans = OrphanWatch(
            self.settings, cluster, self.directory.known, self.patcher.post_event
        )

    def keep_default_account(self) -> None:
        """Poll the operator-wide token's account even while no object uses it (at the slow
        interval, then): when every GpuInstance is gone, its orphans are what is left."""
        token = self.settings.CFGPU_API_TOKEN
        if token is not None and self.orphans is not None:
            self.account(token.get_secret_value(), KEEPER)

    # -- accounts --------------------------------------------------------------------------

    def account(self, token: str, uid: str) -> Account:
        found = self._cfgpu.get(token, uid)
        if self.orphans is not None:
            self.orphans.watch(token, found)
        return found

    def safe_account(self, token: str, uid: str) -> SafeAccount:
        if self.settings.SAFE_API_URL is None:
            raise CredentialsError("SAFE_API_URL is not configured")
        return self._safe.get(token, uid)

    def accounts(self) -> list[Account]:
        return self._cfgpu.all()

    async def close_unused(self) -> None:
        """Stop polling for tokens no object uses any more."""
        unused = self._cfgpu.unused()
        if self.orphans is not None:
            await self.orphans.stop(unused)
        await accounts.close(unused)
        await accounts.close(self._safe.unused())

    # -- objects ---------------------------------------------------------------------------

    def state(self, uid: str) -> ObjectState:
        found = self._objects.get(uid)
        if found is None:
            retired = self._retired.pop(uid) if uid in self._retired else None
            found = self._objects[uid] = retired or ObjectState()
        return found

    def claim(self, instance_id: str, uid: str, owner: str) -> None:
        self.directory.claim(instance_id, uid, owner)

    async def seed_directory(self, namespaces: tuple[str, ...]) -> None:
        """Every stored GpuInstance (and SafeWorkload) once, before Kopf watches any."""
        plurals = {"GpuQuota": "gpuquotas", "GpuInstance": "gpuinstances"}
        if self.settings.SAFE_API_URL is not None:
            plurals["SafeWorkload"] = "safeworkloads"
        for kind, plural in plurals.items():
            for namespace in namespaces or (None,):
                items = await asyncio.to_thread(self.list_all, plural, namespace)
                if kind != "SafeWorkload":
                    # What each namespace may hold, and holds, before any create or start.
                    self.quotas.seed(kind, items)
                if kind != "GpuQuota":
                    self.directory.seed(kind, items)

    async def forget(self, uid: str) -> None:
        """The object is gone: drop its memory, its claims and its use of accounts."""
        self.directory.forget(uid)
        self.quotas.forget(uid)
        state = self._objects.pop(uid, None)
        if state is not None:
            self._retired[uid] = state
            while len(self._retired) > RETIRED:
                self._retired.popitem(last=False)
        metrics.OBJECTS.forget(uid)
        USAGE.forget(uid)
        self._cfgpu.release(uid)
        self._safe.release(uid)
        await self.close_unused()

    # -- health and shutdown -----------------------------------------------------------------

    def stall_after(self) -> float:
        """Seconds a poller may go without finishing a cycle: three slow intervals plus
        every attempt of a few calls timing out and waiting the longest retry pause."""
        s = self.settings
        per_call = s.CFGPU_OPERATOR_RETRY_ATTEMPTS * (
            s.CFGPU_OPERATOR_HTTP_TIMEOUT + s.CFGPU_OPERATOR_RETRY_MAX_WAIT
        )
        return 3 * s.CFGPU_OPERATOR_POLL_SLOW + 3 * per_call

    def stalled_pollers(self) -> list[str]:
        """Why pollers or API clients count as stalled (for liveness); empty while all are
        healthy."""
        every: list[Account | SafeAccount] = [*self._cfgpu.all(), *self._safe.all()]
        reasons = [a.poller.stalled() for a in every] + [a.client.stuck() for a in every]
        return [reason for reason in reasons if reason is not None]

    async def close(self) -> None:
        if self.orphans is not None:
            await self.orphans.stop()
        await accounts.close(self._cfgpu.clear())
        await accounts.close(self._safe.clear())

    # -- Kubernetes ------------------------------------------------------------------------

    def _core(self) -> Any:
        if self._kube is None:
            from kubernetes import client

            self._kube = client.CoreV1Api(self.api_client())
        return self._kube

    async def write_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> str | None:
        """Merge-patch an object's status now, not when the handler ends (kopf.Patch); for
        what must be stored before a call that costs money, and for the periodic runs.
        Returns the resourceVersion it stored."""
        if self.patcher.ready:
            kind = (GROUP, VERSION, plural)
            return await self.patcher.patch_status(kind, namespace, name, status)
        # Before Kopf has logged in (tests that drive handlers directly).
        api = self.custom_objects()
        stored = await asyncio.to_thread(
            api.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            plural,
            name,
            {"status": dict(status)},
        )
        return str((stored or {}).get("metadata", {}).get("resourceVersion") or "") or None

    async def read_object(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One of our objects as stored now (None: gone), for a handler that waits in place."""
        if self.patcher.ready:
            return await self.patcher.read((GROUP, VERSION, plural), namespace, name)
        from kubernetes.client.exceptions import ApiException

        api = self.custom_objects()
        get = api.get_namespaced_custom_object
        try:
            found = await asyncio.to_thread(get, GROUP, VERSION, namespace, plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(found)

    def status_writer(
        self, plural: str
    ) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Awaitable[None]]:
        """``write_status`` for one kind, taking the object's body."""

        async def write(body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
            meta = body["metadata"]
            await self.write_status(plural, str(meta["namespace"]), str(meta["name"]), status)

        return write

    def list_all(self, plural: str, namespace: str | None) -> list[dict[str, Any]]:
        """All objects of a kind in one namespace (None: every namespace), a page at a time."""
        api, token = self.custom_objects(), None
        items: list[dict[str, Any]] = []
        while True:
            page = (
                api.list_cluster_custom_object(GROUP, VERSION, plural, limit=500, _continue=token)
                if namespace is None
                else api.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, limit=500, _continue=token
                )
            )
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def custom_objects(self) -> Any:
        """A kubernetes CustomObjectsApi (sync: call it through asyncio.to_thread)."""
        from kubernetes import client

        return client.CustomObjectsApi(self.api_client())

    def api_client(self) -> Any:
        if self._api is None:
            from kubernetes import client, config

            configuration = client.Configuration()
            try:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            except config.ConfigException:
                config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            self._api = client.ApiClient(configuration)
        return self._api


def write_failure(exc: Exception) -> str:
    """A failed Kubernetes write in a few words (HTTP status and reason when it has them)."""
    if isinstance(exc, WriteFailed):
        return str(exc)
    # The kubernetes client's ApiException (writes before Kopf has logged in).
    status, reason = getattr(exc, "status", None), getattr(exc, "reason", None)
    return f"HTTP {status} {reason}" if status else type(exc).__name__
