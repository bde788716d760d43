"""The emulated CFGPU's state machine and rules, driven directly with a manual clock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cfgpu_operator.emulators.cfgpu import actions
from cfgpu_operator.emulators.cfgpu.catalog import CatalogData
from cfgpu_operator.emulators.cfgpu.state import (
    DAY,
    BusinessError,
    CfgpuState,
    EmulatorConfig,
    UnknownInstance,
)
from cfgpu_operator.emulators.clock import ManualClock

RTX4090 = "nt8cyt3s"  # 1.89 CNY per GPU-hour in the emulated catalog
BODY: dict[str, Any] = {
    "priceType": "Usage",
    "regionCode": "hz",
    "gpuType": RTX4090,
    "gpuNum": 1,
    "imageId": "image_exc6f72b",
    "instanceName": "trainer",
}
DELAYS = EmulatorConfig(create_seconds=5, start_seconds=3, stop_seconds=4, release_seconds=2)


class World:
    def __init__(self, config: EmulatorConfig = DELAYS, balance: float = 10_000.0) -> None:
        self.clock = ManualClock()
        self.state = CfgpuState(self.clock, config, CatalogData(default_stock=4))
        self.account = self.state.add_account("t", balance)

    def balance(self) -> float:
        self.state.settle()  # billing is lazy, like every other transition
        return self.account.balance

    def create(self, **overrides: Any) -> str:
        return actions.create(self.state, self.account, {**BODY, **overrides}).id

    def status(self, instance_id: str) -> str:
        return self.state.owned(self.account, instance_id).status

    def act(self, action: str, instance_id: str) -> None:
        {"start": actions.start, "stop": actions.stop, "release": actions.release}[action](
            self.state, self.account, instance_id
        )

    def in_status(self, status: str, **overrides: Any) -> str:
        """A new instance brought to ``status`` through the API's own transitions."""
        instance_id = self.create(**overrides)
        plans: dict[str, list[int | str]] = {
            "CREATING": [],
            "RUNNING": [5],
            "STOPPING": [5, "stop"],
            "CLOSED": [5, "stop", 4],
            "STARTING": [5, "stop", 4, "start"],
            "RELEASING": [5, "stop", 4, "release"],
            "RELEASED": [5, "stop", 4, "release", 2],
        }
        for step in plans[status]:
            if isinstance(step, str):
                self.act(step, instance_id)
            else:
                self.clock.advance(step)
        assert self.status(instance_id) == status
        return instance_id


@pytest.fixture
def world() -> World:
    return World()


@pytest.mark.parametrize(
    ("start", "action", "transient", "delay", "final"),
    [
        ("RUNNING", "stop", "STOPPING", 4, "CLOSED"),
        ("CLOSED", "start", "STARTING", 3, "RUNNING"),
        ("CLOSED", "release", "RELEASING", 2, "RELEASED"),
    ],
)
def test_transitions_pass_through_a_transient_status(
    world: World, start: str, action: str, transient: str, delay: float, final: str
) -> None:
    instance_id = world.in_status(start)
    world.act(action, instance_id)
    assert world.status(instance_id) == transient
    world.clock.advance(delay - 0.001)
    assert world.status(instance_id) == transient
    world.clock.advance(0.001)
    assert world.status(instance_id) == final


def test_create_is_creating_then_running(world: World) -> None:
    instance_id = world.create()
    assert world.status(instance_id) == "CREATING"
    world.clock.advance(5)
    assert world.status(instance_id) == "RUNNING"


@pytest.mark.parametrize(
    ("status", "action", "code"),
    [
        ("CREATING", "start", "52002"),
        ("STARTING", "start", "52002"),
        ("RUNNING", "start", "52003"),
        ("STOPPING", "start", "52004"),
        ("CREATING", "stop", "52002"),
        ("STARTING", "stop", "52002"),
        ("STOPPING", "stop", "52004"),
        ("CLOSED", "stop", "52005"),
        ("RELEASING", "start", "52006"),
        ("RELEASING", "stop", "52006"),
        ("RELEASING", "release", "52006"),
        ("RELEASED", "release", "52006"),
        ("RUNNING", "release", "52007"),
        ("STOPPING", "release", "52007"),
        ("CREATING", "release", "52007"),
    ],
)
def test_illegal_transitions_give_52xxx(world: World, status: str, action: str, code: str) -> None:
    instance_id = world.in_status(status)
    with pytest.raises(BusinessError) as caught:
        world.act(action, instance_id)
    assert caught.value.code == code
    assert world.status(instance_id) == status


@pytest.mark.parametrize("status", ["RUNNING", "STARTING", "RELEASING"])
def test_change_image_needs_a_stopped_instance(world: World, status: str) -> None:
    instance_id = world.in_status(status)
    with pytest.raises(BusinessError) as caught:
        actions.change_image(world.state, world.account, instance_id, {"imageId": "image_pt241c12"})
    assert caught.value.code == ("52006" if status == "RELEASING" else "52007")


def test_change_image_when_stopped(world: World) -> None:
    instance_id = world.in_status("CLOSED")
    actions.change_image(world.state, world.account, instance_id, {"imageId": "image_pt241c12"})
    assert world.state.get(instance_id).image_id == "image_pt241c12"
    with pytest.raises(BusinessError, match="10001"):
        actions.change_image(world.state, world.account, instance_id, {"imageId": "image_none"})


def test_prepaid_cannot_be_released_before_expiry_then_can(world: World) -> None:
    instance_id = world.in_status("CLOSED", priceType="Day", serviceTime=1)
    with pytest.raises(BusinessError) as caught:
        world.act("release", instance_id)
    assert caught.value.code == "52009"
    world.clock.advance(DAY)
    world.act("release", instance_id)
    assert world.status(instance_id) == "RELEASING"


def test_expired_prepaid_stops_refuses_start_and_is_released_later() -> None:
    world = World(EmulatorConfig(create_seconds=0, expired_release_seconds=2 * DAY))
    instance_id = world.create(priceType="Week", serviceTime=1)
    world.clock.advance(7 * DAY)
    assert world.status(instance_id) == "CLOSED"
    with pytest.raises(BusinessError) as caught:
        world.act("start", instance_id)
    assert caught.value.code == "52008"
    world.clock.advance(2 * DAY)
    assert world.status(instance_id) == "RELEASED"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priceType", "Year"),
        ("regionCode", "bj"),
        ("gpuType", "nope"),
        ("gpuNum", 0),
        ("gpuNum", 9),
        ("gpuNum", "1"),
        ("imageId", "image_missing"),
        ("serviceTime", 0),
        ("expandSize", -1),
        ("instanceName", "x" * 65),
    ],
)
def test_invalid_create_is_10001_and_rents_nothing(world: World, field: str, value: Any) -> None:
    with pytest.raises(BusinessError) as caught:
        world.create(**{field: value})
    assert caught.value.code == "10001"
    assert field in caught.value.message
    assert world.state.instances == {}


def test_missing_gpu_num_is_10001(world: World) -> None:
    body = {k: v for k, v in BODY.items() if k != "gpuNum"}
    with pytest.raises(BusinessError, match="10001"):
        actions.create(world.state, world.account, body)


@pytest.mark.parametrize(
    ("price_type", "balance", "code"), [("Usage", 1.0, "52001"), ("Day", 40.0, "50001")]
)
def test_balance_rules(price_type: str, balance: float, code: str) -> None:
    world = World(balance=balance)  # one RTX 4090 hour is 1.89, one day 45.36
    with pytest.raises(BusinessError) as caught:
        world.create(priceType=price_type)
    assert caught.value.code == code
    assert world.state.instances == {}


def test_prepaid_is_paid_upfront_and_usage_while_running() -> None:
    world = World(EmulatorConfig(create_seconds=0, stop_seconds=0), balance=1000.0)
    world.create(priceType="Day")
    assert world.balance() == pytest.approx(1000.0 - 24 * 1.89)
    usage = world.create(gpuNum=2)
    world.clock.advance(3600)
    assert world.balance() == pytest.approx(1000.0 - 24 * 1.89 - 2 * 1.89)
    world.act("stop", usage)
    world.clock.advance(3600)  # stopped: no charge
    assert world.balance() == pytest.approx(1000.0 - 24 * 1.89 - 2 * 1.89)


@pytest.mark.parametrize(("style", "code"), [("biz_error", "BIZ_ERROR"), ("codes", "51002")])
def test_no_stock_and_release_returns_stock(style: Any, code: str) -> None:
    world = World(
        EmulatorConfig(create_seconds=0, stop_seconds=0, release_seconds=0, no_stock=style)
    )
    first = world.create(gpuNum=4)
    with pytest.raises(BusinessError) as caught:
        world.create(gpuNum=1)
    assert caught.value.code == code
    world.act("stop", first)
    world.act("release", first)
    world.clock.advance(0)
    assert world.status(first) == "RELEASED"
    world.create(gpuNum=4)  # the four GPUs are free again


def test_released_instances_are_forgotten_after_retention() -> None:
    world = World(replace(DELAYS, released_retention_seconds=60))
    instance_id = world.in_status("RELEASED")
    world.clock.advance(60)
    with pytest.raises(UnknownInstance):
        world.status(instance_id)


def test_other_accounts_cannot_see_or_touch_an_instance(world: World) -> None:
    instance_id = world.in_status("RUNNING")
    stranger = world.state.add_account("other")
    with pytest.raises(UnknownInstance):
        actions.stop(world.state, stranger, instance_id)
    assert world.state.visible(stranger) == []


@pytest.mark.parametrize(("listed", "expected"), [(False, 0), (True, 1)])
def test_listing_released_instances_is_configurable(listed: bool, expected: int) -> None:
    world = World(replace(DELAYS, list_released=listed))
    world.in_status("RELEASED")
    assert len(world.state.visible(world.account)) == expected


def test_forced_error_status_can_still_be_stopped_and_released(world: World) -> None:
    instance_id = world.in_status("RUNNING")
    world.state.force_status(instance_id, "ERROR")
    world.act("release", instance_id)
    world.clock.advance(2)
    assert world.status(instance_id) == "RELEASED"


def test_a_request_touches_only_instances_with_something_due() -> None:
    """The emulator must hold 10,000 instances at flat cost per request, or a scale
    benchmark measures it instead of the operator: settling looks only at what is due."""
    world = World(balance=1e9)
    world.state.set_stock("hz", RTX4090, 1000)
    ids = [world.create(instanceName=f"flat-{n}") for n in range(500)]
    world.clock.advance(10)
    world.state.settle()  # all 500 become RUNNING: each is due once
    touched: list[str] = []
    settle_one = world.state._settle_one

    def counting(instance: Any, now: float) -> None:
        touched.append(instance.id)
        settle_one(instance, now)

    world.state._settle_one = counting  # type: ignore[method-assign]
    actions.stop(world.state, world.account, ids[0])
    world.clock.advance(10)
    for _ in range(20):
        world.state.settle()
    assert touched == [ids[0]]
    assert world.state.instances[ids[0]].status == "CLOSED"


def test_billing_per_account_is_exact_across_instances() -> None:
    """Three instances running for different spans cost exactly their GPU-hours."""
    world = World(balance=1000.0)
    first, second, third = (world.create(instanceName=f"b{n}") for n in range(3))
    world.clock.advance(5)  # all RUNNING at t=5
    world.state.settle()
    world.clock.advance(3600)  # t=3605
    actions.stop(world.state, world.account, first)  # STOPPING from t=3605: no more cost
    world.clock.advance(3600)  # t=7205
    actions.stop(world.state, world.account, second)
    world.clock.advance(3600)  # t=10805
    hours = 1 + 2 + 3  # first, second, third
    assert world.balance() == pytest.approx(1000.0 - 1.89 * hours)
    assert world.state.instances[third].status == "RUNNING"
