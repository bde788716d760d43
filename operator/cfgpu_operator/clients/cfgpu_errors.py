"""How CFGPU answers map onto domain errors: business codes and HTTP-level failures."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import ValidationError

from cfgpu_operator.clients.cfgpu_wire import Envelope
from cfgpu_operator.clients.http import excerpt, retry_after_seconds
from cfgpu_operator.errors import (
    ApiError,
    Conflict,
    Expired,
    InsufficientBalance,
    NoCapacity,
    NotFound,
    PrepaidNotExpired,
    RateLimited,
    RejectedInput,
    Unauthorized,
    Unavailable,
    WrongState,
)

API = "cfgpu"

_BY_CODE: dict[str, type[ApiError]] = {
    "10001": RejectedInput,
    "50001": InsufficientBalance,
    "52001": InsufficientBalance,
    "51001": NoCapacity,
    "51002": NoCapacity,
    **{str(code): WrongState for code in range(52002, 52008)},
    "52008": Expired,
    "52009": PrepaidNotExpired,
    "401": Unauthorized,
    "403": Unauthorized,
    "404": NotFound,
    "409": Conflict,
    "429": RateLimited,
}

# BIZ_ERROR carries no code of its own; the live API said 当前主机可用资源不足 [显卡] for no stock.
_NO_STOCK_WORDS = ("资源不足", "GPU不足", "显卡")
# 10001 is also what an unknown instance id is assumed to give; the message tells them apart.
_MISSING_WORDS = ("不存在", "not exist", "not found")


def classify_code(code: str | None, message: str) -> type[ApiError]:
    """The domain error for a ``success:false`` answer with this code and message."""
    code = (code or "").strip()
    lowered = message.lower()
    if code == "BIZ_ERROR" and any(word in message for word in _NO_STOCK_WORDS):
        return NoCapacity
    if code == "10001" and any(word in lowered for word in _MISSING_WORDS):
        return NotFound
    return _BY_CODE.get(code, ApiError)


def business_error(envelope: Envelope, endpoint: str, http_status: int) -> ApiError:
    message = envelope.error_msg or "request failed without a message"
    kind = classify_code(envelope.error_code, message)
    status = http_status if http_status != httpx.codes.OK else None
    return kind(message, api=API, endpoint=endpoint, code=envelope.error_code, http_status=status)


def http_error(response: httpx.Response, endpoint: str) -> ApiError:
    """An error for a response whose HTTP status (not body) says the call failed."""
    status = response.status_code
    quoted = excerpt(response.text) or "empty body"
    common: dict[str, Any] = {"api": API, "endpoint": endpoint, "http_status": status}
    if status in (401, 403):
        return Unauthorized(f"token rejected: {quoted}", **common)
    if status == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        return RateLimited(f"rate limited: {quoted}", retry_after=wait, **common)
    if status == 400:
        return RejectedInput(f"bad request: {quoted}", **common)
    # A 404 without a CFGPU envelope is a wrong URL, not a missing instance: treating it as
    # "gone" would let a typo in CFGPU_API_URL pass for a finished release.
    hint = " (check CFGPU_API_URL)" if status == 404 else ""
    what = "server error" if status >= 500 else f"unexpected answer{hint}"
    return Unavailable(f"{what}: {quoted}", **common)


def decode(response: httpx.Response, endpoint: str) -> Any:
    """The ``content`` of a CFGPU answer, or the domain error it stands for."""
    status = response.status_code
    # These statuses mean the same whatever the body says, envelope or HTML page.
    if status >= 500 or status in (401, 403, 429):
        raise http_error(response, endpoint)
    envelope = _envelope(response)
    if envelope is None:
        if status != httpx.codes.OK:
            raise http_error(response, endpoint)
        raise Unavailable(
            f"malformed response: {excerpt(response.text) or 'empty body'}",
            api=API,
            endpoint=endpoint,
            http_status=response.status_code,
        )
    if not envelope.success:
        raise business_error(envelope, endpoint, response.status_code)
    if status >= 300:
        raise http_error(response, endpoint)
    return envelope.content


def _envelope(response: httpx.Response) -> Envelope | None:
    """Parse the body as an envelope; a bare JSON list (cfgpu-api.md's shape) counts as success."""
    try:
        body = json.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(body, list):
        return Envelope(success=True, content=body)
    if not isinstance(body, dict) or "success" not in body:
        return None
    try:
        return Envelope.model_validate(body)
    except ValidationError:
        return None
