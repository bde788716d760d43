"""Async client for the Primus-SaFE REST API (``/api/v1``), one instance per API key.

Reads are retried with backoff; create, patch, stop and delete are sent once. Never re-POST
a create after a failure: the real server answers a duplicate workloadId with 409 *and*
deletes the existing workload (primus-safe-api.md §6). Look the workload up instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from cfgpu_operator.clients.http import ApiClient, ClientOptions, HttpApi
from cfgpu_operator.clients.safe_errors import API, decode
from cfgpu_operator.clients.safe_wire import (
    CreateWorkloadRequest,
    Node,
    PatchWorkloadRequest,
    UserSelf,
    WorkloadDetail,
    WorkloadItem,
    WorkloadList,
    WorkloadService,
    Workspace,
    listed,
)
from cfgpu_operator.errors import Unavailable

PREFIX = "/api/v1"
PAGE = 100
R = TypeVar("R")


def _workload(workload_id: str, action: str = "") -> str:
    path = f"{PREFIX}/workloads/{quote(workload_id, safe='')}"
    return f"{path}/{action}" if action else path


class SafeClient(ApiClient):
    def __init__(
        self,
        token: SecretStr | str,
        *,
        base_url: str,
        options: ClientOptions | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._http = HttpApi(
            api=API,
            base_url=base_url.rstrip("/").removesuffix(PREFIX),
            headers={"Authorization": f"Bearer {secret}", "Accept": "application/json"},
            secrets=(secret,),
            options=options or ClientOptions(),
            transport=transport,
        )

    # -- workloads ---------------------------------------------------------------------------

    async def create_workload(self, request: CreateWorkloadRequest) -> str:
        endpoint = "workloads.create"
        content = await self._call(
            "POST", f"{PREFIX}/workloads", endpoint, False, json=request.wire()
        )
        return self._model(endpoint, content, lambda c: str(c["workloadId"]))

    async def get_workload(self, workload_id: str) -> WorkloadDetail:
        endpoint = "workloads.get"
        content = await self._call("GET", _workload(workload_id), endpoint, True)
        return self._model(endpoint, content, WorkloadDetail.model_validate)

    async def get_workload_service(self, workload_id: str) -> WorkloadService | None:
        """The workload's Service; None when its object is gone (the server answers null),
        NotFound while the Service does not exist (yet)."""
        endpoint = "workloads.service"
        content = await self._call("GET", _workload(workload_id, "service"), endpoint, True)
        if content is None:
            return None
        return self._model(endpoint, content, WorkloadService.model_validate)

    async def list_workloads(
        self, *, offset: int = 0, limit: int = PAGE, **filters: str | int | None
    ) -> WorkloadList:
        """Filters: workspace_id, phase (comma list), kind, workload_id (substring),
        description (substring), env_key, env_value, sort_by, order, user_id, since, until."""
        params = {_camel(k): v for k, v in filters.items() if v is not None}
        params.update(offset=offset, limit=limit)
        endpoint = "workloads.list"
        content = await self._call("GET", f"{PREFIX}/workloads", endpoint, True, params=params)
        return self._model(endpoint, content, WorkloadList.model_validate)

    async def iter_workloads(
        self, *, page_size: int = PAGE, **filters: str | int | None
    ) -> AsyncIterator[WorkloadItem]:
        """Every matching workload, page by page, each id once (rows shift while paging)."""
        seen: set[str] = set()
        offset = 0
        while True:
            page = await self.list_workloads(offset=offset, limit=page_size, **filters)
            for item in page.items:
                if item.workload_id not in seen:
                    seen.add(item.workload_id)
                    yield item
            offset += page_size
            if len(page.items) < page_size or offset >= page.total_count:
                return

    async def patch_workload(self, workload_id: str, patch: PatchWorkloadRequest) -> None:
        await self._call(
            "PATCH", _workload(workload_id), "workloads.patch", False, json=patch.wire()
        )

    async def resume_workload(self, workload_id: str, request: CreateWorkloadRequest) -> None:
        """Run a stopped workload again under its id: the whole create request once more.
        Like a create, never sent twice blindly: while the workload's object still exists
        the server answers 409 and deletes it."""
        body = request.wire()
        body.pop("workloadId", None)
        await self._call(
            "POST", _workload(workload_id, "resume"), "workloads.resume", False, json=body
        )

    async def stop_workload(self, workload_id: str) -> None:
        await self._call("POST", _workload(workload_id, "stop"), "workloads.stop", False)

    async def delete_workload(self, workload_id: str) -> None:
        await self._call("DELETE", _workload(workload_id), "workloads.delete", False)

    # -- workspaces, nodes, self -------------------------------------------------------------

    async def list_workspaces(self, cluster_id: str | None = None) -> list[Workspace]:
        params = {"clusterId": cluster_id} if cluster_id else None
        content = await self._call(
            "GET", f"{PREFIX}/workspaces", "workspaces.list", True, params=params
        )
        return self._model("workspaces.list", content, lambda c: listed(c, Workspace))

    async def get_workspace(self, workspace_id: str) -> Workspace:
        path = f"{PREFIX}/workspaces/{quote(workspace_id, safe='')}"
        content = await self._call("GET", path, "workspaces.get", True)
        return self._model("workspaces.get", content, Workspace.model_validate)

    async def list_nodes(self, workspace_id: str | None = None, *, limit: int = -1) -> list[Node]:
        params: dict[str, Any] = {"limit": limit}
        if workspace_id is not None:
            params["workspaceId"] = workspace_id
        content = await self._call("GET", f"{PREFIX}/nodes", "nodes.list", True, params=params)
        return self._model("nodes.list", content, lambda c: listed(c, Node))

    async def whoami(self) -> UserSelf:
        content = await self._call("GET", f"{PREFIX}/users/self", "users.self", True)
        return self._model("users.self", content, UserSelf.model_validate)

    # -- plumbing ----------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, endpoint: str, idempotent: bool, **request: Any
    ) -> Any:
        return await self._http.call(
            method,
            path,
            endpoint=endpoint,
            idempotent=idempotent,
            parse=lambda response: decode(response, endpoint),
            **request,
        )

    def _model(self, endpoint: str, content: Any, build: Callable[[Any], R]) -> R:
        try:
            return build(content)
        except (ValidationError, TypeError, KeyError) as exc:
            raise Unavailable(
                f"unexpected content: {type(exc).__name__}", api=API, endpoint=endpoint
            ).scrub(self._http.secrets) from None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
