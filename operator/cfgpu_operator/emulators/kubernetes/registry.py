"""The resource types the emulated API server serves: built-ins and those CRDs register."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    custom: bool = False
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Where objects live: shared by every version of one resource."""
        return (self.group, self.plural)

    @property
    def group_resource(self) -> str:
        """``plural.group`` as error messages name a resource (``namespaces`` for core)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Kind.group`` as the Invalid error names a custom resource."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


def _builtin(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool,
    short: tuple[str, ...] = (),
    status: bool = False,
) -> ResourceType:
    return ResourceType(
        group, version, kind, plural, kind.lower(), namespaced, short, status_subresource=status
    )


BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "Namespace", "namespaces", False, ("ns",), status=True),
    _builtin("", "v1", "Event", "events", True, ("ev",)),
    _builtin("", "v1", "Secret", "secrets", True),
    _builtin("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    _builtin("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    _builtin("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
    _builtin("coordination.k8s.io", "v1", "Lease", "leases", True),
    # What `helm install` of the project's chart creates: stored, no controller acts on them.
    _builtin("", "v1", "Service", "services", True, ("svc",), status=True),
    _builtin("", "v1", "Pod", "pods", True, ("po",), status=True),
    _builtin("apps", "v1", "Deployment", "deployments", True, ("deploy",), status=True),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    _builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _builtin("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    _builtin(
        "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), status=True
    ),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        status=True,
    ),
)


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a CustomResourceDefinition."""
    spec = crd["spec"]
    names = spec["names"]
    kinds = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        kinds.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames", [])),
                categories=tuple(names.get("categories", [])),
                status_subresource="status" in (version.get("subresources") or {}),
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                custom=True,
                printer_columns=tuple(version.get("additionalPrinterColumns", [])),
            )
        )
    return kinds


class Registry:
    """Resource types by (group, version, plural), in registration order."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for kind in BUILTINS:
            self.add(kind)

    def add(self, kind: ResourceType) -> None:
        self._types[(kind.group, kind.version, kind.plural)] = kind

    def remove_resource(self, group: str, plural: str) -> None:
        for key in [k for k in self._types if (k[0], k[2]) == (group, plural)]:
            del self._types[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types.values()))

    def versions(self, group: str) -> list[str]:
        """Served versions of a group, the preferred (first registered) first."""
        seen: list[str] = []
        for kind in self:
            if kind.group == group and kind.version not in seen:
                seen.append(kind.version)
        return seen

    def groups(self) -> list[str]:
        """Named groups (not core), in registration order."""
        seen: list[str] = []
        for kind in self:
            if kind.group and kind.group not in seen:
                seen.append(kind.group)
        return seen
