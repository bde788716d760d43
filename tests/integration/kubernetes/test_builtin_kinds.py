"""Built-in kinds are checked against Kubernetes' own schemas, as a real server decodes and
validates them (kubernetes-validate, a dev dependency, carries the schemas)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cfgpu_operator.emulators.kubernetes import builtin_schemas
from tests.conftest import ServedKube

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name: str, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    container = {"name": "c", "image": "registry.example/op:1"}
    body: dict[str, Any] = {
        "replicas": 2,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
    }
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": body}


@pytest.fixture
async def http(kube: ServedKube) -> Any:
    assert builtin_schemas.AVAILABLE  # the dev extra installs kubernetes-validate
    async with httpx.AsyncClient(base_url=kube.url, timeout=10) as client:
        yield client


async def test_a_valid_deployment_is_stored(http: httpx.AsyncClient) -> None:
    answer = await http.post(DEPLOYMENTS, json=deployment("op"))
    assert answer.status_code == 201
    assert answer.json()["spec"]["replicas"] == 2


async def test_unknown_fields_follow_the_requests_field_validation(
    http: httpx.AsyncClient,
) -> None:
    typo = deployment("op", replicass=3)
    strict = await http.post(DEPLOYMENTS, params={"fieldValidation": "Strict"}, json=typo)
    assert strict.status_code == 400
    assert 'strict decoding error: unknown field "spec.replicass"' in strict.json()["message"]
    warned = await http.post(DEPLOYMENTS, json=typo)  # no directive: Warn
    assert warned.status_code == 201
    assert warned.headers["Warning"] == '299 - "unknown field \\"spec.replicass\\""'
    assert "replicass" not in warned.json()["spec"]  # dropped, as a server's decoder does


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        ({"replicas": "two"}, 400, "spec.replicas: 'two' is not of type"),
        ({"selector": None}, 422, 'Deployment.apps "op" is invalid'),
    ],
)
async def test_wrong_types_and_missing_fields_are_refused(
    http: httpx.AsyncClient, spec: dict[str, Any], code: int, message: str
) -> None:
    body = deployment("op", **spec)
    if spec.get("selector", 1) is None:
        del body["spec"]["selector"]
    answer = await http.post(DEPLOYMENTS, json=body)
    assert answer.status_code == code
    assert message in answer.json()["message"]
