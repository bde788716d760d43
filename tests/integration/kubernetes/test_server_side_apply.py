"""Server-side apply over HTTP: create and update, field managers, conflicts and force."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import ServedKube
from tests.integration.kubernetes.widgets import crd, widget

WD = "/apis/example.com/v1/namespaces/default/widgets"
APPLY = {"Content-Type": "application/apply-patch+yaml"}


@pytest.fixture
async def http(kube: ServedKube) -> Any:
    async with httpx.AsyncClient(base_url=kube.url, timeout=10) as client:
        crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        assert (await client.post(crds, json=crd())).status_code == 201
        yield client


async def apply(
    http: httpx.AsyncClient, body: dict[str, Any], manager: str = "alice", force: bool = False
) -> httpx.Response:
    params = {"fieldManager": manager, **({"force": "true"} if force else {})}
    return await http.patch(f"{WD}/w1", params=params, headers=APPLY, content=json.dumps(body))


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


async def test_apply_creates_then_updates_and_records_the_manager(
    http: httpx.AsyncClient,
) -> None:
    created = await apply(http, widget("w1", label="abc"))
    assert created.status_code == 201
    obj = created.json()
    assert obj["spec"] == {"size": 3, "label": "abc", "color": "red"}  # defaulted too
    (entry,) = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == (
        "alice",
        "Apply",
        "FieldsV1",
    )
    assert entry["fieldsV1"] == {"f:spec": {"f:label": {}, "f:size": {}}}
    updated = await apply(http, widget("w1", label="def"))
    assert (updated.status_code, updated.json()["spec"]["label"]) == (200, "def")
    again = await apply(http, widget("w1", label="def"))
    rv = updated.json()["metadata"]["resourceVersion"]
    assert again.json()["metadata"]["resourceVersion"] == rv  # nothing changed: not written


async def test_another_manager_conflicts_unless_it_forces(http: httpx.AsyncClient) -> None:
    await apply(http, widget("w1", label="abc"))
    refused = await apply(http, widget("w1", label="def"), manager="bob")
    assert refused.status_code == 409
    status = refused.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "alice" using example.com/v1: .spec.label'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "alice" using example.com/v1',
            "field": ".spec.label",
        }
    ]
    # The same value is no conflict: both own the field.
    shared = await apply(http, widget("w1", label="abc"), manager="bob")
    assert shared.status_code == 200
    assert managers(shared.json())["bob"] == {"f:spec": {"f:label": {}, "f:size": {}}}
    forced = await apply(http, widget("w1", label="xyz"), manager="bob", force=True)
    assert forced.json()["spec"]["label"] == "xyz"
    assert managers(forced.json())["alice"] == {"f:spec": {"f:size": {}}}  # taken from alice


async def test_a_field_the_manager_stops_setting_goes_unless_another_owns_it(
    http: httpx.AsyncClient,
) -> None:
    await apply(http, widget("w1", label="abc", tags=["a"]))
    await apply(http, widget("w1", tags=["a"]), manager="bob")  # bob co-owns tags
    after = (await apply(http, widget("w1"))).json()  # alice drops label and tags
    assert "label" not in after["spec"]
    assert after["spec"]["tags"] == ["a"]


async def test_apply_needs_a_field_manager_and_valid_content(http: httpx.AsyncClient) -> None:
    missing = await http.patch(f"{WD}/w1", headers=APPLY, content=json.dumps(widget("w1")))
    assert missing.status_code == 422
    assert missing.json()["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
        "is required for apply patch"
    )
    too_big = await apply(http, widget("w1", size=99))
    assert too_big.status_code == 422
    other_name = await apply(http, widget("w2"))
    assert other_name.status_code == 400
