"""Fixtures shared by all tests: a manual clock, a served CFGPU emulator and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.http import ClientOptions, RetryPolicy
from cfgpu_operator.clients.safe import SafeClient
from cfgpu_operator.emulators.cfgpu import CfgpuEmulator, EmulatorConfig
from cfgpu_operator.emulators.clock import ManualClock
from cfgpu_operator.emulators.kubernetes import KubernetesEmulator, write_kubeconfig
from cfgpu_operator.emulators.safe import SafeConfig, SafeEmulator, Workspace

# Made-up tokens, long enough that an accidental echo is unmistakable in a scan.
TOKEN = "tok-test-3f9a1c7e5b2d4a6f8e0c1b3d5f7a9c2e"
OTHER_TOKEN = "tok-other-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"

# Retries fast enough to keep tests quick, slow enough to be visible in the request log.
FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05)
FAST_OPTIONS = ClientOptions(timeout=2.0, rate_limit=1000.0, retry=FAST_RETRY)


@dataclass
class ServedCfgpu:
    emulator: CfgpuEmulator
    url: str
    clock: ManualClock

    def client(self, token: str = TOKEN, options: ClientOptions = FAST_OPTIONS) -> CfgpuClient:
        return CfgpuClient(token, base_url=self.url, options=options)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(create_seconds=5, start_seconds=3, stop_seconds=3, release_seconds=3)


@pytest.fixture
async def cfgpu(clock: ManualClock, emulator_config: EmulatorConfig) -> AsyncIterator[ServedCfgpu]:
    emulator = CfgpuEmulator(
        clock=clock, config=emulator_config, tokens={TOKEN: 10_000.0, OTHER_TOKEN: 10_000.0}
    )
    async with emulator.serve() as url:
        yield ServedCfgpu(emulator, url, clock)


@pytest.fixture
async def client(cfgpu: ServedCfgpu) -> AsyncIterator[CfgpuClient]:
    async with cfgpu.client() as c:
        yield c


@dataclass
class ServedKube:
    emulator: KubernetesEmulator
    url: str
    kubeconfig: Path

    def api_client(self) -> Any:
        """A kubernetes (sync) ApiClient for it; call it through asyncio.to_thread."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[ServedKube]:
    emulator = KubernetesEmulator(bookmark_interval=0.5)
    async with emulator.serve() as url:
        yield ServedKube(emulator, url, write_kubeconfig(tmp_path / "kubeconfig", url))


SAFE_KEY = "ak-member-Jx3v9QkLm2Np7Rt5Wy8Za1Bc4De6Fg0Hi2Jk4Lm6No"
SAFE_ADMIN_KEY = "ak-admin-Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz0Xc2Vb4Nm6Qw"
SAFE_OTHER_KEY = "ak-other-Zx1Cv3Bn5Mq7Wr9Ty1Ui3Op5As7Df9Gh1Jk3Lz5Xc"


@dataclass
class ServedSafe:
    emulator: SafeEmulator
    url: str
    clock: ManualClock

    def client(self, key: str = SAFE_KEY, options: ClientOptions = FAST_OPTIONS) -> SafeClient:
        return SafeClient(key, base_url=self.url, options=options)


@pytest.fixture
def safe_config() -> SafeConfig:
    return SafeConfig(
        visibility_lag=0.5,
        schedule_seconds=1,
        dispatch_seconds=1,
        start_seconds=2,
        run_seconds=None,
    )


@pytest.fixture
async def safe(clock: ManualClock, safe_config: SafeConfig) -> AsyncIterator[ServedSafe]:
    emulator = SafeEmulator(clock=clock, config=safe_config)
    state = emulator.state
    state.add_workspace(Workspace("ws-train", "train", node_count=2))
    state.add_workspace(Workspace("ws-ray", "ray", scopes=("Ray",), node_count=1))
    state.add_user(SAFE_KEY, "alice", workspaces=("ws-train",))
    state.add_user(SAFE_OTHER_KEY, "bob", workspaces=("ws-train",))
    state.add_user(SAFE_ADMIN_KEY, "root", admin=True)
    async with emulator.serve() as url:
        yield ServedSafe(emulator, url, clock)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options of the reliability suite (tests/soak), registered here so that
    ``pytest -m soak`` from the repository root knows them."""
    parser.addoption("--soak-trials", type=int, default=3, help="trials per soak test")
    parser.addoption("--soak-seed", type=int, default=1, help="seed of the first soak trial")
