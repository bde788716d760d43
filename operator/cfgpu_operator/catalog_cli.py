"""`cfgpu-operator catalog`: what CFGPU offers, for writing GpuInstance specs, and the
Primus-SaFE workspaces a key may use, for writing SafeWorkload specs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click

from cfgpu_operator.clients.catalog import PATH_SEPARATOR
from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.cfgpu_wire import AdaptType, SystemImageNode
from cfgpu_operator.clients.http import ClientOptions
from cfgpu_operator.clients.safe import SafeClient
from cfgpu_operator.errors import ApiError
from cfgpu_operator.settings import Settings, SettingsError, load_settings


def _leaves(nodes: list[SystemImageNode], prefix: str = "") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for node in nodes:
        path = f"{prefix}{PATH_SEPARATOR}{node.name}" if prefix else node.name
        if node.children:
            rows += _leaves(node.children, path)
        elif node.code:
            rows.append(_image(node.code, "system", path, node.sys_disk_limit_min_size))
    return rows


def _image(code: str, source: str, name: str, min_disk: int) -> dict[str, Any]:
    # The minimum system disk (GB) tells whether disks.systemExpandGB must grow for it.
    return {"id": code, "source": source, "name": name, "minSystemDiskGB": min_disk}


async def _workspaces(settings: Settings) -> list[dict[str, Any]]:
    token, url = settings.SAFE_API_TOKEN, settings.SAFE_API_URL
    if token is None or url is None:
        raise click.ClickException("SAFE_API_URL and SAFE_API_TOKEN must be set")
    options = ClientOptions.from_settings(settings)
    async with SafeClient(token, base_url=str(url), options=options) as client:
        rows = []
        for listed in await client.list_workspaces():
            # Only the workspace's own GET has its free quota.
            free = (await client.get_workspace(listed.workspace_id)).avail_quota
            rows.append(
                {
                    "id": listed.workspace_id,
                    "name": listed.workspace_name,
                    "phase": listed.phase,
                    "scopes": ",".join(listed.scopes),
                    "freeGpus": _gpus(free),
                    "freeCpu": free.get("cpu", 0),
                    "freeMemoryGi": free.get("memory", 0) // 1024**3,
                }
            )
        return rows


def _gpus(quota: dict[str, int]) -> int:
    """GPUs under whichever vendor's resource name the cluster uses (amd.com/gpu, ...)."""
    return sum(v for k, v in quota.items() if k.endswith("/gpu"))


async def _fetch(settings: Settings, what: str, adapt: AdaptType) -> list[dict[str, Any]]:
    if what == "workspaces":
        return await _workspaces(settings)
    token = settings.CFGPU_API_TOKEN
    if token is None:
        raise click.ClickException("CFGPU_API_TOKEN is not set")
    async with CfgpuClient(
        token, base_url=str(settings.CFGPU_API_URL), options=ClientOptions.from_settings(settings)
    ) as client:
        if what == "regions":
            return [{"code": r.code, "name": r.name} for r in await client.list_regions()]
        if what == "gpus":
            return [{"code": g.code, "name": g.name} for g in await client.list_gpu_types()]
        rows = _leaves(await client.list_system_images(adapt))
        rows += [
            _image(i.code, "private", i.name, i.sys_disk_limit_min_size)
            for i in await client.list_private_images(adapt)
        ]
        return rows


def table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


@click.command()
@click.argument(
    "what", type=click.Choice(["regions", "gpus", "images", "workspaces"]), default="gpus"
)
@click.option(
    "--adapt-type",
    type=click.Choice(["CONTAINER", "VM"]),
    default="CONTAINER",
    show_default=True,
    help="For images: container or VM images.",
)
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def catalog(what: str, adapt_type: AdaptType, output: str) -> None:
    """List CFGPU regions, GPU types or images (uses CFGPU_API_URL and CFGPU_API_TOKEN), or
    the Primus-SaFE workspaces a key may use, with their scopes and free quota (uses
    SAFE_API_URL and SAFE_API_TOKEN)."""
    try:
        settings = load_settings()
        rows = asyncio.run(_fetch(settings, what, adapt_type))
    except (SettingsError, ApiError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2) if output == "json" else table(rows))
