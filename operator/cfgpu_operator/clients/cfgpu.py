"""Async client for the CFGPU REST API (``/userapi/v1``), one instance per token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from cfgpu_operator.clients.cfgpu_errors import API, decode
from cfgpu_operator.clients.cfgpu_wire import (
    AdaptType,
    CreateInstanceRequest,
    GpuType,
    InstancePage,
    InstanceRecord,
    InstanceStatus,
    PageQuery,
    PrivateImage,
    Region,
    SystemImageNode,
    created_instance_id,
    unwrap_list,
)
from cfgpu_operator.clients.http import ApiClient, ClientOptions, HttpApi, excerpt
from cfgpu_operator.errors import Unavailable, redact

PREFIX = "/userapi/v1"
DEFAULT_URL = "https://api.cfgpu.com"

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


def _path(instance_id: str, action: str) -> str:
    return f"{PREFIX}/instance/{quote(instance_id, safe='')}/{action}"


class CfgpuClient(ApiClient):
    """Every endpoint of cfgpu-api.md; answers are wire models, failures domain errors.

    Reads (lists, status, page) are retried with backoff; create, start, stop, release and
    changeImage are sent once, because a lost answer does not mean the action did not happen.
    """

    def __init__(
        self,
        token: SecretStr | str,
        *,
        base_url: str = DEFAULT_URL,
        options: ClientOptions | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        root = base_url.rstrip("/").removesuffix(PREFIX)
        self._http = HttpApi(
            api=API,
            base_url=root,
            headers={"Authorization": secret, "Accept": "application/json"},
            secrets=(secret,),
            options=options or ClientOptions(),
            transport=transport,
        )

    # -- catalog ---------------------------------------------------------------------------

    async def list_regions(self) -> list[Region]:
        return await self._read_list("region/list", Region)

    async def list_gpu_types(self) -> list[GpuType]:
        return await self._read_list("gpu/list", GpuType)

    async def list_private_images(self, adapt_type: AdaptType = "CONTAINER") -> list[PrivateImage]:
        return await self._read_list("image/privateList", PrivateImage, adapt_type)

    async def list_system_images(
        self, adapt_type: AdaptType = "CONTAINER"
    ) -> list[SystemImageNode]:
        return await self._read_list("image/systemList", SystemImageNode, adapt_type)

    # -- instances: reads -------------------------------------------------------------------

    async def get_instance_status(self, instance_id: str) -> InstanceStatus:
        endpoint = "instance/{id}/status"
        content = await self._call("GET", _path(instance_id, "status"), endpoint, idempotent=True)
        return self._model(endpoint, content, InstanceStatus.model_validate)

    async def list_instance_statuses(self) -> list[InstanceStatus]:
        return await self._read_list("instance/status", InstanceStatus)

    async def page_instances(
        self,
        *,
        page: int = 1,
        page_size: int = 50,
        key_word: str | None = None,
        status: str | None = None,
    ) -> InstancePage:
        query = PageQuery(current_page=page, page_size=page_size, key_word=key_word, status=status)
        endpoint = "instance/page"
        body = query.model_dump(by_alias=True, exclude_none=True)
        content = await self._call("POST", f"{PREFIX}/{endpoint}", endpoint, True, json=body)
        return self._model(endpoint, content, InstancePage.model_validate)

    async def iter_instances(
        self, *, key_word: str | None = None, status: str | None = None, page_size: int = 100
    ) -> AsyncIterator[InstanceRecord]:
        """Every instance matching the filters, across pages, each id once.

        Paging goes on until the API's ``total`` is reached: a server may cap ``pageSize``
        below what was asked, so a short page is not the last one. Rows shift between pages
        when instances come or go meanwhile; de-duplicating by id, and stopping at an empty
        page, keeps this finite.
        """
        seen: set[str] = set()
        page = 1
        while True:
            result = await self.page_instances(
                page=page, page_size=page_size, key_word=key_word, status=status
            )
            for record in result.records:
                if record.instance_id not in seen:
                    seen.add(record.instance_id)
                    yield record
            if _last_page(result, page, page_size, len(seen)):
                return
            page += 1

    # -- instances: writes (never retried here) ----------------------------------------------

    async def create_instance(self, request: CreateInstanceRequest) -> str:
        """Rent an instance; returns its id. Look for it by name before calling again."""
        endpoint = "instance/create"
        body = request.model_dump(by_alias=True, exclude_none=True)
        content = await self._call("POST", f"{PREFIX}/{endpoint}", endpoint, False, json=body)
        return self._model(endpoint, content, created_instance_id)

    async def start_instance(self, instance_id: str) -> None:
        await self._action(instance_id, "start")

    async def stop_instance(self, instance_id: str) -> None:
        await self._action(instance_id, "stop")

    async def release_instance(self, instance_id: str) -> None:
        await self._action(instance_id, "release")

    async def change_image(self, instance_id: str, image_id: str) -> None:
        await self._action(instance_id, "changeImage", {"imageId": image_id})

    # -- plumbing ----------------------------------------------------------------------------

    async def _action(
        self, instance_id: str, action: str, body: dict[str, str] | None = None
    ) -> None:
        endpoint = f"instance/{{id}}/{action}"
        await self._call("POST", _path(instance_id, action), endpoint, False, json=body or {})

    async def _read_list(
        self, name: str, model: type[M], adapt_type: AdaptType | None = None
    ) -> list[M]:
        params = {"adaptType": adapt_type} if adapt_type else None
        content = await self._call("GET", f"{PREFIX}/{name}", name, True, params=params)
        adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
        return self._model(name, content, lambda c: adapter.validate_python(unwrap_list(c)))

    async def _call(
        self, method: str, path: str, endpoint: str, idempotent: bool, **request: Any
    ) -> Any:
        """One API call; the content of a successful envelope, else a domain error."""
        return await self._http.call(
            method,
            path,
            endpoint=endpoint,
            parse=lambda response: decode(response, endpoint),
            idempotent=idempotent,
            **request,
        )

    def _model(self, endpoint: str, content: Any, build: Callable[[Any], R]) -> R:
        """Turn ``content`` into a model, or say plainly that CFGPU answered something else."""
        try:
            return build(content)
        except (ValidationError, TypeError) as exc:
            secrets = self._http.secrets
            if isinstance(exc, TypeError):
                detail = excerpt(redact(str(exc), secrets))  # redact, then cut
            else:
                detail = _first_error(exc)
            raise Unavailable(f"unexpected content: {detail}", api=API, endpoint=endpoint).scrub(
                secrets
            ) from None


def _last_page(result: InstancePage, page: int, asked: int, collected: int) -> bool:
    if not result.records:
        return True
    if result.total > 0:
        return collected >= result.total
    # No total in the answer: fall back to the page count, then to a short page.
    if result.pages > 0:
        return page >= result.pages
    return len(result.records) < asked


def _first_error(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]
