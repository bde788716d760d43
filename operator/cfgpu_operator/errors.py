"""Domain errors raised by the API clients and understood by the decision layer.

Every error names the API and endpoint it came from and carries the API's own code and
message, so a condition or Event can quote them. None of them ever holds a token: clients
redact secrets before building one (see ``redact``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

REDACTED = "***"

# A run of this many characters of a token is treated as the token: servers echo prefixes
# of credentials ("token abcd1234... is invalid"), and a cut excerpt can end mid-token.
FRAGMENT = 8


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every run of ``FRAGMENT`` or more characters of any secret in ``text``.

    APIs sometimes echo request headers back in error pages; scrubbing here means neither a
    token nor a recognisable piece of one can travel onwards inside an error message. Call it
    on the whole text before cutting it short, so no piece escapes at the cut.
    """
    secrets = tuple(secrets)
    grams = {
        secret[i : i + FRAGMENT]
        for secret in secrets
        if len(secret) >= FRAGMENT
        for i in range(len(secret) - FRAGMENT + 1)
    }
    for secret in secrets:
        if secret and len(secret) < FRAGMENT:
            text = text.replace(secret, REDACTED)
    hidden = _covered(text, grams)
    if not hidden:
        return text
    out: list[str] = []
    for i, char in enumerate(text):
        if i not in hidden:
            out.append(char)
        elif i - 1 not in hidden:
            out.append(REDACTED)
    return "".join(out)


def _covered(text: str, grams: Iterable[str]) -> set[int]:
    """Positions of ``text`` inside an occurrence of any gram (str.find keeps this fast on
    large bodies that hold none, which is every body but a rare error page)."""
    hidden: set[int] = set()
    for gram in grams:
        at = text.find(gram)
        while at != -1:
            hidden.update(range(at, at + len(gram)))
            at = text.find(gram, at + 1)
    return hidden


class ApiError(Exception):
    """A call to an external API failed.

    ``retryable`` tells the caller whether the same call may succeed later without the user
    changing anything.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        api: str,
        endpoint: str,
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.message = message
        self.api = api
        self.endpoint = endpoint
        self.code = code
        self.http_status = http_status
        super().__init__(str(self))

    def __str__(self) -> str:
        detail = f" [{self.code}]" if self.code else ""
        status = f" (HTTP {self.http_status})" if self.http_status else ""
        return f"{self.api} {self.endpoint}{status}{detail}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def scrub(self, secrets: Iterable[str]) -> Self:
        """Redact secrets from the message in place (it may quote a response body)."""
        self.message = redact(self.message, secrets)
        self.args = (str(self),)
        return self


class Unavailable(ApiError):
    """The API could not be reached or answered something unusable (5xx, HTML, bad JSON)."""

    retryable = True


class ApiTimeout(Unavailable):
    """The API did not answer in time. For a write, the action may or may not have happened."""


class RateLimited(ApiError):
    """The API asked us to slow down; ``retry_after`` is its hint in seconds, if any."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        api: str,
        endpoint: str,
        code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, api=api, endpoint=endpoint, code=code, http_status=http_status)


class Unauthorized(ApiError):
    """The token is missing, invalid or lacks permission."""


class Forbidden(Unauthorized):
    """Authenticated, but not allowed (Primus-SaFE 403: role, workspace scope, node flavor)."""


class NotFound(ApiError):
    """The external object does not exist (for deletion this counts as done)."""


class Conflict(ApiError):
    """The object exists already or is in a state that does not allow the action."""


class WrongState(Conflict):
    """CFGPU 52002-52007: the instance's current state forbids the action; observe again."""


class Expired(Conflict):
    """CFGPU 52008: a prepaid instance has expired and cannot be started again."""


class PrepaidNotExpired(Conflict):
    """CFGPU 52009: a prepaid instance cannot be released before it expires."""


class RejectedInput(ApiError):
    """The request was invalid; retrying without a change of input cannot help."""


class InsufficientBalance(ApiError):
    """The account cannot pay for the action (CFGPU 50001 / 52001)."""


class NoCapacity(ApiError):
    """No free GPUs or host resources right now (CFGPU 51001 / 51002 / BIZ_ERROR no stock)."""

    retryable = True


class QuotaExceeded(ApiError):
    """The platform's quota does not allow the request now (Primus-SaFE 503)."""

    retryable = True
