"""cfgpu-operator: GPU instances on CFGPU and AI workloads on Primus-SaFE as Kubernetes objects."""

__version__ = "0.1.0"
