"""The emulated Primus-SaFE's data: users and keys, workspaces, nodes, workloads (CR + DB)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

GI = 1024**3
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
# Kinds with their scope and the displayName length budget N of ^[a-z][-a-z0-9]{0,N}[a-z0-9]$.
KINDS: dict[str, tuple[str, int]] = {
    "PyTorchJob": ("Train", 44),
    "Authoring": ("Authoring", 44),
    "Deployment": ("Infer", 40),
    "StatefulSet": ("Infer", 40),
    "TorchFT": ("Train", 36),
    "RayJob": ("Ray", 36),
    "AutoscalingRunnerSet": ("CICD", 39),
    "MonarchJob": ("Train", 48),
    "Sandbox": ("Sandbox", 57),
    "DynamoDeployment": ("Infer", 57),
    "InferaDeployment": ("Infer", 57),
}
APPLICATION_KINDS = frozenset({"Deployment", "StatefulSet", "DynamoDeployment", "InferaDeployment"})
# Kinds behind a feature switch: 501 Primus.00007 while it is off.
FEATURE_KINDS = frozenset({"MonarchJob", "Sandbox"})
NO_RETRY_KINDS = frozenset({"Deployment", "StatefulSet", "Authoring"})


class SafeError(Exception):
    """An error answer: HTTP status, errorCode (Primus.* or a raw Kubernetes reason), message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def bad_request(detail: str) -> SafeError:
    return SafeError(400, "Primus.00002", f"Bad request. {detail}")


def internal(detail: str) -> SafeError:
    return SafeError(500, "Primus.00001", f"Internal error. {detail}")


@dataclass
class User:
    id: str
    name: str
    admin: bool = False
    workspaces: set[str] = field(default_factory=set)
    managed: set[str] = field(default_factory=set)

    def member(self, workspace_id: str) -> bool:
        return self.admin or workspace_id in self.workspaces or workspace_id in self.managed


@dataclass
class Workspace:
    id: str
    name: str
    cluster_id: str = "cluster-a"
    scopes: tuple[str, ...] = ("Train", "Infer", "Authoring")
    node_count: int = 2
    # Per node: what one pod may ask for at most (the node flavor).
    node_cpu: float = 128.0
    node_gpu: int = 8
    node_memory: int = 1024 * GI
    max_runtime: dict[str, int] = field(default_factory=dict)  # scope -> hours

    def max_runtime_seconds(self, scope: str) -> int:
        return self.max_runtime.get(scope, 0) * 3600

    def total(self) -> dict[str, float]:
        return {
            "cpu": self.node_cpu * self.node_count,
            "gpu": self.node_gpu * self.node_count,
            "memory": self.node_memory * self.node_count,
        }


@dataclass
class Workload:
    id: str
    workspace_id: str
    display_name: str
    kind: str
    user: User
    resources: list[dict[str, Any]]
    images: list[str]
    entry_points: list[str]  # stored base64, as the server keeps them
    env: dict[str, str]
    description: str = ""
    priority: int = 0
    timeout: int = 0
    max_retry: int = 0
    ttl: int = 60
    specified_nodes: list[str] = field(default_factory=list)
    excluded_nodes: list[str] = field(default_factory=list)
    customer_labels: dict[str, str] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # service, liveness, readiness
    phase: str = "Pending"
    message: str = ""
    dispatch_count: int = 0
    conditions: list[dict[str, Any]] = field(default_factory=list)
    creation_time: float = 0.0
    visible_at: float = 0.0  # the DB mirror's lag
    start_time: float | None = None
    end_time: float | None = None
    deletion_time: float | None = None
    cr_exists: bool = True
    deleted: bool = False  # DB row marked deleted: invisible to GET and list
    stage_due: float = 0.0  # when the next machine step happens
    outcome: str | None = None  # forced by a test hook: Succeeded or Failed
    shadow: Workload | None = None  # the previous run's DB row, shown until visible_at

    @property
    def scope(self) -> str:
        return KINDS[self.kind][0]

    @property
    def ended(self) -> bool:
        return self.phase in TERMINAL

    @property
    def dispatched(self) -> bool:
        return self.dispatch_count > 0


_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_FACTORS = {
    None: 1,
    "m": 0.001,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}


def quantity(text: str, field_name: str) -> float:
    """A Kubernetes quantity string as a number; 400 when it does not parse."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise bad_request(f"quantities must match the regular expression: {field_name}={text!r}")
    number, suffix = match.groups()
    return float(number) * _FACTORS[suffix]
