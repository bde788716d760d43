"""The operator as it runs in a pod: metrics and liveness endpoints, JSON logs, and
several replicas against one cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cfgpu_operator.demo import free_port
from tests.conftest import SAFE_KEY, ServedCfgpu, ServedKube, ServedSafe
from tests.integration.gpuinstance.conftest import OperatorProcess, install_crds
from tests.integration.safeworkload.conftest import SafeWorld

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Endpoints:
    metrics: str
    liveness: str

    @classmethod
    def pick(cls) -> Endpoints:
        return cls(
            f"http://127.0.0.1:{free_port()}/metrics",
            f"http://127.0.0.1:{free_port()}/healthz",
        )

    def args(self) -> tuple[str, ...]:
        port = self.metrics.split(":")[2].split("/")[0]
        return (
            f"--metrics-port={port}",
            "--metrics-address=127.0.0.1",
            f"--liveness={self.liveness}",
        )


async def scrape(url: str) -> Series:
    """Every sample of the endpoint, keyed by sample name and labels."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(url, timeout=5)).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, frozenset(labels.items())))


async def reachable(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            await client.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


class PodWorld(SafeWorld):
    endpoints: Endpoints


@pytest.fixture
def pod_env() -> dict[str, str]:
    """Extra operator environment (tests override this fixture)."""
    return {}


@pytest.fixture
async def pod(
    kube: ServedKube, cfgpu: ServedCfgpu, safe: ServedSafe, tmp_path: Path, pod_env: dict[str, str]
) -> AsyncIterator[PodWorld]:
    """Both kinds, metrics and liveness served, JSON logs: the operator as the chart runs it."""
    install_crds(kube.emulator.cluster)
    endpoints = Endpoints.pick()
    env = {
        "SAFE_API_URL": safe.url,
        "SAFE_API_TOKEN": SAFE_KEY,
        "CFGPU_OPERATOR_LOG_FORMAT": "json",
        **pod_env,
    }
    args = ("--standalone", *endpoints.args())
    operator = OperatorProcess(kube, cfgpu, tmp_path / "operator.log", env, args=args)
    await operator.start()
    world = PodWorld(kube, cfgpu, operator)
    world.safe, world.endpoints = safe, endpoints
    yield world
    await operator.stop()
