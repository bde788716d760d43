"""Pydantic models of the Primus-SaFE wire format (primus-safe-api.md, read from its source).

Unknown fields are ignored; times come as ``2006-01-02T15:04:05`` (UTC, no zone) or ``""``;
several lists come as ``null`` when empty.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from cfgpu_operator.clients.wire import NULL_AS_EMPTY_DICT, NULL_AS_EMPTY_LIST

SHORT_TIME = "%Y-%m-%dT%H:%M:%S"
TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Stopped"})


def parse_time(value: object) -> datetime | None:
    """Short-format UTC time, RFC 3339, or ``""``/None for unset."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    text = str(value)
    try:
        return datetime.strptime(text, SHORT_TIME).replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime(SHORT_TIME)


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)


class Resource(Wire):
    replica: int = 1
    cpu: str = ""
    gpu: str | None = None
    memory: str = ""
    ephemeral_storage: str | None = None
    shared_memory: str | None = None


class Kind(Wire):
    kind: str = "PyTorchJob"
    version: str = "v1"


class Condition(Wire):
    type: str
    status: str = "Unknown"
    reason: str = ""
    message: str = ""
    last_transition_time: str = ""


class WorkloadItem(Wire):
    workload_id: str
    workspace_id: str = ""
    display_name: str = ""
    description: str = ""
    user_id: str = ""
    phase: str = "Pending"
    message: str = ""
    priority: int = 0
    max_retry: int = 0
    creation_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration: str = ""  # Go's form: 1h2m3s
    timeout: int | None = None
    seconds_until_timeout: int = 0  # -1 before a timed workload starts
    queue_position: int = 0
    dispatch_count: int = 0
    group_version_kind: Kind = Field(default_factory=Kind)
    resources: Annotated[list[Resource], NULL_AS_EMPTY_LIST] = Field(default_factory=list)

    @field_validator("creation_time", "start_time", "end_time", mode="before")
    @classmethod
    def _time(cls, value: object) -> datetime | None:
        return parse_time(value)

    @property
    def ended(self) -> bool:
        return self.phase in TERMINAL_PHASES


class Pod(Wire):
    pod_id: str
    phase: str = ""
    admin_node_name: str = ""


class WorkloadDetail(WorkloadItem):
    images: Annotated[list[str], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
    entry_points: list[str] | None = None
    env: Annotated[dict[str, str], NULL_AS_EMPTY_DICT] = Field(default_factory=dict)
    conditions: Annotated[list[Condition], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
    pods: Annotated[list[Pod], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
    nodes: Annotated[list[list[str]], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
    ttl_seconds_after_finished: int | None = None
    dependencies: list[str] | None = None


class ServicePort(Wire):
    name: str = ""
    protocol: str = "TCP"
    port: int = 0


class WorkloadService(Wire):
    """GET /workloads/{id}/service: the first port of an inference workload's Service."""

    port: ServicePort = Field(default_factory=ServicePort)
    external_domain: str = ""  # only behind the platform's ingress gateway
    internal_domain: str = ""  # <id>.<workspace>.svc.cluster.local:<port>
    cluster_ip: str = ""
    type: str = ""

    @property
    def address(self) -> str:
        return self.external_domain or self.internal_domain


class WorkloadList(Wire):
    total_count: int = 0
    items: Annotated[list[WorkloadItem], NULL_AS_EMPTY_LIST] = Field(default_factory=list)


class Workspace(Wire):
    workspace_id: str
    workspace_name: str = ""
    cluster_id: str = ""
    phase: str = ""
    scopes: Annotated[list[str], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
    total_quota: Annotated[dict[str, int], NULL_AS_EMPTY_DICT] = Field(default_factory=dict)
    avail_quota: Annotated[dict[str, int], NULL_AS_EMPTY_DICT] = Field(default_factory=dict)


class Node(Wire):
    node_id: str
    node_name: str = ""
    internal_ip: str = Field(default="", alias="internalIP")
    available: bool = True
    phase: str = ""


class WorkspaceRef(Wire):
    id: str
    name: str = ""


class UserSelf(Wire):
    id: str
    name: str = ""
    roles: Annotated[list[str], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
    workspaces: Annotated[list[WorkspaceRef], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
    managed_workspaces: Annotated[list[WorkspaceRef], NULL_AS_EMPTY_LIST] = Field(
        default_factory=list
    )


def listed(content: Any, model: type[BaseModel]) -> list[Any]:
    """``{"totalCount": n, "items": [...] | null}`` to a list of models."""
    items = content.get("items") if isinstance(content, dict) else None
    return [model.model_validate(item) for item in items or []]


class SecretEntity(Wire):
    id: str
    type: str | None = None  # ssh | image | general


class CreateWorkloadRequest(Wire):
    """The create body (flat). entryPoints must already be base64: the server's own
    detection keeps a plain script that happens to look like base64."""

    display_name: str
    workspace_id: str
    group_version_kind: Kind = Field(default_factory=Kind)
    resources: list[Resource]
    images: list[str] = Field(default_factory=list)
    entry_points: list[str] = Field(default_factory=list)
    workload_id: str | None = None
    description: str | None = None
    env: dict[str, str] | None = None
    priority: int | None = None
    timeout: int | None = None
    max_retry: int | None = None
    ttl_seconds_after_finished: int | None = None
    specified_nodes: list[str] | None = None
    excluded_nodes: list[str] | None = None
    nodes_affinity: str | None = None
    customer_labels: dict[str, str] | None = None
    is_tolerate_all: bool | None = None
    dependencies: list[str] | None = None
    service: dict[str, Any] | None = None
    liveness: dict[str, Any] | None = None
    readiness: dict[str, Any] | None = None
    secrets: list[SecretEntity] | None = None
    is_supervised: bool | None = None
    use_workspace_storage: bool | None = None
    force_host_network: bool | None = None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PatchWorkloadRequest(Wire):
    priority: int | None = None
    resources: list[Resource] | None = None
    images: list[str] | None = None
    entry_points: list[str] | None = None
    env: dict[str, str] | None = None
    description: str | None = None
    timeout: int | None = None
    max_retry: int | None = None
    service: dict[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)
