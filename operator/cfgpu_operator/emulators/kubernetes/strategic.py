"""Strategic merge patch of built-in kinds (what `kubectl apply` and a client-side Helm
upgrade send for a Deployment): lists whose schema says ``x-kubernetes-patch-strategy:
merge`` are merged item by item on their ``x-kubernetes-patch-merge-key`` instead of
replaced, and the patch's directives (``$patch``, ``$setElementOrder/``,
``$deleteFromPrimitiveList/``, ``$retainKeys``) are obeyed rather than stored as fields.
"""

from __future__ import annotations

import copy
from typing import Any

from cfgpu_operator.emulators.kubernetes import builtin_schemas as schemas

Obj = dict[str, Any]
ORDER, DELETE_FROM = "$setElementOrder/", "$deleteFromPrimitiveList/"


def patch(original: Obj, change: Obj, schema: Obj | None) -> Obj:
    merged = _merge(original, change, schema)
    return merged if isinstance(merged, dict) else {}


def _merge(original: Any, change: Any, schema: Obj | None) -> Any:
    if not isinstance(change, dict):
        return copy.deepcopy(change)
    if not isinstance(original, dict):
        original = {}
    directive = change.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in change.items() if k != "$patch"}
    if directive == "delete":
        return None
    out = copy.deepcopy(original)
    for key, value in change.items():
        if key.startswith("$"):
            continue
        sub = schemas.field(schema, key)
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list) and _merges(sub):
            out[key] = _merge_list(out.get(key) or [], value, sub)
        else:
            merged = _merge(out.get(key), value, sub)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
    _directives(out, change, schema)
    return out


def _directives(out: Obj, change: Obj, schema: Obj | None) -> None:
    for key, value in change.items():
        if key.startswith(DELETE_FROM) and isinstance(out.get(key[len(DELETE_FROM) :]), list):
            name = key[len(DELETE_FROM) :]
            out[name] = [v for v in out[name] if v not in value]
        elif key.startswith(ORDER) and isinstance(out.get(key[len(ORDER) :]), list):
            name = key[len(ORDER) :]
            merge_key = (schemas.field(schema, name) or {}).get("x-kubernetes-patch-merge-key")
            out[name] = _ordered(out[name], value, merge_key)
    retain = change.get("$retainKeys")
    if isinstance(retain, list):
        for key in [k for k in out if k not in retain]:
            del out[key]


def _merges(schema: Obj | None) -> bool:
    return "merge" in str((schema or {}).get("x-kubernetes-patch-strategy", "")).split(",")


def _merge_list(original: list[Any], change: list[Any], schema: Obj | None) -> list[Any]:
    key = (schema or {}).get("x-kubernetes-patch-merge-key")
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in change):
        return [copy.deepcopy(i) for i in change if not (isinstance(i, dict) and "$patch" in i)]
    if key is None:  # a list of primitives: the union, in order
        return [*original, *(v for v in change if v not in original)]
    out = copy.deepcopy(original)
    element = schemas.items(schema)
    for item in change:
        if not isinstance(item, dict):
            continue
        index = next(
            (
                i
                for i, old in enumerate(out)
                if isinstance(old, dict) and old.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
        elif index is None:
            out.append({k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("$")})
        else:
            out[index] = _merge(out[index], item, element)
    return out


def _ordered(values: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(v: Any) -> Any:
        return v.get(key) if key and isinstance(v, dict) else v

    wanted = [ident(o) for o in order]
    first = sorted((v for v in values if ident(v) in wanted), key=lambda v: wanted.index(ident(v)))
    return first + [v for v in values if ident(v) not in wanted]
