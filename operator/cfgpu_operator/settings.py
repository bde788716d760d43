"""Operator settings: the only place that reads the process environment.

Values are validated once at start-up; a bad value stops the operator with a message that
names the variable, so a typo in a Helm value is found before any API is called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    Json,
    SecretStr,
    ValidationError,
    model_validator,
)

PositiveSeconds = Annotated[float, Field(gt=0, le=86_400)]
PriceType = Literal["Usage", "Day", "Week", "Month"]
# CNY by GPU type (code or model, any case and spacing) and price type: per GPU-hour for
# Usage, per GPU and period for the prepaid ones.
PriceTable = dict[
    Annotated[str, Field(min_length=1, max_length=128)],
    dict[PriceType, Annotated[float, Field(ge=0, le=1_000_000)]],
]


class SettingsError(ValueError):
    """The environment holds an invalid setting; the message names each variable."""


class Settings(BaseModel):
    """Everything the operator can be told through its environment.

    Field names are the variable names (case-insensitive), so a validation error's location is
    the variable a user has to fix.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    CFGPU_API_URL: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://api.cfgpu.com"), description="CFGPU API base URL."
    )
    CFGPU_API_TOKEN: SecretStr | None = Field(
        default=None, description="Operator-wide CFGPU token (bare token, no Bearer)."
    )
    SAFE_API_URL: AnyHttpUrl | None = Field(default=None, description="Primus-SaFE API base URL.")
    SAFE_API_TOKEN: SecretStr | None = Field(
        default=None, description="Operator-wide Primus-SaFE API key (ak-...)."
    )

    CFGPU_OPERATOR_HTTP_TIMEOUT: PositiveSeconds = Field(
        default=10.0,
        description="Seconds one HTTP request may take in all, connect to last byte, "
        "before it counts as timed out.",
    )
    CFGPU_OPERATOR_MAX_IN_FLIGHT: int = Field(
        default=10,
        description="Most requests in flight at once per token; more wait their turn, and "
        "the HTTP timeout starts only when a request is sent.",
        ge=1,
        le=100,
    )
    CFGPU_OPERATOR_KUBE_CONNECTIONS: int = Field(
        default=32,
        description="Most connections to the Kubernetes API server for requests other than "
        "watches (each watch holds one more); more requests wait their turn.",
        ge=1,
        le=1000,
    )
    CFGPU_OPERATOR_RATE_LIMIT: float = Field(
        default=5.0,
        description="Most API calls per second per token (bursts up to this many).",
        gt=0,
        le=1000,
    )
    CFGPU_OPERATOR_RETRY_ATTEMPTS: int = Field(
        default=4,
        description="Attempts for a read call that fails with a retryable error.",
        ge=1,
        le=20,
    )
    CFGPU_OPERATOR_RETRY_MAX_WAIT: PositiveSeconds = Field(
        default=30.0, description="Longest wait in seconds between two attempts of a read call."
    )
    CFGPU_OPERATOR_POLL_FAST: PositiveSeconds = Field(
        default=5.0,
        description="Poll interval in seconds while any instance is in a transient state.",
    )
    CFGPU_OPERATOR_POLL_SLOW: PositiveSeconds = Field(
        default=60.0, description="Poll interval in seconds while every instance is stable."
    )
    CFGPU_OPERATOR_RECONCILE_INTERVAL: PositiveSeconds = Field(
        default=10.0,
        description="Seconds between two reconciles of one object; each reads the shared poll "
        "and calls CFGPU only when something must change.",
    )
    CFGPU_OPERATOR_BACKOFF_BASE: PositiveSeconds = Field(
        default=2.0, description="First retry delay in seconds after a failed action."
    )
    CFGPU_OPERATOR_BACKOFF_MAX: PositiveSeconds = Field(
        default=300.0, description="Longest retry delay in seconds after repeated failures."
    )
    CFGPU_OPERATOR_SLOW_RETRY: PositiveSeconds = Field(
        default=600.0,
        description="Retry delay in seconds for problems a person must fix (balance, token).",
    )
    CFGPU_OPERATOR_SUBMIT_GRACE: PositiveSeconds = Field(
        default=60.0,
        description="Seconds after a Primus-SaFE submit during which a workload not yet "
        "visible is waited for, never submitted again.",
    )
    CFGPU_OPERATOR_CATALOG_TTL: PositiveSeconds = Field(
        default=300.0,
        description="Seconds a fetched catalog (regions, GPU types, images) is reused.",
    )
    CFGPU_OPERATOR_SECRET_TTL: PositiveSeconds = Field(
        default=30.0,
        description="Seconds a value read from a Secret (or its absence) is reused by every "
        "object that names it.",
    )
    CFGPU_OPERATOR_LOG_LEVEL: str = Field(
        default="INFO",
        description="Log level: DEBUG, INFO, WARNING or ERROR.",
        pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR)$",
    )
    CFGPU_OPERATOR_LOG_FORMAT: Literal["text", "json"] = Field(
        default="text",
        description="Log format: text (one line, object prefix) or json (one object per line, "
        "with the namespace and name of the object a line is about).",
    )

    CFGPU_OPERATOR_DEFAULT_DELETION_POLICY: Literal["Release", "Orphan"] = Field(
        default="Release",
        description="What deleting a GpuInstance that sets no deletionPolicy does to its "
        "instance: Release it, or leave it running (Orphan).",
    )
    CFGPU_OPERATOR_CLUSTER_ID: str | None = Field(
        default=None,
        description="Names this cluster's instances (k8sc-<id>-...), so that clusters sharing "
        "one CFGPU account never take each other's for orphans; default: made once and kept "
        "in the ConfigMap cfgpu-operator-cluster in the Lease's namespace.",
        pattern=r"^[a-z0-9]{4,12}$",
    )
    CFGPU_OPERATOR_ORPHAN_GRACE: PositiveSeconds = Field(
        default=600.0,
        description="Seconds an instance named by this cluster may go unrecorded by any "
        "GpuInstance before it counts as an orphan.",
    )
    CFGPU_OPERATOR_ORPHAN_POLICY: Literal["Report", "Release"] = Field(
        default="Report",
        description="What happens to an orphan: Report it (metric, Warning Event), or also "
        "stop and Release it.",
    )
    CFGPU_OPERATOR_EXPIRY_WARNING: float = Field(
        default=86400.0,
        description="Seconds before a prepaid instance expires that a Warning Event "
        "(InstanceExpiring) says so.",
        gt=0,
        le=30 * 86400,  # a Month's instance warned from its first day on
    )
    CFGPU_OPERATOR_STOCK_MEMORY: PositiveSeconds = Field(
        default=60.0,
        description="Seconds an offer (account, region, GPU type) that answered 'no capacity' "
        "is taken as out of stock by every object, which then tries its next offer or waits "
        "without a call.",
    )
    CFGPU_OPERATOR_USAGE_INTERVAL: float = Field(
        default=300.0,
        description="Seconds a GpuInstance's status.usage may go unwritten while its instance "
        "keeps running (it is written at once when it starts or stops).",
        ge=1,
        le=3600,
    )
    CFGPU_OPERATOR_PRICES: Json[PriceTable] | None = Field(
        default=None,
        description='Price table as JSON, CNY by GPU type and price type, e.g. {"RTX 4090": '
        '{"Usage": 1.98, "Day": 42}} (per GPU-hour for Usage, per GPU and period for Day, '
        "Week, Month); unset: no cost is estimated.",
    )
    CFGPU_OPERATOR_LEASE_NAME: str = Field(
        default="cfgpu-operator",
        description="Name of the Lease that elects the one replica that acts.",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        max_length=253,
    )
    CFGPU_OPERATOR_LEASE_NAMESPACE: str | None = Field(
        default=None,
        description="Namespace of that Lease; default: the pod's own namespace (else default).",
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=63,
    )
    CFGPU_OPERATOR_LEASE_SECONDS: float = Field(
        default=15.0,
        description="Seconds a Lease holder that stopped renewing keeps it; the leader exits "
        "if it cannot renew within two thirds of this.",
        ge=1,
        le=300,
    )

    @model_validator(mode="after")
    def _ordered(self) -> Settings:
        """Pairs where the first is a lower bound of the second (the chart checks the same)."""
        for low, high in (
            ("CFGPU_OPERATOR_POLL_FAST", "CFGPU_OPERATOR_POLL_SLOW"),
            ("CFGPU_OPERATOR_BACKOFF_BASE", "CFGPU_OPERATOR_BACKOFF_MAX"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} must not be larger than {high}")
        return self


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings from ``environ`` (the process environment by default).

    Raises SettingsError listing every bad variable; the offending values are not echoed, as
    one of them may be a token.
    """
    try:
        source = os.environ if environ is None else environ
        # An empty variable means "unset" (Helm renders absent values as ""), and tokens
        # pasted from files often carry a trailing newline.
        known = {
            key.upper(): value.strip()
            for key, value in source.items()
            if key.upper() in Settings.model_fields and value.strip()
        }
        return Settings.model_validate(known)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in err["loc"])
            problems.append(f"{where.upper()}: {err['msg']}" if where else err["msg"])
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
