"""The emulated CFGPU served over HTTP: envelope, bare-token auth, routes, request log."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from cfgpu_operator.emulators.cfgpu import actions
from cfgpu_operator.emulators.cfgpu.catalog import CatalogData
from cfgpu_operator.emulators.cfgpu.records import page_record, status_row
from cfgpu_operator.emulators.cfgpu.state import (
    Account,
    BusinessError,
    CfgpuState,
    EmulatorConfig,
    UnknownInstance,
)
from cfgpu_operator.emulators.clock import Clock, SystemClock
from cfgpu_operator.emulators.faults import FAULT, Fault, FaultPlan, make_fault_middleware
from cfgpu_operator.emulators.serving import serve

PREFIX = "/userapi/v1"
ACCOUNT = web.RequestKey("account", Account)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADAPT_TYPES = ("CONTAINER", "VM")
_POWER_ACTIONS = {"start": actions.start, "stop": actions.stop, "release": actions.release}


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    endpoint: str
    path: str
    account: str | None  # the account's name, never its token
    status: int
    body: Any
    fault: str | None = None  # the injected fault's kind, when one was applied


class CfgpuEmulator:
    """A stateful CFGPU: build it, add tokens, ``serve()`` it, and steer it from tests."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        config: EmulatorConfig | None = None,
        catalog: CatalogData | None = None,
        tokens: Mapping[str, float] | None = None,
        seed: int = 0,
        log_size: int = 10_000,
    ) -> None:
        self.clock = clock or SystemClock()
        self.config = config or EmulatorConfig()
        self.state = CfgpuState(self.clock, self.config, catalog or CatalogData(), seed)
        self.faults = FaultPlan()
        self.requests: deque[LoggedRequest] = deque(maxlen=log_size)
        self.in_flight = 0  # requests being served now
        self.max_in_flight = 0  # the most served at once so far
        for token, balance in (tokens or {}).items():
            self.state.add_account(token, balance)

    # -- for tests ---------------------------------------------------------------------------

    def calls(self, endpoint: str | None = None) -> list[LoggedRequest]:
        """Logged requests, optionally only those of one endpoint (e.g. ``instance/create``)."""
        return [r for r in self.requests if endpoint is None or r.endpoint == endpoint]

    @asynccontextmanager
    async def serve(self, port: int = 0) -> AsyncIterator[str]:
        async with serve(self.app(), port) as url:
            yield url

    # -- HTTP ----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        faults = make_fault_middleware(self.faults, _endpoint, self._render_fault)
        app = web.Application(middlewares=[self._log, faults, self._auth])
        lists = {
            "region/list": self._regions,
            "gpu/list": self._gpus,
            "image/privateList": self._private_images,
            "image/systemList": self._system_images,
            "instance/status": self._statuses,
        }
        for name, handler in lists.items():
            app.router.add_route("GET", f"{PREFIX}/{name}", handler)
            app.router.add_route("POST", f"{PREFIX}/{name}", handler)
        app.router.add_post(f"{PREFIX}/instance/create", self._create)
        app.router.add_post(f"{PREFIX}/instance/page", self._page)
        app.router.add_get(f"{PREFIX}/instance/{{id}}/status", self._status)
        for action in ("start", "stop", "release", "changeImage"):
            app.router.add_post(f"{PREFIX}/instance/{{id}}/{action}", self._action(action))
        return app

    @web.middleware
    async def _log(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await _json_body(request)
        status = 0  # stays 0 when no answer was given (a dropped or abandoned request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            self.in_flight -= 1
            account = request.get(ACCOUNT)
            self.requests.append(
                LoggedRequest(
                    method=request.method,
                    endpoint=_endpoint(request),
                    path=request.path,
                    account=account.name if account else None,
                    status=status,
                    body=body,
                    fault=request.get(FAULT),
                )
            )

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        token = request.headers.get("Authorization", "")
        account = self.state.accounts.get(token)
        if account is None:
            body = self._envelope(False, code="401", message="token无效或已过期")
            return web.json_response(body, status=401)
        request[ACCOUNT] = account
        try:
            return await handler(request)
        except UnknownInstance as exc:
            status = 404 if self.config.unknown_instance == "404" else 200
            return web.json_response(self._error(exc), status=status)
        except BusinessError as exc:
            return web.json_response(self._error(exc))

    def _envelope(
        self, success: bool, content: Any = None, code: str | None = None, message: str = ""
    ) -> dict[str, Any]:
        wire_code: str | int | None = code
        if code is not None and code.isdigit() and self.config.numeric_codes:
            wire_code = int(code)
        return {
            "success": success,
            "errorCode": wire_code,
            "errorMsg": message or None,
            "content": content,
        }

    def _ok(self, content: Any) -> web.Response:
        return web.json_response(self._envelope(True, content))

    def _error(self, exc: BusinessError) -> dict[str, Any]:
        return self._envelope(False, code=exc.code, message=exc.message)

    def _render_fault(self, fault: Fault) -> web.Response:
        code = None if fault.code is None else str(fault.code)
        return web.json_response(self._envelope(False, code=code, message=fault.message))

    # -- handlers ------------------------------------------------------------------------------

    async def _regions(self, request: web.Request) -> web.Response:
        regions = self.state.catalog.regions.items()
        return self._ok([{"code": code, "name": name} for code, name in regions])

    async def _gpus(self, request: web.Request) -> web.Response:
        return self._ok([{"code": g.code, "name": g.name} for g in self.state.catalog.gpus])

    async def _private_images(self, request: web.Request) -> web.Response:
        return self._ok(self.state.catalog.private_list(await _adapt_type(request)))

    async def _system_images(self, request: web.Request) -> web.Response:
        return self._ok(self.state.catalog.system_tree(await _adapt_type(request)))

    async def _statuses(self, request: web.Request) -> web.Response:
        mine = self.state.visible(request[ACCOUNT])
        return self._ok([status_row(instance) for instance in mine])

    async def _status(self, request: web.Request) -> web.Response:
        instance = self.state.owned(request[ACCOUNT], request.match_info["id"])
        return self._ok(status_row(instance))

    async def _create(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise BusinessError("10001", "请求参数错误")
        instance = actions.create(self.state, request[ACCOUNT], body)
        return self._ok({"instanceId": instance.id})

    async def _page(self, request: web.Request) -> web.Response:
        query = await _json_body(request)
        query = query if isinstance(query, dict) else {}
        return self._ok(self._page_content(request[ACCOUNT], query))

    def _page_content(self, account: Account, query: dict[str, Any]) -> dict[str, Any]:
        config = self.config
        page = _positive(query.get("currentPage"), 1)
        size = min(_positive(query.get("pageSize"), config.default_page_size), config.max_page_size)
        rows = self.state.visible(account)
        word, status = query.get("keyWord"), query.get("status")
        if word:
            by_id = config.keyword_matches == "name_or_id"
            rows = [i for i in rows if word in i.name or (by_id and word in i.id)]
        if status:
            rows = [i for i in rows if i.status == status]
        total = len(rows)
        chunk = rows[(page - 1) * size : page * size]
        return {
            "total": total,
            "pageSize": size,
            "currentPage": page,
            "pages": (total + size - 1) // size,
            "empty": not chunk,
            "notEmpty": bool(chunk),
            "records": [page_record(self.state, instance) for instance in chunk],
        }

    def _action(self, action: str) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            account, instance_id = request[ACCOUNT], request.match_info["id"]
            if action == "changeImage":
                actions.change_image(self.state, account, instance_id, await _json_body(request))
            else:
                _POWER_ACTIONS[action](self.state, account, instance_id)
            return self._ok(None)

        return handle


def _endpoint(request: web.Request) -> str:
    """The endpoint name used by faults and the log: the route without its prefix."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else request.path
    return path.removeprefix(PREFIX + "/")


async def _json_body(request: web.Request) -> Any:
    # body_exists, not can_read_body: the log middleware has read the body already and
    # aiohttp caches it, but can_read_body turns False once the stream is consumed.
    if not request.body_exists:
        return None
    try:
        return json.loads(await request.read())
    except ValueError:
        return None


async def _adapt_type(request: web.Request) -> str:
    body = await _json_body(request)
    from_body = body.get("adaptType") if isinstance(body, dict) else None
    value = request.query.get("adaptType") or from_body or "CONTAINER"
    if value not in ADAPT_TYPES:
        raise BusinessError("10001", "请求参数错误: adaptType")
    return str(value)


def _positive(value: Any, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )
