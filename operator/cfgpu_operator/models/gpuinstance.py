"""GpuInstance: spec and status. The CRD schema is generated from these models."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field

from cfgpu_operator.models.common import (
    AGE_COLUMN,
    LABEL,
    NAME,
    PATH,
    STATUS_COLUMNS,
    TEXT,
    CrdModel,
    StatusBase,
    immutable,
    set_once,
    time_field,
)
from cfgpu_operator.models.lifecycle import Lifecycle, LifecycleStatus, Usage

KIND = "GpuInstance"
PLURAL = "gpuinstances"
SINGULAR = "gpuinstance"
SHORT_NAMES = ("gpui",)
ATTEMPTS = 10  # status.attempts kept


class Phase(StrEnum):
    PENDING = "Pending"
    CREATING = "Creating"
    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    REIMAGING = "Reimaging"
    RELEASING = "Releasing"
    RELEASED = "Released"
    FAILED = "Failed"
    LOST = "Lost"
    EXPIRED = "Expired"  # released by spec.lifecycle.releaseAfter; never rented again


class ImageSource(CrdModel):
    """Exactly one way of naming the image."""

    id: str | None = Field(
        default=None,
        description="An image id (image_...).",
        pattern=r"^image_[a-z0-9]+$",
        max_length=LABEL,
    )
    system: str | None = Field(
        default=None,
        description="A system image as a path of names, e.g. "
        "Tensorflow/2.15.0/3.11(ubuntu20.04)/12.2.",
        min_length=1,
        max_length=PATH,
    )
    private: str | None = Field(
        default=None, description="A private image by name.", min_length=1, max_length=PATH
    )


class Billing(CrdModel):
    price_type: Literal["Usage", "Day", "Week", "Month"] = Field(
        default="Usage", description="Usage (pay as you go) or a prepaid Day, Week or Month."
    )
    service_time: int = Field(
        default=1, ge=1, le=120, description="Prepaid periods to buy (ignored for Usage)."
    )


class Disks(CrdModel):
    system_expand_gb: int = Field(
        default=0,
        ge=0,
        le=10_000,
        alias="systemExpandGB",
        description="GB added to the free 30 GB system disk.",
    )
    data_expand_gb: int = Field(
        default=0,
        ge=0,
        le=10_000,
        alias="dataExpandGB",
        description="GB added to the free 50 GB data disk.",
    )


class Candidate(CrdModel):
    """Another offer to rent when the one before has no capacity."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.region) || has(self.gpuType)",
                    "message": "a fallback names a region, a gpuType, or both",
                }
            ]
        }
    )

    region: str | None = Field(
        default=None,
        description="Region code or display name; unset: spec.region.",
        min_length=1,
        max_length=LABEL,
    )
    gpu_type: str | None = Field(
        default=None,
        description="GPU type code or display name; unset: spec.gpuType.",
        min_length=1,
        max_length=LABEL,
    )


class Attempt(CrdModel):
    candidate: str = Field(max_length=PATH, description="The offer tried, region/gpuType.")
    code: str = Field(default="", max_length=LABEL, description="CFGPU's error code.")
    message: str = Field(default="", max_length=TEXT, description="Why it was not rented.")
    time: str | None = time_field("When.")


class SecretKeyRef(CrdModel):
    name: str = Field(
        min_length=1, max_length=NAME, description="Secret in the object's namespace."
    )
    key: str = Field(
        default="token", min_length=1, max_length=NAME, description="Key holding the CFGPU token."
    )


class GpuInstanceSpec(CrdModel):
    """The GPU instance to rent on CFGPU, and what to do with it."""

    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": set_once("instanceName", "instanceId")}
    )

    region: str = immutable(
        "Region code or display name (hz, 杭州).", label="region", min_length=1, max_length=LABEL
    )
    gpu_type: str = immutable(
        "GPU type code or display name (RTX 4090, rtx4090).",
        label="gpuType",
        min_length=1,
        max_length=LABEL,
    )
    gpu_count: int = immutable("GPUs in the instance.", label="gpuCount", default=1, ge=1, le=8)
    image: ImageSource = Field(
        description="The image: exactly one of id, system or private. Changing it re-images.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "[has(self.id), has(self.system), has(self.private)]"
                    ".filter(x, x).size() == 1",
                    "message": "image needs exactly one of id, system or private",
                }
            ]
        },
    )
    adapt_type: Literal["CONTAINER", "VM"] = immutable(
        "Container or virtual machine.", label="adaptType", default="CONTAINER"
    )
    billing: Billing = immutable(
        "How the instance is paid for.", label="billing", default_factory=Billing
    )
    disks: Disks = immutable("Disk expansion.", label="disks", default_factory=Disks)
    state: Literal["Running", "Stopped"] = Field(
        default="Running", description="Desired power state."
    )
    instance_name: str | None = Field(
        default=None,
        description="CFGPU instance name; default derived from namespace, name and uid. "
        "Set at creation or never.",
        min_length=1,
        max_length=64,
    )
    instance_id: str | None = Field(
        default=None,
        description="Adopt this existing instance instead of creating one. Set at creation "
        "or never.",
        min_length=1,
        max_length=NAME,
    )
    deletion_policy: Literal["Release", "Orphan"] | None = Field(
        default=None,
        description="Release the instance on deletion, or leave it running (Orphan); unset: "
        "the operator's default, Release unless CFGPU_OPERATOR_DEFAULT_DELETION_POLICY says "
        "otherwise.",
    )
    management_policy: Literal["Manage", "ObserveOnly"] = Field(
        default="Manage", description="ObserveOnly never calls a mutating endpoint."
    )
    credentials_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret with this object's CFGPU token; else the operator's."
    )
    lifecycle: Lifecycle | None = Field(
        default=None,
        description="When the operator stops or releases the instance by itself (stopAfter, "
        "releaseAfter, idleStopAfter, schedule).",
    )
    fallbacks: list[Candidate] = Field(
        default_factory=list,
        max_length=8,
        description="Offers tried in order when the one before has no capacity (region and "
        "gpuType default to the spec's); after the last, WaitingForCapacity and over again.",
    )


class GpuInstanceStatus(StatusBase):
    """What the operator last saw of the instance on CFGPU, and how it got there."""

    phase: Phase | None = Field(default=None, description="Where the instance is.")
    instance_id: str | None = Field(default=None, description="The CFGPU instance id.")
    instance_name: str | None = Field(
        default=None, description="The CFGPU instance name (recorded before creating)."
    )
    cfgpu_status: str | None = Field(default=None, description="Raw CFGPU statusCode.")
    region_code: str | None = Field(default=None, description="Resolved region code.")
    gpu_type_code: str | None = Field(default=None, description="Resolved GPU type code.")
    image_id: str | None = Field(default=None, description="The image the instance runs.")
    gpu_name: str | None = Field(default=None, description="GPU model.")
    gpus: int | None = Field(default=None, description="GPUs.")
    gpu: str | None = Field(
        default=None, description="The GPUs as rented, count and model (e.g. 2x RTX 4090)."
    )
    cpus: float | None = Field(default=None, description="CPU cores.")
    memory_bytes: int | None = Field(default=None, description="Memory in bytes.")
    memory: str | None = Field(default=None, description="Memory as a quantity (e.g. 60Gi).")
    gpu_memory_bytes: int | None = Field(default=None, description="GPU memory in bytes.")
    gpu_memory: str | None = Field(
        default=None, description="GPU memory as a quantity (e.g. 24Gi)."
    )
    consume_type: str | None = Field(default=None, description="Billing type as CFGPU names it.")
    create_time: str | None = time_field("When CFGPU created it.")
    expire_time: str | None = time_field("When a prepaid instance ends.")
    stop_time: str | None = time_field("When it last stopped (cleared while it runs).")
    expiry_warned: str | None = time_field(
        "The expireTime a Warning Event (InstanceExpiring) was posted for."
    )
    lifecycle: LifecycleStatus | None = Field(
        default=None, description="What spec.lifecycle will do next, and what it remembers."
    )
    usage: Usage | None = Field(
        default=None, description="Running time, GPU-seconds and estimated cost so far."
    )
    candidate: int | None = Field(
        default=None,
        ge=0,
        description="The offer the next create tries: 0 the spec's region and gpuType, then "
        "spec.fallbacks in order.",
    )
    attempts: list[Attempt] = Field(
        default_factory=list,
        max_length=ATTEMPTS,
        description="The latest offers that had no capacity, and why (at most 10).",
    )


PRINTER_COLUMNS: tuple[dict[str, object], ...] = (
    *STATUS_COLUMNS,
    {"name": "GPU", "type": "string", "jsonPath": ".status.gpu"},
    {"name": "Instance-ID", "type": "string", "jsonPath": ".status.instanceId"},
    AGE_COLUMN,
    {"name": "Region", "type": "string", "jsonPath": ".status.regionCode", "priority": 1},
    {"name": "Image", "type": "string", "jsonPath": ".status.imageId", "priority": 1},
    {"name": "Expires", "type": "string", "jsonPath": ".status.expireTime", "priority": 1},
    {"name": "Next", "type": "string", "jsonPath": ".status.lifecycle.next", "priority": 1},
)
