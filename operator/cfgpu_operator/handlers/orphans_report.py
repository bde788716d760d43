"""`cfgpu-operator orphans`: the orphans of the operator-wide token's account, as of now,
read the way the operator reads them (this cluster's id, every GpuInstance, the account's
listing), from anywhere a kubeconfig and the token are at hand. Read-only."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.http import ClientOptions
from cfgpu_operator.handlers import leader
from cfgpu_operator.handlers.cluster import CONFIGMAP, KEY
from cfgpu_operator.handlers.directory import Directory
from cfgpu_operator.handlers.orphans import fingerprint
from cfgpu_operator.models.common import GROUP, VERSION
from cfgpu_operator.reconcile.orphans import Listed, review
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
        listing = [
            Listed(
                r.instance_id,
                r.instance_name,
                statuses.get(r.instance_id, r.status_code),
                r.create_time,
            )
            async for r in api.iter_instances(page_size=100)
        ]
    now = time.time()
    found = review(listing, directory.known(), cluster_id, {}, now, grace=0)
    account = fingerprint(token.get_secret_value())
    return cluster_id, [_row(o, account, now) for o in found.orphans]


def _row(orphan: Listed, account: str, now: float) -> dict[str, Any]:
    age = None if orphan.created_ms is None else max(0.0, now - orphan.created_ms / 1000)
    return {
        "id": orphan.instance_id,
        "name": orphan.name,
        "status": orphan.status,
        "ageSeconds": None if age is None else int(age),
        "account": account,
    }


def _from_kubernetes(settings: Settings) -> tuple[str | None, list[dict[str, Any]]]:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        try:
            config.load_kube_config()  # type: ignore[no-untyped-call]
        except config.ConfigException as exc:
            raise ReportError(f"no Kubernetes cluster to look at ({exc}); set KUBECONFIG") from None
    namespace = leader.default_namespace(settings.CFGPU_OPERATOR_LEASE_NAMESPACE)
    try:
        cluster_id = settings.CFGPU_OPERATOR_CLUSTER_ID or _stored_id(client.CoreV1Api(), namespace)
        items = _gpu_instances(client.CustomObjectsApi()) if cluster_id else []
    except ApiException as exc:
        raise ReportError(
            f"the Kubernetes API refused a read (HTTP {exc.status} {exc.reason})"
        ) from None
    return cluster_id, items


def _stored_id(core: Any, namespace: str) -> str | None:
    from kubernetes.client.exceptions import ApiException

    try:
        found = core.read_namespaced_config_map(CONFIGMAP, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    stored = (found.data or {}).get(KEY)
    return str(stored) if stored else None


def _gpu_instances(api: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = api.list_cluster_custom_object(
            GROUP, VERSION, "gpuinstances", limit=500, _continue=token
        )
        items.extend(page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return items


def table(rows: list[dict[str, Any]]) -> str:
    columns = ("id", "name", "status", "ageSeconds", "account")
    heads = ("ID", "NAME", "STATUS", "AGE", "ACCOUNT")
    cells = [[_age(r[c]) if c == "ageSeconds" else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(heads)]
    lines = [heads, *cells]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
