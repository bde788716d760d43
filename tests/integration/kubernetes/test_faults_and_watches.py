"""Fault knobs, the request log and watch details (bookmarks, timeouts, closing, 410 on watch)."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cfgpu_operator.emulators.faults import FaultKind
from tests.conftest import ServedKube
from tests.helpers import eventually

CM = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
async def http(kube: ServedKube) -> Any:
    async with httpx.AsyncClient(base_url=kube.url, timeout=10) as client:
        yield client


async def test_next_requests_of_a_verb_and_resource_fail_as_configured(
    kube: ServedKube, http: httpx.AsyncClient
) -> None:
    kube.emulator.faults.error("create:configmaps", 429, "slow down", times=2).headers.update(
        {"Retry-After": "3"}
    )
    for _ in range(2):
        refused = await http.post(CM, json={"metadata": {"name": "c"}})
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "3"
        assert refused.json()["reason"] == "TooManyRequests"
    assert (await http.post(CM, json={"metadata": {"name": "c"}})).status_code == 201
    kube.emulator.faults.error("patch:*", 409, "conflict injected")
    patched = await http.patch(
        f"{CM}/c",
        json={"data": {"a": "b"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert (patched.status_code, patched.json()["reason"]) == (409, "Conflict")
    kube.emulator.faults.error("get:configmaps", 500, "boom")
    assert (await http.get(f"{CM}/c")).status_code == 500
    assert (await http.get(f"{CM}/c")).status_code == 200


async def test_latency_knob_delays_answers(kube: ServedKube, http: httpx.AsyncClient) -> None:
    kube.emulator.faults.latency("list:configmaps", 0.3)
    started = time.monotonic()
    assert (await http.get(CM)).status_code == 200
    assert time.monotonic() - started >= 0.3


async def test_request_log_records_verb_resource_and_status(
    kube: ServedKube, http: httpx.AsyncClient
) -> None:
    await http.post(CM, json={"metadata": {"name": "c"}})
    await http.get(f"{CM}/missing")
    await http.get("/api/v1/namespaces")
    logged = [(r.verb, r.resource, r.namespace, r.name, r.status) for r in kube.emulator.requests]
    assert logged == [
        ("create", "configmaps", "default", None, 201),
        ("get", "configmaps", "default", "missing", 404),
        ("list", "namespaces", None, None, 200),
    ]


async def read_events(lines: AsyncIterator[str], count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while len(events) < count:
        line = await anext(lines)
        if line:
            events.append(json.loads(line))
    return events


async def test_watch_sends_bookmarks_and_honours_timeout_seconds(
    kube: ServedKube, http: httpx.AsyncClient
) -> None:
    params = {
        "watch": "true",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "2",
        "resourceVersion": str(kube.emulator.cluster.store.resource_version),
    }
    started = time.monotonic()
    async with http.stream("GET", CM, params=params) as response:
        assert response.headers["Content-Type"] == "application/json;stream=watch"
        events = [json.loads(line) async for line in response.aiter_lines() if line]
    assert time.monotonic() - started >= 2.0
    assert events
    assert {e["type"] for e in events} == {"BOOKMARK"}  # bookmark_interval is 0.5 s here
    assert events[0]["object"]["metadata"]["resourceVersion"]


async def test_watch_without_version_starts_with_current_state(
    kube: ServedKube, http: httpx.AsyncClient
) -> None:
    await http.post(CM, json={"metadata": {"name": "old", "labels": {"k": "v"}}})
    await http.post(CM, json={"metadata": {"name": "other"}})
    params = {"watch": "1", "labelSelector": "k=v", "timeoutSeconds": "5"}
    async with http.stream("GET", CM, params=params) as response:
        lines = response.aiter_lines()
        first = await read_events(lines, 1)
        await http.post(CM, json={"metadata": {"name": "new", "labels": {"k": "v"}}})
        second = await read_events(lines, 1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in first + second] == [
        ("ADDED", "old"),
        ("ADDED", "new"),
    ]
    assert first[0]["object"]["kind"] == "ConfigMap"


async def test_watch_list_sends_the_state_then_the_bookmark_that_ends_it(
    kube: ServedKube, http: httpx.AsyncClient
) -> None:
    """The watch-list protocol (kubectl 1.35's wait and delete): the state as ADDED events
    whatever the version asked, then a BOOKMARK annotated k8s.io/initial-events-end at the
    state's version, then changes."""
    await http.post(CM, json={"metadata": {"name": "a"}})
    made = (await http.post(CM, json={"metadata": {"name": "b"}})).json()
    params = {
        "watch": "true",
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
        "resourceVersion": "1",  # older than the state: not a 410, the state is newer
        "timeoutSeconds": "5",
    }
    async with http.stream("GET", CM, params=params) as response:
        lines = response.aiter_lines()
        initial = await read_events(lines, 3)
        await http.post(CM, json={"metadata": {"name": "c"}})
        later = [e for e in await read_events(lines, 1) if e["type"] != "BOOKMARK"]
        while not later:  # periodic bookmarks may come first (every 0.5 s here)
            later = [e for e in await read_events(lines, 1) if e["type"] != "BOOKMARK"]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in initial] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("BOOKMARK", None),
    ]
    end = initial[2]["object"]["metadata"]
    assert end["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert end["resourceVersion"] == made["metadata"]["resourceVersion"]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in later] == [("ADDED", "c")]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"watch": "true", "sendInitialEvents": "true"},
            "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
            "resourceVersionMatch to NotOlderThan",
        ),
        (
            {"watch": "true", "resourceVersionMatch": "NotOlderThan", "resourceVersion": "1"},
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch "
            "unless sendInitialEvents is provided",
        ),
        (
            {"sendInitialEvents": "true"},
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
        ),
        (
            {"resourceVersionMatch": "NotOlderThan"},
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
            "resourceVersion is provided",
        ),
    ],
)
async def test_bad_list_and_watch_options_are_refused_as_a_server_does(
    http: httpx.AsyncClient, params: dict[str, str], message: str
) -> None:
    response = await http.get(CM, params=params)
    assert response.status_code == 422
    status = response.json()
    assert (status["reason"], status["details"]["kind"]) == ("Invalid", "ListOptions")
    assert status["message"] == f'ListOptions.meta.k8s.io "" is invalid: {message}'


async def test_closing_watches_ends_streams(kube: ServedKube, http: httpx.AsyncClient) -> None:
    params = {"watch": "true", "timeoutSeconds": "30"}
    async with http.stream("GET", CM, params=params) as response:
        await eventually(lambda: kube.emulator.watches.open, what="watch registered")
        assert kube.emulator.watches.close("configmaps") == 1
        events = [line async for line in response.aiter_lines() if line]
    assert events == []


async def test_watch_from_a_compacted_version_gets_an_error_event(
    kube: ServedKube, http: httpx.AsyncClient
) -> None:
    kube.emulator.cluster.store.bucket(("", "configmaps")).history = deque(maxlen=1)
    first = (await http.post(CM, json={"metadata": {"name": "a"}})).json()
    for name in "bc":
        await http.post(CM, json={"metadata": {"name": name}})
    params = {"watch": "true", "resourceVersion": first["metadata"]["resourceVersion"]}
    async with http.stream("GET", CM, params=params) as response:
        events = await read_events(response.aiter_lines(), 1)
    assert events[0]["type"] == "ERROR"
    assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")


async def test_dropped_connection_fault(kube: ServedKube, http: httpx.AsyncClient) -> None:
    kube.emulator.faults.kind(FaultKind.DROP_AFTER_COMMIT, "create:configmaps")
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post(CM, json={"metadata": {"name": "committed"}})
    assert (await http.get(f"{CM}/committed")).status_code == 200


async def test_discovery_and_unknown_paths(http: httpx.AsyncClient) -> None:
    assert (await http.get("/apis/nope.example.com")).status_code == 404
    assert (await http.get("/apis/apps/v1/replicasets")).status_code == 404  # not emulated
    missing = await http.get("/api/v1/namespaces/default/widgets")
    assert (missing.status_code, missing.json()["reason"]) == (404, "NotFound")
    groups = (await http.get("/apis")).json()
    names = [g["name"] for g in groups["groups"]]
    assert {"apiextensions.k8s.io", "coordination.k8s.io", "events.k8s.io"} <= set(names)
