"""The README is the user's manual: its quickstart and settings table must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from cfgpu_operator.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_quickstart_holds_exactly_two_commands() -> None:
    blocks = re.findall(r"```[a-z]*\n(.*?)```", _section("Quickstart"), flags=re.S)
    assert len(blocks) == 2
    install_and_run, install_and_test = (block.strip() for block in blocks)
    assert "cfgpu-operator " in install_and_run
    assert "pip install" in install_and_run
    assert "pytest" in install_and_test
    assert "pip install" in install_and_test


def test_every_setting_is_documented_with_its_default() -> None:
    table = _section("Configuration")
    for name, field in Settings.model_fields.items():
        row = next((line for line in table.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None, f"{name} missing from the README's configuration table"
        default = field.default
        if default is not None and not hasattr(default, "get_secret_value"):
            shown = str(default).rstrip("/")
            shown = shown[:-2] if shown.endswith(".0") else shown
            assert f"`{shown}`" in row, f"{name}: README default differs from {shown}"


def _leaves(values: object, prefix: str = "") -> list[str]:
    if isinstance(values, dict) and values:
        return [leaf for k, v in values.items() for leaf in _leaves(v, f"{prefix}{k}.")]
    return [prefix.rstrip(".")]


def test_every_chart_value_is_in_the_values_table() -> None:
    import yaml

    chart = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "cfgpu-operator"
    values = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8"))
    table = _section("Install with Helm")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    for leaf in _leaves(values):
        # Nested maps (resources, security contexts, strategy) are documented as a whole.
        top = leaf.split(".", 1)[0]
        name = leaf.rsplit(".", 1)[-1]
        documented = any(
            f"`{leaf}`" in row
            or f"`{top}`" in row
            or (f"`.{name}`" in row and f"`{top}." in row)
            or (f", `{leaf}`" in row)
            for row in rows
        )
        assert documented, f"chart value {leaf} is missing from the README's values table"
