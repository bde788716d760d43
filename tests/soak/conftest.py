"""The reliability suite: ``pytest -m soak [--soak-trials N] [--soak-seed S]`` (outside the
default run; tests/conftest.py registers the options, where pytest reads them)."""

from __future__ import annotations

import pytest

from tests.integration.gpuinstance.conftest import operator_env, world  # noqa: F401
from tests.integration.safeworkload.conftest import sworld, sworld_env  # noqa: F401


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per trial (each with its own emulators and operator), named by its seed."""
    if "trial" in metafunc.fixturenames:
        first = int(metafunc.config.getoption("--soak-seed"))
        count = int(metafunc.config.getoption("--soak-trials"))
        seeds = list(range(first, first + count))
        metafunc.parametrize("trial", seeds, ids=[f"seed{s}" for s in seeds])
