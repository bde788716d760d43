"""Builders for GpuInstance decision views, shared by the decision table tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cfgpu_operator.errors import ApiError
from cfgpu_operator.models.gpuinstance import GpuInstanceSpec, GpuInstanceStatus
from cfgpu_operator.reconcile.decision import Decision
from cfgpu_operator.reconcile.gpuinstance_view import Act, Instance, Observed, View

NOW = 1_800_000_000.0
NAME = "k8s-ns-gpu-12345678"
ID = "instance-1"


def spec(**fields: Any) -> GpuInstanceSpec:
    base = {"region": "hz", "gpuType": "RTX 4090", "image": {"id": "image_a"}}
    return GpuInstanceSpec.model_validate({**base, **fields})


def status(**fields: Any) -> GpuInstanceStatus:
    return GpuInstanceStatus.model_validate(fields)


def ready(reason: str, state: str = "False") -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": state,
        "reason": reason,
        "lastTransitionTime": "2027-01-15T08:00:00Z",
    }


HAS = {"instanceName": NAME, "instanceId": ID, "observedGeneration": 1}


def inst(code: str, **fields: Any) -> Instance:
    return Instance(ID, code, image_id=fields.pop("image_id", "image_a"), **fields)


def view(
    st: dict[str, Any] | None = None,
    *,
    sp: dict[str, Any] | None = None,
    seen: Instance | None = None,
    **kw: Any,
) -> View:
    observed = kw.pop("observed", Observed(listed=True, instance=seen))
    return View(
        spec=spec(**(sp or {})),
        status=status(**(st if st is not None else {})),
        generation=kw.pop("generation", 1),
        intent_name=NAME,
        now=kw.pop("now", NOW),
        observed=observed,
        **kw,
    )


def err(kind: type[ApiError], code: str = "", message: str = "m", **kw: Any) -> ApiError:
    return kind(message, api="cfgpu", endpoint="e", code=code or None, **kw)


def ready_of(d: Decision[Act]) -> dict[str, Any]:
    return next(c for c in d.status["conditions"] if c["type"] == "Ready")


def synced_of(d: Decision[Act]) -> dict[str, Any]:
    return next(c for c in d.status["conditions"] if c["type"] == "Synced")


def warnings(d: Decision[Act]) -> list[str]:
    return [e.reason for e in d.events if e.warning]


def infos(d: Decision[Act]) -> list[str]:
    return [e.reason for e in d.events if not e.warning]


__all__ = ["replace"]
