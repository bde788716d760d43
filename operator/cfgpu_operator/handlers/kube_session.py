"""The HTTP session Kopf talks to the Kubernetes API server with, with a bounded pool.

Kopf's own session opens a new connection for every concurrent request: a burst of 10,000
objects held 10,000 sockets to the API server (1.2 GB of operator memory, and as many TLS
handshakes for a real API server). Here every request other than a watch shares a fixed
number of connections and the rest wait their turn, in order."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import kopf

# Besides the watches of our kinds, Kopf watches CustomResourceDefinitions and Namespaces.
OBSERVERS = 2
COMPONENT = "cfgpu-operator"  # the Events' reporting component, as Kopf's are set to


def watches(kinds: int, namespaces: int) -> int:
    """Connections held open by watch streams: one per kind and namespace watched."""
    return kinds * max(1, namespaces) + OBSERVERS


class WriteFailed(Exception):
    """The API server refused or did not answer a write or a read (``status`` 0: no
    answer)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}" if status else reason)
        self.status, self.reason = status, reason


class StatusPatcher:
    """Status merge-patches sent over Kopf's own session (the latest one it logged in with).

    The kubernetes client is synchronous: run in threads, its writes held the GIL in its own
    Python (a third of the operator's samples in a 1,000-object burst were the intent
    writes), and it kept a second connection pool outside the bound."""

    TIMEOUT = aiohttp.ClientTimeout(total=30)

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._server = ""

    def use(self, session: aiohttp.ClientSession, server: str) -> None:
        self._session, self._server = session, server.rstrip("/")

    @property
    def ready(self) -> bool:
        return self._session is not None

    async def patch_status(
        self, kind: tuple[str, str, str], namespace: str, name: str, status: Mapping[str, Any]
    ) -> str | None:
        """``kind``: its group, version and plural. Returns the resourceVersion stored."""
        if self._session is None:
            raise WriteFailed(0, "not logged in to the API server yet")
        group, version, plural = kind
        url = f"{self._server}/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}/status"
        try:
            async with self._session.patch(
                url,
                data=json.dumps({"status": dict(status)}),
                headers={"Content-Type": "application/merge-patch+json"},
                timeout=self.TIMEOUT,
            ) as response:
                if response.status >= 400:
                    raise WriteFailed(response.status, response.reason or "")
                stored = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, RuntimeError, ValueError) as exc:
            # RuntimeError: Kopf closed this session after a re-login; the next write uses
            # the new one. ValueError: an answer that is not JSON.
            raise WriteFailed(0, type(exc).__name__) from None
        meta = stored.get("metadata") if isinstance(stored, dict) else None
        stored_version = (meta or {}).get("resourceVersion")
        return None if stored_version is None else str(stored_version)

    async def post_event(self, about: Mapping[str, Any], reason: str, message: str) -> None:
        """A Warning Event on ``about`` (apiVersion, kind, metadata name/namespace/uid) from
        outside a handler, where Kopf's own poster is not at hand."""
        if self._session is None:
            raise WriteFailed(0, "not logged in to the API server yet")
        meta = about["metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{COMPONENT}-", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": about["apiVersion"],
                "kind": about["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "type": "Warning",
            "reason": reason,
            "message": message[:1024],
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": socket.gethostname(),
        }
        url = f"{self._server}/api/v1/namespaces/{meta['namespace']}/events"
        try:
            async with self._session.post(url, json=event, timeout=self.TIMEOUT) as response:
                if response.status >= 400:
                    raise WriteFailed(response.status, response.reason or "")
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
            raise WriteFailed(0, type(exc).__name__) from None

    async def read(
        self, kind: tuple[str, str, str], namespace: str, name: str
    ) -> dict[str, Any] | None:
        """The object as stored now; None once it is gone."""
        if self._session is None:
            raise WriteFailed(0, "not logged in to the API server yet")
        group, version, plural = kind
        url = f"{self._server}/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}"
        try:
            async with self._session.get(url, timeout=self.TIMEOUT) as response:
                if response.status == 404:
                    return None
                if response.status >= 400:
                    raise WriteFailed(response.status, response.reason or "")
                found = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, RuntimeError, ValueError) as exc:
            raise WriteFailed(0, type(exc).__name__) from None
        if not isinstance(found, dict):
            raise WriteFailed(0, "an answer that is not an object")
        return found


async def login(
    connections: int, patcher: StatusPatcher | None = None, **kwargs: Any
) -> kopf.AiohttpSession | None:
    """Kopf's credentials (in-cluster service account, else the kubeconfig, as kubectl does)
    in a session of at most ``connections`` connections; ``patcher`` writes over it too."""
    # Reading a kubeconfig may run an exec plugin: not on the event loop.
    info = await asyncio.to_thread(kopf.login_via_client, **kwargs)
    if info is None:
        return None
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    if patcher is not None:
        patcher.use(session, info.server)
    return kopf.AiohttpSession(
        aiohttp_session=session,
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
    )
