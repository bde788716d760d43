"""The chart's RBAC against the operator's real API calls: nothing missing, nothing unused.

The operator runs as the chart runs it (leader election on, both kinds served) through a
whole life cycle: a GpuInstance with its own Secret is created, runs and is deleted under a
GpuQuota, a SafeWorkload is submitted, an orphaned instance is reported, the operator stops
cleanly.
The Kubernetes emulator records every request it made; the rules rendered by Helm must allow
each one, and each rule must have been used.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest

from cfgpu_operator.emulators.kubernetes.app import LoggedRequest
from tests.chart.render import objects
from tests.conftest import OTHER_TOKEN, SAFE_KEY, ServedCfgpu, ServedKube, ServedSafe
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import OperatorProcess, install_crds
from tests.integration.safeworkload.conftest import SafeWorld
from tests.integration.test_cfgpu_client_endpoints import request

RELEASE_NS, WORK_NS = "cfgpu-system", "ml"
CLUSTER_ID = "c0ffee"
SA = ("ServiceAccount", RELEASE_NS, "cfgpu-operator")


@dataclass(frozen=True)
class Grant:
    group: str
    resource: str  # with "/subresource"
    verb: str
    namespace: str | None  # None: every namespace (a ClusterRole bound cluster-wide)


def grants(values: dict[str, Any]) -> set[Grant]:
    """What the rendered RBAC grants the operator's ServiceAccount."""
    objs = objects(values)
    roles = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o["rules"]
        for o in objs
        if o["kind"] in ("Role", "ClusterRole")
    }
    found: set[Grant] = set()
    for binding in (o for o in objs if o["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        subjects = {(s["kind"], s.get("namespace"), s["name"]) for s in binding["subjects"]}
        if SA not in subjects:
            continue
        namespace = binding["metadata"].get("namespace")
        ref = binding["roleRef"]
        role_ns = namespace if ref["kind"] == "Role" else None
        for rule in roles[(ref["kind"], role_ns, ref["name"])]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
            found |= {
                Grant(group, resource, verb, namespace)
                for group in rule["apiGroups"]
                for resource in rule["resources"]
                for verb in rule["verbs"]
            }
    return found


def needed(call: LoggedRequest) -> Grant:
    resource = f"{call.resource}/{call.subresource}" if call.subresource else call.resource
    return Grant(call.group, resource, call.verb, call.namespace)


def allowed(call: Grant, granted: set[Grant]) -> bool:
    return any(
        (g.group, g.resource, g.verb) == (call.group, call.resource, call.verb)
        and g.namespace in (None, call.namespace)
        for g in granted
    )


async def life_cycle(world: SafeWorld, operator: OperatorProcess) -> list[LoggedRequest]:
    secrets = world.cluster.registry.get("", "v1", "secrets")
    assert secrets is not None
    token = base64.b64encode(OTHER_TOKEN.encode()).decode()
    world.cluster.create(
        secrets, WORK_NS, {"metadata": {"name": "gpu-cloud"}, "data": {"token": token}}
    )
    config = world.cfgpu.emulator.config
    config.create_seconds = config.stop_seconds = config.release_seconds = 0
    async with world.cfgpu.client() as client:  # an orphan: a Warning Event on the ConfigMap
        await client.create_instance(request(f"k8sc-{CLUSTER_ID}-{WORK_NS}-ghost-0badf00d"))
    quotas = world.kind(plural="gpuquotas")
    world.cluster.create(quotas, WORK_NS, {"metadata": {"name": "team"}, "spec": {"maxGpus": 8}})
    await operator.start()
    await eventually(lambda: "leading:" in operator.log(), what="leader")
    # The workload waits for the instance, runs, and on success releases it: the operator
    # then deletes the GpuInstance, whose finalizer releases the instance.
    world.apply("a", namespace=WORK_NS, credentialsSecretRef={"name": "gpu-cloud"})
    world.submit(
        "w", namespace=WORK_NS, gpuInstanceRefs=["a"], onComplete={"gpuInstances": "Release"}
    )
    await world.phase("a", "Running", namespace=WORK_NS)
    safe = world.safe.emulator.state
    await eventually(lambda: len(safe.workloads) == 1, what="submitted")
    (workload,) = safe.workloads.values()
    world.safe.clock.advance(6)
    await eventually(lambda: world.wstatus("w", WORK_NS).get("phase") == "Running")
    safe.finish(workload.id, "Succeeded")
    await eventually(lambda: world.get("a", WORK_NS) is None, what="instance handed back")
    await eventually(lambda: world.cfgpu.emulator.calls("instance/{id}/release"), what="release")
    await eventually(lambda: world.events("OrphanedInstance"), what="the orphan's Event")
    quota = world.cluster.store.get(quotas.key, WORK_NS, "team") or {}
    assert (quota.get("status") or {}).get("gpus", "").endswith("/8")  # its status written
    await operator.stop()  # a clean stop hands the Lease back (an update)
    return [c for c in world.kube.emulator.calls() if c.verb != "discovery"]


@pytest.mark.parametrize(
    ("values", "scope"),
    [
        ({}, ("--all-namespaces",)),
        ({"watchNamespaces": [WORK_NS]}, (f"--namespace={WORK_NS}",)),
    ],
    ids=["cluster-wide", "one-namespace"],
)
async def test_rendered_rbac_is_exactly_what_the_operator_uses(
    kube: ServedKube,
    cfgpu: ServedCfgpu,
    safe: ServedSafe,
    tmp_path: Any,
    values: dict[str, Any],
    scope: tuple[str, ...],
) -> None:
    install_crds(kube.emulator.cluster)
    namespaces = kube.emulator.cluster.registry.get("", "v1", "namespaces")
    assert namespaces is not None
    for name in (RELEASE_NS, WORK_NS):
        kube.emulator.cluster.create(namespaces, None, {"metadata": {"name": name}})
    env = {
        "SAFE_API_URL": safe.url,
        "SAFE_API_TOKEN": SAFE_KEY,
        "CFGPU_OPERATOR_LEASE_NAMESPACE": RELEASE_NS,
        "CFGPU_OPERATOR_LEASE_SECONDS": "3",
        "CFGPU_OPERATOR_CLUSTER_ID": CLUSTER_ID,
        "CFGPU_OPERATOR_ORPHAN_GRACE": "1",
    }
    operator = OperatorProcess(
        kube, cfgpu, tmp_path / "operator.log", env, args=("--metrics-port=0",), scope=scope
    )
    world = SafeWorld(kube, cfgpu, operator)
    world.safe = safe
    try:
        calls = await life_cycle(world, operator)
    finally:
        await operator.stop()

    granted = grants(values)
    used = {needed(c) for c in calls}
    missing = {c for c in used if not allowed(c, granted)}
    assert missing == set(), f"the operator was denied: {sorted(map(str, missing))}"
    unused = {
        g
        for g in granted
        if not any(
            (u.group, u.resource, u.verb) == (g.group, g.resource, g.verb)
            and g.namespace in (None, u.namespace)
            for u in used
        )
    }
    assert unused == set(), f"granted but never used: {sorted(map(str, unused))}"
