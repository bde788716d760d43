"""SafeWorkload ids and names, and what a PATCH must carry (the decision itself is in
``safeworkload_decide``)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

ENV_TAG = "CFGPU_OPERATOR_ID"  # value: the object's uid; survives the platform's TTL
MAX_ID = 50  # PyTorchJob pod names must stay under 63 characters
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
# Kinds whose images, env and resources may still change after dispatch (primus-safe-api §3.4).
APPLICATION_KINDS = frozenset({"Deployment", "StatefulSet", "DynamoDeployment", "InferaDeployment"})
# The workspace scope each kind needs (a workspace lists the scopes it allows).
KIND_SCOPE = {
    "PyTorchJob": "Train",
    "TorchFT": "Train",
    "MonarchJob": "Train",
    "Authoring": "Authoring",
    "Deployment": "Infer",
    "StatefulSet": "Infer",
    "DynamoDeployment": "Infer",
    "InferaDeployment": "Infer",
    "RayJob": "Ray",
    "AutoscalingRunnerSet": "CICD",
    "Sandbox": "Sandbox",
}
# displayName must match ^[a-z][-a-z0-9]{0,N}[a-z0-9]$ with N per kind (primus-safe-api §3.1).
NAME_BUDGET = {
    "PyTorchJob": 44,
    "Authoring": 44,
    "Deployment": 40,
    "StatefulSet": 40,
    "TorchFT": 36,
    "RayJob": 36,
    "AutoscalingRunnerSet": 39,
    "MonarchJob": 48,
}


def _slug(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


def workload_id(namespace: str, name: str, uid: str) -> str:
    """``swl-<namespace>-<name>-<uid8>``: lowercase, starts with a letter, at most 50 chars."""
    suffix = uid.replace("-", "")[:8].lower()
    base = _slug(f"{namespace}-{name}")
    room = MAX_ID - len("swl-") - len(suffix) - 1
    if len(base) > room:
        digest = hashlib.sha256(base.encode()).hexdigest()[:6]
        base = f"{base[: room - len(digest) - 1].rstrip('-')}-{digest}"
    return f"swl-{base}-{suffix}"


def display_name(name: str, kind: str) -> str:
    """metadata.name made valid for the kind's displayName rule."""
    budget = NAME_BUDGET.get(kind, 57) + 2
    slug = _slug(name) or "workload"
    if not slug[0].isalpha():
        slug = f"w-{slug}"
    slug = slug[:budget].rstrip("-")
    return slug if len(slug) >= 2 else f"{slug}0"


MUTABLE_ALWAYS = ("priority", "timeout", "maxRetry", "description")
MUTABLE_BEFORE_DISPATCH = ("resources", "images", "entryPoints", "env")


def patch_for(
    wanted: dict[str, Any], platform: dict[str, Any], *, dispatched: bool, kind: str
) -> tuple[dict[str, Any], list[str]]:
    """(PATCH body of what differs, fields that cannot change any more after dispatch)."""
    body: dict[str, Any] = {}
    frozen: list[str] = []
    for key in MUTABLE_ALWAYS + MUTABLE_BEFORE_DISPATCH:
        if key not in wanted or wanted[key] == platform.get(key):
            continue
        if key in MUTABLE_BEFORE_DISPATCH and dispatched and kind not in APPLICATION_KINDS:
            frozen.append(key)
        else:
            body[key] = wanted[key]
    return body, frozen
