"""Kubeconfig files pointing Kopf, the Python client and kubectl at the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONTEXT = "cfgpu-emulator"


def kubeconfig(server: str, namespace: str = "default") -> dict[str, Any]:
    """A kubeconfig for ``server``; the emulator accepts any credentials, so a dummy token."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
        "users": [{"name": CONTEXT, "user": {"token": "emulator"}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
    }


def write_kubeconfig(path: Path, server: str, namespace: str = "default") -> Path:
    """Write it as JSON (valid YAML, so every client reads it) readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kubeconfig(server, namespace), indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path
