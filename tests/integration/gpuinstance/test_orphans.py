"""Orphans through the real operator: instances this cluster named that no GpuInstance
records are reported (Warning Event on the cluster's ConfigMap) and, with the Release
policy, stopped and released; the names of other clusters, of earlier builds and of people
are never touched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cfgpu_operator.handlers.cluster import CONFIGMAP
from tests.conftest import TOKEN, ServedCfgpu, ServedKube
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World, install_crds
from tests.integration.test_cfgpu_client_endpoints import request
from tests.integration.test_cli_commands import cli

CID = "c0ffee"
FAST = {"CFGPU_OPERATOR_CLUSTER_ID": CID, "CFGPU_OPERATOR_ORPHAN_GRACE": "1"}


async def rent(cfgpu: ServedCfgpu, name: str, **overrides: object) -> str:
    """An instance rented outside the operator, with the operator's token."""
    async with cfgpu.client() as client:
        instance_id = await client.create_instance(request(name, **overrides))
    cfgpu.clock.advance(5)  # created
    return instance_id


def cluster_map(world: World) -> dict[str, Any]:
    configmaps = world.cluster.registry.get("", "v1", "configmaps")
    assert configmaps is not None
    found: dict[str, Any] = world.cluster.store.get(configmaps.key, "default", CONFIGMAP) or {}
    return found


def status(world: World, instance_id: str) -> str:
    return str(world.cfgpu.emulator.state.instances[instance_id].status)


async def test_a_made_cluster_id_is_kept_and_names_new_instances(world: World) -> None:
    world.apply("trainer")
    await eventually(lambda: world.status("trainer").get("instanceName"), what="named")
    stored = cluster_map(world)["data"]["clusterId"]
    assert len(stored) == 6
    name = world.status("trainer")["instanceName"]
    assert name.startswith(f"k8sc-{stored}-default-trainer-")


@pytest.mark.parametrize("operator_env", [FAST])
async def test_an_orphan_is_reported_once_and_left_alone(world: World) -> None:
    orphan = await rent(world.cfgpu, f"k8sc-{CID}-default-ghost-0badf00d")
    others = [
        await rent(world.cfgpu, "k8sc-beef01-default-ghost-0badf00d"),  # another cluster's
        await rent(world.cfgpu, "k8s-default-ghost-0badf00d"),  # an earlier build's
        await rent(world.cfgpu, "My-GPU-Instance"),  # a person's
    ]
    world.apply("trainer")  # the operator polls the account
    await eventually(lambda: world.status("trainer").get("cfgpuStatus") == "CREATING")
    world.cfgpu.clock.advance(5)
    await world.phase("trainer", "Running")
    (event,) = await eventually(lambda: world.events("OrphanedInstance"), what="the Event")
    assert event["type"] == "Warning"
    assert event["involvedObject"]["kind"] == "ConfigMap"
    assert event["involvedObject"]["name"] == CONFIGMAP
    assert orphan in event["message"]
    assert "no GpuInstance records it" in event["message"]
    await world.polls_ended(since=len(world.cfgpu.emulator.calls()), count=3)
    assert len(world.events("OrphanedInstance")) == 1  # once, not per poll
    assert world.cfgpu.emulator.calls("instance/{id}/stop") == []  # Report: nothing done
    assert world.status("trainer")["instanceId"] not in event["message"]
    assert all(other not in event["message"] for other in others)


@pytest.mark.parametrize("operator_env", [{**FAST, "CFGPU_OPERATOR_ORPHAN_POLICY": "Release"}])
async def test_the_release_policy_stops_and_releases_only_orphans(world: World) -> None:
    orphan = await rent(world.cfgpu, f"k8sc-{CID}-default-ghost-0badf00d")
    other = await rent(world.cfgpu, "k8sc-beef01-default-ghost-0badf00d")
    # Prepaid: stopping it saves nothing, and CFGPU refuses its release until it expires.
    prepaid = await rent(world.cfgpu, f"k8sc-{CID}-default-paid-0badf00d", price_type="Day")
    adopted = await rent(world.cfgpu, f"k8sc-{CID}-default-kept-0badf00d")
    world.apply("kept", instanceId=adopted)  # claimed: never an orphan
    await world.phase("kept", "Running")
    await eventually(lambda: status(world, orphan) == "STOPPING", what="the orphan stopped")
    world.cfgpu.clock.advance(5)
    await eventually(lambda: status(world, orphan) == "RELEASING", what="then released")
    world.cfgpu.clock.advance(5)
    await eventually(lambda: status(world, orphan) == "RELEASED")
    assert status(world, other) == "RUNNING"
    assert status(world, adopted) == "RUNNING"
    assert status(world, prepaid) == "RUNNING"
    stops = world.cfgpu.emulator.calls("instance/{id}/stop")
    releases = world.cfgpu.emulator.calls("instance/{id}/release")
    assert (len(stops), len(releases)) == (1, 1)


PRICES = json.dumps({"RTX 4090": {"Usage": 1.89}})


async def orphans_cli(world_kube: ServedKube, cfgpu: ServedCfgpu, *args: str) -> tuple[int, str]:
    env = {
        "KUBECONFIG": str(world_kube.kubeconfig),
        "CFGPU_API_URL": cfgpu.url,
        "CFGPU_API_TOKEN": TOKEN,
        "CFGPU_OPERATOR_LEASE_NAMESPACE": "default",
        "CFGPU_OPERATOR_PRICES": PRICES,
    }
    return await cli("orphans", *args, env=env, within=60)


@pytest.mark.parametrize("operator_env", [{"CFGPU_OPERATOR_ORPHAN_GRACE": "1"}])
async def test_the_orphans_command_lists_what_the_operator_reports(world: World) -> None:
    world.apply("trainer")
    await eventually(lambda: world.status("trainer").get("cfgpuStatus") == "CREATING")
    cid = cluster_map(world)["data"]["clusterId"]
    orphan = await rent(world.cfgpu, f"k8sc-{cid}-default-ghost-0badf00d")  # the trainer too
    await rent(world.cfgpu, "k8sc-beef01-default-ghost-0badf00d")
    await world.phase("trainer", "Running")
    code, out = await orphans_cli(world.kube, world.cfgpu, "-o", "json")
    assert code == 0, out
    (row,) = json.loads(out)
    assert (row["id"], row["status"]) == (orphan, "RUNNING")
    assert (row["gpu"], row["costPerHour"]) == ("1x RTX 4090", "1.89")  # from the price table
    assert len(row["account"]) == 8
    assert TOKEN not in out
    code, out = await orphans_cli(world.kube, world.cfgpu)
    header, line = out.strip().splitlines()
    assert header.split() == ["ID", "NAME", "STATUS", "GPU", "AGE", "COST/H", "ACCOUNT"]
    assert line.startswith(orphan)
    assert "1.89 CNY" in line


async def test_the_orphans_command_before_the_operator_ever_ran(
    kube: ServedKube, cfgpu: ServedCfgpu
) -> None:
    install_crds(kube.emulator.cluster)
    code, out = await orphans_cli(kube, cfgpu)
    assert (code, out.strip()) == (
        0,
        "this cluster has no id yet: the operator never ran here, so it named nothing",
    )
    code, out = await orphans_cli(kube, cfgpu, "-o", "json")
    assert (code, json.loads(out)) == (0, [])
