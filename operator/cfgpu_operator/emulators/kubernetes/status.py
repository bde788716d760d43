"""Kubernetes ``Status`` errors with the reasons, codes and messages a real server gives."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cfgpu_operator.emulators.kubernetes import ssa
from cfgpu_operator.emulators.kubernetes.registry import ResourceType

# field.ErrorType -> (text in messages, cause reason)
_FIELD_TYPES = {
    "Required": ("Required value", "FieldValueRequired"),
    "Invalid": ("Invalid value", "FieldValueInvalid"),
    "TypeInvalid": ("Invalid value", "FieldValueTypeInvalid"),
    "NotSupported": ("Unsupported value", "FieldValueNotSupported"),
    "TooLong": ("Too long", "FieldValueTooLong"),
    "TooMany": ("Too many", "FieldValueTooMany"),
    "Forbidden": ("Forbidden", "FieldValueForbidden"),
    "Duplicate": ("Duplicate value", "FieldValueDuplicate"),
}
# These types do not quote the offending value in their message.
_NO_VALUE = frozenset({"Required", "Forbidden", "TooLong"})


class GoLiteral(str):
    """A value already printed as Go prints it (``[]string{"x"}``), used as it is."""


def go_value(value: Any) -> str:
    """How Go's %v / %q prints a value inside a field error."""
    if isinstance(value, GoLiteral):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return (
            repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))
        )
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class FieldError:
    """One entry of a field.ErrorList."""

    type: str
    field: str
    value: Any = None
    detail: str = ""

    def body(self) -> str:
        text, _ = _FIELD_TYPES[self.type]
        if self.type not in _NO_VALUE:
            text = f"{text}: {go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    @property
    def reason(self) -> str:
        return _FIELD_TYPES[self.type][1]


class ApiStatus(Exception):
    """An error answer: raise it anywhere in the emulator, the HTTP layer renders it."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status


def _details(kind: ResourceType, name: str) -> dict[str, Any]:
    return {"name": name, "group": kind.group, "kind": kind.plural}


def not_found(kind: ResourceType, name: str) -> ApiStatus:
    return ApiStatus(
        404, "NotFound", f'{kind.group_resource} "{name}" not found', _details(kind, name)
    )


def already_exists(kind: ResourceType, name: str) -> ApiStatus:
    return ApiStatus(
        409, "AlreadyExists", f'{kind.group_resource} "{name}" already exists', _details(kind, name)
    )


def conflict(kind: ResourceType, name: str) -> ApiStatus:
    message = (
        f'Operation cannot be fulfilled on {kind.group_resource} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return ApiStatus(409, "Conflict", message, _details(kind, name))


def apply_conflict(found: list[tuple[dict[str, Any], tuple[str, ...]]]) -> ApiStatus:
    """409 for a server-side apply that would change fields another manager set."""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{e.get("manager", "")}" using {e.get("apiVersion", "")}',
            "field": ssa.path_text(path),
        }
        for e, path in found
    ]
    return ApiStatus(409, "Conflict", ssa.conflict_message(found), {"causes": causes})


def invalid(kind: ResourceType, name: str, errors: list[FieldError]) -> ApiStatus:
    details = {"name": name, "group": kind.group, "kind": kind.kind}
    return invalid_of(kind.qualified_kind, name, errors, details)


def invalid_of(
    qualified: str, name: str, errors: list[FieldError], details: dict[str, Any]
) -> ApiStatus:
    """``NewInvalid``: 422 listing the field errors, each also a cause."""
    listed = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    causes = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
    message = f'{qualified} "{name}" is invalid: {listed}'
    return ApiStatus(422, "Invalid", message, {**details, "causes": causes})


def bad_request(message: str) -> ApiStatus:
    return ApiStatus(400, "BadRequest", message)


FIELD_VALIDATION = ("", "Ignore", "Strict", "Warn")


def field_validation(query: Mapping[str, str]) -> str:
    """The ``fieldValidation`` directive of a request; absent means Warn."""
    directive = query.get("fieldValidation", "")
    if directive not in FIELD_VALIDATION:
        supported = ", ".join(f'"{v}"' for v in FIELD_VALIDATION)
        raise bad_request(
            f'fieldValidation: Unsupported value: "{directive}": supported values: {supported}'
        )
    return directive or "Warn"


def strict_decoding(kind: ResourceType, problems: list[str]) -> ApiStatus:
    """fieldValidation=Strict and the body has fields the schema does not know."""
    return bad_request(
        f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
        f"strict decoding error: {', '.join(problems)}"
    )


def undecodable(kind: ResourceType, error: FieldError) -> ApiStatus:
    """A value of the wrong type: the server's JSON decoder refuses the body (400)."""
    return bad_request(
        f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
        f"{error.field}: {error.detail}"
    )


def gone(message: str) -> ApiStatus:
    return ApiStatus(410, "Expired", message)


def forbidden(kind: ResourceType, name: str, why: str) -> ApiStatus:
    return ApiStatus(
        403,
        "Forbidden",
        f'{kind.group_resource} "{name}" is forbidden: {why}',
        _details(kind, name),
    )


def method_not_allowed() -> ApiStatus:
    return ApiStatus(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def unsupported_media_type(content_type: str) -> ApiStatus:
    return ApiStatus(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types "
        f"include: application/json-patch+json, application/merge-patch+json, "
        f'application/apply-patch+yaml; got "{content_type}"',
    )


def path_not_found() -> ApiStatus:
    return ApiStatus(404, "NotFound", "the server could not find the requested resource")
