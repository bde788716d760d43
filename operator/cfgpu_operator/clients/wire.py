"""Tolerance shared by the wire models: both APIs send ``null`` where a list, map or string
is empty. Annotate a field with one of these instead of writing a validator per model."""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator


def _or(empty: Any) -> BeforeValidator:
    return BeforeValidator(lambda value: empty() if value is None else value)


NULL_AS_EMPTY_LIST = _or(list)
NULL_AS_EMPTY_DICT = _or(dict)
NULL_AS_EMPTY_STR = _or(str)
