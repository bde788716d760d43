"""GpuQuota: a limit on the GPUs a namespace's GpuInstances hold. The CRD schema is
generated from these models."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cfgpu_operator.models.common import AGE_COLUMN, LABEL, Condition, CrdModel, StatusBase

KIND = "GpuQuota"
PLURAL = "gpuquotas"
SINGULAR = "gpuquota"
SHORT_NAMES = ("gpuq",)


class GpuQuotaSpec(CrdModel):
    """How many GPUs the GpuInstances of this namespace may hold at once."""

    max_gpus: int = Field(
        ge=0,
        le=100_000,
        description="GPUs of this namespace's instances that are not Stopped or Released; a "
        "create or start that would go above waits (reason QuotaExceeded).",
    )


class QuotaCondition(Condition):
    type: Literal["Ready", "Exceeded"] = Field(  # type: ignore[assignment]
        description="Ready (the quota is enforced) or Exceeded (instances wait for room, or "
        "more GPUs are held than allowed)."
    )


class GpuQuotaStatus(StatusBase):
    conditions: list[QuotaCondition] = Field(  # type: ignore[assignment]
        default_factory=list, description="Ready and Exceeded."
    )
    used_gpus: int | None = Field(default=None, description="GPUs held now.")
    gpus: str | None = Field(
        default=None, max_length=LABEL, description="Used of allowed GPUs, e.g. 3/8."
    )
    waiting: int | None = Field(
        default=None, description="GpuInstances waiting for room under this quota."
    )


PRINTER_COLUMNS: tuple[dict[str, object], ...] = (
    {"name": "GPUs", "type": "string", "jsonPath": ".status.gpus"},
    {"name": "Waiting", "type": "integer", "jsonPath": ".status.waiting"},
    {
        "name": "Exceeded",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Exceeded")].status',
    },
    AGE_COLUMN,
)
