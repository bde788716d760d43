"""Structural-schema handling of custom resources: prune, default, validate.

The order and the messages follow the real apiextensions-apiserver: unknown fields are pruned,
``null`` in a non-nullable field is dropped, defaults are applied, then the value is validated
(kube-openapi messages wrapped in field errors).
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

from cfgpu_operator.emulators.kubernetes.status import FieldError, go_value

Schema = dict[str, Any]
ROOT_KEEP = ("apiVersion", "kind", "metadata")
PRESERVE = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING = "x-kubernetes-int-or-string"


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _child_schema(schema: Schema, key: str) -> Schema | None:
    properties = schema.get("properties") or {}
    if key in properties:
        return dict(properties[key])
    extra = schema.get("additionalProperties")
    return dict(extra) if isinstance(extra, dict) else None


def prune(schema: Schema, value: Any, path: str = "", root: bool = False) -> list[str]:
    """Drop fields the schema does not know, in place; returns the pruned paths."""
    pruned: list[str] = []
    if isinstance(value, dict):
        embedded = root or schema.get("x-kubernetes-embedded-resource")
        for key in list(value):
            child = _child_schema(schema, key)
            if child is not None:
                pruned += prune(child, value[key], join(path, key))
            elif not (schema.get(PRESERVE) or (embedded and key in ROOT_KEEP)):
                del value[key]
                pruned.append(join(path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            pruned += prune(schema["items"], item, f"{path}[{index}]")
    return pruned


def default(schema: Schema, value: Any) -> None:
    """Apply ``default``s in place, dropping nulls where the schema is not nullable."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, child in properties.items():
            if key in value and value[key] is None and not child.get("nullable"):
                del value[key]
            if key not in value and "default" in child:
                value[key] = copy.deepcopy(child["default"])
        for key, item in value.items():
            child = _child_schema(schema, key)
            if child is not None:
                default(child, item)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            default(schema["items"], item)


def type_name(value: Any) -> str:
    """The JSON type of a value as kube-openapi names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _type_ok(schema: Schema, value: Any) -> bool:
    wanted: str | None = schema.get("type")
    actual = type_name(value)
    if schema.get(INT_OR_STRING):
        return actual in ("integer", "string")
    if not wanted:
        return True
    if wanted == "number":
        return actual in ("integer", "number")
    if wanted == "integer" and isinstance(value, float):
        return bool(value.is_integer())
    return actual == wanted


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def validate(schema: Schema, value: Any, path: str = "") -> list[FieldError]:
    """Field errors for ``value`` against ``schema`` (empty when valid)."""
    if value is None:
        if schema.get("nullable") or not (schema.get("type") or schema.get(INT_OR_STRING)):
            return []
        return [_type_error(schema, value, path)]
    if not _type_ok(schema, value):
        return [_type_error(schema, value, path)]
    errors = _scalar_errors(schema, value, path)
    if isinstance(value, dict):
        errors += _object_errors(schema, value, path)
    elif isinstance(value, list):
        errors += _array_errors(schema, value, path)
    return errors + _composition_errors(schema, value, path)


def _type_error(schema: Schema, value: Any, path: str) -> FieldError:
    wanted = "integer-or-string" if schema.get(INT_OR_STRING) else schema.get("type")
    actual = type_name(value)
    message = f'{path} in body must be of type {wanted}: "{actual}"'
    return FieldError("TypeInvalid", path, actual, message)


def _scalar_errors(schema: Schema, value: Any, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(f'"{v}"' if isinstance(v, str) else go_value(v) for v in schema["enum"])
        errors.append(FieldError("NotSupported", path, value, f"supported values: {allowed}"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        errors += _range_errors(schema, value, path)
    if isinstance(value, str):
        errors += _string_errors(schema, value, path)
    return errors


def _range_errors(schema: Schema, value: float, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if "maximum" in schema:
        top, exclusive = schema["maximum"], schema.get("exclusiveMaximum", False)
        if value > top or (exclusive and value == top):
            word = "less than" if exclusive else "less than or equal to"
            detail = f"{path} in body should be {word} {go_value(top)}"
            errors.append(FieldError("Invalid", path, value, detail))
    if "minimum" in schema:
        bottom, exclusive = schema["minimum"], schema.get("exclusiveMinimum", False)
        if value < bottom or (exclusive and value == bottom):
            word = "greater than" if exclusive else "greater than or equal to"
            detail = f"{path} in body should be {word} {go_value(bottom)}"
            errors.append(FieldError("Invalid", path, value, detail))
    return errors


def _string_errors(schema: Schema, value: str, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    length = len(value)
    if "maxLength" in schema and length > schema["maxLength"]:
        detail = f"may not be longer than {schema['maxLength']}"
        errors.append(FieldError("TooLong", path, value, detail))
    if "minLength" in schema and length < schema["minLength"]:
        detail = f"{path} in body should be at least {schema['minLength']} chars long"
        errors.append(FieldError("Invalid", path, value, detail))
    pattern = schema.get("pattern")
    if pattern and not _compiled(pattern).search(value):
        detail = f"{path} in body should match '{pattern}'"
        errors.append(FieldError("Invalid", path, value, detail))
    return errors


def _object_errors(schema: Schema, value: dict[str, Any], path: str) -> list[FieldError]:
    errors = [
        FieldError("Required", join(path, key))
        for key in schema.get("required", [])
        if key not in value
    ]
    for key, item in value.items():
        child = _child_schema(schema, key)
        if child is not None:
            errors += validate(child, item, join(path, key))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        detail = f"must have at most {schema['maxProperties']} items"
        errors.append(FieldError("TooMany", path, len(value), detail))
    return errors


def _array_errors(schema: Schema, value: list[Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        detail = f"must have at most {schema['maxItems']} items"
        errors.append(FieldError("TooMany", path, len(value), detail))
    if "minItems" in schema and len(value) < schema["minItems"]:
        detail = f"{path} in body should have at least {schema['minItems']} items"
        errors.append(FieldError("Invalid", path, value, detail))
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            errors += validate(items, item, f"{path}[{index}]")
    return errors


def _composition_errors(schema: Schema, value: Any, path: str) -> list[FieldError]:
    """allOf / anyOf / oneOf / not, as far as structural schemas allow them."""
    errors: list[FieldError] = []
    for sub in schema.get("allOf", []):
        errors += validate(sub, value, path)
    passing = [not validate(sub, value, path) for sub in schema.get("oneOf", [])]
    if passing and passing.count(True) != 1:
        detail = f"{path} in body must validate one and only one schema (oneOf)"
        errors.append(FieldError("Invalid", path, value, detail))
    if schema.get("anyOf") and not any(not validate(s, value, path) for s in schema["anyOf"]):
        detail = f"{path} in body must validate at least one schema (anyOf)"
        errors.append(FieldError("Invalid", path, value, detail))
    if "not" in schema and not validate(schema["not"], value, path):
        detail = f"{path} in body should not validate the given schema"
        errors.append(FieldError("Invalid", path, value, detail))
    return errors
