"""The README's Quickstart, and the settings table of docs/configuration.md, match the code."""

from __future__ import annotations

import re
from pathlib import Path

from cfgpu_operator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def _section(title: str, text: str = README) -> str:
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_quickstart_holds_exactly_two_commands() -> None:
    blocks = re.findall(r"```[a-z]*\n(.*?)```", _section("Quickstart"), flags=re.S)
    assert len(blocks) == 2
    install_and_run, install_and_test = (block.strip() for block in blocks)
    assert "cfgpu-operator " in install_and_run
    assert "pip install" in install_and_run
    assert "pytest" in install_and_test
    assert "pip install" in install_and_test
    assert "'.[emulators]'" in install_and_run  # the demo runs the emulators


def test_every_setting_is_documented_with_its_default() -> None:
    table = _section("Settings", CONFIGURATION)
    for name, field in Settings.model_fields.items():
        row = next((line for line in table.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None, f"{name} missing from docs/configuration.md's settings table"
        default = field.default
        if default is not None and not hasattr(default, "get_secret_value"):
            shown = str(default).rstrip("/")
            shown = shown[:-2] if shown.endswith(".0") else shown
            assert f"`{shown}`" in row, f"{name}: documented default differs from {shown}"
