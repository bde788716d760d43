"""Emulated Kubernetes API server: ``KubernetesEmulator`` and kubeconfig helpers."""

from cfgpu_operator.emulators.kubernetes.app import KubernetesEmulator, LoggedRequest
from cfgpu_operator.emulators.kubernetes.kubeconfig import kubeconfig, write_kubeconfig

__all__ = ["KubernetesEmulator", "LoggedRequest", "kubeconfig", "write_kubeconfig"]
