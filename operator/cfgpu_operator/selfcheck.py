"""`cfgpu-operator check`: whether a running operator answers on its health and metrics
endpoints. The chart's `helm test` hook runs it in a pod next to the operator, from the
operator's own image, so the check needs nothing the image does not have."""

from __future__ import annotations

import httpx

from cfgpu_operator.metrics import PREFIX


def problems(health: str | None, metrics: str | None, timeout: float = 10.0) -> list[str]:
    """One sentence per endpoint that does not answer as it should; empty when all do."""
    found: list[str] = []
    with httpx.Client(timeout=timeout) as client:
        if health:
            found += _answers(client, "health", health, None)
        if metrics:
            found += _answers(client, "metrics", metrics, f"# HELP {PREFIX}")
    return found


def _answers(client: httpx.Client, what: str, url: str, must_hold: str | None) -> list[str]:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        return [f"the {what} endpoint {url} did not answer ({type(exc).__name__})"]
    if response.status_code != 200:
        return [f"the {what} endpoint {url} answered HTTP {response.status_code}"]
    if must_hold is not None and must_hold not in response.text:
        return [f"the {what} endpoint {url} answered without the operator's metrics"]
    return []
