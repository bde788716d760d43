"""`cfgpu-operator orphans`: the orphans of the operator-wide token's account, as of now,
read the way the operator reads them (this cluster's id, every GpuInstance, the account's
listing), from anywhere a kubeconfig and the token are at hand. Read-only."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.cfgpu_poller import Snapshot
from cfgpu_operator.clients.http import ClientOptions
from cfgpu_operator.handlers import cluster, leader
from cfgpu_operator.handlers.directory import Directory
from cfgpu_operator.handlers.orphans import fingerprint, listing
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.reconcile.orphans import Listed, review
from cfgpu_operator.reconcile.usage import Prices, hourly
from cfgpu_operator.settings import Settings


class ReportError(Exception):
    """What is missing to look, in one sentence."""


async def find(settings: Settings) -> tuple[str | None, list[dict[str, Any]]]:
    """This cluster's id (None: the operator never ran here) and one row per orphan."""
    token = settings.CFGPU_API_TOKEN
    if token is None:
        raise ReportError("set CFGPU_API_TOKEN to the token whose account to look at")
    cluster_id, items = await asyncio.to_thread(_from_kubernetes, settings)
    if cluster_id is None:
        return None, []
    directory = Directory()
    directory.seed("GpuInstance", items)
    options = ClientOptions.from_settings(settings)
    async with CfgpuClient(token, base_url=str(settings.CFGPU_API_URL), options=options) as api:
        statuses = {s.instance_id: s.status_code for s in await api.list_instance_statuses()}
        records = {r.instance_id: r async for r in api.iter_instances(page_size=100)}
    now = time.time()
    read = Snapshot(0, statuses, records, complete=True)
    found = review(listing(read), directory.known(), cluster_id, {}, now, grace=0)
    account = fingerprint(token.get_secret_value())
    prices = cast(Prices, settings.CFGPU_OPERATOR_PRICES or {})
    return cluster_id, [_row(o, account, now, prices) for o in found.orphans]


def _row(orphan: Listed, account: str, now: float, prices: Prices) -> dict[str, Any]:
    age = None if orphan.created_ms is None else max(0.0, now - orphan.created_ms / 1000)
    return {
        "id": orphan.instance_id,
        "name": orphan.name,
        "status": orphan.status,
        "ageSeconds": None if age is None else int(age),
        "account": account,
        "gpu": f"{orphan.gpus}x {orphan.gpu_name}" if orphan.gpus and orphan.gpu_name else None,
        "prepaid": orphan.prepaid,
        "costPerHour": _cost_per_hour(orphan, prices),
    }


def _cost_per_hour(orphan: Listed, prices: Prices) -> str | None:
    """CNY per hour while it runs, from the price table: pay-as-you-go only (a prepaid one
    was paid for up front, and its listing does not say for which period)."""
    if orphan.prepaid or orphan.status != "RUNNING":
        return None
    names = (orphan.gpu_type, orphan.gpu_name)
    cost = hourly(prices, names, "Usage", orphan.gpus or 1)
    return None if cost is None else f"{cost:.2f}"


def _from_kubernetes(settings: Settings) -> tuple[str | None, list[dict[str, Any]]]:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    kube = Runtime(settings)
    try:
        api = kube.api_client()
    except config.ConfigException as exc:
        raise ReportError(f"no Kubernetes cluster to look at ({exc}); set KUBECONFIG") from None
    namespace = leader.default_namespace(settings.CFGPU_OPERATOR_LEASE_NAMESPACE)
    configured = settings.CFGPU_OPERATOR_CLUSTER_ID
    try:
        found = None if configured else cluster.read(client.CoreV1Api(api), namespace)
        cluster_id = configured or (cluster.stored_id(found) if found else None)
        items = kube.list_all("gpuinstances", None) if cluster_id else []
    except ApiException as exc:
        raise ReportError(
            f"the Kubernetes API refused a read (HTTP {exc.status} {exc.reason})"
        ) from None
    return cluster_id, items
