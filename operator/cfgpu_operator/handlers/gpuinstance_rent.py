"""Renting a GpuInstance's instance: on the first offer (the spec's region and GPU type, then
spec.fallbacks) from the one the status names on, skipping offers the account found out of
stock a moment ago; one create call at most, so the decision moves on to the next offer."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cfgpu_operator.clients.catalog import ResolvedImage
from cfgpu_operator.errors import NoCapacity, Unavailable
from cfgpu_operator.handlers import cfgpu_mapping
from cfgpu_operator.handlers.accounts import Account
from cfgpu_operator.handlers.objects import ObjectState
from cfgpu_operator.models.gpuinstance import GpuInstanceSpec
from cfgpu_operator.reconcile import fallbacks
from cfgpu_operator.reconcile.gpuinstance_view import Outcome
from cfgpu_operator.settings import Settings

# HTTP timeouts to wait after a create whose answer was lost before renting again: the
# request may still be served after the client gave up on it.
CREATE_GRACE = 3


@dataclass
class Renter:
    settings: Settings
    spec: GpuInstanceSpec
    candidate: int | None  # status.candidate: the offer to start from
    state: ObjectState
    claim: Callable[[str], None]  # the rented id, before anyone else may take it
    image: Callable[[Account], Awaitable[ResolvedImage]]

    async def rent(self, account: Account, name: str) -> Outcome:
        all_offers = fallbacks.offers(self.spec)
        start = fallbacks.first_to_try(self.spec, self.candidate)
        for index in range(start, len(all_offers)):
            region, gpu = await _resolve(account, all_offers[index])
            if account.no_stock.get((region, gpu), 0.0) > time.monotonic():
                continue  # another object found it empty a moment ago
            try:
                return await self._rent_on(account, name, region, gpu)
            except NoCapacity as exc:
                memory = self.settings.CFGPU_OPERATOR_STOCK_MEMORY
                account.no_stock[(region, gpu)] = time.monotonic() + memory
                return Outcome(error=exc, offer=index)
        remembered = NoCapacity(
            "every offer left had no capacity moments ago (CFGPU_OPERATOR_STOCK_MEMORY)",
            api="cfgpu",
            endpoint="instance/create",
        )
        return Outcome(error=remembered, offer=len(all_offers) - 1)

    async def _rent_on(self, account: Account, name: str, region: str, gpu: str) -> Outcome:
        spec = self.spec
        image = await self.image(account)
        request, expand = cfgpu_mapping.create_request(spec, name, region, gpu, image)
        try:
            instance_id = await account.client.create_instance(request)
        except Unavailable:
            grace = CREATE_GRACE * self.settings.CFGPU_OPERATOR_HTTP_TIMEOUT
            self.state.create_unsure_until = time.monotonic() + grace
            raise
        self.claim(instance_id)
        asked = spec.disks.system_expand_gb
        return Outcome(
            instance_id=instance_id, system_disk=(asked, expand) if expand != asked else None
        )


async def _resolve(account: Account, offer: fallbacks.Offer) -> tuple[str, str]:
    region = await account.catalog.region(offer[0])
    gpu = await account.catalog.gpu_type(offer[1])
    return region.code, gpu.code
