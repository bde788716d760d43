"""Server-side apply: field ownership per manager, conflicts, and the merge of an applied
configuration (a subset of structured-merge-diff, the library the API server uses).

A field is a path of fieldsV1 segments (``f:spec``, ``f:size``; ``k:{"name":"a"}`` for an
item of a list of ``x-kubernetes-list-type: map``). Ownership is stored where a real server
keeps it, in ``metadata.managedFields`` (``fieldsType: FieldsV1``), and read back from there.
Lists are atomic unless their schema makes them a map by keys.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]
Path = tuple[str, ...]
# Metadata an applier may own; the rest of metadata is the server's or the URL's.
OWNED_METADATA = ("labels", "annotations", "finalizers", "ownerReferences")


def _item_schema(schema: Obj | None, key: str) -> Obj | None:
    if not schema:
        return None
    props = schema.get("properties") or {}
    if key in props:
        return dict(props[key])
    extra = schema.get("additionalProperties")
    return dict(extra) if isinstance(extra, dict) else None


def _map_keys(schema: Obj | None) -> list[str] | None:
    """The keys of a list that is a map (``x-kubernetes-list-type: map``), else None."""
    if schema and schema.get("x-kubernetes-list-type") == "map":
        return list(schema.get("x-kubernetes-list-map-keys") or [])
    return None


def _key_segment(item: Any, keys: list[str]) -> str:
    found = {k: item.get(k) for k in keys} if isinstance(item, dict) else {}
    return "k:" + json.dumps(found, separators=(",", ":"), sort_keys=True)


def leaves(obj: Obj, schema: Obj | None) -> set[Path]:
    """The fields an applied configuration sets (apiVersion, kind and server-set metadata
    are not fields anyone owns)."""
    out: set[Path] = set()
    meta = obj.get("metadata") or {}
    for key in OWNED_METADATA:
        if key in meta:
            out |= set(_walk(meta[key], None, ("f:metadata", f"f:{key}"), key != "finalizers"))
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    out |= set(_walk(body, schema, (), True))
    return out


def _walk(value: Any, schema: Obj | None, at: Path, maps: bool) -> Iterator[Path]:
    if isinstance(value, dict) and value and maps:
        for key, sub in value.items():
            yield from _walk(sub, _item_schema(schema, key), (*at, f"f:{key}"), True)
        return
    keys = _map_keys(schema)
    if isinstance(value, list) and keys:
        items = (schema or {}).get("items")
        for item in value:
            yield from _walk(item, items, (*at, _key_segment(item, keys)), True)
        return
    if at:
        yield at


def owned(entry: Obj) -> set[Path]:
    """The fields a managedFields entry owns."""
    out: set[Path] = set()

    def visit(node: Obj, at: Path) -> None:
        children = {k: v for k, v in node.items() if k != "."}
        if not children:
            out.add(at)
        for key, sub in children.items():
            visit(sub if isinstance(sub, dict) else {}, (*at, key))

    visit(entry.get("fieldsV1") or {}, ())
    out.discard(())
    return out


def fields_v1(paths: set[Path]) -> Obj:
    tree: Obj = {}
    for path in sorted(paths):
        node = tree
        for segment in path:
            node = node.setdefault(segment, {})
    return tree


def value_at(obj: Any, path: Path) -> Any:
    node = obj
    for segment in path:
        if segment.startswith("f:") and isinstance(node, dict):
            node = node.get(segment[2:])
        elif segment.startswith("k:") and isinstance(node, list):
            wanted = json.loads(segment[2:])
            node = next(
                (
                    i
                    for i in node
                    if isinstance(i, dict) and all(i.get(k) == v for k, v in wanted.items())
                ),
                None,
            )
        else:
            return None
    return node


def merge(current: Any, applied: Any, schema: Obj | None) -> Any:
    """The applied configuration laid over the current object."""
    if isinstance(current, dict) and isinstance(applied, dict):
        out = copy.deepcopy(current)
        for key, value in applied.items():
            out[key] = merge(current.get(key), value, _item_schema(schema, key))
        return out
    keys = _map_keys(schema)
    if keys and isinstance(current, list) and isinstance(applied, list):
        items = (schema or {}).get("items")
        out_list = copy.deepcopy(current)
        for item in applied:
            segment = _key_segment(item, keys)
            index = next(
                (i for i, old in enumerate(out_list) if _key_segment(old, keys) == segment), None
            )
            if index is None:
                out_list.append(copy.deepcopy(item))
            else:
                out_list[index] = merge(out_list[index], item, items)
        return out_list
    return copy.deepcopy(applied)


def remove(obj: Obj, path: Path) -> None:
    """Delete the field at ``path`` (a field the applier stopped setting, that no one else
    owns)."""
    parent = value_at(obj, path[:-1])
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        item = value_at(parent, (last,))
        if item is not None:
            parent.remove(item)


def path_text(path: Path) -> str:
    """A field path as the API server prints it: ``.spec.ports[name="a"].port``."""
    out = ""
    for segment in path:
        if segment.startswith("k:"):
            keys = json.loads(segment[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
        else:
            out += "." + segment[2:]
    return out


def entry(manager: str, api_version: str, paths: set[Path], time: str) -> Obj:
    return {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(paths),
    }


def conflicts(
    current: Obj, applied: Obj, fields: set[Path], others: list[Obj]
) -> list[tuple[Obj, Path]]:
    """Fields the applier sets to another value than the one a different manager set."""
    found = []
    for other in others:
        for path in sorted(owned(other) & fields):
            if value_at(current, path) != value_at(applied, path):
                found.append((other, path))
    return found


def conflict_message(found: list[tuple[Obj, Path]]) -> str:
    def who(e: Obj) -> str:
        return f'"{e.get("manager", "")}" using {e.get("apiVersion", "")}'

    if len(found) == 1:
        other, path = found[0]
        return f"Apply failed with 1 conflict: conflict with {who(other)}: {path_text(path)}"
    lines = []
    for manager in sorted({who(e) for e, _ in found}):
        lines.append(f"conflicts with {manager}:")
        lines += [f"- {path_text(p)}" for e, p in found if who(e) == manager]
    return f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)


def give_up(others: list[Obj], taken: set[Path]) -> list[Obj]:
    """Other managers' entries once a forced apply took ``taken`` from them; an entry left
    owning nothing is dropped."""
    out = []
    for other in others:
        kept = owned(other) - taken
        if kept:
            out.append({**other, "fieldsV1": fields_v1(kept)})
    return out
