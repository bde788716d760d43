"""CustomResourceDefinitions: what the emulator checks in one, and the status it reports."""

from __future__ import annotations

from typing import Any

from cfgpu_operator.emulators.kubernetes.cel import check_rules
from cfgpu_operator.emulators.kubernetes.status import FieldError

Obj = dict[str, Any]


def crd_errors(crd: Obj) -> list[FieldError]:
    """The checks a real server makes that an operator could trip over."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    errors: list[FieldError] = []
    for key in ("group", "scope"):
        if not spec.get(key):
            errors.append(FieldError("Required", f"spec.{key}"))
    for key in ("plural", "kind"):
        if not names.get(key):
            errors.append(FieldError("Required", f"spec.names.{key}"))
    expected = f"{names.get('plural')}.{spec.get('group')}"
    name = crd.get("metadata", {}).get("name")
    if name != expected:
        detail = 'must be spec.names.plural+"."+spec.group'
        errors.append(FieldError("Invalid", "metadata.name", name, detail))
    versions = spec.get("versions") or []
    if not versions:
        errors.append(
            FieldError(
                "Required",
                "spec.versions",
                detail="must have exactly one version marked as storage version",
            )
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(
            FieldError(
                "Invalid",
                "spec.versions",
                versions,
                "must have exactly one version marked as storage version",
            )
        )
    for index, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        for problem in check_rules(schema or {}):
            path = f"spec.versions[{index}].schema.openAPIV3Schema"
            errors.append(FieldError("Invalid", path, "object", problem))
    return errors


def established_status(crd: Obj, now: str) -> Obj:
    spec = crd["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    conditions = [
        {
            "type": kind,
            "status": "True",
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
        }
        for kind, reason, message in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    stored = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
    return {"acceptedNames": names, "conditions": conditions, "storedVersions": stored}
