"""`cfgpu-operator demo`, `catalog` and `crds` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import yaml

from cfgpu_operator.demo import LAST_APPLIED, as_applied, free_port, load_samples, samples_dir
from cfgpu_operator.emulators.kubernetes import write_kubeconfig
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
    lines = out.splitlines()
    samples = load_samples()
    assert "every GpuInstance is Ready and every SafeWorkload has Succeeded" in out
    header = next(line for line in lines if line.startswith("TIME"))
    assert header.split() == ["TIME", "KIND", "NAME", "PHASE", "READY", "REASON", "EXTERNAL", "ID"]
    assert all(line == line.rstrip() for line in lines)  # no trailing padding
    for sample in samples:
        kind, name = sample["kind"], sample["metadata"]["name"]
        assert f"applied {kind} {name}" in out
        rows = [
            row
            for row in (line.split() for line in lines if line[:2].isdigit())  # HH:MM:SS rows
            if row[1:3] == [kind, name]
        ]
        if kind == "SafeWorkload":
            assert any(row[3] == "Succeeded" for row in rows), rows
        else:
            assert any(row[4] == "True" for row in rows), rows  # READY
    instances = sum(1 for s in samples if s["kind"] == "GpuInstance")
    assert f"instances released on CFGPU: {instances} of {instances}" in out
    assert "operator log: no WARNING or ERROR lines" in out
    log = next(line for line in lines if line.startswith("operator log: /"))
    assert not Path(log.split()[2]).parent.exists()  # the temporary directory is gone


async def test_ctrl_c_ends_a_kept_demo_with_a_closing_line_and_nothing_left() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cfgpu_operator.cli",
        "demo",
        "--keep",
        "--transition-seconds",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        # A shell's background job ignores SIGINT; a terminal's Ctrl-C does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None
    kept = ""
    while "export KUBECONFIG=" not in kept:
        kept = (await asyncio.wait_for(process.stdout.readline(), 90)).decode()
        assert kept, "the demo ended before it was kept"
    workdir = Path(kept.split("=", 1)[1].split()[0]).parent
    process.send_signal(signal.SIGINT)
    rest, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 130
    assert rest.decode().strip().splitlines()[-1].startswith("stopped: ")
    assert "Traceback" not in rest.decode()
    assert not workdir.exists()


def test_demo_objects_are_applied_as_kubectl_applies_them() -> None:
    """A later `kubectl apply -f deploy/samples/` then finds what was applied (no warning
    about a missing last-applied-configuration)."""
    for sample in load_samples():
        annotations = as_applied(sample)["metadata"]["annotations"]
        assert json.loads(annotations[LAST_APPLIED]) == sample


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
    assert "token无效或已过期" in out  # readable, not \u escapes as the body sent it
    assert "\\u" not in out
    assert TOKEN not in out


async def test_crds_command_prints_the_generated_crds() -> None:
    code, out = await cli("crds")
    assert code == 0
    documents = [d for d in yaml.safe_load_all(out) if d]
    assert [d["metadata"]["name"] for d in documents] == [
        "gpuinstances.cfgpu.io",
        "safeworkloads.cfgpu.io",
        "gpuquotas.cfgpu.io",
    ]


async def test_run_refuses_bad_settings_naming_the_variable() -> None:
    code, out = await cli("run", env={"CFGPU_OPERATOR_POLL_FAST": "-1"})
    assert code != 0
    assert "CFGPU_OPERATOR_POLL_FAST" in out


async def test_run_with_the_metrics_port_taken_says_so_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out = await cli("run", f"--metrics-port={port}", "--metrics-address=127.0.0.1")
    assert code == 1
    assert out.strip().splitlines() == [
        f"Error: cannot serve metrics on 127.0.0.1:{port} (Address already in use); free the "
        "port or choose another with --metrics-port (0 turns metrics off)"
    ]


async def test_run_without_a_cluster_says_so_in_one_line(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "absent"), "CFGPU_API_TOKEN": "t"}
    code, out = await cli("run", "--metrics-port=0", env=env, within=60)
    assert code == 1  # at once, instead of Kopf retrying for ever
    (line,) = out.strip().splitlines()
    assert line.startswith("Error: no Kubernetes cluster to talk to: not running in a pod")
    assert line.endswith("set KUBECONFIG or create ~/.kube/config")


async def test_run_with_an_api_server_that_does_not_answer_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{free_port()}")
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig), "CFGPU_API_TOKEN": "t"}
    code, out = await cli("run", "--metrics-port=0", env=env, within=60)
    assert code == 1
    (line,) = out.strip().splitlines()
    assert line == (
        "Error: cannot reach the Kubernetes API server (MaxRetryError); check KUBECONFIG and "
        "that the API server answers"
    )


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
