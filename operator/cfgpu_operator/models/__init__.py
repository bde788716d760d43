"""Pydantic spec and status models of the custom resources (the source of the CRD schemas)."""
