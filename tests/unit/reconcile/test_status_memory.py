"""Status as this process last left it, while the watch has not brought its patches back."""

from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.handlers.objects import ObjectState, not_newer
from cfgpu_operator.reconcile.status import TRUST_UNSEEN, overlay, unseen, write_changes

FAILED = {"phase": "Creating", "lastError": {"code": "52001", "message": "poor"}}


@pytest.mark.parametrize(
    ("seen", "written", "pending"),
    [
        ({}, FAILED, FAILED),  # the body predates the patch
        (FAILED, FAILED, {}),  # the watch brought it back
        ({"phase": "Creating"}, FAILED, {"lastError": FAILED["lastError"]}),
        ({"lastError": {"code": "1"}}, {"lastError": None}, {"lastError": None}),
        ({}, {"lastError": None}, {}),  # a removal the body already shows
        ({"phase": "Running"}, {"phase": "Creating"}, {"phase": "Creating"}),
    ],
)
def test_unseen_is_what_the_body_does_not_show(
    seen: dict[str, Any], written: dict[str, Any], pending: dict[str, Any]
) -> None:
    stamped = {key: (value, 100.0) for key, value in written.items()}
    assert unseen(seen, stamped, now=101.0) == {k: (v, 100.0) for k, v in pending.items()}


@pytest.mark.parametrize(
    ("age", "trusted"),
    [(0.0, True), (TRUST_UNSEEN - 0.1, True), (TRUST_UNSEEN, False), (60.0, False)],
)
def test_an_unseen_patch_is_trusted_only_for_a_while(age: float, trusted: bool) -> None:
    """Past the bound the body wins: a hand edit of status, or a patch that never landed."""
    written = {"instanceId": ("i-1", 100.0)}
    assert bool(unseen({}, written, now=100.0 + age)) == trusted


@pytest.mark.parametrize(
    ("seen", "written", "view"),
    [
        ({"phase": "Creating"}, {}, {"phase": "Creating"}),
        ({"phase": "Creating"}, {"phase": "Running"}, {"phase": "Running"}),
        (
            {"phase": "Running", "lastError": {"code": "1"}},
            {"lastError": None},
            {"phase": "Running"},
        ),
        ({}, {"instanceId": "i-1"}, {"instanceId": "i-1"}),
    ],
)
def test_overlay_is_a_top_level_merge_patch(
    seen: dict[str, Any], written: dict[str, Any], view: dict[str, Any]
) -> None:
    assert overlay(seen, written) == view


@pytest.mark.parametrize(
    ("seen", "written", "desired", "patch"),
    [
        # in flight already: not sent again while the body lags
        ({}, {"phase": "Running"}, {"phase": "Running"}, {}),
        # the body shows it but our newer patch changed it: put it back
        ({"phase": "Running"}, {"phase": "Stopped"}, {"phase": "Running"}, {"phase": "Running"}),
        # an error we wrote, not yet seen, must still be cleared
        ({}, {"lastError": {"code": "1"}}, {"lastError": None}, {"lastError": None}),
        ({"phase": "Running"}, {}, {"phase": "Running"}, {}),
    ],
)
def test_changes_are_written_against_the_status_as_we_left_it(
    seen: dict[str, Any], written: dict[str, Any], desired: dict[str, Any], patch: dict[str, Any]
) -> None:
    target: dict[str, Any] = {}
    write_changes(target, overlay(seen, written), desired)
    assert target == patch


def test_a_patch_no_longer_trusted_is_sent_again() -> None:
    """The body never showed it (a lost patch): once the trust runs out it is re-sent."""
    written = {"phase": ("Running", 100.0)}
    pending = unseen({}, written, now=100.0 + TRUST_UNSEEN)
    target: dict[str, Any] = {}
    write_changes(
        target, overlay({}, {k: v for k, (v, _) in pending.items()}), {"phase": "Running"}
    )
    assert target == {"phase": "Running"}


def test_object_state_forgets_a_patch_once_the_body_shows_it() -> None:
    state = ObjectState()
    state.remember({"status": FAILED})
    stale = {"status": {"phase": "Pending"}}
    assert state.view(stale) == FAILED  # decisions see the failure already written
    assert state.view({"status": FAILED}) == FAILED
    assert state.written == {}
    # once the body confirms a patch, the body alone is the truth again
    assert state.view(stale) == {"phase": "Pending"}


def test_a_body_known_to_predate_a_write_never_outvotes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under load the watch can bring a body back later than the trust window: a body whose
    resourceVersion predates the write still shows the write pending; a newer one does not."""
    clock = [1000.0]
    monkeypatch.setattr("cfgpu_operator.handlers.objects.time.monotonic", lambda: clock[0])
    state = ObjectState()
    intent = {"instanceName": "k8s-a", "observedGeneration": 1, "phase": "Creating"}
    state.remember({"status": intent}, "10", "11")  # decided on rv 10; the write stored 11
    state.remember({"status": {"phase": "Running", "instanceId": "i-1"}}, "10")
    clock[0] += 10 * TRUST_UNSEEN
    both = {**intent, "phase": "Running", "instanceId": "i-1"}
    assert state.view({"metadata": {"resourceVersion": "10"}}) == both
    assert state.view({"metadata": {"resourceVersion": "9"}}) == both  # Kopf's own write
    at_intent = {"metadata": {"resourceVersion": "11"}, "status": intent}
    assert state.view(at_intent) == both
    # a version this process did not see before its writes: the stored status wins
    assert state.view({"metadata": {"resourceVersion": "12"}, "status": intent}) == intent
    assert state.written == {}
    assert state.before is None


def test_a_run_that_writes_nothing_makes_no_body_older(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand edit of status (a new version) read by runs that write nothing wins once the
    trust window is over, however many runs read it."""
    clock = [1000.0]
    monkeypatch.setattr("cfgpu_operator.handlers.objects.time.monotonic", lambda: clock[0])
    state = ObjectState()
    state.remember({"status": {"instanceId": "i-1"}}, "10")
    edited = {"metadata": {"resourceVersion": "20"}, "status": {}}
    for _ in range(3):
        state.view(edited)
        state.remember({}, "20")
    clock[0] += TRUST_UNSEEN
    assert state.view(edited) == {}


@pytest.mark.parametrize(
    ("version", "than", "result"),
    [
        ("9", "10", True),
        ("10", "10", True),
        ("11", "10", False),
        ("100", "99", False),  # as integers, not as strings
        ("abc", "abc", True),  # not integers: equality only
        ("abc", "abd", False),
        (None, "10", False),
        ("10", None, False),
    ],
)
def test_resource_versions_compare_as_integers_else_for_equality(
    version: str | None, than: str | None, result: bool
) -> None:
    assert not_newer(version, than) is result
