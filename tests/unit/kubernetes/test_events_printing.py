"""Events as kubectl finds and prints them: field selectors and the server's Table row."""

from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.emulators.kubernetes.printers import event_row
from cfgpu_operator.emulators.kubernetes.selectors import field_matcher
from cfgpu_operator.emulators.kubernetes.status import ApiStatus
from cfgpu_operator.emulators.kubernetes.table import human_duration

CORE, NEW = ("", "events"), ("events.k8s.io", "events")
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
STAMP = "2027-01-15T07:55:00Z"  # five minutes before
CORE_EVENT: dict[str, Any] = {
    "metadata": {"name": "trainer.1", "namespace": "ml"},
    "involvedObject": {
        "kind": "GpuInstance",
        "name": "trainer",
        "namespace": "ml",
        "uid": "u1",
        "apiVersion": "cfgpu.io/v1alpha1",
    },
    "reason": "InstanceCreated",
    "message": "rented instance i-1 ",
    "type": "Normal",
    "source": {"component": "cfgpu-operator"},
    "firstTimestamp": STAMP,
    "lastTimestamp": STAMP,
    "count": 2,
}
NEW_EVENT: dict[str, Any] = {
    "metadata": {"name": "trainer.2", "namespace": "ml"},
    "regarding": {"kind": "GpuInstance", "name": "trainer", "namespace": "ml"},
    "reason": "Stopping",
    "note": "stopping",
    "type": "Warning",
    "eventTime": "2027-01-15T07:59:00.000000Z",
    "reportingController": "cfgpu.io/operator",
    "reportingInstance": "pod-1",
}


@pytest.mark.parametrize(
    ("resource", "selector", "event", "matches"),
    [
        (CORE, "involvedObject.kind=GpuInstance,involvedObject.name=trainer", CORE_EVENT, True),
        (CORE, "involvedObject.uid=u1", CORE_EVENT, True),
        (CORE, "involvedObject.name=other", CORE_EVENT, False),
        (CORE, "reason=InstanceCreated,type=Normal", CORE_EVENT, True),
        (CORE, "source=cfgpu-operator", CORE_EVENT, True),
        (CORE, "involvedObject.fieldPath=", CORE_EVENT, True),  # absent is ""
        (NEW, "regarding.kind=GpuInstance,regarding.name=trainer", NEW_EVENT, True),
        (NEW, "reportingController=cfgpu.io/operator", NEW_EVENT, True),
    ],
)
def test_event_field_selectors(
    resource: tuple[str, str], selector: str, event: dict[str, Any], matches: bool
) -> None:
    assert field_matcher(selector, resource)(event) is matches


@pytest.mark.parametrize(
    ("resource", "selector"),
    [
        (("", "configmaps"), "involvedObject.kind=GpuInstance"),
        (NEW, "involvedObject.kind=GpuInstance"),  # events.k8s.io names it regarding
        (CORE, "regarding.kind=GpuInstance"),
    ],
)
def test_fields_of_another_resource_are_not_supported(
    resource: tuple[str, str], selector: str
) -> None:
    with pytest.raises(ApiStatus) as caught:
        field_matcher(selector, resource)
    assert caught.value.code == 400
    assert caught.value.message.startswith("field label not supported: ")


@pytest.mark.parametrize(
    ("event", "cells"),
    [
        (
            CORE_EVENT,
            [
                "5m",
                "Normal",
                "InstanceCreated",
                "gpuinstance/trainer",
                "",
                "cfgpu-operator",
                "rented instance i-1",
                "5m",
                2,
                "trainer.1",
            ],
        ),
        (
            NEW_EVENT,
            [
                "60s",
                "Warning",
                "Stopping",
                "gpuinstance/trainer",
                "",
                "cfgpu.io/operator, pod-1",
                "stopping",
                "60s",
                1,
                "trainer.2",
            ],
        ),
    ],
)
def test_event_rows_are_the_servers(event: dict[str, Any], cells: list[Any]) -> None:
    assert event_row(event, NOW, human_duration) == cells
