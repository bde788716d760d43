"""Pieces shared by every custom resource: conditions, errors, field helpers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

GROUP = "cfgpu.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FINALIZER = f"{GROUP}/finalizer"
KOPF_STATUS = "kopf"  # the status field where Kopf keeps its records (last spec, progress)
PAUSED_ANNOTATION = f"{GROUP}/paused"
CATEGORY = "cfgpu"

# Every free string has a maximum length, so a typo'd paste cannot balloon an object (and
# every message that quotes it) towards etcd's size limit.
NAME = 253  # a Kubernetes name or key, or an external id
LABEL = 128  # a catalog name or code (region, GPU type, image)
PATH = 512  # an image path or reference
TEXT = 4096  # free text and messages


class CrdModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields ignored when reading."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        """The JSON form, without unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def immutable(description: str, **kwargs: Any) -> Any:
    """A field that CEL keeps unchanged after creation (``self == oldSelf``)."""
    name = kwargs.pop("label", "this field")
    rules = [{"rule": "self == oldSelf", "message": f"{name} is immutable"}]
    extra: dict[str, Any] = {"x-kubernetes-validations": rules}
    if "default_factory" in kwargs:
        # The API server fills an object defaulted to {} with its fields' own defaults, so
        # the stored spec holds every value that immutability then protects.
        extra["default"] = {}
    return Field(description=description, json_schema_extra=extra, **kwargs)


def set_once(*fields: str) -> list[JsonValue]:
    """Rules for the parent object: each field is chosen at creation or never.

    ``self == oldSelf`` on the field itself only runs when the field exists before and after
    an update, so adding or removing it would pass; on the parent, all three are refused.
    """
    return [
        {
            "rule": f"has(self.{f}) == has(oldSelf.{f}) && (!has(self.{f}) || "
            f"self.{f} == oldSelf.{f})",
            "message": f"{f} is immutable: it is set at creation or never, and cannot be "
            "added, changed or removed later",
        }
        for f in fields
    ]


def time_field(description: str) -> Any:
    """An optional RFC 3339 time (UTC, with its ``Z``), declared ``format: date-time``."""
    return Field(default=None, description=description, json_schema_extra={"format": "date-time"})


class Condition(CrdModel):
    type: Literal["Ready", "Synced"] = Field(description="Ready or Synced.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(max_length=LABEL, description="CamelCase reason from the documented table.")
    message: str = Field(default="", max_length=TEXT, description="Human-readable detail.")
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation this condition was computed for."
    )
    last_transition_time: str = Field(
        description="When status last changed (RFC 3339).",
        json_schema_extra={"format": "date-time"},
    )


class LastError(CrdModel):
    code: str = Field(
        default="", max_length=LABEL, description="The external API's error code, if any."
    )
    message: str = Field(max_length=TEXT, description="What failed, as the external API said it.")


class StatusBase(CrdModel):
    """What every kind's status reports, besides its own facts."""

    conditions: list[Condition] = Field(default_factory=list, description="Ready and Synced.")
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation last reconciled."
    )
    last_error: LastError | None = Field(default=None, description="The last failure, if any.")


# The first columns of every kind: where it is, whether it is Ready, and why.
STATUS_COLUMNS: tuple[dict[str, object], ...] = (
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {
        "name": "Reason",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
    },
)
AGE_COLUMN: dict[str, object] = {
    "name": "Age",
    "type": "date",
    "jsonPath": ".metadata.creationTimestamp",
}
