"""Every spec field reaches the API or is one the operator uses itself: a new field that is
neither fails here, so nothing declared in a CRD is silently dropped on the way out."""

from __future__ import annotations

from cfgpu_operator.clients.catalog import ResolvedImage
from cfgpu_operator.handlers import cfgpu_mapping
from cfgpu_operator.models.gpuinstance import GpuInstanceSpec
from tests.unit.reconcile.gpuinstance_views import spec


def test_every_gpuinstance_spec_field_is_mapped_or_operator_only() -> None:
    fields = {f.alias or name for name, f in GpuInstanceSpec.model_fields.items()}
    mapped = cfgpu_mapping.SENT_ON_CREATE | cfgpu_mapping.OPERATOR_ONLY
    assert fields == mapped
    assert not cfgpu_mapping.SENT_ON_CREATE & cfgpu_mapping.OPERATOR_ONLY


def test_the_create_request_carries_every_sent_field() -> None:
    wanted = spec(
        gpuCount=2,
        billing={"priceType": "Week", "serviceTime": 3},
        disks={"systemExpandGB": 5, "dataExpandGB": 40},
    )
    image = ResolvedImage("image_a", "tf", "system", min_system_disk=0)
    request, expand = cfgpu_mapping.create_request(wanted, "k8s-n", "hz", "nt8cyt3s", image)
    body = request.model_dump(by_alias=True)
    assert body == {
        "priceType": "Week",
        "regionCode": "hz",
        "gpuType": "nt8cyt3s",
        "gpuNum": 2,
        "imageId": "image_a",
        "serviceTime": 3,
        "instanceName": "k8s-n",
        "expandSize": 40,
        "sysDiskExpandSize": 5,
    }
    assert expand == 5


def test_the_system_disk_grows_to_what_the_image_needs() -> None:
    image = ResolvedImage("image_vm", "ubuntu", "system", min_system_disk=50)
    request, expand = cfgpu_mapping.create_request(spec(), "k8s-n", "hz", "g", image)
    assert request.sys_disk_expand_size == expand == 20


def test_every_safeworkload_spec_field_is_mapped_or_operator_only() -> None:
    from cfgpu_operator.handlers import safe_mapping
    from cfgpu_operator.models.safeworkload import SafeWorkloadSpec

    fields = {f.alias or name for name, f in SafeWorkloadSpec.model_fields.items()}
    assert fields == safe_mapping.SENT_ON_CREATE | safe_mapping.OPERATOR_ONLY
    assert not safe_mapping.SENT_ON_CREATE & safe_mapping.OPERATOR_ONLY


def test_nodes_affinity_goes_with_specified_nodes() -> None:
    from cfgpu_operator.handlers import safe_mapping
    from cfgpu_operator.models.safeworkload import SafeWorkloadSpec

    base = {"workspaceId": "ws", "resources": [{"cpu": "1", "memory": "1Gi"}]}
    pinned = SafeWorkloadSpec.model_validate(
        {**base, "specifiedNodes": ["n1"], "nodesAffinity": "preferred"}
    )
    args = {"name": "w", "workload_id": "swl-w", "uid": "u", "secret_env": {}, "dependencies": []}
    request = safe_mapping.create_request(pinned, **args)  # type: ignore[arg-type]
    assert request.nodes_affinity == "preferred"
    free = SafeWorkloadSpec.model_validate(base)
    assert safe_mapping.create_request(free, **args).nodes_affinity is None  # type: ignore[arg-type]
