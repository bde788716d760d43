"""Objects that share a Secret share one read of it, however their reconciles interleave."""

from __future__ import annotations

import asyncio
import base64
from types import SimpleNamespace
from typing import Any

from cfgpu_operator.handlers.credentials import Secrets


class Core:
    """A CoreV1Api stand-in that counts reads."""

    def __init__(self) -> None:
        self.reads = 0

    def read_namespaced_secret(self, name: str, namespace: str) -> Any:
        self.reads += 1
        return SimpleNamespace(data={"token": base64.b64encode(b"s3cret").decode()})


async def _race() -> tuple[int, list[str]]:
    core = Core()
    secrets = Secrets(lambda: core, ttl=60.0)
    loop = asyncio.get_running_loop()
    late: list[asyncio.Task[str]] = []
    read = secrets._read

    async def read_then_someone_arrives(namespace: str, name: str, key: str) -> Any:
        found = await read(namespace, name, key)
        # Scheduled so that it runs after the read has finished but before the first
        # caller has woken up to see the result.
        loop.call_soon(lambda: late.append(loop.create_task(secrets.value("ml", "team", "token"))))
        return found

    secrets._read = read_then_someone_arrives  # type: ignore[method-assign]
    first = await secrets.value("ml", "team", "token")
    secrets._read = read  # type: ignore[method-assign]
    second = await late[0]
    return core.reads, [first, second]


def test_a_caller_arriving_as_the_read_ends_does_not_read_again() -> None:
    reads, values = asyncio.run(_race())
    assert values == ["s3cret", "s3cret"]
    assert reads == 1


def test_concurrent_callers_share_one_read_and_a_stale_value_is_read_again() -> None:
    now = [0.0]

    async def scenario() -> int:
        core = Core()
        secrets = Secrets(lambda: core, ttl=30.0, clock=lambda: now[0])
        got = await asyncio.gather(*(secrets.value("ml", "team", "token") for _ in range(20)))
        assert set(got) == {"s3cret"}
        now[0] = 29.0
        await secrets.value("ml", "team", "token")
        assert core.reads == 1
        now[0] = 31.0
        await secrets.value("ml", "team", "token")
        return core.reads

    assert asyncio.run(scenario()) == 2
