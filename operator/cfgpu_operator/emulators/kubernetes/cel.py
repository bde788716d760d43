"""``x-kubernetes-validations``: CEL rules evaluated with cel-python, as the API server does.

A rule sees ``self`` (the value at its schema node) and, for transition rules, ``oldSelf``
(the stored value at the same place). Transition rules run only on updates where both the
old and the new value exist, exactly like the real server.

Updates are ratcheted as since Kubernetes 1.30 (KEP-4008, GA in 1.33): a rule without
``oldSelf`` is not evaluated on a value the update leaves unchanged, so a status write does
not re-run the spec's rules (transition rules are never ratcheted).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from cfgpu_operator.emulators.kubernetes.schema import Schema, join, type_name
from cfgpu_operator.emulators.kubernetes.status import FieldError

RULES = "x-kubernetes-validations"
_OLD_SELF = re.compile(r"\boldSelf\b")
# A rule's `reason` picks the field error type.
_REASONS = {
    "FieldValueInvalid": "Invalid",
    "FieldValueForbidden": "Forbidden",
    "FieldValueRequired": "Required",
    "FieldValueDuplicate": "Duplicate",
}
_ENV = celpy.Environment()


class RuleCompileError(ValueError):
    pass


@lru_cache(maxsize=2048)
def _program(rule: str) -> celpy.Runner:
    try:
        return _ENV.program(_ENV.compile(rule))
    except CELParseError as exc:
        raise RuleCompileError(f"compilation failed: {exc}") from None


def check_rules(schema: Schema, path: str = "") -> list[str]:
    """Compile every rule of a schema; the problems, for rejecting a CRD at creation."""
    problems = []
    for rule in schema.get(RULES, []):
        try:
            _program(rule["rule"])
        except RuleCompileError as exc:
            problems.append(f"{path or '<root>'}: {rule['rule']!r}: {exc}")
    for key, child in (schema.get("properties") or {}).items():
        problems += check_rules(child, join(path, key))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            problems += check_rules(schema[key], f"{path}[*]")
    return problems


def evaluate(schema: Schema, new: Any, old: Any, path: str = "") -> list[FieldError]:
    """Field errors from every rule under ``schema`` for ``new`` (``old`` is None on create)."""
    if new is None:
        return []
    unchanged = old is not None and new == old
    if unchanged and not _has_transition_rules(schema):
        return []
    rules = schema.get(RULES, [])
    if unchanged:
        rules = [rule for rule in rules if _OLD_SELF.search(rule["rule"])]
    errors = [e for rule in rules if (e := _check(rule, schema, new, old, path))]
    if isinstance(new, dict):
        for key, value in new.items():
            child = (schema.get("properties") or {}).get(key)
            extra = schema.get("additionalProperties")
            child = child if child is not None else extra if isinstance(extra, dict) else None
            if child is not None:
                previous = old.get(key) if isinstance(old, dict) else None
                errors += evaluate(child, value, previous, join(path, key))
    elif isinstance(new, list) and isinstance(schema.get("items"), dict):
        # List items are not correlated with old items here (no listType=map support), so
        # transition rules inside lists do not run.
        for index, item in enumerate(new):
            errors += evaluate(schema["items"], item, None, f"{path}[{index}]")
    return errors


_TRANSITIONS: dict[int, tuple[Schema, bool]] = {}


def _has_transition_rules(schema: Schema) -> bool:
    """Whether any rule at or under this schema node uses ``oldSelf`` (cached per node)."""
    cached = _TRANSITIONS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    found = any(_OLD_SELF.search(rule["rule"]) for rule in schema.get(RULES, []))
    children = list((schema.get("properties") or {}).values())
    children += [
        schema[k] for k in ("items", "additionalProperties") if isinstance(schema.get(k), dict)
    ]
    found = found or any(_has_transition_rules(child) for child in children)
    _TRANSITIONS[id(schema)] = (schema, found)  # the schema is kept, so its id stays its own
    return found


def _check(
    rule: dict[str, Any], schema: Schema, new: Any, old: Any, path: str
) -> FieldError | None:
    text = rule["rule"]
    transition = bool(_OLD_SELF.search(text))
    if transition and old is None:
        return None
    outcome = _outcome(text, _key(new), _key(old) if transition else "")
    if outcome is True:
        return None
    field = join(path, rule["fieldPath"].lstrip(".")) if rule.get("fieldPath") else path
    kind = _REASONS.get(rule.get("reason", ""), "Invalid")
    if outcome is not False:
        return FieldError("Invalid", field, schema.get("type") or type_name(new), outcome)
    message = rule.get("message") or f"failed rule: {text}"
    return FieldError(kind, field, schema.get("type") or type_name(new), message)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# CEL rules are pure functions of self and oldSelf, and the interpreter takes milliseconds
# per rule: every write of an object re-checks its transition rules on the same values.
@lru_cache(maxsize=16384)
def _outcome(text: str, new: str, old: str) -> bool | str:
    """True (holds), False (fails), or the evaluation error's message."""
    activation: dict[str, Any] = {"self": json_to_cel(json.loads(new))}
    if old:
        activation["oldSelf"] = json_to_cel(json.loads(old))
    try:
        result = _program(text).evaluate(activation)
    except CELEvalError as exc:
        return f"rule evaluation error: {exc}"
    if not isinstance(result, celtypes.BoolType):
        return f"rule evaluation error: {text!r} did not return a bool"
    return bool(result)
