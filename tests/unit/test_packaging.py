"""What the image installs: the runtime dependencies of pyproject.toml, locked with hashes
for the Python minor version the tests run on, and nothing the emulators alone need."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "deploy" / "requirements.lock"
# Imported by the emulators and the demo only: absent from the image.
EMULATOR_ONLY = ("celpy", "kubernetes_validate")


def project() -> dict[str, Any]:
    found: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return found


def locked() -> dict[str, tuple[str, str]]:
    """Package -> (version, the entry's text with its hashes and its `# via` lines)."""
    text = LOCK.read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2])
    found: dict[str, tuple[str, str]] = {}
    for entry in entries:
        name, version = entry.split(" ", 1)[0].split("==")
        found[canonicalize_name(name)] = (version, entry)
    return found


def test_the_lock_pins_every_runtime_dependency_within_its_range() -> None:
    pins = locked()
    for spec in project()["dependencies"]:
        requirement = Requirement(spec)
        version, _ = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), f"{spec}: locked {version}"


def test_every_locked_package_has_hashes_and_is_needed_by_the_runtime() -> None:
    pins = locked()
    for name, (_, entry) in pins.items():
        assert "--hash=sha256:" in entry, name
        needed_by = {
            canonicalize_name(line.strip("# ").split(" ")[0])
            for line in entry.split("# via", 1)[1].splitlines()
            if line.strip("# ")
        }
        assert needed_by & ({"cfgpu-operator"} | set(pins)), f"{name} is not needed: {entry}"
    extras = project()["optional-dependencies"]
    emulator_only = {
        canonicalize_name(Requirement(r).name)
        for extra in ("emulators", "schemas")
        for r in extras[extra]
    }
    # jsonpatch stays: Kopf itself needs it.
    assert emulator_only & set(pins) <= {"jsonpatch"}


def test_lock_image_and_tests_use_one_python_minor_version() -> None:
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    header = LOCK.read_text(encoding="utf-8").splitlines()[1]
    assert f"--python-version {minor} " in header, header
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    bases = re.findall(r"^FROM python:(\d+\.\d+)\.", dockerfile, flags=re.M)
    assert bases == [minor, minor]
    assert "--require-hashes -r /tmp/requirements.lock" in dockerfile
    assert "--no-deps /tmp/dist/*.whl" in dockerfile


def test_the_runtime_imports_and_runs_without_the_emulator_packages() -> None:
    """As in the image: the operator's modules import, `run --help` and `check` work, and
    the demo says in one line what to install."""
    # A None in sys.modules makes an import fail as if the package were not installed.
    blocker = f"import sys\nsys.modules.update(dict.fromkeys({EMULATOR_ONLY!r}))\n"
    script = blocker + (
        "import importlib.util\n"
        f"assert all(importlib.util.find_spec(m) is None for m in {EMULATOR_ONLY!r})\n"
        "import cfgpu_operator.cli, cfgpu_operator.handlers.operator\n"
        "import cfgpu_operator.handlers.gpuinstance, cfgpu_operator.handlers.safeworkload\n"
        "from click.testing import CliRunner\n"
        "runner = CliRunner()\n"
        "result = runner.invoke(cfgpu_operator.cli.main, ['run', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "result = runner.invoke(cfgpu_operator.cli.main, ['demo'])\n"
        "print(result.exit_code, result.output.strip())\n"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    code, message = done.stdout.strip().split(" ", 1)
    assert code == "1"
    assert message == (
        "Error: the demo runs the emulators, which need the emulators extra: "
        "pip install 'cfgpu-operator[emulators]'"
    )
