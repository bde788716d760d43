"""The generated CRDs: committed copies are current, and the API server enforces them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cfgpu_operator import crdgen
from cfgpu_operator.emulators.kubernetes.cluster import Cluster
from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from cfgpu_operator.emulators.kubernetes.status import ApiStatus

ROOT = Path(__file__).resolve().parents[2]
MERGE = "application/merge-patch+json"


def test_committed_crds_match_the_models() -> None:
    assert crdgen.stale(ROOT / "crds") == [], "run: cfgpu-operator crds --write crds"


def test_structural_inlines_refs_and_collapses_optionals() -> None:
    schema = {
        "$defs": {
            "Inner": {
                "title": "Inner",
                "type": "object",
                "properties": {"a": {"type": "integer", "title": "A"}},
            }
        },
        "properties": {
            "inner": {"$ref": "#/$defs/Inner", "description": "d"},
            "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        },
        "title": "Outer",
        "type": "object",
    }
    assert crdgen.structural(schema) == {
        "properties": {
            "inner": {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "description": "d",
            },
            "maybe": {"type": "string"},
        },
        "type": "object",
    }


def served(plural: str) -> tuple[Cluster, ResourceType]:
    """A fresh emulated API server with the committed CRD for ``plural`` applied."""
    cluster = Cluster()
    crds = cluster.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert crds is not None
    text = (ROOT / "crds" / f"{plural}.cfgpu.io.yaml").read_text(encoding="utf-8")
    cluster.create(crds, None, yaml.safe_load(text))
    kind = cluster.registry.get("cfgpu.io", "v1alpha1", plural)
    assert kind is not None
    return cluster, kind


@pytest.fixture
def cluster() -> tuple[Cluster, ResourceType]:
    return served("gpuinstances")


def spec(**overrides: Any) -> dict[str, Any]:
    return {
        "region": "hz",
        "gpuType": "RTX 4090",
        "image": {"system": "Tensorflow/2.15.0/3.11(ubuntu20.04)/12.2"},
        **overrides,
    }


def create(cluster: tuple[Cluster, ResourceType], **overrides: Any) -> dict[str, Any]:
    api, kind = cluster
    return api.create(kind, "default", {"metadata": {"name": "g"}, "spec": spec(**overrides)})


def refused(call: Any, *args: Any) -> str:
    with pytest.raises(ApiStatus) as caught:
        call(*args)
    assert caught.value.code == 422
    return caught.value.message


def test_defaults_are_applied(cluster: tuple[Cluster, ResourceType]) -> None:
    created = create(cluster)
    assert created["spec"] == {
        **spec(),
        "gpuCount": 1,
        "adaptType": "CONTAINER",
        "billing": {"priceType": "Usage", "serviceTime": 1},
        "disks": {"systemExpandGB": 0, "dataExpandGB": 0},
        "state": "Running",
        "managementPolicy": "Manage",
    }
    # No default: an unset deletionPolicy follows the operator's, which a chart value sets.
    assert "deletionPolicy" not in created["spec"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gpuCount": 9}, "spec.gpuCount in body should be less than or equal to 8"),
        ({"state": "Paused"}, 'spec.state: Unsupported value: "Paused"'),
        (
            {"image": {"id": "image_a", "system": "x"}},
            "image needs exactly one of id, system or private",
        ),
        ({"image": {}}, "image needs exactly one of id, system or private"),
        ({"image": {"id": "not-an-id"}}, "spec.image.id in body should match"),
        ({"billing": {"priceType": "Year"}}, "spec.billing.priceType: Unsupported value"),
        ({"region": ""}, "spec.region in body should be at least 1 chars long"),
        ({"lifecycle": {"stopAfter": "8 hours"}}, "spec.lifecycle.stopAfter in body should match"),
        ({"lifecycle": {"idleStopAfter": "1.5h"}}, "spec.lifecycle.idleStopAfter in body should"),
        (
            {"lifecycle": {"schedule": {"windows": [{"start": "0 9 * *", "stop": "0 19 * * *"}]}}},
            "spec.lifecycle.schedule.windows[0].start in body should match",
        ),
        (
            {"lifecycle": {"schedule": {"windows": []}}},
            "spec.lifecycle.schedule.windows in body should have at least 1 items",
        ),
    ],
)
def test_invalid_specs_are_refused_at_apply(
    cluster: tuple[Cluster, ResourceType], overrides: dict[str, Any], message: str
) -> None:
    assert message in refused(lambda: create(cluster, **overrides))


def test_missing_required_fields(cluster: tuple[Cluster, ResourceType]) -> None:
    api, kind = cluster
    message = refused(api.create, kind, "default", {"metadata": {"name": "g"}, "spec": {}})
    for field in ("spec.region", "spec.gpuType", "spec.image"):
        assert f"{field}: Required value" in message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"region": "cq"}, "region"),
        ({"gpuType": "H800"}, "gpuType"),
        ({"gpuCount": 2}, "gpuCount"),
        ({"adaptType": "VM"}, "adaptType"),
        ({"billing": {"priceType": "Day"}}, "billing"),
        ({"disks": {"dataExpandGB": 10}}, "disks"),
        ({"instanceId": "instance-other"}, "instanceId"),
    ],
)
def test_immutable_fields(
    cluster: tuple[Cluster, ResourceType], change: dict[str, Any], field: str
) -> None:
    api, kind = cluster
    create(cluster, instanceId="instance-mine")
    message = refused(api.patch, kind, "default", "g", MERGE, {"spec": change})
    assert f"{field} is immutable" in message


@pytest.mark.parametrize(
    ("initial", "change", "field"),
    [
        ({}, {"instanceId": "instance-later"}, "instanceId"),
        ({"instanceId": "instance-mine"}, {"instanceId": None}, "instanceId"),
        ({}, {"instanceName": "named-later"}, "instanceName"),
        ({"instanceName": "first-name"}, {"instanceName": None}, "instanceName"),
        ({"instanceName": "first-name"}, {"instanceName": "second-name"}, "instanceName"),
    ],
)
def test_set_once_fields_cannot_be_added_or_removed(
    cluster: tuple[Cluster, ResourceType],
    initial: dict[str, Any],
    change: dict[str, Any],
    field: str,
) -> None:
    api, kind = cluster
    create(cluster, **initial)
    message = refused(api.patch, kind, "default", "g", MERGE, {"spec": change})
    assert f"{field} is immutable" in message


def _strings(schema: dict[str, Any], where: str = "spec") -> list[str]:
    """Paths of string fields in a schema with no maxLength (enums and formats are bounded)."""
    if schema.get("type") == "string":
        bounded = any(key in schema for key in ("maxLength", "enum", "format"))
        return [] if bounded else [where]
    found = []
    for name, sub in (schema.get("properties") or {}).items():
        found += _strings(sub, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _strings(schema[key], f"{where}[]")
    return found


@pytest.mark.parametrize("plural", ["gpuinstances", "safeworkloads"])
def test_every_free_string_in_a_spec_has_a_maximum_length(plural: str) -> None:
    crd = crdgen.all_crds()[f"{plural}.cfgpu.io.yaml"]
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    assert _strings(schema["spec"]) == []
    conditions = schema["status"]["properties"]["conditions"]["items"]
    assert _strings(conditions, "status.conditions[]") == []


def test_a_huge_string_is_refused_at_apply(cluster: tuple[Cluster, ResourceType]) -> None:
    message = refused(lambda: create(cluster, region="x" * 1_000_000))
    assert "spec.region: Too long" in message


def test_mutable_fields(cluster: tuple[Cluster, ResourceType]) -> None:
    api, kind = cluster
    create(cluster)
    patched = api.patch(
        kind,
        "default",
        "g",
        MERGE,
        {
            "spec": {
                "state": "Stopped",
                "image": {"system": None, "id": "image_pt241c12"},
                "deletionPolicy": "Orphan",
                "managementPolicy": "ObserveOnly",
            }
        },
    )
    assert patched["spec"]["state"] == "Stopped"
    assert patched["spec"]["image"] == {"id": "image_pt241c12"}
    assert patched["metadata"]["generation"] == 2


@pytest.fixture
def workloads() -> tuple[Cluster, ResourceType]:
    return served("safeworkloads")


def workload_spec(**overrides: Any) -> dict[str, Any]:
    return {
        "workspaceId": "ws-train",
        "resources": [{"replica": 1, "cpu": "16", "gpu": "8", "memory": "256Gi"}],
        "images": ["registry/ai/pytorch:2.4"],
        "entryPoints": ["python train.py"],
        **overrides,
    }


def test_safeworkload_defaults(workloads: tuple[Cluster, ResourceType]) -> None:
    api, kind = workloads
    created = api.create(kind, "default", {"metadata": {"name": "w"}, "spec": workload_spec()})
    spec = created["spec"]
    assert (spec["kind"], spec["priority"], spec["deletionPolicy"]) == ("PyTorchJob", 0, "Delete")
    assert spec["onComplete"] == {"gpuInstances": "Keep"}
    # Unset means "the platform's default" (the workspace's maximum runtime, its TTL).
    assert "timeout" not in spec
    assert "ttlSecondsAfterFinished" not in spec


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"resources": []}, "spec.resources in body should have at least 1 items"),
        ({"priority": 3}, "spec.priority in body should be less than or equal to 2"),
        ({"kind": "Job"}, 'spec.kind: Unsupported value: "Job"'),
        ({"onComplete": {"gpuInstances": "Delete"}}, "spec.onComplete.gpuInstances"),
        # not a quantity: refused at apply instead of failing at the submit
        (
            {"resources": [{"replica": 1, "cpu": "one", "memory": "256Gi"}]},
            'spec.resources[0].cpu: Invalid value: "one": spec.resources[0].cpu in body should '
            "match",
        ),
        (
            {"resources": [{"replica": 1, "cpu": "16", "memory": "lots"}]},
            "spec.resources[0].memory",
        ),
    ],
)
def test_safeworkload_refused_at_apply(
    workloads: tuple[Cluster, ResourceType], overrides: dict[str, Any], message: str
) -> None:
    api, kind = workloads
    body = {"metadata": {"name": "w"}, "spec": workload_spec(**overrides)}
    assert message in refused(api.create, kind, "default", body)


@pytest.mark.parametrize(
    ("change", "field"), [({"workspaceId": "other"}, "workspaceId"), ({"kind": "RayJob"}, "kind")]
)
def test_safeworkload_immutable_fields(
    workloads: tuple[Cluster, ResourceType], change: dict[str, Any], field: str
) -> None:
    api, kind = workloads
    api.create(kind, "default", {"metadata": {"name": "w"}, "spec": workload_spec()})
    assert f"{field} is immutable" in refused(
        api.patch, kind, "default", "w", MERGE, {"spec": change}
    )


def _undescribed(schema: dict[str, Any], path: str, item: bool = False) -> list[str]:
    """Fields without a description (list items are described by their list field)."""
    missing = [] if item or schema.get("description") else [path]
    for name, sub in (schema.get("properties") or {}).items():
        missing += _undescribed(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        missing += _undescribed(schema["items"], f"{path}[]", item=True)
    return missing


@pytest.mark.parametrize("plural", ["gpuinstances", "safeworkloads"])
def test_kubectl_explain_has_a_description_for_every_field(plural: str) -> None:
    crd = yaml.safe_load((ROOT / "crds" / f"{plural}.cfgpu.io.yaml").read_text(encoding="utf-8"))
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    assert _undescribed(schema["spec"], "spec") == []
    assert _undescribed(schema["status"], "status") == []
