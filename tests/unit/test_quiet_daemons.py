"""Kopf's line for an object's ended reconcile loop is DEBUG: at INFO it is not written."""

from __future__ import annotations

import logging

import pytest

from cfgpu_operator.handlers import requeue


@pytest.mark.parametrize(
    ("level", "written"),
    [
        (logging.INFO, ["Handler 'gpuinstance-create' succeeded."]),
        (
            logging.DEBUG,
            ["Daemon 'gpuinstance-sync' succeeded.", "Handler 'gpuinstance-create' succeeded."],
        ),
    ],
)
def test_daemon_endings_are_debug_lines(
    level: int, written: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    requeue.install()
    requeue.install()  # idempotent
    logger = logging.getLogger(requeue.KOPF_OBJECTS)
    assert sum(isinstance(f, requeue.QuietDaemons) for f in logger.filters) == 1
    with caplog.at_level(level, logger=requeue.KOPF_OBJECTS):
        logger.info("Daemon 'gpuinstance-sync' succeeded.")
        logger.info("Handler 'gpuinstance-create' succeeded.")
    assert [r.getMessage() for r in caplog.records] == written
    if level == logging.DEBUG:
        assert caplog.records[0].levelname == "DEBUG"
