"""Tokens and other values from Secrets, read through a short cache.

Every reconcile needs its object's token; reading the Secret each time would put one GET per
object per reconcile on the API server. A value (or the fact that it is missing) is kept for
``TTL`` seconds per Secret key, shared by every object that names it, so a fixed or rotated
Secret is picked up within that time. Only ``get`` on Secrets is needed (no list or watch of
every Secret in the cluster).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any, Protocol

from cfgpu_operator.settings import Settings

TTL = 30.0
Key = tuple[str, str, str]  # namespace, Secret name, key


class CredentialsError(Exception):
    """The object's Secret is missing or unusable; the message never holds the token."""


class Secrets:
    def __init__(
        self,
        core: Callable[[], Any],
        *,
        ttl: float = TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = core  # returns a kubernetes CoreV1Api (created on first use)
        self._ttl, self._clock = ttl, clock
        self._cache: dict[Key, tuple[float, str | CredentialsError]] = {}
        # Objects reconciled at the same moment share one read instead of each making one.
        self._reading: dict[Key, asyncio.Task[str | CredentialsError]] = {}

    async def value(self, namespace: str, name: str, key: str) -> str:
        """One value of a Secret; CredentialsError (never quoting the value) when unusable."""
        where = (namespace, name, key)
        cached = self._cache.get(where)
        found = (
            await self._shared_read(where)
            if cached is None or self._clock() - cached[0] >= self._ttl
            else cached[1]
        )
        if isinstance(found, CredentialsError):
            raise CredentialsError(str(found))
        return found

    async def _shared_read(self, where: Key) -> str | CredentialsError:
        task = self._reading.get(where)
        if task is None:
            task = self._reading[where] = asyncio.create_task(self._fill(where))
            task.add_done_callback(lambda _: self._reading.pop(where, None))
        return await asyncio.shield(task)

    async def _fill(self, where: Key) -> str | CredentialsError:
        # Cached by the read itself, before anyone sees it finish: a caller arriving between
        # its end and its waiters' wake-up must find the value, not start a second read.
        found = await self._read(*where)
        self._cache[where] = (self._clock(), found)
        return found

    async def _read(self, namespace: str, name: str, key: str) -> str | CredentialsError:
        where = f"Secret {namespace}/{name}"
        try:
            secret = await asyncio.to_thread(self._core().read_namespaced_secret, name, namespace)
        except Exception as exc:  # the client raises ApiException and transport errors
            status = getattr(exc, "status", None)
            return CredentialsError(
                f"{where} is {'not found' if status == 404 else f'unreadable (HTTP {status})'}"
            )
        raw = (secret.data or {}).get(key)
        if not raw:
            return CredentialsError(f"{where} has no key {key!r}")
        try:
            token = base64.b64decode(raw).decode().strip()
        except ValueError:
            return CredentialsError(f"{where} key {key!r} is not base64")
        return token or CredentialsError(f"{where} key {key!r} is empty")


class SecretRef(Protocol):
    """A spec's credentialsSecretRef (both kinds have one of this shape)."""

    @property
    def name(self) -> str: ...

    @property
    def key(self) -> str: ...


class Tokens:
    """Which token an object uses: its Secret if it names one, else the operator's."""

    def __init__(self, settings: Settings, secrets: Secrets) -> None:
        self.settings, self.secrets = settings, secrets

    def default_cfgpu(self) -> str | None:
        token = self.settings.CFGPU_API_TOKEN
        return token.get_secret_value() if token else None

    async def cfgpu(self, namespace: str, ref: SecretRef | None) -> str:
        if ref is not None:
            return await self.secrets.value(namespace, ref.name, ref.key)
        token = self.default_cfgpu()
        if token is None:
            raise CredentialsError("no credentialsSecretRef and no CFGPU_API_TOKEN configured")
        return token

    async def safe(self, namespace: str, ref: SecretRef | None) -> str:
        if ref is not None:
            return await self.secrets.value(namespace, ref.name, ref.key)
        token = self.settings.SAFE_API_TOKEN
        if token is None:
            raise CredentialsError("no credentialsSecretRef and no SAFE_API_TOKEN configured")
        return token.get_secret_value()
