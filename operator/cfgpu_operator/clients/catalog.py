"""Resolve the names users write in specs to CFGPU codes, with a TTL cache of the catalog.

Users write what the console shows ("RTX 4090", 杭州, "Tensorflow/2.15.0/3.11(ubuntu20.04)/12.2");
the API wants codes. The resolve_* functions are pure and raise RejectedInput naming the
valid choices; ``Catalog`` feeds them cached lists from the client.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar, cast

from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.cfgpu_errors import API
from cfgpu_operator.clients.cfgpu_wire import (
    AdaptType,
    GpuType,
    PrivateImage,
    Region,
    SystemImageNode,
)
from cfgpu_operator.errors import RejectedInput

IMAGE_ID = re.compile(r"^image_[a-z0-9]+$")
PATH_SEPARATOR = "/"
# How many choices an error message lists before it says "and N more".
MAX_CHOICES = 20


class Coded(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...


C = TypeVar("C", bound=Coded)
T = TypeVar("T")


@dataclass(frozen=True)
class ImageRef:
    """Exactly one way of naming an image, as a spec gives it."""

    id: str | None = None
    system: str | None = None
    private: str | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.id, self.system, self.private) if v]
        if len(given) != 1:
            raise ValueError("an image reference needs exactly one of id, system or private")


@dataclass(frozen=True)
class ResolvedImage:
    id: str
    name: str
    source: Literal["system", "private"]
    min_system_disk: int = 0


def normalize(name: str) -> str:
    """Case-, space-, dash- and underscore-insensitive form: "RTX 4090" == "rtx4090"."""
    return re.sub(r"[\s_\-]+", "", name).casefold()


def _choices(values: Iterable[str]) -> str:
    listed = sorted(set(values))
    shown = ", ".join(listed[:MAX_CHOICES])
    more = len(listed) - MAX_CHOICES
    return shown + (f" and {more} more" if more > 0 else "") if listed else "none"


def _rejected(endpoint: str, message: str) -> RejectedInput:
    return RejectedInput(message, api=API, endpoint=endpoint)


def resolve_region(regions: Sequence[Region], query: str) -> Region:
    """A region by code (exact) or display name (normalized)."""
    return _resolve_coded(regions, query, "region", "region/list")


def resolve_gpu_type(gpus: Sequence[GpuType], query: str) -> GpuType:
    """A GPU type by code (exact) or display name ("RTX 4090", "rtx4090")."""
    return _resolve_coded(gpus, query, "GPU type", "gpu/list")


def _resolve_coded(items: Sequence[C], query: str, what: str, endpoint: str) -> C:
    by_code = [item for item in items if item.code == query.strip()]
    if by_code:
        return by_code[0]
    wanted = normalize(query)
    by_name = [item for item in items if normalize(item.name) == wanted]
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        # Two codes under one name (seen: qnid2x6c and nt8cyt3s both "RTX 4090"): guessing
        # could rent the wrong machine, so make the user pick a code.
        codes = ", ".join(sorted(item.code for item in by_name))
        raise _rejected(endpoint, f"{what} {query!r} is ambiguous: use one of the codes {codes}")
    valid = _choices(f"{item.code} ({item.name})" if item.name else item.code for item in items)
    raise _rejected(endpoint, f"unknown {what} {query!r}; valid: {valid}")


def resolve_system_image(tree: Sequence[SystemImageNode], path: str) -> ResolvedImage:
    """Walk a slash-separated path of names down the systemList tree to a leaf image."""
    parts = [part.strip() for part in path.split(PATH_SEPARATOR) if part.strip()]
    level: Sequence[SystemImageNode] = tree
    walked: list[str] = []
    node: SystemImageNode | None = None
    for part in parts:
        node = _child(level, part)
        if node is None:
            where = f" under {PATH_SEPARATOR.join(walked)!r}" if walked else ""
            valid = _choices(child.name for child in level)
            raise _rejected("image/systemList", f"no system image {part!r}{where}; valid: {valid}")
        walked.append(node.name)
        level = node.children
    if node is None or node.code is None or node.children:
        valid = _choices(child.name for child in level)
        raise _rejected(
            "image/systemList",
            f"system image path {path!r} is incomplete; next level: {valid}",
        )
    return ResolvedImage(
        id=node.code,
        name=PATH_SEPARATOR.join(walked),
        source="system",
        min_system_disk=node.sys_disk_limit_min_size,
    )


def _child(level: Sequence[SystemImageNode], name: str) -> SystemImageNode | None:
    exact = [node for node in level if node.name == name]
    if exact:
        return exact[0]
    loose = [node for node in level if normalize(node.name) == normalize(name)]
    return loose[0] if len(loose) == 1 else None


def resolve_private_image(images: Sequence[PrivateImage], name: str) -> ResolvedImage:
    """A private image by its exact name (names are the user's own, so no loose matching)."""
    matches = [image for image in images if image.name == name]
    if len(matches) > 1:
        codes = ", ".join(sorted(image.code for image in matches))
        raise _rejected(
            "image/privateList", f"private image name {name!r} is ambiguous: use an id ({codes})"
        )
    if not matches:
        valid = _choices(image.name for image in images)
        raise _rejected("image/privateList", f"unknown private image {name!r}; valid: {valid}")
    image = matches[0]
    return ResolvedImage(image.code, image.name, "private", image.sys_disk_limit_min_size)


def resolve_image_id(
    tree: Sequence[SystemImageNode], images: Sequence[PrivateImage], image_id: str
) -> ResolvedImage:
    """An image by id, checked against both lists so a typo fails before anything is rented."""
    if not IMAGE_ID.match(image_id):
        raise _rejected("image/systemList", f"{image_id!r} is not an image id (image_...)")
    for image in images:
        if image.code == image_id:
            return ResolvedImage(image.code, image.name, "private", image.sys_disk_limit_min_size)
    for names, leaf in _leaves(tree, ()):
        if leaf.code == image_id:
            name = PATH_SEPARATOR.join(names)
            return ResolvedImage(image_id, name, "system", leaf.sys_disk_limit_min_size)
    raise _rejected("image/systemList", f"unknown image id {image_id!r}")


def _leaves(
    level: Sequence[SystemImageNode], names: tuple[str, ...]
) -> Iterable[tuple[tuple[str, ...], SystemImageNode]]:
    for node in level:
        path = (*names, node.name)
        if node.children:
            yield from _leaves(node.children, path)
        elif node.code:
            yield path, node


class _Cached:
    """One fetched value, reused until its TTL runs out. Callers that miss while a fetch is
    under way share it (and its failure): when the TTL ends under load, one call goes out,
    not one per reconcile."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._clock = clock
        self._values: dict[object, tuple[float, object]] = {}
        self._fetching: dict[object, asyncio.Future[object]] = {}

    async def get(self, key: object, fetch: Callable[[], Awaitable[T]]) -> T:
        hit = self._values.get(key)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]  # type: ignore[return-value]
        shared = self._fetching.get(key)
        if shared is None:
            shared = self._fetching[key] = asyncio.ensure_future(self._fill(key, fetch))
            shared.add_done_callback(lambda _: self._fetching.pop(key, None))
        # shield: one caller giving up (its handler cancelled) must not cancel the others'.
        return cast(T, await asyncio.shield(shared))

    async def _fill(self, key: object, fetch: Callable[[], Awaitable[T]]) -> T:
        started = self._clock()
        value = await fetch()
        self._values[key] = (started, value)
        return value


class Catalog:
    """Name resolution against one token's view of the catalog, cached for ``ttl`` seconds."""

    def __init__(
        self,
        client: CfgpuClient,
        *,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._cache = _Cached(ttl, clock)

    async def regions(self) -> list[Region]:
        return await self._cache.get("regions", self._client.list_regions)

    async def gpu_types(self) -> list[GpuType]:
        return await self._cache.get("gpus", self._client.list_gpu_types)

    async def system_images(self, adapt_type: AdaptType) -> list[SystemImageNode]:
        return await self._cache.get(
            ("system", adapt_type), lambda: self._client.list_system_images(adapt_type)
        )

    async def private_images(self, adapt_type: AdaptType) -> list[PrivateImage]:
        return await self._cache.get(
            ("private", adapt_type), lambda: self._client.list_private_images(adapt_type)
        )

    async def region(self, query: str) -> Region:
        return resolve_region(await self.regions(), query)

    async def gpu_type(self, query: str) -> GpuType:
        return resolve_gpu_type(await self.gpu_types(), query)

    async def image(self, ref: ImageRef, adapt_type: AdaptType = "CONTAINER") -> ResolvedImage:
        if ref.system:
            return resolve_system_image(await self.system_images(adapt_type), ref.system)
        if ref.private:
            return resolve_private_image(await self.private_images(adapt_type), ref.private)
        return resolve_image_id(
            await self.system_images(adapt_type),
            await self.private_images(adapt_type),
            ref.id or "",
        )
