"""The emulated Primus-SaFE over HTTP: API-key auth, routes, response shapes, request log."""

from __future__ import annotations

import base64
import json
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from cfgpu_operator.emulators.clock import Clock, SystemClock
from cfgpu_operator.emulators.faults import Fault, FaultPlan, make_fault_middleware
from cfgpu_operator.emulators.safe.model import SafeError, User, Workload, Workspace
from cfgpu_operator.emulators.safe.state import SafeConfig, SafeState
from cfgpu_operator.emulators.serving import serve

PREFIX = "/api/v1"
USER = web.RequestKey("user", User)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    endpoint: str
    path: str
    user: str | None
    status: int
    body: Any


def _short(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class SafeEmulator:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        config: SafeConfig | None = None,
        seed: int = 0,
        log_size: int = 10_000,
    ) -> None:
        self.clock = clock or SystemClock()
        self.state = SafeState(self.clock, config or SafeConfig(), seed)
        self.faults = FaultPlan()
        self.requests: deque[LoggedRequest] = deque(maxlen=log_size)
        self.in_flight: Counter[str] = Counter()  # requests being served now, by endpoint

    def calls(self, endpoint: str | None = None) -> list[LoggedRequest]:
        return [r for r in self.requests if endpoint is None or r.endpoint == endpoint]

    @asynccontextmanager
    async def serve(self, port: int = 0) -> AsyncIterator[str]:
        async with serve(self.app(), port) as url:
            yield url

    def app(self) -> web.Application:
        faults = make_fault_middleware(self.faults, _endpoint, _render_fault)
        app = web.Application(middlewares=[self._log, self._errors, faults, self._auth])
        routes = [
            ("POST", "/workloads", "workloads.create", self._create),
            ("GET", "/workloads", "workloads.list", self._list),
            ("GET", "/workloads/{id}", "workloads.get", self._get),
            ("PATCH", "/workloads/{id}", "workloads.patch", self._patch),
            ("POST", "/workloads/{id}/stop", "workloads.stop", self._stop),
            ("DELETE", "/workloads/{id}", "workloads.delete", self._delete),
            ("POST", "/workloads/{id}/resume", "workloads.resume", self._resume),
            ("GET", "/workloads/{id}/service", "workloads.service", self._service),
            ("GET", "/workspaces", "workspaces.list", self._workspaces),
            ("GET", "/workspaces/{id}", "workspaces.get", self._workspace),
            ("GET", "/nodes", "nodes.list", self._nodes),
            ("GET", "/users/self", "users.self", self._self),
        ]
        for method, path, name, handler in routes:
            app.router.add_route(method, PREFIX + path, handler, name=name)
        app.router.add_route("*", "/{tail:.*}", self._no_route)
        return app

    # -- middleware ----------------------------------------------------------------------------

    @web.middleware
    async def _log(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await _body(request)
        status, endpoint = 0, _endpoint(request)
        self.in_flight[endpoint] += 1
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            self.in_flight[endpoint] -= 1
            user = request.get(USER)
            self.requests.append(
                LoggedRequest(
                    request.method,
                    endpoint,
                    request.path,
                    user.name if user else None,
                    status,
                    body,
                )
            )

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except SafeError as exc:
            return _error(exc.status, exc.code, exc.message)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if _endpoint(request) == "no-route":
            return await handler(request)
        header = request.headers.get("Authorization", "")
        parts = header.split(" ")
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise SafeError(401, "Primus.00009", "token not present")
        user = self.state.users.get(parts[1])
        if user is None:
            message = (
                "invalid API key"
                if parts[1].startswith("ak-")
                else "The user's token is invalid, please login first"
            )
            raise SafeError(401, "Primus.00009", message)
        request[USER] = user
        return await handler(request)

    # -- workloads -------------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if body is None:
            raise SafeError(400, "Primus.00002", "Bad request. invalid JSON body")
        workload = self.state.create(request[USER], body)
        return web.json_response({"workloadId": workload.id})

    async def _resume(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if body is None:
            raise SafeError(400, "Primus.00002", "Bad request. invalid JSON body")
        workload = self.state.resume(request[USER], request.match_info["id"], body)
        return web.json_response({"workloadId": workload.id})

    async def _service(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.service(request[USER], request.match_info["id"]))

    async def _get(self, request: web.Request) -> web.Response:
        workload = self._visible(request)
        return web.json_response(self._detail(workload))

    def _visible(self, request: web.Request) -> Workload:
        workload_id = request.match_info["id"]
        workload = self.state.visible(workload_id)
        if workload is None:
            raise SafeError(404, "Primus.01001", f"Workload {workload_id} not found.")
        if not request[USER].member(workload.workspace_id) and workload.user is not request[USER]:
            raise SafeError(
                403,
                "Primus.00003",
                f"The user({request[USER].id}) is not allowed "
                f"to get workload, workspace: [{workload.workspace_id}]",
            )
        return workload

    async def _list(self, request: web.Request) -> web.Response:
        query = request.query
        user, workspace_id = request[USER], query.get("workspaceId")
        if not user.admin and not workspace_id:
            raise SafeError(
                403,
                "Primus.00003",
                f"The user({user.id}) is not allowed to list workload, workspace: []",
            )
        if workspace_id and not user.member(workspace_id):
            raise SafeError(
                403,
                "Primus.00003",
                f"The user({user.id}) is not allowed to list workload, workspace: [{workspace_id}]",
            )
        rows = [w for w in self.state.listing() if _matches(w, query)]
        order = query.get("order", "desc")
        if order not in ("desc", "asc"):
            raise SafeError(400, "Primus.00002", f"Bad request. invalid query: order={order}")
        rows.sort(key=lambda w: (w.creation_time, w.id), reverse=order == "desc")
        offset, limit = _int(query, "offset", 0), _int(query, "limit", 0) or 100
        if offset < 0 or limit < 1:
            raise SafeError(400, "Primus.00002", "Bad request. invalid query: offset/limit")
        page = rows[offset : offset + limit]
        return web.json_response({"totalCount": len(rows), "items": [self._item(w) for w in page]})

    async def _patch(self, request: web.Request) -> web.Response:
        self.state.patch(request[USER], request.match_info["id"], await _body(request))
        return web.json_response(None)

    async def _stop(self, request: web.Request) -> web.Response:
        self.state.stop(request[USER], request.match_info["id"])
        return web.json_response(None)

    async def _delete(self, request: web.Request) -> web.Response:
        self.state.delete(request[USER], request.match_info["id"])
        return web.json_response(None)

    # -- workspaces, nodes, self -------------------------------------------------------------------

    async def _workspaces(self, request: web.Request) -> web.Response:
        mine = [w for _, w in sorted(self.state.workspaces.items()) if request[USER].member(w.id)]
        items = [self._workspace_item(w) for w in mine] or None
        return web.json_response({"totalCount": len(mine), "items": items})

    async def _workspace(self, request: web.Request) -> web.Response:
        workspace_id = request.match_info["id"]
        workspace = self.state.workspaces.get(workspace_id)
        if workspace is None:
            raise SafeError(404, "NotFound", f'workspaces.amd.com "{workspace_id}" not found')
        if not request[USER].member(workspace_id):
            raise SafeError(
                403,
                "Primus.00003",
                f"The user({request[USER].id}) is not allowed "
                f"to get workspace, workspace: [{workspace_id}]",
            )
        total = workspace.total()
        # The real server sends null, not {}, for a workspace without nodes (no quota).
        quota = (
            {
                "cpu": int(total["cpu"]),
                "amd.com/gpu": int(total["gpu"]),
                "memory": int(total["memory"]),
            }
            if workspace.node_count
            else None
        )
        return web.json_response(
            {**self._workspace_item(workspace), "totalQuota": quota, "availQuota": quota}
        )

    async def _nodes(self, request: web.Request) -> web.Response:
        workspace_id = request.query.get("workspaceId")
        user = request[USER]
        nodes = [
            n
            for n in self.state.nodes
            if (workspace_id is None and user.admin)
            or (
                workspace_id is not None
                and n["workspace"] == workspace_id
                and user.member(workspace_id)
            )
        ]
        items = [
            {
                "nodeId": n["nodeId"],
                "nodeName": n["nodeId"],
                "internalIP": n["internalIP"],
                "available": True,
                "phase": "Ready",
            }
            for n in nodes
        ] or None
        return web.json_response({"totalCount": len(nodes), "items": items})

    async def _self(self, request: web.Request) -> web.Response:
        user = request[USER]
        refs = [{"id": w, "name": w} for w in sorted(user.workspaces)]
        return web.json_response(
            {
                "id": user.id,
                "name": user.name,
                "roles": ["system-admin"] if user.admin else ["default"],
                "workspaces": refs,
                "managedWorkspaces": [{"id": w, "name": w} for w in sorted(user.managed)],
            }
        )

    async def _no_route(self, request: web.Request) -> web.Response:
        return _error(404, "Primus.00005", f"{request.path} not found")

    # -- shapes -----------------------------------------------------------------------------------

    def _item(self, w: Workload) -> dict[str, Any]:
        started, ended, now = w.start_time, w.end_time, self.clock.now()
        duration = int((ended or now) - started) if started is not None else 0
        return {
            "workloadId": w.id,
            "workspaceId": w.workspace_id,
            "clusterId": "cluster-a",
            "displayName": w.display_name,
            "description": w.description,
            "userId": w.user.id,
            "userName": w.user.name,
            "resources": w.resources,
            "phase": w.phase,
            "message": w.message if w.phase == "Pending" else "",
            "priority": w.priority,
            "maxRetry": w.max_retry,
            "creationTime": _short(w.creation_time),
            "startTime": _short(started),
            "endTime": _short(ended or w.deletion_time),
            "deletionTime": _short(w.deletion_time),
            "duration": go_duration(duration),
            "timeout": w.timeout or None,
            "queuePosition": self.state.queue_position(w),
            "dispatchCount": w.dispatch_count,
            "isTolerateAll": False,
            "groupVersionKind": {"kind": w.kind, "version": "v1"},
            "workloadUid": w.id,
            "avgGpuUsage": -1,
            "secondsUntilTimeout": _until_timeout(w, now),
        }

    def _detail(self, w: Workload) -> dict[str, Any]:
        running = w.phase == "Running"
        pods = (
            [
                {"podId": f"{w.id}-{n}", "phase": "Running", "adminNodeName": f"node-{n}"}
                for n in range(sum(r["replica"] for r in w.resources))
            ]
            if running
            else []
        )
        return {
            **self._item(w),
            "images": w.images,
            "entryPoints": None
            if w.kind == "Authoring"
            else [base64.b64decode(e).decode(errors="replace") for e in w.entry_points],
            "env": w.env,
            "customerLabels": w.customer_labels,
            "ttlSecondsAfterFinished": w.ttl,
            "conditions": w.conditions,
            "pods": pods,
            "nodes": [[p["adminNodeName"] for p in pods]] if pods else [],
            "dependencies": w.dependencies or None,
            "isSupervised": False,
            "useWorkspaceStorage": True,
            "forceHostNetwork": False,
            **w.extra,
        }

    @staticmethod
    def _workspace_item(w: Workspace) -> dict[str, Any]:
        return {
            "workspaceId": w.id,
            "workspaceName": w.name,
            "clusterId": w.cluster_id,
            "phase": "Running",
            "scopes": list(w.scopes),
            "targetNodeCount": w.node_count,
            "currentNodeCount": w.node_count,
            "queuePolicy": "fifo",
        }


def go_duration(seconds: int) -> str:
    """Seconds as Go's time.Duration prints them: ``0s``, ``45s``, ``2m5s``, ``1h0m5s``."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _until_timeout(w: Workload, now: float) -> int:
    """-1 before a timed workload starts, the seconds left while it runs, else 0 (§3.3)."""
    if not w.timeout or w.ended:
        return 0
    if w.start_time is None:
        return -1
    return max(0, int(w.start_time + w.timeout - now))


def _matches(w: Workload, query: Any) -> bool:
    checks: list[tuple[str, Callable[[str], bool]]] = [
        ("workloadId", lambda v: v in w.id),
        ("description", lambda v: v in w.description),
        ("phase", lambda v: w.phase in v.split(",")),
        ("kind", lambda v: w.kind in v.split(",")),
        ("userId", lambda v: w.user.id == v),
        ("workspaceId", lambda v: w.workspace_id == v),
    ]
    if not all(test(query[key]) for key, test in checks if query.get(key)):
        return False
    key = query.get("envKey")
    return not (
        key and (key not in w.env or ("envValue" in query and w.env[key] != query["envValue"]))
    )


def _int(query: Any, key: str, default: int) -> int:
    try:
        return int(query.get(key, default))
    except ValueError:
        raise SafeError(400, "Primus.00002", f"Bad request. invalid query: {key}") from None


def _endpoint(request: web.Request) -> str:
    name = request.match_info.route.name
    return name or "no-route"


async def _body(request: web.Request) -> Any:
    if not request.body_exists:
        return None
    try:
        return json.loads(await request.read())
    except ValueError:
        return None


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"errorCode": code, "errorMessage": message}, status=status, headers=headers
    )


def _render_fault(fault: Fault) -> web.Response:
    """An error answer: ``fault.status`` with ``fault.code`` (default Primus.00001)."""
    code = str(fault.code) if fault.code is not None else "Primus.00001"
    return _error(fault.status, code, fault.message or "injected fault", fault.headers)
