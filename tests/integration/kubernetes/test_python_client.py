"""The `kubernetes` Python client against the emulator: CRUD, patches, conflicts, selectors,
lists, watches. The client is synchronous, so each call runs in a worker thread while the
emulator keeps serving on the test's loop."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from kubernetes import client, dynamic, watch

from tests.conftest import ServedKube
from tests.integration.kubernetes.widgets import GROUP, PLURAL, VERSION, crd, widget


class Api:
    def __init__(self, kube: ServedKube) -> None:
        self.raw = kube.api_client()
        self.core = client.CoreV1Api(self.raw)
        self.custom = client.CustomObjectsApi(self.raw)
        self.crds = client.ApiextensionsV1Api(self.raw)

    async def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # Any, not the client's Optional-everywhere models: tests read what they just wrote.
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def fails(self, status: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with pytest.raises(client.ApiException) as caught:
            await self(fn, *args, **kwargs)
        assert caught.value.status == status, caught.value.body
        return json.loads(caught.value.body or "{}")


@pytest.fixture
async def api(kube: ServedKube) -> AsyncIterator[Api]:
    api = Api(kube)
    yield api
    await asyncio.to_thread(api.raw.close)


@pytest.fixture
async def widgets_api(api: Api) -> Api:
    await api(api.crds.create_custom_resource_definition, crd(("v1", "v1beta1")))
    return api


async def test_discovery_through_the_dynamic_client(widgets_api: Api) -> None:
    dyn = await widgets_api(dynamic.DynamicClient, widgets_api.raw)
    resource = await widgets_api(dyn.resources.get, api_version=f"{GROUP}/{VERSION}", kind="Widget")
    assert (resource.name, resource.namespaced, resource.short_names) == (PLURAL, True, ["wd"])
    assert resource.categories == ["examples"]
    leases = await widgets_api(
        dyn.resources.get, api_version="coordination.k8s.io/v1", kind="Lease"
    )
    assert leases.namespaced
    version = await widgets_api(client.VersionApi(widgets_api.raw).get_code)
    assert version.major == "1"


async def test_crd_is_established_and_its_deletion_removes_objects(widgets_api: Api) -> None:
    api = widgets_api
    stored = await api(api.crds.read_custom_resource_definition, f"{PLURAL}.{GROUP}")
    conditions = {c.type: c.status for c in stored.status.conditions}
    assert conditions["Established"] == "True"
    await api(
        api.custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, widget("w1")
    )
    await api(api.crds.delete_custom_resource_definition, f"{PLURAL}.{GROUP}")
    await api.fails(
        404, api.custom.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL
    )


async def test_core_objects_crud_and_server_set_metadata(api: Api) -> None:
    created = await api(
        api.core.create_namespaced_config_map,
        "default",
        {"metadata": {"name": "cm", "labels": {"app": "a"}}, "data": {"k": "v"}},
    )
    meta = created.metadata
    assert meta.uid
    assert meta.creation_timestamp
    assert meta.namespace == "default"
    first_rv = int(meta.resource_version)
    created.data = {"k": "w"}
    updated = await api(api.core.replace_namespaced_config_map, "cm", "default", created)
    assert int(updated.metadata.resource_version) > first_rv
    created.data = {"k": "stale"}
    body = await api.fails(409, api.core.replace_namespaced_config_map, "cm", "default", created)
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    await api.fails(
        409, api.core.create_namespaced_config_map, "default", {"metadata": {"name": "cm"}}
    )
    await api(api.core.delete_namespaced_config_map, "cm", "default")
    body = await api.fails(404, api.core.read_namespaced_config_map, "cm", "default")
    assert (body["reason"], body["message"]) == ("NotFound", 'configmaps "cm" not found')


async def test_generate_name_and_missing_namespace(api: Api) -> None:
    made = await api(
        api.core.create_namespaced_secret,
        "default",
        {"metadata": {"generateName": "tok-"}, "stringData": {"a": "b"}},
    )
    assert made.metadata.name.startswith("tok-")
    assert len(made.metadata.name) == 9
    body = await api.fails(
        404, api.core.create_namespaced_secret, "nowhere", {"metadata": {"name": "x"}}
    )
    assert body["message"] == 'namespaces "nowhere" not found'


async def test_custom_objects_generation_and_status_subresource(widgets_api: Api) -> None:
    api, args = widgets_api, (GROUP, VERSION, "default", PLURAL)
    created = await api(
        api.custom.create_namespaced_custom_object,
        *args,
        {**widget("w1"), "status": {"phase": "Sneaky"}},
    )
    assert "status" not in created  # status is ignored on create with a status subresource
    assert created["metadata"]["generation"] == 1
    patched = await api(
        api.custom.patch_namespaced_custom_object,
        *args,
        "w1",
        {"spec": {"label": "abc"}, "status": {"phase": "Ignored"}},
    )
    assert patched["metadata"]["generation"] == 2
    assert "status" not in patched
    status = await api(
        api.custom.patch_namespaced_custom_object_status,
        *args,
        "w1",
        {"status": {"phase": "Ready"}, "spec": {"label": "ignored"}},
    )
    assert status["status"] == {"phase": "Ready"}
    assert status["spec"]["label"] == "abc"
    assert status["metadata"]["generation"] == 2  # status changes never bump generation
    labelled = await api(
        api.custom.patch_namespaced_custom_object,
        *args,
        "w1",
        {"metadata": {"labels": {"tier": "gold"}}},
    )
    assert labelled["metadata"]["generation"] == 2


async def test_other_served_version_sees_the_same_objects(widgets_api: Api) -> None:
    api = widgets_api
    await api(
        api.custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, widget("w1")
    )
    beta = await api(
        api.custom.get_namespaced_custom_object, GROUP, "v1beta1", "default", PLURAL, "w1"
    )
    assert beta["apiVersion"] == f"{GROUP}/v1beta1"


async def test_json_patch_and_its_failed_test(widgets_api: Api) -> None:
    api, args = widgets_api, (GROUP, VERSION, "default", PLURAL)
    await api(api.custom.create_namespaced_custom_object, *args, widget("w1", label="abc"))
    ops = [
        {"op": "test", "path": "/spec/label", "value": "abc"},
        {"op": "replace", "path": "/spec/label", "value": "def"},
    ]
    json_patch = {"_content_type": "application/json-patch+json"}
    patched = await api(api.custom.patch_namespaced_custom_object, *args, "w1", ops, **json_patch)
    assert patched["spec"]["label"] == "def"
    body = await api.fails(
        422, api.custom.patch_namespaced_custom_object, *args, "w1", ops, **json_patch
    )
    assert body["reason"] == "Invalid"


async def test_patch_with_stale_resource_version_conflicts(widgets_api: Api) -> None:
    api, args = widgets_api, (GROUP, VERSION, "default", PLURAL)
    created = await api(api.custom.create_namespaced_custom_object, *args, widget("w1"))
    rv = created["metadata"]["resourceVersion"]
    await api(
        api.custom.patch_namespaced_custom_object,
        *args,
        "w1",
        {"metadata": {"resourceVersion": rv, "labels": {"a": "1"}}},
    )
    await api.fails(
        409,
        api.custom.patch_namespaced_custom_object,
        *args,
        "w1",
        {"metadata": {"resourceVersion": rv, "labels": {"a": "2"}}},
    )


async def test_strategic_merge_patch_on_a_custom_resource_is_415(
    widgets_api: Api, kube: ServedKube
) -> None:
    api = widgets_api
    await api(
        api.custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, widget("w1")
    )
    path = f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/w1"
    headers = {"Content-Type": "application/strategic-merge-patch+json"}
    async with httpx.AsyncClient(base_url=kube.url) as raw:
        response = await raw.patch(path, content=b'{"spec": {"label": "x"}}', headers=headers)
    assert response.status_code == 415
    assert response.json()["reason"] == "UnsupportedMediaType"


async def test_label_and_field_selectors(api: Api) -> None:
    for name, labels in [
        ("a", {"env": "prod", "tier": "web"}),
        ("b", {"env": "dev"}),
        ("c", {"tier": "db"}),
    ]:
        await api(
            api.core.create_namespaced_config_map,
            "default",
            {"metadata": {"name": name, "labels": labels}},
        )

    async def names(**selectors: str) -> list[str]:
        found = await api(api.core.list_namespaced_config_map, "default", **selectors)
        return sorted(item.metadata.name for item in found.items)

    assert await names(label_selector="env=prod") == ["a"]
    assert await names(label_selector="env!=prod") == ["b", "c"]
    assert await names(label_selector="env in (prod, dev)") == ["a", "b"]
    assert await names(label_selector="env notin (prod)") == ["b", "c"]
    assert await names(label_selector="tier") == ["a", "c"]
    assert await names(label_selector="!tier") == ["b"]
    assert await names(label_selector="env=prod,tier=web") == ["a"]
    assert await names(field_selector="metadata.name=b") == ["b"]
    assert await names(field_selector="metadata.name!=b") == ["a", "c"]
    assert await names(field_selector="metadata.namespace=default") == ["a", "b", "c"]


async def test_pagination_with_limit_and_continue(api: Api) -> None:
    for n in range(7):
        await api(api.core.create_namespaced_config_map, "default", {"metadata": {"name": f"p{n}"}})
    seen, token = [], None
    while True:
        page = await api(api.core.list_namespaced_config_map, "default", limit=3, _continue=token)
        seen += [item.metadata.name for item in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert seen == [f"p{n}" for n in range(7)]


async def test_watch_resumes_from_a_resource_version(api: Api) -> None:
    first = await api(api.core.create_namespaced_config_map, "default", {"metadata": {"name": "x"}})
    await api(api.core.create_namespaced_config_map, "default", {"metadata": {"name": "y"}})
    await api(api.core.delete_namespaced_config_map, "x", "default")

    def stream() -> list[tuple[str, str]]:
        w = watch.Watch()  # type: ignore[no-untyped-call]
        events = []
        for event in w.stream(  # type: ignore[no-untyped-call]
            api.core.list_namespaced_config_map,
            "default",
            resource_version=first.metadata.resource_version,
            timeout_seconds=1,
        ):
            events.append((event["type"], event["object"].metadata.name))
        return events

    assert await api(stream) == [("ADDED", "y"), ("DELETED", "x")]


async def test_watch_beyond_history_answers_410(kube: ServedKube, api: Api) -> None:
    # Shrink this resource's history so that four writes overflow it.
    kube.emulator.cluster.store.bucket(("", "configmaps")).history = deque(maxlen=2)
    first = await api(api.core.create_namespaced_config_map, "default", {"metadata": {"name": "a"}})
    for name in "bcd":
        await api(api.core.create_namespaced_config_map, "default", {"metadata": {"name": name}})

    def stream() -> None:
        for _ in watch.Watch().stream(  # type: ignore[no-untyped-call]
            api.core.list_namespaced_config_map,
            "default",
            resource_version=first.metadata.resource_version,
            timeout_seconds=1,
        ):
            pass

    with pytest.raises(client.ApiException) as caught:
        await api(stream)
    assert caught.value.status == 410


async def test_delete_collection_and_cluster_wide_lists(api: Api) -> None:
    await api(api.core.create_namespace, {"metadata": {"name": "team"}})
    for namespace, name, labels in [
        ("default", "a", {"x": "1"}),
        ("default", "b", {}),
        ("team", "c", {"x": "1"}),
    ]:
        await api(
            api.core.create_namespaced_config_map,
            namespace,
            {"metadata": {"name": name, "labels": labels}},
        )
    everywhere = await api(api.core.list_config_map_for_all_namespaces, label_selector="x=1")
    assert sorted((i.metadata.namespace, i.metadata.name) for i in everywhere.items) == [
        ("default", "a"),
        ("team", "c"),
    ]
    await api(api.core.delete_collection_namespaced_config_map, "default", label_selector="x=1")
    left = await api(api.core.list_config_map_for_all_namespaces)
    assert sorted(i.metadata.name for i in left.items) == ["b", "c"]
