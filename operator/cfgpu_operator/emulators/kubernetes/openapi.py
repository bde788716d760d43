"""The OpenAPI v3 documents of the custom resources, as kubectl explain and kubectl's
client-side validation read them (`/openapi/v3` and `/openapi/v3/apis/<group>/<version>`).

Built-in kinds are not described (the emulator has no schemas for them); a CRD's document
is its structural schema with apiVersion, kind and metadata added, as the API server does.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cfgpu_operator.emulators.kubernetes.registry import Registry, ResourceType

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _documented(registry: Registry) -> dict[tuple[str, str], list[ResourceType]]:
    found: dict[tuple[str, str], list[ResourceType]] = {}
    for kind in registry:
        if kind.custom and kind.schema is not None:
            found.setdefault((kind.group, kind.version), []).append(kind)
    return found


def index(registry: Registry) -> dict[str, Any]:
    paths = {}
    for (group, version), _ in sorted(_documented(registry).items()):
        doc = document(registry, group, version)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
        url = f"/openapi/v3/apis/{group}/{version}?hash={digest.upper()}"
        paths[f"apis/{group}/{version}"] = {"serverRelativeURL": url}
    return {"paths": paths}


def document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    kinds = _documented(registry).get((group, version))
    if not kinds:
        return None
    schemas: dict[str, Any] = {OBJECT_META: {"type": "object", "description": _META}}
    paths: dict[str, Any] = {}
    for kind in kinds:
        schemas[_name(kind)] = _kind_schema(kind)
        paths[_object_path(kind)] = {"get": _read_operation(kind)}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _object_path(kind: ResourceType) -> str:
    scope = "namespaces/{namespace}/" if kind.namespaced else ""
    return f"/apis/{kind.group}/{kind.version}/{scope}{kind.plural}/{{name}}"


def _read_operation(kind: ResourceType) -> dict[str, Any]:
    """The one operation kubectl looks at: reading an object (its GVK and response schema)."""
    ref = {"$ref": f"#/components/schemas/{_name(kind)}"}
    return {
        "operationId": f"read{kind.kind}",
        "x-kubernetes-action": "get",
        "x-kubernetes-group-version-kind": _gvk(kind),
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": ref}}}
        },
    }


def _gvk(kind: ResourceType) -> dict[str, str]:
    return {"group": kind.group, "kind": kind.kind, "version": kind.version}


def _name(kind: ResourceType) -> str:
    reversed_group = ".".join(reversed(kind.group.split(".")))
    return f"{reversed_group}.{kind.version}.{kind.kind}"


def _kind_schema(kind: ResourceType) -> dict[str, Any]:
    schema = json.loads(json.dumps(kind.schema))  # a deep copy
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string", "description": _API_VERSION}
    properties["kind"] = {"type": "string", "description": _KIND}
    properties["metadata"] = {
        "allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}],
        "description": "Standard object's metadata.",
    }
    schema["x-kubernetes-group-version-kind"] = [_gvk(kind)]
    return dict(schema)


_META = "ObjectMeta is metadata that all persisted resources must have."
_API_VERSION = "APIVersion defines the versioned schema of this representation of an object."
_KIND = "Kind is a string value representing the REST resource this object represents."
