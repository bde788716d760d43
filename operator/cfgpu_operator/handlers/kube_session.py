"""The HTTP session Kopf talks to the Kubernetes API server with, with a bounded pool.

Kopf's own session opens a new connection for every concurrent request: a burst of 10,000
objects held 10,000 sockets to the API server (1.2 GB of operator memory, and as many TLS
handshakes for a real API server). Here every request other than a watch shares a fixed
number of connections and the rest wait their turn, in order."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import kopf

# Besides the watches of our kinds, Kopf watches CustomResourceDefinitions and Namespaces.
OBSERVERS = 2


def watches(kinds: int, namespaces: int) -> int:
    """Connections held open by watch streams: one per kind and namespace watched."""
    return kinds * max(1, namespaces) + OBSERVERS


async def login(connections: int, **kwargs: Any) -> kopf.AiohttpSession | None:
    """Kopf's credentials (in-cluster service account, else the kubeconfig, as kubectl does)
    in a session of at most ``connections`` connections."""
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
    return kopf.AiohttpSession(
        aiohttp_session=session,
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
    )
