"""Emulated CFGPU: ``CfgpuEmulator`` with its config, catalog and clock."""

from cfgpu_operator.emulators.cfgpu.app import CfgpuEmulator, LoggedRequest
from cfgpu_operator.emulators.cfgpu.catalog import CatalogData
from cfgpu_operator.emulators.cfgpu.state import EmulatorConfig

__all__ = ["CatalogData", "CfgpuEmulator", "EmulatorConfig", "LoggedRequest"]
