"""Server-side printing: ``kubectl get`` asks for a Table built from additionalPrinterColumns."""

from __future__ import annotations

import re
from typing import Any

from cfgpu_operator.emulators.kubernetes.printers import PRINTERS, since
from cfgpu_operator.emulators.kubernetes.registry import ResourceType

NAME_COLUMN = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "priority": 0,
    "description": "Name must be unique within a namespace.",
}
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
_STEP = re.compile(
    r"""\.([A-Za-z0-9_\-]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_\-.]+)\s*==\s*["']([^"']*)["']\)\]"""
)


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def jsonpath(obj: Any, path: str) -> list[Any]:
    """The values at a kubectl-style JSONPath: ``.a.b``, ``[0]``, ``[*]``, ``[?(@.k=="v")]``."""
    current = [obj]
    text = path.strip().removeprefix("{").removesuffix("}").removeprefix("$")
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            return []
        key, index, filter_key, filter_value = match.groups()
        current = _step(current, key, index, filter_key, filter_value)
        position = match.end()
    return [value for value in current if value is not None]


def _step(
    values: list[Any],
    key: str | None,
    index: str | None,
    filter_key: str | None,
    filter_value: str | None,
) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if key is not None and isinstance(value, dict):
            out.append(value.get(key))
        elif index is not None and isinstance(value, list):
            out += value if index == "*" else value[int(index) : int(index) + 1]
        elif filter_key is not None and isinstance(value, list):
            out += [
                item
                for item in value
                if isinstance(item, dict) and str(_dig(item, filter_key)) == filter_value
            ]
    return out


def _dig(item: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        item = item.get(part) if isinstance(item, dict) else None  # type: ignore[assignment]
    return item


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration, as the AGE column shows it."""
    s = int(seconds)
    if s < 0:
        return "0s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    years = days // 365
    if years < 2:
        return f"{days}d"
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def _cell(column: dict[str, Any], obj: dict[str, Any], now: float) -> Any:
    found = jsonpath(obj, column.get("jsonPath", ""))
    if not found:
        return None
    value = found[0]
    if column.get("type") == "date" and isinstance(value, str):
        return since(value, now, human_duration) or value  # not a time: shown as it is
    return value


def table(
    kind: ResourceType, items: list[dict[str, Any]], resource_version: str, now: float
) -> dict[str, Any]:
    printer = PRINTERS.get(kind.key)
    if printer is not None:
        definitions, row = printer
        cells = [row(obj, now, human_duration) for obj in items]
        return _table(definitions, items, cells, resource_version)
    columns = list(kind.printer_columns) or [AGE_COLUMN]
    definitions = [NAME_COLUMN] + [
        {
            "name": c["name"],
            "type": c.get("type", "string"),
            "format": c.get("format", ""),
            "description": c.get("description", ""),
            "priority": c.get("priority", 0),
        }
        for c in columns
    ]
    cells = [[obj["metadata"]["name"]] + [_cell(c, obj, now) for c in columns] for obj in items]
    return _table(definitions, items, cells, resource_version)


def _table(
    definitions: list[dict[str, Any]],
    items: list[dict[str, Any]],
    cells: list[list[Any]],
    resource_version: str,
) -> dict[str, Any]:
    rows = [
        {
            "cells": row,
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            },
        }
        for obj, row in zip(items, cells, strict=True)
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": rows,
    }
