"""`cfgpu-operator plan`: what applying GpuInstance documents would do, renting nothing.

Each document is read as the API server would store it, its names resolved against the
catalog of the operator-wide token, its offers (the spec's, then spec.fallbacks) listed in
the order a create tries them, the GpuQuotas of its namespace checked against what the
cluster's GpuInstances hold, and its hourly cost taken from the price table. CFGPU's API
does not say how much stock an offer has, so the plan cannot either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, cast

from pydantic import ValidationError

from cfgpu_operator.clients.catalog import Catalog
from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.http import ClientOptions
from cfgpu_operator.errors import ApiError
from cfgpu_operator.handlers import cfgpu_mapping
from cfgpu_operator.handlers.quotas import QuotaLedger
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.models.gpuinstance import KIND, GpuInstanceSpec
from cfgpu_operator.reconcile.fallbacks import label, offers
from cfgpu_operator.reconcile.quota import denial
from cfgpu_operator.reconcile.usage import Prices, hourly
from cfgpu_operator.settings import Settings

Doc = Mapping[str, Any]


class PlanError(Exception):
    """What is missing to plan at all, in one sentence."""


async def plan(settings: Settings, documents: Iterable[Doc]) -> list[dict[str, Any]]:
    """One plan per GpuInstance document (other kinds are left out)."""
    token = settings.CFGPU_API_TOKEN
    if token is None:
        raise PlanError("set CFGPU_API_TOKEN to the token whose catalog to plan against")
    docs = [d for d in documents if isinstance(d, Mapping) and d.get("kind") == KIND]
    namespaces = {str((d.get("metadata") or {}).get("namespace") or "default") for d in docs}
    ledger, cluster = await asyncio.to_thread(_cluster, settings, namespaces)
    options = ClientOptions.from_settings(settings)
    base = str(settings.CFGPU_API_URL)
    async with CfgpuClient(token, base_url=base, options=options) as client:
        catalog = Catalog(client, ttl=settings.CFGPU_OPERATOR_CATALOG_TTL)
        prices = cast(Prices, settings.CFGPU_OPERATOR_PRICES or {})
        return [await _one(doc, catalog, ledger, cluster, prices) for doc in docs]


def _cluster(settings: Settings, namespaces: set[str]) -> tuple[QuotaLedger, str | None]:
    """The GpuQuotas and what GpuInstances hold in ``namespaces``; and why not, if the
    cluster cannot be read (the plan then says the quotas were not checked)."""
    ledger, runtime = QuotaLedger(), Runtime(settings)
    try:
        for namespace in sorted(namespaces):
            ledger.seed("GpuQuota", runtime.list_all("gpuquotas", namespace))
            ledger.seed("GpuInstance", runtime.list_all("gpuinstances", namespace))
    except Exception as exc:  # no kubeconfig, no CRD, no access: plan the rest anyway
        return ledger, f"the cluster could not be read ({type(exc).__name__}: {exc})"[:300]
    return ledger, None


async def _one(
    doc: Doc, catalog: Catalog, ledger: QuotaLedger, cluster: str | None, prices: Prices
) -> dict[str, Any]:
    meta = doc.get("metadata") or {}
    name, namespace = str(meta.get("name") or "?"), str(meta.get("namespace") or "default")
    out: dict[str, Any] = {"name": name, "namespace": namespace}
    try:
        spec = GpuInstanceSpec.model_validate(dict(doc.get("spec") or {}))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return {**out, "ok": False, "problems": [f"spec.{where}: {first['msg']}"]}
    problems: list[str] = []
    out["gpus"] = spec.gpu_count
    out["image"] = await _image(spec, catalog, problems)
    out["offers"] = [await _offer(spec, o, catalog, prices) for o in offers(spec)]
    if not any(o["problem"] is None for o in out["offers"]):
        problems.append("no offer resolves against the catalog")
    out["quotas"] = _quotas(ledger, namespace, spec.gpu_count, cluster, problems)
    return {**out, "ok": not problems, "problems": problems}


async def _image(spec: GpuInstanceSpec, catalog: Catalog, problems: list[str]) -> str | None:
    try:
        found = await catalog.image(cfgpu_mapping.image_ref(spec.image), spec.adapt_type)
    except ApiError as exc:
        problems.append(f"spec.image: {exc.message}")
        return None
    return found.id


async def _offer(
    spec: GpuInstanceSpec, offer: tuple[str, str], catalog: Catalog, prices: Prices
) -> dict[str, Any]:
    row: dict[str, Any] = {"offer": label(offer), "resolved": None, "problem": None}
    try:
        region = await catalog.region(offer[0])
        gpu = await catalog.gpu_type(offer[1])
    except ApiError as exc:
        return {**row, "problem": exc.message, "costPerHour": None}
    cost = hourly(prices, (gpu.code, gpu.name), spec.billing.price_type, spec.gpu_count)
    per_hour = None if cost is None else f"{cost:.2f}"
    return {**row, "resolved": f"{region.code}/{gpu.code}", "costPerHour": per_hour}


def _quotas(
    ledger: QuotaLedger, namespace: str, gpus: int, cluster: str | None, problems: list[str]
) -> dict[str, Any]:
    if cluster is not None:
        return {"checked": False, "why": cluster, "limits": []}
    used = ledger.used(namespace)
    limits = [
        {
            "name": q.name,
            "maxGpus": q.max_gpus,
            "usedGpus": used,
            "usedUp": q.used_up,
            "allows": denial([q], used, gpus) is None,
        }
        for q in ledger.limits(namespace)
    ]
    found = denial(ledger.limits(namespace), used, gpus)
    if found is not None:
        problems.append(found)
    return {"checked": True, "why": None, "limits": limits}
