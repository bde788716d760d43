"""Turn a request path into what it addresses: discovery, a collection, an object."""

from __future__ import annotations

from dataclasses import dataclass

from cfgpu_operator.emulators.kubernetes.registry import Registry, ResourceType
from cfgpu_operator.emulators.kubernetes.status import path_not_found

SUBRESOURCES = ("status",)


@dataclass(frozen=True)
class Discovery:
    what: str  # version, core, core-resources, groups, group, group-resources, health,
    # openapi, openapi-group
    group: str = ""
    version: str = ""


@dataclass(frozen=True)
class Target:
    kind: ResourceType
    namespace: str | None  # None: cluster-scoped, or every namespace for a list
    name: str | None = None
    subresource: str | None = None


def parse(registry: Registry, path: str) -> Discovery | Target:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["openapi", "v3"]:
        if len(parts) == 2:
            return Discovery("openapi")
        if len(parts) == 5 and parts[2] == "apis":
            return Discovery("openapi-group", parts[3], parts[4])
        if len(parts) == 4 and parts[2] == "api":
            return Discovery("openapi-group", "", parts[3])
        raise path_not_found()
    if parts in (["version"], ["healthz"], ["livez"], ["readyz"]):
        return Discovery("version" if parts == ["version"] else "health")
    if parts[:1] == ["api"]:
        if len(parts) == 1:
            return Discovery("core")
        if len(parts) == 2 and parts[1] == "v1":
            return Discovery("core-resources", "", "v1")
        if parts[1] == "v1":
            return _resource(registry, "", "v1", parts[2:])
    if parts[:1] == ["apis"]:
        if len(parts) == 1:
            return Discovery("groups")
        if len(parts) == 2:
            return Discovery("group", parts[1])
        if len(parts) == 3:
            return Discovery("group-resources", parts[1], parts[2])
        return _resource(registry, parts[1], parts[2], parts[3:])
    raise path_not_found()


def _resource(registry: Registry, group: str, version: str, rest: list[str]) -> Target:
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        scoped = registry.get(group, version, rest[2])
        if scoped is not None and scoped.namespaced:
            namespace, rest = rest[1], rest[2:]
    if not 1 <= len(rest) <= 3:
        raise path_not_found()
    kind = registry.get(group, version, rest[0])
    if kind is None or (kind.namespaced is False and namespace is not None):
        raise path_not_found()
    subresource = rest[2] if len(rest) == 3 else None
    if subresource is not None and not (subresource == "status" and kind.status_subresource):
        raise path_not_found()
    return Target(kind, namespace, rest[1] if len(rest) >= 2 else None, subresource)
