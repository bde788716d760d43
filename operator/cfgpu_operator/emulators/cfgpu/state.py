"""The emulated CFGPU account and instance state machine, advanced lazily by a clock.

Where cfgpu-api-notes.md lists an open point, the choice is a field of ``EmulatorConfig``.
Every rule raises ``BusinessError`` with the code the notes predict; the HTTP layer turns it
into the ``success:false`` envelope.
"""

from __future__ import annotations

import heapq
import itertools
import random
import string
from dataclasses import dataclass
from typing import Literal

from cfgpu_operator.emulators.cfgpu.catalog import CatalogData
from cfgpu_operator.emulators.clock import Clock

HOUR = 3600.0
DAY = 24 * HOUR
PERIOD_HOURS = {"Day": 24.0, "Week": 7 * 24.0, "Month": 30 * 24.0}
PRICE_TYPES = frozenset({"Usage", *PERIOD_HOURS})
NAMES_ZH = {
    "CREATING": "创建中",
    "RUNNING": "运行中",
    "CLOSED": "已关机",
    "STOPPING": "关机中",
    "STARTING": "开机中",
    "RELEASING": "释放中",
    "RELEASED": "已释放",
    "ERROR": "错误",
}
NO_STOCK_MESSAGE = "当前主机可用资源不足 [显卡]"
GIB = 1024**3
FREE_SYSTEM_DISK = 30 * GIB
FREE_DATA_DISK = 50 * GIB


class BusinessError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class UnknownInstance(BusinessError):
    """No such instance for this account (10001 or HTTP 404, per EmulatorConfig)."""

    def __init__(self, message: str = "实例不存在") -> None:
        super().__init__("10001", message)


@dataclass
class EmulatorConfig:
    """Transition delays (seconds of the emulator's clock) and the open-point choices."""

    create_seconds: float = 5.0
    start_seconds: float = 3.0
    stop_seconds: float = 3.0
    release_seconds: float = 3.0
    # "biz_error": BIZ_ERROR with the live message; "codes": 51002 (51001 for the host).
    no_stock: Literal["biz_error", "codes"] = "biz_error"
    numeric_codes: bool = True  # 10001 as a JSON number (False: "10001")
    list_released: bool = False  # whether instance/status and page show RELEASED ones
    keyword_matches: Literal["name", "name_or_id"] = "name"
    released_retention_seconds: float = DAY  # a RELEASED id is still known this long
    expired_release_seconds: float = 7 * DAY  # an expired prepaid instance is then released
    unknown_instance: Literal["10001", "404"] = "10001"
    # CFGPU fixes the code of an unknown id, not its words: tests vary them.
    unknown_instance_message: str = "实例不存在"
    # A prepaid instance is flagged toBeExpired this long before its expiry.
    to_be_expired_seconds: float = 3 * HOUR
    # Whether a create whose system disk is below the image's minimum is refused (10001).
    enforce_image_min_disk: bool = True
    default_page_size: int = 10
    max_page_size: int = 100


@dataclass
class Account:
    name: str
    balance: float  # CNY, as of ``accrued_at``
    # What its RUNNING pay-as-you-go instances cost per hour together, since ``accrued_at``:
    # billing is per account, so bringing the clock up to date is O(accounts), not O(N).
    running_rate: float = 0.0
    accrued_at: float | None = None

    def accrue(self, until: float) -> None:
        """Charge the running instances up to ``until`` (never backwards)."""
        if self.accrued_at is None:
            self.accrued_at = until
        elif until > self.accrued_at:
            self.balance -= self.running_rate * (until - self.accrued_at) / HOUR
            self.accrued_at = until


@dataclass
class Instance:
    id: str
    name: str
    account: Account
    region_code: str
    gpu_type: str
    gpu_num: int
    image_id: str
    price_type: str
    service_time: int
    sys_expand_gb: int
    data_expand_gb: int
    status: str
    create_time: float
    expire_time: float | None = None
    stop_time: float | None = None
    released_at: float | None = None
    pending: tuple[str, float] | None = None  # (next status, when)

    @property
    def prepaid(self) -> bool:
        return self.price_type != "Usage"

    def expired_since(self, now: float) -> float | None:
        """Seconds since a prepaid instance expired, or None while it has not."""
        if self.expire_time is None or now < self.expire_time:
            return None
        return now - self.expire_time


class CfgpuState:
    """All accounts and instances of one emulated CFGPU."""

    def __init__(
        self, clock: Clock, config: EmulatorConfig, catalog: CatalogData, seed: int = 0
    ) -> None:
        self.clock = clock
        self.config = config
        self.catalog = catalog
        self.accounts: dict[str, Account] = {}
        self.instances: dict[str, Instance] = {}
        self.stock: dict[tuple[str, str], int] = {
            (region, gpu.code): catalog.default_stock
            for region in catalog.regions
            for gpu in catalog.gpus
        }
        self._random = random.Random(seed)  # noqa: S311 - reproducible ids, not secrets
        self._due: list[tuple[float, int, str]] = []  # (when, tie-break, instance id)
        self._sequence = itertools.count()
        self._order_version = 0
        self._visible: dict[str, tuple[tuple[int, int, str], list[Instance]]] = {}

    # -- accounts and test hooks ---------------------------------------------------------

    def add_account(self, token: str, balance: float = 10_000.0, name: str = "") -> Account:
        account = Account(name or f"user{len(self.accounts) + 1}", balance)
        self.accounts[token] = account
        return account

    def set_stock(self, region: str, gpu_code: str, free: int) -> None:
        self.stock[(region, gpu_code)] = free

    def force_status(self, instance_id: str, status: str) -> None:
        """Put an instance straight into a status (ERROR, or drift done out of band)."""
        instance = self.instances[instance_id]
        now = self.clock.now()
        self.set_status(instance, status, now)
        instance.pending = None
        if status == "RELEASED":
            self._released(instance, now)

    def get(self, instance_id: str) -> Instance:
        self.settle()
        return self.instances[instance_id]

    # -- the clock ---------------------------------------------------------------------------

    def settle(self) -> None:
        """Bring the account up to the clock: finish due transitions, expire, forget. Only
        instances with something due are touched (a heap of due times), so a request costs
        the same with 10 instances or 10,000."""
        now = self.clock.now()
        while self._due and self._due[0][0] <= now:
            _, _, instance_id = heapq.heappop(self._due)
            instance = self.instances.get(instance_id)
            if instance is None:
                continue
            self._settle_one(instance, now)
            gone = instance.released_at
            if gone is not None and now - gone >= self.config.released_retention_seconds:
                del self.instances[instance.id]
                self.order_changed()
        for account in self.accounts.values():
            account.accrue(now)

    def schedule(self, instance: Instance, when: float) -> None:
        """Look at ``instance`` again once the clock reaches ``when``."""
        heapq.heappush(self._due, (when, next(self._sequence), instance.id))

    def _settle_one(self, instance: Instance, now: float) -> None:
        if instance.pending and instance.pending[1] <= now:
            status, when = instance.pending
            instance.pending = None
            self.set_status(instance, status, when)
            if status == "CLOSED":
                instance.stop_time = when
            if status == "RELEASED":
                self._released(instance, when)
        since = instance.expired_since(now)
        if since is None or instance.status in ("RELEASING", "RELEASED"):
            return
        if instance.status != "CLOSED":
            self.set_status(instance, "CLOSED", now - since)
            instance.pending = None
            instance.stop_time = now - since
        if since >= self.config.expired_release_seconds:
            self.set_status(instance, "RELEASED", now)
            self._released(instance, now)
        else:
            self.schedule(instance, now - since + self.config.expired_release_seconds)

    def _released(self, instance: Instance, when: float) -> None:
        instance.released_at = when
        key = (instance.region_code, instance.gpu_type)
        self.stock[key] = self.stock.get(key, 0) + instance.gpu_num
        self.schedule(instance, when + self.config.released_retention_seconds)
        self.order_changed()

    def set_status(self, instance: Instance, status: str, when: float) -> None:
        """Change the status at ``when``; a pay-as-you-go instance costs while RUNNING."""
        account = instance.account
        account.accrue(when)
        account.running_rate -= self._rate(instance)
        instance.status = status
        account.running_rate += self._rate(instance)

    def _rate(self, instance: Instance) -> float:
        running = not instance.prepaid and instance.status == "RUNNING"
        return self.hourly_price(instance) if running else 0.0

    def hourly_price(self, instance: Instance) -> float:
        gpu = self.catalog.gpu(instance.gpu_type)
        return (gpu.price_per_hour if gpu else 0.0) * instance.gpu_num

    def begin(self, instance: Instance, transient: str, final: str, delay: float) -> None:
        """Enter a transient status that becomes ``final`` after ``delay`` clock seconds."""
        now = self.clock.now()
        self.set_status(instance, transient, now)
        instance.pending = (final, now + delay)
        self.schedule(instance, now + delay)
        if instance.expire_time is not None:
            self.schedule(instance, instance.expire_time)

    # -- lookups -------------------------------------------------------------------------------

    def owned(self, account: Account, instance_id: str) -> Instance:
        self.settle()
        instance = self.instances.get(instance_id)
        if instance is None or instance.account is not account:
            raise UnknownInstance(self.config.unknown_instance_message)
        return instance

    def visible(self, account: Account) -> list[Instance]:
        """The account's instances, newest first (kept until an instance comes or goes: a
        poll reads it once per page)."""
        self.settle()
        key = (self._order_version, len(self.instances), account.name)
        cached = self._visible.get(account.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        mine = [i for i in self.instances.values() if i.account is account]
        if not self.config.list_released:
            mine = [i for i in mine if i.status != "RELEASED"]
        ordered = sorted(mine, key=lambda i: (-i.create_time, i.id))
        self._visible[account.name] = (key, ordered)
        return ordered

    def order_changed(self) -> None:
        """An instance came or went (the listing order must be computed again)."""
        self._order_version += 1

    def new_id(self) -> str:
        alphabet = string.ascii_lowercase + string.digits
        while True:
            candidate = "instance-" + "".join(self._random.choices(alphabet, k=12))
            if candidate not in self.instances:
                return candidate

    def no_stock_error(self) -> BusinessError:
        if self.config.no_stock == "codes":
            return BusinessError("51002", "GPU不足")
        return BusinessError("BIZ_ERROR", NO_STOCK_MESSAGE)
