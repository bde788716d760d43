"""Every CFGPU endpoint through the real client and real HTTP against the emulator."""

from __future__ import annotations

import asyncio

import pytest

from cfgpu_operator.clients.catalog import Catalog, ImageRef
from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.cfgpu_wire import CreateInstanceRequest
from cfgpu_operator.emulators.cfgpu import EmulatorConfig
from cfgpu_operator.errors import ApiError
from tests.conftest import OTHER_TOKEN, ServedCfgpu


def request(name: str = "trainer", **overrides: object) -> CreateInstanceRequest:
    fields: dict[str, object] = {
        "price_type": "Usage",
        "region_code": "hz",
        "gpu_type": "nt8cyt3s",
        "gpu_num": 1,
        "image_id": "image_exc6f72b",
        "instance_name": name,
    }
    return CreateInstanceRequest.model_validate({**fields, **overrides})


async def test_catalog_lists(client: CfgpuClient) -> None:
    regions = await client.list_regions()
    assert ("hz", "杭州") in {(r.code, r.name) for r in regions}
    gpus = await client.list_gpu_types()
    assert ("nt8cyt3s", "RTX 4090") in {(g.code, g.name) for g in gpus}
    private = await client.list_private_images("CONTAINER")
    assert "ComfyUI 定制版" in {i.name for i in private}
    tree = await client.list_system_images("CONTAINER")
    assert {node.name for node in tree} >= {"Tensorflow", "PyTorch"}
    vm_tree = await client.list_system_images("VM")
    assert [node.name for node in vm_tree] == ["Ubuntu"]


async def test_catalog_resolution_over_http(client: CfgpuClient) -> None:
    catalog = Catalog(client)
    assert (await catalog.region("杭州")).code == "hz"
    assert (await catalog.gpu_type("rtx4090")).code == "nt8cyt3s"
    image = await catalog.image(ImageRef(system="Tensorflow/2.15.0/3.11(ubuntu20.04)/12.2"))
    assert image.id == "image_exc6f72b"
    assert (await catalog.image(ImageRef(private="my-trainer"))).id == "image_mytrain1"
    assert (await catalog.image(ImageRef(id="image_ubvm2204"), "VM")).min_system_disk == 50


async def test_catalog_is_cached_for_its_ttl(cfgpu: ServedCfgpu, client: CfgpuClient) -> None:
    now = [0.0]
    catalog = Catalog(client, ttl=60, clock=lambda: now[0])
    for _ in range(3):
        await catalog.gpu_type("H800")
    assert len(cfgpu.emulator.calls("gpu/list")) == 1
    now[0] = 60.0
    await catalog.gpu_type("H800")
    assert len(cfgpu.emulator.calls("gpu/list")) == 2


async def test_an_expired_catalog_is_fetched_once_for_all_who_ask(
    cfgpu: ServedCfgpu, client: CfgpuClient
) -> None:
    """No stampede when the TTL ends under load, also when the fetch fails."""
    now = [0.0]
    catalog = Catalog(client, ttl=60, clock=lambda: now[0])
    found = await asyncio.gather(*(catalog.gpu_type("H800") for _ in range(50)))
    assert {g.code for g in found} == {found[0].code}
    assert len(cfgpu.emulator.calls("gpu/list")) == 1
    now[0] = 61.0
    cfgpu.emulator.faults.http("gpu/list", 400, times=100)  # refused: not retried
    failed = await asyncio.gather(
        *(catalog.gpu_type("H800") for _ in range(50)), return_exceptions=True
    )
    assert all(isinstance(f, ApiError) for f in failed)
    assert len(cfgpu.emulator.calls("gpu/list")) == 2


async def test_instance_lifecycle(cfgpu: ServedCfgpu, client: CfgpuClient) -> None:
    instance_id = await client.create_instance(request())
    assert instance_id.startswith("instance-")
    assert (await client.get_instance_status(instance_id)).status_code == "CREATING"
    cfgpu.clock.advance(5)
    status = await client.get_instance_status(instance_id)
    assert (status.status_code, status.status) == ("RUNNING", "运行中")

    await client.stop_instance(instance_id)
    cfgpu.clock.advance(3)
    assert [s.status_code for s in await client.list_instance_statuses()] == ["CLOSED"]

    await client.change_image(instance_id, "image_pt241c12")
    await client.start_instance(instance_id)
    cfgpu.clock.advance(3)
    await client.stop_instance(instance_id)
    cfgpu.clock.advance(3)
    await client.release_instance(instance_id)
    cfgpu.clock.advance(3)
    assert (await client.get_instance_status(instance_id)).status_code == "RELEASED"
    assert await client.list_instance_statuses() == []
    assert [c.body for c in cfgpu.emulator.calls("instance/{id}/changeImage")] == [
        {"imageId": "image_pt241c12"}
    ]


async def test_page_record_details(cfgpu: ServedCfgpu, client: CfgpuClient) -> None:
    instance_id = await client.create_instance(request("detail", gpu_num=2, price_type="Day"))
    page = await client.page_instances(key_word="detail")
    assert (page.total, page.pages, page.current_page) == (1, 1, 1)
    record = page.records[0]
    assert record.instance_id == instance_id
    assert record.instance_name == "detail"
    assert (record.region_code, record.gpu_name, record.gpus) == ("hz", "RTX 4090", 2)
    assert record.consume_type_code == "Prepaid"
    assert record.create_time is not None
    assert record.expire_time == record.create_time + 86_400_000
    assert record.image_id == "image_exc6f72b"


async def test_page_filters_by_keyword_and_status(cfgpu: ServedCfgpu, client: CfgpuClient) -> None:
    first = await client.create_instance(request("ns-a-1"))
    await client.create_instance(request("ns-b-1"))
    cfgpu.clock.advance(5)
    await client.stop_instance(first)
    assert [r.instance_name for r in (await client.page_instances(key_word="ns-a")).records] == [
        "ns-a-1"
    ]
    stopping = await client.page_instances(status="STOPPING")
    assert [r.instance_id for r in stopping.records] == [first]


async def test_iterating_every_page(cfgpu: ServedCfgpu, client: CfgpuClient) -> None:
    cfgpu.emulator.state.set_stock("hz", "nt8cyt3s", 100)
    created = {await client.create_instance(request(f"bulk-{n}")) for n in range(23)}
    seen = [record.instance_id async for record in client.iter_instances(page_size=5)]
    assert sorted(seen) == sorted(created)
    one_page = [r async for r in client.iter_instances(key_word="bulk-7", page_size=5)]
    assert [r.instance_name for r in one_page] == ["bulk-7"]


async def test_accounts_are_separate(cfgpu: ServedCfgpu, client: CfgpuClient) -> None:
    await client.create_instance(request())
    async with cfgpu.client(OTHER_TOKEN) as other:
        assert await other.list_instance_statuses() == []


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(numeric_codes=False)])
async def test_codes_sent_as_strings_are_understood(client: CfgpuClient) -> None:
    from cfgpu_operator.errors import RejectedInput

    with pytest.raises(RejectedInput) as caught:
        await client.create_instance(request(region_code="nowhere"))
    assert caught.value.code == "10001"


async def test_base_url_may_include_the_api_prefix(cfgpu: ServedCfgpu) -> None:
    async with CfgpuClient("x", base_url=cfgpu.url + "/userapi/v1/") as client:
        from cfgpu_operator.errors import Unauthorized

        with pytest.raises(Unauthorized):
            await client.list_regions()
    assert cfgpu.emulator.calls()[-1].path == "/userapi/v1/region/list"


async def test_paging_goes_on_past_a_server_capped_page(
    cfgpu: ServedCfgpu, client: CfgpuClient
) -> None:
    """A server that caps pageSize at 50 answers short pages that are not the last."""
    cfgpu.emulator.state.config.max_page_size = 50
    cfgpu.emulator.state.set_stock("hz", "nt8cyt3s", 200)
    created = {await client.create_instance(request(f"many-{n}")) for n in range(120)}
    seen = [record.instance_id async for record in client.iter_instances(page_size=100)]
    assert len(seen) == 120
    assert set(seen) == created
