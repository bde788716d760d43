"""GpuQuota: a limit on the GPUs a namespace's GpuInstances hold. The CRD schema is
generated from these models."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from cfgpu_operator.models.common import (
    AGE_COLUMN,
    LABEL,
    Condition,
    CrdModel,
    StatusBase,
    time_field,
)

KIND = "GpuQuota"
PLURAL = "gpuquotas"
SINGULAR = "gpuquota"
SHORT_NAMES = ("gpuq",)


class GpuQuotaSpec(CrdModel):
    """Limits on what the GpuInstances of this namespace hold at once and use per period."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.maxGpus) || has(self.maxGpuHours) || "
                    "has(self.maxEstimatedCost)",
                    "message": "a GpuQuota sets maxGpus, maxGpuHours or maxEstimatedCost",
                }
            ]
        }
    )

    max_gpus: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="GPUs of this namespace's instances that are not Stopped or Released; a "
        "create or start that would go above waits (reason QuotaExceeded).",
    )
    max_gpu_hours: int | None = Field(
        default=None,
        ge=0,
        le=100_000_000,
        description="GPU-hours the namespace's instances may use per period (from their "
        "status.usage); once used up, creates and starts wait for the next period.",
    )
    max_estimated_cost: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$",
        max_length=16,
        description="CNY the namespace's instances may cost per period, estimated from the "
        "operator's price table (CFGPU_OPERATOR_PRICES); needs that table.",
    )
    period: Literal["Day", "Week", "Month"] = Field(
        default="Month",
        description="Calendar period of maxGpuHours and maxEstimatedCost (a Week starts on "
        "Monday), in timeZone.",
    )
    time_zone: str = Field(
        default="UTC", min_length=1, max_length=LABEL, description="IANA time zone of period."
    )
    on_exceeded: Literal["Deny", "StopNewest"] = Field(
        default="Deny",
        description="Deny: creates and starts wait. StopNewest: also stop the newest running "
        "pay-as-you-go instances of the namespace while the period's hours or cost are used "
        "up (never a prepaid one: stopping it saves nothing).",
    )


class Counted(CrdModel):
    gpu_seconds: int = Field(default=0, ge=0, description="GPU-seconds when last counted.")
    cost: float = Field(default=0, ge=0, description="Estimated CNY when last counted.")


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
    period_start: str | None = time_field("When the current period began.")
    gpu_seconds_this_period: int | None = Field(
        default=None, ge=0, description="GPU-seconds used this period."
    )
    gpu_hours_this_period: str | None = Field(
        default=None, max_length=LABEL, description="GPU-hours used this period, e.g. 12.50."
    )
    estimated_cost_this_period: str | None = Field(
        default=None, max_length=LABEL, description="Estimated CNY this period (price table)."
    )
    counted: dict[str, Counted] = Field(
        default_factory=dict,
        description="Per GpuInstance uid, what it had used when last counted (so that a "
        "restart or a deletion loses nothing of the period's totals).",
    )


PRINTER_COLUMNS: tuple[dict[str, object], ...] = (
    {"name": "GPUs", "type": "string", "jsonPath": ".status.gpus"},
    {"name": "Waiting", "type": "integer", "jsonPath": ".status.waiting"},
    {"name": "GPU-Hours", "type": "string", "jsonPath": ".status.gpuHoursThisPeriod"},
    {"name": "Cost", "type": "string", "jsonPath": ".status.estimatedCostThisPeriod"},
    {
        "name": "Exceeded",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Exceeded")].status',
    },
    AGE_COLUMN,
)
