"""Capacity fallbacks: the offers a create tries in order (the spec's region and GPU type,
then spec.fallbacks), and the decision once an offer had no capacity: the next offer at
once, or, after the last, WaitingForCapacity with backoff and the first offer again."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cfgpu_operator.errors import ApiError
from cfgpu_operator.models.gpuinstance import ATTEMPTS, GpuInstanceSpec, Phase
from cfgpu_operator.reconcile.conditions import Cond, clip
from cfgpu_operator.reconcile.decision import Decision, Frame, Gate, stamp
from cfgpu_operator.reconcile.gpuinstance_view import Act, View
from cfgpu_operator.reconcile.reasons import Reason
from cfgpu_operator.reconcile.verdicts import verdict

Offer = tuple[str, str]  # region, GPU type (as the spec writes them)


def offers(spec: GpuInstanceSpec) -> list[Offer]:
    first = (spec.region, spec.gpu_type)
    return [
        first,
        *((f.region or spec.region, f.gpu_type or spec.gpu_type) for f in spec.fallbacks),
    ]


def label(offer: Offer) -> str:
    return f"{offer[0]}/{offer[1]}"


def first_to_try(spec: GpuInstanceSpec, stored: int | None) -> int:
    """The offer the next create starts from (fallbacks may have been shortened since)."""
    return min(stored or 0, len(offers(spec)) - 1)


def after_no_capacity(v: View, frame: Frame, error: ApiError, tried: int) -> Decision[Act]:
    all_offers = offers(v.spec)
    tried = min(tried, len(all_offers) - 1)
    attempts = _attempts(v, all_offers[tried], error)
    if tried + 1 < len(all_offers):
        message = (
            f"{label(all_offers[tried])} has no capacity; trying {label(all_offers[tried + 1])}"
        )
        # Round after round, the reason stays WaitingForCapacity: one Warning per episode.
        waiting = frame.reason("Ready") == Reason.WAITING_FOR_CAPACITY
        reason = Reason.WAITING_FOR_CAPACITY if waiting else Reason.CREATING
        status = frame.report(Phase.CREATING, Cond("Ready", "False", reason, message))
        status.update({"candidate": tried + 1, "attempts": attempts})
        return Decision(Act.NOTHING, status, gate=Gate("soon"), args={"next_offer": True})
    message = error.message
    if len(all_offers) > 1:
        names = ", ".join(label(o) for o in all_offers)
        message = f"no capacity on any offer ({names}); the last said: {error.message}"
    decision = frame.fail(Act.NOTHING, verdict(error), message, error.code or "", Phase.PENDING)
    return replace(decision, status={**decision.status, "candidate": 0, "attempts": attempts})


def _attempts(v: View, offer: Offer, error: ApiError) -> list[dict[str, Any]]:
    earlier = [a.wire() for a in v.status.attempts]
    attempt = {
        "candidate": clip(label(offer), 512),
        "code": clip(error.code or "", 128),
        "message": clip(error.message),
        "time": stamp(v.now),
    }
    return [*earlier, attempt][-ATTEMPTS:]
