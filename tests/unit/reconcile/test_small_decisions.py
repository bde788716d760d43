"""Naming, conditions, error verdicts, backoff and adoption, table-style."""

from __future__ import annotations

import pytest

from cfgpu_operator.errors import (
    ApiError,
    ApiTimeout,
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
from cfgpu_operator.reconcile.adoption import match_by_name
from cfgpu_operator.reconcile.conditions import Cond, set_condition
from cfgpu_operator.reconcile.naming import instance_name
from cfgpu_operator.reconcile.verdicts import backoff_delay, retry_delay, verdict

UID = "5f0c3a1e-8b2d-4c6e-9f1a-2b3c4d5e6f70"


@pytest.mark.parametrize(
    ("namespace", "name", "cluster", "expected"),
    [
        ("ml", "trainer", None, "k8s-ml-trainer-5f0c3a1e"),
        ("ml", "a.b_c", None, "k8s-ml-a-b-c-5f0c3a1e"),
        ("ml", "trainer", "c0ffee", "k8sc-c0ffee-ml-trainer-5f0c3a1e"),
    ],
)
def test_instance_names_are_deterministic(
    namespace: str, name: str, cluster: str | None, expected: str
) -> None:
    assert instance_name(namespace, name, UID, cluster) == expected
    assert instance_name(namespace, name, UID, cluster) == instance_name(
        namespace, name, UID, cluster
    )


@pytest.mark.parametrize("cluster", [None, "abcdefghijkl"])
def test_long_names_stay_short_and_distinct(cluster: str | None) -> None:
    one = instance_name("n" * 63, "x" * 200, UID, cluster)
    two = instance_name("n" * 63, "x" * 199 + "y", UID, cluster)
    assert len(one) <= 64
    assert len(two) <= 64
    assert one != two
    assert instance_name("ml", "t", UID, cluster) != instance_name("ml", "t", "0" * 32, cluster)


def test_no_name_of_the_earlier_form_looks_like_a_clusters() -> None:
    """Namespaces are lowercase DNS labels: an earlier name never starts with k8sc-."""
    for namespace in ("c0ffee", "k8sc", "a"):
        assert not instance_name(namespace, "t", UID).startswith("k8sc-")


def test_set_condition_keeps_transition_time_while_status_holds() -> None:
    first = set_condition([], Cond("Ready", "False", "Creating"), 1, "t1")
    again = set_condition(first, Cond("Ready", "False", "Starting", "m"), 2, "t2")
    flipped = set_condition(again, Cond("Ready", "True", "Running"), 2, "t3")
    assert again[0]["lastTransitionTime"] == "t1"
    assert (again[0]["reason"], again[0]["observedGeneration"]) == ("Starting", 2)
    assert flipped[0]["lastTransitionTime"] == "t3"
    both = set_condition(flipped, Cond("Synced", "True", "Synced"), 2, "t4")
    assert [c["type"] for c in both] == ["Ready", "Synced"]


def err(kind: type[ApiError], **kw: object) -> ApiError:
    return kind("m", api="cfgpu", endpoint="e", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "reason", "retry", "api_trouble", "warn"),
    [
        (err(RejectedInput), "InvalidSpec", "never", False, True),
        (err(NoCapacity), "WaitingForCapacity", "backoff", False, True),
        (err(InsufficientBalance), "InsufficientBalance", "slow", False, True),
        (err(Unauthorized), "Unauthorized", "slow", False, True),
        (err(Unavailable), "ApiUnavailable", "backoff", True, False),
        (err(ApiTimeout), "ApiUnavailable", "backoff", True, False),
        (err(RateLimited, retry_after=7.0), "RateLimited", "backoff", True, False),
        (err(WrongState), "Transitioning", "backoff", False, False),
        (err(Expired), "InstanceExpired", "slow", False, True),
        (err(PrepaidNotExpired), "PrepaidNotExpired", "slow", False, False),
        (err(NotFound), "InstanceGone", "never", False, True),
        (err(ApiError), "ApiError", "backoff", False, True),
        (err(Forbidden), "Forbidden", "slow", False, True),
        (err(QuotaExceeded), "QuotaExceeded", "slow", False, True),
    ],
)
def test_verdicts(error: ApiError, reason: str, retry: str, api_trouble: bool, warn: bool) -> None:
    v = verdict(error)
    assert (v.reason, v.retry, v.api_trouble, v.warn) == (reason, retry, api_trouble, warn)


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [(0, 1.0, 1.0), (0, 0.0, 0.5), (3, 1.0, 8.0), (10, 1.0, 60.0), (1000, 0.0, 30.0)],
)
def test_backoff_grows_to_a_cap_with_jitter(attempt: int, jitter: float, expected: float) -> None:
    assert backoff_delay(attempt, base=1.0, cap=60.0, jitter=lambda: jitter) == expected


def test_retry_delay_honours_retry_after_and_never() -> None:
    limited = verdict(err(RateLimited, retry_after=45.0))
    delay = retry_delay(
        limited.retry, 0, base=1, slow=300, cap=60, retry_after=45.0, jitter=lambda: 1.0
    )
    assert limited.retry_after == 45.0
    assert delay == 45.0
    assert retry_delay(verdict(err(RejectedInput)).retry, 5, base=1, slow=300, cap=60) is None
    slow = retry_delay(
        verdict(err(InsufficientBalance)).retry, 0, base=1, slow=300, cap=60, jitter=lambda: 0.0
    )
    assert slow == 150.0


@pytest.mark.parametrize(
    ("records", "kind", "ids"),
    [
        ([], "none", ()),
        ([("i1", "k8s-a", "RUNNING")], "one", ("i1",)),
        ([("i1", "k8s-a-longer", "RUNNING")], "none", ()),  # keyWord matched a substring
        ([("i1", "k8s-a", "RELEASED")], "none", ()),
        ([("i2", "k8s-a", "RUNNING"), ("i1", "k8s-a", "CLOSED")], "ambiguous", ("i1", "i2")),
    ],
)
def test_match_by_name(
    records: list[tuple[str, str, str]], kind: str, ids: tuple[str, ...]
) -> None:
    found = match_by_name(records, "k8s-a")
    assert (found.kind, found.instance_ids) == (kind, ids)
