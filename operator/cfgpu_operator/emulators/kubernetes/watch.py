"""Watch streams: initial state or resume from a resourceVersion, bookmarks, timeouts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from cfgpu_operator.emulators.kubernetes.options import INITIAL_EVENTS_END, watch_options
from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from cfgpu_operator.emulators.kubernetes.selectors import Matcher
from cfgpu_operator.emulators.kubernetes.status import bad_request, gone
from cfgpu_operator.emulators.kubernetes.store import Event, Store, Watcher

WATCH_CONTENT_TYPE = "application/json;stream=watch"
# A real server ends a watch after a random 30-60 minutes unless timeoutSeconds is sooner.
DEFAULT_TIMEOUT = 1800.0
Render = Callable[[dict[str, Any]], dict[str, Any]]


class WatchHub:
    """Every open watch, so tests can close them and shutdown does not wait for them."""

    def __init__(self, store: Store, bookmark_interval: float = 60.0) -> None:
        self.store = store
        self.bookmark_interval = bookmark_interval
        # A loaded API server delivers watch events late; handlers then hold bodies older
        # than what was already written. Seconds each event waits before it is sent.
        self.lag = 0.0
        self.open: set[tuple[ResourceType, Watcher]] = set()

    def close(self, resource: str | None = None) -> int:
        """End open watches (of one ``plural.group`` resource, or all); returns how many."""
        closing = [(k, w) for k, w in self.open if resource in (None, k.group_resource)]
        for _, watcher in closing:
            watcher.close()
        return len(closing)

    async def serve(
        self,
        request: web.Request,
        kind: ResourceType,
        namespace: str | None,
        matches: Matcher,
        render: Render,
    ) -> web.StreamResponse:
        """Stream events; ``render`` shapes each object (plain, or a Table row for kubectl)."""
        options = watch_options(request.query)  # a bad request is a plain 422, not a stream
        watcher = Watcher(namespace, matches)
        bucket = self.store.bucket(kind.key)
        # Register before reading the backlog: no await in between, so nothing is missed.
        bucket.watchers.add(watcher)
        self.open.add((kind, watcher))
        try:
            initial = options.initial_events is True
            rv = None if initial else options.resource_version
            backlog = self._backlog(kind, namespace, matches, rv)
            as_of = self.store.resource_version
            response = web.StreamResponse(headers={"Content-Type": WATCH_CONTENT_TYPE})
            await response.prepare(request)
            if backlog is None:
                await _send_error(response, options.resource_version, self.store)
                return response
            for event in backlog:
                await _send(response, event.type, render(event.object))
            if initial and options.bookmarks:
                # The watch-list protocol: the initial state is complete as of ``as_of``.
                await _send(response, "BOOKMARK", _marker(kind, as_of, initial_end=True))
            await self._pump(response, kind, watcher, request.query, options.bookmarks, render)
            return response
        except ConnectionResetError:
            return web.Response()  # the client went away; nobody reads this
        finally:
            bucket.watchers.discard(watcher)
            self.open.discard((kind, watcher))

    def _backlog(
        self, kind: ResourceType, namespace: str | None, matches: Matcher, rv: str | None
    ) -> Iterable[Event] | None:
        """The current state as ADDED events (no version, "0", or the watch-list protocol),
        else what changed after ``rv`` (None: too old)."""
        if rv in (None, "", "0"):
            return [
                Event("ADDED", obj, int(obj["metadata"]["resourceVersion"]))
                for obj in self.store.items(kind.key, namespace)
                if matches(obj)
            ]
        try:
            since = int(rv)
        except ValueError:
            raise bad_request(f"invalid resource version: {rv}") from None
        events = self.store.bucket(kind.key).since(since)
        if events is None:
            return None
        return [
            e
            for e in events
            if (namespace is None or e.object["metadata"].get("namespace") == namespace)
            and matches(e.object)
        ]

    async def _pump(
        self,
        response: web.StreamResponse,
        kind: ResourceType,
        watcher: Watcher,
        query: Any,
        bookmarks: bool,
        render: Render,
    ) -> None:
        timeout = float(query.get("timeoutSeconds") or DEFAULT_TIMEOUT)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            wait = min(left, self.bookmark_interval) if bookmarks else left
            try:
                event = await asyncio.wait_for(watcher.queue.get(), wait)
            except TimeoutError:
                if bookmarks and deadline - time.monotonic() > 0:
                    marker = _marker(kind, self.store.resource_version)
                    await _send(response, "BOOKMARK", marker)
                continue
            if event is None:
                return
            if (late := event.at + self.lag - time.monotonic()) > 0:
                await asyncio.sleep(late)
            await _send(response, event.type, render(event.object))


def _marker(kind: ResourceType, rv: int, initial_end: bool = False) -> dict[str, Any]:
    """A BOOKMARK's object: only the kind and the resourceVersion (and the annotation that
    ends the initial events of the watch-list protocol)."""
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta}


async def _send(response: web.StreamResponse, kind_of_event: str, payload: dict[str, Any]) -> None:
    line = json.dumps({"type": kind_of_event, "object": payload}, separators=(",", ":"))
    await response.write(line.encode() + b"\n")


async def _send_error(response: web.StreamResponse, rv: str, store: Store) -> None:
    status = gone(f"too old resource version: {rv} ({store.resource_version})").body()
    line = json.dumps({"type": "ERROR", "object": status})
    await response.write(line.encode() + b"\n")
