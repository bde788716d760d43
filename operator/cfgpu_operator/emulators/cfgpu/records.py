"""How the emulated CFGPU renders instances: status rows and instance/page records."""

from __future__ import annotations

from typing import Any

from cfgpu_operator.emulators.cfgpu.state import (
    FREE_DATA_DISK,
    FREE_SYSTEM_DISK,
    GIB,
    NAMES_ZH,
    CfgpuState,
    Instance,
)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def status_row(instance: Instance) -> dict[str, Any]:
    return {
        "instanceId": instance.id,
        "statusCode": instance.status,
        "status": NAMES_ZH.get(instance.status, instance.status),
    }


def page_record(state: CfgpuState, instance: Instance) -> dict[str, Any]:
    catalog = state.catalog
    gpu = catalog.gpu(instance.gpu_type)
    image = catalog.image(instance.image_id)
    now = state.clock.now()
    since = instance.expired_since(now)
    sys_disk = FREE_SYSTEM_DISK + instance.sys_expand_gb * GIB
    data_disk = FREE_DATA_DISK + instance.data_expand_gb * GIB
    return {
        **status_row(instance),
        "instanceName": instance.name,
        "regionCode": instance.region_code,
        "region": catalog.regions.get(instance.region_code, instance.region_code),
        "imageId": instance.image_id,
        "imageName": catalog.image_name(image) if image else "",
        "gpuType": instance.gpu_type,
        "gpuName": gpu.name if gpu else "",
        "gpus": instance.gpu_num,
        "cpuCode": "xeon8352v",
        "cpuName": "Intel Xeon Platinum 8352V",
        "cpus": (gpu.cpus_per_gpu if gpu else 1.0) * instance.gpu_num,
        "memory": (gpu.memory_per_gpu if gpu else GIB) * instance.gpu_num,
        "gpuMemory": (gpu.gpu_memory if gpu else 0) * instance.gpu_num,
        "createTime": _ms(instance.create_time),
        "sysDiskSize": sys_disk,
        "sysDiskUsedSize": 0,
        "sysDiskSizeFree": FREE_SYSTEM_DISK,
        "sysDiskSizePaid": sys_disk - FREE_SYSTEM_DISK,
        "dataDiskSize": data_disk,
        "dataDiskUsedSize": 0,
        "dataDiskSizeFree": FREE_DATA_DISK,
        "dataDiskSizePaid": data_disk - FREE_DATA_DISK,
        "consumeTypeCode": "Prepaid" if instance.prepaid else "Usage",
        "consumeType": "预付费" if instance.prepaid else "按量付费",
        "expireTime": _ms(instance.expire_time),
        "stopTime": _ms(instance.stop_time),
        "toBeExpiredCode": 1 if _expiring(state, instance, now) else 0,
        "toBeExpired": "是" if _expiring(state, instance, now) else "否",
        "expiredCode": 0 if since is None else 1,
        "expired": "否" if since is None else "是",
        "toBeReleasedCode": 0 if since is None else 1,
        "toBeReleased": "否" if since is None else "是",
    }


def _expiring(state: CfgpuState, instance: Instance, now: float) -> bool:
    """Prepaid, not expired yet, and within the warning window of its expiry."""
    if instance.expire_time is None or now >= instance.expire_time:
        return False
    return instance.expire_time - now <= state.config.to_be_expired_seconds
