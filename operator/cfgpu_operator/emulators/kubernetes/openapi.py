"""The OpenAPI v3 documents kubectl reads (`/openapi/v3`, `/openapi/v3/api/v1` and
`/openapi/v3/apis/<group>/<version>`): `kubectl explain`, and `kubectl apply`'s check that
the server validates fields itself (a PATCH operation with a `fieldValidation` parameter).

A CRD's schema is its structural schema with apiVersion, kind and metadata added, as the API
server does; a built-in kind gets Kubernetes' own schema (from kubernetes-validate, see
builtin_schemas), or an open one without that package.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cfgpu_operator.emulators.kubernetes import builtin_schemas
from cfgpu_operator.emulators.kubernetes.registry import Registry, ResourceType

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _documented(registry: Registry) -> dict[tuple[str, str], list[ResourceType]]:
    found: dict[tuple[str, str], list[ResourceType]] = {}
    for kind in registry:
        found.setdefault((kind.group, kind.version), []).append(kind)
    return found


def _relative(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def index(registry: Registry) -> dict[str, Any]:
    paths = {}
    for group, version in sorted(_documented(registry)):
        doc = document(registry, group, version)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
        relative = _relative(group, version)
        paths[relative] = {"serverRelativeURL": f"/openapi/v3/{relative}?hash={digest.upper()}"}
    return {"paths": paths}


def document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    kinds = _documented(registry).get((group, version))
    if not kinds:
        return None
    schemas: dict[str, Any] = {OBJECT_META: {"type": "object", "description": _META}}
    paths: dict[str, Any] = {}
    for kind in kinds:
        known = None if kind.custom else builtin_schemas.openapi(kind)
        if known is not None:  # Kubernetes' own schema of a built-in, with what it uses
            schemas.update(known[1])
        else:
            schemas[_name(kind)] = _kind_schema(kind)
        name = known[0] if known is not None else _name(kind)
        paths[_object_path(kind)] = {"get": _read(kind, name), "patch": _patch(kind, name)}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _object_path(kind: ResourceType) -> str:
    scope = "namespaces/{namespace}/" if kind.namespaced else ""
    return f"/{_relative(kind.group, kind.version)}/{scope}{kind.plural}/{{name}}"


def _response(name: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{name}"}
    return {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}


def _read(kind: ResourceType, name: str) -> dict[str, Any]:
    """What kubectl explain looks at: an object's GVK and response schema."""
    return {
        "operationId": f"read{kind.kind}",
        "x-kubernetes-action": "get",
        "x-kubernetes-group-version-kind": _gvk(kind),
        "responses": _response(name),
    }


def _patch(kind: ResourceType, name: str) -> dict[str, Any]:
    """What kubectl apply looks at: whether the server validates fields (kubectl then sends
    fieldValidation=Strict instead of validating against a schema of its own)."""
    parameter = {
        "name": "fieldValidation",
        "in": "query",
        "description": _FIELD_VALIDATION,
        "schema": {"type": "string", "uniqueItems": True},
    }
    return {
        "operationId": f"patch{kind.kind}",
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": _gvk(kind),
        "parameters": [parameter],
        "responses": _response(name),
    }


def _gvk(kind: ResourceType) -> dict[str, str]:
    return {"group": kind.group, "kind": kind.kind, "version": kind.version}


def _name(kind: ResourceType) -> str:
    prefix = ".".join(reversed(kind.group.split("."))) if kind.group else "io.k8s.api.core"
    return f"{prefix}.{kind.version}.{kind.kind}"


def _kind_schema(kind: ResourceType) -> dict[str, Any]:
    if kind.custom and kind.schema is not None:
        schema: dict[str, Any] = json.loads(json.dumps(kind.schema))  # a deep copy
    else:
        schema = {
            "type": "object",
            "description": f"{kind.kind}: the emulator holds no schema for built-in kinds.",
            "x-kubernetes-preserve-unknown-fields": True,
        }
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string", "description": _API_VERSION}
    properties["kind"] = {"type": "string", "description": _KIND}
    properties["metadata"] = {
        "allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}],
        "description": "Standard object's metadata.",
    }
    schema["x-kubernetes-group-version-kind"] = [_gvk(kind)]
    return schema


_META = "ObjectMeta is metadata that all persisted resources must have."
_API_VERSION = "APIVersion defines the versioned schema of this representation of an object."
_KIND = "Kind is a string value representing the REST resource this object represents."
_FIELD_VALIDATION = (
    "How the server treats fields it does not know: Ignore, Warn (the default) or Strict."
)
