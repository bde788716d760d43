"""Shared HTTP plumbing for the API clients: one connection pool, rate limit and retry policy.

Each API client owns one ``HttpApi`` per token. Reads go through tenacity with exponential
backoff and full jitter; writes are sent exactly once, because a write that timed out may
have happened and only observing again can tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from cfgpu_operator import metrics
from cfgpu_operator.clients.turns import Turns
from cfgpu_operator.errors import ApiError, ApiTimeout, RateLimited, Unavailable, redact
from cfgpu_operator.settings import Settings

log = logging.getLogger("cfgpu_operator.clients")

T = TypeVar("T")

# How much of an unusable response body to quote in an error message.
BODY_EXCERPT = 200
# Pool connections beyond the in-flight bound, so a request never waits for one.
POOL_SPARE = 4
# Calls waiting while nothing was sent for this long: the client is stuck (liveness fails).
STUCK_AFTER = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """How a read call is retried after a retryable error."""

    attempts: int = 4
    initial_wait: float = 0.5
    max_wait: float = 30.0


@dataclass(frozen=True)
class ClientOptions:
    """Knobs shared by every API client."""

    timeout: float = 10.0
    rate_limit: float = 5.0
    max_in_flight: int = 10
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientOptions:
        retry = RetryPolicy(
            attempts=settings.CFGPU_OPERATOR_RETRY_ATTEMPTS,
            max_wait=settings.CFGPU_OPERATOR_RETRY_MAX_WAIT,
        )
        return cls(
            timeout=settings.CFGPU_OPERATOR_HTTP_TIMEOUT,
            rate_limit=settings.CFGPU_OPERATOR_RATE_LIMIT,
            max_in_flight=settings.CFGPU_OPERATOR_MAX_IN_FLIGHT,
            retry=retry,
        )


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date; None if absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def excerpt(text: str) -> str:
    """A short single-line quote of a response body for an error message; a JSON body is
    quoted with its text readable (servers send Chinese as \\u escapes)."""
    with contextlib.suppress(ValueError):  # not JSON: quoted as it came
        text = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    flat = " ".join(text.split())
    return flat if len(flat) <= BODY_EXCERPT else flat[:BODY_EXCERPT] + "..."


def _retry_hint(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome else None
    return exc.retry_after if isinstance(exc, RateLimited) else None


class _RetryWait:
    """Exponential backoff with full jitter, except that a server's Retry-After wins."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._jitter = wait_random_exponential(multiplier=policy.initial_wait, max=policy.max_wait)

    def __call__(self, state: RetryCallState) -> float:
        hint = _retry_hint(state)
        return float(self._jitter(state)) if hint is None else hint


class _HintTooLong(stop_base):
    """Stop retrying within one call when the server asks for a longer pause than we allow;
    the caller's own, slower backoff takes over instead of a coroutine blocked for minutes."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._max = policy.max_wait

    def __call__(self, state: RetryCallState) -> bool:
        hint = _retry_hint(state)
        return hint is not None and hint > self._max


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.retryable


def _before_retry(api: str, endpoint: str) -> Callable[[RetryCallState], None]:
    def log_and_count(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        metrics.API_RETRIES.labels(api, endpoint).inc()
        log.warning(
            "retrying after %s (attempt %d, waiting %.2fs)", exc, state.attempt_number, wait
        )

    return log_and_count


class HttpApi:
    """One API's transport for one token: base URL, auth headers, limiter, retries."""

    def __init__(
        self,
        *,
        api: str,
        base_url: str,
        headers: Mapping[str, str],
        secrets: tuple[str, ...],
        options: ClientOptions,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api = api
        self.secrets = secrets
        self._options = options
        self._limiter = AsyncLimiter(max_rate=options.rate_limit, time_period=1.0)
        # Requests wait their turn here, untimed, never in httpx's pool: a burst queued in
        # the pool spent its timeout waiting for a connection, and a request cancelled there
        # could keep its slot for good (httpcore 1.0), until nothing was sent any more.
        self._turns = Turns(options.max_in_flight)
        self._last_sent = time.monotonic()  # or answered
        limits = httpx.Limits(
            max_connections=options.max_in_flight + POOL_SPARE,
            max_keepalive_connections=options.max_in_flight,
        )
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers),
            timeout=options.timeout,
            limits=limits,
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def stuck(self, now: float | None = None) -> str | None:
        """Why this client counts as stuck: calls wait, and none was sent or answered for
        ``STUCK_AFTER`` seconds (every call is timed, so a healthy one moves on)."""
        waiting = self._turns.queued
        quiet = (time.monotonic() if now is None else now) - self._last_sent
        if waiting and quiet > STUCK_AFTER:
            return f"the {self.api} client sent nothing for {quiet:.0f}s while {waiting} calls wait"
        return None

    async def call(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        parse: Callable[[httpx.Response], T],
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> T:
        """Send one request (retried only if ``idempotent``) and hand the response to ``parse``.

        ``parse`` raises domain errors for unusable answers; retryable ones are retried here.
        """

        async def attempt() -> T:
            try:
                response = await self._send(method, path, endpoint, params, json)
                result = self._parse(parse, response)
            except ApiError as exc:
                metrics.API_REQUESTS.labels(self.api, endpoint, metrics.outcome_of(exc)).inc()
                raise exc.scrub(self.secrets) from None
            metrics.API_REQUESTS.labels(self.api, endpoint, "ok").inc()
            return result

        if not idempotent:
            return await attempt()
        return await self._with_retries(attempt, endpoint)

    async def _with_retries(self, attempt: Callable[[], Awaitable[T]], endpoint: str) -> T:
        policy = self._options.retry
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts) | _HintTooLong(policy),
            wait=_RetryWait(policy),
            retry=retry_if_exception(_is_retryable),
            before_sleep=_before_retry(self.api, endpoint),
            reraise=True,
        )
        async for trial in retrying:
            with trial:
                return await attempt()
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _send(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        body: Any,
    ) -> httpx.Response:
        queued = time.monotonic()
        # The turn before the limiter: a poll that waits for a turn is served next, and then
        # waits in the limiter behind at most the other calls in flight.
        async with self._turns.turn(), self._limiter:
            started = self._last_sent = time.monotonic()
            metrics.RATE_LIMIT_WAIT.labels(self.api).observe(started - queued)
            try:
                with metrics.API_DURATION.labels(self.api, endpoint).time():
                    # httpx times each read, so an answer that keeps trickling in never
                    # times out: bound the whole request, or a poller could hang for good.
                    async with asyncio.timeout(self._options.timeout):
                        response = await self._client.request(
                            method, path, params=params, json=body
                        )
            except TimeoutError:
                limit = self._options.timeout
                message = f"timed out: no complete answer within {limit:g} s"
                raise ApiTimeout(message, api=self.api, endpoint=endpoint) from None
            except httpx.TimeoutException as exc:
                raise self._transport_error(ApiTimeout, endpoint, "timed out", exc) from None
            except httpx.TransportError as exc:
                raise self._transport_error(Unavailable, endpoint, "unreachable", exc) from None
            finally:
                self._last_sent = time.monotonic()
        log.debug(
            "%s %s %s -> HTTP %d in %.0f ms",
            self.api,
            method,
            endpoint,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response

    def _parse(self, parse: Callable[[httpx.Response], T], response: httpx.Response) -> T:
        """``parse`` the response; when it fails, parse it again with any piece of a token
        hidden, so the error quotes (and cuts) a clean body. Answers that parse are not
        scanned: only error messages quote bodies."""
        try:
            return parse(response)
        except ApiError:
            clean = self._redacted(response)
            if clean is response:
                raise
            return parse(clean)

    def _redacted(self, response: httpx.Response) -> httpx.Response:
        """The response with any piece of a token in its body hidden, before anything quotes
        (and cuts) the body into an error message."""
        text = response.text
        clean = redact(text, self.secrets)
        if clean == text:
            return response
        encoding = response.encoding or "utf-8"
        # The body is re-encoded as it was decoded, so length and compression no longer apply.
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-encoding")
        }
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=clean.encode(encoding, errors="replace"),
            request=response.request,
        )

    def _transport_error(
        self, kind: type[Unavailable], endpoint: str, what: str, exc: httpx.HTTPError
    ) -> Unavailable:
        detail = redact(str(exc), self.secrets) or type(exc).__name__
        return kind(f"{what}: {detail}", api=self.api, endpoint=endpoint)


class ApiClient:
    """Base of the API clients: an async context manager around one HttpApi."""

    _http: HttpApi

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def stuck(self) -> str | None:
        return self._http.stuck()
