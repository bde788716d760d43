"""Label and field selectors, parsed once per request and matched against objects."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cfgpu_operator.emulators.kubernetes.status import ApiStatus, bad_request

Matcher = Callable[[dict[str, Any]], bool]

# One requirement of a label selector: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
# `k notin (a,b)`. Commas inside parentheses belong to the set, not the selector.
_SET = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values  # "!=" and "notin"


def _split(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def _requirement(text: str) -> Requirement:
    if match := _SET.match(text):
        key, op, values = match.groups()
        return Requirement(key, op, frozenset(v.strip() for v in values.split(",") if v.strip()))
    if match := _EQ.match(text):
        key, op, value = match.groups()
        return Requirement(key, "!=" if op == "!=" else "=", frozenset({value}))
    if match := _EXISTS.match(text):
        bang, key = match.groups()
        return Requirement(key, "!exists" if bang else "exists")
    raise bad_request(f"unable to parse requirement: {text.strip()!r}")


def label_matcher(selector: str | None) -> Matcher:
    requirements = [_requirement(part) for part in _split(selector or "")]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(labels) for r in requirements)

    return matches


Getter = Callable[[dict[str, Any]], str]


def _at(*paths: str) -> Getter:
    """The first non-empty value at one of the dotted ``paths``, as a string (Go's field
    set holds strings; a missing field is "")."""

    def get(obj: dict[str, Any]) -> str:
        for path in paths:
            value: Any = obj
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value not in (None, ""):
                return str(value)
        return ""

    return get


_FIELDS: dict[str, Getter] = {
    "metadata.name": _at("metadata.name"),
    "metadata.namespace": _at("metadata.namespace"),
}
_REFERENCE = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
# What each built-in resource selects on besides name and namespace (the field label
# conversions of Kubernetes' API groups); custom resources select on those two only.
_RESOURCE_FIELDS: dict[tuple[str, str], dict[str, Getter]] = {
    ("", "events"): {
        **{f"involvedObject.{f}": _at(f"involvedObject.{f}") for f in _REFERENCE},
        "reason": _at("reason"),
        "reportingComponent": _at("reportingComponent"),
        "source": _at("source.component", "reportingComponent"),
        "type": _at("type"),
    },
    ("events.k8s.io", "events"): {
        **{f"regarding.{f}": _at(f"regarding.{f}") for f in _REFERENCE},
        "reason": _at("reason"),
        "reportingController": _at("reportingController"),
        "type": _at("type"),
    },
    ("", "namespaces"): {"status.phase": _at("status.phase")},
    ("", "secrets"): {"type": _at("type")},
}


def field_matcher(selector: str | None, resource: tuple[str, str] = ("", "")) -> Matcher:
    """A field selector of ``resource`` (its storage key: group, plural)."""
    known = {**_FIELDS, **_RESOURCE_FIELDS.get(resource, {})}
    checks: list[tuple[Getter, bool, str]] = []
    for part in _split(selector or ""):
        match = _EQ.match(part)
        if not match:
            raise bad_request(f"invalid field selector: {part.strip()!r}")
        path, op, value = match.groups()
        getter = known.get(path)
        if getter is None:
            raise ApiStatus(400, "BadRequest", f"field label not supported: {path}")
        checks.append((getter, op != "!=", value))

    def matches(obj: dict[str, Any]) -> bool:
        return all((getter(obj) == value) is equal for getter, equal, value in checks)

    return matches
