"""dryRun=All on every write verb: every check runs, nothing is stored, no watch event."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import ServedKube
from tests.integration.kubernetes.widgets import crd, widget

CM = "/api/v1/namespaces/default/configmaps"
WD = "/apis/example.com/v1/namespaces/default/widgets"
DRY = {"dryRun": "All"}
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
async def http(kube: ServedKube) -> Any:
    async with httpx.AsyncClient(base_url=kube.url, timeout=10) as client:
        yield client


def stored(kube: ServedKube, name: str, plural: str = "configmaps") -> dict[str, Any] | None:
    group = "example.com" if plural == "widgets" else ""
    return kube.emulator.cluster.store.get((group, plural), "default", name)


async def test_a_dry_run_create_answers_the_object_and_stores_nothing(
    kube: ServedKube, http: httpx.AsyncClient
) -> None:
    rv = kube.emulator.cluster.store.resource_version
    answer = await http.post(CM, params=DRY, json={"metadata": {"name": "c"}, "data": {"k": "v"}})
    assert answer.status_code == 201
    meta = answer.json()["metadata"]
    assert meta["uid"]
    assert meta["creationTimestamp"]
    assert "resourceVersion" not in meta  # never stored, so it has none
    assert stored(kube, "c") is None
    assert kube.emulator.cluster.store.resource_version == rv
    # The same checks as a real create: an invalid name is still refused.
    refused = await http.post(CM, params=DRY, json={"metadata": {"name": "Bad_Name"}})
    assert refused.status_code == 422


async def test_dry_run_writes_of_an_existing_object_change_nothing(
    kube: ServedKube, http: httpx.AsyncClient
) -> None:
    made = (await http.post(CM, json={"metadata": {"name": "c"}, "data": {"k": "v"}})).json()
    before = stored(kube, "c")
    rv = made["metadata"]["resourceVersion"]
    changed = {**made, "data": {"k": "changed"}}
    put = await http.put(f"{CM}/c", params=DRY, json=changed)
    assert (put.status_code, put.json()["data"]) == (200, {"k": "changed"})
    assert put.json()["metadata"]["resourceVersion"] == rv
    patch = await http.patch(
        f"{CM}/c", params=DRY, headers=MERGE, content=json.dumps({"data": {"k": "patched"}})
    )
    assert (patch.status_code, patch.json()["data"]) == (200, {"k": "patched"})
    delete = await http.delete(f"{CM}/c", params=DRY)
    assert delete.status_code == 200
    assert stored(kube, "c") == before
    assert kube.emulator.cluster.store.resource_version == int(rv)


async def test_no_watch_event_for_a_dry_run(kube: ServedKube, http: httpx.AsyncClient) -> None:
    params = {"watch": "true", "resourceVersion": str(kube.emulator.cluster.store.resource_version)}
    async with http.stream("GET", CM, params=params) as response:
        await http.post(CM, params=DRY, json={"metadata": {"name": "dry"}})
        await http.post(CM, json={"metadata": {"name": "real"}})
        lines = response.aiter_lines()
        line = await anext(lines)
        while not line:
            line = await anext(lines)
    event = json.loads(line)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "real")


async def test_a_dry_run_delete_of_a_held_object_shows_it_held_and_leaves_it(
    kube: ServedKube, http: httpx.AsyncClient
) -> None:
    await http.post(CM, json={"metadata": {"name": "held", "finalizers": ["example.com/x"]}})
    answer = (await http.delete(f"{CM}/held", params=DRY)).json()
    assert answer["metadata"]["deletionTimestamp"]
    assert "deletionTimestamp" not in (stored(kube, "held") or {})["metadata"]


async def test_a_dry_run_crd_serves_nothing_and_custom_objects_are_validated(
    kube: ServedKube, http: httpx.AsyncClient
) -> None:
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    assert (await http.post(crds, params=DRY, json=crd())).status_code == 201
    assert kube.emulator.cluster.registry.get("example.com", "v1", "widgets") is None
    assert (await http.post(crds, json=crd())).status_code == 201
    too_big = await http.post(WD, params=DRY, json=widget("w", size=99))
    assert too_big.status_code == 422
    fine = await http.post(WD, params=DRY, json=widget("w"))
    assert (fine.status_code, fine.json()["spec"]["color"]) == (201, "red")  # defaulted
    assert stored(kube, "w", "widgets") is None


async def test_a_dry_run_value_other_than_all_is_refused(http: httpx.AsyncClient) -> None:
    answer = await http.post(CM, params={"dryRun": "Some"}, json={"metadata": {"name": "c"}})
    assert answer.status_code == 422
    assert answer.json()["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
        '[]string{"Some"}: supported values: "All"'
    )
