"""The edge between CFGPU's wire types and the GpuInstance decision, both ways: what an
instance record says as a decision's ``Instance``, and a spec as a create request.

Every spec field is either mapped into the create request here or listed as one the operator
itself uses (a test fails when a new field is neither).
"""

from __future__ import annotations

from typing import Any

from cfgpu_operator.clients.catalog import ImageRef, ResolvedImage
from cfgpu_operator.clients.cfgpu_wire import CreateInstanceRequest, InstanceRecord
from cfgpu_operator.models.gpuinstance import GpuInstanceSpec, ImageSource
from cfgpu_operator.reconcile.gpuinstance import system_disk_expand
from cfgpu_operator.reconcile.gpuinstance_view import Instance
from cfgpu_operator.reconcile.status import quantity, rfc3339

# Spec fields (camelCase) the create request carries (adaptType by choosing the image list
# the image id comes from)...
SENT_ON_CREATE = frozenset(
    {"region", "gpuType", "gpuCount", "image", "adaptType", "billing", "disks", "instanceName"}
)
# ...and those that steer the operator instead of CFGPU's create call.
OPERATOR_ONLY = frozenset(
    {
        "state",  # start / stop after create
        "instanceId",  # adoption instead of create
        "deletionPolicy",
        "managementPolicy",
        "credentialsSecretRef",
        "lifecycle",  # stops and releases by the clock
        "fallbacks",  # other offers: the create request gets the region and GPU type tried
    }
)


def image_ref(source: ImageSource) -> ImageRef:
    return ImageRef(id=source.id, system=source.system, private=source.private)


def create_request(
    spec: GpuInstanceSpec, name: str, region: str, gpu: str, image: ResolvedImage
) -> tuple[CreateInstanceRequest, int]:
    """The create body, and the system-disk expansion in GB it asks for (raised to fit the
    image when the spec asks for less)."""
    expand = system_disk_expand(spec.disks.system_expand_gb, image.min_system_disk)
    request = CreateInstanceRequest(
        price_type=spec.billing.price_type,
        region_code=region,
        gpu_type=gpu,
        gpu_num=spec.gpu_count,
        image_id=image.id,
        service_time=spec.billing.service_time,
        instance_name=name,
        expand_size=spec.disks.data_expand_gb,
        sys_disk_expand_size=expand,
    )
    return request, expand


def facts(record: InstanceRecord | None, status_code: str) -> dict[str, Any]:
    """The observed-facts part of status (camelCase, as stored)."""
    out: dict[str, Any] = {"cfgpuStatus": status_code}
    if record is None:
        return out
    out.update(
        {
            "regionCode": record.region_code,
            "gpuTypeCode": record.gpu_type,
            "imageId": record.image_id,
            "gpuName": record.gpu_name,
            "gpus": record.gpus,
            "gpu": f"{record.gpus}x {record.gpu_name}" if record.gpus and record.gpu_name else None,
            "cpus": record.cpus,
            "memoryBytes": record.memory,
            "memory": quantity(record.memory),
            "gpuMemoryBytes": record.gpu_memory,
            "gpuMemory": quantity(record.gpu_memory),
            "consumeType": record.consume_type_code,
            "createTime": rfc3339(record.create_time),
            "expireTime": rfc3339(record.expire_time),
            # CFGPU keeps the last stop time while it runs again: not a stop to show.
            "stopTime": None if status_code == "RUNNING" else rfc3339(record.stop_time),
        }
    )
    return out


def instance(instance_id: str, status_code: str, record: InstanceRecord | None) -> Instance:
    """An ``Instance`` from the freshest status code and the listing's record, if any."""
    if record is None:
        return Instance(instance_id, status_code, facts=facts(None, status_code))
    return Instance(
        instance_id,
        status_code,
        image_id=record.image_id,
        prepaid=record.consume_type_code == "Prepaid",
        expired=record.expired_code == 1,
        expiring=record.to_be_expired_code == 1,
        expire_at=record.expire_time / 1000 if record.expire_time else None,
        facts=facts(record, status_code),
    )
