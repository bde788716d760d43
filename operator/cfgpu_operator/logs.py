"""Log set-up: level and format (text or JSON) from the settings, and the object a line is
about on every line written while handling that object.

Kopf tags its own per-object lines (``k8s_ref``); lines from our clients and helpers,
written while a handler runs, get the same tag from a context variable, so both formats
name the object on every line about one.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

_OBJECT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "cfgpu_operator_object", default=None
)

# Chatty libraries that log every request at INFO.
QUIET = ("httpx", "httpcore", "kubernetes.client.rest", "urllib3")


@contextlib.contextmanager
def about(kind: str, namespace: str | None, name: str | None) -> Iterator[None]:
    """Tag every line logged inside (and in tasks started inside) with this object."""
    token = _OBJECT.set({"kind": kind, "namespace": namespace, "name": name})
    try:
        yield
    finally:
        _OBJECT.reset(token)


def detached() -> contextvars.Context:
    """A context for background tasks that serve many objects (pollers): no object tag."""
    context = contextvars.copy_context()
    context.run(_OBJECT.set, None)
    return context


class ObjectTag(logging.Filter):
    """Give lines written while handling an object Kopf's ``k8s_ref`` tag, unless they
    already carry one (Kopf's own per-object lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ref = _OBJECT.get()
        if ref is not None and not hasattr(record, "k8s_ref"):
            record.k8s_ref = ref
        return True


class Json(JsonFormatter):
    """One JSON object per line: time, level, logger, message, and namespace/name/kind of
    the object the line is about (when it is about one)."""

    def __init__(self) -> None:
        super().__init__(
            "%(message)s %(levelname)s %(name)s",
            rename_fields={"levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, "k8s_ref", "k8s_skip", "settings"],
            timestamp="time",
            # CFGPU's messages are Chinese: readable in the log, not \u escapes.
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_record, record, message_dict)
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict):
            for key in ("kind", "namespace", "name"):
                if ref.get(key):
                    log_record[key] = ref[key]


def configure(level: str, fmt: str, handlers: list[logging.Handler]) -> None:
    """Apply level and format to the root logger's ``handlers`` (Kopf's stream handler)."""
    logging.getLogger().setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    for handler in handlers:
        handler.addFilter(ObjectTag())
        if fmt == "json":
            handler.setFormatter(Json())
