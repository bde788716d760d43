"""What an API failure means for an object: the condition reason, and when to try again."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cfgpu_operator.errors import (
    ApiError,
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

Retry = Literal["never", "backoff", "slow", "now"]


@dataclass(frozen=True)
class Verdict:
    reason: str
    retry: Retry  # never: until the spec changes; now: observe again, nothing failed
    api_trouble: bool = False  # only Synced goes False; Ready keeps what it was
    warn: bool = False  # one Warning Event per episode
    retry_after: float | None = None


def verdict(error: ApiError) -> Verdict:
    """The documented reason for each error class (README: "Reasons")."""
    if isinstance(error, WrongState):
        return Verdict("Transitioning", "now")
    if isinstance(error, RejectedInput):
        return Verdict("InvalidSpec", "never", warn=True)
    if isinstance(error, NoCapacity):
        return Verdict("WaitingForCapacity", "backoff", warn=True)
    if isinstance(error, InsufficientBalance):
        return Verdict("InsufficientBalance", "slow", warn=True)
    if isinstance(error, Forbidden):
        return Verdict("Forbidden", "slow", warn=True)
    if isinstance(error, Unauthorized):
        return Verdict("Unauthorized", "slow", warn=True)
    if isinstance(error, QuotaExceeded):
        return Verdict("QuotaExceeded", "slow", warn=True)
    if isinstance(error, PrepaidNotExpired):
        return Verdict("PrepaidNotExpired", "slow")
    if isinstance(error, NotFound):
        return Verdict("InstanceGone", "never", warn=True)
    if isinstance(error, RateLimited):
        return Verdict("RateLimited", "backoff", api_trouble=True, retry_after=error.retry_after)
    if isinstance(error, Unavailable):
        return Verdict("ApiUnavailable", "backoff", api_trouble=True)
    return Verdict("ApiError", "backoff", warn=True)


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
    v: Verdict,
    attempt: int,
    *,
    base: float,
    slow: float,
    cap: float,
    jitter: Callable[[], float] = random.random,
) -> float | None:
    """Seconds until the next attempt; None means "not until the spec changes"."""
    if v.retry == "never":
        return None
    if v.retry == "now":
        return 0.0
    if v.retry == "slow":
        return slow * (0.5 + jitter() / 2)
    delay = backoff_delay(attempt, base=base, cap=cap, jitter=jitter)
    return max(delay, v.retry_after or 0.0)
