"""Coming back to an object later without calling it an error.

Kopf's only way to run a handler again (and, for deletion, to keep the finalizer) is a
``TemporaryError``, which it logs at ERROR and posts as an Error Event. Waiting for CFGPU to
finish a transition is routine, and on-call staff and log alerts read ERROR as a failure. So a
wait raises ``Waiting``, and a filter on Kopf's object logger turns its line into an INFO line
that is not posted as an Event. Real failures keep their WARNING/ERROR lines and Events.
"""

from __future__ import annotations

import contextvars
import logging
from typing import NoReturn

import kopf

KOPF_OBJECTS = "kopf.objects"
_KOPF_PHRASE = " failed temporarily: "

# Kopf logs the retry in the task that ran the handler, right after it raised: the message
# marked here is the one that line quotes.
_MARKED: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cfgpu_operator_waiting", default=None
)


class Waiting(kopf.TemporaryError):
    """Nothing failed: the handler runs again after ``delay`` seconds."""


def wait(message: str, delay: float) -> NoReturn:
    _MARKED.set(message)
    raise Waiting(message, delay=delay)


class QuietWaits(logging.Filter):
    """Kopf's "failed temporarily" line for a ``Waiting``: INFO, and no Event."""

    def filter(self, record: logging.LogRecord) -> bool:
        marked = _MARKED.get()
        if marked is None or record.levelno < logging.ERROR:
            return True
        text = str(record.msg)
        if _KOPF_PHRASE in text and text.endswith(marked):
            _MARKED.set(None)
            handler = text.split(_KOPF_PHRASE, 1)[0]
            record.msg, record.args = f"{handler} will run again: {marked}", None
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.k8s_skip = True
        return True


class QuietDaemons(logging.Filter):
    """Kopf's "Daemon '...' succeeded." ends every object's periodic reconcile loop (each
    deletion, each operator stop): with thousands of objects it would double the INFO log of
    a deletion or a shutdown and says nothing the deletion's own line does not. DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        text = str(record.msg)
        if not (text.startswith("Daemon '") and text.endswith("' succeeded.")):
            return True
        if not logging.getLogger(KOPF_OBJECTS).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def install() -> None:
    """Idempotent: at most one of each filter on Kopf's object logger."""
    logger = logging.getLogger(KOPF_OBJECTS)
    for kind in (QuietWaits, QuietDaemons):
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
