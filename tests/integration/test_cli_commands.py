"""`cfgpu-operator demo`, `catalog` and `crds` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import yaml

from cfgpu_operator.demo import load_samples, samples_dir
from tests.conftest import SAFE_KEY, TOKEN, ServedCfgpu, ServedSafe


async def cli(
    *args: str, env: dict[str, str] | None = None, within: float = 180
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cfgpu_operator.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    out, _ = await asyncio.wait_for(process.communicate(), within)
    return process.returncode or 0, out.decode()


async def test_demo_runs_samples_to_ready_and_releases_them() -> None:
    code, out = await cli("demo", "--transition-seconds", "1", "--deadline", "60")
    assert code == 0, out
    samples = load_samples()
    assert "every GpuInstance is Ready and every SafeWorkload has Succeeded" in out
    for sample in samples:
        name = sample["metadata"]["name"]
        assert f"applied {sample['kind']} {name}" in out
        shown = [line for line in out.splitlines() if f"  {name} " in line]
        wanted = "Succeeded" if sample["kind"] == "SafeWorkload" else "ready=True"
        assert any(wanted in line for line in shown), shown
    instances = sum(1 for s in samples if s["kind"] == "GpuInstance")
    assert f"instances released on CFGPU: {instances} of {instances}" in out
    assert "operator log: no WARNING or ERROR lines" in out


def test_samples_come_from_deploy_samples() -> None:
    assert samples_dir().name == "samples"
    kinds = [s["kind"] for s in load_samples()]
    assert set(kinds) == {"GpuInstance", "SafeWorkload"}
    assert kinds.index("SafeWorkload") > kinds.index("GpuInstance")  # refs exist first


async def test_catalog_lists_what_cfgpu_offers(cfgpu: ServedCfgpu) -> None:
    env = {"CFGPU_API_URL": cfgpu.url, "CFGPU_API_TOKEN": TOKEN}
    code, out = await cli("catalog", "gpus", env=env)
    assert code == 0, out
    assert out.splitlines()[0].split() == ["CODE", "NAME"]
    assert "nt8cyt3s  RTX 4090" in out
    code, out = await cli("catalog", "images", "-o", "json", env=env)
    images = json.loads(out)
    assert {
        "id": "image_exc6f72b",
        "source": "system",
        "name": "Tensorflow/2.15.0/3.11(ubuntu20.04)/12.2",
        "minSystemDiskGB": 0,
    } in images
    private = {"id": "image_gzo9zvxs", "source": "private", "name": "ComfyUI 定制版"}
    assert {**private, "minSystemDiskGB": 0} in images
    code, out = await cli("catalog", "images", "--adapt-type", "VM", env=env)
    assert code == 0, out
    assert out.splitlines()[0].split() == ["ID", "SOURCE", "NAME", "MINSYSTEMDISKGB"]
    assert "50" in next(line for line in out.splitlines() if "image_ubvm2204" in line)
    code, out = await cli("catalog", "regions", env={**env, "CFGPU_API_TOKEN": "wrong"})
    assert code != 0
    assert "token rejected" in out
    assert TOKEN not in out


async def test_crds_command_prints_the_generated_crds() -> None:
    code, out = await cli("crds")
    assert code == 0
    documents = [d for d in yaml.safe_load_all(out) if d]
    assert [d["metadata"]["name"] for d in documents] == [
        "gpuinstances.cfgpu.io",
        "safeworkloads.cfgpu.io",
    ]


async def test_run_refuses_bad_settings_naming_the_variable() -> None:
    code, out = await cli("run", env={"CFGPU_OPERATOR_POLL_FAST": "-1"})
    assert code != 0
    assert "CFGPU_OPERATOR_POLL_FAST" in out


async def test_catalog_lists_the_workspaces_a_key_may_use(safe: ServedSafe) -> None:
    env = {"SAFE_API_URL": safe.url, "SAFE_API_TOKEN": SAFE_KEY}
    code, out = await cli("catalog", "workspaces", env=env)
    assert code == 0, out
    assert out.splitlines()[0].split() == [
        "ID",
        "NAME",
        "PHASE",
        "SCOPES",
        "FREEGPUS",
        "FREECPU",
        "FREEMEMORYGI",
    ]
    code, out = await cli("catalog", "workspaces", "-o", "json", env=env)
    assert json.loads(out) == [
        {
            "id": "ws-train",
            "name": "train",
            "phase": "Running",
            "scopes": "Train,Infer,Authoring",
            "freeGpus": 16,
            "freeCpu": 256,
            "freeMemoryGi": 2048,
        }
    ]
    code, out = await cli("catalog", "workspaces", env={**env, "SAFE_API_TOKEN": "ak-wrong-key"})
    assert code != 0
    assert "invalid API key" in out
    assert SAFE_KEY not in out
