"""Stateful fakes of the external APIs, served over real HTTP on loopback.

Only tests, ``cfgpu-operator demo`` and ``cfgpu-operator emulate`` import this package.
"""
