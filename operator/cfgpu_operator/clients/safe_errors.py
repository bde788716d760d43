"""Primus-SaFE answers to domain errors: the HTTP status first, then errorCode (Primus.* codes
or raw Kubernetes reasons, which the server passes through unchanged)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from cfgpu_operator.clients.http import excerpt, retry_after_seconds
from cfgpu_operator.errors import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
    RateLimited,
    RejectedInput,
    Unauthorized,
    Unavailable,
    WrongState,
)

API = "primus-safe"

_BY_STATUS: dict[int, type[ApiError]] = {
    400: RejectedInput,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: RejectedInput,
    422: RejectedInput,
    429: RateLimited,
    503: QuotaExceeded,
}
# Within a status, some codes say more.
_BY_CODE: dict[str, type[ApiError]] = {
    "Primus.00012": WrongState,  # spec change of an already dispatched workload
}
# Primus.00005 is also what an unknown route answers: say so, the caller may have a wrong URL.
NO_ROUTE = "Primus.00005"
# A create answered with these cannot succeed until the request changes: the kind's resource
# template is not installed (500 Primus.00001) or its feature is off (501 Primus.00007).
# Elsewhere 00001 also means passing trouble (a database switched off), so only here.
_CREATE_REFUSALS = {(500, "Primus.00001"), (501, "Primus.00007")}
CREATES = frozenset({"workloads.create", "workloads.resume"})  # a resume is a create again


def classify(status: int, code: str | None) -> type[ApiError]:
    if code in _BY_CODE and _BY_STATUS.get(status) is Conflict:
        return _BY_CODE[code]
    if status == 503 and code not in (None, "", "Primus.00008"):
        return Unavailable  # a proxy's 503, not the quota answer
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return Unavailable if status >= 500 else ApiError


def error_for(response: httpx.Response, endpoint: str) -> ApiError:
    body = _json(response)
    code = body.get("errorCode") if isinstance(body, dict) else None
    message = body.get("errorMessage") if isinstance(body, dict) else None
    text = str(message) if message else (excerpt(response.text) or "empty body")
    status = response.status_code
    kind = classify(status, str(code) if code else None)
    if endpoint in CREATES and (status, code) in _CREATE_REFUSALS:
        kind = RejectedInput
    common: dict[str, Any] = {
        "api": API,
        "endpoint": endpoint,
        "http_status": status,
        "code": str(code) if code else None,
    }
    if kind is RateLimited:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        return RateLimited(text, retry_after=wait, **common)
    if kind is NotFound and code == NO_ROUTE:
        return NotFound(f"{text} (an unknown route answers this too: check SAFE_API_URL)", **common)
    return kind(text, **common)


def decode(response: httpx.Response, endpoint: str) -> Any:
    """The JSON body of a 200 (``null`` for PATCH/stop/delete), or the domain error."""
    if response.status_code != httpx.codes.OK:
        raise error_for(response, endpoint)
    if not response.content:
        raise Unavailable("empty body", api=API, endpoint=endpoint, http_status=200)
    try:
        return json.loads(response.content)
    except ValueError:
        raise Unavailable(
            f"malformed response: {excerpt(response.text)}",
            api=API,
            endpoint=endpoint,
            http_status=200,
        ) from None


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None
