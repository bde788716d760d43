"""A burst of calls on one token against a slow server: every call is answered, none times
out waiting for a connection, and no more than the configured number are ever in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from aiohttp import web

from cfgpu_operator.clients import turns
from cfgpu_operator.clients.http import STUCK_AFTER, ClientOptions, HttpApi
from cfgpu_operator.emulators.serving import serve
from tests.helpers import eventually

SERVER_DELAY = 0.05  # each answer takes this long: the server is slow, not the client


@asynccontextmanager
async def api_for(
    answer: Callable[[web.Request], Awaitable[web.Response]], **options: Any
) -> AsyncIterator[HttpApi]:
    """An HttpApi with these options against a server answering GET /x with ``answer``."""
    app = web.Application()
    app.router.add_get("/x", answer)
    async with serve(app) as url:
        api = HttpApi(
            api="cfgpu", base_url=url, headers={}, secrets=(), options=ClientOptions(**options)
        )
        try:
            yield api
        finally:
            await api.aclose()


async def get(api: HttpApi, who: str = "", *, idempotent: bool = False) -> Any:
    return await api.call(
        "GET",
        "/x",
        endpoint="x",
        parse=httpx.Response.json,
        idempotent=idempotent,
        params={"who": who},
    )


async def test_a_burst_is_bounded_and_never_times_out_in_the_queue() -> None:
    live, most = 0, 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal live, most
        live += 1
        most = max(most, live)
        await asyncio.sleep(SERVER_DELAY)
        live -= 1
        return web.json_response({"ok": True})

    # 400 calls, 10 at a time, take a few seconds in all (client and server share one busy
    # event loop); each call alone stays well within the 0.5 s timeout, which a call queued
    # for a pooled connection would have spent waiting.
    async with api_for(slow, timeout=0.5, rate_limit=1000, max_in_flight=10) as api:
        calls = [get(api) for _ in range(400)]
        answers = await asyncio.gather(*calls, return_exceptions=True)
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert errors == []
    assert most <= 10


async def test_a_poll_goes_before_the_calls_already_waiting() -> None:
    """Calls made under ``turns.first()`` (the account pollers) take the next free slot: a
    poll queued behind 60 per-object calls is answered among the first few, not the last."""
    order: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        order.append(request.query["who"])
        await asyncio.sleep(0.01)
        return web.json_response({"ok": True})

    async with api_for(answer, timeout=5, rate_limit=1000, max_in_flight=2) as api:

        async def poll() -> object:
            with turns.first():
                return await get(api, "poll")

        ordinary = [asyncio.create_task(get(api, f"object-{i}")) for i in range(60)]
        await asyncio.sleep(0)  # they are all queued before the poll asks
        await asyncio.gather(poll(), *ordinary)
    assert len(order) == 61
    assert order.index("poll") <= 4  # the two in flight, then the poll (and a little slack)


async def test_a_client_that_stops_sending_counts_as_stuck() -> None:
    """Calls wait and nothing was sent or answered for a minute: liveness fails (the pod is
    restarted) instead of instances staying billed behind a client that sends nothing."""

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async with api_for(answer, timeout=5, rate_limit=1000, max_in_flight=1) as api:
        late = time.monotonic() + STUCK_AFTER + 1
        assert api.stuck(now=late) is None  # quiet, but nothing waits: idle, not stuck
        async with api._turns.turn():  # the only slot, never given back (a leak)
            waiting = asyncio.create_task(get(api, idempotent=True))
            await eventually(lambda: api._turns.queued == 1, what="the call waits")
            assert api.stuck() is None  # not yet a minute
            reason = api.stuck(now=late)
            assert reason is not None
            assert reason.startswith("the cfgpu client sent nothing for 6")
            assert reason.endswith("while 1 calls wait")
        assert await waiting == {"ok": True}
        assert api.stuck(now=late - 1) is None  # it sent again
