"""What the handlers share while the operator runs: one client, catalog and poller per
token, per-object locks and retry state, and token lookup from Secrets."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from cfgpu_operator import metrics
from cfgpu_operator.clients.background import Background
from cfgpu_operator.clients.catalog import Catalog
from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.cfgpu_poller import Poller
from cfgpu_operator.clients.http import ClientOptions
from cfgpu_operator.clients.safe import SafeClient
from cfgpu_operator.clients.safe_poller import SafePoller
from cfgpu_operator.reconcile import status as status_fields
from cfgpu_operator.reconcile.safeworkload import ENV_TAG
from cfgpu_operator.reconcile.verdicts import Verdict, retry_delay
from cfgpu_operator.settings import Settings


class CredentialsError(Exception):
    """The object's Secret is missing or unusable; the message never holds the token."""


@dataclass
class Account:
    """Everything bound to one token."""

    client: CfgpuClient
    catalog: Catalog
    poller: Poller


@dataclass
class SafeAccount:
    """Everything bound to one Primus-SaFE key."""

    client: SafeClient
    poller: SafePoller


@dataclass
class ObjectState:
    """In-memory bookkeeping for one object (lost on restart, which is safe: the worst case
    is one early retry, answered by a 52xxx "observe again")."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    acted_cycle: int = -1  # poll cycles begun by the last mutating call; trust only later ones
    attempts: int = 0  # consecutive failures, for backoff
    retry_at: float = 0.0  # epoch time before which no new attempt is made
    last_delay: float = 0.0  # the backoff last chosen (deletion requeues after it)
    submit_recorded: str | None = None  # a submit time this process stored, not yet sent
    # status fields patched (value, monotonic time) that the body may not show yet
    written: dict[str, tuple[Any, float]] = field(default_factory=dict)

    def view(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The status as this process last left it. A handler queued behind the lock (or
        woken by a late watch event) holds a body from before the previous handler's patch;
        deciding on that would repeat its warnings and calls and skip its backoff."""
        seen = dict(body.get("status") or {})
        self.written = status_fields.unseen(seen, self.written, time.monotonic())
        return status_fields.overlay(seen, {k: v for k, (v, _) in self.written.items()})

    def remember(self, patch: Mapping[str, Any]) -> None:
        """Call with the handler's patch once it is done (Kopf applies it afterwards)."""
        now = time.monotonic()
        self.written.update({k: (v, now) for k, v in (patch.get("status") or {}).items()})


class Runtime:
    def __init__(self, settings: Settings, kube: Any | None = None) -> None:
        self.settings = settings
        self.options = ClientOptions.from_settings(settings)
        self._accounts: dict[str, Account] = {}
        self._safe: dict[str, SafeAccount] = {}
        self._objects: dict[str, ObjectState] = {}
        # Instance id -> "namespace/name" of the object that rented or adopted it in this
        # process: the index learns it only once the status patch comes back by watch.
        self.claims: dict[str, str] = {}
        self._claimed: dict[str, set[str]] = {}  # uid -> instance ids it claimed
        self._kube = kube  # a kubernetes.client.CoreV1Api, created on first Secret read
        self._api: Any = None

    def default_token(self) -> str | None:
        token = self.settings.CFGPU_API_TOKEN
        return token.get_secret_value() if token else None

    def account(self, token: str) -> Account:
        found = self._accounts.get(token)
        if found is None:
            settings = self.settings
            client = CfgpuClient(
                SecretStr(token), base_url=str(settings.CFGPU_API_URL), options=self.options
            )
            poller = Poller(
                client,
                fast=settings.CFGPU_OPERATOR_POLL_FAST,
                slow=settings.CFGPU_OPERATOR_POLL_SLOW,
            )
            catalog = Catalog(client, ttl=settings.CFGPU_OPERATOR_CATALOG_TTL)
            found = self._accounts[token] = Account(client, catalog, poller)
            poller.stall_after = self.stall_after()
            poller.start()
        return found

    def safe_account(self, token: str) -> SafeAccount:
        found = self._safe.get(token)
        if found is None:
            settings = self.settings
            if settings.SAFE_API_URL is None:
                raise CredentialsError("SAFE_API_URL is not configured")
            client = SafeClient(
                SecretStr(token), base_url=str(settings.SAFE_API_URL), options=self.options
            )
            poller = SafePoller(
                client,
                tag_key=ENV_TAG,
                fast=settings.CFGPU_OPERATOR_POLL_FAST,
                slow=settings.CFGPU_OPERATOR_POLL_SLOW,
            )
            found = self._safe[token] = SafeAccount(client, poller)
            poller.stall_after = self.stall_after()
            poller.start()
        return found

    async def safe_token_for(self, namespace: str, ref: dict[str, Any] | None) -> str:
        """The object's Primus-SaFE key: its Secret if it names one, else SAFE_API_TOKEN."""
        if ref:
            return await self.secret_value(namespace, ref["name"], ref.get("key", "token"))
        token = self.settings.SAFE_API_TOKEN
        if token is None:
            raise CredentialsError("no credentialsSecretRef and no SAFE_API_TOKEN configured")
        return token.get_secret_value()

    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def state(self, uid: str) -> ObjectState:
        return self._objects.setdefault(uid, ObjectState())

    def schedule_retry(self, state: ObjectState, v: Verdict) -> None:
        """After a failure: the next attempt waits per the verdict (backoff, slow, or never
        until the spec changes, which the caller checks separately)."""
        settings = self.settings
        delay = retry_delay(
            v.retry,
            state.attempts,
            base=settings.CFGPU_OPERATOR_BACKOFF_BASE,
            slow=settings.CFGPU_OPERATOR_SLOW_RETRY,
            cap=settings.CFGPU_OPERATOR_BACKOFF_MAX,
            retry_after=v.retry_after,
        )
        state.attempts += 1
        state.retry_at = time.time() + (delay or 0.0)

    def claim(self, instance_id: str, uid: str, owner: str) -> None:
        self.claims[instance_id] = owner
        self._claimed.setdefault(uid, set()).add(instance_id)

    def forget(self, uid: str) -> None:
        for instance_id in self._claimed.pop(uid, set()):
            self.claims.pop(instance_id, None)
        self._objects.pop(uid, None)
        metrics.OBJECTS.forget(uid)

    def stall_after(self) -> float:
        """Seconds a poller may go without finishing a cycle: three slow intervals plus
        every attempt of a few calls timing out and waiting the longest retry pause."""
        s = self.settings
        per_call = s.CFGPU_OPERATOR_RETRY_ATTEMPTS * (
            s.CFGPU_OPERATOR_HTTP_TIMEOUT + s.CFGPU_OPERATOR_RETRY_MAX_WAIT
        )
        return 3 * s.CFGPU_OPERATOR_POLL_SLOW + 3 * per_call

    def stalled_pollers(self) -> list[str]:
        """Why pollers count as stalled (for liveness); empty while all are healthy."""
        pollers: list[Background] = [a.poller for a in self._accounts.values()]
        pollers += [a.poller for a in self._safe.values()]
        return [reason for p in pollers if (reason := p.stalled()) is not None]

    async def close(self) -> None:
        for account in self._accounts.values():
            await account.poller.stop()
            await account.client.aclose()
        for safe in self._safe.values():
            await safe.poller.stop()
            await safe.client.aclose()
        self._accounts.clear()
        self._safe.clear()

    async def token_for(self, namespace: str, ref: dict[str, Any] | None) -> str:
        """The object's token: from its Secret if it names one, else the operator's."""
        if ref:
            return await self.secret_value(namespace, ref["name"], ref.get("key", "token"))
        token = self.default_token()
        if token is None:
            raise CredentialsError("no credentialsSecretRef and no CFGPU_API_TOKEN configured")
        return token

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        """One value of a Secret; CredentialsError (never quoting the value) when unusable."""
        try:
            secret = await asyncio.to_thread(self._core().read_namespaced_secret, name, namespace)
        except Exception as exc:  # the client raises ApiException and transport errors
            status = getattr(exc, "status", None)
            what = "not found" if status == 404 else f"unreadable (HTTP {status})"
            raise CredentialsError(f"Secret {namespace}/{name} is {what}") from None
        raw = (secret.data or {}).get(key)
        if not raw:
            raise CredentialsError(f"Secret {namespace}/{name} has no key {key!r}")
        try:
            token = base64.b64decode(raw).decode().strip()
        except ValueError:
            raise CredentialsError(f"Secret {namespace}/{name} key {key!r} is not base64") from None
        if not token:
            raise CredentialsError(f"Secret {namespace}/{name} key {key!r} is empty")
        return token

    def _core(self) -> Any:
        if self._kube is None:
            from kubernetes import client

            self._kube = client.CoreV1Api(self.api_client())
        return self._kube

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
