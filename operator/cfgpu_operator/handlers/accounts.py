"""One client, catalog and poller per token, shared by the objects that use the token, and
stopped once no object uses it any more (a token no object names costs no API calls)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import SecretStr

from cfgpu_operator.clients.catalog import Catalog
from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.cfgpu_poller import Poller
from cfgpu_operator.clients.http import ClientOptions
from cfgpu_operator.clients.safe import SafeClient
from cfgpu_operator.clients.safe_poller import SafePoller
from cfgpu_operator.clients.safe_workspaces import Workspaces
from cfgpu_operator.reconcile.safeworkload import ENV_TAG
from cfgpu_operator.settings import Settings


@dataclass
class Account:
    """Everything bound to one CFGPU token."""

    client: CfgpuClient
    catalog: Catalog
    poller: Poller
    # (region code, GPU type code) -> until when (monotonic) it is taken as out of stock:
    # a hundred objects waiting for one offer do not each try it.
    no_stock: dict[tuple[str, str], float] = field(default_factory=dict)


@dataclass
class SafeAccount:
    """Everything bound to one Primus-SaFE key."""

    client: SafeClient
    poller: SafePoller
    workspaces: Workspaces


A = TypeVar("A", Account, SafeAccount)


class Pool(Generic[A]):
    """Accounts by token, each with the set of objects (uids) that use it."""

    def __init__(self, build: Callable[[str], A]) -> None:
        self._build: Callable[[str], A] = build
        self._accounts: dict[str, A] = {}
        self._users: dict[str, set[str]] = {}  # token -> uids
        self._token_of: dict[str, str] = {}  # uid -> token

    def get(self, token: str, uid: str) -> A:
        """The account for ``token``, now counted as used by ``uid`` (and by no other)."""
        found = self._accounts.get(token)
        if found is None:
            found = self._accounts[token] = self._build(token)
            found.poller.start()
        previous = self._token_of.get(uid)
        self._token_of[uid] = token
        self._users.setdefault(token, set()).add(uid)
        if previous is not None and previous != token:
            self._users.get(previous, set()).discard(uid)
        return found

    def unused(self) -> list[A]:
        """Accounts no object uses any more, removed from the pool (the caller closes them)."""
        idle = [token for token, users in self._users.items() if not users]
        out = [self._accounts.pop(token) for token in idle if token in self._accounts]
        for token in idle:
            del self._users[token]
        return out

    def release(self, uid: str) -> None:
        token = self._token_of.pop(uid, None)
        if token is not None:
            self._users.get(token, set()).discard(uid)

    def all(self) -> list[A]:
        return list(self._accounts.values())

    def clear(self) -> list[A]:
        out = self.all()
        self._accounts.clear()
        self._users.clear()
        self._token_of.clear()
        return out


def cfgpu_pool(settings: Settings, options: ClientOptions, stall_after: float) -> Pool[Account]:
    def build(token: str) -> Account:
        client = CfgpuClient(
            SecretStr(token), base_url=str(settings.CFGPU_API_URL), options=options
        )
        poller = Poller(
            client, fast=settings.CFGPU_OPERATOR_POLL_FAST, slow=settings.CFGPU_OPERATOR_POLL_SLOW
        )
        poller.stall_after = stall_after
        return Account(client, Catalog(client, ttl=settings.CFGPU_OPERATOR_CATALOG_TTL), poller)

    return Pool(build)


def safe_pool(settings: Settings, options: ClientOptions, stall_after: float) -> Pool[SafeAccount]:
    def build(token: str) -> SafeAccount:
        client = SafeClient(SecretStr(token), base_url=str(settings.SAFE_API_URL), options=options)
        poller = SafePoller(
            client,
            tag_key=ENV_TAG,
            fast=settings.CFGPU_OPERATOR_POLL_FAST,
            slow=settings.CFGPU_OPERATOR_POLL_SLOW,
        )
        poller.stall_after = stall_after
        workspaces = Workspaces(client, settings.CFGPU_OPERATOR_CATALOG_TTL)
        return SafeAccount(client, poller, workspaces)

    return Pool(build)


async def close(accounts: list[Account] | list[SafeAccount]) -> None:
    for account in accounts:
        await account.poller.stop()
        await account.client.aclose()
