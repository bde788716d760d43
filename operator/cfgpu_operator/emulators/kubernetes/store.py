"""Object storage with one global resourceVersion, bounded watch history and live watchers.

Every operation costs the same however many requests were served before: objects sit in
dicts, history is a bounded deque per resource, and each change is handed to the current
watchers of that resource only.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
ObjKey = tuple[str, str]  # (namespace or "", name)

DEFAULT_HISTORY = 5000
WATCH_QUEUE = 20_000


@dataclass(frozen=True)
class Event:
    type: str  # ADDED, MODIFIED, DELETED
    object: Obj
    rv: int
    at: float = field(default_factory=time.monotonic, compare=False)  # when it happened


@dataclass(eq=False)
class Watcher:
    """One open watch: a queue of events plus the filter it was opened with."""

    namespace: str | None
    matches: Callable[[Obj], bool]
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=WATCH_QUEUE)
    )
    overflowed: bool = False

    def offer(self, event: Event) -> None:
        if self.overflowed:
            return
        namespace = event.object.get("metadata", {}).get("namespace", "")
        if self.namespace is not None and namespace != self.namespace:
            return
        if not self.matches(event.object):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # A real server drops a watcher that cannot keep up; the client re-lists.
            self.overflowed = True
            self.close()

    def close(self) -> None:
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.overflowed = True


@dataclass(eq=False)
class Bucket:
    """All objects of one resource (every version shares it)."""

    history_size: int
    objects: dict[ObjKey, Obj] = field(default_factory=dict)
    history: deque[Event] = field(init=False)
    compacted: int = 0  # newest resourceVersion no longer in history
    watchers: set[Watcher] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.history = deque(maxlen=self.history_size)

    def record(self, event: Event) -> None:
        if len(self.history) == self.history.maxlen:
            self.compacted = self.history[0].rv
        self.history.append(event)
        for watcher in list(self.watchers):
            watcher.offer(event)

    def since(self, rv: int) -> list[Event] | None:
        """Events newer than ``rv``; None when history no longer reaches back that far."""
        if rv < self.compacted:
            return None
        versions = [event.rv for event in self.history]
        return list(self.history)[bisect.bisect_right(versions, rv) :]


class Store:
    def __init__(self, history_size: int = DEFAULT_HISTORY) -> None:
        self._rv = 0
        self._history_size = history_size
        self._buckets: dict[tuple[str, str], Bucket] = {}
        # owner uid -> the objects whose ownerReferences name it: garbage collection looks
        # them up instead of scanning every object of every kind on each deletion.
        self._dependents: dict[str, set[Ref]] = {}

    @property
    def resource_version(self) -> int:
        return self._rv

    def next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def bucket(self, key: tuple[str, str]) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(self._history_size)
        return bucket

    def drop(self, key: tuple[str, str]) -> Bucket | None:
        return self._buckets.pop(key, None)

    def put(self, key: tuple[str, str], obj: Obj, event_type: str) -> Obj:
        """Store ``obj`` under a new resourceVersion and tell the watchers; returns a copy."""
        meta = obj["metadata"]
        rv = self.next_rv()
        meta["resourceVersion"] = str(rv)
        bucket = self.bucket(key)
        where = (meta.get("namespace", ""), meta["name"])
        self._unlink(key, bucket.objects.get(where))
        bucket.objects[where] = obj
        self._link(key, obj)
        bucket.record(Event(event_type, copy.deepcopy(obj), rv))
        return copy.deepcopy(obj)

    def remove(self, key: tuple[str, str], obj: Obj) -> Obj:
        meta = obj["metadata"]
        bucket = self.bucket(key)
        self._unlink(key, bucket.objects.pop((meta.get("namespace", ""), meta["name"]), None))
        rv = self.next_rv()
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(rv)
        bucket.record(Event("DELETED", gone, rv))
        return copy.deepcopy(gone)

    def dependents(self, owner_uid: str) -> list[Ref]:
        """Objects that named ``owner_uid`` in their ownerReferences (some may be gone)."""
        return sorted(self._dependents.get(owner_uid, ()))

    def _link(self, key: tuple[str, str], obj: Obj) -> None:
        for owner in _owner_uids(obj):
            self._dependents.setdefault(owner, set()).add(_ref(key, obj))

    def _unlink(self, key: tuple[str, str], obj: Obj | None) -> None:
        for owner in _owner_uids(obj) if obj is not None else ():
            refs = self._dependents.get(owner)
            if refs is not None:
                refs.discard(_ref(key, obj))  # type: ignore[arg-type]
                if not refs:
                    del self._dependents[owner]

    def get(self, key: tuple[str, str], namespace: str, name: str) -> Obj | None:
        return self.bucket(key).objects.get((namespace, name))

    def items(self, key: tuple[str, str], namespace: str | None = None) -> Iterator[Obj]:
        objects = self.bucket(key).objects
        for (ns, _), obj in sorted(objects.items()):
            if namespace is None or ns == namespace:
                yield obj

    def all_buckets(self) -> Iterator[tuple[tuple[str, str], Bucket]]:
        return iter(list(self._buckets.items()))


Ref = tuple[tuple[str, str], str, str]  # kind key, namespace, name


def _ref(key: tuple[str, str], obj: Obj) -> Ref:
    meta = obj["metadata"]
    return key, meta.get("namespace", ""), meta["name"]


def _owner_uids(obj: Obj) -> list[str]:
    refs = obj["metadata"].get("ownerReferences") or []
    return [str(ref["uid"]) for ref in refs if isinstance(ref, dict) and ref.get("uid")]
