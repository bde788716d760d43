"""operator/ is a source root: anything else in it would shadow the stdlib module `operator`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_operator_folder_holds_only_the_package() -> None:
    entries = {p.name for p in (ROOT / "operator").iterdir()} - {"__pycache__"}
    stray = {name for name in entries if not name.endswith(".egg-info")} - {"cfgpu_operator"}
    assert stray == set(), f"operator/ must hold only cfgpu_operator/, found {sorted(stray)}"


def test_import_operator_is_the_standard_library_from_the_repo_root() -> None:
    probe = "import operator, sys; print(operator.__file__); print(operator.itemgetter)"
    result = subprocess.run(  # noqa: S603 - fixed argv, our own interpreter
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    location = Path(result.stdout.splitlines()[0]).resolve()
    assert ROOT not in location.parents, f"`import operator` found {location}"
    assert "itemgetter" in result.stdout


def test_installed_package_is_importable_by_its_fixed_name() -> None:
    import cfgpu_operator

    assert Path(cfgpu_operator.__file__).parent.name == "cfgpu_operator"
