"""Benchmark of the Kubernetes API emulator, served by `cfgpu-operator emulate kubernetes` in its
own process and driven over loopback HTTP from this one.

    python -m tests.benchmarks.kubernetes_emulator [--objects 1000 10000] [--requests 20000]

Reports requests per second for create and merge-patch, events per second for watch fan-out
(every watcher receiving every change), at each object count; then the cost of the first and
the last 1,000 of --requests get/patch requests, whose ratio shows whether per-request cost
grows with the number of requests served. Numbers from one run on one machine: compare ratios,
not absolute values, across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx

CM = "/api/v1/namespaces/default/configmaps"
MERGE = {"Content-Type": "application/merge-patch+json"}
CONCURRENCY = 16
WATCHERS = 10
FAN_OUT_CHANGES = 1000


@asynccontextmanager
async def emulator(kubeconfig: Path | None = None) -> AsyncIterator[str]:
    """`cfgpu-operator emulate kubernetes` in a separate process (so client and server each
    get a core), writing ``kubeconfig``; yields its URL once it serves."""
    kubeconfig = kubeconfig or Path(tempfile.mkdtemp()) / "kubeconfig"
    command = [
        sys.executable,
        "-m",
        "cfgpu_operator.cli",
        "emulate",
        "kubernetes",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
    ]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        banner = (await process.stdout.readline()).decode()
        match = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert match, "the emulator printed no URL"
        yield match.group(0)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def run_all(jobs: Iterable[Callable[[], Awaitable[Any]]]) -> float:
    """Run the jobs CONCURRENCY at a time; return the elapsed seconds."""
    queue = list(jobs)
    started = time.perf_counter()

    async def worker() -> None:
        while queue:
            await queue.pop()()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


def expect(status: int) -> Callable[[httpx.Response], None]:
    def check(response: httpx.Response) -> None:
        if response.status_code != status:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

    return check


async def create_and_patch(http: httpx.AsyncClient, count: int, prefix: str) -> tuple[float, float]:
    async def create(n: int) -> None:
        expect(201)(await http.post(CM, json={"metadata": {"name": f"{prefix}-{n}"}}))

    async def patch(n: int) -> None:
        body = {"data": {"v": str(n)}}
        expect(200)(await http.patch(f"{CM}/{prefix}-{n}", json=body, headers=MERGE))

    create_s = await run_all(partial(create, n) for n in range(count))
    patch_s = await run_all(partial(patch, n) for n in range(count))
    return count / create_s, count / patch_s


async def watch_fan_out(url: str, http: httpx.AsyncClient, prefix: str, count: int) -> float:
    """WATCHERS watches each receive ``changes`` patches; events delivered per second."""
    changes = min(count, FAN_OUT_CHANGES)
    rv = (await http.get(CM, params={"limit": "1"})).json()["metadata"]["resourceVersion"]
    ready = asyncio.Event()
    opened = 0

    async def watcher() -> int:
        nonlocal opened
        params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "300"}
        seen = 0
        async with (
            httpx.AsyncClient(base_url=url, timeout=300) as own,
            own.stream("GET", CM, params=params) as stream,
        ):
            opened += 1
            if opened == WATCHERS:
                ready.set()
            async for line in stream.aiter_lines():
                if line and json.loads(line)["type"] == "MODIFIED":
                    seen += 1
                    if seen == changes:
                        return seen
        return seen

    tasks = [asyncio.create_task(watcher()) for _ in range(WATCHERS)]
    await asyncio.wait_for(ready.wait(), 60)
    started = time.perf_counter()

    async def patch(n: int) -> None:
        body = {"data": {"w": str(n)}}
        expect(200)(await http.patch(f"{CM}/{prefix}-{n}", json=body, headers=MERGE))

    await run_all(partial(patch, n) for n in range(changes))
    delivered = sum(await asyncio.gather(*tasks))
    return delivered / (time.perf_counter() - started)


async def cost_over_time(
    http: httpx.AsyncClient, total: int, prefix: str, objects: int
) -> tuple[float, float]:
    """Mean milliseconds per request for the first and the last 1,000 of ``total``."""
    window = 1000
    durations: list[float] = []

    async def timed(n: int) -> None:
        name = f"{prefix}-{n % min(500, objects)}"
        started = time.perf_counter()
        if n % 2:
            response = await http.get(f"{CM}/{name}")
        else:
            response = await http.patch(f"{CM}/{name}", json={"data": {"n": str(n)}}, headers=MERGE)
        expect(200)(response)
        durations.append(time.perf_counter() - started)

    for n in range(total):  # sequential: each duration is one request's own cost
        await timed(n)
    first, last = durations[:window], durations[-window:]
    return 1000 * sum(first) / window, 1000 * sum(last) / window


async def main(objects: list[int], requests: int) -> None:
    async with emulator() as url:
        limits = httpx.Limits(max_connections=CONCURRENCY * 2)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
            print(f"{'objects':>8} {'create/s':>9} {'patch/s':>9} {'watch events/s':>15}")
            for count in objects:
                prefix = f"o{count}"
                creates, patches = await create_and_patch(http, count, prefix)
                events = await watch_fan_out(url, http, prefix, count)
                print(f"{count:>8} {creates:>9.0f} {patches:>9.0f} {events:>15.0f}")
            first, last = await cost_over_time(http, requests, f"o{objects[0]}", objects[0])
            print(
                f"per-request cost over {requests} requests: first 1000 {first:.3f} ms, "
                f"last 1000 {last:.3f} ms, ratio last/first {last / first:.2f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    asyncio.run(main(args.objects, args.requests))
