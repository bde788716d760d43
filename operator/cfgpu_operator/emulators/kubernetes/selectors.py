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


_FIELDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
    "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
}


def field_matcher(selector: str | None) -> Matcher:
    checks: list[tuple[Callable[[dict[str, Any]], str], bool, str]] = []
    for part in _split(selector or ""):
        match = _EQ.match(part)
        if not match:
            raise bad_request(f"invalid field selector: {part.strip()!r}")
        path, op, value = match.groups()
        getter = _FIELDS.get(path)
        if getter is None:
            raise ApiStatus(400, "BadRequest", f"field label not supported: {path}")
        checks.append((getter, op != "!=", value))

    def matches(obj: dict[str, Any]) -> bool:
        return all((getter(obj) == value) is equal for getter, equal, value in checks)

    return matches
