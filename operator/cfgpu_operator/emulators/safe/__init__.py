"""Emulated Primus-SaFE: ``SafeEmulator`` with its config and data model."""

from cfgpu_operator.emulators.safe.app import LoggedRequest, SafeEmulator
from cfgpu_operator.emulators.safe.model import Workspace
from cfgpu_operator.emulators.safe.state import SafeConfig

__all__ = ["LoggedRequest", "SafeConfig", "SafeEmulator", "Workspace"]
