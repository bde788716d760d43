"""The emulated CFGPU's mutating calls, with the 10001/50001/52xxx rules of the references.

Which 52xxx code each illegal transition gets is an open point; this follows the "likely"
list in cfgpu-api-notes.md and picks the nearest code where the notes say nothing.
"""

from __future__ import annotations

from typing import Any

from cfgpu_operator.emulators.cfgpu.state import (
    FREE_SYSTEM_DISK,
    GIB,
    HOUR,
    PERIOD_HOURS,
    PRICE_TYPES,
    Account,
    BusinessError,
    CfgpuState,
    Instance,
)

MAX_NAME = 64
MAX_GPUS = 8

# Start and stop refused by the current status: (code, message).
_START_REFUSED = {
    "CREATING": ("52002", "实例正在开机中"),
    "STARTING": ("52002", "实例正在开机中"),
    "RUNNING": ("52003", "实例正在运行中"),
    "STOPPING": ("52004", "实例正在关机中"),
}
_STOP_REFUSED = {
    "CREATING": ("52002", "实例正在开机中"),
    "STARTING": ("52002", "实例正在开机中"),
    "STOPPING": ("52004", "实例正在关机中"),
    "CLOSED": ("52005", "实例已关机"),
}
_RELEASING = ("52006", "实例正在释放中")
_NEEDS_STOP = ("52007", "实例需要关机")


def _refuse(rule: tuple[str, str]) -> BusinessError:
    return BusinessError(*rule)


def _invalid(detail: str) -> BusinessError:
    return BusinessError("10001", f"请求参数错误: {detail}")


def _int_field(body: dict[str, Any], key: str, default: int | None, low: int, high: int) -> int:
    value = body.get(key, default)
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(key)
    if not low <= value <= high:
        raise _invalid(key)
    return value


def _check_create(state: CfgpuState, body: dict[str, Any]) -> None:
    if body.get("priceType") not in PRICE_TYPES:
        raise _invalid("priceType")
    if body.get("regionCode") not in state.catalog.regions:
        raise _invalid("regionCode")
    if state.catalog.gpu(str(body.get("gpuType"))) is None:
        raise _invalid("gpuType")
    _int_field(body, "gpuNum", None, 1, MAX_GPUS)
    _int_field(body, "serviceTime", 1, 1, 120)
    _int_field(body, "expandSize", 0, 0, 10_000)
    _int_field(body, "sysDiskExpandSize", 0, 0, 10_000)
    image = state.catalog.image(str(body.get("imageId")))
    if image is None:
        raise _invalid("imageId")
    system_gb = FREE_SYSTEM_DISK // GIB + int(body.get("sysDiskExpandSize") or 0)
    if state.config.enforce_image_min_disk and system_gb < image.min_system_disk:
        raise _invalid("sysDiskExpandSize")
    name = body.get("instanceName")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
        raise _invalid("instanceName")


def _upfront_cost(state: CfgpuState, instance: Instance) -> float:
    hours = PERIOD_HOURS[instance.price_type] * instance.service_time
    return state.hourly_price(instance) * hours


def _check_usage_balance(state: CfgpuState, instance: Instance) -> None:
    if instance.account.balance < state.hourly_price(instance) * 1.0:
        raise BusinessError("52001", "余额不足1小时")


def create(state: CfgpuState, account: Account, body: dict[str, Any]) -> Instance:
    _check_create(state, body)
    state.settle()  # the balance as of now
    now = state.clock.now()
    instance_id = state.new_id()
    instance = Instance(
        id=instance_id,
        name=body.get("instanceName") or f"实例-{instance_id[-6:]}",
        account=account,
        region_code=body["regionCode"],
        gpu_type=body["gpuType"],
        gpu_num=body["gpuNum"],
        image_id=body["imageId"],
        price_type=body["priceType"],
        service_time=body.get("serviceTime", 1),
        sys_expand_gb=body.get("sysDiskExpandSize", 0),
        data_expand_gb=body.get("expandSize", 0),
        status="CREATING",
        create_time=now,
    )
    if instance.prepaid:
        cost = _upfront_cost(state, instance)
        if account.balance < cost:
            raise BusinessError("50001", "余额不足")
    else:
        _check_usage_balance(state, instance)
    key = (instance.region_code, instance.gpu_type)
    if state.stock.get(key, 0) < instance.gpu_num:
        raise state.no_stock_error()
    state.stock[key] -= instance.gpu_num
    if instance.prepaid:
        account.balance -= cost
        instance.expire_time = (
            now + PERIOD_HOURS[instance.price_type] * HOUR * instance.service_time
        )
    state.instances[instance_id] = instance
    state.begin(instance, "CREATING", "RUNNING", state.config.create_seconds)
    state.order_changed()
    return instance


def start(state: CfgpuState, account: Account, instance_id: str) -> None:
    instance = _acting_on(state, account, instance_id)
    if instance.status in _START_REFUSED:
        raise _refuse(_START_REFUSED[instance.status])
    if instance.expired_since(state.clock.now()) is not None:
        raise BusinessError("52008", "实例已到期")
    if not instance.prepaid:
        _check_usage_balance(state, instance)
    state.begin(instance, "STARTING", "RUNNING", state.config.start_seconds)


def stop(state: CfgpuState, account: Account, instance_id: str) -> None:
    instance = _acting_on(state, account, instance_id)
    if instance.status in _STOP_REFUSED:
        raise _refuse(_STOP_REFUSED[instance.status])
    state.begin(instance, "STOPPING", "CLOSED", state.config.stop_seconds)


def release(state: CfgpuState, account: Account, instance_id: str) -> None:
    instance = _acting_on(state, account, instance_id)
    if instance.status not in ("CLOSED", "ERROR"):
        raise _refuse(_NEEDS_STOP)
    if instance.prepaid and instance.expired_since(state.clock.now()) is None:
        raise BusinessError("52009", "未到期包年包月实例暂不支持释放")
    state.begin(instance, "RELEASING", "RELEASED", state.config.release_seconds)


def change_image(state: CfgpuState, account: Account, instance_id: str, body: Any) -> None:
    instance = _acting_on(state, account, instance_id)
    image_id = body.get("imageId") if isinstance(body, dict) else None
    if not isinstance(image_id, str) or state.catalog.image(image_id) is None:
        raise _invalid("imageId")
    if instance.status != "CLOSED":
        raise _refuse(_NEEDS_STOP)
    instance.image_id = image_id


def _acting_on(state: CfgpuState, account: Account, instance_id: str) -> Instance:
    """The caller's instance, refusing any action while it is releasing or released."""
    instance = state.owned(account, instance_id)
    if instance.status in ("RELEASING", "RELEASED"):
        raise _refuse(_RELEASING)
    return instance
