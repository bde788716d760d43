"""SafeWorkload: spec and status. The CRD schema is generated from these models."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

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
    time_field,
)

KIND = "SafeWorkload"
PLURAL = "safeworkloads"
SINGULAR = "safeworkload"
SHORT_NAMES = ("swl",)
WorkloadKind = Literal[
    "PyTorchJob",
    "Deployment",
    "StatefulSet",
    "Authoring",
    "TorchFT",
    "RayJob",
    "AutoscalingRunnerSet",
    "MonarchJob",
    "Sandbox",
    "DynamoDeployment",
    "InferaDeployment",
]


Name = Annotated[str, Field(min_length=1, max_length=NAME)]
Image = Annotated[str, Field(min_length=1, max_length=PATH)]
# Kubernetes' quantity syntax (its OpenAPI pattern): "one" is refused at apply, not at submit.
QUANTITY = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
Quantity = Annotated[str, Field(min_length=1, max_length=LABEL, pattern=QUANTITY)]
# A whole launch script can be an entry point; env values hold tokens and small configs.
Script = Annotated[str, Field(max_length=65_536)]
EnvValue = Annotated[str, Field(max_length=32_768)]


class Phase(StrEnum):
    WAITING = "Waiting"
    SUBMITTING = "Submitting"
    PENDING = "Pending"
    RUNNING = "Running"
    UPDATING = "Updating"
    NOT_READY = "NotReady"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"
    LOST = "Lost"


class Resources(CrdModel):
    replica: int = Field(default=1, ge=1, le=10_000, description="Pods of this role.")
    cpu: Quantity = Field(description="CPU cores per pod (a quantity, e.g. 16).")
    gpu: Quantity | None = Field(default=None, description="GPUs per pod (e.g. 8).")
    memory: Quantity = Field(description="Memory per pod (e.g. 256Gi).")
    ephemeral_storage: Quantity | None = Field(default=None, description="Scratch disk per pod.")
    shared_memory: Quantity | None = Field(default=None, description="Shared memory (shm) per pod.")


class SecretKeySelector(CrdModel):
    name: Name = Field(description="Secret in the object's namespace.")
    key: Name = Field(description="Key in the Secret.")


class SecretEnv(CrdModel):
    name: Name = Field(description="Environment variable name.")
    secret_key_ref: SecretKeySelector = Field(description="Where its value comes from.")


class OnComplete(CrdModel):
    gpu_instances: Literal["Keep", "Stop", "Release"] = Field(
        default="Keep", description="What to do with gpuInstanceRefs once the workload ends."
    )


class SecretRef(CrdModel):
    name: Name = Field(description="Secret in the object's namespace.")
    key: Name = Field(default="token", description="Key holding the API key.")


class SafeWorkloadSpec(CrdModel):
    """The workload to run on Primus-SaFE, and what to do around it."""

    workspace_id: str = immutable(
        "Primus-SaFE workspace.", label="workspaceId", min_length=1, max_length=NAME
    )
    kind: WorkloadKind = immutable("Workload kind.", label="kind", default="PyTorchJob")
    display_name: str | None = Field(
        default=None, max_length=58, description="Default: derived from metadata.name."
    )
    description: str | None = Field(default=None, max_length=TEXT, description="Free text.")
    resources: list[Resources] = Field(min_length=1, description="One entry per role.")
    images: list[Image] = Field(default_factory=list, description="One image per role.")
    entry_points: list[Script] = Field(
        default_factory=list, description="One plain-text command per role; sent base64."
    )
    env: dict[str, EnvValue] = Field(default_factory=dict, description="Environment variables.")
    secret_env: list[SecretEnv] = Field(
        default_factory=list, description="Variables from Secrets, resolved at submit time."
    )
    priority: int = Field(default=0, ge=0, le=2, description="0 low, 1 medium, 2 high.")
    timeout: int | None = Field(
        default=None,
        ge=0,
        description="Seconds from dispatch; 0 for none; unset: the workspace's maximum runtime.",
    )
    max_retry: int = Field(default=0, ge=0, le=50, description="Retries after failures.")
    ttl_seconds_after_finished: int | None = Field(
        default=None,
        ge=0,
        description="Seconds the platform keeps an ended workload's object; unset: its default.",
    )
    specified_nodes: list[Name] = Field(default_factory=list, description="Run only here.")
    excluded_nodes: list[Name] = Field(default_factory=list, description="Never run here.")
    nodes_affinity: Literal["required", "preferred"] = Field(
        default="required", description="How strictly specifiedNodes applies."
    )
    customer_labels: dict[str, Annotated[str, Field(max_length=NAME)]] = Field(
        default_factory=dict, description="Node labels."
    )
    is_tolerate_all: bool = Field(default=False, description="Tolerate every node taint.")
    service: dict[str, Any] | None = Field(
        default=None,
        description="Service (Deployment, StatefulSet).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    liveness: dict[str, Any] | None = Field(
        default=None,
        description="Liveness probe.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    readiness: dict[str, Any] | None = Field(
        default=None,
        description="Readiness probe.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    image_pull_secrets: list[Name] = Field(
        default_factory=list,
        description="Primus-SaFE secret ids for private registries (the workspace's image "
        "secrets are added by the platform).",
    )
    is_supervised: bool | None = Field(
        default=None, description="Platform supervision (isSupervised); unset: its default."
    )
    use_workspace_storage: bool | None = Field(
        default=None, description="Mount the workspace's volumes; unset: the platform's (true)."
    )
    force_host_network: bool | None = Field(
        default=None, description="Run the pods on the host network; unset: the platform's."
    )
    depends_on: list[Name] = Field(
        default_factory=list, description="SafeWorkloads (same namespace) to wait for."
    )
    gpu_instance_refs: list[Name] = Field(
        default_factory=list, description="GpuInstances that must be Ready before submitting."
    )
    on_complete: OnComplete = Field(
        default_factory=OnComplete,
        description="After it ends.",
        json_schema_extra={"default": {}},  # the API server then fills gpuInstances: Keep
    )
    suspend: bool = Field(default=False, description="True stops the platform workload.")
    deletion_policy: Literal["Delete", "Orphan"] = Field(
        default="Delete", description="Delete: stop and delete on the platform; Orphan: leave."
    )
    credentials_secret_ref: SecretRef | None = Field(
        default=None, description="Secret with this object's API key; else SAFE_API_TOKEN."
    )


class PodSummary(CrdModel):
    total: int = Field(default=0, description="Pods.")
    running: int = Field(default=0, description="Pods running.")


class SafeWorkloadStatus(StatusBase):
    """What the operator last saw of the workload on Primus-SaFE, and how it got there."""

    phase: Phase | None = Field(default=None, description="Where the workload is.")
    workload_id: str | None = Field(default=None, description="Platform workload id.")
    submitted_at: str | None = time_field(
        "When the submit was first attempted (recorded before it)."
    )
    resumed_at: str | None = time_field("When a resume was last attempted (recorded before it).")
    suspended: bool | None = Field(
        default=None,
        description="The workload was stopped for spec.suspend: unsuspending resumes it.",
    )
    queue_position: int | None = Field(default=None, description="Place in the queue.")
    message: str | None = Field(default=None, description="The platform's pending reason.")
    dispatch_count: int | None = Field(default=None, description="Dispatch attempts.")
    start_time: str | None = time_field("When it started running.")
    end_time: str | None = time_field("When it ended.")
    duration: str | None = Field(
        default=None,
        description="How long the workload ran, e.g. 1h2m3s, once it ended (while it runs, "
        "see startTime).",
    )
    nodes: list[str] = Field(default_factory=list, description="Nodes of the last attempt.")
    endpoint: str | None = Field(
        default=None,
        description="Inference kinds: the Service address (external URL, else in-cluster).",
    )
    pods: PodSummary | None = Field(default=None, description="Pod counts.")
    platform_conditions: list[dict[str, str]] = Field(
        default_factory=list, description="The platform's conditions (the last 20)."
    )
    gpu_instances_applied: bool | None = Field(
        default=None, description="onComplete.gpuInstances has been applied."
    )


PRINTER_COLUMNS: tuple[dict[str, object], ...] = (
    *STATUS_COLUMNS,
    {"name": "Workload-ID", "type": "string", "jsonPath": ".status.workloadId"},
    {"name": "Kind", "type": "string", "jsonPath": ".spec.kind"},
    {"name": "Endpoint", "type": "string", "jsonPath": ".status.endpoint", "priority": 1},
    AGE_COLUMN,
)
