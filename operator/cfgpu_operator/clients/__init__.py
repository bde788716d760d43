"""Async clients for the external REST APIs: no Kubernetes, no Kopf."""
