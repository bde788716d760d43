"""`cfgpu-operator emulate cfgpu` as a user runs it: a process serving on loopback."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.errors import Unauthorized

BANNER_DEADLINE = 30.0


def _command() -> list[str]:
    script = shutil.which("cfgpu-operator", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "cfgpu_operator.cli"]


@contextmanager
def started(*args: str) -> Iterator[str]:
    """Run ``cfgpu-operator emulate ...`` until its banner names the URL; yield that URL."""
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [*_command(), "emulate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + BANNER_DEADLINE
        line = ""
        while time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline()
            if "emulator on" in line:
                break
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, f"no banner from the emulator: {line!r}"
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def emulator_process() -> Iterator[tuple[str, None]]:
    with started(
        "cfgpu", "--port", "0", "--token", "cli-token", "--transition-seconds", "0"
    ) as url:
        yield url, None


async def test_emulate_cfgpu_serves_the_api_on_loopback(
    emulator_process: tuple[str, None],
) -> None:
    url, _ = emulator_process
    async with CfgpuClient("cli-token", base_url=url) as client:
        assert "RTX 4090" in {gpu.name for gpu in await client.list_gpu_types()}
    async with CfgpuClient("not-the-token", base_url=url) as client:
        with pytest.raises(Unauthorized):
            await client.list_regions()


def test_help_lists_the_emulate_command() -> None:
    result = subprocess.run(  # noqa: S603 - our own console script
        [*_command(), "--help"], capture_output=True, text=True, check=True
    )
    assert "emulate" in result.stdout


async def test_emulate_kubernetes_writes_a_working_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    with started("kubernetes", "--port", "0", "--kubeconfig", str(kubeconfig)):
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        namespaces = await asyncio.to_thread(client.CoreV1Api(api).list_namespace)
        await asyncio.to_thread(api.close)
    assert "default" in {ns.metadata.name for ns in namespaces.items if ns.metadata}
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"


async def test_emulate_safe_serves_the_api_on_loopback() -> None:
    from cfgpu_operator.clients.safe import SafeClient

    with started("safe", "--port", "0", "--key", "ak-cli-key") as url:
        async with SafeClient("ak-cli-key", base_url=url) as client:
            assert [w.workspace_id for w in await client.list_workspaces()] == ["ws-train"]
