"""Kopf's per-object timer success line is DEBUG: at INFO it is not written at all."""

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
            ["Timer 'gpuinstance-sync' succeeded.", "Handler 'gpuinstance-create' succeeded."],
        ),
    ],
)
def test_timer_successes_are_debug_lines(
    level: int, written: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    requeue.install()
    requeue.install()  # idempotent
    logger = logging.getLogger(requeue.KOPF_OBJECTS)
    assert sum(isinstance(f, requeue.QuietTimers) for f in logger.filters) == 1
    with caplog.at_level(level, logger=requeue.KOPF_OBJECTS):
        logger.info("Timer 'gpuinstance-sync' succeeded.")
        logger.info("Handler 'gpuinstance-create' succeeded.")
    assert [r.getMessage() for r in caplog.records] == written
    if level == logging.DEBUG:
        assert caplog.records[0].levelname == "DEBUG"
