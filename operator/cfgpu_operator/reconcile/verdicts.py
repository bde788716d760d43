"""What an API failure means for an object: the condition reason, and when to try again."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cfgpu_operator.errors import (
    ApiError,
    Expired,
    Forbidden,
    InsufficientBalance,
    NoCapacity,
    NotFound,
    PrepaidNotExpired,
    QuotaExceeded,
    RateLimited,
    RejectedInput,
    Unauthorized,
    Unavailable,
    WrongState,
)
from cfgpu_operator.reconcile.reasons import Reason

Retry = Literal["never", "backoff", "slow"]


@dataclass(frozen=True)
class Verdict:
    reason: str
    retry: Retry  # never: until the spec changes
    api_trouble: bool = False  # only Synced goes False; Ready keeps what it was
    warn: bool = False  # one Warning Event per episode
    retry_after: float | None = None


# In order: the first class an error is an instance of decides.
_TABLE: tuple[tuple[type[ApiError], Verdict], ...] = (
    # The instance moved meanwhile, or CFGPU disagrees with its listing: observe again,
    # with backoff, so a listing that lags cannot make the operator repeat a call at speed.
    (WrongState, Verdict(Reason.TRANSITIONING, "backoff")),
    (Expired, Verdict(Reason.INSTANCE_EXPIRED, "slow", warn=True)),
    (RejectedInput, Verdict(Reason.INVALID_SPEC, "never", warn=True)),
    (NoCapacity, Verdict(Reason.WAITING_FOR_CAPACITY, "backoff", warn=True)),
    (InsufficientBalance, Verdict(Reason.INSUFFICIENT_BALANCE, "slow", warn=True)),
    (Forbidden, Verdict(Reason.FORBIDDEN, "slow", warn=True)),
    (Unauthorized, Verdict(Reason.UNAUTHORIZED, "slow", warn=True)),
    (QuotaExceeded, Verdict(Reason.QUOTA_EXCEEDED, "slow", warn=True)),
    (PrepaidNotExpired, Verdict(Reason.PREPAID_NOT_EXPIRED, "slow")),
    (NotFound, Verdict(Reason.INSTANCE_GONE, "never", warn=True)),
    (RateLimited, Verdict(Reason.RATE_LIMITED, "backoff", api_trouble=True)),
    (Unavailable, Verdict(Reason.API_UNAVAILABLE, "backoff", api_trouble=True)),
)
_OTHER = Verdict(Reason.API_ERROR, "backoff", warn=True)
CREDENTIALS = Verdict(Reason.CREDENTIALS_ERROR, "slow", warn=True)


def verdict(error: ApiError) -> Verdict:
    """The documented reason for each error class (README: "Reasons")."""
    for kind, found in _TABLE:
        if isinstance(error, kind):
            if isinstance(error, RateLimited):
                return Verdict(found.reason, found.retry, True, retry_after=error.retry_after)
            return found
    return _OTHER


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**attempt``."""
    ceiling: float = min(cap, base * float(2 ** min(attempt, 30)))
    return ceiling * (0.5 + jitter() / 2)


def retry_delay(
    retry: str,
    attempt: int,
    *,
    base: float,
    slow: float,
    cap: float,
    retry_after: float | None = None,
    jitter: Callable[[], float] = random.random,
) -> float | None:
    """Seconds until the next attempt; None means "not until the spec changes"."""
    if retry == "never":
        return None
    if retry == "slow":
        return slow * (0.5 + jitter() / 2)
    delay = backoff_delay(attempt, base=base, cap=cap, jitter=jitter)
    return max(delay, retry_after or 0.0)
