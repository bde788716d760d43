"""`cfgpu-operator plan -f FILE`: the plan of GpuInstance documents, as a table or JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from cfgpu_operator.catalog_cli import table


@click.command()
@click.option(
    "-f",
    "--filename",
    "source",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help="YAML with one or more GpuInstance documents; - reads stdin.",
)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
def plan(source: Any, output: str) -> None:
    """What applying GpuInstances would do, renting nothing: offers, quotas, hourly cost.

    Exits 1 when one of them could not be rented now."""
    import yaml

    from cfgpu_operator.handlers.plan import PlanError
    from cfgpu_operator.handlers.plan import plan as make_plan
    from cfgpu_operator.settings import SettingsError, load_settings

    try:
        documents = [d for d in yaml.safe_load_all(source) if d]
        plans = asyncio.run(make_plan(load_settings(), documents))
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{source.name} is not YAML: {exc}") from None
    except (PlanError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    if output == "json":
        click.echo(json.dumps(plans, ensure_ascii=False, indent=2))
    else:
        click.echo(_plan_text(plans))
    if not plans or not all(p["ok"] for p in plans):
        sys.exit(1)


def _plan_text(plans: list[dict[str, Any]]) -> str:
    if not plans:
        return "no GpuInstance in the input"
    blocks = []
    for p in plans:
        what = f"{p.get('gpus', '?')} GPU(s), image {p.get('image') or '-'}"
        lines = [f"GpuInstance {p['namespace']}/{p['name']}: {what}"]
        rows = [
            {
                "offer": o["offer"],
                "resolved": o["resolved"] or "-",
                "cost/h": f"{o['costPerHour']} CNY" if o["costPerHour"] else "-",
                "problem": o["problem"] or "",
            }
            for o in p.get("offers", [])
        ]
        if rows:
            lines.append(table(rows))
        quotas = p.get("quotas") or {}
        if quotas and not quotas["checked"]:
            lines.append(f"quotas not checked: {quotas['why']}")
        for q in quotas.get("limits", []):
            verdict = "allows it" if q["allows"] else "does not allow it now"
            allowed = "-" if q["maxGpus"] is None else q["maxGpus"]
            used = q["usedUp"] or f"{q['usedGpus']}/{allowed} GPUs in use"
            lines.append(f"GpuQuota {q['name']}: {used}, {verdict}")
        lines.append("=> can be rented now" if p["ok"] else "=> " + "; ".join(p["problems"]))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
