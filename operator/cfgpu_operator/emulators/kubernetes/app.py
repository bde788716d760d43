"""The emulated Kubernetes API server over HTTP: routing, lists, watches, faults, request log."""

from __future__ import annotations

import base64
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from cfgpu_operator.emulators.clock import Clock
from cfgpu_operator.emulators.faults import Fault, FaultPlan, make_fault_middleware
from cfgpu_operator.emulators.kubernetes import discovery, openapi, protobuf
from cfgpu_operator.emulators.kubernetes.cluster import Cluster
from cfgpu_operator.emulators.kubernetes.options import APPLY, apply_options, check_list, dry_run
from cfgpu_operator.emulators.kubernetes.paths import Discovery, Target, parse
from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from cfgpu_operator.emulators.kubernetes.selectors import field_matcher, label_matcher
from cfgpu_operator.emulators.kubernetes.status import (
    ApiStatus,
    bad_request,
    field_validation,
    method_not_allowed,
    path_not_found,
)
from cfgpu_operator.emulators.kubernetes.table import table, wants_table
from cfgpu_operator.emulators.kubernetes.watch import Render, WatchHub
from cfgpu_operator.emulators.serving import serve

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TARGET = web.RequestKey("target", object)  # Discovery | Target
VERB = web.RequestKey("verb", str)
ENDPOINT = web.RequestKey("endpoint", str)
_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


@dataclass(frozen=True)
class LoggedRequest:
    verb: str  # get list watch create update patch delete deletecollection (or discovery)
    group: str
    resource: str
    subresource: str | None
    namespace: str | None
    name: str | None
    status: int  # 0 for a watch: logged when it starts streaming
    agent: str = ""  # the User-Agent header: which client sent it
    connection: int = 0  # the client's port: requests on one connection share it


class KubernetesEmulator:
    """An in-memory API server: ``serve()`` it, point a kubeconfig at it, inspect ``cluster``."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        history_size: int = 5000,
        bookmark_interval: float = 60.0,
        log_size: int = 10_000,
    ) -> None:
        self.cluster = Cluster(clock=clock, history_size=history_size)
        self.watches = WatchHub(self.cluster.store, bookmark_interval)
        self.faults = FaultPlan()
        self.requests: deque[LoggedRequest] = deque(maxlen=log_size)

    @asynccontextmanager
    async def serve(self, port: int = 0) -> AsyncIterator[str]:
        async with serve(self.app(), port) as url:
            yield url

    def app(self) -> web.Application:
        faults = make_fault_middleware(self.faults, _endpoint, _render_fault)
        app = web.Application(
            middlewares=[self._log, self._route, faults], client_max_size=8 * 1024**2
        )
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_shutdown.append(self._close_watches)
        return app

    async def _close_watches(self, app: web.Application) -> None:
        self.watches.close()

    def calls(self, verb: str | None = None, resource: str | None = None) -> list[LoggedRequest]:
        return [
            r for r in self.requests if verb in (None, r.verb) and resource in (None, r.resource)
        ]

    # -- middleware ---------------------------------------------------------------------------

    @web.middleware
    async def _log(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except ApiStatus as exc:
            response = _status_response(exc)
        if request.get(VERB) != "watch":  # watches are logged by _route, on receipt
            self._record(request, response.status)
        return response

    def _record(self, request: web.Request, status: int) -> None:
        target = request.get(TARGET)
        if isinstance(target, Target):
            kind = target.kind
            self.requests.append(
                LoggedRequest(
                    request[VERB],
                    kind.group,
                    kind.plural,
                    target.subresource,
                    target.namespace,
                    target.name,
                    status,
                    request.headers.get("User-Agent", ""),
                    _client_port(request),
                )
            )

    @web.middleware
    async def _route(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Resolve the path once; faults and the log match on the verb and resource."""
        found = parse(self.cluster.registry, request.path)
        request[TARGET] = found
        if isinstance(found, Target):
            request[VERB] = _verb(request.method, found, request.query)
            sub = f"/{found.subresource}" if found.subresource else ""
            request[ENDPOINT] = f"{request[VERB]}:{found.kind.group_resource}{sub}"
            if request[VERB] == "watch":
                # A watch streams until the client leaves, and aiohttp does not cancel its
                # handler then: log it on receipt (status 0), as an audit log would.
                self._record(request, 0)
        return await handler(request)

    # -- routing ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        found = request[TARGET]
        if isinstance(found, Discovery):
            return self._discovery(found)
        assert isinstance(found, Target)  # noqa: S101 - _route sets one of the two
        if request[VERB] == "watch":
            render = self._watch_render(request, found.kind)
            matches = _matcher(request, found.kind)
            return await self.watches.serve(request, found.kind, found.namespace, matches, render)
        body = await _body(request) if request.body_exists else None
        # From here on nothing awaits, so this request's warnings and mode are its own.
        self.cluster.begin(field_validation(request.query), dry_run(request))
        try:
            response = self._resource(request, found, body)
            for warning in self.cluster.warnings:
                response.headers.add("Warning", warning_header(warning))
        finally:
            self.cluster.end()
        return response

    def _discovery(self, found: Discovery) -> web.Response:
        registry = self.cluster.registry
        body: Any
        if found.what == "health":
            return web.Response(text="ok")
        if found.what == "version":
            body = discovery.VERSION_INFO
        elif found.what == "core":
            body = discovery.core_versions()
        elif found.what == "groups":
            body = discovery.group_list(registry)
        elif found.what == "group":
            body = discovery.group(registry, found.group)
        elif found.what == "openapi":
            body = openapi.index(registry)
        elif found.what == "openapi-group":
            body = openapi.document(registry, found.group, found.version)
        else:
            body = discovery.resource_list(registry, found.group, found.version)
        if body is None:
            raise path_not_found()
        return web.json_response(body)

    def _resource(self, request: web.Request, target: Target, body: Any) -> web.Response:
        cluster, kind, ns, name = self.cluster, target.kind, target.namespace, target.name
        method, verb = request.method, request[VERB]
        if verb == "list":
            check_list(request.query)
            listed = _list(cluster, kind, ns, request)
            return web.json_response(self._maybe_table(request, kind, listed))
        if verb == "create":
            return web.json_response(cluster.create(kind, ns, body), status=201)
        if verb == "deletecollection":
            matches = _matcher(request, kind)
            for obj in [o for o in cluster.list_objects(kind, ns) if matches(o)]:
                cluster.delete(kind, ns, obj["metadata"]["name"])
            return web.json_response(_list(cluster, kind, ns, request))
        assert name is not None  # noqa: S101 - object verbs come with a name
        if method == "GET":
            one = cluster.get(kind, ns, name)
            return web.json_response(self._maybe_table(request, kind, {"items": [one]}, one))
        if method == "PUT":
            return web.json_response(cluster.replace(kind, ns, name, body, target.subresource))
        if method == "PATCH":
            if request.content_type == APPLY and target.subresource is None:
                manager, force = apply_options(request.query)
                obj, created = cluster.apply(kind, ns, name, body, manager, force)
                return web.json_response(obj, status=201 if created else 200)
            media = request.headers.get("Content-Type", "")
            patched = cluster.patch(kind, ns, name, media, body, target.subresource)
            return web.json_response(patched)
        options = body or {}
        if "propagationPolicy" in request.query:
            options = {**options, "propagationPolicy": request.query["propagationPolicy"]}
        return web.json_response(cluster.delete(kind, ns, name, options))

    def _maybe_table(
        self,
        request: web.Request,
        kind: ResourceType,
        listed: dict[str, Any],
        single: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """kubectl asks for a Table (server-side printing); everyone else gets objects."""
        if not wants_table(request.headers.get("Accept", "")):
            return single if single is not None else listed
        rv = str(self.cluster.store.resource_version)
        return table(kind, listed["items"], rv, self.cluster.clock.now())

    def _watch_render(self, request: web.Request, kind: ResourceType) -> Render:
        if wants_table(request.headers.get("Accept", "")):
            return lambda obj: self._maybe_table(request, kind, {"items": [obj]})
        return lambda obj: {**obj, "apiVersion": kind.api_version, "kind": kind.kind}


def warning_header(text: str) -> str:
    """RFC 7234 warn-text is a quoted-string: clients drop a header with bare quotes in it."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'


def _verb(method: str, target: Target, query: Any) -> str:
    if target.name is None:
        if method == "GET":
            return "watch" if query.get("watch") in ("true", "1") else "list"
        verbs = {"POST": "create", "DELETE": "deletecollection"}
    else:
        verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    if method not in verbs:
        raise method_not_allowed()
    return verbs[method]


def _endpoint(request: web.Request) -> str:
    """Fault name: ``verb:plural.group[/subresource]`` (``patch:gpuinstances.cfgpu.io/status``),
    else the path."""
    return str(request.get(ENDPOINT, request.path))


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    if request.content_type == protobuf.MEDIA_TYPE:
        return protobuf.decode_object(raw)
    if request.content_type == APPLY:
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError:
            raise bad_request("the applied configuration is not valid YAML") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("the request body is not valid JSON") from None


def _matcher(request: web.Request, kind: ResourceType) -> Callable[[dict[str, Any]], bool]:
    labels = label_matcher(request.query.get("labelSelector"))
    fields = field_matcher(request.query.get("fieldSelector"), kind.key)
    return lambda obj: labels(obj) and fields(obj)


def _list(
    cluster: Cluster, kind: ResourceType, namespace: str | None, request: web.Request
) -> dict[str, Any]:
    matches = _matcher(request, kind)
    items = [obj for obj in cluster.list_objects(kind, namespace) if matches(obj)]
    meta: dict[str, Any] = {"resourceVersion": str(cluster.store.resource_version)}
    start = _continue_from(request.query.get("continue"))
    if start:
        items = [o for o in items if _sort_key(o) > start]
    limit = int(request.query.get("limit") or 0)
    if limit and len(items) > limit:
        meta["continue"] = _continue_token(_sort_key(items[limit - 1]))
        meta["remainingItemCount"] = len(items) - limit
        items = items[:limit]
    return {
        "kind": f"{kind.kind}List",
        "apiVersion": kind.api_version,
        "metadata": meta,
        "items": items,
    }


def _sort_key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace", ""), meta["name"])


def _continue_token(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _continue_from(token: str | None) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise bad_request("invalid continue token") from None
    return (str(namespace), str(name))


def _status_response(exc: ApiStatus) -> web.Response:
    return web.json_response(exc.body(), status=exc.code, headers=exc.headers)


def _render_fault(fault: Fault) -> web.Response:
    code = int(fault.code or fault.status)
    message = fault.message or f"injected fault ({code})"
    error = ApiStatus(code, _REASONS.get(code, "InternalError"), message, headers=fault.headers)
    return _status_response(error)


def _client_port(request: web.Request) -> int:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return int(peer[1]) if peer else 0
