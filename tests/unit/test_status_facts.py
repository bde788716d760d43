"""What status shows a person: GPUs as rented, memory as quantities, times with their zone,
no stop time while running, table-style."""

from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.clients.cfgpu_wire import InstanceRecord
from cfgpu_operator.clients.safe_wire import WorkloadItem
from cfgpu_operator.handlers.cfgpu_mapping import facts
from cfgpu_operator.handlers.safe_mapping import workload
from cfgpu_operator.reconcile.status import quantity

GIB = 1 << 30


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (60 * GIB, "60Gi"),
        (24 * GIB, "24Gi"),
        (2 * (1 << 40), "2Ti"),
        (1536 * (1 << 20), "1536Mi"),  # 1.5Gi: the largest unit that divides it
        (1000, "1000"),
        (None, None),
    ],
)
def test_quantities(size: int | None, shown: str | None) -> None:
    assert quantity(size) == shown


def record(status: str, **extra: Any) -> InstanceRecord:
    return InstanceRecord.model_validate(
        {
            "instanceId": "i-1",
            "statusCode": status,
            "gpuName": "RTX 4090",
            "gpus": 2,
            "memory": 60 * GIB,
            "gpuMemory": 48 * GIB,
            "stopTime": 1_700_000_000_000,
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("status", "stop_time"),
    [("RUNNING", None), ("CLOSED", "2023-11-14T22:13:20Z"), ("STARTING", "2023-11-14T22:13:20Z")],
)
def test_instance_facts(status: str, stop_time: str | None) -> None:
    shown = facts(record(status), status)
    assert (shown["gpu"], shown["memory"], shown["gpuMemory"]) == ("2x RTX 4090", "60Gi", "48Gi")
    assert shown["memoryBytes"] == 60 * GIB
    assert shown["stopTime"] == stop_time  # cleared (null: removed) while it runs


def test_workload_times_carry_their_zone() -> None:
    item = WorkloadItem.model_validate(
        {"workloadId": "w-1", "startTime": "2026-12-01T10:00:00", "endTime": None}
    )
    assert workload(item).facts["startTime"] == "2026-12-01T10:00:00Z"
    assert workload(item).facts["endTime"] is None
