"""Schemas of the built-in kinds, from the PyPI package kubernetes-validate (JSON schemas of
Kubernetes' own OpenAPI, per release): a built-in object is checked as a real server decodes
and validates it, for the fields a schema can say (types, required fields, unknown fields).

The package is an optional dependency of the emulators (the ``emulators`` extra, and ``dev``);
without it built-ins are stored unchecked. One validator per kind is built on first use and
kept: building it (reading 1.5 MB of definitions) is what costs, checking an object is cheap.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from cfgpu_operator.emulators.kubernetes.status import FieldError

SCHEMAS = "kubernetes-json-schema/v1.35.0-local-strict"
DOCUMENTED = "kubernetes-json-schema/v1.35.0-local"  # no additionalProperties: false
REF = "#/$defs/"  # references between definitions, inside their file
AVAILABLE = importlib.util.find_spec("kubernetes_validate") is not None
_QUOTED = re.compile(r"'([^']*)'")


@dataclass(frozen=True)
class Problems:
    unknown: list[str]  # dotted paths of fields the kind does not have
    errors: list[FieldError]  # the rest, as a server's field errors


def _file(name: str, where: str = SCHEMAS) -> Any:
    return json.loads(
        resources.files("kubernetes_validate").joinpath(f"{where}/{name}").read_text()
    )


@cache
def _definitions() -> Any:
    """Every kind's shared definitions, crawled once: an uncrawled registry crawls all of
    them again on every $ref (90 ms an object instead of 0.3)."""
    from referencing import Registry, Resource

    definitions = Resource.from_contents(_file("_definitions.json"))
    return Registry().with_resource("_definitions.json", definitions).crawl()


@cache
def _validator(group: str, version: str, kind: str) -> Any:
    """A validator for one kind, or None when the package has no schema for it."""
    if not AVAILABLE:
        return None
    import jsonschema
    from referencing import Resource

    prefix = f"{group.split('.')[0]}-" if group else ""
    try:
        schema = _file(f"{kind.lower()}-{prefix}{version}.json")
    except FileNotFoundError:
        return None
    registry = _definitions().with_resource("", Resource.from_contents(schema)).crawl()
    return jsonschema.Draft202012Validator(schema, registry=registry)


def check(kind: ResourceType, obj: dict[str, Any]) -> Problems:
    """What is wrong with a built-in object (nothing, for a kind without a schema)."""
    validator = _validator(kind.group, kind.version, kind.kind)
    if validator is None:
        return Problems([], [])
    body = {**obj, "apiVersion": kind.api_version, "kind": kind.kind}
    unknown: list[str] = []
    errors: list[FieldError] = []
    for error in validator.iter_errors(body):
        where = _printed(error.absolute_path)
        if error.validator == "additionalProperties":
            extra = _QUOTED.findall(error.message.split(" were unexpected")[0])
            unknown += [f"{where}.{name}" if where else name for name in extra]
        elif error.validator == "required":
            missing = _QUOTED.findall(error.message)[:1] or ["?"]
            errors.append(FieldError("Required", f"{where}.{missing[0]}".lstrip(".")))
        else:
            errors.append(FieldError("Invalid", where, error.instance, error.message))
    return Problems(sorted(unknown), errors)


def _printed(path: Any) -> str:
    """A path as the server prints it: ``spec.containers[0].image``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".")


def openapi(kind: ResourceType) -> tuple[str, dict[str, Any]] | None:
    """The kind's OpenAPI v3 schema name and every component it needs (for `kubectl
    explain`), or None without the package. Shared: callers must not change them."""
    if not AVAILABLE:
        return None
    name = _by_gvk().get((kind.group, kind.version, kind.kind))
    return None if name is None else (name, _closure(name))


@cache
def _definitions_documented() -> dict[str, Any]:
    found: dict[str, Any] = _file("_definitions.json", DOCUMENTED)["$defs"]
    return found


@cache
def _by_gvk() -> dict[tuple[str, str, str], str]:
    out = {}
    for name, schema in _definitions_documented().items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            out[(gvk.get("group", ""), gvk["version"], gvk["kind"])] = name
    return out


@cache
def _closure(name: str) -> dict[str, Any]:
    """``name`` and every definition it refers to, as OpenAPI v3 components."""
    definitions, out, todo = _definitions_documented(), {}, [name]
    while todo:
        current = todo.pop()
        if current in out or current not in definitions:
            continue
        refs: list[str] = []
        out[current] = _component(definitions[current], refs)
        todo += refs
    return out


def _component(node: Any, refs: list[str]) -> Any:
    """JSON schema -> OpenAPI v3: component references, one type (no "null")."""
    if isinstance(node, list):
        return [_component(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(REF):
            refs.append(value.removeprefix(REF))
            out["$ref"] = "#/components/schemas/" + value.removeprefix(REF)
        elif key == "type" and isinstance(value, list):
            out["type"] = next((t for t in value if t != "null"), "object")
        elif key not in ("$schema", "$id"):
            out[key] = _component(value, refs)
    if "$ref" in out and len(out) > 1:  # OpenAPI 3.0 ignores a $ref's siblings
        return {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out


def root(kind: ResourceType) -> dict[str, Any] | None:
    """Kubernetes' schema of a built-in kind (with its patch strategies), or None."""
    if not AVAILABLE:
        return None
    name = _by_gvk().get((kind.group, kind.version, kind.kind))
    found: dict[str, Any] | None = _definitions_documented().get(name) if name else None
    return found


def field(schema: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """The schema of ``key`` inside ``schema``, references followed; for a list, the list's
    own schema (``items`` is its element)."""
    found = _resolved(((schema or {}).get("properties") or {}).get(key))
    if found is None:
        extra = (schema or {}).get("additionalProperties")
        found = _resolved(extra) if isinstance(extra, dict) else None
    return found


def items(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    return _resolved((schema or {}).get("items"))


def _resolved(node: Any) -> dict[str, Any] | None:
    if not isinstance(node, dict):
        return None
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF):
        target = _definitions_documented().get(ref.removeprefix(REF)) or {}
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node
