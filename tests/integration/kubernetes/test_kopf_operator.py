"""A small Kopf operator, defined here, run in-process against the emulator over HTTP."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest

from cfgpu_operator.emulators.kubernetes import KubernetesEmulator
from tests.conftest import ServedKube
from tests.helpers import eventually
from tests.integration.kubernetes.widgets import GROUP, PLURAL, VERSION, crd, widget

FINALIZER = "example.com/finalizer"


def build_registry(url: str, seen: dict[str, list[Any]]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=url, token="any")

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        settings.watching.server_timeout = 5
        settings.posting.level = logging.INFO

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry, id="create")
    def created(body: Any, patch: kopf.Patch, spec: Any, **_: Any) -> None:
        seen["create"].append(body["metadata"]["name"])
        patch.status["phase"] = "Created"
        patch.status["color"] = spec["color"]
        kopf.info(body, reason="Created", message="widget created")

    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, id="update", field="spec.label")
    def updated(patch: kopf.Patch, new: Any, **_: Any) -> None:
        seen["update"].append(new)
        patch.status["label"] = new

    @kopf.timer(
        GROUP, VERSION, PLURAL, registry=registry, id="tick", interval=0.2, initial_delay=0.1
    )
    def tick(patch: kopf.Patch, status: Any, **_: Any) -> None:
        patch.status["ticks"] = int(status.get("ticks", 0)) + 1

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="delete")
    def deleted(name: str, **_: Any) -> None:
        seen["delete"].append(name)

    return registry


@pytest.fixture
async def operator(kube: ServedKube) -> AsyncIterator[dict[str, list[Any]]]:
    kube.emulator.cluster.create(
        kube.emulator.cluster.registry.get(
            "apiextensions.k8s.io", "v1", "customresourcedefinitions"
        ),  # type: ignore[arg-type]
        None,
        crd(),
    )
    seen: dict[str, list[Any]] = {"create": [], "update": [], "delete": []}
    # Kopf gets a thread and a loop of its own: at exit it cancels every task created in its
    # loop after it started, which would include the emulator's and pytest's.
    stop = threading.Event()
    registry = build_registry(kube.url, seen)
    thread = threading.Thread(
        target=lambda: asyncio.run(
            kopf.operator(registry=registry, clusterwide=True, standalone=True, stop_flag=stop)
        )
    )
    thread.start()
    yield seen
    stop.set()
    kube.emulator.watches.close()  # else Kopf waits for its watches' server timeout
    await asyncio.to_thread(thread.join, 30)
    assert not thread.is_alive()


def widgets(emulator: KubernetesEmulator) -> Any:
    return emulator.cluster.registry.get(GROUP, VERSION, PLURAL)


def get(emulator: KubernetesEmulator, name: str) -> dict[str, Any] | None:
    return emulator.cluster.store.get(widgets(emulator).key, "default", name)


async def test_create_update_timer_status_events_and_finalized_delete(
    kube: ServedKube, operator: dict[str, list[Any]]
) -> None:
    emulator = kube.emulator
    cluster = emulator.cluster
    cluster.create(widgets(emulator), "default", widget("w1", label="abc"))

    status = await eventually(
        lambda: (get(emulator, "w1") or {}).get("status", {}).get("phase"), what="create handler"
    )
    assert status == "Created"
    obj = get(emulator, "w1")
    assert obj is not None
    assert obj["status"]["color"] == "red"  # defaulted by the schema, seen by the handler
    assert FINALIZER in obj["metadata"]["finalizers"]
    # The status arrived through /status: a patch of the main resource could not set it.
    assert emulator.calls("patch", PLURAL)
    assert any(c.subresource == "status" for c in emulator.calls("patch", PLURAL))

    await eventually(
        lambda: (get(emulator, "w1") or {}).get("status", {}).get("ticks", 0) >= 2,
        what="timer ticks",
    )

    cluster.patch(
        widgets(emulator),
        "default",
        "w1",
        "application/merge-patch+json",
        {"spec": {"label": "xyz"}},
    )
    await eventually(lambda: operator["update"] == ["xyz"], what="update handler")
    await eventually(lambda: (get(emulator, "w1") or {})["status"].get("label") == "xyz")

    events = await eventually(
        lambda: [
            e
            for e in cluster.list_objects(cluster.registry.get("", "v1", "events"), "default")  # type: ignore[arg-type]
            if e.get("reason") == "Created"
        ],
        what="Created event",
    )
    assert events[0]["involvedObject"]["name"] == "w1"

    cluster.delete(widgets(emulator), "default", "w1")
    await eventually(lambda: get(emulator, "w1") is None, what="finalizer released")
    assert operator["delete"] == ["w1"]
    assert operator["create"] == ["w1"]
