"""List and watch options as the API server validates them (apimachinery's
``ValidateListOptions``), and the watch-list protocol's parameters.

kubectl 1.35 starts its watches with ``sendInitialEvents=true`` (the watch-list protocol):
the initial state as ADDED events, then a BOOKMARK annotated ``k8s.io/initial-events-end``;
``kubectl wait`` and ``kubectl delete`` wait for that bookmark before they look at anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from cfgpu_operator.emulators.kubernetes.status import ApiStatus, FieldError, GoLiteral, invalid_of

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
APPLY = "application/apply-patch+yaml"
NOT_OLDER_THAN, EXACT = "NotOlderThan", "Exact"
_TRUE, _FALSE = ("true", "1"), ("false", "0")


@dataclass(frozen=True)
class WatchOptions:
    resource_version: str
    bookmarks: bool
    initial_events: bool | None  # None: the parameter was not sent


def _flag(query: Mapping[str, str], name: str) -> bool | None:
    value = query.get(name)
    if value is None:
        return None
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise bad_options([FieldError("Invalid", name, value, "must be true or false")])


def list_errors(query: Mapping[str, str]) -> list[FieldError]:
    errors: list[FieldError] = []
    match, rv = query.get("resourceVersionMatch", ""), query.get("resourceVersion", "")
    if match:
        if not rv:
            errors.append(
                _forbidden("resourceVersionMatch is forbidden unless resourceVersion is provided")
            )
        if query.get("continue"):
            errors.append(_forbidden("resourceVersionMatch is forbidden when continue is provided"))
        if match not in (EXACT, NOT_OLDER_THAN):
            errors.append(_unsupported(match, [EXACT, NOT_OLDER_THAN, ""]))
        if match == EXACT and rv == "0":
            errors.append(
                _forbidden('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
            )
    if "sendInitialEvents" in query:
        errors.append(
            FieldError(
                "Forbidden", "sendInitialEvents", None, "sendInitialEvents is forbidden for list"
            )
        )
    return errors


def check_list(query: Mapping[str, str]) -> None:
    errors = list_errors(query)
    if errors:
        raise bad_options(errors)


def watch_options(query: Mapping[str, str]) -> WatchOptions:
    """The options of a watch request, or the 422 a real server answers for them."""
    initial = _flag(query, "sendInitialEvents")
    match = query.get("resourceVersionMatch", "")
    errors: list[FieldError] = []
    if initial is not None and match != NOT_OLDER_THAN:
        errors.append(
            _forbidden(
                f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"
            )
        )
    if match:
        if initial is None:
            errors.append(
                _forbidden(
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                    "provided"
                )
            )
        if match != NOT_OLDER_THAN:
            errors.append(_unsupported(match, [NOT_OLDER_THAN]))
        if query.get("continue"):
            errors.append(_forbidden("resourceVersionMatch is forbidden when continue is provided"))
    if errors:
        raise bad_options(errors)
    return WatchOptions(
        query.get("resourceVersion", ""),
        _flag(query, "allowWatchBookmarks") is True,
        initial,
    )


# The options kind a write's query parameters are validated as, by HTTP method.
WRITE_OPTIONS = {
    "POST": "CreateOptions",
    "PUT": "UpdateOptions",
    "PATCH": "PatchOptions",
    "DELETE": "DeleteOptions",
}


def dry_run(request: web.Request) -> bool:
    """``dryRun=All`` on a write (the only value a server accepts): check, do not store."""
    values = request.query.getall("dryRun", [])
    if not values:
        return False
    if any(v != "All" for v in values):
        listed = GoLiteral("[]string{" + ", ".join(f'"{v}"' for v in values) + "}")
        error = FieldError("NotSupported", "dryRun", listed, 'supported values: "All"')
        raise bad_options([error], WRITE_OPTIONS.get(request.method, "CreateOptions"))
    return request.method in WRITE_OPTIONS


def apply_options(query: Mapping[str, str]) -> tuple[str, bool]:
    """The field manager (required) and ``force`` of a server-side apply."""
    manager = query.get("fieldManager", "")
    if not manager:
        error = FieldError("Required", "fieldManager", None, "is required for apply patch")
        raise bad_options([error], "PatchOptions")
    return manager, _flag(query, "force") is True


def bad_options(errors: list[FieldError], kind: str = "ListOptions") -> ApiStatus:
    """``NewInvalid(meta.k8s.io <kind>, "", errs)``."""
    return invalid_of(f"{kind}.meta.k8s.io", "", errors, {"group": "meta.k8s.io", "kind": kind})


def _forbidden(detail: str) -> FieldError:
    return FieldError("Forbidden", "resourceVersionMatch", None, detail)


def _unsupported(value: str, supported: list[str]) -> FieldError:
    quoted = ", ".join(f'"{s}"' for s in supported)
    return FieldError("NotSupported", "resourceVersionMatch", value, f"supported values: {quoted}")
