"""Fault injection shared by every emulator: make the next N matching calls misbehave.

A fault matches an endpoint name (the emulator's own names, e.g. ``instance/create``, or
``*``) and optionally a method. Faults fire in the order they were added; each fires
``times`` times, then is gone. Besides, ``chaos`` makes a share of all other calls misbehave
at random (reproducibly, from a seed), as a flaky network and a struggling API would.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from fnmatch import fnmatchcase
from typing import Any

from aiohttp import web


class FaultKind(Enum):
    ERROR = "error"  # the API's own error envelope with a code and message
    HTTP = "http"  # a bare HTTP status (500, 429 with Retry-After, 401...)
    LATENCY = "latency"  # answer normally, but late
    MALFORMED = "malformed"  # 200 with a body that is not JSON
    HTML = "html"  # an HTML error page, as proxies send
    EMPTY = "empty"  # 200 with no body
    DROP = "drop"  # close the connection before acting
    DROP_AFTER_COMMIT = "drop_after_commit"  # act, then close the connection unanswered
    DELAY_AFTER_COMMIT = "delay_after_commit"  # act, then answer only after `delay` seconds
    TRICKLE = "trickle"  # act, then send the answer a byte every `delay` seconds


@dataclass
class Fault:
    kind: FaultKind
    endpoint: str = "*"
    method: str | None = None
    times: int = 1
    status: int = 500
    code: str | int | None = None
    message: str = ""
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, endpoint: str, method: str) -> bool:
        """``endpoint`` may be a shell-style pattern (``*``, ``patch:*``)."""
        return fnmatchcase(endpoint, self.endpoint) and self.method in (None, method.upper())


class FaultPlan:
    """The faults waiting to fire, and a bounded record of those that did."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self.fired: deque[tuple[str, FaultKind]] = deque(maxlen=1000)
        self._chaos: tuple[float, Sequence[Fault], random.Random] | None = None
        self.chaos_fired = 0

    def chaos(self, share: float, faults: Sequence[Fault], seed: int) -> None:
        """From now on, each call no planned fault matches misbehaves with probability
        ``share``, as one of ``faults`` picked at random; ``share`` 0 ends it."""
        rng = random.Random(seed)  # noqa: S311 - reproducible chaos, not secrets
        self._chaos = (share, list(faults), rng) if share > 0 else None

    def add(self, fault: Fault) -> Fault:
        if fault.times < 1:
            raise ValueError("a fault fires at least once")
        self._faults.append(fault)
        return fault

    def error(self, endpoint: str, code: str | int, message: str, times: int = 1) -> Fault:
        return self.add(Fault(FaultKind.ERROR, endpoint, code=code, message=message, times=times))

    def http(
        self,
        endpoint: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str = "",
    ) -> Fault:
        fault = Fault(FaultKind.HTTP, endpoint, status=status, times=times, message=message)
        fault.headers.update(headers or {})
        return self.add(fault)

    def latency(self, endpoint: str, seconds: float, times: int = 1) -> Fault:
        return self.add(Fault(FaultKind.LATENCY, endpoint, delay=seconds, times=times))

    def kind(self, kind: FaultKind, endpoint: str, times: int = 1, delay: float = 0.0) -> Fault:
        """MALFORMED, HTML, EMPTY, DROP, DROP_AFTER_COMMIT, or DELAY_AFTER_COMMIT and TRICKLE
        (both with ``delay``)."""
        return self.add(Fault(kind, endpoint, times=times, delay=delay))

    def clear(self) -> None:
        self._faults.clear()
        self._chaos = None

    @property
    def pending(self) -> list[Fault]:
        return list(self._faults)

    def take(self, endpoint: str, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(endpoint, method):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                self.fired.append((endpoint, fault.kind))
                return fault
        return self._random(endpoint, method)

    def _random(self, endpoint: str, method: str) -> Fault | None:
        if self._chaos is None:
            return None
        share, faults, rng = self._chaos
        if rng.random() >= share:
            return None
        candidates = [f for f in faults if f.matches(endpoint, method)]
        if not candidates:
            return None
        fault = replace(rng.choice(candidates), times=1)
        self.fired.append((endpoint, fault.kind))
        self.chaos_fired += 1
        return fault


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FAULT = web.RequestKey("fault", str)  # the kind of fault applied, for the emulator's log
ErrorRenderer = Callable[[Fault], web.Response]

_HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>bad gateway</body></html>"


def make_fault_middleware(
    plan: FaultPlan, endpoint_of: Callable[[web.Request], str], render_error: ErrorRenderer
) -> Any:
    """An aiohttp middleware applying ``plan``; ``render_error`` shapes the API's own errors."""

    @web.middleware
    async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = plan.take(endpoint_of(request), request.method)
        if fault is None:
            return await handler(request)
        request[FAULT] = fault.kind.value
        return await _apply(fault, request, handler, render_error)

    return faults


async def _apply(
    fault: Fault, request: web.Request, handler: Handler, render_error: ErrorRenderer
) -> web.StreamResponse:
    kind = fault.kind
    if kind is FaultKind.LATENCY:
        await asyncio.sleep(fault.delay)
        return await handler(request)
    if kind is FaultKind.DROP_AFTER_COMMIT:
        response = await handler(request)
        return _drop(request, response)
    if kind is FaultKind.DELAY_AFTER_COMMIT:
        response = await handler(request)
        await _hold(request, fault.delay)
        return response
    if kind is FaultKind.TRICKLE:
        return await _trickle(request, await handler(request), fault.delay)
    if kind is FaultKind.DROP:
        return _drop(request, web.Response())
    if kind is FaultKind.ERROR:
        return render_error(fault)
    if kind is FaultKind.HTTP:
        return web.Response(status=fault.status, text=fault.message, headers=fault.headers)
    if kind is FaultKind.HTML:
        return web.Response(status=502, text=_HTML_PAGE, content_type="text/html")
    if kind is FaultKind.EMPTY:
        return web.Response(status=200, body=b"", content_type="application/json")
    return web.Response(status=200, text='{"success": tru', content_type="application/json")


async def _hold(request: web.Request, seconds: float) -> None:
    """Wait before answering, but stop as soon as the client has gone (it was killed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.05)


async def _trickle(
    request: web.Request, response: web.StreamResponse, seconds: float
) -> web.StreamResponse:
    """Headers at once, then the body a byte at a time: every read makes progress, so only a
    deadline on the whole request (not a per-read timeout) ends the wait."""
    body = response.body if isinstance(response, web.Response) else None
    data = body if isinstance(body, bytes) else b""
    slow = web.StreamResponse(status=response.status, headers=response.headers)
    await slow.prepare(request)
    for index in range(len(data)):
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await slow.write(data[index : index + 1])
        await asyncio.sleep(seconds)
    return slow


def _drop(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    # Aborting the transport makes the client see a connection closed without an answer;
    # aiohttp then quietly discards the response it is handed.
    if request.transport is not None:
        request.transport.abort()
    return response
