"""Pydantic models of what travels over the wire to and from CFGPU.

They follow cfgpu-api.md as corrected by cfgpu-api-notes.md: unknown fields are ignored,
codes may be numbers or strings, lists may come bare or wrapped, and most record fields may
be missing or null. Python names are snake_case; the wire names are camelCase aliases.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from cfgpu_operator.clients.wire import NULL_AS_EMPTY_LIST, NULL_AS_EMPTY_STR

AdaptType = Literal["CONTAINER", "VM"]
PriceType = Literal["Usage", "Day", "Week", "Month"]

# statusCode values documented by cfgpu-api.md; others are passed through unchanged.
TRANSIENT_STATUSES = frozenset({"CREATING", "STARTING", "STOPPING", "RELEASING"})
STABLE_STATUSES = frozenset({"RUNNING", "CLOSED", "RELEASED", "ERROR"})

# Keys under which a list has been seen wrapped inside `content`.
LIST_KEYS = ("records", "list", "rows", "items", "data")


class Wire(BaseModel):
    model_config = ConfigDict(
        extra="ignore", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class Envelope(Wire):
    success: bool
    error_code: str | None = None
    error_msg: str | None = None
    content: Any = None

    @field_validator("error_code", mode="before")
    @classmethod
    def _code_as_text(cls, value: object) -> object:
        # Seen as both 10001 and "10001"; "BIZ_ERROR" is a string.
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int | float):
            return str(int(value))
        return value


class Region(Wire):
    code: str
    name: str = ""


class GpuType(Wire):
    code: str
    name: str = ""


class PrivateImage(Wire):
    code: str
    name: str = ""
    sys_disk_limit_min_size: int = 0


class SystemImageNode(Wire):
    """One level of the system image tree; leaves carry the image ``code``."""

    name: str
    children_name: str | None = None
    children: Annotated[list[SystemImageNode], NULL_AS_EMPTY_LIST] = Field(default_factory=list)
    code: str | None = None
    sys_disk_limit_min_size: int = 0


class InstanceStatus(Wire):
    instance_id: str
    status_code: str
    status: str = ""


class InstanceRecord(Wire):
    """A row of instance/page; everything but the id and status may be absent. Only the
    fields the operator reads are kept: the poll holds one record per instance of the
    account (at 10,000 instances each unused field costs megabytes)."""

    instance_id: str
    status_code: str
    instance_name: Annotated[str, NULL_AS_EMPTY_STR] = ""
    region_code: str | None = None
    image_id: str | None = None
    gpu_type: str | None = None
    gpu_name: str | None = None
    gpus: int | None = None
    cpus: float | None = None
    memory: int | None = None
    gpu_memory: int | None = None
    consume_type_code: str | None = None
    create_time: int | None = None
    expire_time: int | None = None
    stop_time: int | None = None
    expired_code: int | None = None
    to_be_expired_code: int | None = None


class InstancePage(Wire):
    total: int = 0
    page_size: int = 0
    current_page: int = 1
    pages: int = 0
    records: Annotated[list[InstanceRecord], NULL_AS_EMPTY_LIST] = Field(default_factory=list)


class CreateInstanceRequest(Wire):
    price_type: PriceType
    region_code: str
    gpu_type: str
    gpu_num: int = Field(ge=1, le=8)
    image_id: str
    service_time: int = Field(default=1, ge=1)
    instance_name: str | None = None
    expand_size: int = Field(default=0, ge=0)
    sys_disk_expand_size: int = Field(default=0, ge=0)


class PageQuery(Wire):
    current_page: int = Field(default=1, ge=1)
    page_size: int = Field(default=50, ge=1, le=100)
    key_word: str | None = None
    status: str | None = None


def unwrap_list(content: Any) -> list[Any]:
    """Return the list inside ``content``: bare, wrapped under a known key, or absent (empty)."""
    if content is None:
        return []
    if isinstance(content, list):
        return content
    if isinstance(content, dict):
        for key in LIST_KEYS:
            if isinstance(content.get(key), list):
                return list(content[key])
    raise TypeError(f"expected a list, got {type(content).__name__}")


def created_instance_id(content: Any) -> str:
    """instance/create's content: ``{"instanceId": ...}`` or a bare id string."""
    if isinstance(content, str) and content:
        return content
    if isinstance(content, dict):
        value = content.get("instanceId") or content.get("id")
        if isinstance(value, str) and value:
            return value
    # Not cut here: the client redacts tokens from the whole text before it cuts it short.
    raise TypeError(f"no instance id in create content {content!r}")
