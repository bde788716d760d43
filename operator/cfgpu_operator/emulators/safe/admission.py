"""What the emulated Primus-SaFE checks in a create request before anything is stored, in
the reference's order: permission, display name, resources, kind and scope, capacity."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from cfgpu_operator.emulators.safe.model import (
    FEATURE_KINDS,
    KINDS,
    SafeError,
    User,
    Workload,
    Workspace,
    bad_request,
    internal,
    quantity,
)

_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def authorize_create(user: User, workspace_id: str, body: dict[str, Any]) -> None:
    if not user.admin and workspace_id not in user.workspaces | user.managed:
        raise SafeError(
            403,
            "Primus.00003",
            f"The user({user.id}) is not allowed to create workload, workspace: [{workspace_id}]",
        )
    if body.get("priority") == 2 and not (user.admin or workspace_id in user.managed):
        raise SafeError(
            403,
            "Primus.00003",
            f"The user({user.id}) is not allowed to create "
            f"workload/high-priority, workspace: [{workspace_id}]",
        )


def display_name(body: dict[str, Any], kind: str) -> str:
    name = str(body.get("displayName") or "")
    budget = KINDS.get(kind, ("Train", 57))[1]
    if not name:
        raise bad_request("the displayName is empty")
    if not re.fullmatch(rf"[a-z][-a-z0-9]{{0,{budget}}}[a-z0-9]", name):
        raise bad_request(
            f"invalid display name: {name!r}, it must match ^[a-z][-a-z0-9]{{0,{budget}}}[a-z0-9]$"
        )
    return name


def resources_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("resources")
    if not isinstance(raw, list):
        raise bad_request("the resources are empty")
    kept = [dict(r) for r in raw if isinstance(r, dict) and int(r.get("replica", 0)) > 0]
    if not kept:
        raise bad_request("the resources are empty")
    for res in kept:
        if not res.get("cpu") or not res.get("memory"):
            raise bad_request("the cpu and memory of a resource are required")
        for key in ("cpu", "memory", "gpu", "ephemeralStorage", "sharedMemory"):
            if res.get(key):
                quantity(res[key], key)
        res.setdefault("ephemeralStorage", "50Gi")
        if not res.get("sharedMemory"):
            res["sharedMemory"] = f"{int(quantity(res['memory'], 'memory') / 2)}"
        if res.get("gpu") in ("0", 0):
            res.pop("gpu")
    return kept


def check_kind(
    kind: str,
    workspace: Workspace,
    installed: frozenset[str] | None = None,
    features: frozenset[str] = FEATURE_KINDS,
) -> None:
    if kind not in KINDS or (installed is not None and kind not in installed):
        raise internal("resource template is not found")
    if kind in FEATURE_KINDS and kind not in features:
        raise SafeError(501, "Primus.00007", f"Not implemented. the {kind} feature is disabled")
    scope = KINDS[kind][0]
    if scope not in workspace.scopes:
        raise SafeError(
            403,
            "Primus.00003",
            f"the workspace {workspace.id} does not support the {scope} scope",
        )


def check_capacity(workspace: Workspace, resources: list[dict[str, Any]]) -> None:
    replicas = 0
    total = {"cpu": 0.0, "gpu": 0.0, "memory": 0.0}
    for res in resources:
        pod = {
            "cpu": quantity(res["cpu"], "cpu"),
            "gpu": quantity(res.get("gpu") or "0", "gpu"),
            "memory": quantity(res["memory"], "memory"),
        }
        limits = {
            "cpu": workspace.node_cpu,
            "gpu": workspace.node_gpu,
            "memory": workspace.node_memory,
        }
        for key, wanted in pod.items():
            if wanted > limits[key]:
                raise SafeError(
                    403,
                    "Primus.00003",
                    "Resource request exceeds maximum "
                    f"available: {key} {wanted:g} > {limits[key]:g}",
                )
            total[key] += wanted * res["replica"]
        replicas += res["replica"]
    if replicas > workspace.node_count:
        for key, amount in workspace.total().items():
            if total[key] > amount:
                raise SafeError(
                    503, "Primus.00008", f"insufficient {key} quota in workspace {workspace.id}"
                )


def as_base64(text: str) -> str:
    """The server keeps what looks like base64 and encodes the rest (§3.1)."""
    if _BASE64.match(text):
        try:
            base64.b64decode(text, validate=True)
            return text
        except (binascii.Error, ValueError):
            pass
    return base64.b64encode(text.encode()).decode()


def patch_changes(workload: Workload, body: dict[str, Any]) -> dict[str, Any]:
    """The spec fields of a PATCH body whose (normalised) value differs from the stored one;
    empty images or entryPoints are ignored, as the server ignores them."""
    wanted: dict[str, Any] = {}
    if body.get("resources") is not None:
        wanted["resources"] = resources_of(body)
    if body.get("images"):
        wanted["images"] = [str(i).strip() for i in body["images"]]
    if body.get("entryPoints"):
        wanted["entryPoints"] = [as_base64(str(e)) for e in body["entryPoints"]]
    if body.get("env") is not None:
        wanted["env"] = {str(k).strip(): str(v) for k, v in body["env"].items()}
    if body.get("customerLabels") is not None:
        wanted["customerLabels"] = {k: v for k, v in body["customerLabels"].items() if k and v}
    if body.get("service") is not None:
        wanted["service"] = body["service"]
    stored = {
        "resources": workload.resources,
        "images": workload.images,
        "entryPoints": workload.entry_points,
        "env": workload.env,
        "customerLabels": workload.customer_labels,
        "service": workload.extra.get("service"),
    }
    return {k: v for k, v in wanted.items() if v != stored[k]}
